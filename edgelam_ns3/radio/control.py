"""What the training frameworks may ask of the radio: each device's link quality now, and each
scheduled device's share of the radio resources for the coming round.

``radio.mode: nr``: a share s guarantees the device the fraction s of the cell's resource-block
groups in the MAC scheduler (``NrCellMac`` shares), in both directions, from that instant,
while it has data to send; the scheduler is work-conserving, so RBGs a scheduled device does
not need go to any backlogged UE, unscheduled devices included (their TCP acknowledgements,
say); link quality is the wideband SINR of the device's last CSI report.

``radio.mode: ideal``: each UE has a point-to-point link to the gNB; its full-band rate is
configured (``radio.ideal``); a share s gives it the rate s x full-band rate in both directions
(an OFDMA bandwidth split), applied to the ns-3 links from the current instant.
"""

from __future__ import annotations

import numpy as np

from ..config import ScenarioConfig
from ..sim import Simulation
from .phy import max_spectral_efficiency


class IdealRadioControl:
    """Radio shares over the ``ideal`` radio's per-UE links."""

    def __init__(self, cfg: ScenarioConfig, sim: Simulation):
        self.sim = sim
        self.names = [f"ue{i}" for i in range(cfg.nodes.n_devices)]
        self.full = np.array(cfg.radio.ideal.full_band_rates(cfg.nodes.n_devices), dtype=float)
        self.shares = np.ones(len(self.names))

    def full_band_rate_bps(self) -> np.ndarray:
        """Each UE's rate if it had the whole band, bit/s (the link state policies rank by)."""
        return self.full.copy()

    def set_shares(self, scheduled: list[int], shares: list[float]) -> None:
        """Give scheduled UE i the fraction shares[j] of the band from now on."""
        if len(scheduled) != len(shares):
            raise ValueError("set_shares: one share per scheduled device")
        total = float(sum(shares))
        if any(s <= 0 for s in shares) or total > 1.0 + 1e-9:
            raise ValueError(f"set_shares: shares must be > 0 and sum to at most 1, got {shares}")
        for i, s in zip(scheduled, shares):
            rate = max(self.full[i] * s, 1e3)
            self.shares[i] = s
            self.sim.set_link_rate(self.names[i], "gnb", rate)
            self.sim.set_link_rate("gnb", self.names[i], rate)

    def rate_bps(self, i: int) -> float:
        """UE i's current rate, bit/s."""
        return float(self.full[i] * self.shares[i])


class NrRadioControl:
    """Radio shares as guaranteed minimum resource-block shares in the 6G radio's MAC."""

    def __init__(self, cfg: ScenarioConfig, sim: Simulation):
        self.sim = sim
        self.names = [f"ue{i}" for i in range(cfg.nodes.n_devices)]
        self.usable_hz = cfg.radio.bandwidth_hz * (1 - cfg.radio.dl_overhead)
        # Shannon efficiency is capped at the top MCS's (qam256, MCS 27: 7.41 bit/s/Hz)
        self.max_se = max_spectral_efficiency(cfg.radio.mcs_table)

    def full_band_rate_bps(self) -> np.ndarray:
        """An estimate of each UE's rate with the whole band: usable bandwidth x
        min(log2(1 + SINR), top MCS's spectral efficiency), from the wideband SINR of its last
        CSI report (before any report: equal for all)."""
        # read the MAC's counters directly: link_states() would refresh the periodic link-state
        # tap's window (its throughputs are over the period since the previous refresh)
        wideband = self.sim.radio_ue_stats()["dl_wideband_sinr_db"]
        sinr_db = np.nan_to_num(np.asarray(wideband[: len(self.names)], dtype=float))
        se = np.minimum(np.log2(1 + 10 ** (sinr_db / 10)), self.max_se)
        return self.usable_hz * np.maximum(se, 1e-3)

    def set_shares(self, scheduled: list[int], shares: list[float]) -> None:
        """Guarantee scheduled UE j the fraction shares[j] of the RBGs; the others get no
        guarantee (they are still scheduled on the RBGs the scheduled UEs leave)."""
        if len(scheduled) != len(shares):
            raise ValueError("set_shares: one share per scheduled device")
        if any(s <= 0 for s in shares) or float(sum(shares)) > 1.0 + 1e-9:
            raise ValueError(f"set_shares: shares must be > 0 and sum to at most 1, got {shares}")
        given = dict(zip(scheduled, shares))
        for i, name in enumerate(self.names):
            share = given.get(i)
            self.sim.set_radio_share(name, None if share is None else min(1.0, share))


def make_radio_control(cfg: ScenarioConfig, sim: Simulation):
    """The radio control for the scenario's radio mode."""
    if cfg.radio.mode == "ideal":
        return IdealRadioControl(cfg, sim)
    if cfg.radio.mode == "trace":
        from .trace import TraceRadioControl
        return TraceRadioControl(cfg, sim)
    return NrRadioControl(cfg, sim)
