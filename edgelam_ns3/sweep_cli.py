"""The ``edgelam sweep`` commands (a thin layer over :mod:`edgelam_ns3.sweep`).

    edgelam sweep SPEC.yaml [--out DIR] [--retry-failed] [engine options]
    edgelam sweep SCENARIO --grid key=v1,v2 [--grid ...] [--set key=value ...] [...]
    edgelam sweep status DIR
    edgelam sweep plot DIR --x KEY --y FIGURE [--hue KEY] [--out FILE]
"""

from __future__ import annotations

import argparse
import sys
import time

TOOLS = ("status", "plot")
TABLE_MAX_ROWS = 40


def _fail(exc) -> int:
    print(f"edgelam: {exc}", file=sys.stderr)
    return 2


def add_parser(sub, set_help: str) -> None:
    """The ``sweep`` sub-command of ``edgelam``."""
    w = sub.add_parser(
        "sweep", help="run a sweep spec, or a scenario over a grid of values (see also: "
        "edgelam sweep status DIR, edgelam sweep plot DIR --x KEY --y FIGURE)",
        epilog="edgelam sweep status DIR: done / failed / pending points. edgelam sweep plot "
        "DIR --x KEY --y FIGURE [--hue KEY] [--out FILE]: a figure's mean over seeds with "
        "95%% confidence bars. Rerunning into the same --out skips the points that are done.")
    w.add_argument("target", metavar="SPEC_OR_SCENARIO",
                   help="a sweep spec (YAML with a 'scenario' key; see doc/sweeps.md), a "
                   "built-in scenario or a scenario YAML (then give --grid)")
    w.add_argument("--grid", action="append", metavar="KEY=V1,V2",
                   help="values to sweep (repeatable), read as YAML, e.g. --grid "
                   "train.policy=all,lyapunov --grid radio.gnb_array=[4,4],[8,8]; with a spec: "
                   "added to its grid")
    w.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help=set_help + "; with a spec: after its own")
    w.add_argument("--out", help="sweep directory (default: the spec's out, else "
                   "runs/sweep-<spec name>, or runs/sweep-<scenario>-<time> for --grid); new, "
                   "empty, or holding this sweep (resumed)")
    w.add_argument("--force", action="store_true",
                   help="empty --out first if it holds a previous sweep or run")
    w.add_argument("--retry-failed", action="store_true",
                   help="rerun the points that failed or timed out (done points never rerun)")
    w.add_argument("--workers", type=int, help="local pool: points at once (each one "
                   "process, sim.torch_threads torch threads: 1 by default); default 1")
    w.add_argument("--dask", metavar="ADDRESS",
                   help="run on a Dask cluster (scheduler address, or 'local')")
    w.add_argument("--jobqueue", choices=["slurm", "pbs"],
                   help="submit the points as batch jobs through dask-jobqueue")
    w.add_argument("--jobqueue-opt", action="append", metavar="KEY=VALUE",
                   help="a SLURMCluster/PBSCluster argument (repeatable; a number, [list] or {mapping} as "
                   "YAML, anything else as text), "
                   "e.g. queue=normal, account=me, memory=8GB, walltime=02:00:00")
    w.add_argument("--jobs", type=int, help="jobqueue: batch jobs to request (default --workers)")
    w.add_argument("--point-timeout", type=float, metavar="S",
                   help="stop a point after S wall seconds and record it as status timeout")
    w.add_argument("--no-plots", dest="point_plots", action="store_const", const=False,
                   help="the points draw no figures (edgelam report RUN_DIR draws a point's)")
    w.add_argument("--cold-start", dest="warm_start", action="store_const", const=False,
                   help="start each point's simulation in a fresh interpreter (default: forked "
                   "from a server that imported torch and the frameworks once; same traces)")
    w.add_argument("--quiet", action="store_true", help="no table at the end")
    w.set_defaults(fn=cmd_sweep)


