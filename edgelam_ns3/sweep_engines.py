"""Where a sweep's points run: a local pool (default), a Dask cluster, or a batch scheduler.

Every point is one run (:func:`run_point`): :func:`edgelam_ns3.runner.launch` starts the
simulation in its own child process with ``sim.torch_threads`` torch threads (default 1), so
``workers`` points at once use ``workers`` cores.

- local (default): ``workers`` points at once on this machine; each pool thread only waits for
  its point's child process.
- Dask (``dask``: a scheduler address such as ``tcp://10.0.0.5:8786``, or ``local`` for a
  :class:`~distributed.LocalCluster` of ``workers`` processes): each point is a task that
  launches the run on a worker.
- batch schedulers (``jobqueue``: ``slurm`` or ``pbs``, through dask-jobqueue): ``jobs`` batch
  jobs (default ``workers``), each one Dask worker of one process and ``cores`` cores (default
  1), with ``jobqueue_options`` passed to ``SLURMCluster``/``PBSCluster`` (queue, account,
  memory, walltime, job_script_prologue, ...).

On Dask and batch clusters the sweep directory must be on a file system the workers share, and
the workers need edgelam_ns3 installed. A point that runs longer than ``point_timeout_s`` wall
seconds is interrupted (SIGTERM, SIGKILL :data:`TIMEOUT_GRACE_S` later) and recorded with status
``timeout``.
"""

from __future__ import annotations

import signal
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field, fields

from . import runner

JOBQUEUES = ("slurm", "pbs")
TIMEOUT_GRACE_S = 10.0
"""Wall seconds a timed-out point has to write its results before it is killed."""
JOBQUEUE_DEFAULTS = {"cores": 1, "processes": 1, "memory": "4GB",
                     "job_script_prologue": ["export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1"]}


@dataclass
class EngineSpec:
    """The engine of a sweep (the spec's ``engine:`` block, or the command's options)."""

    workers: int = 1
    dask: str | None = None
    jobqueue: str | None = None
    jobqueue_options: dict = field(default_factory=dict)
    jobs: int | None = None
    point_timeout_s: float | None = None
    point_plots: bool = True
    """Whether each point draws its figures (``edgelam report RUN_DIR`` draws them later)."""
    warm_start: bool = True
    """Whether each point's simulation is forked from a server that imported torch and the
    frameworks once per worker (:mod:`edgelam_ns3.warm`), not started in a fresh interpreter
    that imports them again (~7 s of CPU per point). The traces are the same."""

    @classmethod
    def from_dict(cls, raw: dict) -> EngineSpec:
        """Check an ``engine:`` mapping; ValueError ``"key: what is wrong"``."""
        known = [f.name for f in fields(cls)]
        for key in raw:
            if key not in known:
                raise ValueError(f"{key}: unknown key (known: {', '.join(known)})")
        spec = cls(**raw)
        spec.check()
        return spec

    def check(self) -> None:
        """ValueError ``"key: what is wrong"`` for a value out of range or a clash."""
        for name in ("workers", "jobs"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"{name}: an integer >= 1")
        for name in ("point_plots", "warm_start"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: true or false, not {getattr(self, name)!r}")
        t = self.point_timeout_s
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0):
            raise ValueError("point_timeout_s: wall seconds > 0 (or null: no limit)")
        if self.dask is not None and not isinstance(self.dask, str):
            raise ValueError("dask: a scheduler address (tcp://host:8786) or 'local'")
        if self.jobqueue is not None and self.jobqueue not in JOBQUEUES:
            raise ValueError(f"jobqueue: one of {', '.join(JOBQUEUES)}")
        if self.jobqueue and self.dask:
            raise ValueError("jobqueue: give dask or jobqueue, not both (jobqueue starts its "
                             "own Dask scheduler)")
        if not isinstance(self.jobqueue_options, dict):
            raise ValueError("jobqueue_options: a mapping of dask-jobqueue arguments")
        if isinstance(self.jobqueue_options.get("walltime"), int):
            raise ValueError('jobqueue_options.walltime: quote it, "02:00:00" (YAML reads '
                             "02:00:00 unquoted as the number 7200)")
        if self.jobqueue_options and not self.jobqueue:
            raise ValueError("jobqueue_options: given without jobqueue (slurm or pbs)")

    def describe(self) -> str:
        """One line: ``local pool of 2 workers``, ``Dask at tcp://...``, ``slurm, 4 jobs``."""
        if self.jobqueue:
            return f"{self.jobqueue} through dask-jobqueue, {self.jobs or self.workers} jobs"
        if self.dask:
            return f"Dask {'LocalCluster' if self.dask == 'local' else 'at ' + self.dask}"
        return f"local pool of {self.workers} worker{'s' * (self.workers > 1)}"


