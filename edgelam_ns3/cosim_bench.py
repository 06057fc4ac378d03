"""``edgelam bench cosim``: where the wall time of a co-simulated scenario goes.

A scenario runs twice, each time in a fresh child process (``python -c``; ns-3's simulator is a
process singleton), under a profiler that charges every wall second to one category (the
innermost instrumented call running; self time):

- ``startup_s``: from the parent's spawn of the child to the framework's first round (the
  interpreter, imports, the config, the ns-3 network, the models);
- ``ns3_core_s``: inside ``Simulation.run`` outside any Python callback (ns-3 events: the
  radio, TCP/IP, links), less the bridge's per-callback cost;
- ``bridge_s``: the Python side of the bridge (:class:`~edgelam_ns3.sim.Simulation`'s methods
  and delivery handler, the callback wrappers), plus the callbacks fired from C++ times the
  C++ -> Python cost of one callback measured in the same child (as ``bench bridge``);
- ``tracing_s``: the trace sinks (:class:`~edgelam_ns3.scenario.Recorder`, writing the
  JSON-lines parts; merging them to Parquet is the launcher's work after the child, and not
  timed, like the plots);
- ``torch_compute_s``: the jobs' real PyTorch work and the held-out evaluations;
- ``accounting_s``: counting the jobs' FLOPs and bytes (``compute.accounting``);
- ``rest_s``: everything else (framework logic, policies, round logs, summaries).

The first run (``measured``) runs the scenario as configured and records every job's counted
FLOPs and bytes in start order. The second (``replay``) runs it again with the jobs executed
bare and charged the recorded counts: the same schedule and the same jobs, so a job's wall time
there is its PyTorch compute, and ``accounting_s`` is the jobs' wall time in the first run
less the second's. All categories but ``torch_compute_s`` come from the first run.

``overhead_share`` = (everything but ``torch_compute_s`` and ``ns3_core_s``) / ``total_s``.
The same breakdown in this thread's CPU time (``cpu``; start-up: the child's CPU time until the
first round) is less sensitive to other processes on a shared machine.
With ``warm`` both children are forked from a server that has imported torch and the frameworks
(:mod:`edgelam_ns3.warm`, as a sweep's points are), started before the timing, so
``startup_s`` is what remains of the start-up when the imports are paid once per sweep.
The run writes no plots or report (``edgelam run``'s launcher adds those after the child).
Figures are wall-clock and depend on the machine's load: ``load_avg`` gives it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

CATEGORIES = ("startup_s", "torch_compute_s", "accounting_s", "ns3_core_s", "bridge_s",
              "tracing_s", "rest_s")
"""The breakdown's categories; they sum to ``total_s``."""
NOT_OVERHEAD = ("torch_compute_s", "ns3_core_s")


class _Profiler:
    """Self-time per category: wall time (and this thread's CPU time) goes to the innermost
    category running."""

    def __init__(self, first: str):
        self.acc: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.stack = [first]
        self.t, self.c = time.perf_counter(), time.thread_time()

    def _charge(self, cat: str) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self.acc[cat] += now - self.t
        self.cpu[cat] += cpu - self.c
        self.t, self.c = now, cpu

    def push(self, cat: str) -> None:
        self._charge(self.stack[-1])
        self.stack.append(cat)
        self.calls[cat] += 1

    def pop(self) -> None:
        self._charge(self.stack.pop())

    def wrap(self, cat: str, fn):
        def wrapped(*args, **kwargs):
            self.push(cat)
            try:
                return fn(*args, **kwargs)
            finally:
                self.pop()

        wrapped.__wrapped__ = fn
        return wrapped

    def patch(self, owner, name: str, cat: str) -> None:
        setattr(owner, name, self.wrap(cat, getattr(owner, name)))

    def flush(self) -> None:
        self._charge(self.stack[-1])


class _CoSimProxy:
    """The bridge's ``CoSim`` with every Python callback given to C++ wrapped (counted; its
    own time is the framework's unless an inner category claims it)."""

    def __init__(self, inner, prof: _Profiler):
        self._inner, self._prof = inner, prof

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def _cb(self, fn):
        return None if fn is None else self._prof.wrap("callback", fn)

    def schedule(self, delay, fn, *rest):
        return self._inner.schedule(delay, self._cb(fn), *rest)

    def every(self, period, fn, *rest):
        return self._inner.every(period, self._cb(fn), *rest)

    def set_delivery_handler(self, fn):
        return self._inner.set_delivery_handler(self._cb(fn))

    def run(self, *args):
        self._prof.push("ns3")
        try:
            return self._inner.run(*args)
        finally:
            self._prof.pop()


