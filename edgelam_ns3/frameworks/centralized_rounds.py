"""The rounds of centralised fine-tuning without its tensors, without torch.

Shared by :class:`~edgelam_ns3.frameworks.centralized.Centralized` and its torch-free timing
replay (:class:`~edgelam_ns3.replay_timing.CentralizedTiming`): every device's raw data up
with equal shares (round 0's uplink), then one server training step per round, in one place,
so that a timing replay's rounds are the full run's by construction of the code
(``tests/integration/test_replay.py`` checks the outcome). The subclass sets ``shard_bytes``
and supplies the step's computation and key (:meth:`CentralizedRounds._train_step_job`).
"""

from __future__ import annotations

from typing import Any, Callable

from .base import Barrier
from .round_log import RoundLog


class CentralizedRounds:
    """Mixin for a :class:`~edgelam_ns3.frameworks.base.RoundBase` subclass (it reads ``sim``,
    ``radio``, ``devices``, ``srv``, ``hosts``, ``round``, ``log``) that sets ``shard_bytes``,
    each device's raw data in bytes, before it starts."""

    shard_bytes: list[int]

    def _train_step_job(self) -> tuple[Callable[[], Any] | None, tuple]:
        """The round's server step: (its computation, returning the loss; its cost key)."""
        raise NotImplementedError

    def start(self) -> None:
        n = len(self.devices)
        self.radio.set_shares(list(range(n)), [1.0 / n] * n)
        self.log = RoundLog(0, self.sim.now, list(range(n)), [1.0 / n] * n)
        uploaded = Barrier(range(n), lambda _: self._begin_round())
        for i in range(n):
            self.send_message(self.devices[i], self.srv, self.shard_bytes[i], "raw_data_up",
                              True, lambda msg, i=i: uploaded.arrive(i))

    def _begin_round(self) -> None:
        if self.log is None:
            self.log = RoundLog(self.round, self.sim.now, [], [])
        step, key = self._train_step_job()

        def done(loss):
            self.log.losses.append(float("nan") if loss is None else loss)
            self._end_round()

        self.hosts[self.srv].submit("server_train_step", step, done, key=key)
