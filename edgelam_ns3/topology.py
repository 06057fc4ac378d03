"""From a scenario config to the network the simulator builds and the compute hosts on it."""

from __future__ import annotations

from .compute import BUILTIN_PROFILES, DeviceProfile
from .config import ScenarioConfig, read_replay_csv
from .sim import CrossTrafficSpec, LinkSpec, NetworkSpec, RadioSpec, RateTrace


def network_spec(cfg: ScenarioConfig) -> NetworkSpec:
    """The nodes and links of a scenario: each device's radio hop to the gNB (``radio.mode:
    ideal``: a point-to-point link; ``trace``: one whose rate per direction follows the UE's
    capacity trace), then the backhaul links, then cross traffic."""
    nodes = tuple(cfg.node_names())
    links = []
    radio = None
    if cfg.radio.mode == "ideal":
        ideal = cfg.radio.ideal
        rates = ideal.full_band_rates(cfg.nodes.n_devices)
        for i in range(cfg.nodes.n_devices):
            links.append(LinkSpec(f"ue{i}", "gnb", rates[i], ideal.delay_s, ideal.queue_packets))
    elif cfg.radio.mode == "trace":
        links += trace_links(cfg)
    else:
        r = cfg.radio
        radio = RadioSpec(gnbs=tuple(cfg.gnb_names()),
                          ues=tuple(f"ue{i}" for i in range(cfg.n_ues())),
                          helper_attrs=r.helper_attributes(), mac_attrs=r.mac_attributes(),
                          channel=r.channel, channel_attrs=r.channel_attributes(),
                          beam_attrs=r.beam_attributes(), bandwidth_hz=r.bandwidth_hz)
    gnbs = cfg.gnb_names()
    for link in cfg.backhaul.links:
        for a in (gnbs if link.a == "gnb" else [link.a]):
            for b in (gnbs if link.b == "gnb" else [link.b]):
                links.append(LinkSpec(a, b, link.rate_bps, link.delay_s, link.queue_packets))
    cross = []
    for ct in cfg.backhaul.cross_traffic:
        if ct.mode == "onoff":
            cross.append(CrossTrafficSpec(ct.src, ct.dst, "onoff", ct.rate_bps, ct.mean_on_s,
                                          ct.mean_off_s, ct.packet_bytes, ct.start_s))
        else:
            times, sizes = read_replay_csv(ct.csv)
            cross.append(CrossTrafficSpec(ct.src, ct.dst, "replay", packet_bytes=ct.packet_bytes,
                                          times_s=times, bytes=sizes))
    t = cfg.transport
    return NetworkSpec(nodes, tuple(links), tuple(cross), t.protocol, t.tcp_segment_bytes,
                       t.tcp_buffer_bytes, t.frame_header_bytes, radio, t.udp_timeout_s,
                       t.udp_max_tries, t.link_mtu_bytes)


def trace_links(cfg: ScenarioConfig) -> list[LinkSpec]:
    """``radio.mode: trace``: per device a link to the gNB whose uplink (ue -> gnb) and
    downlink (gnb -> ue) rates, delay and loss follow its series (ns3::TraceRateLink)."""
    from .radio.trace import load_ue_traces

    tc = cfg.radio.trace
    links = []
    for i, tr in enumerate(load_ue_traces(tc, cfg.nodes.n_devices)):
        common = dict(times_s=tuple(tr.times_s), delay_s=tuple(tr.delay_s), loss=tuple(tr.loss),
                      loop_period_s=tr.loop_period_s, min_rate_bps=tc.min_rate_bps,
                      share=tc.share)
        cell = tc.sharing == "cell"
        links.append(LinkSpec(f"ue{i}", "gnb", max(tr.dl_bps[0], tc.min_rate_bps), tc.delay_s,
                              tc.queue_packets,
                              trace_ab=RateTrace(rate_bps=tuple(tr.ul_bps),
                                                 access_delay_s=tc.ul_access_delay_s,
                                                 carrier="ul" if cell else None, **common),
                              trace_ba=RateTrace(rate_bps=tuple(tr.dl_bps),
                                                 carrier="dl" if cell else None, **common)))
    return links


def profile(cfg: ScenarioConfig, node: str) -> DeviceProfile:
    """The compute profile of a node: a user-defined one from ``profiles`` or a built-in."""
    name = cfg.profile_of(node)
    if name in cfg.profiles:
        p = cfg.profiles[name]
        return DeviceProfile(name=name, peak_flops=p.peak_flops, efficiency=p.efficiency,
                             mem_bw_bytes_per_s=p.mem_bw_bytes_per_s, power_w=p.power_w,
                             concurrency=p.concurrency)
    return BUILTIN_PROFILES[name]
