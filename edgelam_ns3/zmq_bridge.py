"""Out-of-process coupling over ZeroMQ (``bridge.transport: zmq``; doc/zmq.md).

:class:`ZmqCoSim` stands in for the in-process ``edgelam_ns3._core.CoSim`` behind
:class:`edgelam_ns3.sim.Simulation`: the same calls, carried to an ns-3 program in another
process built with the edgelam-zmq module (ns3_scenarios/contrib/edgelam-zmq): by default this
package's own network model, ``edgelam-zmq-server``, or a user's scenario in their own ns-3
tree. Wire format: bridge/zmq-wire-format.md.

ns-3 owns the clock: while it runs, this side blocks in a poll until an event (a timer, a
delivery, a link-state tap) arrives, runs its callback, answers the calls the callback makes,
and hands control back (DONE). Every wait is a blocking poll in slices of at most 0.25 s (no
busy spinning); a started ns-3 program that exits is reported within a slice, and silence
longer than ``bridge.timeout_s`` raises :class:`BridgeError` naming the other side.
"""

from __future__ import annotations

import math
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

WIRE_VERSION = 1
"""Version byte of every message (bridge/zmq-wire-format.md)."""

# message types (bridge/zmq-wire-format.md; contrib/edgelam-zmq/model/edgelam-zmq-wire.h)
HELLO, WELCOME, CALL, RESULT, ERROR, SCHEDULE, EVERY, CANCEL, RUN, STOP, LINKS, CLOSE = range(1, 13)
TIMER, DELIVERED, TICK, RUN_DONE, LINK_STATES, DONE, BYE = range(20, 27)

_POLL_SLICE_MS = 250
_LINK_KEYS = ("rate_bps", "queue_bytes", "delivered_bytes", "dropped_packets")


class BridgeError(RuntimeError):
    """The ns-3 side of the ZeroMQ bridge died, stayed silent, or broke the protocol."""


def server_path() -> Path:
    """The package's ``edgelam-zmq-server`` (built and installed beside the compiled bridge)."""
    from . import _load_core

    path = Path(_load_core().__file__).with_name("edgelam-zmq-server")
    if not path.exists():
        raise BridgeError(f"bridge.transport zmq: {path} is not built (the build needs "
                          "libzmq3-dev and cppzmq-dev; run scripts/setup.sh)")
    return path


class _Writer:
    def __init__(self, mtype: int):
        self.parts = [bytes((WIRE_VERSION, mtype))]

    def put(self, fmt: str, *v) -> _Writer:
        self.parts.append(struct.pack("<" + fmt, *v))
        return self

    def string(self, s: str) -> _Writer:
        b = s.encode()
        return self.put("I", len(b)).raw(b)

    def strings(self, v) -> _Writer:
        self.put("I", len(v))
        for s in v:
            self.string(s)
        return self

    def f64s(self, v) -> _Writer:
        a = np.asarray(v, dtype="<f8")
        return self.put("I", a.size).raw(a.tobytes())

    def raw(self, b: bytes) -> _Writer:
        self.parts.append(b)
        return self

    def bytes(self) -> bytes:
        return b"".join(self.parts)


class _Reader:
    def __init__(self, buf: bytes, offset: int = 2):
        self.buf, self.off = buf, offset

    def get(self, fmt: str):
        v = struct.unpack_from("<" + fmt, self.buf, self.off)
        self.off += struct.calcsize("<" + fmt)
        return v

    def string(self) -> str:
        (n,) = self.get("I")
        s = self.buf[self.off:self.off + n].decode()
        self.off += n
        return s

    def strings(self) -> list[str]:
        (n,) = self.get("I")
        return [self.string() for _ in range(n)]

    def array(self, dtype: str) -> np.ndarray:
        (n,) = self.get("I")
        a = np.frombuffer(self.buf, dtype=dtype, count=n, offset=self.off)
        self.off += a.nbytes
        return a


