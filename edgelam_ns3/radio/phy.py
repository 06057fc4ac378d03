"""NR PHY abstraction: the C++ models of ``ns3_scenarios/model/nr-*.h`` from Python.

- :func:`mcs`: modulation order, target code rate and spectral efficiency of an MCS index
  (TS 38.214 V17 Tables 5.1.3.1-1..4; tables by number 1..4 or name ``"qam64"``,
  ``"qam256"``, ``"qam64LowSE"``, ``"qam1024"``); :func:`max_spectral_efficiency`, that of a
  table's top MCS;
- :func:`tbs`, :func:`tbs_info`: transport block size per TS 38.214 §5.1.3.2, with code-block
  segmentation per TS 38.212 §5.2.2;
- :func:`num_prb`: PRBs per channel bandwidth and subcarrier spacing (TS 38.101-1/-2
  Table 5.3.2-1, a documented formula elsewhere); :func:`scs_hz`; :func:`frequency_range`
  and :func:`data_scs_khz` of a carrier;
- :func:`make_bler_model`: the SINR -> BLER model with EESM and link adaptation, fed with
  Sionna 2.x's tables (see :mod:`edgelam_ns3.radio.phy_tables`);
- :func:`eesm`: the exponential effective SINR mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _load_core
from .phy_tables import BlerCurve, load_bler_tables, load_eesm_betas, make_bler_model

__all__ = [
    "Mcs",
    "mcs",
    "num_mcs",
    "max_spectral_efficiency",
    "tbs",
    "tbs_info",
    "num_prb",
    "num_prb_table",
    "num_prb_entries",
    "frequency_range",
    "data_scs_khz",
    "scs_hz",
    "eesm",
    "BlerCurve",
    "load_bler_tables",
    "load_eesm_betas",
    "make_bler_model",
]

_core = _load_core()


@dataclass(frozen=True)
class Mcs:
    """One MCS index: modulation order ``qm`` [bits/symbol], target code rate ``rate_x1024``
    (R x 1024) and ``spectral_efficiency`` = Q_m R [bits per RE and layer]."""

    qm: int
    rate_x1024: float
    spectral_efficiency: float


def mcs(table: int | str, index: int) -> Mcs:
    """:return: the MCS of ``index`` in TS 38.214 MCS table ``table``."""
    return Mcs(*_core.nr_mcs(table, index))


def num_mcs(table: int | str) -> int:
    """:return: the number of non-reserved MCS indices of an MCS table."""
    return _core.nr_num_mcs(table)


def max_spectral_efficiency(table: int | str = "qam256") -> float:
    """:return: the spectral efficiency of the top MCS of ``table`` [bits per RE and layer]
    (qam256: MCS 27, Q_m R = 8 x 948/1024 = 7.406), as the C++ MAC's rate estimates use it."""
    return _core.nr_max_spectral_efficiency(table)


def tbs(
    n_prb: int,
    mcs: int,
    table: int | str = "qam256",
    n_symb: int = 14,
    n_dmrs_per_prb: int = 12,
    n_oh_per_prb: int = 0,
    layers: int = 1,
) -> int:
    """Transport block size [bits], TS 38.214 §5.1.3.2.

    :param n_prb: allocated PRBs
    :param mcs: MCS index
    :param table: MCS table
    :param n_symb: allocated OFDM symbols (1..14)
    :param n_dmrs_per_prb: DM-RS REs per PRB over the allocation (12: one front-loaded type-1
        DM-RS symbol)
    :param n_oh_per_prb: xOverhead REs per PRB (0, 6, 12, 18)
    :param layers: layers of the codeword (1..4)
    """
    return _core.nr_tbs(n_prb, mcs, table, n_symb, n_dmrs_per_prb, n_oh_per_prb, layers)


def tbs_info(
    n_prb: int,
    mcs: int,
    table: int | str = "qam256",
    n_symb: int = 14,
    n_dmrs_per_prb: int = 12,
    n_oh_per_prb: int = 0,
    layers: int = 1,
) -> dict:
    """As :func:`tbs`, with ``n_re``, ``n_info``, ``n_info_quantized``, ``num_code_blocks``,
    ``code_block_size`` (K', CRC included), ``tb_crc_bits``, ``cb_crc_bits`` and
    ``ldpc_base_graph``."""
    return _core.nr_tbs_info(n_prb, mcs, table, n_symb, n_dmrs_per_prb, n_oh_per_prb, layers)


def num_prb(bandwidth_hz: float, scs_hz: float, guard_fraction: float = 0.05,
            carrier_hz: float | None = None) -> int:
    """PRBs of a channel: TS 38.101-1/-2 Table 5.3.2-1 where they define (bandwidth, SCS),
    else ``floor(bandwidth_hz * (1 - guard_fraction) / (12 * scs_hz))``. With ``carrier_hz``,
    the table of its frequency range (:func:`frequency_range`), as the MAC uses it; without,
    FR1's then FR2's (they differ at 60 kHz: 100 MHz has 135 PRBs in FR1, 132 in FR2)."""
    return _core.nr_num_prb(bandwidth_hz, scs_hz, guard_fraction, carrier_hz or 0.0)


def num_prb_table(bandwidth_hz: float, scs_hz: float,
                  carrier_hz: float | None = None) -> int | None:
    """:return: N_RB of TS 38.101-1/-2 Table 5.3.2-1 (of the carrier's frequency range, if
    given), or None where not defined."""
    return _core.nr_num_prb_table(bandwidth_hz, scs_hz, carrier_hz or 0.0)


def num_prb_entries(carrier_hz: float | None = None) -> list[tuple[int, int, int]]:
    """:return: the (bandwidth [MHz], SCS [kHz], N_RB) entries of TS 38.101-1/-2 Table
    5.3.2-1 for the carrier's frequency range (None, or outside FR1 and FR2: both tables)."""
    return [tuple(e) for e in _core.nr_num_prb_entries(carrier_hz or 0.0)]


def frequency_range(carrier_hz: float) -> str | None:
    """:return: ``"FR1"`` (410 MHz - 7.125 GHz), ``"FR2"`` (24.25 - 71 GHz) or None (neither:
    the 6G upper mid-band 7.125 - 24.25 GHz, or above 71 GHz)."""
    return {1: "FR1", 2: "FR2"}.get(_core.nr_frequency_range(carrier_hz))


def data_scs_khz(carrier_hz: float) -> list[int]:
    """:return: the subcarrier spacings NR defines for data at a carrier [kHz]: FR1 15, 30, 60
    (TS 38.101-1 Table 5.3.5-1), FR2-1 60, 120 and FR2-2 120, 480, 960 (TS 38.101-2 Table
    5.3.5-1); 7.125 - 24.25 GHz 15-120, above 71 GHz as FR2-2 (``ns3::NrBandwidth``)."""
    return list(_core.nr_data_scs_khz(carrier_hz))


def scs_hz(numerology: int) -> float:
    """:return: subcarrier spacing 15 kHz x 2^mu [Hz]."""
    return _core.nr_scs_hz(numerology)


def eesm(sinr: np.ndarray, beta: float) -> float:
    """EESM effective SINR (linear) of linear SINRs ``sinr`` (any shape; entries <= 0 unused)."""
    return _core.nr_eesm(np.asarray(sinr, dtype=float), beta)
