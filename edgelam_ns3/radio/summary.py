"""A run's radio and traffic figures for ``summary.json``: per UE and per cell.

Every rate (the MAC throughputs ``*_mac_bps`` and the goodputs ``*_goodput_bps``) is measured
over one window, :class:`RateWindow`, recorded as ``rate_window_s`` = [start, end] s: from
``traffic.start_s`` when the scenario has full-buffer traffic (:mod:`edgelam_ns3.traffic`),
else from the start of the run, to its end. MAC bytes are counted from the window's start on.
"""

from __future__ import annotations

import numpy as np

from ..config import ScenarioConfig
from ..sim import Simulation
from ..traffic import Flow


class RateWindow:
    """The measurement window of every rate: [``traffic.start_s`` (with full-buffer flows) or
    0, end of the run]. Create it before the run: it records the MAC byte counters at the
    window's start."""

    def __init__(self, cfg: ScenarioConfig, sim: Simulation, flows: list[Flow]):
        self.start_s = cfg.traffic.start_s if flows else 0.0
        self._mac0: dict[str, np.ndarray] | None = None
        if sim.has_radio and self.start_s > 0:
            sim.schedule(self.start_s - sim.now, self._snapshot, sim)

    def _snapshot(self, sim: Simulation) -> None:
        st = sim.radio_ue_stats()
        self._mac0 = {d: st[f"{d}_mac_bytes"].copy() for d in ("dl", "ul")}

    def seconds(self, sim: Simulation) -> float:
        """Length of the window at the end of the run, s."""
        return max(sim.now - self.start_s, 1e-12)

    def mac_bytes(self, st: dict, d: str) -> np.ndarray:
        """Per-UE MAC bytes of direction ``d`` decoded within the window (``st``: the MAC
        statistics at its end, :meth:`Simulation.radio_ue_stats`)."""
        total = st[f"{d}_mac_bytes"]
        return total - self._mac0[d] if self._mac0 is not None else total

    def entry(self, sim: Simulation) -> dict:
        """The window as ``summary.json`` records it."""
        return {"rate_window_s": [self.start_s, sim.now]}


def radio_summary(cfg: ScenarioConfig, sim: Simulation, window: RateWindow) -> dict:
    """The radio's figures: slots simulated, and per UE (``ues``) its serving cell, the
    geometry of that link at the end of the run (``distance_2d_m``, ``distance_3d_m``, ``los``,
    ``path_gain_db``, ``coupling_gain_db``, see :meth:`Simulation.radio_links`), mean effective
    SINR and MCS of first transmissions, their BLER (as :meth:`Simulation.radio_ue_stats`
    derives them; NaN without a first transmission), HARQ retransmissions, lost TBs and MAC
    throughput over the window, per direction (``cell``: the MAC throughputs summed over the
    UEs)."""
    st = sim.radio_ue_stats()
    links = sim.radio_links()
    seconds = window.seconds(sim)
    ues = {}
    cell = {"dl_mac_bps": 0.0, "ul_mac_bps": 0.0}
    gnbs = cfg.gnb_names()
    for u in range(len(st["serving_cell"])):
        g = int(st["serving_cell"][u])
        e = {"serving_cell": gnbs[g]}
        for k in ("distance_2d_m", "distance_3d_m", "path_gain_db", "coupling_gain_db"):
            e[k] = float(links[k][g, u])
        e["los"] = bool(links["los"][g, u])
        for d in ("dl", "ul"):
            for k in (f"{d}_mean_sinr_db", f"{d}_mean_mcs", f"{d}_bler"):  # derived in C++
                e[k] = float(st[k][u])
            e[f"{d}_mac_bps"] = float(window.mac_bytes(st, d)[u]) * 8 / seconds
            e[f"{d}_harq_retx"] = int(st[f"{d}_retx"][u])
            e[f"{d}_tb_lost"] = int(st[f"{d}_tb_lost"][u])
            cell[f"{d}_mac_bps"] += e[f"{d}_mac_bps"]
        ues[f"ue{u}"] = e
    return {"slots_simulated": sim.radio_slots(), "ues": ues, "cell": cell,
            **window.entry(sim)}


def traffic_summary(cfg: ScenarioConfig, sim: Simulation, flows: list[Flow],
                    window: RateWindow, serving_cell: dict[str, str] | None = None) -> dict:
    """Goodput of the full-buffer flows over the window: per UE (``ues``), summed over the
    network (``cell``) and, with several cells, per cell (``cells``, by the UEs'
    ``serving_cell``: UE name -> gNB name)."""
    seconds = window.seconds(sim)
    cell = {"dl_goodput_bps": 0.0, "ul_goodput_bps": 0.0}
    ues: dict[str, dict] = {}
    cells: dict[str, dict] = {}
    for f in flows:
        gp = sim.udp_rx_bytes(f.dst, f.port) * 8 / seconds
        key = f"{f.direction}_goodput_bps"
        ues.setdefault(f.ue, {})[key] = gp
        cell[key] += gp  # with several cells: the network's total
        serving = (serving_cell or {}).get(f.ue)
        if serving is not None:
            cells.setdefault(serving, {"dl_goodput_bps": 0.0, "ul_goodput_bps": 0.0})[key] += gp
    out = {"cell": cell, "ues": ues, **window.entry(sim)}
    if len(cells) > 1:
        out["cells"] = cells
    return out
