"""The co-simulation clock and network, as Python sees them.

ns-3 owns the clock. Python code runs only inside callbacks fired at simulated instants: a
message delivered (:meth:`Simulation.send`), a timer (:meth:`Simulation.schedule`), a periodic
link-state tap (:meth:`Simulation.every`). An exception raised in a callback stops the
simulation and reaches the caller of :meth:`Simulation.run` unchanged.

ns-3's simulator is a process singleton: one :class:`Simulation` may be alive per process.
Use it as a context manager, or call :meth:`close`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import _load_core
from .arq import UdpArq


@dataclass(frozen=True)
class RateTrace:
    """A piecewise-constant service rate (and optionally one-way delay and loss) for one
    direction of a link (``ns3::TraceRateLink``): sample k holds from times_s[k] (the first 0,
    increasing) to times_s[k+1]; the last until the end, or the series restarts every
    loop_period_s (0: no loop). A link's delay is its channel's, shared by both directions."""

    times_s: tuple[float, ...]
    rate_bps: tuple[float, ...]
    delay_s: tuple[float, ...] = ()
    loss: tuple[float, ...] = ()
    loop_period_s: float = 0.0
    min_rate_bps: float = 1e3
    share: float = 1.0
    """Fraction of the trace's rate served until :meth:`Simulation.set_link_share` changes it."""
    access_delay_s: float = 0.0
    """Wait of a packet that finds the direction idle (an NR uplink's scheduling request and
    grant); the packets queued behind it follow without it."""
    carrier: str | None = None
    """Directions naming the same carrier share it as an NR MAC does (``ns3::TraceCell``,
    work-conserving): their shares become weights among the directions with data, so one
    alone with data is served at its whole trace rate. None: served at share x its trace."""


@dataclass(frozen=True)
class LinkSpec:
    """A full-duplex point-to-point link between two named nodes; a direction with a
    :class:`RateTrace` (a to b: trace_ab) serves at the trace's rate instead of rate_bps,
    with delay_s added to the trace's delay."""

    a: str
    b: str
    rate_bps: float
    delay_s: float
    queue_packets: int = 1000
    trace_ab: RateTrace | None = None
    trace_ba: RateTrace | None = None


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

    def __post_init__(self):
        # ns-3's OnOffApplication takes a NaN, zero or negative rate without complaint and
        # then never advances (a hung run), so the values are checked here, one line each.
        name = f"cross traffic {self.src}->{self.dst}"
        if self.mode == "onoff":
            for key in ("rate_bps", "mean_on_s"):
                if not math.isfinite(getattr(self, key)) or getattr(self, key) <= 0:
                    raise ValueError(f"{name}: {key} must be finite and > 0, "
                                     f"got {getattr(self, key)!r}")
            for key in ("mean_off_s", "start_s"):
                if not math.isfinite(getattr(self, key)) or getattr(self, key) < 0:
                    raise ValueError(f"{name}: {key} must be finite and >= 0, "
                                     f"got {getattr(self, key)!r}")
            if not 1 <= self.packet_bytes <= 65000:
                raise ValueError(f"{name}: packet_bytes must be in [1, 65000], "
                                 f"got {self.packet_bytes!r}")
        elif self.mode == "replay":
            if len(self.times_s) != len(self.bytes):
                raise ValueError(f"{name}: times_s and bytes differ in length "
                                 f"({len(self.times_s)} vs {len(self.bytes)})")
            t = np.asarray(self.times_s, float)
            b = np.asarray(self.bytes, float)
            if not (np.isfinite(t).all() and (t >= 0).all() and (np.diff(t) >= 0).all()):
                raise ValueError(f"{name}: times_s must be finite, >= 0 and non-decreasing")
            if not (np.isfinite(b).all() and (b >= 0).all()):
                raise ValueError(f"{name}: bytes must be finite and >= 0")
        else:
            raise ValueError(f"{name}: mode must be 'onoff' or 'replay', got {self.mode!r}")


@dataclass(frozen=True)
class RadioSpec:
    """The 6G radio joining UEs to gNBs: ns-3 attribute values (strings) of its parts.

    :ivar gnbs: gNB node names; :ivar ues: UE node names (radio UE index = position here)
    """

    gnbs: tuple[str, ...]
    ues: tuple[str, ...]
    helper_attrs: dict = field(default_factory=dict)
    mac_attrs: dict = field(default_factory=dict)
    device_attrs: dict = field(default_factory=dict)
    channel: str = "3gpp"
    channel_attrs: dict = field(default_factory=dict)
    beam_attrs: dict = field(default_factory=dict)
    bandwidth_hz: float = 100e6
    stream: int = 10_000


