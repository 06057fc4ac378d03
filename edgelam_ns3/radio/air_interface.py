"""Air-interface procedures of the C++ models, from Python (standalone objects; the MAC runs
its own: its CSI-RS reports with radio.csi.mode csi-rs, one power control per UE with
radio.ul.power_control, the HARQ-ACK timing with radio.harq.tdd_timing):

- :func:`make_csi_report`: ``ns3::NrCsiReport``, what a UE reports from CSI-RS (TS 38.214
  §5.2.2): the Type I single-panel codebook, PMI and RI by capacity, and the 4-bit CQI at
  TBLER <= 10 % by the project's BLER model, fed here with Sionna's tables;
- :class:`UlPowerControl`: ``ns3::NrUlPowerControl``, PUSCH power of TS 38.213 §7.1.1 with
  closed-loop TPC;
- :class:`HarqTiming`: ``ns3::NrHarqTiming``, the slot of a PDSCH's HARQ-ACK in a TDD pattern.

Precoders, per-layer MMSE SINR and user selection are in :mod:`edgelam_ns3.radio.precoding`.
"""

from __future__ import annotations

from .. import _load_core
from .phy_tables import feed_bler_curves

__all__ = ["make_csi_report", "UlPowerControl", "HarqTiming"]

_core = _load_core()

#: ``ns3::NrUlPowerControl``: ``UlPowerControl(p0_nominal_dbm=-90, p0_ue_db=0, alpha=1,
#: p_cmax_dbm=23, p_min_dbm=-40, ks=0, beta_offset=1, tpc_accumulation=True)``;
#: ``receive_tpc(field)``, ``pusch_power_dbm(num_rb, numerology, path_loss_db, bpre=0)``.
UlPowerControl = _core.NrUlPowerControl

#: ``ns3::NrHarqTiming``: ``HarqTiming(pattern="DDDSU", special_slot_uplink=False, k1_min=1)``;
#: ``ack_slot(n)``, ``k1(n)``.
HarqTiming = _core.NrHarqTiming


def make_csi_report(n1: int = 4, n2: int = 2, o1: int = 4, o2: int = 4, max_rank: int = 2,
                    cqi_table: int = 2, target_bler: float = 0.1, tables=None, betas=None):
    """A CSI report generator with Sionna's BLER curves loaded.

    :param n1: N1, ports per polarisation in the first dimension (TS 38.214 Table 5.2.2.2.1-2)
    :param n2: N2, in the second dimension
    :param o1: O1, oversampling in the first dimension
    :param o2: O2, oversampling in the second dimension (1 if N2 = 1)
    :param max_rank: largest rank reported (1 or 2)
    :param cqi_table: 1 (TS 38.214 Table 5.2.2.1-2) or 2 (Table 5.2.2.1-3)
    :param target_bler: TBLER a CQI must not exceed
    :param tables: folder of BLER tables (default: the installed Sionna's)
    :param betas: EESM beta file (default: the installed Sionna's)
    :return: a :class:`edgelam_ns3._core.NrCsiReport` (``report``, ``select_ri_pmi``,
        ``select_cqi``, ``codebook``, ``precoder``, ...)
    """
    report = _core.NrCsiReport(n1=n1, n2=n2, o1=o1, o2=o2, max_rank=max_rank,
                               cqi_table=cqi_table, target_bler=target_bler)
    feed_bler_curves(report.add_curve, report.set_eesm_betas, tables, betas)
    report.finalize()
    return report
