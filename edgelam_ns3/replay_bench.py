"""``edgelam bench replay``: what a timing replay (``edgelam replay RUN --timing``) costs
against the NR run it replays, and how close its per-round latencies come. Wall-clock figures
of this machine: they belong in reports, never in tests.

The scenario (default ``quickstart``, with ``--set`` overrides; it must be an NR run of a
framework with a torch-free timing path) runs once with its training steps and once with one
step; the full-length run is replayed with ``--timing`` (drawing figures as ``edgelam run``
does), once more with ``--no-plots``, and cut to one round (``--set train.steps=1``). Each is the ``edgelam`` command a user types, in
its own process (interpreter start and imports included). Reported, per command: wall time and
CPU time (the command and its simulation child, user + system). From them:

- ``speedup_wall`` / ``speedup_cpu``: NR run / its replay, end to end (figures drawn by both),
  and ``speedup_wall_no_plots`` (the replay without figures, as for many what-ifs);
- ``fixed_wall_s`` and ``per_round_wall_s`` of the NR run and the replay, from the one-step and
  full-length runs, and ``rounds_for_20x``: the run length from which the replay is at least
  20x faster end to end on this line (None if never);
- ``latency_error``: the replay's per-round latency error against the NR run
  (:func:`edgelam_ns3.replay.latency_error`, without the per-round list).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _cpu_s() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), \
        resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(args: list[str], out: Path) -> dict:
    """Run ``edgelam ARGS --out OUT --quiet`` in its own process; time it."""
    cmd = [sys.executable, "-m", "edgelam_ns3.cli", *args, "--out", str(out), "--quiet"]
    c0, t0 = _cpu_s(), time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, _cpu_s() - c0
    path = out / "summary.json"
    summary = json.loads(path.read_text()) if path.is_file() else {}
    if done.returncode != 0 or summary.get("status") != "ok":
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ValueError(f"bench replay: edgelam {' '.join(args)} ended "
                         f"{summary.get('status', done.returncode)}: {tail}")
    return {"wall_s": wall, "cpu_s": cpu, "rounds": summary.get("rounds"),
            "sim_time_s": summary.get("sim_time_s")}


def _line(one: dict, full: dict) -> tuple[float, float]:
    """(fixed, per round) wall seconds through the one-step and the full-length runs."""
    per = (full["wall_s"] - one["wall_s"]) / max(full["rounds"] - one["rounds"], 1)
    return one["wall_s"] - per * one["rounds"], per


def bench_replay(scenario: str = "quickstart", overrides: list[str] | tuple = ()) -> dict:
    """Run the benchmark (see the module's docstring)."""
    from . import config
    from .replay import latency_error

    cfg = config.load(scenario, list(overrides))  # a bad scenario fails here, in one line
    if cfg.radio.mode != "nr":
        raise ValueError(f"bench replay: {scenario} has radio.mode {cfg.radio.mode}; replay "
                         "replays an NR run")
    sets = [a for o in overrides for a in ("--set", o)]
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="edgelam-bench-replay-") as tmp:
        d = Path(tmp)
        nr = _timed(["run", scenario, *sets], d / "nr")
        nr1 = _timed(["run", scenario, *sets, "--set", "train.steps=1"], d / "nr1")
        rp = _timed(["replay", str(d / "nr"), "--timing"], d / "rp")
        # the full run's replay cut to one round (the one-step NR run may not have scheduled
        # every device, and replay needs each device's recorded rate)
        rp1 = _timed(["replay", str(d / "nr"), "--timing", "--set", "train.steps=1"], d / "rp1")
        bare = _timed(["replay", str(d / "nr"), "--timing", "--no-plots"], d / "bare")
        err = latency_error(d / "nr", d / "rp")
    for e in ("latency", "network"):
        err[e].pop("errors")
    (nr_fixed, nr_per), (rp_fixed, rp_per) = _line(nr1, nr), _line(rp1, rp)
    den = nr_per - 20 * rp_per
    need = (20 * rp_fixed - nr_fixed) / den if den > 0 else None
    return {"scenario": scenario, "overrides": list(overrides), "cpus": os.cpu_count(),
            "nr": nr, "replay": rp, "replay_no_plots": bare, "nr_one_step": nr1,
            "replay_one_step": rp1,
            "speedup_wall": nr["wall_s"] / rp["wall_s"], "speedup_cpu": nr["cpu_s"] / rp["cpu_s"],
            "speedup_wall_no_plots": nr["wall_s"] / bare["wall_s"],
            "nr_fixed_wall_s": nr_fixed, "nr_per_round_wall_s": nr_per,
            "replay_fixed_wall_s": rp_fixed, "replay_per_round_wall_s": rp_per,
            "rounds_for_20x": None if need is None else max(int(need) + 1, 1),
            "latency_error": err, "load_avg_1min": [load_before, os.getloadavg()[0]]}


def format_replay_table(r: dict) -> str:
    """Human-readable replay figures."""
    over = f" ({' '.join(r['overrides'])})" if r["overrides"] else ""
    lines = [f"{r['scenario']}{over}, {r['cpus']} CPUs: wall / CPU seconds"]
    for key, name in (("nr", "NR run"), ("replay", "timing replay"),
                      ("replay_no_plots", "timing replay, --no-plots"),
                      ("nr_one_step", "NR run, 1 step"), ("replay_one_step", "replay, 1 step")):
        x = r[key]
        lines.append(f"  {name:28s} {x['wall_s']:7.2f} / {x['cpu_s']:7.2f}  "
                     f"({x['rounds']} rounds, {x['sim_time_s']:.2f} s simulated)")
    need = r["rounds_for_20x"]
    lines += [f"  speed-up: {r['speedup_wall']:.1f}x wall, {r['speedup_cpu']:.1f}x CPU; "
              f"{r['speedup_wall_no_plots']:.1f}x wall without the replay's figures "
              "(goal: >= 20x)",
              f"  per round: NR {r['nr_per_round_wall_s']:.3f} s, replay "
              f"{r['replay_per_round_wall_s']:.4f} s; fixed: NR {r['nr_fixed_wall_s']:.1f} s, "
              f"replay {r['replay_fixed_wall_s']:.1f} s",
              "  20x end to end from " + (f"{need} rounds" if need else "no run length")]
    for e in ("latency", "network"):
        x = r["latency_error"][e]
        lines.append(f"  {e} error vs NR (replay - NR) / NR: median {x['median']:+.1%}, "
                     f"mean |e| {x['mean_abs']:.1%}, p5 {x['p5']:+.1%}, p95 {x['p95']:+.1%}")
    lines.append(f"  load average (1 min) before / after: {r['load_avg_1min'][0]:.2f} / "
                 f"{r['load_avg_1min'][1]:.2f}")
    return "\n".join(lines)