def _spec(args):
    """The sweep spec of the command line (a spec file, or the --grid shorthand)."""
    from . import config, runner, sweep
    from .sweep_design import check_keys

    grid = sweep.parse_grid(args.grid or [])
    if sweep.is_spec_file(args.target):
        spec = sweep.load_spec(args.target)
        for key, values in grid.items():
            if key in spec.grid:
                raise config.ConfigError(f"--grid {key}: already in the spec's design.grid")
            spec.grid[key] = values
        spec.overrides += args.set or []
        check_keys(spec, "--grid")
        default_out = spec.out or f"runs/sweep-{runner.safe_name(spec.name)}"
    else:
        if not grid:
            raise config.ConfigError(f"sweep {args.target}: give --grid KEY=V1,V2 (or a spec "
                                     "file with a 'scenario' key)")
        spec = sweep.Spec(args.target, list(args.set or []), grid=grid)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        name = runner.safe_name(args.target.rsplit("/", 1)[-1].removesuffix(".yaml"))
        default_out = f"runs/sweep-{name}-{stamp}"
    _engine_options(spec.engine, args)
    return spec, args.out or default_out


def _engine_options(engine, args) -> None:
    """The command's engine options over the spec's ``engine:`` block."""
    from . import config

    for name, value in (("workers", args.workers), ("dask", args.dask),
                        ("jobqueue", args.jobqueue), ("jobs", args.jobs),
                        ("point_timeout_s", args.point_timeout),
                        ("point_plots", args.point_plots), ("warm_start", args.warm_start)):
        if value is not None:
            setattr(engine, name, value)
    for item in args.jobqueue_opt or []:
        key, eq, text = item.partition("=")
        if not eq or not key:
            raise config.ConfigError(f"--jobqueue-opt {item!r}: expected key=value")
        engine.jobqueue_options[key.strip()] = _option_value(text)
    try:
        engine.check()
    except ValueError as exc:
        raise config.ConfigError(f"sweep engine: {exc}") from None


def _option_value(text: str):
    """A --jobqueue-opt value: a [list] or {mapping} read as YAML, an integer or a number as
    such, anything else as text (so walltime=02:00:00 stays a string)."""
    import yaml

    text = text.strip()
    if text[:1] in "[{":
        return yaml.safe_load(text)
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def cmd_sweep(args) -> int:
    import signal

    from . import config, runner, sweep

    try:
        spec, out = _spec(args)
        rows = sweep.run_spec(spec, out, force=args.force, retry_failed=args.retry_failed,
                              progress=True)
    except (config.ConfigError, runner.RunDirError) as exc:  # SpecError is a ConfigError
        return _fail(exc)
    except sweep.SweepInterrupted as exc:
        print(f"edgelam: sweep interrupted: {exc}; rerun the same command to go on",
              file=sys.stderr)
        return 128 + (exc.signum or signal.SIGINT)
    if not args.quiet and len(rows) <= TABLE_MAX_ROWS:
        print(sweep.table(rows, spec.keys()))
    print(f"edgelam: sweep results: {out}/sweep.parquet, aggregate over seeds: "
          f"{out}/aggregate.csv; status: edgelam sweep status {out}")
    return 0 if rows and all(r["status"] == "ok" for r in rows) else 1


def tool_parser() -> argparse.ArgumentParser:
    """``edgelam sweep status|plot``: reading a sweep directory."""
    p = argparse.ArgumentParser(prog="edgelam sweep", description="read a sweep directory")
    sub = p.add_subparsers(dest="tool", required=True)
    st = sub.add_parser("status", help="done / failed / pending points of a sweep directory")
    st.add_argument("dir")
    st.set_defaults(fn=cmd_status)
    pl = sub.add_parser("plot", help="a figure against a swept key: mean over seeds with 95%% "
                        "confidence bars, engineering units")
    pl.add_argument("dir")
    pl.add_argument("--x", required=True, metavar="KEY", help="a swept key (x axis)")
    pl.add_argument("--y", required=True, metavar="FIGURE",
                    help="a column of sweep.parquet, e.g. mean_round_s, loss_last")
    pl.add_argument("--hue", metavar="KEY", help="a swept key: one line per value")
    pl.add_argument("--out", metavar="FILE", help="image file (default DIR/<y>-vs-<x>.png)")
    pl.set_defaults(fn=cmd_plot)
    return p


def cmd_status(args) -> int:
    from . import sweep

    try:
        print(sweep.status_text(args.dir))
    except sweep.SweepDirError as exc:
        return _fail(exc)
    return 0


def cmd_plot(args) -> int:
    from . import sweep_results

    try:
        path = sweep_results.plot(args.dir, args.x, args.y, args.hue, args.out)
    except sweep_results.SweepDirError as exc:
        return _fail(exc)
    print(f"edgelam: plot: {path}")
    return 0