def _instrument(prof: _Profiler, mode: str, counts: list, marks: dict) -> None:
    """Patch this (child) process's classes for the profile; ``mode`` "measured" records each
    job's counts into ``counts``, "replay" runs jobs bare and charges ``counts`` in order."""
    from . import _load_core, compute, scenario, sim
    from .frameworks import base

    core = _load_core()
    real_cosim = marks["CoSim"] = core.CoSim
    core.CoSim = lambda *a: _CoSimProxy(real_cosim(*a), prof)
    for name in ("_delivered", "send", "schedule", "every", "link_states", "set_radio_share",
                 "set_radio_weight", "set_link_share", "set_link_rate"):
        prof.patch(sim.Simulation, name, "bridge")
    for name in ("on_message", "on_job", "on_round", "on_links", "close", "write_csi"):
        prof.patch(scenario.Recorder, name, "tracing")
    prof.patch(compute.Device, "_start", "job")
    start = base.RoundFramework.start

    def first_round(self):
        marks["first_round"] = time.time()
        marks["startup_cpu_s"] = time.process_time()  # this process's CPU since it started
        prof.push("rest")  # start-up ends here
        prof.acc["startup"] += prof.acc.pop("pre", 0.0)
        prof.pop()
        cls = type(self)
        if not getattr(cls.evaluate, "__wrapped__", None):
            cls.evaluate = prof.wrap("eval", cls.evaluate)
        return start(self)

    base.RoundFramework.start = first_round
    real_duration = compute.duration_s
    if mode == "measured":
        def duration_s(profile, flops, nbytes):  # called once per job, in start order
            counts.append((int(flops), int(nbytes)))
            return real_duration(profile, flops, nbytes)

        compute.duration_s = duration_s
    else:
        it = iter(counts)

        def bare(fn, *args, **kwargs):
            result = fn(*args, **kwargs)
            try:
                flops, nbytes = next(it)
            except StopIteration:
                raise RuntimeError("bench cosim: the replay ran more jobs than the measured "
                                   "run") from None
            return compute.JobCost(result=result, flops=flops, bytes_moved=nbytes)

        compute.measure = bare


def _child(argv_json: str) -> None:
    """The child's side: run the scenario under the profiler, write the figures."""
    a = json.loads(argv_json)
    prof = _Profiler("pre")
    marks: dict = {}
    from . import config as config_mod

    cfg = config_mod.load(a["scenario"], a["overrides"])
    if a["mode"] == "replay" and "compute" in type(cfg).model_fields:  # count nothing
        cfg = config_mod.load(a["scenario"], a["overrides"] + ["compute.accounting=exact"])
    counts = [tuple(c) for c in a.get("counts", [])]
    _instrument(prof, a["mode"], counts, marks)
    from . import _load_core, bench, scenario

    with tempfile.TemporaryDirectory(prefix="edgelam-bench-cosim-") as out:
        # as in ``edgelam run``'s child: the launcher merges the trace parts after it
        summary = scenario.run_scenario(cfg, Path(out), merge_traces=False)
    prof.flush()
    t_end = time.time()
    n_cb = prof.calls["callback"]
    _load_core().CoSim = marks["CoSim"]  # the calibration runs unprofiled
    cb_ns = bench._callback_ns(20_000, 1024)
    res = {"acc": dict(prof.acc), "cpu": dict(prof.cpu), "callbacks": n_cb, "callback_ns": cb_ns,
           "startup_cpu_s": marks.get("startup_cpu_s", time.process_time()),
           "startup_s": marks.get("first_round", t_end) - a["t_spawn"],
           "total_s": t_end - a["t_spawn"], "counts": counts if a["mode"] == "measured" else [],
           "jobs": prof.calls["job"], "status": summary.get("status"),
           "sim_time_s": summary.get("sim_time_s"), "rounds": summary.get("rounds"),
           "child_wall_time_s": summary.get("wall_time_s")}
    Path(a["result"]).write_text(json.dumps(res))


