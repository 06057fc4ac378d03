"""Warm starts: simulation children forked from a server that has already imported torch,
transformers, peft, the ns-3 bridge and the frameworks.

Every run needs a fresh process (ns-3's simulator is a process singleton), and a cold one
spends most of its start-up importing: about 7 s of CPU on the quickstart, transformers' GPT-2
alone about 5 s (``edgelam bench cosim``). A launcher that starts many runs (a sweep, a test
session) pays that once: the first warm start launches a server (``python -m
edgelam_ns3.warm``) that imports :data:`PRELOAD`, and each child is then forked from it in
tens of milliseconds. :class:`WarmProcess` gives such a child the interface of
``subprocess.Popen`` that :class:`edgelam_ns3.runner._Child` uses (``pid``, a text ``stdout``
carrying the child's stdout and stderr, ``poll``, ``wait``, ``send_signal``, ``kill``).

Why not ``multiprocessing``'s forkserver, which does the same: it re-imports the launcher's
main script in the server and in every child (``import_main_path``), so a user's script that
starts a sweep without an ``if __name__ == "__main__":`` guard would start it again in each
child. This server imports nothing of the launcher's.

A warm child runs the same code on the same inputs as a cold one, so its traces are the same
(``tests/integration/test_warm.py`` checks it). What differs: it inherits from the launcher
only the environment given (set before the target runs) and its stdout; the server keeps the
modules as they were when it started (an edited source file is seen by the next launcher);
its parent is the server. The server ends with the launcher: at the launcher's exit (which
waits for it), or when the launcher dies, even during its imports (SIGTERM from the kernel,
:func:`edgelam_ns3.runner._die_with_parent`); a run's child then gets SIGTERM, as a cold one
does when its launcher dies. If the server dies, its running children end with exit code 1
once they have gone, and the next start launches a new server.

Protocol, over a ``SOCK_SEQPACKET`` socket pair (one message per packet, pickled tuples):
launcher -> server ``("start", "module:function", args, env)`` with the child's stdout as an
attached descriptor; server -> launcher ``("ready",)`` once after the imports, ``("started",
pid)`` for each start, in order, and ``("exit", pid, code)`` when a child ends (``code`` as
``Popen.returncode``: negative for a signal). The server exits when the socket closes.
"""

from __future__ import annotations

import atexit
import importlib
import os
import pickle
import queue
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Callable

PRELOAD = (
    "torch",
    "edgelam_ns3._core",
    "edgelam_ns3.config",
    "edgelam_ns3.runner",
    "edgelam_ns3.scenario",
    "edgelam_ns3.sim",
    "edgelam_ns3.arq",
    "edgelam_ns3.radio.summary",
    "edgelam_ns3.topology",
    "edgelam_ns3.traffic",
    "edgelam_ns3.frameworks.split_learning",
    "edgelam_ns3.frameworks.split_fed_lora",
    "edgelam_ns3.frameworks.fed_lora",
    "edgelam_ns3.frameworks.centralized",
    "edgelam_ns3.frameworks.looped_tp",
    "transformers.models.gpt2.modeling_gpt2",
    "models.split_gpt",
    "models.lora_split",
)
"""What the server imports before it forks: what a round framework's child imports (a module
missing here is imported by the child that needs it). Importing only, no torch work: a child
forked after torch ran parallel work can hang in OpenMP."""

MAX_MESSAGE = 1 << 20
SERVER_START_TIMEOUT_S = 300.0
"""How long the server may take to import :data:`PRELOAD` (about 8 s on 2 busy cores)."""


# -- the launcher's side -----------------------------------------------------------------------


class WarmServerError(RuntimeError):
    """The warm server could not start, or died."""


class WarmProcess:
    """A child forked from the server, seen as ``subprocess.Popen(..., stdout=PIPE,
    stderr=STDOUT, text=True)``."""

    def __init__(self, pid: int, stdout):
        self.pid, self.stdout = pid, stdout
        self.returncode: int | None = None
        self._ended = threading.Event()

    def _end(self, code: int) -> None:
        self.returncode = code
        self._ended.set()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(f"warm child {self.pid}", timeout)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Like Popen's: ProcessLookupError once the child has ended."""
        if self.returncode is not None:
            raise ProcessLookupError(self.pid)
        os.kill(self.pid, signum)

    def kill(self) -> None:
        try:
            self.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass


