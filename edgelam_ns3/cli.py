"""The edgelam command: a thin layer over the library.

    edgelam run SCENARIO [--out DIR] [--force] [--set key=value ...]
    edgelam scenarios                  # the built-in scenarios, one line each
    edgelam config [SCENARIO]          # the resolved config, or every key with its help
    edgelam sweep SPEC.yaml [--out DIR] [--retry-failed] [--workers N] [--dask ADDR] [...]
    edgelam sweep SCENARIO --grid key=v1,v2 [--grid ...] [--out DIR] [...]   # a grid shorthand
    edgelam sweep status DIR           # done / failed / pending points of a sweep
    edgelam sweep plot DIR --x KEY --y FIGURE [--hue KEY]   # mean over seeds, 95% CI bars
    edgelam report RUN_DIR             # redraw the plots and the report from a run's traces
    edgelam replay RUN_DIR [--set key=value ...] [--out DIR]   # an NR run over its own radio trace
    edgelam compare RUN_DIR RUN_DIR... [--out DIR]             # runs side by side
    edgelam bench bridge [--json] [--n N]
    edgelam bench radio [--json] [--duration-s S]
    edgelam bench cosim [--json] [--warm] [--scenario NAME] [--set key=value ...]
    edgelam bench sweep [--json] [--points N]   # local sweep pool: 1 vs 2 workers, overhead
    edgelam bench replay [--json] [--scenario NAME] [--set key=value ...]  # replay vs NR run
    edgelam --version

Exit codes: 0 ok, 1 failed, 2 bad input, 3 incomplete (the framework did not finish),
128 + N interrupted by signal N (130: Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import re
import sys

SET_HELP = ("override a config value (repeatable): key=value, the value read as YAML; list "
            "items by index, e.g. --set train.steps=10 --set backhaul.links[0].rate_bps=1e9 "
            "--set radio.gnb_array=[4,4]")


def plain(text: str) -> str:
    """Help text without reST markup: ``x`` -> x, :mod:`a.b` and :class:`~a.B` -> a.b, B."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", lambda m: m.group(1).split(".")[-1]
                  if "~" in m.group(0) else m.group(1), text)
    return text.replace("``", "")


def _fail(exc: Exception | str, code: int = 2) -> int:
    """Print a one-line error; :return: ``code``."""
    print(f"edgelam: {exc}", file=sys.stderr)
    return code


def _cmd_run(args) -> int:
    from . import config, runner

    try:
        cfg = config.load(args.scenario, args.set or [])
        summary = runner.launch(cfg, args.out, quiet=args.quiet, force=args.force,
                                plots=args.plots)
    except (config.ConfigError, runner.RunDirError) as exc:
        return _fail(exc)
    return _finished(summary)


def _finished(summary: dict) -> int:
    """Print a finished run's one-line outcome and report path; :return: its exit code."""
    from . import runner

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


def _cmd_replay(args) -> int:
    from . import replay, runner

    try:
        cfg = replay.replay_config(args.run_dir, args.set or [], timing=args.timing,
                                   same_schedule=args.same_schedule)
        summary = runner.launch(cfg, args.out, quiet=args.quiet, force=args.force,
                                plots=args.plots)
    except (ValueError, runner.RunDirError) as exc:  # ConfigError is a ValueError
        return _fail(exc)
    return _finished(summary)


def _cmd_compare(args) -> int:
    from . import compare

    try:
        path = compare.compare(args.run_dirs, args.out)
    except compare.CompareError as exc:
        return _fail(exc)
    print(f"edgelam: comparison: {path}")
    return 0


def _cmd_scenarios(args) -> int:
    from . import config

    names = config.builtin_scenarios()
    width = max(map(len, names))
    for name in names:
        print(f"{name:{width}s}  {config.scenario_summary(name, 98 - width)}")
    return 0


