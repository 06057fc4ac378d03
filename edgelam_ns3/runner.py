"""Run one scenario into a run directory: the run's lifecycle.

The parent (:func:`launch`) prepares the run directory, writes ``config.yaml`` and runs the
simulation (:func:`edgelam_ns3.scenario.run_scenario`) in a child process (``python -m
edgelam_ns3.runner RUN_DIR``): ns-3's simulator is a process singleton, and a fatal ns-3 error
aborts the whole process, so the caller must not share it. The child streams progress and
writes traces incrementally (flushed every few seconds); the parent tees the child's output to
``stdout.log``, then merges the traces, draws the plots and writes ``summary.json`` and
``report.md``, also when the child failed or was killed, so nothing written is lost.

Signals: SIGINT (Ctrl-C) or SIGTERM to the parent is forwarded to the child, which stops the
simulation after the current event and writes its summary and traces (status "interrupted");
a second signal, or a child that has not stopped after :data:`GRACE_S` seconds, gets SIGKILL.
The child receives SIGTERM if the parent dies (Linux), so it never runs on as an orphan.

Status of a run (``summary["status"]``) and exit code of ``edgelam run`` (:func:`exit_code`):
"ok" 0, "failed" 1 (an error, a crash, killed by a signal), "incomplete" 3 (the framework did
not finish: ``sim.max_time_s`` reached or stalled for ``sim.stall_stop_s``), "interrupted"
128 + the signal's number (130 for SIGINT, 143 for SIGTERM). Bad input is 2.

A run directory holds: ``config.yaml`` (resolved), ``summary.json``, ``traces/*.parquet``,
plots (``*.png``), ``report.md``, ``stdout.log``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .run_control import signal_name

if TYPE_CHECKING:  # config imports torch: the child installs its signal handlers first
    from . import config as config_mod

RESULT_FILE = ".child_result.json"
PARENT_ENV = "EDGELAM_PARENT_PID"
GRACE_S = 30.0
"""Wall seconds an interrupted child has to write its results before it gets SIGKILL."""
EXIT_CODES = {"ok": 0, "failed": 1, "incomplete": 3}
EXIT_USAGE = 2
RUN_MARKERS = ("config.yaml", "summary.json", "stdout.log")
"""Files that mark a directory as a previous run (which ``--force`` may clear)."""


class RunDirError(ValueError):
    """The run directory cannot be used; the message is one line naming it."""


def exit_code(summary: dict) -> int:
    """The exit code of a run with this summary (see the module's docstring)."""
    if summary.get("status") == "interrupted":
        return 128 + int(summary.get("signal") or signal.SIGINT)
    return EXIT_CODES.get(summary.get("status"), 1)


def safe_name(name: str) -> str:
    """``name`` as one path component: letters, digits, ``.``, ``_`` and ``-`` kept, runs of
    anything else (``/``, ``..`` at the ends, spaces) replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "run"


def default_run_dir(cfg: config_mod.ScenarioConfig) -> Path:
    """``runs/<name>-<UTC time>-<4 hex>`` under the current directory (the name sanitised)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return Path("runs") / f"{safe_name(cfg.name)}-{stamp}-{uuid.uuid4().hex[:4]}"


def prepare_run_dir(out: str | Path, force: bool = False) -> Path:
    """Create the directory ``out`` for a run (or a sweep). A non-empty directory is refused,
    unless ``force`` and it holds a previous run (one of :data:`RUN_MARKERS`, or
    ``sweep.parquet``): then it is emptied. Raises :class:`RunDirError`."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out}: is a file, not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise RunDirError(f"--out {out}: not empty (a previous run?); give --force to "
                              "replace it, or another --out")
        if not any((out / m).exists() for m in (*RUN_MARKERS, "sweep.parquet")):
            raise RunDirError(f"--out {out}: --force empties only a previous run or sweep "
                              f"directory, and this one has none of {', '.join(RUN_MARKERS)}, "
                              "sweep.parquet")
        for p in out.iterdir():
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise RunDirError(f"--out {out}: cannot write there ({exc.strerror})") from None
    return out


def launch(cfg: config_mod.ScenarioConfig, out_dir: str | Path | None = None,
           quiet: bool = False, force: bool = False, plots: bool = True,
           warm: bool = False) -> dict:
    """Run ``cfg`` in a child process into ``out_dir`` (see :func:`prepare_run_dir`; default
    :func:`default_run_dir`); return the summary, also written to ``summary.json``. With
    ``plots`` False no figure is drawn (:func:`edgelam_ns3.report.redraw` draws them). With
    ``warm`` the child is forked from a process that has imported torch and the frameworks
    (:mod:`edgelam_ns3.warm`: the first warm launch in a process pays the imports, later ones
    do not), else it is a fresh interpreter."""
    from . import config as config_mod

    out = prepare_run_dir(out_dir if out_dir else default_run_dir(cfg), force)
    (out / "config.yaml").write_text(config_mod.to_yaml(cfg))
    (out / RESULT_FILE).unlink(missing_ok=True)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(cfg.sim.torch_threads))
    env.setdefault("MKL_NUM_THREADS", str(cfg.sim.torch_threads))
    env[PARENT_ENV] = str(os.getpid())
    t0 = time.perf_counter()
    child = _Child([sys.executable, "-u", "-m", "edgelam_ns3.runner", str(out)], env, warm)
    preload = _preload(POST_RUN_MODULES)
    with _forwarding_signals():
        rc = child.run(out / "stdout.log", None if quiet else sys.stdout)
        preload.join()
        summary = _collect(cfg, out, rc, child)
        summary["wall_time_s"] = summary.get("wall_time_s", time.perf_counter() - t0)
        summary["launcher_wall_time_s"] = time.perf_counter() - t0
        summary["run_dir"] = str(out)
        _write_outputs(out, summary, plots)
    return summary


POST_RUN_MODULES = ("edgelam_ns3.traces", "edgelam_ns3.report")
"""What the parent needs after its child (merging traces, plots: pyarrow, pandas, matplotlib),
imported while the child runs, when the parent would otherwise only wait."""


def _preload(modules: tuple[str, ...]) -> threading.Thread:
    """Import ``modules`` in a background thread; an import error is left for the caller's own
    import to raise."""
    import importlib

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - raised again where the module is used
                continue

    thread = threading.Thread(target=load, name="edgelam-preload", daemon=True)
    thread.start()
    return thread


# -- the child process, seen from the parent ------------------------------------------------

_LIVE: set[_Child] = set()
_LIVE_LOCK = threading.Lock()
_INTERRUPT: int | None = None  # a signal for the children started after it came


class _Child:
    """The simulation's child process: output teed to a log, interruptible. ``argv`` runs it
    in a fresh interpreter; with ``warm``, :func:`_child` on ``argv``'s last item is forked from
    the warm server instead (:func:`edgelam_ns3.warm.start`; cold if that server cannot
    start)."""

    def __init__(self, argv: list[str], env: dict, warm: bool = False):
        self.argv, self.env, self.warm = argv, env, warm
        self.proc: subprocess.Popen | None = None
        self.signum: int | None = None  # the signal forwarded to it
        self.killed = False  # SIGKILL sent by us
        self._done = threading.Event()

    def run(self, log_path: Path, echo) -> int:
        """Start the child, tee its output to ``log_path`` (and ``echo``), wait for it;
        :return: its exit code (negative: killed by that signal)."""
        with log_path.open("w") as log:
            with _signals_held():  # until the child installs its own handlers
                self.proc = self._start()
            with _LIVE_LOCK:
                _LIVE.add(self)
                late = _INTERRUPT
            if late is not None:  # started while its caller was being interrupted
                self.interrupt(late)
            try:
                for line in self.proc.stdout:
                    log.write(line)
                    log.flush()
                    if echo is not None:
                        echo.write(line)
                        echo.flush()
                return self.proc.wait()
            finally:
                self._done.set()
                with _LIVE_LOCK:
                    _LIVE.discard(self)
                if self.proc.poll() is None:  # the parent itself is failing: no orphan
                    self.kill()
                    self.proc.wait()
                self.proc.stdout.close()

    def _start(self):
        if self.warm:
            from . import warm

            try:
                return warm.start(_child, (Path(self.argv[-1]),), self.env)
            except warm.WarmServerError as exc:  # the run itself can still go ahead
                print(f"edgelam: {exc}; starting the run cold", file=sys.stderr, flush=True)
        return subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=self.env)

    def interrupt(self, signum: int) -> None:
        """Forward ``signum``, again every second (a child still starting up ignores it) until
        it ends; SIGKILL after :data:`GRACE_S`, or at a second call."""
        if self.signum is not None:
            self.kill()
            return
        self.signum = signum
        threading.Thread(target=self._insist, daemon=True).start()

    def _insist(self) -> None:
        deadline = time.monotonic() + GRACE_S
        while not self._done.is_set() and time.monotonic() < deadline:
            try:
                self.proc.send_signal(self.signum)
            except ProcessLookupError:
                return
            self._done.wait(1.0)
        if not self._done.is_set():
            self.kill()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.killed = True
            self.proc.kill()


@contextmanager
def _signals_held():
    """SIGINT and SIGTERM blocked in this thread while inside (main thread only). A process
    started here inherits the blocked mask, so a Ctrl-C during its start-up stays pending in it
    (no KeyboardInterrupt traceback) until it is ready and unblocks them
    (:meth:`~edgelam_ns3.run_control.RunControl.install`). A signal that reaches this process
    meanwhile is held too (or taken by another of its threads) and then handled by the
    forwarding handler: blocked, not ignored, so it is never lost (it was, with SIG_IGN here,
    when a signal came between the fork and the handlers' return)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def interrupt_all(signum: int = signal.SIGINT) -> None:
    """Forward ``signum`` to every running child of this process (see :meth:`_Child.interrupt`;
    SIGKILL kills them at once), and to those started until :func:`clear_interrupt`."""
    global _INTERRUPT
    with _LIVE_LOCK:
        _INTERRUPT = _INTERRUPT or signum
        children = list(_LIVE)
    for child in children:
        child.kill() if signum == signal.SIGKILL else child.interrupt(signum)


def interrupt_run(run_dir: str | Path, signum: int = signal.SIGTERM) -> bool:
    """Forward ``signum`` to the running child that writes into ``run_dir`` (as
    :func:`interrupt_all` does to all); :return: whether one was running (a sweep's per-point
    time limit)."""
    with _LIVE_LOCK:
        children = [c for c in _LIVE if c.argv[-1] == str(Path(run_dir))]
    for child in children:
        child.kill() if signum == signal.SIGKILL else child.interrupt(signum)
    return bool(children)


def clear_interrupt() -> None:
    """Children started from now on run normally again."""
    global _INTERRUPT
    with _LIVE_LOCK:
        _INTERRUPT = None


@contextmanager
def _forwarding_signals():
    """While inside, SIGINT and SIGTERM go to the children (main thread only; elsewhere the
    caller forwards them, e.g. the sweep with :func:`interrupt_all`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = (signal.SIGINT, signal.SIGTERM)
    before = {s: signal.getsignal(s) for s in sigs}
    for s in sigs:
        signal.signal(s, lambda signum, frame: interrupt_all(signum))
    try:
        yield
    finally:
        for s in sigs:
            signal.signal(s, before[s])
        clear_interrupt()


def _collect(cfg: config_mod.ScenarioConfig, out: Path, rc: int, child: _Child) -> dict:
    """The run's summary from the child's result file, or from its traces and exit code when
    it left none (killed, crashed)."""
    from . import traces as traces_mod

    result_path = out / RESULT_FILE
    try:
        summary = json.loads(result_path.read_text())
    except (OSError, ValueError):
        summary = None
    result_path.unlink(missing_ok=True)
    traces_error = None
    try:
        tables = traces_mod.merge(out / "traces") if (out / "traces").exists() else {}
    except Exception as exc:  # noqa: BLE001 - the summary says what happened
        tables, traces_error = {}, f"{type(exc).__name__}: {exc}"
    if summary is None:
        summary = summary_from_traces(cfg, tables)
        summary.update(status="failed", error=_death(out, rc, child))
        if child.signum is not None:
            summary.update(status="interrupted", signal=child.signum)
    if traces_error:
        summary["traces_error"] = traces_error
    summary["exit_code"] = rc
    return summary


def _death(out: Path, rc: int, child: _Child) -> str:
    """Why a child that left no result ended: the signal that killed it, or its last line."""
    lines = (out / "stdout.log").read_text(errors="replace").strip().splitlines()
    last = next((ln for ln in reversed(lines) if ln.strip()), "")
    if child.signum is not None:
        why = f"interrupted by {signal_name(child.signum)}"
        if child.killed:
            why += ("; the simulation was killed (a second signal, or no stop within "
                    f"{GRACE_S:g} s) before it wrote its results")
        return why
    if rc < 0:
        why = f"killed by signal {-rc} ({signal_name(-rc)})"
        return f"{why}; last output: {last}" if last and rc != -signal.SIGKILL else why
    return last or f"exit code {rc}"


def summary_from_traces(cfg: config_mod.ScenarioConfig, tables: dict[str, Path]) -> dict:
    """What the traces tell when the child left no summary: the rounds done, their first and
    last loss, the last simulated instant traced."""
    import pandas as pd

    s = {"scenario": cfg.name, "radio": cfg.radio.mode, "framework": cfg.train.framework,
         "policy": cfg.train.policy, "from_traces": True}
    t_last = 0.0
    for name, col in (("metrics", "t_s"), ("link_states", "t_s"), ("messages", "t_delivered_s"),
                      ("compute", "t_end_s")):
        if name in tables:
            try:
                df = pd.read_parquet(tables[name])
            except Exception:  # noqa: BLE001 - an unreadable table adds nothing
                continue
            if len(df) and col in df:
                t_last = max(t_last, float(df[col].max()))
            if name == "metrics":
                s["steps"] = s["rounds"] = len(df)
                if len(df):
                    s["loss_first"], s["loss_last"] = float(df["loss"].iloc[0]), \
                        float(df["loss"].iloc[-1])
    s["sim_time_s"] = t_last
    return s


def _write_outputs(out: Path, summary: dict, plots: bool = True) -> None:
    """Plots (unless ``plots`` is False), ``summary.json`` and ``report.md`` (a plot that fails
    must not lose the run)."""
    from . import report

    if not plots:
        summary["plots"] = []
        summary["plots_skipped"] = "not drawn (--no-plots): edgelam report RUN_DIR draws them"
    else:
        t0 = time.perf_counter()
        try:
            tables, warnings = report.read_tables(out)
            summary["plots"] = report.plots(out, tables)
            summary["plots_wall_time_s"] = time.perf_counter() - t0
            if warnings:
                summary["report_warnings"] = warnings
        except Exception as exc:  # noqa: BLE001
            summary["plots_error"] = f"{type(exc).__name__}: {exc}"
    (out / "summary.json").write_text(json.dumps(json_safe(summary), indent=2, default=str) + "\n")
    report.write_report(out, summary)


def json_safe(obj):
    """NaN and infinities as null: summary.json stays standard JSON."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# -- the child process -------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux prctl
    PR_SET_PDEATHSIG), so that a simulation never runs on as an orphan."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))
    except (OSError, AttributeError):  # not Linux
        return
    parent = os.environ.get(PARENT_ENV)
    if parent and os.getppid() != int(parent):  # the parent died before prctl
        os.kill(os.getpid(), signal.SIGTERM)


def _child(out: Path) -> int:
    from .run_control import Interrupted, RunControl

    control = RunControl()
    try:
        control.install()  # a signal held since the start arrives here: Interrupted
        _die_with_parent()
        import yaml

        from . import config as config_mod
        from . import scenario

        cfg = config_mod.from_dict(yaml.safe_load((out / "config.yaml").read_text()))
        control.stall_warn_s, control.stall_stop_s = cfg.sim.stall_warn_s, cfg.sim.stall_stop_s
        summary = scenario.run_scenario(cfg, out, control, merge_traces=False)  # _collect does
    except Interrupted as exc:
        summary = {"status": "interrupted", "error": f"{exc} before the simulation started"}
    except BaseException as exc:  # noqa: BLE001 - reported in the result and the log
        import traceback

        traceback.print_exc()
        summary = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    if control.signum is not None:
        summary["signal"] = control.signum
    (out / RESULT_FILE).write_text(json.dumps(json_safe(summary), default=str))
    return exit_code(summary)


if __name__ == "__main__":
    sys.exit(_child(Path(sys.argv[1])))
