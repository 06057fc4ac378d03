"""Capacity traces of ``radio.mode: trace``: per-UE series of downlink and uplink rate (and
optionally one-way delay and loss) read from CSV or Parquet, checked whole before a run, and
turned into the piecewise-constant series that ``ns3::TraceRateLink`` serves.

A file is one UE's series, or several UEs' told apart by a UE column (``ues``). Columns are
mapped by name with units (:class:`~edgelam_ns3.config.TraceSourceConfig`); times are taken
relative to the file's first row. Every error is one line naming the file, the line (CSV; the
row for Parquet) and the column.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from ..config import TraceRadioConfig, TraceSourceConfig, csv_rows

RATE_UNITS = {"bit/s": 1.0, "bps": 1.0, "kbit/s": 1e3, "kbps": 1e3, "Mbit/s": 1e6, "Mbps": 1e6,
              "Gbit/s": 1e9, "Gbps": 1e9, "B/s": 8.0, "kB/s": 8e3, "MB/s": 8e6}
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}

FORMATS = {
    "edgelam": ({"time": "t_s", "dl": "dl_bps", "ul": "ul_bps", "delay": "delay_s",
                 "loss": "loss", "ue": "ue"},
                {"time": "s", "dl": "bit/s", "ul": "bit/s", "delay": "s"}),
    "android_kpi": ({"time": "Timestamp", "dl": "DL_bitrate", "ul": "UL_bitrate", "ue": "ue"},
                    {"time": "%Y.%m.%d_%H.%M.%S", "dl": "kbit/s", "ul": "kbit/s", "delay": "s"}),
}
OPTIONAL = ("delay", "loss")  # a format's optional columns: used when the file has them


@dataclass(frozen=True)
class UeTrace:
    """One UE's piecewise-constant series in simulated time: sample k holds from times_s[k]
    (times_s[0] = 0) to times_s[k+1]; the last until the end, or the series restarts after
    ``loop_period_s`` (0: no loop). ``delay_s`` and ``loss`` are empty when not traced."""

    times_s: np.ndarray
    dl_bps: np.ndarray
    ul_bps: np.ndarray
    delay_s: np.ndarray
    loss: np.ndarray
    loop_period_s: float = 0.0

    def at(self, t_s: float) -> int:
        """Index of the sample in force at simulated instant t_s."""
        if self.loop_period_s > 0:
            t_s = math.fmod(t_s, self.loop_period_s)
        return int(np.searchsorted(self.times_s, t_s, side="right") - 1)


def _units(src: TraceSourceConfig, label: str, path: Path) -> tuple[dict, dict]:
    cols, units = dict(FORMATS[src.format][0]), dict(FORMATS[src.format][1])
    cols.update(src.columns)
    units.update(src.units)
    for q in ("dl", "ul"):
        if units[q] not in RATE_UNITS:
            raise ValueError(f"{label}: {path}:1: column {cols[q]}: unknown unit {units[q]!r} "
                             f"(known: {', '.join(RATE_UNITS)})")
    if units["delay"] not in TIME_UNITS:
        raise ValueError(f"{label}: {path}:1: column {cols['delay']}: unknown unit "
                         f"{units['delay']!r} (known: {', '.join(TIME_UNITS)})")
    if units["time"] not in TIME_UNITS and "%" not in units["time"]:
        raise ValueError(f"{label}: {path}:1: column {cols['time']}: unknown unit "
                         f"{units['time']!r} (known: {', '.join(TIME_UNITS)} or a strptime "
                         "format such as %Y.%m.%d_%H.%M.%S)")
    return cols, units


def _rows(path: Path, wanted: list[str], label: str):
    """(where, row) of a CSV or Parquet file; raises one line for a missing column."""
    if path.suffix.lower() != ".parquet":
        yield from csv_rows(path, tuple(wanted), label)
        return
    import pyarrow.parquet as pq

    if not path.is_file():
        raise ValueError(f"{label}: no such file '{path}'")
    table = pq.ParquetFile(path).read()  # not pq.read_table: its pyarrow.dataset loads pandas
    missing = set(wanted) - set(table.column_names)
    if missing:
        raise ValueError(f"{label}: {path}: no column {' or '.join(sorted(missing))} (has "
                         f"{','.join(table.column_names)})")
    data = table.select(wanted).to_pylist()
    for i, row in enumerate(data):
        yield f"{label}: {path}: row {i + 1}", row


def _number(where: str, col: str, value, lo: float = 0.0, hi: float = math.inf) -> float:
    if value is None or (isinstance(value, str) and value.strip() in ("", "-")):
        raise ValueError(f"{where}: column {col}: missing value (row has {value!r})")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: column {col}: {value!r} is not a number") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ValueError(f"{where}: column {col}: {value!r} is not a finite number in "
                         f"[{lo:g}, {hi:g}]")
    return v


def _time(where: str, col: str, value, unit: str) -> float:
    if unit in TIME_UNITS:
        return _number(where, col, value, -math.inf) * TIME_UNITS[unit]
    if isinstance(value, datetime):
        return value.timestamp()
    try:
        return datetime.strptime(str(value).strip(), unit).timestamp()
    except ValueError:
        raise ValueError(f"{where}: column {col}: {value!r} does not match the time format "
                         f"{unit!r}") from None


def read_source(src: TraceSourceConfig, label: str, max_gap_s: float) -> dict[str, dict]:
    """Read and check one trace file: {ue key: {"t", "dl", "ul"[, "delay", "loss"]: lists}}
    with times in s from the file's first row (key None for a one-UE file)."""
    path = Path(src.path)
    cols, units = _units(src, label, path)
    header = _header(path, label)
    wanted = ["time", "dl", "ul"] + (["ue"] if src.ues is not None else [])
    wanted += [q for q in OPTIONAL if (q in src.columns or cols.get(q) in header)]
    series: dict = {}
    t0 = None
    for where, row in _rows(path, [cols[q] for q in wanted], label):
        t = _time(where, cols["time"], row[cols["time"]], units["time"])
        t0 = t if t0 is None else t0
        t -= t0
        key = str(row[cols["ue"]]).strip() if src.ues is not None else None
        if key is not None and key not in src.ues:
            continue
        s = series.setdefault(key, {q: [] for q in wanted if q != "ue"})
        if s["time"] and not t > s["time"][-1]:
            raise ValueError(f"{where}: column {cols['time']}: time {t:g} s is not after the "
                             f"previous sample's {s['time'][-1]:g} s (must increase)")
        if s["time"] and t - s["time"][-1] > max_gap_s:
            raise ValueError(f"{where}: column {cols['time']}: gap of {t - s['time'][-1]:g} s "
                             f"since the previous sample (radio.trace.max_gap_s: {max_gap_s:g})")
        s["time"].append(t)
        for q in ("dl", "ul"):
            s[q].append(_number(where, cols[q], row[cols[q]]) * RATE_UNITS[units[q]])
        if "delay" in s:
            s["delay"].append(_number(where, cols["delay"], row[cols["delay"]])
                              * TIME_UNITS[units["delay"]])
        if "loss" in s:
            s["loss"].append(_number(where, cols["loss"], row[cols["loss"]], 0.0, 1.0))
    for key in (src.ues if src.ues is not None else [None]):
        if key not in series:
            raise ValueError(f"{label}: {path}: no rows after the header" if key is None else
                             f"{label}: {path}: column {cols['ue']}: no rows of UE {key!r}")
    return series


