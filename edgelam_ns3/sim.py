"""The co-simulation clock and network, as Python sees them.

ns-3 owns the clock. Python code runs only inside callbacks fired at simulated instants: a
message delivered (:meth:`Simulation.send`), a timer (:meth:`Simulation.schedule`), a periodic
link-state tap (:meth:`Simulation.every`). An exception raised in a callback stops the
simulation and reaches the caller of :meth:`Simulation.run` unchanged.

ns-3's simulator is a process singleton: one :class:`Simulation` may be alive per process.
Use it as a context manager, or call :meth:`close`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import _load_core


@dataclass(frozen=True)
class LinkSpec:
    """A full-duplex point-to-point link between two named nodes."""

    a: str
    b: str
    rate_bps: float
    delay_s: float
    queue_packets: int = 1000


@dataclass(frozen=True)
class CrossTrafficSpec:
    """Background UDP traffic from src to dst: on/off (rate while on) or a replayed trace."""

    src: str
    dst: str
    mode: str  # "onoff" | "replay"
    rate_bps: float = 0.0
    mean_on_s: float = 1.0
    mean_off_s: float = 1.0
    packet_bytes: int = 1472
    start_s: float = 0.0
    times_s: tuple[float, ...] = ()
    bytes: tuple[float, ...] = ()


@dataclass(frozen=True)
class NetworkSpec:
    """Nodes (by name, in index order), links, cross traffic and transport settings."""

    nodes: tuple[str, ...]
    links: tuple[LinkSpec, ...]
    cross_traffic: tuple[CrossTrafficSpec, ...] = ()
    protocol: str = "tcp"
    tcp_segment_bytes: int = 1448
    tcp_buffer_bytes: int = 1 << 20
    frame_header_bytes: int = 16


@dataclass(frozen=True)
class Message:
    """A delivered application message. Times are simulated seconds."""

    id: int
    src: str
    dst: str
    bytes: int
    tag: str
    protocol: str
    t_send_s: float
    t_first_byte_s: float
    t_delivered_s: float

    @property
    def latency_s(self) -> float:
        """Send to last byte delivered, s."""
        return self.t_delivered_s - self.t_send_s


@dataclass
class LinkStates:
    """Per directed link counters at instant ``t_s``. The arrays are zero-copy views of the
    simulator's own counters: read them inside the callback, copy what you keep.

    :ivar src: source node name per directed link, shape [n_links]
    :ivar dst: destination node name per directed link, shape [n_links]
    :ivar rate_bps: line rate, bit/s, float64 [n_links]
    :ivar queue_bytes: bytes in the transmit queue, float64 [n_links]
    :ivar delivered_bytes: bytes delivered since the start (link-layer), float64 [n_links]
    :ivar dropped_packets: queue drops since the start, float64 [n_links]
    """

    t_s: float
    src: np.ndarray
    dst: np.ndarray
    rate_bps: np.ndarray
    queue_bytes: np.ndarray
    delivered_bytes: np.ndarray
    dropped_packets: np.ndarray


class Simulation:
    """One ns-3 simulation of a :class:`NetworkSpec`.

    :param network: the nodes and links
    :param seed: ns-3 RNG seed (>= 1)
    :param run: ns-3 run number (independent substreams for the same seed)
    :param on_message: called with every delivered :class:`Message` (e.g. a trace writer)
    """

    def __init__(self, network: NetworkSpec, seed: int = 1, run: int = 1,
                 on_message: Callable[[Message], None] | None = None):
        core = _load_core()
        self.network = network
        self._index = {name: i for i, name in enumerate(network.nodes)}
        if len(self._index) != len(network.nodes):
            raise ValueError("network: node names must be unique")
        for link in network.links:
            for end in (link.a, link.b):
                if end not in self._index:
                    raise ValueError(f"network: link endpoint '{end}' is not a node")
        if network.protocol not in ("tcp", "udp"):
            raise ValueError(f"network.protocol: 'tcp' or 'udp', not {network.protocol!r}")
        self._sim = core.CoSim(seed, run)
        self._closed = False
        self._pending: dict[int, tuple[Callable[[Message], None] | None, str]] = {}
        self._on_message = on_message
        self.bytes_sent = 0
        try:
            for name in network.nodes:
                self._sim.add_node(name)
            for link in network.links:
                self._sim.add_link(self._index[link.a], self._index[link.b], float(link.rate_bps),
                                   float(link.delay_s), int(link.queue_packets))
            self._sim.finalize(network.tcp_segment_bytes, network.tcp_buffer_bytes,
                               network.frame_header_bytes)
            stream = 1000
            for ct in network.cross_traffic:
                src, dst = self._index[ct.src], self._index[ct.dst]
                if ct.mode == "onoff":
                    stream += self._sim.add_onoff(src, dst, ct.rate_bps, ct.mean_on_s,
                                                  ct.mean_off_s, ct.packet_bytes, ct.start_s, stream)
                else:
                    self._sim.add_replay(src, dst, list(ct.times_s), list(ct.bytes))
            self._sim.set_delivery_handler(self._delivered)
            names = np.array(network.nodes)
            self._link_src = names[np.asarray(self._sim.link_src, dtype=int)]
            self._link_dst = names[np.asarray(self._sim.link_dst, dtype=int)]
            self._views = self._sim.link_views()
        except BaseException:
            self.close()
            raise

    # -- clock ------------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """Current simulated time, s."""
        return self._sim.now

    def schedule(self, delay_s: float, fn: Callable, *args) -> None:
        """Call ``fn(*args)`` after ``delay_s`` simulated seconds."""
        if args:
            self._sim.schedule(float(delay_s), lambda: fn(*args))
        else:
            self._sim.schedule(float(delay_s), fn)

    def every(self, period_s: float, fn: Callable[[LinkStates], None]) -> int:
        """Call ``fn(link_states)`` every ``period_s`` simulated seconds; returns an id for
        :meth:`cancel`. The periodic tap keeps the simulation alive: stop it when done."""
        states = LinkStates(0.0, self._link_src, self._link_dst, **self._views)

        def tick():
            states.t_s = self._sim.now
            fn(states)

        return self._sim.every(float(period_s), tick, None, True)

    def cancel(self, every_id: int) -> None:
        """Stop a periodic callback."""
        self._sim.cancel(every_id)

    def run(self, until_s: float | None = None) -> None:
        """Run until no event is left, :meth:`stop` is called, or ``until_s``."""
        self._sim.run(until_s)

    def stop(self) -> None:
        """Stop :meth:`run` after the current event."""
        self._sim.stop()

    def close(self) -> None:
        """Destroy the ns-3 simulation (frees the process's simulator singleton)."""
        if not self._closed:
            self._closed = True
            self._sim.destroy()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- network ----------------------------------------------------------------------------

    def node_index(self, name: str) -> int:
        """Index of a node by name."""
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"unknown node '{name}' (known: {', '.join(self._index)})") from None

    def send(self, src: str, dst: str, nbytes: int,
             on_delivered: Callable[[Message], None] | None = None, tag: str = "",
             protocol: str | None = None) -> int:
        """Send an application message of ``nbytes`` bytes from ``src`` to ``dst`` now.

        ``on_delivered(msg)`` fires at the instant its last byte arrives. Over TCP (default)
        messages between one pair share one connection and arrive in order; over UDP a message
        is lost if any of its datagrams is. Returns the message id."""
        protocol = protocol or self.network.protocol
        if protocol not in ("tcp", "udp"):
            raise ValueError(f"send: protocol 'tcp' or 'udp', not {protocol!r}")
        nbytes = int(nbytes)
        if nbytes < 1:
            raise ValueError(f"send: nbytes must be >= 1, got {nbytes}")
        mid = self._sim.send(self.node_index(src), self.node_index(dst), nbytes, protocol == "udp")
        self._pending[mid] = (on_delivered, tag)
        self.bytes_sent += nbytes
        return mid

    @property
    def in_flight(self) -> int:
        """Messages sent and not yet delivered."""
        return len(self._pending)

    def link_states(self) -> LinkStates:
        """The link counters now (zero-copy views; copy what you keep)."""
        self._sim.refresh_links()
        return LinkStates(self.now, self._link_src, self._link_dst, **self._views)

    def set_link_rate(self, a: str, b: str, rate_bps: float) -> None:
        """Change the line rate of the directed link a -> b from now on."""
        ia, ib = self.node_index(a), self.node_index(b)
        src, dst = self._sim.link_src, self._sim.link_dst
        for l, (s, d) in enumerate(zip(src, dst)):
            if s == ia and d == ib:
                self._sim.set_link_rate(l, float(rate_bps))
                return
        raise KeyError(f"no link {a} -> {b}")

    def _delivered(self, rec) -> None:
        mid, src, dst, nbytes, udp, t_send, t_first, t_last = rec
        cb, tag = self._pending.pop(mid, (None, ""))
        msg = Message(mid, self.network.nodes[src], self.network.nodes[dst], nbytes, tag,
                      "udp" if udp else "tcp", t_send, t_first, t_last)
        if self._on_message is not None:
            self._on_message(msg)
        if cb is not None:
            cb(msg)