def _spawn(scenario: str, overrides: list[str], mode: str, counts: list,
           warm: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="edgelam-bench-cosim-") as d:
        result = Path(d) / "result.json"
        arg = {"scenario": scenario, "overrides": list(overrides), "mode": mode,
               "counts": counts, "result": str(result), "t_spawn": 0.0}
        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")
        env.setdefault("MKL_NUM_THREADS", "1")
        if warm:
            from . import warm as warm_mod

            warm_mod.server()  # started and its imports done before the clock starts
            arg["t_spawn"] = time.time()
            p = warm_mod.start(_child, (json.dumps(arg),), env)
            output = p.stdout.read()
            p.stdout.close()
            rc = p.wait()
        else:
            code = "import sys; from edgelam_ns3.cosim_bench import _child; _child(sys.argv[1])"
            arg["t_spawn"] = time.time()
            done = subprocess.run([sys.executable, "-c", code, json.dumps(arg)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            output, rc = done.stdout, done.returncode
        if rc != 0 or not result.exists():
            tail = "\n".join(output.strip().splitlines()[-5:])
            raise RuntimeError(f"bench cosim: the {mode} run of {scenario} failed "
                               f"(exit {rc}): {tail}")
        return json.loads(result.read_text())


def bench_cosim(scenario: str = "quickstart", overrides: list[str] | tuple[str, ...] = (),
                warm: bool = False) -> dict:
    """Profile ``scenario`` (a built-in name or a YAML path, with ``--set`` overrides): the
    wall-time breakdown in :data:`CATEGORIES` and ``overhead_share`` (see the module's
    docstring), with children started cold or, with ``warm``, forked from the warm server.
    Config errors are raised before any child starts."""
    from . import config as config_mod

    config_mod.load(scenario, list(overrides))  # a bad name or override: ConfigError now
    load0 = os.getloadavg()
    m = _spawn(scenario, list(overrides), "measured", [], warm)
    r = _spawn(scenario, list(overrides), "replay", m["counts"], warm)
    if r["jobs"] != m["jobs"] or r["sim_time_s"] != m["sim_time_s"]:
        raise RuntimeError(f"bench cosim: the replay differs from the measured run ({r['jobs']} "
                           f"vs {m['jobs']} jobs, {r['sim_time_s']} vs {m['sim_time_s']} s)")
    return {**_breakdown(m, r, scenario, overrides, load0, os.getloadavg()),
            "start": "warm" if warm else "cold"}


def _categories(acc: dict, replay: dict, startup: float, total: float, glue: float) -> dict:
    """The breakdown of one clock (wall or CPU) from the profiled and the replayed run."""
    compute = replay.get("job", 0.0)
    b = {"startup_s": startup,
         "torch_compute_s": min(compute, acc.get("job", 0.0)) + acc.get("eval", 0.0),
         "accounting_s": max(acc.get("job", 0.0) - compute, 0.0),
         "ns3_core_s": max(acc.get("ns3", 0.0) - glue, 0.0),
         "bridge_s": acc.get("bridge", 0.0) + min(glue, acc.get("ns3", 0.0)),
         "tracing_s": acc.get("tracing", 0.0)}
    b["rest_s"] = max(total - sum(b.values()), 0.0)
    b["total_s"] = sum(b.values())
    overhead = sum(v for k, v in b.items() if k not in NOT_OVERHEAD + ("total_s",))
    b["overhead_share"] = overhead / b["total_s"] if b["total_s"] else None
    return b


def _breakdown(m: dict, r: dict, scenario, overrides, load0, load1) -> dict:
    glue = m["callbacks"] * m["callback_ns"] * 1e-9
    wall = _categories(m["acc"], r["acc"], m["startup_s"], m["total_s"], glue)
    cpu_total = m["startup_cpu_s"] + sum(v for k, v in m["cpu"].items()
                                         if k not in ("pre", "startup"))
    cpu = _categories(m["cpu"], r["cpu"], m["startup_cpu_s"], cpu_total, glue)
    return {"scenario": scenario, "overrides": list(overrides), **wall, "cpu": cpu,
            "replay_total_s": r["total_s"], "replay_startup_s": r["startup_s"],
            "jobs": m["jobs"], "callbacks": m["callbacks"], "callback_ns": m["callback_ns"],
            "rounds": m["rounds"], "sim_time_s": m["sim_time_s"], "status": m["status"],
            "load_avg": {"before": list(load0), "after": list(load1)}}


def format_cosim_table(r: dict) -> str:
    """Human-readable breakdown."""
    sets = " ".join(f"--set {o}" for o in r["overrides"])
    lines = [f"{r['scenario']} {sets}".rstrip() + f": {r['rounds']} rounds, "
             f"{r['sim_time_s']:.3f} s simulated, {r['jobs']} jobs, {r['callbacks']} callbacks, "
             f"{r.get('start', 'cold')} start"]
    c = r["cpu"]
    lines.append(f"  {'':18s} {'wall':>8s}    {'share':>5s}   {'CPU':>8s}    {'share':>5s}")
    for k in CATEGORIES:
        lines.append(f"  {k[:-2]:18s} {r[k]:8.2f} s  {100 * r[k] / r['total_s']:5.1f} %  "
                     f"{c[k]:8.2f} s  {100 * c[k] / c['total_s']:5.1f} %")
    lines.append(f"  {'total':18s} {r['total_s']:8.2f} s           {c['total_s']:8.2f} s")
    lines.append(f"overhead_share {r['overhead_share']:.3f} wall, {c['overhead_share']:.3f} CPU "
                 f"(all but torch compute and ns-3 core); load average "
                 f"{r['load_avg']['before'][0]:.2f} -> {r['load_avg']['after'][0]:.2f}")
    return "\n".join(lines)
