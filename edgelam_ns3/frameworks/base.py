"""The base of the round-based training frameworks (:class:`RoundBase`: hosts, radio control,
round log, end of a round, without torch; :class:`RoundFramework`: with the models' torch device
and data) and the barrier that waits for several devices."""

from __future__ import annotations

from typing import Callable

from ..config import ScenarioConfig
from .round_log import RoundLog


class Barrier:
    """Collects one result per expected key, then calls ``fn(results)`` once (results in the
    order of the keys given)."""

    def __init__(self, keys, fn: Callable[[list], None]):
        self.keys = list(keys)
        self.fn = fn
        self.got: dict = {}

    def arrive(self, key, value=None) -> None:
        if key in self.got:
            raise RuntimeError(f"barrier: {key!r} arrived twice")
        self.got[key] = value
        if len(self.got) == len(self.keys):
            self.fn([self.got[k] for k in self.keys])


class RoundBase:
    """What every round-based training framework has, without torch: the device and server
    hosts on the simulated clock, the radio control, the per-round log, and the end of a round
    (held-out evaluation, the round's row, the next round or the stop).

    Subclasses implement :meth:`_begin_round` (start round ``self.round``: open ``self.log``)
    and :meth:`evaluate`, and call :meth:`_end_round` when the round's last job is done.
    :class:`RoundFramework` adds the models' torch device and data; the torch-free timing
    replay (:mod:`edgelam_ns3.replay_timing`) builds on this class directly.

    ``self.timing_only``: ``compute.execution`` is ``cost`` or ``recorded``: no losses (NaN)
    and no evaluation.

    :param on_job: trace sink for compute jobs
    :param on_round: called with the round's row (dict) when a round ends
    :param costs: the hosts' :class:`~edgelam_ns3.compute.RecordedCosts` under
        ``compute.execution: recorded``; else None: a :class:`~edgelam_ns3.compute.CostCache`
        with ``compute.accounting: cached``, none with ``exact``
    """

    name = ""

    def __init__(self, cfg: ScenarioConfig, sim, on_job: Callable[[dict], None] | None = None,
                 on_round: Callable[[dict], None] | None = None, costs=None):
        from ..compute import CostCache, Device
        from ..radio.control import make_radio_control
        from ..topology import profile

        self.cfg, self.sim, self.on_round, self._on_job = cfg, sim, on_round, on_job
        self.devices = [f"ue{i}" for i in range(cfg.nodes.n_devices)]
        self.srv = cfg.train.server
        self.timing_only = cfg.compute.execution in ("cost", "recorded")
        if costs is None and cfg.compute.accounting == "cached":
            costs = CostCache()  # one cache of counts for all hosts (None: count every job)
        self.costs = costs
        self.hosts = {h: Device(h, profile(cfg, h), sim, self._job, self.costs,
                                execution=cfg.compute.execution)
                      for h in self.devices + [self.srv]}
        self.radio = make_radio_control(cfg, sim)
        self.round = 0
        self.log: RoundLog | None = None
        self.finished = False

    def _job(self, rec: dict) -> None:
        if self._on_job is not None:
            self._on_job(rec)
        if self.log is not None:
            self.log.job(rec["job"], rec)

    def send_message(self, src: str, dst: str, nbytes: int, phase: str, up: bool,
                     then: Callable) -> None:
        """Send a message of ``nbytes`` for this round's ``phase`` (``up``: towards the
        server), account its delivery in this round's log, then call ``then(msg)``."""
        log = self.log

        def delivered(msg):
            log.message(phase, msg, up)
            then(msg)

        self.sim.send(src, dst, nbytes, delivered, tag=phase)

    def evaluate(self) -> float:
        """Held-out loss of the model as it stands (measured, not charged)."""
        raise NotImplementedError

    def summary(self) -> dict:
        """The framework's own entries of the run's ``summary.json`` (none by default)."""
        return {}

    def start(self) -> None:
        self._begin_round()

    def _begin_round(self) -> None:
        raise NotImplementedError

    def _round_extra(self) -> dict:
        """Extra columns of the round's row (besides the breakdown and ``eval_loss``)."""
        return {}

    def _end_round(self) -> None:
        eval_loss = float("nan") if self.timing_only else self.evaluate()
        row = self.log.close(self.sim.now, {"eval_loss": eval_loss, **self._round_extra()})
        self.log = None
        if self.on_round is not None:
            self.on_round(row)
        self.round += 1
        if self.round >= self.cfg.train.steps:
            self.finished = True
            self.sim.stop()
        else:
            self._begin_round()


class RoundFramework(RoundBase):
    """A round-based training framework with PyTorch models (:class:`RoundBase` plus their torch
    device and data). Subclasses put their models on ``self.torch_device`` with :meth:`place`
    before making optimisers, draw batches from :meth:`local_batches`, and read a loss with
    :meth:`value`.

    ``self.torch_device``: ``sim.torch_device`` (resolved), or ``meta`` with
    ``compute.execution: cost``: then every job runs on meta tensors (the same FLOP and byte
    counts, so the same charges), losses and held-out losses are NaN, and no evaluation runs.
    """

    def __init__(self, cfg: ScenarioConfig, sim, on_job: Callable[[dict], None] | None = None,
                 on_round: Callable[[dict], None] | None = None):
        from ..datasets.text import held_out_batch
        from ..torch_device import resolve, to_device

        if cfg.compute.execution == "recorded":
            raise ValueError(f"compute.execution: recorded: {type(self).__name__} runs PyTorch "
                             "jobs; recorded charges are for the torch-free timing replay "
                             "(edgelam_ns3.replay_timing)")
        super().__init__(cfg, sim, on_job, on_round)
        self.cost_only = cfg.compute.execution == "cost"
        self.torch_device = resolve(cfg.sim.torch_device, cfg.compute.execution)
        self.eval_batch = to_device(held_out_batch(cfg), self.torch_device)

    def place(self, *modules):
        """Move ``modules`` to ``self.torch_device`` (ties kept); :return: the first."""
        from ..torch_device import move_module

        for m in modules:
            move_module(m, self.torch_device)
        return modules[0]

    def building(self):
        """A context to build the models in: torch's meta device under ``compute.execution:
        cost`` (no weights allocated or initialised), else none (built on the CPU, as seeded,
        then moved by :meth:`place`, so that every torch device starts from the same
        weights)."""
        import contextlib

        import torch

        return torch.device("meta") if self.cost_only else contextlib.nullcontext()

    def local_batches(self, batch_size: int | None = None) -> list:
        """One endless iterator of (input_ids, labels) per device, on ``self.torch_device``
        (:func:`~edgelam_ns3.datasets.text.device_batches`)."""
        from ..datasets.text import device_batches
        from ..torch_device import to_device

        dev = self.torch_device
        return [map(lambda b: to_device(b, dev), it) for it in device_batches(self.cfg, batch_size)]

    @staticmethod
    def value(t) -> float:
        """A scalar tensor's value (a loss); NaN under ``compute.execution: cost``."""
        from ..torch_device import value

        return value(t)
