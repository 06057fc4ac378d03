"""Device scheduling and bandwidth allocation policies of the training frameworks, by name.

Every round a policy chooses which devices take part and what share of the radio resources each
gets (shares of the scheduled devices sum to 1; the radio gives device i the rate
share_i x its full-band rate). Built-ins (``train.policy``):

- ``all``: every device, equal shares;
- ``random``: k devices drawn uniformly without replacement (seeded), equal shares;
- ``round_robin``: k devices in turn, equal shares;
- ``channel_aware``: the k devices with the best link states (highest full-band rate), equal
  shares;
- ``lyapunov``: online drift-plus-penalty (Neely, *Stochastic Network Optimization*, 2010), as
  used for device scheduling and bandwidth allocation in federated fine-tuning over wireless
  networks (Wang et al., IEEE TWC 2025): a virtual queue per device, Q_i(t+1) = max(Q_i(t) +
  p_min - 1{i scheduled}, 0), turns the long-term constraint "device i takes part in at least
  p_min of the rounds" into a per-round problem, minimise V x latency(S, b) - sum_{i in S} Q_i.
  For a given set S the latency-optimal shares equalise the devices' finishing times (solved by
  bisection on the round time); S is chosen greedily among the prefixes of the devices sorted
  by Q_i (ties by rate), which contain the optimum when all devices have the same load.

A new policy is a class with ``select(round_index, state) -> Decision``, added to ``POLICIES``.
:class:`RateObserver` gives the policies the rates the network actually delivered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class DeviceState:
    """What a policy knows about the devices at the start of a round.

    :ivar names: device names
    :ivar rate_bps: full-band rate of each device now (from the radio's link states), bit/s
    :ivar bits: bits each device must exchange in a round (up and down), bit
    :ivar compute_s: each device's compute time in a round (estimate), s
    """

    names: list[str]
    rate_bps: np.ndarray
    bits: np.ndarray
    compute_s: np.ndarray


@dataclass
class Decision:
    """Scheduled devices (indices) and their radio shares (same order, summing to 1)."""

    scheduled: list[int]
    shares: list[float]
    info: dict = field(default_factory=dict)


def _equal(idx) -> Decision:
    idx = [int(i) for i in idx]
    return Decision(idx, [1.0 / len(idx)] * len(idx))


class AllPolicy:
    """Every device, equal shares."""

    def __init__(self, n: int, k: int, seed: int, **_):
        self.n = n

    def select(self, r: int, state: DeviceState) -> Decision:
        return _equal(range(self.n))


class RandomPolicy:
    """k devices uniformly at random (seeded), equal shares."""

    def __init__(self, n: int, k: int, seed: int, **_):
        self.n, self.k = n, k
        self.rng = np.random.default_rng(seed)

    def select(self, r: int, state: DeviceState) -> Decision:
        return _equal(sorted(self.rng.choice(self.n, size=self.k, replace=False)))


class RoundRobinPolicy:
    """k devices in turn, equal shares."""

    def __init__(self, n: int, k: int, seed: int, **_):
        self.n, self.k = n, k

    def select(self, r: int, state: DeviceState) -> Decision:
        return _equal(sorted((r * self.k + j) % self.n for j in range(self.k)))


class ChannelAwarePolicy:
    """The k devices with the highest full-band rate now, equal shares."""

    def __init__(self, n: int, k: int, seed: int, **_):
        self.k = k

    def select(self, r: int, state: DeviceState) -> Decision:
        order = np.argsort(-state.rate_bps, kind="stable")
        return _equal(sorted(order[: self.k]))


def optimal_shares(bits: np.ndarray, rate_bps: np.ndarray, compute_s: np.ndarray,
                   iters: int = 60) -> tuple[np.ndarray, float]:
    """Shares b (sum 1) minimising max_i compute_i + bits_i / (b_i rate_i): all devices finish at
    the same time T, with b_i = bits_i / (rate_i (T - compute_i)); T found by bisection."""
    lo = float(np.max(compute_s))
    need = lambda T: float(np.sum(bits / (rate_bps * np.maximum(T - compute_s, 1e-15))))
    hi = lo + float(np.sum(bits / rate_bps)) + 1e-9  # every device alone would take this long
    while need(hi) > 1.0:
        hi *= 2
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if need(mid) > 1.0:
            lo = mid
        else:
            hi = mid
    shares = bits / (rate_bps * (hi - compute_s))
    return shares / shares.sum(), hi


class LyapunovPolicy:
    """Drift-plus-penalty scheduling and bandwidth allocation with participation constraints."""

    def __init__(self, n: int, k: int, seed: int, min_participation: float = 0.3,
                 v: float = 10.0, **_):
        self.n = n
        self.p_min = np.full(n, float(min_participation))
        self.v = float(v)
        self.q = np.zeros(n)

    def select(self, r: int, state: DeviceState) -> Decision:
        order = sorted(range(self.n), key=lambda i: (-self.q[i], -state.rate_bps[i]))
        best = None
        for m in range(1, self.n + 1):
            s = np.array(sorted(order[:m]))
            shares, latency = optimal_shares(state.bits[s], state.rate_bps[s], state.compute_s[s])
            # penalty: V x latency; drift bound: - sum of the scheduled devices' queues; and each
            # scheduled device contributes one unit of useful work (a gradient) to the round.
            objective = self.v * latency - float(np.sum(self.q[s])) - 1e-3 * m
            if best is None or objective < best[0]:
                best = (objective, s, shares, latency)
        _, s, shares, latency = best
        chosen = np.zeros(self.n)
        chosen[s] = 1.0
        self.q = np.maximum(self.q + self.p_min - chosen, 0.0)
        return Decision([int(i) for i in s], [float(x) for x in shares],
                        {"predicted_latency_s": latency, "queues": self.q.tolist()})


def recorded_schedule(run_dir) -> dict[int, Decision]:
    """Each round's scheduled devices and shares from a run's ``traces/rounds.parquet`` (the
    shares as logged, to 4 decimals, scaled down if they then sum past 1). Raises ValueError
    (one line) for a run without them."""
    from pathlib import Path

    import pyarrow.parquet as pq

    path = Path(run_dir) / "traces" / "rounds.parquet"
    if not path.is_file():
        raise ValueError(f"train.policy_record: {path} does not exist (not a finished run "
                         "directory)")
    f = pq.ParquetFile(path)
    if not {"round", "scheduled", "shares"} <= set(f.schema_arrow.names):
        raise ValueError(f"train.policy_record: {path} has no scheduled and shares columns (a "
                         "run of a framework that schedules devices is needed)")
    out = {}
    for row in f.read(columns=["round", "scheduled", "shares"]).to_pylist():
        idx = [int(i) for i in row["scheduled"].split(",") if i]
        shares = [float(s) for s in row["shares"].split(",") if s]
        if not idx or len(idx) != len(shares):
            raise ValueError(f"train.policy_record: {path}: round {row['round']} has no "
                             "schedule (scheduled and shares empty or of different lengths)")
        total = sum(shares)
        out[int(row["round"])] = Decision(idx, [s / max(total, 1.0) for s in shares])
    return out


class RecordedPolicy:
    """The schedule a run recorded, round by round (``train.policy: recorded``, ``edgelam
    replay --same-schedule``): a replay then differs from the run only where the network does,
    not where a policy that observes the replay's rates would decide otherwise."""

    def __init__(self, n: int, k: int, seed: int, record=None, **_):
        self.n = n
        self.schedule = recorded_schedule(record)

    def select(self, r: int, state: DeviceState) -> Decision:
        if r not in self.schedule:
            raise ValueError(f"train.policy recorded: the record has no round {r}")
        d = self.schedule[r]
        if max(d.scheduled) >= self.n:
            raise ValueError(f"train.policy recorded: round {r} schedules device "
                             f"{max(d.scheduled)} of {self.n}")
        return Decision(list(d.scheduled), list(d.shares))


POLICIES = {
    "all": AllPolicy,
    "random": RandomPolicy,
    "round_robin": RoundRobinPolicy,
    "channel_aware": ChannelAwarePolicy,
    "lyapunov": LyapunovPolicy,
    "recorded": RecordedPolicy,
}


def make_policy(name: str, n: int, k: int, seed: int, **kwargs):
    """A policy by name (see :data:`POLICIES`)."""
    try:
        cls = POLICIES[name]
    except KeyError:
        raise ValueError(f"unknown policy '{name}' (known: {', '.join(POLICIES)})") from None
    return cls(n=n, k=min(k, n), seed=seed, **kwargs)


class RateObserver:
    """Each device's full-band rate as the network actually delivered it: every message of a
    scheduled device gives bytes x 8 / latency / share (latency from send to last byte, so TCP,
    HARQ and queueing are in it), smoothed by an exponential moving average. Devices never
    observed fall back to a prior (the radio's own estimate)."""

    def __init__(self, n: int, alpha: float = 0.5):
        self.alpha = alpha
        self.rate = np.full(n, np.nan)

    def observe(self, i: int, nbytes: int, latency_s: float, share: float) -> None:
        if latency_s <= 0 or share <= 0:
            return
        r = nbytes * 8 / latency_s / share
        old = self.rate[i]
        self.rate[i] = r if math.isnan(old) else (1 - self.alpha) * old + self.alpha * r

    def estimate(self, prior):
        """Observed rates where there are some, ``prior`` elsewhere, bit/s."""
        return np.where(np.isnan(self.rate), prior, self.rate)
