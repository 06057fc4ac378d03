"""Pieces the round-based training frameworks share: data per device, a held-out batch,
a barrier that waits for several devices, and the per-round latency breakdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from ..config import ScenarioConfig
from ..data import ByteTokens, batch_iterator, device_shards, load_corpus

HELD_OUT_FRACTION = 0.05


def local_data(cfg: ScenarioConfig, held_out: bool = True) -> list[torch.Tensor]:
    """Each device's local dataset: its shard of the training corpus (the corpus less its last
    5 %, kept for evaluation, unless ``held_out`` is False), IID or not per ``train.non_iid``;
    token ids [N_d]."""
    tokens = ByteTokens.encode(load_corpus())
    train = tokens[: int(len(tokens) * (1 - HELD_OUT_FRACTION))] if held_out else tokens
    return device_shards(train, cfg.nodes.n_devices, cfg.train.non_iid, cfg.seed)


def device_batches(cfg: ScenarioConfig, batch_size: int | None = None,
                   held_out: bool = True) -> list:
    """One endless batch iterator per device over its local data; seeded by ``cfg.seed``."""
    out = []
    for i, shard in enumerate(local_data(cfg, held_out)):
        g = torch.Generator().manual_seed(cfg.seed * 1000 + i)
        out.append(batch_iterator(shard, batch_size or cfg.train.batch_size, cfg.model.seq_len, g))
    return out


def held_out_batch(cfg: ScenarioConfig, n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed evaluation batch from the held-out end of the corpus (same for every framework
    and policy, so their losses compare)."""
    tokens = ByteTokens.encode(load_corpus())
    held = tokens[int(len(tokens) * (1 - HELD_OUT_FRACTION)):]
    g = torch.Generator().manual_seed(12345)
    return next(batch_iterator(held, n, cfg.model.seq_len, g))


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


@dataclass
class RoundLog:
    """Latency breakdown of one round along its critical path. Each phase is the slowest
    device's (or message's) time in that phase; phases run one after the other."""

    index: int
    t_start_s: float
    scheduled: list[int] = field(default_factory=list)
    shares: list[float] = field(default_factory=list)
    device_compute_s: float = 0.0
    uplink_s: float = 0.0
    server_compute_s: float = 0.0
    downlink_s: float = 0.0
    bytes_up: int = 0
    bytes_down: int = 0
    losses: list[float] = field(default_factory=list)
    _phase: dict = field(default_factory=dict)

    def job(self, phase: str, rec: dict) -> None:
        """Account a finished compute job (a record from :class:`~edgelam_ns3.compute.Device`)."""
        d = rec["t_end_s"] - rec["t_start_s"]
        key = ("server" if phase.startswith("server") else "device", phase)
        self._phase[key] = max(self._phase.get(key, 0.0), d)

    def message(self, phase: str, msg, up: bool) -> None:
        """Account a delivered message of this round."""
        key = ("up" if up else "down", phase)
        self._phase[key] = max(self._phase.get(key, 0.0), msg.latency_s)
        if up:
            self.bytes_up += msg.bytes
        else:
            self.bytes_down += msg.bytes

    def close(self, t_end_s: float, extra: dict | None = None) -> dict:
        """The round's row for ``rounds.parquet``."""
        for (kind, _), v in self._phase.items():
            if kind == "device":
                self.device_compute_s += v
            elif kind == "server":
                self.server_compute_s += v
            elif kind == "up":
                self.uplink_s += v
            else:
                self.downlink_s += v
        row = {
            "round": self.index,
            "t_start_s": self.t_start_s,
            "t_end_s": t_end_s,
            "latency_s": t_end_s - self.t_start_s,
            "device_compute_s": self.device_compute_s,
            "uplink_s": self.uplink_s,
            "server_compute_s": self.server_compute_s,
            "downlink_s": self.downlink_s,
            "bytes_up": self.bytes_up,
            "bytes_down": self.bytes_down,
            "n_scheduled": len(self.scheduled),
            "scheduled": ",".join(str(i) for i in self.scheduled),
            "shares": ",".join(f"{s:.4f}" for s in self.shares),
            "loss": sum(self.losses) / len(self.losses) if self.losses else float("nan"),
        }
        row.update(extra or {})
        return row


class RateObserver:
    """Each device's full-band rate as the network actually delivered it: every message of a
    scheduled device gives bytes x 8 / latency / share (latency from send to last byte, so TCP,
    HARQ and queueing are in it), smoothed by an exponential moving average. Devices never
    observed fall back to a prior (the radio's own estimate)."""

    def __init__(self, n: int, alpha: float = 0.5):
        import numpy as np

        self.alpha = alpha
        self.rate = np.full(n, np.nan)

    def observe(self, i: int, nbytes: int, latency_s: float, share: float) -> None:
        import math

        if latency_s <= 0 or share <= 0:
            return
        r = nbytes * 8 / latency_s / share
        old = self.rate[i]
        self.rate[i] = r if math.isnan(old) else (1 - self.alpha) * old + self.alpha * r

    def estimate(self, prior):
        """Observed rates where there are some, ``prior`` elsewhere, bit/s."""
        import numpy as np

        return np.where(np.isnan(self.rate), prior, self.rate)


class RoundFramework:
    """What every round-based training framework has: the device and server hosts on the
    simulated clock, the radio control, the per-round log, and the end of a round (held-out
    evaluation, the round's row, the next round or the stop).

    Subclasses implement :meth:`_begin_round` (start round ``self.round``: open ``self.log``)
    and :meth:`evaluate`, and call :meth:`_end_round` when the round's last job is done.

    :param on_job: trace sink for compute jobs
    :param on_round: called with the round's row (dict) when a round ends
    """

    name = ""

    def __init__(self, cfg: ScenarioConfig, sim, on_job: Callable[[dict], None] | None = None,
                 on_round: Callable[[dict], None] | None = None):
        from ..compute import Device
        from ..radio_control import make_radio_control
        from ..topology import profile

        self.cfg, self.sim, self.on_round, self._on_job = cfg, sim, on_round, on_job
        self.devices = [f"ue{i}" for i in range(cfg.nodes.n_devices)]
        self.srv = cfg.train.server
        self.eval_batch = held_out_batch(cfg)
        self.hosts = {h: Device(h, profile(cfg, h), sim, self._job)
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

    def evaluate(self) -> float:
        """Held-out loss of the model as it stands (measured, not charged)."""
        raise NotImplementedError

    def start(self) -> None:
        self._begin_round()

    def _begin_round(self) -> None:
        raise NotImplementedError

    def _round_extra(self) -> dict:
        """Extra columns of the round's row (besides the breakdown and ``eval_loss``)."""
        return {}

    def _end_round(self) -> None:
        row = self.log.close(self.sim.now, {"eval_loss": self.evaluate(), **self._round_extra()})
        self.log = None
        if self.on_round is not None:
            self.on_round(row)
        self.round += 1
        if self.round >= self.cfg.train.steps:
            self.finished = True
            self.sim.stop()
        else:
            self._begin_round()
