"""Batch parameter sweeps: a spec's points (:mod:`edgelam_ns3.sweep_design`: grid, zip, random
samples, seeds), each a normal run (its own child process and run directory, see
:mod:`edgelam_ns3.runner`) under ``OUT/runs/<values>-<id>``, on a local pool, a Dask cluster or a
batch scheduler (:mod:`edgelam_ns3.sweep_engines`).

Every point is validated before any runs. A point is identified by the hash of its resolved
config: rerunning a sweep into the same directory skips the points that are done, reruns the
failed ones only with ``retry_failed`` and never writes a point twice; a spec whose points
include all of the directory's earlier ones may extend it (more seeds, more values).
``OUT/sweep.parquet`` grows point by point (:mod:`edgelam_ns3.sweep_results`), with
``OUT/aggregate.parquet``/``.csv`` (mean and 95 % confidence interval over seeds) and
``OUT/loss_vs_time.png`` written at the end; ``OUT/sweep.log`` has one line per finished point.
Ctrl-C (or SIGTERM) stops the sweep: no new point starts, the running ones are interrupted (as
``edgelam run`` is) and the points that ran are kept (:class:`SweepInterrupted`).
"""

from __future__ import annotations

import shutil
import signal
import sys
import time
from pathlib import Path

import yaml

from . import config as config_mod
from . import runner
from .sweep_design import Point, Spec, SpecError, expand, is_spec_file, load_spec  # noqa: F401
from .sweep_engines import EngineSpec, run_jobs, signals_interrupt
from .sweep_results import (SweepDirError, encode, plot_sweep, read_plan, read_rows,  # noqa: F401
                            row_of, state, status_counts, sweep_figure, table, write_aggregate,
                            write_plan, write_rows)


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
    """``(values, config)`` of every grid point (all validated before any run starts)."""
    return [(p.values, p.config) for p in expand(Spec(scenario, list(overrides), grid=grid))[0]]


def run_sweep(scenario: str, grid: dict[str, list], out: str | Path, overrides=(),
              workers: int = 1, dask_address: str | None = None, echo=print,
              force: bool = False, **kw) -> list[dict]:
    """The ``--grid`` shorthand of :func:`run_spec`: the cross product of ``grid`` over
    ``scenario`` with ``overrides``."""
    spec = Spec(scenario, list(overrides), grid=grid,
                engine=EngineSpec(workers=workers, dask=dask_address))
    return run_spec(spec, out, echo=echo, force=force, **kw)


def run_spec(spec: Spec, out: str | Path, echo=print, force: bool = False,
             retry_failed: bool = False, progress: bool = False) -> list[dict]:
    """Run the points of ``spec`` that are not done into ``out``; returns the rows of all its
    points (those that ran before included), by index. ``out`` must be new, empty, or hold
    this sweep (or one whose points are all in this one); ``force`` empties it first. Raises
    :class:`SweepInterrupted` on SIGINT or SIGTERM, after writing the points that ran."""
    spec.engine.check()
    plan, merged = expand(spec)  # every point validated before anything runs
    out = open_dir(out, plan, force).resolve()  # absolute: Dask workers run elsewhere
    keys = spec.keys()
    write_plan(out, spec.scenario, keys, plan)
    rows = read_rows(out)
    for p in plan:  # an extended spec may renumber the points that ran before
        if p.id in rows:
            rows[p.id].update(index=p.index, **{k: encode(v) for k, v in p.values.items()})
    todo = [p for p in plan if _to_run(rows.get(p.id), retry_failed)]
    echo(_header(spec, out, plan, rows, todo, merged, retry_failed))
    if todo and spec.engine.warm_start:
        echo("sweep: points start warm: the first waits while a server imports torch and the "
             "frameworks, once per worker process (--cold-start: a fresh interpreter per point)")
    ran: list[dict] = []
    jobs = [(p, p.config_json, str(out / "runs" / p.run_name)) for p in todo]
    log = _Log(out, len(jobs), echo, progress)

    def record(p: Point, summary: dict) -> None:
        row = row_of(p, summary, str(out / "runs" / p.run_name))
        rows[p.id] = row
        ran.append(row)
        write_rows(out, list(rows.values()))
        log.point(p, row)

    stopped = None
    try:
        with signals_interrupt() as caught:
            try:
                run_jobs(jobs, spec.engine, record)
            except KeyboardInterrupt:
                stopped = caught.get("signum", signal.SIGINT)
    finally:
        runner.clear_interrupt()
        log.close()
    if rows:
        write_rows(out, list(rows.values()))
        write_aggregate(out, keys)
    mine = sorted((rows[p.id] for p in plan if p.id in rows), key=lambda r: r["index"])
    plot_sweep(out, mine, keys)
    if stopped is not None:
        raise SweepInterrupted(sorted(ran, key=lambda r: r["index"]), len(jobs), stopped)
    return mine