# -- one point ----------------------------------------------------------------------------------


def run_point(cfg_json: str, run_dir: str, timeout_s: float | None = None,
              plots: bool = True, warm: bool = True) -> dict:
    """Run one point into ``run_dir`` (emptied first if it holds an earlier attempt), drawing
    its figures unless ``plots`` is False, its simulation forked warm unless ``warm`` is False
    (see :func:`edgelam_ns3.runner.launch`); its summary, with status ``timeout`` when it ran
    past ``timeout_s``. Module-level, so that Dask can ship it to a worker."""
    import json

    from . import config as config_mod

    cfg = config_mod.from_dict(json.loads(cfg_json))
    done, fired = threading.Event(), threading.Event()
    if timeout_s:
        threading.Thread(target=_expire, args=(run_dir, timeout_s, done, fired),
                         daemon=True).start()
    try:
        summary = runner.launch(cfg, run_dir, quiet=True, force=True, plots=plots, warm=warm)
    finally:
        done.set()
    if fired.is_set() and summary.get("status") != "ok":
        summary["status"] = "timeout"
        summary["error"] = (f"ran past the per-point limit of {timeout_s:g} s wall "
                            f"({summary.get('error')})")
    return summary


def _expire(run_dir: str, timeout_s: float, done: threading.Event,
            fired: threading.Event) -> None:
    """After ``timeout_s``: SIGTERM to the point's simulation (retried until it has started),
    SIGKILL :data:`TIMEOUT_GRACE_S` later if it still runs."""
    if done.wait(timeout_s):
        return
    fired.set()
    while not runner.interrupt_run(run_dir, signal.SIGTERM):
        if done.wait(0.2):
            return
    if not done.wait(TIMEOUT_GRACE_S):
        runner.interrupt_run(run_dir, signal.SIGKILL)


# -- many points --------------------------------------------------------------------------------


def run_jobs(jobs: list[tuple], engine: EngineSpec, record) -> None:
    """Run ``jobs`` (``(key, config as JSON, run_dir)``) on ``engine``, calling ``record(key,
    summary)`` in this thread as each finishes. On KeyboardInterrupt no new point starts, the
    running ones are interrupted (and, on the local pool, waited for and recorded), then the
    KeyboardInterrupt goes on."""
    if engine.dask or engine.jobqueue:
        _run_dask(jobs, engine, record)
    else:
        _run_local(jobs, engine, record)


def _run_local(jobs, engine: EngineSpec, record) -> None:
    pool = ThreadPoolExecutor(max_workers=engine.workers)
    futs = {pool.submit(run_point, y, d, engine.point_timeout_s, engine.point_plots,
                        engine.warm_start): key
            for key, y, d in jobs}
    done = set()
    try:
        for fut in as_completed(futs):
            done.add(fut)
            record(futs[fut], fut.result())
    except KeyboardInterrupt:
        for fut in futs:
            fut.cancel()
        runner.interrupt_all(signal.SIGINT)
        for fut, key in futs.items():
            if fut in done or fut.cancelled():
                continue
            while True:
                try:
                    record(key, fut.result())
                    break
                except KeyboardInterrupt:  # again: the running points are killed
                    runner.interrupt_all(signal.SIGKILL)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def jobqueue_cluster(kind: str, options: dict):
    """A dask-jobqueue cluster (``SLURMCluster`` or ``PBSCluster``) with
    :data:`JOBQUEUE_DEFAULTS` under ``options``; it submits no job until scaled."""
    import dask_jobqueue

    cls = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[kind]
    return cls(**{**JOBQUEUE_DEFAULTS, **options})


def _run_dask(jobs, engine: EngineSpec, record) -> None:
    """On KeyboardInterrupt the points not finished are cancelled (those already running on a
    worker end with their worker, or run to their end on a remote cluster)."""
    from dask.distributed import Client, LocalCluster
    from dask.distributed import as_completed as dask_completed

    cluster = None
    if engine.jobqueue:
        cluster = jobqueue_cluster(engine.jobqueue, engine.jobqueue_options)
        cluster.scale(jobs=engine.jobs or engine.workers)
    elif engine.dask == "local":
        cluster = LocalCluster(n_workers=engine.workers, threads_per_worker=1)
    client = Client(cluster or engine.dask)
    try:
        futs = {client.submit(run_point, y, d, engine.point_timeout_s, engine.point_plots,
                              engine.warm_start, pure=False): key
                for key, y, d in jobs}
        try:
            for fut in dask_completed(futs):
                record(futs[fut], fut.result())
        except KeyboardInterrupt:
            client.cancel([f for f in futs if not f.done()])
            raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextmanager
def signals_interrupt():
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