def _cmd_config(args) -> int:
    from . import config

    if args.scenario:
        try:
            cfg = config.load(args.scenario, args.set or [])
        except config.ConfigError as exc:
            return _fail(exc)
        print(config.to_yaml(cfg), end="")
        return 0
    for key, default, help_ in config.describe():
        if len(default) > 24:  # a list of sections: its items are described below it
            default = default[:20] + " ..."
        print(f"{key:40s} {default:24s} {plain(help_)}")
    print("\nSet a key with --set key=value (value read as YAML); list items by index: "
          "backhaul.links[0].rate_bps=1e9; a whole list or section as YAML: "
          "--set 'backhaul.cross_traffic=[{src: cloud, dst: ue0, mode: onoff, rate_bps: 5e7}]'.")
    return 0


def _cmd_report(args) -> int:
    from . import report

    try:
        path, warnings = report.redraw(args.run_dir)
    except report.ReportError as exc:
        return _fail(exc)
    for w in warnings:
        print(f"edgelam: warning: {w}", file=sys.stderr)
    print(f"edgelam: report: {path}")
    return 1 if warnings else 0


BENCH_OPTIONS = {"bridge": {"n": 200_000}, "radio": {"duration_s": 2.0},
                 "cosim": {"scenario": "quickstart", "set": None, "warm": False},
                 "sweep": {"points": 4}, "replay": {"scenario": "quickstart", "set": None}}
"""Each benchmark's options (``args`` attribute -> default); another bench's option is an
error, not ignored."""


def _bench_options(args) -> str | None:
    """Fill in the chosen benchmark's defaults; the error line if another one's option was
    given."""
    mine = BENCH_OPTIONS[args.what]
    for opts in BENCH_OPTIONS.values():
        for name in opts:
            given = getattr(args, name)
            if name not in mine and given is not None and given is not False:
                users = ", ".join(w for w, o in BENCH_OPTIONS.items() if name in o)
                return f"bench {args.what}: --{name.replace('_', '-')} is an option of " \
                       f"bench {users}"
    for name, default in mine.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    return None


def _cmd_bench(args) -> int:
    from . import bench

    wrong = _bench_options(args)
    if wrong:
        return _fail(wrong)
    try:
        if args.what == "bridge":
            result = bench.bench_bridge(n_callbacks=args.n)
            table = bench.format_table
        elif args.what == "cosim":
            result = bench.bench_cosim(args.scenario, args.set or [], warm=args.warm)
            table = bench.format_cosim_table
        elif args.what == "sweep":
            result = bench.bench_sweep(n_points=args.points)
            table = bench.format_sweep_table
        elif args.what == "replay":
            result = bench.bench_replay(args.scenario, args.set or [])
            table = bench.format_replay_table
        else:  # "radio" (argparse restricts the choices)
            result = bench.bench_radio(duration_s=args.duration_s)
            table = bench.format_radio_table
    except ValueError as exc:
        return _fail(exc)
    if args.json:
        print(json.dumps(result))
    else:
        print(table(result))
    return 0


def versions() -> str:
    """edgelam_ns3's version and those of what it runs on: ns-3, torch, Sionna, Python."""
    import platform
    from importlib import metadata

    from . import __version__, _load_core

    def dist(*names):
        for n in names:
            try:
                return metadata.version(n)
            except metadata.PackageNotFoundError:
                continue
        return "not installed"

    try:
        ns3 = _load_core().NS3_VERSION
    except ImportError:
        ns3 = "unknown (the compiled bridge does not load)"
    return (f"edgelam_ns3 {__version__} (ns-3 {ns3}, torch {dist('torch')}, Sionna "
            f"{dist('sionna', 'sionna-no-rt')}, Python {platform.python_version()})")


class _Version(argparse.Action):
    """``--version``, computed only when asked (loading the bridge takes a moment)."""

    def __init__(self, option_strings, dest, **kw):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        print(versions())
        parser.exit()


def _run_options(p: argparse.ArgumentParser, default_out: str) -> None:
    """--out, --force, --set, --quiet and --no-plots of a command that starts one run."""
    p.add_argument("--out", help=f"run directory (default {default_out}); must be new or empty")
    p.add_argument("--force", action="store_true",
                   help="empty --out first if it holds a previous run (its files are deleted)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help=SET_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--no-plots", dest="plots", action="store_false",
                   help="draw no figures (report.md and the traces as usual; edgelam report "
                   "RUN_DIR draws them later)")


