"""The round of federated LoRA without its tensors, without torch.

Shared by :class:`~edgelam_ns3.frameworks.fed_lora.FedLoRA` and its torch-free timing replay
(:class:`~edgelam_ns3.replay_timing.FedLoRATiming`): the policy's choice of devices and radio
shares, the adapters down, each device's local training job, the adapters and sample count up,
the server's average, in one place, so that a timing replay's rounds are the full run's by
construction of the code (``tests/integration/test_replay.py`` checks the outcome). The
subclass supplies the jobs' computations and keys (:meth:`FedLoRARounds._round_state`,
:meth:`~FedLoRARounds._train_job`, :meth:`~FedLoRARounds._average_job`).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..policies import DeviceState, make_policy
from .base import Barrier
from .round_log import RoundLog

SAMPLE_COUNT_BYTES = 8
"""Size of the sample count a device uploads with its adapters (an int64), bytes."""


class FedLoRARounds:
    """Mixin for a :class:`~edgelam_ns3.frameworks.base.RoundBase` subclass (it reads ``cfg``,
    ``sim``, ``radio``, ``devices``, ``srv``, ``hosts``, ``round``) that sets
    ``adapter_bytes``, the size of the adapters, before its first round."""

    adapter_bytes: int

    def _init_policy(self) -> None:
        """The policy (``train.policy``) and the devices' compute estimates (zeros)."""
        cfg, t = self.cfg, self.cfg.train
        n = cfg.nodes.n_devices
        self.policy = make_policy(t.policy, n, t.k, cfg.seed, min_participation=t.min_participation,
                                  v=t.lyapunov_v, record=t.policy_record)
        self.compute_est = np.zeros(n)

    # -- what the subclass computes -----------------------------------------------------------

    def _round_state(self) -> Any:
        """The global adapters sent this round (what local training starts from)."""
        raise NotImplementedError

    def _train_job(self, i: int, state: Any) -> tuple[Callable[[], Any] | None, tuple]:
        """Device i's local training: (its computation, returning (first loss, upload); its
        cost key)."""
        raise NotImplementedError

    def _average_job(self, uploads: list) -> tuple[Callable[[], Any] | None, tuple]:
        """The server's average of the uploads: (its computation, its cost key)."""
        raise NotImplementedError

    # -- the round ----------------------------------------------------------------------------

    def _begin_round(self) -> None:
        n = len(self.devices)
        bits = np.full(n, 2.0 * self.adapter_bytes * 8)
        decision = self.policy.select(self.round, DeviceState(
            self.devices, self.radio.full_band_rate_bps(), bits, self.compute_est.copy()))
        self.radio.set_shares(decision.scheduled, decision.shares)
        self.scheduled = decision.scheduled
        self.log = RoundLog(self.round, self.sim.now, list(decision.scheduled),
                            list(decision.shares))
        state = self._round_state()
        agg = Barrier(self.scheduled, self._aggregate)
        for i in self.scheduled:
            self.send_message(self.srv, self.devices[i], self.adapter_bytes, "adapters_down",
                              False, lambda msg, i=i: self._local_train(i, state, agg))

    def _local_train(self, i: int, state: Any, barrier: Barrier) -> None:
        train, key = self._train_job(i, state)

        def done(res):
            loss, upload = res if res is not None else (float("nan"), None)
            self.log.losses.append(loss)
            self.send_message(self.devices[i], self.srv, self.adapter_bytes + SAMPLE_COUNT_BYTES,
                              "adapters_up", True, lambda msg: barrier.arrive(i, upload))

        self.hosts[self.devices[i]].submit("device_local_train", train, done, key=key)

    def _aggregate(self, uploads: list) -> None:
        average, key = self._average_job(uploads)
        self.hosts[self.srv].submit("server_fedavg", average, lambda _: self._end_round(),
                                    key=key)