@dataclass(frozen=True)
class NetworkSpec:
    """Nodes (by name, in index order), links, cross traffic, transport settings and the radio
    (None: devices attach by their point-to-point links)."""

    nodes: tuple[str, ...]
    links: tuple[LinkSpec, ...]
    cross_traffic: tuple[CrossTrafficSpec, ...] = ()
    protocol: str = "tcp"
    tcp_segment_bytes: int = 1448
    tcp_buffer_bytes: int = 1 << 20
    frame_header_bytes: int = 16
    radio: RadioSpec | None = None
    udp_timeout_s: float | None = None
    """Timeout of a UDP message's first copy, s (None: adaptive; see :mod:`edgelam_ns3.arq`)."""
    udp_max_tries: int = 6
    """Copies of a UDP message sent before it is lost (:class:`~edgelam_ns3.arq.MessageLost`)."""
    link_mtu_bytes: int = 1500
    """MTU of every point-to-point link's devices, bytes (not the NR radio's)."""


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
    radio: dict | None = None
    """Per-UE radio link states (zero-copy views, values over the period since the previous
    refresh), keyed ``serving_cell``, ``sinr_db`` (wideband DL, dB), ``mcs_dl``, ``mcs_ul``,
    ``bler_dl``, ``bler_ul``, ``dl_bytes``, ``ul_bytes``, ``dl_throughput_bps``,
    ``ul_throughput_bps``, ``dl_queue_bytes``, ``ul_queue_bytes``, ``harq_retx``,
    ``dl_sinr_eff_db``, ``csi_age_s`` (age of the DL CSI the last DL scheduling used, s),
    ``sinr_est_db`` (the wideband DL SINR the gNB believed then, dB; against ``sinr_db``, the
    true one measured now), ``srs_sinr_db`` (SINR of the SRS estimate in use; NaN with
    radio.csi.mode ideal), ``dl_layers`` (mean DL layers, i.e. rank, per transmission in the
    period), ``dl_co_scheduled`` (mean UEs on its DL RBGs, itself included),
    ``precoder_gain_db`` (mean DL precoder gain: received power over that of one gNB antenna
    at the same power, dB; NaN on the single-layer path); NaN without a DL transmission in
    the period; ``dl_ri``, ``dl_cqi``, ``dl_pmi`` (radio.csi.mode csi-rs: the RI, wideband
    CQI and PMI index of the CSI report in use, its age in ``csi_age_s``; ``dl_ri`` in mode srs:
    the rank chosen from the SRS estimate when max_layers_per_ue > 1; NaN otherwise or before
    the first report); plus ``ue`` (names). None without a radio."""