def build_parser() -> argparse.ArgumentParser:
    from . import sweep_cli

    p = argparse.ArgumentParser(prog="edgelam", description=plain(__doc__),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action=_Version,
                   help="print the versions of edgelam_ns3, ns-3, torch, Sionna and Python")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a scenario into a run directory")
    r.add_argument("scenario", help="built-in scenario name (see: edgelam scenarios) or YAML path")
    _run_options(r, "runs/<name>-<time>")
    r.set_defaults(fn=_cmd_run)
    rr = sub.add_parser("replay", help="rerun a recorded NR run's framework (or another, with "
                        "--set) over its recorded per-UE capacities as a trace radio")
    rr.add_argument("run_dir", help="a run directory of an NR run")
    rr.add_argument("--timing", nargs="?", const="recorded", choices=("recorded", "meta"),
                    help="timing only: compute charges, per-round latencies, bytes and the "
                    "schedule as in a full replay, but no losses computed (NaN). recorded (the "
                    "default of --timing; compute.execution=recorded): no job runs and torch "
                    "is not imported, each job is charged the counts the run recorded for its "
                    "job and input shapes (split_learning, split_fed_lora, fed_lora, "
                    "centralized; other "
                    "shapes fail, naming the job); meta (compute.execution=cost): the jobs run "
                    "on meta tensors. Without --timing: a full replay, every job run, losses "
                    "computed")
    rr.add_argument("--same-schedule", action="store_true",
                    help="each round schedules the devices and shares the run did "
                    "(train.policy=recorded), not what its policy decides over the replay's "
                    "rates: the replay differs from the run only where the network model does")
    _run_options(rr, "runs/<name>-replay-<time>")
    rr.set_defaults(fn=_cmd_replay)
    cm = sub.add_parser("compare", help="one report putting runs side by side")
    cm.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    cm.add_argument("--out", default="compare", help="directory of compare.md and its figures "
                    "(default ./compare)")
    cm.set_defaults(fn=_cmd_compare)
    s = sub.add_parser("scenarios", help="list the built-in scenarios")
    s.set_defaults(fn=_cmd_scenarios)
    c = sub.add_parser("config", help="print a resolved scenario config, or all keys with help")
    c.add_argument("scenario", nargs="?")
    c.add_argument("--set", action="append", metavar="KEY=VALUE", help=SET_HELP)
    c.set_defaults(fn=_cmd_config)
    sweep_cli.add_parser(sub, SET_HELP)
    rp = sub.add_parser("report", help="redraw a run's plots and report from its traces")
    rp.add_argument("run_dir")
    rp.set_defaults(fn=_cmd_report)
    b = sub.add_parser("bench", help="benchmarks (wall-clock figures of this machine)")
    b.add_argument("what", choices=["bridge", "radio", "cosim", "sweep", "replay"])
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--n", type=int, help="bridge: callbacks to time (>= 1); default 200000")
    b.add_argument("--duration-s", type=float,
                   help="radio: simulated seconds timed per case (> 0); default 2")
    b.add_argument("--points", type=int,
                   help="sweep: points run with 1 and then 2 workers (>= 2); default 4")
    b.add_argument("--warm", action="store_true",
                   help="cosim: fork the runs from a server that imported torch and the "
                   "frameworks (as a sweep's points start), not fresh interpreters")
    b.add_argument("--scenario", help="cosim, replay: scenario name or YAML; default quickstart")
    b.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="cosim, replay: " + SET_HELP)
    b.set_defaults(fn=_cmd_bench)
    from .datasets.csi_cli import add_dataset_parser

    add_dataset_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    from . import sweep_cli

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sweep"] and argv[1:2] and argv[1] in sweep_cli.TOOLS:
        args = sweep_cli.tool_parser().parse_args(argv[1:])
    else:
        args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except KeyboardInterrupt:  # Ctrl-C outside a run (a run reports its own)
        print("edgelam: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
