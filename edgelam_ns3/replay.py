"""``edgelam replay RUN_DIR``: rerun a recorded run's framework (or, with ``--set``, another
policy or framework) over the radio that run recorded, served as a trace (``radio.mode:
trace``), for counterfactual what-if analysis at a fraction of the cost of the NR run.

The recorded radio is each device's rate with the whole carrier per link-state period
(``dl_full_rate_bps`` / ``ul_full_rate_bps`` of ``traces/link_states.parquet``, see
:class:`~edgelam_ns3.radio.trace.FullCarrierRate`). The devices share one carrier per
direction (``radio.trace.sharing: cell``, ``ns3::TraceCell``): a policy's shares are weights
among the devices with data (in NR mode they are guaranteed RBG shares, the rest going by the
scheduler's metric), and a device alone with data gets its whole full-carrier rate, as the NR
MAC gives it the idle RBGs. The hop's delay and the uplink's scheduling-request wait are the
run's medians, from its messages (:func:`access_delays`). Messages cross as large packets
(:data:`REPLAY_MTU_BYTES`).

Assumption: the channel does not react to the new decisions. The replay keeps the recorded
SINR, MCS and BLER whatever the new run sends, so what changes with the decisions (link
adaptation to a new load, HARQ retransmission timing, SR/BSR waits other than the run's median,
interference from other cells' new schedules, radio-only UEs' load) is not modelled. It is a
model of the NR run, not an identity: compare per-round latencies with :func:`latency_error`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import config as config_mod

TRACE_FILE = "capacity_trace.csv"
"""Where a run's per-device capacity series is written (in its ``traces/``; derived, reused)."""


def _held(x: np.ndarray) -> np.ndarray:
    """NaNs replaced by the last value before them, leading ones by the first value."""
    idx = np.where(np.isnan(x), 0, np.arange(len(x)))
    x = x[np.maximum.accumulate(idx)]
    valid = ~np.isnan(x)
    return np.where(valid, x, x[valid.argmax()] if valid.any() else np.nan)


def capacity_trace(run_dir: Path, cfg: config_mod.ScenarioConfig) -> Path:
    """Write the run's per-device full-carrier rates as an edgelam trace CSV (t_s, ue, dl_bps,
    ul_bps): a link-state sample at t covers the period before t, so it holds from
    t - period. Periods without a transmission keep the previous value (the first known one
    before it). Raises ValueError (one line) for a run without them."""
    # pyarrow and numpy, not pandas: importing pandas costs a replay's parent ~0.8 s before
    # its child can start, a fifth of a timing replay's wall time
    import pyarrow.parquet as pq

    path = run_dir / "traces" / "link_states.parquet"
    if not path.is_file():
        raise ValueError(f"replay: {run_dir}: no traces/link_states.parquet (not a run dir, or "
                         "trace.link_states off)")
    f = pq.ParquetFile(path)  # not pq.read_table: its pyarrow.dataset import loads pandas
    cols = ("dl_full_rate_bps", "ul_full_rate_bps")
    if any(c not in f.schema_arrow.names for c in ("kind", "dst", *cols)):
        raise ValueError(f"replay: {path}: no columns {', '.join(cols)} (an NR run recorded "
                         "by this version is needed)")
    ls = f.read(columns=["t_s", "kind", "dst", *cols])
    # to_pylist, not to_numpy: pyarrow's to_numpy imports pandas too (None -> NaN below)
    t = np.asarray(ls["t_s"].to_pylist(), dtype=float)
    kind = np.asarray(ls["kind"].to_pylist(), dtype=object)
    dst = np.asarray(ls["dst"].to_pylist(), dtype=object)
    rates = [np.asarray(ls[c].to_pylist(), dtype=float) for c in cols]
    period = cfg.trace.link_state_period_s
    rows: dict[tuple[float, str], tuple[float, float]] = {}  # (t_s, ue): the last row wins
    for i in range(cfg.nodes.n_devices):
        ue = f"ue{i}"
        sel = np.flatnonzero((kind == "ue") & (dst == ue))
        sel = sel[np.argsort(t[sel], kind="stable")]
        dl, ul = _held(rates[0][sel]), _held(rates[1][sel])
        if not len(sel) or np.isnan(dl).any() or np.isnan(ul).any():
            raise ValueError(f"replay: {path}: {ue} has no full-carrier rate (never scheduled)")
        for ts, d, u in zip(np.maximum(t[sel] - period, 0.0), dl, ul):
            rows[(float(ts), ue)] = (float(d), float(u))
    out = run_dir / "traces" / TRACE_FILE
    lines = ["t_s,ue,dl_bps,ul_bps"] + [f"{ts!r},{ue},{d!r},{u!r}"
                                        for (ts, ue), (d, u) in sorted(rows.items())]
    out.write_text("\n".join(lines) + "\n")
    return out