def _header(path: Path, label: str) -> list[str]:
    if not path.is_file():
        raise ValueError(f"{label}: no such file '{path}'")
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq
        return list(pq.read_schema(path).names)
    import csv
    with path.open(newline="") as fh:
        return next(csv.reader(fh), [])


def _linear_steps(t: np.ndarray, v: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """The linear interpolant of (t, v) (the last value held for the last interval) as steps
    of ``step`` whose values are the interpolant's mean over each step (same integral)."""
    last = t[-1] + (t[-1] - t[-2] if len(t) > 1 else step)
    tt = np.append(t, last)
    vv = np.append(v, v[-1])
    cum = np.concatenate([[0.0], np.cumsum(np.diff(tt) * (vv[1:] + vv[:-1]) / 2)])
    grid = np.arange(0.0, last, step)
    edges = np.append(grid, last)
    return grid, np.diff(_cum_at(edges, tt, vv, cum)) / np.diff(edges)


def _cum_at(x: np.ndarray, tt: np.ndarray, vv: np.ndarray, cum: np.ndarray) -> np.ndarray:
    i = np.clip(np.searchsorted(tt, x, side="right") - 1, 0, len(tt) - 2)
    dx = x - tt[i]
    slope = (vv[i + 1] - vv[i]) / (tt[i + 1] - tt[i])
    return cum[i] + dx * vv[i] + 0.5 * slope * dx * dx


def _shift(t: np.ndarray, cols: list[np.ndarray], offset: float, period: float):
    """The series as seen from simulated time 0 when it starts at ``offset`` into it."""
    if offset == 0.0:
        return t, cols
    if period > 0:
        offset = math.fmod(offset, period)
    k = int(np.searchsorted(t, offset, side="right") - 1)
    idx = np.arange(k + 1, len(t))
    times = [np.array([0.0]), t[idx] - offset]
    order = [np.array([k]), idx]
    if period > 0:
        wrap = np.arange(0, k + 1)
        times.append(period - offset + t[wrap])
        order.append(wrap)
    times_all, order_all = np.concatenate(times), np.concatenate(order)
    return times_all, [c[order_all] if len(c) else c for c in cols]


def _series_of(raw: dict, cfg: TraceRadioConfig, offset: float) -> UeTrace:
    t = np.asarray(raw["time"], dtype=float)
    cols = [np.asarray(raw.get(q, []), dtype=float) for q in ("dl", "ul", "delay", "loss")]
    last_step = t[-1] - t[-2] if len(t) > 1 else 1.0
    if cfg.interpolation == "linear" and len(t) > 1:
        grid = None
        out = []
        for c in cols:
            if len(c):
                grid, c = _linear_steps(t, c, cfg.resolution_s)
            out.append(c)
        t, cols = grid, out
        last_step = cfg.resolution_s
    period = (t[-1] + last_step) if cfg.loop else 0.0
    t, cols = _shift(t, cols, offset, period)
    return UeTrace(t, cols[0], cols[1], cols[2], cols[3], period)


def load_ue_traces(cfg: TraceRadioConfig, n_devices: int) -> list[UeTrace]:
    """Every device's series from ``radio.trace`` (files read and checked whole). Raises
    ValueError, one line naming the file, line and column, or the config field."""
    if not cfg.sources:
        raise ValueError("radio.trace.sources: radio.mode trace needs at least one trace file")
    if cfg.offset_s is not None and len(cfg.offset_s) != n_devices:
        raise ValueError(f"radio.trace.offset_s: has {len(cfg.offset_s)} entries, "
                         f"nodes.n_devices is {n_devices}")
    raws = []
    for i, src in enumerate(cfg.sources):
        series = read_source(src, f"radio.trace.sources[{i}]", cfg.max_gap_s)
        raws += [series[k] for k in (src.ues if src.ues is not None else [None])]
    if len(raws) != n_devices:
        raise ValueError(f"radio.trace.sources: the files give {len(raws)} UE series, "
                         f"nodes.n_devices is {n_devices} (one per device)")
    offsets = cfg.offset_s or [0.0] * n_devices
    return [_series_of(r, cfg, o) for r, o in zip(raws, offsets)]


class TraceRadioControl:
    """Radio shares over ``radio.mode: trace``: a share s serves the scheduled UE at s x its
    trace's rate in both directions from now on (an OFDMA split of the capacity the trace
    records); link quality is the trace's downlink rate now."""

    def __init__(self, cfg, sim):
        self.sim = sim
        self.names = [f"ue{i}" for i in range(cfg.nodes.n_devices)]
        self.traces = load_ue_traces(cfg.radio.trace, cfg.nodes.n_devices)
        self.shares = np.full(len(self.names), cfg.radio.trace.share)

    def full_band_rate_bps(self) -> np.ndarray:
        """Each UE's downlink rate with its whole capacity now, bit/s."""
        now = self.sim.now
        return np.array([tr.dl_bps[tr.at(now)] for tr in self.traces], dtype=float)

    def set_shares(self, scheduled: list[int], shares: list[float]) -> None:
        """Give scheduled UE i the fraction shares[j] of its capacity from now on."""
        if len(scheduled) != len(shares):
            raise ValueError("set_shares: one share per scheduled device")
        if any(s <= 0 for s in shares) or float(sum(shares)) > 1.0 + 1e-9:
            raise ValueError(f"set_shares: shares must be > 0 and sum to at most 1, got {shares}")
        for i, s in zip(scheduled, shares):
            self.shares[i] = s
            self.sim.set_link_share(self.names[i], "gnb", s)
            self.sim.set_link_share("gnb", self.names[i], s)

    def rate_bps(self, i: int) -> float:
        """UE i's current downlink rate, bit/s."""
        return float(self.full_band_rate_bps()[i] * self.shares[i])


class FullCarrierRate:
    """The rate a UE would get with the whole carrier at its current MCS, per direction (what
    ``link_states.parquet`` records as ``dl_full_rate_bps`` / ``ul_full_rate_bps`` so that an
    NR run can be replayed as a trace): the TS 38.306 §4.1.2 rate with the MCS's spectral
    efficiency, N_PRB of the carrier, the direction's share of OFDM symbols in the TDD pattern
    (S slots: ns3::NrCellMac's default 10 DL and 2 UL symbols) and its overhead, times
    (1 - BLER), the BLER averaged over the UE's last ``BLER_PERIODS`` periods with a
    transmission: a period's own BLER comes from a handful of TBs, and one failed TB in a
    quiet period (BLER 1) would record a dead carrier for the period though HARQ delivered
    the TB slots later. A period without a transmission keeps the UE's previous value (NaN
    before its first)."""

    SPECIAL_SYMBOLS = {"dl": 10, "ul": 2}
    BLER_PERIODS = 10

    def __init__(self, radio):
        from .phy import num_prb, scs_hz

        self.table = radio.mcs_table
        n_prb = num_prb(radio.bandwidth_hz, scs_hz(radio.numerology),
                        carrier_hz=radio.carrier_hz)
        symbols_per_s = 14 * 1000 * 2 ** radio.numerology
        pattern = radio.tdd_pattern
        self.re_per_s = {}
        for d, slot, oh in (("dl", "D", radio.dl_overhead), ("ul", "U", radio.ul_overhead)):
            share = (14 * pattern.count(slot) + self.SPECIAL_SYMBOLS[d] * pattern.count("S")) \
                / (14 * len(pattern))
            self.re_per_s[d] = n_prb * 12 * symbols_per_s * share * (1 - oh)
        self.last: dict[tuple[str, str], float] = {}
        self.blers: dict[tuple[str, str], deque] = {}

    def __call__(self, ue: str, direction: str, mcs_index: float, bler: float) -> float:
        from .phy import mcs

        key = (ue, direction)
        if math.isfinite(mcs_index) and mcs_index >= 0:  # -1: no transmission
            se = mcs(self.table, int(round(mcs_index))).spectral_efficiency
            blers = self.blers.setdefault(key, deque(maxlen=self.BLER_PERIODS))
            blers.append(bler if math.isfinite(bler) else 0.0)
            self.last[key] = self.re_per_s[direction] * se * (1 - sum(blers) / len(blers))
        return self.last.get(key, float("nan"))
