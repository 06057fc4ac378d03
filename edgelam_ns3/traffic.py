"""Full-buffer traffic of a scenario (``traffic``): UDP flows that keep every UE's queue
backlogged in each direction asked for, and the traffic-only run (``train.framework: none``)."""

from __future__ import annotations

from dataclasses import dataclass

from .config import ScenarioConfig
from .sim import Simulation

DL_PORT, UL_PORT = 30000, 40000
"""UDP port of UE u's flow: DL_PORT + u (downlink), UL_PORT + u (uplink)."""

FULL_BUFFER_HEADROOM = 1.2
"""Default offered rate over the most the radio can carry (the carrier's peak over the whole
band, or the fastest ideal link): 20 % above it, so that the queues stay backlogged."""


@dataclass(frozen=True)
class Flow:
    """One full-buffer UDP flow: direction ``"dl"`` or ``"ul"``, endpoints, receiving port."""

    direction: str
    src: str
    dst: str
    port: int

    @property
    def ue(self) -> str:
        """The UE end of the flow."""
        return self.dst if self.direction == "dl" else self.src


def full_buffer_rate_bps(cfg: ScenarioConfig) -> float:
    """Offered rate per UE and direction, bit/s: ``traffic.rate_bps``, or by default
    FULL_BUFFER_HEADROOM x the carrier's peak (bandwidth x the top MCS's spectral efficiency
    of ``radio.mcs_table``; ``radio.mode: ideal``: the fastest UE's full-band rate)."""
    if cfg.traffic.rate_bps:
        return cfg.traffic.rate_bps
    if cfg.radio.mode == "nr":
        from .radio.phy import max_spectral_efficiency

        peak = cfg.radio.bandwidth_hz * max_spectral_efficiency(cfg.radio.mcs_table)
    elif cfg.radio.mode == "trace":
        from .radio.trace import load_ue_traces

        peak = max(max(t.dl_bps.max(), t.ul_bps.max())
                   for t in load_ue_traces(cfg.radio.trace, cfg.nodes.n_devices))
    else:
        peak = max(cfg.radio.ideal.full_band_rates(cfg.nodes.n_devices))
    return peak * FULL_BUFFER_HEADROOM


def install_traffic(cfg: ScenarioConfig, sim: Simulation) -> list[Flow]:
    """Install the full-buffer UDP flows of ``traffic`` between ``traffic.source`` and every
    UE, from ``traffic.start_s``; :return: the flows."""
    t = cfg.traffic
    if not (t.full_buffer_dl or t.full_buffer_ul):
        return []
    rate = full_buffer_rate_bps(cfg)
    flows = []
    for u in range(cfg.n_ues()):
        ue = f"ue{u}"
        if t.full_buffer_dl:
            flows.append(Flow("dl", t.source, ue, DL_PORT + u))
        if t.full_buffer_ul:
            flows.append(Flow("ul", ue, t.source, UL_PORT + u))
    for f in flows:
        sim.add_udp_flow(f.src, f.dst, rate, t.packet_bytes, t.start_s, f.port)
    return flows


class TrafficOnly:
    """No training: the scenario's traffic runs for ``traffic.duration_s`` after its start."""

    def __init__(self, cfg: ScenarioConfig, sim: Simulation):
        self.cfg, self.sim, self.finished, self.round = cfg, sim, False, 0

    def start(self) -> None:
        def stop():
            self.finished = True
            self.sim.stop()

        self.sim.schedule(self.cfg.traffic.start_s + self.cfg.traffic.duration_s, stop)

    def summary(self) -> dict:
        """No entries of its own in ``summary.json``."""
        return {}