class Simulation:
    """One ns-3 simulation of a :class:`NetworkSpec`.

    :param network: the nodes and links
    :param seed: ns-3 RNG seed (>= 1)
    :param run: ns-3 run number (independent substreams for the same seed)
    :param on_message: called with every delivered :class:`Message` (e.g. a trace writer)
    :param bridge: the ``bridge`` config section; None or ``transport: inprocess``: ns-3 in
        this process; ``zmq``: in another process (:class:`~edgelam_ns3.zmq_bridge.ZmqCoSim`)
    """

    def __init__(self, network: NetworkSpec, seed: int = 1, run: int = 1,
                 on_message: Callable[[Message], None] | None = None, bridge=None):
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
        if bridge is None or bridge.transport == "inprocess":
            self._sim = core.CoSim(seed, run)
        else:
            from .zmq_bridge import ZmqCoSim

            self._sim = ZmqCoSim(bridge, seed, run)
        self._closed = False
        self._pending: dict[int, tuple[Callable[[Message], None] | None, str]] = {}
        self._on_message = on_message
        self.bytes_sent = 0
        self._streams = 5000  # ns-3 random streams of add_udp_flow's applications
        try:
            self._arq = UdpArq(self._sim, network.nodes, network.udp_timeout_s,
                               network.udp_max_tries)
            for name in network.nodes:
                self._sim.add_node(name)
            carriers: dict[str, list[int]] = {}  # carrier -> its directed links
            for link in network.links:
                u = self._sim.add_link(self._index[link.a], self._index[link.b],
                                       float(link.rate_bps), float(link.delay_s),
                                       int(link.queue_packets), int(network.link_mtu_bytes))
                self._set_traces(u, link, carriers)
            for members in carriers.values():  # shared once every member has its series
                self._sim.share_link_traces(members)
            if network.radio is not None:
                self._set_radio(network.radio)
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
            self._radio_views = None
            if network.radio is not None:
                self._radio_views = dict(self._sim.radio_views())
                self._radio_views["ue"] = np.array(network.radio.ues)
                self._ue_index = {u: i for i, u in enumerate(network.radio.ues)}
        except BaseException:
            self.close()
            raise

    def _set_traces(self, undirected: int, link: LinkSpec, carriers: dict) -> None:
        """Give the link's traced directions their series; add each that names a carrier to
        ``carriers`` (carrier -> directed links)."""
        for d, tr in enumerate((link.trace_ab, link.trace_ba)):
            if tr is not None:
                if tr.carrier is not None:
                    carriers.setdefault(tr.carrier, []).append(2 * undirected + d)
                def f(x):
                    return [float(v) for v in x]
                self._sim.set_link_trace(2 * undirected + d, f(tr.times_s), f(tr.rate_bps),
                                         f(tr.delay_s), f(tr.loss), float(link.delay_s),
                                         float(tr.loop_period_s), float(tr.min_rate_bps),
                                         20_000 + 2 * undirected + d,
                                         float(tr.access_delay_s))
                if tr.share != 1.0:
                    self._sim.set_link_share(2 * undirected + d, float(tr.share))

    def _set_radio(self, r: RadioSpec) -> None:
        from .radio.phy_tables import feed_bler_curves

        for name in (*r.gnbs, *r.ues):
            if name not in self._index:
                raise ValueError(f"network.radio: '{name}' is not a node")
        self._sim.set_radio(r.helper_attrs, r.mac_attrs, r.device_attrs, r.channel_attrs,
                            r.channel, r.beam_attrs, [self._index[g] for g in r.gnbs],
                            [self._index[u] for u in r.ues], r.stream)
        feed_bler_curves(
            lambda ch, t, m, snr, cb, bler: self._sim.add_bler_curve(
                ch, t, m, list(map(float, snr)), list(map(float, cb)),
                np.ravel(bler).astype(float).tolist()),
            lambda t, b: self._sim.set_eesm_betas(t, list(map(float, b))))

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
        states = LinkStates(0.0, self._link_src, self._link_dst, **self._views,
                            radio=self._radio_views)

        def tick():
            states.t_s = self._sim.now
            if self._radio_views is not None:
                self._sim.refresh_radio()
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
        messages between one pair share one connection and arrive in order. Over UDP a copy of
        the message is lost if any of its datagrams is: the receiver acknowledges each copy and
        the sender retransmits after a timeout (:class:`~edgelam_ns3.arq.UdpArq`); a message
        lost ``udp_max_tries`` times raises :class:`~edgelam_ns3.arq.MessageLost` from
        :meth:`run`. ``msg.t_send_s`` is the first copy's send instant. Returns the message
        id."""
        protocol = protocol or self.network.protocol
        if protocol not in ("tcp", "udp"):
            raise ValueError(f"send: protocol 'tcp' or 'udp', not {protocol!r}")
        nbytes = int(nbytes)
        if nbytes < 1:
            raise ValueError(f"send: nbytes must be >= 1, got {nbytes}")
        s, d = self.node_index(src), self.node_index(dst)
        mid = self._arq.send(s, d, nbytes, tag) if protocol == "udp" else \
            self._sim.send(s, d, nbytes, False)
        self._pending[mid] = (on_delivered, tag)
        self.bytes_sent += nbytes
        return mid

    @property
    def in_flight(self) -> int:
        """Messages sent and not yet delivered."""
        return len(self._pending)

    def udp_stats(self) -> dict[str, int]:
        """The UDP retransmissions so far (:meth:`edgelam_ns3.arq.UdpArq.stats`)."""
        return self._arq.stats()

    def add_udp_flow(self, src: str, dst: str, rate_bps: float, packet_bytes: int = 1472,
                     start_s: float = 0.0, port: int = 9) -> None:
        """Constant-bit-rate UDP from src to dst (ns-3 OnOffApplication, always on) into a
        sink at dst:port; read what arrived with :meth:`udp_rx_bytes`."""
        if not 1 <= port <= 65535 or port in (19999,) or 20000 <= port < 30000:
            raise ValueError(f"add_udp_flow: port {port} is reserved or invalid (use 30000-65535)")
        self._streams += self._sim.add_onoff(self.node_index(src), self.node_index(dst),
                                             float(rate_bps), 1.0, 0.0, int(packet_bytes),
                                             float(start_s), self._streams, int(port))

    def udp_rx_bytes(self, dst: str, port: int) -> int:
        """Bytes received so far by the UDP sink at dst:port."""
        return int(self._sim.sink_rx_bytes(self.node_index(dst), int(port)))

    def link_states(self) -> LinkStates:
        """The link counters now (zero-copy views; copy what you keep)."""
        self._sim.refresh_links()
        if self._radio_views is not None:
            self._sim.refresh_radio()
        return LinkStates(self.now, self._link_src, self._link_dst, **self._views,
                          radio=self._radio_views)

    def set_link_rate(self, a: str, b: str, rate_bps: float) -> None:
        """Change the line rate of the directed link a -> b from now on."""
        ia, ib = self.node_index(a), self.node_index(b)
        src, dst = self._sim.link_src, self._sim.link_dst
        for l, (s, d) in enumerate(zip(src, dst)):
            if s == ia and d == ib:
                self._sim.set_link_rate(l, float(rate_bps))
                return
        raise KeyError(f"no link {a} -> {b}")

    def set_link_share(self, a: str, b: str, share: float) -> None:
        """Serve the trace-driven directed link a -> b at ``share`` (>= 0) x its trace's rate
        from now on (see :class:`RateTrace`)."""
        ia, ib = self.node_index(a), self.node_index(b)
        for l, (s, d) in enumerate(zip(self._sim.link_src, self._sim.link_dst)):
            if s == ia and d == ib:
                self._sim.set_link_share(l, float(share))
                return
        raise KeyError(f"no link {a} -> {b}")

    # -- radio ------------------------------------------------------------------------------

    @property
    def has_radio(self) -> bool:
        """Whether UEs reach the gNBs through the 6G radio."""
        return self.network.radio is not None

    def _ue(self, ue: str) -> int:
        if not self.has_radio:
            raise RuntimeError("no radio in this network (radio.mode is not 'nr')")
        try:
            return self._ue_index[ue]
        except KeyError:
            raise KeyError(f"'{ue}' is not a UE of the radio") from None

    def set_radio_share(self, ue: str, share: float | None) -> None:
        """Guarantee a UE the fraction ``share`` of its cell's resource-block groups, in both
        directions, from now on: a minimum while it has data to send, not a cap or a
        reservation that idles. The MAC scheduler (RR or PF) gives the RBGs that no share
        claims, and those of shares whose UE has nothing to send, to every backlogged UE,
        counting what each already got. ``None`` or 0: no guarantee (the UE is scheduled like
        one without a share). See ``ns3::NrCellMac::SetUeShare``. With radio.mimo.max_layers
        > 1 (MU-MIMO: UEs share RBGs) a share > 0 is a ValueError."""
        if share is not None and not 0.0 <= float(share) <= 1.0:
            raise ValueError(f"set_radio_share: share must be in [0, 1] or None, got {share}")
        self._sim.set_ue_share(self._ue(ue), -1.0 if share is None else float(share))

    def set_radio_weight(self, ue: str, weight: float) -> None:
        """The scheduler's weight of a UE (RR: share of RBGs; PF: metric factor)."""
        self._sim.set_ue_weight(self._ue(ue), float(weight))

    def set_beam(self, ue: str, weights) -> None:
        """Set the serving gNB's beam toward a UE from now on: complex weights, one per gNB
        antenna element (normalised inside). Pauses the beam policy for that UE."""
        self._sim.set_beam(self._ue(ue), [complex(w) for w in np.ravel(weights)])

    def set_codeword(self, ue: str, index: int) -> None:
        """Serve a UE with DFT codeword ``index`` of the beam codebook from now on."""
        self._sim.set_codeword(self._ue(ue), int(index))

    def csi(self, ue: str) -> dict:
        """The serving gNB's CSI of a UE (what it believes) and the true channel now, side by
        side (copies; matrices complex128 [rx_ant, tx_ant, subband], large-scale loss
        excluded, as ``ns3::NrChannel::GetChannelMatrix``):

        - ``true``, ``path_gain_db``: the channel now;
        - ``estimate``, ``estimate_path_gain_db``: the gNB's (radio.csi.mode srs: its SRS
          estimate in use, or the one set by :meth:`set_csi`; None before the first usable
          SRS; ideal: the true channel, which it knows);
        - ``age_slots`` (slots from the sounding to the next scheduling; ideal: of its SINR
          measurement), ``age_s`` (from the sounding to now, s), ``srs_slot``,
          ``srs_sinr_db`` (the estimate's SINR, NMSE = 1 / SINR), ``external``;
        - ``mode`` ('ideal' | 'srs'), ``next_slot``, ``next_slot_s`` (its start), ``slot_s``.
        """
        return self._sim.csi(self._ue(ue))

    def set_csi(self, ue: str, h, from_slot: int | None = None, at_time: float | None = None,
                path_gain_db: float | None = None) -> None:
        """Replace the gNB's CSI of a UE by ``h`` (e.g. a predicted channel; [rx_ant, tx_ant,
        subband] as :meth:`csi`'s ``estimate``), used by link adaptation from slot
        ``from_slot``, or the first slot starting at or after ``at_time`` [s] (neither: the
        next slot), until the next ``set_csi`` or ``set_csi(ue, None)``, which returns to the
        gNB's own SRS estimates. ``path_gain_db`` None: the path gain now. Needs
        radio.csi.mode srs."""
        u = self._ue(ue)
        if from_slot is not None and at_time is not None:
            raise ValueError("set_csi: give from_slot or at_time, not both")
        if h is None:
            self._sim.set_csi(u, None)
            return
        slot = -1 if from_slot is None else int(from_slot)
        if at_time is not None:
            c = self._sim.csi(u)
            wait = max(0.0, float(at_time) - c["next_slot_s"]) / c["slot_s"]
            slot = int(c["next_slot"]) + int(np.ceil(wait - 1e-9))
        pg = float("nan") if path_gain_db is None else float(path_gain_db)
        self._sim.set_csi(u, np.asarray(h, dtype=complex), slot, pg)

    def set_precoders(self, ues: list[str] | None, w=None, layer_ue=None,
                      from_slot: int | None = None, at_time: float | None = None,
                      cell: int | None = None) -> None:
        """Set a cell's DL precoders and co-scheduled group (e.g. from an external or learned
        beamformer), used from slot ``from_slot``, or the first slot starting at or after
        ``at_time`` [s] (neither: the next slot), so that the beamformer's latency counts;
        they stay in use until a later setting of that cell takes effect (a call replaces the
        settings queued for its slot and later ones), and ``set_precoders(None, cell=c)``
        gives control back to the MAC's own grouping and precoders (radio.mimo) from its
        slot on.

        - ``ues``: the co-scheduled UEs (names, all served by one cell; that cell is used);
        - ``w``: complex, shape ``[N, L]`` (wideband: every RBG) or ``[n_rbg, N, L]`` (per
          RBG, n_rbg of the carrier as :meth:`precoding` lists them), ``N`` the gNB's
          antennas (gnb_array rows x cols, element order of :meth:`csi`'s ``tx_ant``), ``L``
          the layers; column l's squared norm is layer l's share of the gNB's power on the
          RBG (the sum over the columns must be <= 1; the power of a layer whose UE has no
          data in a slot is not redistributed);
        - ``layer_ue``: per layer, the position in ``ues`` of its UE (default: one layer per
          UE, ``range(len(ues))``, so ``L == len(ues)``).

        Each UE of the group with data gets the usable RBGs it needs (lowest first; a NACKed
        TB is retransmitted on as many RBGs as before when its layer count matches), one TB
        over its layers, its MCS from the gNB's CSI (radio.csi) through these precoders; the
        true channel decides the SINR (:meth:`precoding` reads it back). Works with any
        radio.mimo.max_layers (the DL uses the MU-MIMO path while precoders are set, where
        resource shares, :meth:`set_radio_share`, do not apply)."""
        if from_slot is not None and at_time is not None:
            raise ValueError("set_precoders: give from_slot or at_time, not both")
        if ues is None:
            if cell is None:
                raise ValueError("set_precoders: ues None gives control back; name the cell")
            g, idx = int(cell), []
        else:
            idx = [self._ue(u) for u in ues]
            if not idx:
                raise ValueError("set_precoders: ues must not be empty (None gives control "
                                 "back)")
            g = int(self.radio_ue_stats()["serving_cell"][idx[0]])
            if cell is not None and int(cell) != g:
                raise ValueError(f"set_precoders: {ues[0]} is served by cell {g}, not {cell}")
        slot = -1 if from_slot is None else int(from_slot)
        if at_time is not None:
            c = self._sim.csi(idx[0]) if idx else self._sim.csi(self._first_ue_of(g))
            wait = max(0.0, float(at_time) - c["next_slot_s"]) / c["slot_s"]
            slot = int(c["next_slot"]) + int(np.ceil(wait - 1e-9))
        if ues is None:
            self._sim.set_precoders(g, [], np.zeros((1, 1, 1), complex), [], slot)
            return
        lu = list(range(len(idx))) if layer_ue is None else [int(x) for x in layer_ue]
        self._sim.set_precoders(g, idx, np.asarray(w, dtype=complex), lu, slot)

    def _first_ue_of(self, cell: int) -> int:
        cells = self.radio_ue_stats()["serving_cell"]
        hits = np.flatnonzero(cells == cell)
        if not len(hits):
            raise ValueError(f"cell {cell} serves no UE")
        return int(hits[0])

    def precoding(self, cell: int = 0) -> list[dict]:
        """The DL MU-MIMO state of a cell's last scheduled slot, one dict per RBG (empty
        groups outside the MU-MIMO path): ``ues`` (UE indices in :class:`RadioSpec` order),
        ``layer_ue`` (per layer, position in ``ues``), ``w`` (precoders [N, L], W/Hz per
        layer), ``est_sinr`` (per layer from the gNB's CSI) and ``sinr`` (true, at
        transmission, MMSE receiver) [-], ``precoder_gain_db`` (per layer: received power
        over that of one transmit antenna at the same power), ``h`` (per UE the true
        channel the SINR used, sqrt(path gain) H [rx_ant, N]) and ``noise_psd`` [W/Hz]."""
        return self._sim.precoding(int(cell))

    def radio_slots(self) -> int:
        """Slots simulated by the radio so far."""
        return int(self._sim.radio_slots())

    def radio_links(self) -> dict[str, np.ndarray]:
        """Every (gNB, UE) pair now, one float64 array [gnb, ue] per key (gNBs and UEs in
        :class:`RadioSpec` order): ``path_gain_db`` (minus path loss and shadowing, TR 38.901
        Table 7.4.1-1), ``coupling_gain_db`` (path gain plus the mean power gain of the
        small-scale channel over antenna pairs and subbands: an RSRP over the transmit power;
        each UE attaches to the gNB of largest transmit power plus coupling gain), ``los`` (1:
        line of sight), ``distance_2d_m`` and ``distance_3d_m``."""
        if not self.has_radio:
            raise RuntimeError("no radio in this network (radio.mode is not 'nr')")
        return {k: np.asarray(v) for k, v in self._sim.radio_links().items()}

    def radio_ue_stats(self) -> dict[str, np.ndarray]:
        """Per-UE MAC statistics since the start, one float64 array over UEs per key.

        ``serving_cell``, and per direction ``d`` in ``("dl", "ul")`` the raw counters
        ``{d}_tb_first``, ``{d}_tb_first_err``, ``{d}_tb_tx``, ``{d}_tb_err``, ``{d}_retx``,
        ``{d}_tb_lost``, ``{d}_mac_bytes`` [bytes], ``{d}_sum_sinr_eff_db``, ``{d}_sum_mcs``,
        ``{d}_wideband_sinr_db`` (last CSI measurement) [dB], and the figures derived from them
        in C++ (``ns3::NrMacStats``, the one place they are derived): ``{d}_bler`` (first
        transmissions) [-], ``{d}_mean_sinr_db`` [dB], ``{d}_mean_mcs`` (NaN for a UE without a
        first transmission), ``{d}_bler_all`` (all transmissions) and ``{d}_mean_rbg``.
        """
        return {k: np.asarray(v) for k, v in self._sim.radio_ue_stats().items()}

    def _delivered(self, rec) -> None:
        if rec[4]:  # UDP: an ACK or a duplicate copy stays in the transport
            rec = self._arq.on_delivery(rec)
            if rec is None:
                return
        mid, src, dst, nbytes, udp, t_send, t_first, t_last = rec
        cb, tag = self._pending.pop(mid, (None, ""))
        msg = Message(mid, self.network.nodes[src], self.network.nodes[dst], nbytes, tag,
                      "udp" if udp else "tcp", t_send, t_first, t_last)
        if self._on_message is not None:
            self._on_message(msg)
        if cb is not None:
            cb(msg)
