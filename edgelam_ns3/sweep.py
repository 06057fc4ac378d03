"""Batch parameter sweeps: the cross product of ``--grid key=v1,v2,...`` over a scenario.

Each point is a normal run (its own child process and run directory, see
:mod:`edgelam_ns3.runner`) under ``OUT/runs/<index>-<values>``. Points run on a local pool of
``workers`` at a time by default, or on a Dask cluster (``dask_address``: a scheduler address,
or ``"local"`` for a local cluster) when one machine is not enough. The sweep writes
``OUT/sweep.parquet`` (one row per point: the swept values and the summary's figures) and
``OUT/loss_vs_time.png`` (loss against simulated time, one curve per point). Ctrl-C (or
SIGTERM) stops the sweep: no new point starts, the running ones are interrupted (as
``edgelam run`` is), and the points that ran are kept in ``sweep.parquet``
(:class:`SweepInterrupted`).
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

import yaml

from . import config as config_mod
from . import runner

FIGURES = ("status", "steps", "sim_time_s", "wall_time_s", "loss_first", "loss_last",
           "eval_loss_first", "eval_loss_last", "time_to_target_s", "bytes_up", "bytes_down",
           "mean_round_s")


class SweepInterrupted(Exception):
    """A signal stopped the sweep; ``rows`` are the points that ran (also in sweep.parquet)."""

    def __init__(self, rows: list[dict], total: int, signum: int):
        cut = sum(r["status"] == "interrupted" for r in rows)
        super().__init__(f"{len(rows)} of {total} points ran ({cut} of them interrupted); "
                         "they are kept in sweep.parquet")
        self.rows, self.total, self.signum = rows, total, signum


def parse_grid(items: list[str]) -> dict[str, list]:
    """``["train.policy=all,random", "radio.gnb_array=[4,4],[8,8]"]`` -> a dict of value lists
    (each value read as YAML; commas inside brackets or braces belong to the value)."""
    grid: dict[str, list] = {}
    for item in items:
        if "=" not in item:
            raise config_mod.ConfigError(f"--grid {item!r}: expected key=v1,v2,...")
        key, values = item.split("=", 1)
        parsed = []
        for v in _split_top_level(values, item):
            try:
                # "1e9" (a string to YAML 1.1) as a number, as in config files
                parsed.append(config_mod.numbers_from_yaml(yaml.safe_load(v)))
            except yaml.YAMLError:
                raise config_mod.ConfigError(f"--grid {item!r}: {v!r} is not a YAML value") \
                    from None
        if not parsed:
            raise config_mod.ConfigError(f"--grid {item!r}: no values")
        grid[key.strip()] = parsed
    return grid


def _split_top_level(text: str, item: str) -> list[str]:
    """Split at the commas outside brackets and braces; empty pieces dropped."""
    pieces, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if depth < 0:
            break
        if ch == "," and depth == 0:
            pieces.append(cur)
            cur = ""
        else:
            cur += ch
    if depth != 0:
        raise config_mod.ConfigError(f"--grid {item!r}: unbalanced brackets")
    return [p.strip() for p in pieces + [cur] if p.strip()]


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
              workers: int = 1, dask_address: str | None = None, echo=print,
              force: bool = False) -> list[dict]:
    """Run every grid point; returns one row per point. ``out`` must be new or empty (or hold
    a previous sweep, with ``force``). Raises :class:`SweepInterrupted` on SIGINT or SIGTERM,
    after writing the points that ran."""
    todo = points(scenario, grid, list(overrides))  # all validated before anything runs
    out = runner.prepare_run_dir(out, force)
    (out / "runs").mkdir()
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

    stopped = None
    try:
        with _signals_interrupt() as caught:
            try:
                if dask_address:
                    _run_dask(jobs, workers, dask_address, record)
                else:
                    _run_local(jobs, workers, record)
            except KeyboardInterrupt:
                stopped = caught.get("signum", signal.SIGINT)
    finally:
        runner.clear_interrupt()
    _write(out, rows, list(grid))
    if stopped is not None:
        raise SweepInterrupted(rows, len(jobs), stopped)
    return rows


def _write(out: Path, rows: list[dict], keys: list[str]) -> None:
    import pandas as pd

    rows.sort(key=lambda r: r["index"])
    pd.DataFrame(rows).to_parquet(out / "sweep.parquet")
    plot_sweep(out, rows, keys)


@contextmanager
def _signals_interrupt():
    """In the main thread: SIGINT and SIGTERM raise KeyboardInterrupt (the signal noted in the
    dict yielded)."""
    caught: dict = {}
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    sigs = (signal.SIGINT, signal.SIGTERM)
    before = {s: signal.getsignal(s) for s in sigs}

    def handler(signum, frame):
        caught.setdefault("signum", signum)
        raise KeyboardInterrupt

    for s in sigs:
        signal.signal(s, handler)
    try:
        yield caught
    finally:
        for s in sigs:
            signal.signal(s, before[s])


def _run_local(jobs, workers: int, record) -> None:
    """The points on a local thread pool (each thread waits for its point's child process).
    On KeyboardInterrupt: no new point starts, the running ones are interrupted, waited for
    and recorded, then the KeyboardInterrupt goes on."""
    pool = ThreadPoolExecutor(max_workers=max(1, workers))
    futs = {pool.submit(_launch, y, d): (i, v, d) for i, v, y, d in jobs}
    done = set()
    try:
        for fut in as_completed(futs):
            done.add(fut)
            record(*futs[fut], fut.result())
    except KeyboardInterrupt:
        for fut in futs:
            fut.cancel()
        runner.interrupt_all(signal.SIGINT)
        for fut, meta in futs.items():
            if fut in done or fut.cancelled():
                continue
            while True:
                try:
                    record(*meta, fut.result())
                    break
                except KeyboardInterrupt:  # again: the running points are killed
                    runner.interrupt_all(signal.SIGKILL)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(jobs, workers: int, dask_address: str, record) -> None:
    """The points on a Dask cluster; on KeyboardInterrupt the points not finished are
    cancelled (those already running on a worker end with their worker)."""
    from dask.distributed import Client, LocalCluster
    from dask.distributed import as_completed as dask_completed

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1) if dask_address == "local" else None
    client = Client(cluster or dask_address)
    try:
        futs = {client.submit(_launch, y, d, pure=False): (i, v, d) for i, v, y, d in jobs}
        try:
            for fut in dask_completed(futs):
                record(*futs[fut], fut.result())
        except KeyboardInterrupt:
            client.cancel([f for f in futs if not f.done()])
            raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _label(row: dict, keys: list[str]) -> str:
    """A point's swept values with units: ``bandwidth 20 MHz, policy lyapunov``."""
    from .report import setting

    return ", ".join(setting(k, row[k]) for k in keys)


def plot_sweep(out: Path, rows: list[dict], keys: list[str]) -> Path | None:
    """Loss against simulated time, one curve per point: the held-out loss where the
    framework measured it, else the training loss (the axis says which)."""
    import matplotlib.pyplot as plt

    fig = sweep_figure(rows, keys)
    dest = out / "loss_vs_time.png"
    if fig is None:
        dest.unlink(missing_ok=True)
        return None
    fig.savefig(dest, dpi=120)
    plt.close(fig)
    return dest


def sweep_figure(rows: list[dict], keys: list[str]):
    """The figure of :func:`plot_sweep` (None when no point has a loss)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, ax = plt.subplots(figsize=(8, 4.5))
    drawn = set()
    for row in rows:
        path = Path(row["run_dir"]) / "traces" / "metrics.parquet"
        if not path.exists():
            continue
        m = pd.read_parquet(path)
        held_out = "eval_loss" in m and m["eval_loss"].notna().any()
        col = "eval_loss" if held_out else "loss"
        drawn.add("held-out loss" if held_out else "training loss")
        ax.plot(m["t_s"], m[col], marker=".", ls="-" if held_out else "--",
                label=_label(row, keys) + ("" if row.get("status") == "ok"
                                           else f" ({row.get('status')})"))
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("simulated time [s]")
    ax.set_ylabel(" / ".join(sorted(drawn)) + " [nat/token]")
    if len(drawn) > 1:
        ax.set_title("solid: held-out loss; dashed: training loss (no held-out evaluation)",
                     fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def table(rows: list[dict], keys: list[str]) -> str:
    """A Markdown table of the sweep's headline figures, with units."""
    from .report import eng

    cols = [(k, k, None) for k in keys] + [
        ("status", "status", None), ("time_to_target_s", "time to target", "s"),
        ("loss_last", "loss (last)", ""), ("eval_loss_last", "held-out loss (last)", ""),
        ("mean_round_s", "mean round", "s"), ("bytes_up", "bytes up", "B"),
        ("bytes_down", "bytes down", "B")]
    lines = ["| " + " | ".join(label for _, label, _ in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for key, _, unit in cols:
            v = r.get(key)
            if unit is None:
                cells.append(_label(r, [key]).split(" ", 1)[1] if key in keys else str(v))
            else:
                cells.append(eng(v, unit, 4) if v is not None else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