class ZmqCoSim:
    """The ns-3 simulation in another process, with the interface of the in-process ``CoSim``
    that :class:`~edgelam_ns3.sim.Simulation` uses.

    :param bridge: the ``bridge`` config section (:class:`edgelam_ns3.config.BridgeConfig`)
    :param seed: ns-3 RNG seed; :param run: ns-3 run number
    """

    def __init__(self, bridge, seed: int, run: int):
        import zmq

        self._zmq = zmq
        self._timeout_s = float(bridge.timeout_s)
        self._dir = tempfile.mkdtemp(prefix="edgelam-zmq-")  # private (0700): ipc and log
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.PAIR)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._proc = None
        self._closed = False
        self.now = 0.0
        self._timers: dict[int, Callable] = {}
        self._every: dict[int, tuple] = {}
        self._token = 0
        self._delivery: Callable | None = None
        self._exc: BaseException | None = None
        self._links = None
        self._session = False
        self._busy = False  # a command awaits its reply, or ns-3 is executing events
        self._stop_pending = False
        try:
            self.endpoint = self._bind(bridge.endpoint)
            self._start(bridge)
            self._handshake()
            if "seed" in self._handlers:
                self._call("seed", seed, run)
        except BaseException:
            self.destroy()
            raise

    # -- session ----------------------------------------------------------------------------

    def _bind(self, endpoint: str) -> str:
        if endpoint == "ipc":
            endpoint = f"ipc://{self._dir}/bridge.ipc"
        elif endpoint == "tcp":
            endpoint = "tcp://127.0.0.1:*"  # loopback, a free port
        self._sock.bind(endpoint)
        return self._sock.getsockopt_string(self._zmq.LAST_ENDPOINT)

    def _start(self, bridge) -> None:
        command = bridge.command
        if command is None:
            command = [str(server_path()), "--edgelam-endpoint={endpoint}"]
        self._what = f"the ns-3 side at {self.endpoint}"
        if not command:
            return  # an ns-3 program started by the user connects
        argv = [a.replace("{endpoint}", self.endpoint) for a in command]
        self._log = os.path.join(self._dir, "ns3.log")
        with open(self._log, "wb") as log:
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT)
        self._what = f"the ns-3 side ({Path(argv[0]).name}, pid {self._proc.pid})"

    def _handshake(self) -> None:
        msg = self._recv("its HELLO")
        if msg[1] != HELLO:
            raise BridgeError(f"bridge: {self._what} opened with message type {msg[1]}, "
                              "not HELLO")
        r = _Reader(msg)
        self._handlers = set(r.strings())
        self.nodes = r.strings()
        self._send(_Writer(WELCOME).put("q", os.getpid()).bytes(), "WELCOME")
        self._session = True

    def _wait(self, event: int, waiting_for: str) -> None:
        """Block in a poll (slices of 0.25 s) until the socket is ready for ``event``, the
        started ns-3 program exits, or bridge.timeout_s passes."""
        waited = 0.0
        while not self._sock.poll(_POLL_SLICE_MS, event):
            waited += _POLL_SLICE_MS / 1e3
            if self._proc is not None and self._proc.poll() is not None:
                raise BridgeError(f"bridge: {self._what} exited with code "
                                  f"{self._proc.returncode} while Python waited for "
                                  f"{waiting_for}{self._log_tail()}")
            if waited >= self._timeout_s:
                raise BridgeError(f"bridge: no message from {self._what} within "
                                  f"{self._timeout_s:g} s (bridge.timeout_s) while Python "
                                  f"waited for {waiting_for}")

    def _send(self, msg: bytes, what: str) -> None:
        # a PAIR socket without its peer blocks in send: wait for room as for a reply
        try:
            self._sock.send(msg, self._zmq.NOBLOCK)
        except self._zmq.Again:
            self._wait(self._zmq.POLLOUT, f"room to send {what}")
            self._sock.send(msg, self._zmq.NOBLOCK)

    def _recv(self, waiting_for: str) -> bytes:
        """The next message (see :meth:`_wait`)."""
        self._wait(self._zmq.POLLIN, waiting_for)
        msg = self._sock.recv()
        if len(msg) < 2 or msg[0] != WIRE_VERSION:
            raise BridgeError(f"bridge: {self._what} speaks wire format version "
                              f"{msg[0] if msg else '?'}, this side {WIRE_VERSION}")
        return msg

    def _log_tail(self) -> str:
        try:
            with open(self._log, "rb") as f:
                tail = f.read()[-400:].decode(errors="replace").strip()
        except (OSError, AttributeError):
            return ""
        return f"; its output ends: {tail}" if tail else ""

    def _request(self, msg: bytes, what: str) -> bytes:
        self._busy = True
        try:
            self._send(msg, what)
            reply = self._recv(f"the reply to {what}")
        finally:
            self._busy = False
        if reply[1] == ERROR:
            raise ValueError(f"{what}: {_Reader(reply).string()}")
        return reply

    def _call(self, name: str, *nums, strs=()) -> np.ndarray:
        """Call the handler ``name`` of the ns-3 scenario; its result (float64)."""
        msg = _Writer(CALL).string(name).f64s(nums).strings(strs).bytes()
        return _Reader(self._request(msg, name)).array("<f8")

    def _need(self, name: str) -> None:
        if name not in self._handlers:
            raise BridgeError(f"bridge: {self._what} has no handler '{name}' (it has: "
                              f"{', '.join(sorted(self._handlers)) or 'none'})")

    def destroy(self) -> None:
        """Close the session (the ns-3 side destroys its simulation and exits), stop the
        program if it does not, and remove the private directory (ipc endpoint, log)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._session and (self._proc is None or self._proc.poll() is None):
                self._sock.send(_Writer(CLOSE).bytes(), self._zmq.NOBLOCK)
                if self._sock.poll(min(5000, int(self._timeout_s * 1e3))):
                    self._sock.recv()
        except Exception:  # noqa: BLE001 - closing: the other side may be gone already
            pass
        finally:
            self._sock.close(linger=0)
            self._ctx.term()
            if self._proc is not None:
                if not self._session:  # it never said HELLO: nothing to wait for
                    self._proc.kill()
                try:
                    self._proc.wait(5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            shutil.rmtree(self._dir, ignore_errors=True)

    # -- clock ------------------------------------------------------------------------------

    def _next_token(self) -> int:
        self._token += 1
        return self._token

    def schedule(self, delay_s: float, fn: Callable) -> None:
        if not delay_s >= 0:
            raise ValueError("schedule: delay must be >= 0 s")
        token = self._next_token()
        self._timers[token] = fn
        self._request(_Writer(SCHEDULE).put("Qd", token, delay_s).bytes(), "schedule")

    def every(self, period_s: float, fn: Callable, arg=None, refresh_links: bool = True) -> int:
        if not period_s > 0:
            raise ValueError("every: period must be > 0 s")
        token = self._next_token()
        self._every[token] = (fn, arg, refresh_links)
        self._request(_Writer(EVERY).put("QdB", token, period_s, bool(refresh_links)).bytes(),
                      "every")
        return token

    def cancel(self, every_id: int) -> None:
        if self._every.pop(every_id, None) is not None:
            self._request(_Writer(CANCEL).put("Q", every_id).bytes(), "cancel")

    def stop(self) -> None:
        if self._busy:  # e.g. a signal handler while ns-3 runs: sent before the next DONE
            self._stop_pending = True
            return
        self._request(_Writer(STOP).bytes(), "stop")

    def run(self, until_s: float | None = None) -> None:
        if until_s is not None and until_s < self.now:
            raise ValueError("run: until_s is in the past")
        self._busy = True  # from RUN or DONE sent to the next event: ns-3 executes
        self._send(_Writer(RUN).put("d", math.nan if until_s is None else until_s).bytes(), "run")
        while True:
            try:
                msg = self._recv("the next event of the running simulation")
            finally:
                self._busy = False
            kind = msg[1]
            if kind == RUN_DONE:
                (self.now,) = _Reader(msg).get("d")
                break
            self._event(kind, msg)
            if self._stop_pending:
                self._stop_pending = False
                self.stop()
            self._busy = True
            self._send(_Writer(DONE).bytes(), "DONE")
        if self._exc is not None:
            exc, self._exc = self._exc, None
            raise exc

    def _event(self, kind: int, msg: bytes) -> None:
        r = _Reader(msg)
        if kind == DELIVERED:
            self.now, mid, src, dst, nbytes, udp, t0, t1, t2 = r.get("dQIIQBddd")
            if self._delivery is not None:
                self._invoke(self._delivery, (mid, src, dst, nbytes, bool(udp), t0, t1, t2))
        elif kind == TIMER:
            self.now, token = r.get("dQ")
            self._invoke(self._timers.pop(token))
        elif kind == TICK:
            self.now, token, links = r.get("dQB")
            if links:
                self._read_links(r)
            fn, arg, _ = self._every.get(token, (None, None, None))
            if fn is not None:
                self._invoke(fn) if arg is None else self._invoke(fn, arg)
        else:
            raise BridgeError(f"bridge: {self._what} sent message type {kind} during run")

    def _invoke(self, fn: Callable, *args) -> None:
        """Run a callback; an exception stops the simulation and reaches run()'s caller (as
        in-process)."""
        if self._exc is not None:
            return
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised by run()
            self._exc = exc
            self.stop()

    # -- network ----------------------------------------------------------------------------

    def add_node(self, name: str) -> int:
        if "add_node" in self._handlers:
            return int(self._call("add_node", strs=(name,))[0])
        i = getattr(self, "_n_nodes", 0)  # the scenario declared its nodes in HELLO
        if i >= len(self.nodes) or self.nodes[i] != name:
            raise BridgeError(f"bridge: node {i} is '{name}' here, but {self._what} declares "
                              f"nodes {self.nodes}")
        self._n_nodes = i + 1
        return i

    def add_link(self, a: int, b: int, rate_bps: float, delay_s: float,
                 queue_packets: int, mtu_bytes: int = 1500) -> int:
        if "add_link" in self._handlers:
            return int(self._call("add_link", a, b, rate_bps, delay_s, queue_packets,
                                  mtu_bytes)[0])
        self._n_undirected = getattr(self, "_n_undirected", 0) + 1  # the scenario's own links
        return self._n_undirected - 1

    def set_link_trace(self, link, times_s, rates_bps, delays_s, losses, base_delay_s,
                       loop_period_s, min_rate_bps, stream, access_delay_s=0.0) -> None:
        self._need("set_link_trace")
        self._call("set_link_trace", link, base_delay_s, loop_period_s, min_rate_bps, stream,
                   len(times_s), len(delays_s), len(losses), *times_s, *rates_bps, *delays_s,
                   *losses, access_delay_s)

    def finalize(self, tcp_segment_size=1448, tcp_buffer_bytes=1 << 20,
                 frame_header_bytes=16) -> None:
        if "finalize" in self._handlers:
            self._call("finalize", tcp_segment_size, tcp_buffer_bytes, frame_header_bytes)
        self.refresh_links()

    def add_onoff(self, src, dst, rate_bps, mean_on_s, mean_off_s, packet_size, start_s,
                  stream, port=9) -> int:
        self._need("add_onoff")
        return int(self._call("add_onoff", src, dst, rate_bps, mean_on_s, mean_off_s,
                              packet_size, start_s, stream, port)[0])

    def add_replay(self, src, dst, times_s, nbytes) -> None:
        self._need("add_replay")
        if len(times_s) != len(nbytes):
            raise ValueError("replay: times and bytes differ in length")
        self._call("add_replay", src, dst, len(times_s), *times_s, *nbytes)

    def sink_rx_bytes(self, node: int, port: int = 9) -> int:
        self._need("sink_rx_bytes")
        return int(self._call("sink_rx_bytes", node, port)[0])

    def set_delivery_handler(self, fn: Callable) -> None:
        self._delivery = fn

    def send(self, src: int, dst: int, nbytes: int, udp: bool = False) -> int:
        return int(self._call("send", src, dst, nbytes, bool(udp))[0])

    def set_link_rate(self, link: int, rate_bps: float) -> None:
        self._need("set_link_rate")
        self._call("set_link_rate", link, rate_bps)

    def set_link_share(self, link: int, share: float) -> None:
        self._need("set_link_share")
        self._call("set_link_share", link, share)

    def share_link_traces(self, links: list[int]) -> None:
        self._need("share_link_traces")
        self._call("share_link_traces", *links)

    # -- link states ------------------------------------------------------------------------

    def refresh_links(self) -> None:
        msg = self._request(_Writer(LINKS).bytes(), "refresh_links")
        r = _Reader(msg)
        (self.now,) = r.get("d")
        self._read_links(r)

    def _read_links(self, r: _Reader) -> None:
        src, dst = r.array("<u4"), r.array("<u4")
        cols = [r.array("<f8") for _ in _LINK_KEYS]
        if self._links is None:  # first report: the views keep their identity from now on
            self._src, self._dst = src.astype(np.int64), dst.astype(np.int64)
            self._links = {k: c.copy() for k, c in zip(_LINK_KEYS, cols)}
        else:
            for k, c in zip(_LINK_KEYS, cols):
                self._links[k][:] = c

    @property
    def link_src(self) -> list[int]:
        return self._src.tolist()

    @property
    def link_dst(self) -> list[int]:
        return self._dst.tolist()

    @property
    def n_directed_links(self) -> int:
        return len(self._src)

    def link_views(self) -> dict[str, np.ndarray]:
        """The per-directed-link counters, updated in place at every tap and refresh_links."""
        return self._links

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        raise BridgeError(f"bridge.transport zmq: '{name}' is not carried over the ZeroMQ "
                          "bridge (the 6G radio runs in-process only: radio.mode ideal or "
                          "trace)")
