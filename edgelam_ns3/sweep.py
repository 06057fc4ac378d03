"""Batch parameter sweeps: the cross product of ``--grid key=v1,v2,...`` over a scenario.

Each point is a normal run (its own child process and run directory, see
:mod:`edgelam_ns3.runner`) under ``OUT/runs/<index>-<values>``. Points run on a local pool of
``workers`` at a time by default, or on a Dask cluster (``dask_address``: a scheduler address,
or ``"local"`` for a local cluster) when one machine is not enough. The sweep writes
``OUT/sweep.parquet`` (one row per point: the swept values and the summary's figures) and
``OUT/loss_vs_time.png`` (loss against simulated time, one curve per point).
"""

from __future__ import annotations

import itertools
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import yaml

from . import config as config_mod

FIGURES = ("status", "steps", "sim_time_s", "wall_time_s", "loss_first", "loss_last",
           "eval_loss_first", "eval_loss_last", "time_to_target_s", "bytes_up", "bytes_down",
           "mean_round_s")


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["train.policy=all,random", "radio.ideal.bandwidth_hz=1e7,4e7"]`` -> a dict of value
    lists (values parsed as YAML)."""
    grid: dict[str, list] = {}
    for item in items:
        if "=" not in item:
            raise config_mod.ConfigError(f"--grid {item!r}: expected key=v1,v2,...")
        key, values = item.split("=", 1)
        # YAML values; "1e9" (a string to YAML 1.1) as a number, as in config files
        grid[key.strip()] = [config_mod.numbers_from_yaml(yaml.safe_load(v))
                             for v in values.split(",") if v.strip()]
        if not grid[key.strip()]:
            raise config_mod.ConfigError(f"--grid {item!r}: no values")
    return grid


def points(scenario: str, grid: dict[str, list], overrides: list[str]):
    """Validated configs of every grid point (all validated before any run starts)."""
    keys = list(grid)
    out = []
    for values in itertools.product(*(grid[k] for k in keys)):
        sets = [f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in zip(keys, values)]
        cfg = config_mod.load(scenario, list(overrides) + sets)
        out.append((dict(zip(keys, values)), cfg))
    return out


def _slug(values: dict) -> str:
    text = "-".join(f"{k.split('.')[-1]}={v}" for k, v in values.items())
    return re.sub(r"[^A-Za-z0-9_.=+-]", "_", text)[:120]


def _launch(cfg_yaml: str, out_dir: str) -> dict:
    # module-level so that Dask can ship it to a worker
    from . import runner

    cfg = config_mod.from_dict(yaml.safe_load(cfg_yaml))
    return runner.launch(cfg, out_dir, quiet=True)


def run_sweep(scenario: str, grid: dict[str, list], out: str | Path, overrides=(),
              workers: int = 1, dask_address: str | None = None, echo=print) -> list[dict]:
    """Run every grid point; returns one row per point."""
    import pandas as pd

    out = Path(out)
    todo = points(scenario, grid, list(overrides))
    (out / "runs").mkdir(parents=True, exist_ok=True)
    jobs = []
    for i, (values, cfg) in enumerate(todo):
        jobs.append((i, values, config_mod.to_yaml(cfg), str(out / "runs" / f"{i:03d}-{_slug(values)}")))
    echo(f"sweep: {len(jobs)} runs of {scenario} -> {out}")
    rows: list[dict] = []
    t0 = time.perf_counter()

    def record(i, values, run_dir, summary):
        row = {"index": i, **values, "run_dir": run_dir}
        row.update({k: summary.get(k) for k in FIGURES})
        for k, v in (summary.get("round_breakdown_mean_s") or {}).items():
            row[f"mean_{k}"] = v
        rows.append(row)
        echo(f"sweep: [{len(rows)}/{len(jobs)}] {values}: {summary.get('status')}, loss "
             f"{summary.get('loss_last')}, time to target {summary.get('time_to_target_s')} "
             f"(wall {time.perf_counter() - t0:.0f} s)")

    if dask_address:
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=workers, threads_per_worker=1) if dask_address == "local" else None
        client = Client(cluster or dask_address)
        try:
            futs = {client.submit(_launch, y, d, pure=False): (i, v, d) for i, v, y, d in jobs}
            from dask.distributed import as_completed as dask_completed

            for fut in dask_completed(futs):
                i, v, d = futs[fut]
                record(i, v, d, fut.result())
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    else:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futs = {pool.submit(_launch, y, d): (i, v, d) for i, v, y, d in jobs}
            for fut in as_completed(futs):
                i, v, d = futs[fut]
                record(i, v, d, fut.result())
    rows.sort(key=lambda r: r["index"])
    pd.DataFrame(rows).to_parquet(out / "sweep.parquet")
    plot_sweep(out, rows, list(grid))
    return rows


def plot_sweep(out: Path, rows: list[dict], keys: list[str]) -> Path | None:
    """Loss (held-out where the framework measures it) against simulated time, one curve per
    point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, ax = plt.subplots(figsize=(7, 4.5))
    drawn = 0
    for row in rows:
        path = Path(row["run_dir"]) / "traces" / "metrics.parquet"
        if not path.exists():
            continue
        m = pd.read_parquet(path)
        col = "eval_loss" if "eval_loss" in m else "loss"
        ax.plot(m["t_s"], m[col], label=", ".join(f"{k.split('.')[-1]}={row[k]}" for k in keys))
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("simulated time [s]")
    ax.set_ylabel("held-out loss [nat/token]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    dest = out / "loss_vs_time.png"
    fig.savefig(dest, dpi=120)
    plt.close(fig)
    return dest


def table(rows: list[dict], keys: list[str]) -> str:
    """A Markdown table of the sweep's headline figures."""
    cols = keys + ["time_to_target_s", "loss_last", "eval_loss_last", "mean_latency_s",
                   "bytes_up", "bytes_down"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c)
            cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