def path_delay_s(cfg: config_mod.ScenarioConfig, node: str) -> float | None:
    """One-way propagation delay from the gNB to a backhaul node along the fewest backhaul
    links (ns-3's global routing), s; None when the node is not reachable."""
    seen, frontier = {"gnb": 0.0}, ["gnb"]
    while frontier:  # breadth first: fewest hops, as the routes are
        nxt = []
        for a in frontier:
            for link in cfg.backhaul.links:
                for x, y in ((link.a, link.b), (link.b, link.a)):
                    if x == a and y not in seen:
                        seen[y] = seen[a] + link.delay_s
                        nxt.append(y)
        frontier = nxt
    return seen.get(node)


def access_delays(run_dir: Path, cfg: config_mod.ScenarioConfig) -> dict[str, float]:
    """The NR run's radio latency as the trace hop's delays, from its messages: the median
    of (first byte's arrival - send - backhaul propagation) over the downlink messages (the
    gNB schedules a UE's data in its next DL slots) is the hop's one-way delay
    (``radio.trace.delay_s``); the uplink's median beyond it is the wait of a burst's first
    packet for the scheduling request and grant (``radio.trace.ul_access_delay_s``). Empty
    when the run has no messages between a UE and a backhaul node."""
    import pyarrow.parquet as pq

    path = run_dir / "traces" / "messages.parquet"
    if not path.is_file():
        return {}
    cols = ["src", "dst", "t_send_s", "t_first_byte_s"]
    rows = pq.ParquetFile(path).read(columns=cols).to_pylist()  # see capacity_trace
    ues = {f"ue{i}" for i in range(cfg.nodes.n_devices)}
    lat: dict[str, list[float]] = {"dl": [], "ul": []}
    for r in rows:
        up = r["src"] in ues
        peer = r["dst"] if up else r["src"]
        first = r["t_first_byte_s"]
        if up == (r["dst"] in ues) or first is None or not first >= 0:
            continue  # UE to UE, backhaul only, or never delivered (-1, NaN)
        hops = path_delay_s(cfg, peer)
        if hops is not None:
            lat["ul" if up else "dl"].append(first - r["t_send_s"] - hops)
    if not lat["dl"] or not lat["ul"]:
        return {}
    dl = max(float(np.median(lat["dl"])), 0.0)
    return {"delay_s": dl, "ul_access_delay_s": max(float(np.median(lat["ul"])) - dl, 0.0)}


REPLAY_MTU_BYTES = 65535
"""A replay's point-to-point MTU (TCP segments of 65483 bytes): a message crosses as a few
large packets instead of one per 1448 bytes, about 40x fewer ns-3 events. The trace hops
serialise each packet over the rate integral, so the bytes' timing holds; what coarsens is
TCP's slow start and queueing at packet granularity (on quickstart the per-round latency
error against the NR run was the same as with 1500-byte packets). ``--set
transport.link_mtu_bytes=1500 --set transport.tcp_segment_bytes=1448`` restores them."""

TIMING_MODES = {"recorded": "recorded", "meta": "cost"}
"""``--timing`` values -> ``compute.execution``: ``recorded`` (torch-free: each job charged the
counts the run recorded for its job and input shapes, :mod:`edgelam_ns3.replay_timing`) and
``meta`` (the jobs run on torch's meta device, counted as in a real run,
:mod:`edgelam_ns3.torch_device`)."""