class _Server:
    """The launcher's handle on the server process: start requests go one at a time, a reader
    thread takes the replies."""

    def __init__(self) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        from .runner import PARENT_ENV

        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", "1")  # its children set their own torch threads
        env[PARENT_ENV] = str(os.getpid())  # it ends with this process, even while importing
        self.proc = subprocess.Popen([sys.executable, "-m", "edgelam_ns3.warm",
                                      str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                                     stdin=subprocess.DEVNULL, env=env)
        theirs.close()
        self.sock = mine
        self._started: queue.Queue = queue.Queue()
        self._children: dict[int, WarmProcess] = {}
        self._lock = threading.Lock()  # one start request at a time
        self.dead: str | None = None
        self.sock.settimeout(SERVER_START_TIMEOUT_S)
        try:
            reply = self._receive()
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            reply = exc
        if reply != ("ready",):
            self.proc.kill()
            raise WarmServerError(f"the warm-start server did not start: {reply!r} "
                                  f"(exit code {self.proc.wait()})")
        self.sock.settimeout(None)
        threading.Thread(target=self._read, name="edgelam-warm-server", daemon=True).start()
        atexit.register(self.shutdown)

    def shutdown(self) -> None:
        """End the server now (at this process's exit): it sees its socket close and exits;
        its running children get SIGTERM."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # closed already: it died
            pass
        self._wait_or_kill(5.0)

    def _wait_or_kill(self, timeout_s: float) -> None:
        """Wait for the server process to end (its socket is closed), killing it after
        ``timeout_s``."""
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _receive(self):
        data = self.sock.recv(MAX_MESSAGE)
        if not data:
            raise EOFError("the warm-start server closed its socket")
        return pickle.loads(data)

    def _read(self) -> None:
        try:
            while True:
                msg = self._receive()
                if msg[0] == "started":
                    child = WarmProcess(msg[1], None)
                    self._children[msg[1]] = child
                    self._started.put(child)
                elif msg[0] == "exit":
                    child = self._children.pop(msg[1], None)
                    if child is not None:
                        child._end(msg[2])
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            self._died(f"{type(exc).__name__}: {exc}")

    def _died(self, why: str) -> None:
        """The server ended: its children got SIGTERM (they die with it); each one ends with
        exit code 1 once it has gone."""
        self.dead = why
        self._started.put(None)
        self.sock.close()
        self._wait_or_kill(SERVER_START_TIMEOUT_S)  # it has closed its socket: it is ending
        for pid, child in list(self._children.items()):
            while _alive(pid):
                time.sleep(0.1)
            child._end(1)
        self._children.clear()

    def start(self, target: str, args: tuple, env: dict) -> WarmProcess:
        read, write = os.pipe()
        try:
            with self._lock:
                if self.dead:
                    raise WarmServerError(f"the warm-start server died ({self.dead})")
                payload = pickle.dumps(("start", target, args, env))
                try:
                    socket.send_fds(self.sock, [payload], [write])
                except OSError as exc:  # it died meanwhile
                    raise WarmServerError(f"the warm-start server died ({exc})") from None
                child = self._started.get()
        finally:
            os.close(write)
        if child is None:
            os.close(read)
            raise WarmServerError(f"the warm-start server died ({self.dead})")
        child.stdout = os.fdopen(read, "r", errors="replace")
        return child


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, ended but not yet reaped by its new parent, does
    not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):  # gone meanwhile, or no /proc
        return True


_SERVER: _Server | None = None
_SERVER_LOCK = threading.Lock()


def server() -> _Server:
    """This process's warm server, started (and its imports done) on the first call, and
    again after it died."""
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is None or _SERVER.dead:
            _SERVER = _Server()
        return _SERVER


def start(target: Callable[..., int], args: tuple, env: dict) -> WarmProcess:
    """Fork ``target(*args)`` (a module-level function, found by name in the server) from the
    server, with environment ``env``; its exit code is what ``target`` returns (0 for None)."""
    name = f"{target.__module__}:{target.__qualname__}"
    return server().start(name, args, env)


# -- the server's side -------------------------------------------------------------------------


def _serve(fd: int) -> None:
    """The server's loop: import :data:`PRELOAD`, say ready, then fork a child per request and
    report its end, until the launcher closes the socket."""
    from .runner import _die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the launcher's to handle
    # started from a launcher thread that held them blocked (runner._signals_held)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    _die_with_parent()  # SIGTERM when the launcher dies, also during the imports below
    sock = socket.socket(fileno=fd)
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # a child that needs it fails with the error itself
            continue
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wake-up fd is written
    sock.send(pickle.dumps(("ready",)))
    while True:
        try:
            ready, _, _ = select.select([sock, wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            os.read(wake_r, 4096)
            _reap(sock)
        if sock in ready:
            data, fds, _, _ = socket.recv_fds(sock, MAX_MESSAGE, 1)
            if not data:
                os._exit(0)  # the launcher has gone (no teardown of torch and the rest)
            _, target, args, env = pickle.loads(data)
            pid = os.fork()
            if pid == 0:
                sock.close()
                os.close(wake_r)
                os.close(wake_w)
                _child_main(target, args, env, fds[0])  # never returns
            os.close(fds[0])
            sock.send(pickle.dumps(("started", pid)))


def _reap(sock: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock.send(pickle.dumps(("exit", pid, os.waitstatus_to_exitcode(status))))


def _child_main(target: str, args: tuple, env: dict, out_fd: int) -> None:
    """In the forked child: signals as a cold child starts (SIGINT and SIGTERM blocked until
    its handlers are in, see :func:`edgelam_ns3.runner._signals_held`), the environment
    replaced by ``env``, stdout and stderr sent to ``out_fd``, then ``target``."""
    code = 1
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh interpreter
        os.environ.clear()
        os.environ.update(env)
        from .runner import PARENT_ENV

        # The process whose death ends this one (runner._die_with_parent): the server, which
        # ends when the launcher does.
        os.environ[PARENT_ENV] = str(os.getppid())
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        sys.stdout.reconfigure(line_buffering=True, write_through=True)  # as ``python -u``
        sys.stderr.reconfigure(line_buffering=True, write_through=True)
        module, _, qualname = target.partition(":")
        fn = importlib.import_module(module)
        for part in qualname.split("."):
            fn = getattr(fn, part)
        result = fn(*args)
        code = 0 if result is None else int(result)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the traceback goes to the child's output
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
