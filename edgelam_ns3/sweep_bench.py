"""``edgelam bench sweep``: how the local sweep pool scales from 1 to 2 workers, and what the
engine costs per point. Wall-clock figures of this machine: they belong in reports, never in
tests.

The same ``n_points`` points (a small training run: :data:`BENCH_SET` over ``quickstart``, one
seed each) run with 1 and then 2 workers into temporary directories. Reported:

- ``speedup``: wall time with 1 worker / with 2 (the goal on 2 idle cores: >= 1.8);
- ``cold_one_worker`` and ``warm_gain``: the points again with 1 worker, each started in a fresh
  interpreter (``--cold-start``), and that wall time / the warm one. Points start warm by
  default (:mod:`edgelam_ns3.warm`); the warm server is started before the timing, once
  (``warm_server_start_s``), as a sweep starts it once;
- ``engine_overhead_s_per_point``: with 1 worker, the sweep's wall time not spent inside the
  points' ``runner.launch`` (expansion and validation, the table rewritten after each point, the
  aggregate and the loss plot), per point;
- ``launch_overhead_s_per_point``: per point, ``runner.launch``'s wall time outside the
  simulation child's own and outside the figures (process start, traces merged, report);
- ``plots_s_per_point``: a point's figures (``--no-plots`` skips them);
- ``load_avg_1min``: the load average before and after: other work on the machine lowers the
  speed-up.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

BENCH_SET = ["radio.mode=ideal", "model.n_layer=2", "model.n_embd=32", "model.n_head=2",
             "model.seq_len=16", "train.batch_size=2", "train.steps=8", "nodes.n_devices=2"]


def _timed(n_points: int, workers: int, warm: bool = True) -> dict:
    from .sweep import Spec, run_spec
    from .sweep_engines import EngineSpec

    spec = Spec("quickstart", list(BENCH_SET), seeds=list(range(1, n_points + 1)),
                engine=EngineSpec(workers=workers, warm_start=warm))
    with tempfile.TemporaryDirectory(prefix="edgelam-bench-sweep-") as tmp:
        t0 = time.perf_counter()
        rows = run_spec(spec, Path(tmp) / "sweep", echo=lambda line: None)
        wall = time.perf_counter() - t0
    if any(r["status"] != "ok" for r in rows):
        bad = next(r for r in rows if r["status"] != "ok")
        raise ValueError(f"bench sweep: a point ended {bad['status']}: {bad['error']}")
    plots = sum(r.get("plots_wall_time_s", 0.0) for r in rows)
    launch = sum(r["launcher_wall_time_s"] for r in rows) + plots
    return {"workers": workers, "warm_start": warm, "wall_s": wall,
            "points_per_min": 60 * n_points / wall, "launch_wall_s_mean": launch / n_points,
            "engine_overhead_s_per_point": (wall - launch) / n_points if workers == 1 else None,
            "launch_overhead_s_per_point": sum(r["launcher_wall_time_s"] - r["wall_time_s"]
                                               for r in rows) / n_points,
            "plots_s_per_point": plots / n_points}


def bench_sweep(n_points: int = 4) -> dict:
    """Run the benchmark (see the module's docstring); ``n_points`` >= 2."""
    if int(n_points) < 2:
        raise ValueError(f"bench sweep: the number of points (--points) must be >= 2, "
                         f"not {n_points}")
    from . import warm

    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    warm.server()
    server_start = time.perf_counter() - t0
    one, two = _timed(n_points, 1), _timed(n_points, 2)
    cold = _timed(n_points, 1, warm=False)
    return {"n_points": n_points, "cpus": os.cpu_count(), "one_worker": one, "two_workers": two,
            "cold_one_worker": cold, "warm_gain": cold["wall_s"] / one["wall_s"],
            "warm_server_start_s": server_start, "speedup": one["wall_s"] / two["wall_s"],
            "engine_overhead_s_per_point": one["engine_overhead_s_per_point"],
            "launch_overhead_s_per_point": one["launch_overhead_s_per_point"],
            "plots_s_per_point": one["plots_s_per_point"],
            "load_avg_1min": [load_before, os.getloadavg()[0]]}


def format_sweep_table(r: dict) -> str:
    """Human-readable sweep-pool figures."""
    lines = [f"{r['n_points']} points (quickstart, {' '.join(BENCH_SET)}), {r['cpus']} CPUs"]
    for key in ("one_worker", "two_workers", "cold_one_worker"):
        w = r[key]
        start = "warm" if w["warm_start"] else "cold"
        lines.append(f"  {w['workers']} worker{'s' * (w['workers'] > 1)}, {start}: "
                     f"{w['wall_s']:7.1f} s "
                     f"wall, {w['points_per_min']:5.2f} points/min, a point's launch "
                     f"{w['launch_wall_s_mean']:.1f} s")
    lines += [f"  speed-up of 2 workers: {r['speedup']:.2f}x (goal on 2 idle cores: >= 1.8x)",
              f"  warm starts: {r['warm_gain']:.2f}x faster than cold with 1 worker; the warm "
              f"server started once in {r['warm_server_start_s']:.1f} s",
              f"  engine overhead per point (1 worker): {r['engine_overhead_s_per_point']:.3f} s",
              f"  per point outside the simulation (process start, report; warm): "
              f"{r['launch_overhead_s_per_point']:.2f} s, and its figures "
              f"{r['plots_s_per_point']:.2f} s (--no-plots skips them)",
              f"  load average (1 min) before / after: {r['load_avg_1min'][0]:.2f} / "
              f"{r['load_avg_1min'][1]:.2f} (other work on the machine lowers the speed-up)"]
    return "\n".join(lines)