def replay_config(run_dir: str | Path, overrides: list[str] | tuple[str, ...] = (),
                  timing: str | bool | None = None,
                  same_schedule: bool = False) -> config_mod.ScenarioConfig:
    """The recorded run's config with its radio replaced by its capacity trace, then the
    ``overrides`` (``--set`` strings; e.g. another train.policy or train.framework).

    :param timing: a timing-only replay, losses not computed (NaN), with the same compute
        charges and so the same timing as a full replay: ``"recorded"`` (or True) or
        ``"meta"`` (:data:`TIMING_MODES`); default None: a full replay
    :param same_schedule: each round schedules the devices and shares the run did
        (``train.policy: recorded``), not what its policy decides over the replay's rates:
        the replay then differs from the run only where the network model does
    """
    run_dir = Path(run_dir)
    recorded = run_dir / "config.yaml"
    if not recorded.is_file():
        raise ValueError(f"replay: {run_dir}: no config.yaml (not a run directory)")
    cfg = config_mod.load(str(recorded))
    if cfg.radio.mode != "nr":
        raise ValueError(f"replay: {run_dir}: radio.mode is {cfg.radio.mode!r}; replay needs "
                         "an NR run (rerun a trace run with edgelam run and --set instead)")
    trace = capacity_trace(run_dir, cfg)
    ues = ", ".join(f"ue{i}" for i in range(cfg.nodes.n_devices))
    base = ["radio.mode=trace", f"radio.trace.sources=[{{path: '{trace}', ues: [{ues}]}}]",
            f"radio.trace.share={1.0 / cfg.nodes.n_devices!r}", "radio.trace.sharing=cell",
            f"transport.link_mtu_bytes={REPLAY_MTU_BYTES}",
            f"transport.tcp_segment_bytes={REPLAY_MTU_BYTES - 52}", f"name={cfg.name}-replay"]
    base += [f"radio.trace.{k}={v!r}" for k, v in access_delays(run_dir, cfg).items()]
    if same_schedule:
        base += ["train.policy=recorded", f"train.policy_record='{run_dir.resolve()}'"]
    if timing is True:
        timing = "recorded"
    if timing and timing not in TIMING_MODES:
        raise ValueError(f"replay: --timing {timing}: not one of {', '.join(TIMING_MODES)}")
    if timing:
        base.append(f"compute.execution={TIMING_MODES[timing]}")
    if timing == "recorded":
        from .replay_timing import recorded_costs

        recorded_costs(run_dir)  # a record of this version, before anything runs
        base.append(f"compute.record='{run_dir.resolve()}'")
    return config_mod.load(str(recorded), base + list(overrides))


def replay(run_dir: str | Path, overrides=(), out: str | Path | None = None,
           quiet: bool = False, force: bool = False, timing: str | bool | None = None,
           plots: bool = True, same_schedule: bool = False, warm: bool = False) -> dict:
    """Run :func:`replay_config` into ``out`` (see :func:`edgelam_ns3.runner.launch`, also for
    ``warm``)."""
    from . import runner

    cfg = replay_config(run_dir, overrides, timing, same_schedule)
    return runner.launch(cfg, out, quiet=quiet, force=force, plots=plots, warm=warm)


def latency_error(recorded_dir: str | Path, replay_dir: str | Path) -> dict:
    """Per-round latency of a replay against the run it replays (same rounds, by index): for
    the round latency (``latency``) and its network part (``network``: uplink + downlink), the
    relative errors (replay - recorded) / recorded with their median, mean |error|, 5th and
    95th percentiles."""
    import pandas as pd

    a = pd.read_parquet(Path(recorded_dir) / "traces" / "rounds.parquet")
    b = pd.read_parquet(Path(replay_dir) / "traces" / "rounds.parquet")
    n = min(len(a), len(b))
    out: dict = {"rounds": n}
    for name, cols in (("latency", ["latency_s"]), ("network", ["uplink_s", "downlink_s"])):
        ra = a[cols].sum(axis=1).to_numpy()[:n]
        rb = b[cols].sum(axis=1).to_numpy()[:n]
        err = (rb - ra) / ra
        out[name] = {"median": float(np.median(err)), "mean_abs": float(np.mean(abs(err))),
                     "p5": float(np.percentile(err, 5)), "p95": float(np.percentile(err, 95)),
                     "errors": err.tolist()}
    return out
