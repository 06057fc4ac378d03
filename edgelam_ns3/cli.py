"""The ``edgelam`` command: a thin layer over the library.

    edgelam run SCENARIO [--out DIR] [--set key=value ...]
    edgelam scenarios
    edgelam config [SCENARIO]          # the resolved config, and every key with its help
    edgelam sweep SCENARIO --grid key=v1,v2 [--grid ...] [--out DIR] [--workers N] [--dask ADDR]
    edgelam report RUN_DIR             # redraw the plots and the report from a run's traces
    edgelam bench bridge [--json]
    edgelam bench radio [--json] [--duration-s S]
"""

from __future__ import annotations

import argparse
import json
import sys


def _cmd_run(args) -> int:
    from . import config, runner

    try:
        cfg = config.load(args.scenario, args.set or [])
        summary = runner.launch(cfg, args.out, quiet=args.quiet, force=args.force)
    except (config.ConfigError, runner.RunDirError) as exc:
        return _fail(exc)
    code = runner.exit_code(summary)
    if summary.get("status") != "ok":
        print(f"edgelam: run {summary.get('status')}: {summary.get('error')}\n"
              f"edgelam: partial results: {summary['run_dir']}/report.md", file=sys.stderr)
        return code
    line = f"simulated {summary.get('sim_time_s'):.3f} s in {summary['launcher_wall_time_s']:.1f} s wall"
    if summary.get("loss_first") is not None:
        line = (f"{summary.get('steps')} rounds, loss {summary['loss_first']:.3f} -> "
                f"{summary['loss_last']:.3f}, " + line)
    if "cell" in summary and "dl_goodput_bps" in summary["cell"]:
        c = summary["cell"]
        line = (f"cell goodput DL {c['dl_goodput_bps'] / 1e6:.1f} Mbit/s, UL "
                f"{c['ul_goodput_bps'] / 1e6:.1f} Mbit/s, {summary.get('slots_simulated')} slots, "
                + line)
    print(f"edgelam: {line}")
    print(f"edgelam: report: {summary['run_dir']}/report.md")
    return code


def _fail(exc: Exception, code: int = 2) -> int:
    """Print a one-line error; :return: ``code``."""
    print(f"edgelam: {exc}", file=sys.stderr)
    return code


def _cmd_scenarios(args) -> int:
    from . import config

    for name in config.builtin_scenarios():
        print(name)
    return 0


def _cmd_config(args) -> int:
    from . import config

    if args.scenario:
        try:
            cfg = config.load(args.scenario, args.set or [])
        except config.ConfigError as exc:
            print(f"edgelam: {exc}", file=sys.stderr)
            return 2
        print(config.to_yaml(cfg), end="")
        return 0
    for key, default, help_ in config.describe():
        print(f"{key:40s} {default:24s} {help_}")
    return 0


def _cmd_sweep(args) -> int:
    import time as _time

    from . import config, sweep

    try:
        grid = sweep.parse_grid(args.grid)
        out = args.out or f"runs/sweep-{args.scenario}-{_time.strftime('%Y%m%d-%H%M%S', _time.gmtime())}"
        rows = sweep.run_sweep(args.scenario, grid, out, args.set or [], args.workers, args.dask)
    except config.ConfigError as exc:
        print(f"edgelam: {exc}", file=sys.stderr)
        return 2
    print(sweep.table(rows, list(grid)))
    print(f"edgelam: sweep results: {out}/sweep.parquet, plot: {out}/loss_vs_time.png")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


def _cmd_report(args) -> int:
    import json as _json
    from pathlib import Path

    from . import report, traces

    run = Path(args.run_dir)
    if not (run / "summary.json").exists():
        print(f"edgelam: {run}: not a run directory (no summary.json)", file=sys.stderr)
        return 2
    summary = _json.loads((run / "summary.json").read_text())
    summary["plots"] = report.plots(run, traces.merge(run / "traces"))
    report.write_report(run, summary)
    print(f"edgelam: report: {run}/report.md")
    return 0


def _cmd_bench(args) -> int:
    from . import bench

    if args.what == "bridge":
        result = bench.bench_bridge(n_callbacks=args.n)
        table = bench.format_table
    elif args.what == "radio":
        result = bench.bench_radio(duration_s=args.duration_s)
        table = bench.format_radio_table
    else:  # pragma: no cover - argparse restricts choices
        raise AssertionError(args.what)
    if args.json:
        print(json.dumps(result))
    else:
        print(table(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edgelam", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a scenario into a run directory")
    r.add_argument("scenario", help="built-in scenario name (see `edgelam scenarios`) or YAML path")
    r.add_argument("--out", help="run directory (default runs/<name>-<time>)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.steps=10 (repeatable)")
    r.add_argument("--force", action="store_true",
                   help="replace the previous run in --out (its files are deleted)")
    r.add_argument("--quiet", action="store_true", help="no progress lines")
    r.set_defaults(fn=_cmd_run)
    s = sub.add_parser("scenarios", help="list the built-in scenarios")
    s.set_defaults(fn=_cmd_scenarios)
    c = sub.add_parser("config", help="print a resolved scenario config, or all keys with help")
    c.add_argument("scenario", nargs="?")
    c.add_argument("--set", action="append", metavar="KEY=VALUE")
    c.set_defaults(fn=_cmd_config)
    w = sub.add_parser("sweep", help="run a scenario over a grid of parameter values")
    w.add_argument("scenario")
    w.add_argument("--grid", action="append", required=True, metavar="KEY=V1,V2",
                   help="values to sweep, e.g. --grid train.policy=all,lyapunov (repeatable)")
    w.add_argument("--set", action="append", metavar="KEY=VALUE", help="fixed overrides")
    w.add_argument("--out", help="sweep directory (default runs/sweep-<scenario>-<time>)")
    w.add_argument("--workers", type=int, default=1,
                   help="runs at once (each is one process; 2 cores: 1 or 2)")
    w.add_argument("--dask", metavar="ADDRESS",
                   help="run on a Dask cluster (scheduler address, or 'local')")
    w.set_defaults(fn=_cmd_sweep)
    rp = sub.add_parser("report", help="redraw a run's plots and report from its traces")
    rp.add_argument("run_dir")
    rp.set_defaults(fn=_cmd_report)
    b = sub.add_parser("bench", help="benchmarks")
    b.add_argument("what", choices=["bridge", "radio"])
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--n", type=int, default=200_000, help="bridge: callbacks to time")
    b.add_argument("--duration-s", type=float, default=2.0,
                   help="radio: simulated seconds timed per case")
    b.set_defaults(fn=_cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except KeyboardInterrupt:  # Ctrl-C outside a run (a run reports its own)
        print("edgelam: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
