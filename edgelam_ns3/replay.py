"""``edgelam replay RUN_DIR``: rerun a recorded run's framework (or, with ``--set``, another
policy or framework) over the radio that run recorded, served as a trace (``radio.mode:
trace``), for counterfactual what-if analysis at a fraction of the cost of the NR run.

The recorded radio is each device's rate with the whole carrier per link-state period
(``dl_full_rate_bps`` / ``ul_full_rate_bps`` of ``traces/link_states.parquet``, see
:class:`~edgelam_ns3.radio.trace.FullCarrierRate`); a policy's share s serves a device at s x
that rate, as it gets s of the RBGs in NR mode.

Assumption: the channel does not react to the new decisions. The replay keeps the recorded
SINR, MCS and BLER whatever the new run sends, so what changes with the decisions (link
adaptation to a new load, HARQ, interference from other cells' new schedules, the MAC giving
idle RBGs to other UEs, radio-only UEs' load) is not modelled. It is a model of the NR run,
not an identity: compare per-round latencies with :func:`latency_error`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import config as config_mod

TRACE_FILE = "capacity_trace.csv"
"""Where a run's per-device capacity series is written (in its ``traces/``; derived, reused)."""


def capacity_trace(run_dir: Path, cfg: config_mod.ScenarioConfig) -> Path:
    """Write the run's per-device full-carrier rates as an edgelam trace CSV (t_s, ue, dl_bps,
    ul_bps): a link-state sample at t covers the period before t, so it holds from
    t - period. Periods without a transmission keep the previous value (the first known one
    before it). Raises ValueError (one line) for a run without them."""
    import pandas as pd

    path = run_dir / "traces" / "link_states.parquet"
    if not path.is_file():
        raise ValueError(f"replay: {run_dir}: no traces/link_states.parquet (not a run dir, or "
                         "trace.link_states off)")
    ls = pd.read_parquet(path)
    cols = ("dl_full_rate_bps", "ul_full_rate_bps")
    if "kind" not in ls or any(c not in ls for c in cols):
        raise ValueError(f"replay: {path}: no columns {', '.join(cols)} (an NR run recorded "
                         "by this version is needed)")
    period = cfg.trace.link_state_period_s
    frames = []
    for i in range(cfg.nodes.n_devices):
        ue = ls[(ls["kind"] == "ue") & (ls["dst"] == f"ue{i}")].sort_values("t_s")
        rates = ue[list(cols)].ffill().bfill()
        if ue.empty or rates.isna().any().any():
            raise ValueError(f"replay: {path}: ue{i} has no full-carrier rate (never scheduled)")
        frames.append(pd.DataFrame({"t_s": np.maximum(ue["t_s"].to_numpy() - period, 0.0),
                                    "ue": f"ue{i}", "dl_bps": rates[cols[0]].to_numpy(),
                                    "ul_bps": rates[cols[1]].to_numpy()}))
    table = pd.concat(frames).drop_duplicates(["t_s", "ue"], keep="last")
    out = run_dir / "traces" / TRACE_FILE
    table.sort_values(["t_s", "ue"], kind="stable").to_csv(out, index=False)
    return out


TIMING_MODES = {"recorded": "recorded", "meta": "cost"}
"""``--timing`` values -> ``compute.execution``: ``recorded`` (torch-free: each job charged the
counts the run recorded for its job and input shapes, :mod:`edgelam_ns3.replay_timing`) and
``meta`` (the jobs run on torch's meta device, counted as in a real run,
:mod:`edgelam_ns3.torch_device`)."""


def replay_config(run_dir: str | Path, overrides: list[str] | tuple[str, ...] = (),
                  timing: str | bool | None = None) -> config_mod.ScenarioConfig:
    """The recorded run's config with its radio replaced by its capacity trace, then the
    ``overrides`` (``--set`` strings; e.g. another train.policy or train.framework).

    :param timing: a timing-only replay, losses not computed (NaN), with the same compute
        charges and so the same timing as a full replay: ``"recorded"`` (or True) or
        ``"meta"`` (:data:`TIMING_MODES`); default None: a full replay
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
            f"name={cfg.name}-replay"]
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
           quiet: bool = False, force: bool = False, timing: str | bool | None = None) -> dict:
    """Run :func:`replay_config` into ``out`` (see :func:`edgelam_ns3.runner.launch`)."""
    from . import runner

    cfg = replay_config(run_dir, overrides, timing)
    return runner.launch(cfg, out, quiet=quiet, force=force)


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
