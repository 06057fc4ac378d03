"""A run's radio and traffic figures for ``summary.json``: per UE and per cell.

Rates are averaged over the simulated time (MAC throughput) or over the time since the traffic
started (goodput of the full-buffer flows of :mod:`edgelam_ns3.traffic`).
"""

from __future__ import annotations

from ..config import ScenarioConfig
from ..sim import Simulation
from ..traffic import Flow


def radio_summary(cfg: ScenarioConfig, sim: Simulation) -> dict:
    """The radio's figures: slots simulated, and per UE its serving cell, mean effective SINR
    and MCS of first transmissions, their BLER (as :meth:`Simulation.radio_ue_stats` derives
    them; NaN without a first transmission), HARQ retransmissions, lost TBs and MAC throughput,
    per direction (``ues``; ``cell``: the MAC throughputs summed over the UEs)."""
    st = sim.radio_ue_stats()
    elapsed = max(sim.now, 1e-12)
    ues = {}
    cell = {"dl_mac_bps": 0.0, "ul_mac_bps": 0.0}
    gnbs = cfg.gnb_names()
    for u in range(len(st["serving_cell"])):
        e = {"serving_cell": gnbs[int(st["serving_cell"][u])]}
        for d in ("dl", "ul"):
            for k in (f"{d}_mean_sinr_db", f"{d}_mean_mcs", f"{d}_bler"):  # derived in C++
                e[k] = float(st[k][u])
            e[f"{d}_mac_bps"] = st[f"{d}_mac_bytes"][u] * 8 / elapsed
            e[f"{d}_harq_retx"] = int(st[f"{d}_retx"][u])
            e[f"{d}_tb_lost"] = int(st[f"{d}_tb_lost"][u])
            cell[f"{d}_mac_bps"] += e[f"{d}_mac_bps"]
        ues[f"ue{u}"] = e
    return {"slots_simulated": sim.radio_slots(), "ues": ues, "cell": cell}


def traffic_summary(cfg: ScenarioConfig, sim: Simulation, flows: list[Flow],
                    serving_cell: dict[str, str] | None = None) -> dict:
    """Goodput of the full-buffer flows since ``traffic.start_s``: per UE (``ues``), summed over
    the network (``cell``) and, with several cells, per cell (``cells``, by the UEs'
    ``serving_cell``: UE name -> gNB name)."""
    elapsed = max(sim.now - cfg.traffic.start_s, 1e-12)
    cell = {"dl_goodput_bps": 0.0, "ul_goodput_bps": 0.0}
    ues: dict[str, dict] = {}
    cells: dict[str, dict] = {}
    for f in flows:
        gp = sim.udp_rx_bytes(f.dst, f.port) * 8 / elapsed
        key = f"{f.direction}_goodput_bps"
        ues.setdefault(f.ue, {})[key] = gp
        cell[key] += gp  # with several cells: the network's total
        serving = (serving_cell or {}).get(f.ue)
        if serving is not None:
            cells.setdefault(serving, {"dl_goodput_bps": 0.0, "ul_goodput_bps": 0.0})[key] += gp
    out = {"cell": cell, "ues": ues}
    if len(cells) > 1:
        out["cells"] = cells
    return out