def _to_run(row: dict | None, retry_failed: bool) -> bool:
    st = state(row and row["status"])
    return st == "pending" or (st == "failed" and retry_failed)


def _header(spec, out, plan, rows, todo, merged, retry_failed) -> str:
    states = [state(rows[p.id]["status"]) if p.id in rows else "pending" for p in plan]
    failed = f"{states.count('failed')} failed"
    if states.count("failed"):
        failed += " (rerun)" if retry_failed else " (skipped; --retry-failed reruns them)"
    text = (f"sweep: {len(plan)} points of {spec.scenario} on {spec.engine.describe()} -> "
            f"{out}: {states.count('done')} done, {failed}, {len(todo)} to run")
    if merged:
        text += f" ({merged} design points had the same config as another: run once)"
    return text


def open_dir(out: str | Path, plan: list[Point], force: bool) -> Path:
    """The sweep directory, ready: created, or emptied (``force``), or resumed (it holds a
    sweep whose points are all in ``plan``). Raises :class:`runner.RunDirError`."""
    out = Path(out)
    if (out / "plan.json").is_file():
        if force:
            for p in out.iterdir():
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        else:
            try:
                before = {p["id"] for p in read_plan(out)["points"]}
            except SweepDirError as exc:
                raise runner.RunDirError(f"--out {out}: {exc}; give --force to replace it") \
                    from None
            stray = before - {p.id for p in plan}
            if stray:
                raise runner.RunDirError(
                    f"--out {out}: holds another sweep ({len(stray)} of its {len(before)} "
                    "points are not in this one); give another --out, or --force to replace it")
    else:
        runner.prepare_run_dir(out, force)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    return out


class _Log:
    """One line per finished point: echoed (above the progress bar when there is one) and
    appended to ``OUT/sweep.log``."""

    def __init__(self, out: Path, total: int, echo, progress: bool):
        from tqdm import tqdm

        self.total, self.echo, self.done, self.t0 = total, echo, 0, time.monotonic()
        self.file = (out / "sweep.log").open("a")
        self.bar = tqdm(total=total, unit="point", desc="sweep", file=sys.stderr,
                        dynamic_ncols=True, disable=None if progress and total else True)

    def point(self, p: Point, row: dict) -> None:
        self.done += 1
        elapsed = time.monotonic() - self.t0
        eta = elapsed / self.done * (self.total - self.done)
        line = (f"sweep: [{self.done}/{self.total}] {_values(p)}: {row['status']}"
                f"{' (' + str(row.get('error')) + ')' if row['status'] != 'ok' else ''}, loss "
                f"{_fmt(row.get('loss_last'))}, time to target {_fmt(row.get('time_to_target_s'))}"
                f" (wall {elapsed:.0f} s, ETA {eta:.0f} s) {p.id}")
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self.file.write(f"{stamp} {line}\n")
        self.file.flush()
        if self.bar.disable:
            self.echo(line)
        else:
            self.bar.write(line)
            self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
        self.file.close()


def _values(p: Point) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in p.values.items()) + "}"


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def status_text(out: str | Path) -> str:
    """``edgelam sweep status``: counts of done / failed / pending points, then the failed
    ones with their error."""
    states = status_counts(out)
    n = sum(map(len, states.values()))
    lines = [f"{out}: {n} points: {len(states['done'])} done, {len(states['failed'])} failed, "
             f"{len(states['pending'])} pending"]
    for p, row in states["failed"]:
        lines.append(f"  failed {p['id']} {p['values']}: {row['status']}: {row.get('error')}")
    interrupted = sum(1 for _, row in states["pending"] if row is not None)
    if interrupted:
        lines.append(f"  ({interrupted} of the pending points were interrupted; a rerun runs "
                     "them again)")
    return "\n".join(lines)
