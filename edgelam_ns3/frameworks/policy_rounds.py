"""The policy-driven part of a split federated LoRA round, without torch.

Shared by :class:`~edgelam_ns3.frameworks.split_fed_lora.SplitFedLoRA` and its torch-free
timing replay (:class:`~edgelam_ns3.replay_timing.SplitFedLoRATiming`), so that both pick the
devices and their radio shares, log the round's messages, learn the delivered rates and
estimate the devices' compute times in one place: a timing replay's decisions are the full
run's by construction of the code, and ``tests/integration/test_replay.py`` checks the outcome.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..policies import DeviceState, RateObserver, make_policy
from .round_log import RoundLog


class PolicyRounds:
    """Mixin for a :class:`~edgelam_ns3.frameworks.base.RoundBase` subclass (it reads ``cfg``,
    ``sim``, ``radio``, ``devices``, ``srv``, ``round`` and ``log``). Put it first among the
    bases, so that its :meth:`_job` wraps the framework's."""

    def _init_policy(self) -> None:
        """The policy (``train.policy``), its per-device state and the rate observer."""
        cfg = self.cfg
        n, t, d = cfg.nodes.n_devices, cfg.train, cfg.model
        self.policy = make_policy(t.policy, n, t.k, cfg.seed, min_participation=t.min_participation,
                                  v=t.lyapunov_v, record=t.policy_record)
        # a round's traffic per device: activations and gradients, up and down, float32
        self.bits_per_round = 4 * t.batch_size * d.seq_len * d.n_embd * 4 * 8
        self.compute_est = np.zeros(n)
        self.participation = np.zeros(n)
        self._round_compute = np.zeros(n)
        self.observed = RateObserver(n)

    def _job(self, rec: dict) -> None:
        super()._job(rec)
        if self.log is not None and rec["device"] != self.srv:
            i = self.devices.index(rec["device"])
            self._round_compute[i] += rec["t_end_s"] - rec["t_start_s"]

    def _send_bytes(self, src: str, dst: str, nbytes: int, phase: str, up: bool,
                    then: Callable[[], None]) -> None:
        """Send ``nbytes`` as one message; log it in the round and teach the rate observer the
        rate the device's share delivered; call ``then()`` on delivery."""
        log = self.log
        i = self.devices.index(src if up else dst)
        share = dict(zip(log.scheduled, log.shares)).get(i, 0.0)

        def delivered(msg):
            log.message(phase, msg, up)
            self.observed.observe(i, msg.bytes, msg.latency_s, share)
            then()

        self.sim.send(src, dst, nbytes, delivered, tag=phase)

    def _plan_round(self) -> None:
        """The policy picks this round's devices and shares; the radio applies them now."""
        # lyapunov plans with the rates the network actually delivered (channel_aware ranks by
        # the radio's link states, as its name says)
        radio_rates = self.radio.full_band_rate_bps()
        rates = radio_rates if self.cfg.train.policy == "channel_aware" else \
            self.observed.estimate(radio_rates)
        state = DeviceState(self.devices, rates,
                            np.full(len(self.devices), float(self.bits_per_round)),
                            self.compute_est.copy())
        decision = self.policy.select(self.round, state)
        self.radio.set_shares(decision.scheduled, decision.shares)
        self.scheduled = decision.scheduled
        self.participation[decision.scheduled] += 1
        self.log = RoundLog(self.round, self.sim.now, list(decision.scheduled),
                            list(decision.shares))
        self._round_compute = np.zeros(len(self.devices))

    def _update_compute_estimate(self) -> None:
        """At the round's end: each scheduled device's compute estimate moves halfway to what
        its jobs took this round."""
        s = self.scheduled
        self.compute_est[s] = 0.5 * self.compute_est[s] + 0.5 * self._round_compute[s]
