"""What makes a radio setting physically valid, checked when a config is read (before any
run starts): one rule per function, each raising ``ValueError`` with one line that names the
``radio.*`` field and the rule it breaks.

- the carrier and its bandwidth: the subcarrier spacings NR defines for data in the carrier's
  frequency range, and the channel bandwidths of TS 38.101-1/-2 Table 5.3.2-1 at that spacing
  (so N_PRB never exceeds the table's, nor 275), from the C++ PHY tables
  (:mod:`edgelam_ns3.radio.phy`: ``data_scs_khz``, ``num_prb_table``);
- transmit powers within :data:`UE_TX_POWER_DBM` and :data:`GNB_TX_POWER_DBM`.

Carriers in 7.125-24.25 GHz (the 6G upper mid-band: no TS 38.101 range yet) follow NR's
numerology: 15-120 kHz, with the bandwidths FR1 defines at 15-60 kHz and FR2 at 60-120 kHz.
"""

from __future__ import annotations

import math

from . import phy

UE_TX_POWER_DBM = (-40.0, 33.0)
"""Plausible UE transmit powers, dBm: from TS 38.101-1 §6.3.1's minimum output power
(-40 dBm) to power class 1's 31 dBm (TS 38.101-1 Table 6.2.1-1; class 3, the handset, is
23 dBm) plus its 2 dB tolerance."""

GNB_TX_POWER_DBM = (0.0, 60.0)
"""Plausible gNB transmit powers over the carrier, dBm: from below a TS 38.104 §6.2.1
local-area BS (24 dBm) to above every macro-cell evaluation assumption (TR 38.901 §7.8:
35-44 dBm; TR 38.802 Table A.2.1-1: up to 49 dBm); 60 dBm is 1 kW."""


def check_powers(gnb_tx_power_dbm: float, ue_tx_power_dbm: float) -> None:
    """Transmit powers within :data:`GNB_TX_POWER_DBM` and :data:`UE_TX_POWER_DBM`."""
    for field, value, (lo, hi), source in (
            ("gnb_tx_power_dbm", gnb_tx_power_dbm, GNB_TX_POWER_DBM,
             "TS 38.104 local-area BS to above macro evaluation powers"),
            ("ue_tx_power_dbm", ue_tx_power_dbm, UE_TX_POWER_DBM,
             "TS 38.101-1 minimum output power to power class 1 + 2 dB")):
        if not lo <= value <= hi:
            raise ValueError(f"{field}: {value:g} dBm is outside the plausible {lo:g}..{hi:g} "
                             f"dBm ({source})")


def _fr_name(carrier_hz: float) -> str:
    return phy.frequency_range(carrier_hz) or (
        "7.125-24.25 GHz, no TS 38.101 range" if carrier_hz < 24.25e9 else "above FR2")


def check_carrier(carrier_hz: float, bandwidth_hz: float, numerology: int) -> None:
    """The bandwidth below the carrier, the numerology's subcarrier spacing one NR defines
    for data in the carrier's frequency range, and the bandwidth one of TS 38.101-1/-2 Table
    5.3.2-1 at that spacing."""
    ghz, mhz = carrier_hz / 1e9, bandwidth_hz / 1e6
    if not bandwidth_hz < carrier_hz:
        raise ValueError(f"bandwidth_hz: {mhz:g} MHz is not below the carrier ({ghz:g} GHz)")
    scs_khz = round(phy.scs_hz(numerology) / 1e3)
    allowed = phy.data_scs_khz(carrier_hz)
    fr = _fr_name(carrier_hz)
    if scs_khz not in allowed:
        ok = ", ".join(f"{s} kHz (numerology {int(math.log2(s / 15))})" for s in allowed
                       if s <= 240)  # the config's numerologies: 0..4
        raise ValueError(f"numerology: {numerology} ({scs_khz} kHz) carries no data in {fr} "
                         f"at {ghz:g} GHz (TS 38.211 Table 4.2-1, TS 38.101 Table 5.3.5-1); "
                         f"use {ok}")
    if phy.num_prb_table(bandwidth_hz, scs_khz * 1e3, carrier_hz) is None:
        widths = sorted({bw for bw, scs, _ in phy.num_prb_entries(carrier_hz) if scs == scs_khz})
        table = {"FR1": "TS 38.101-1", "FR2": "TS 38.101-2"}.get(fr, "TS 38.101-1/-2")
        raise ValueError(f"bandwidth_hz: {mhz:g} MHz at {scs_khz} kHz (numerology {numerology})"
                         f" is not a channel of {table} Table 5.3.2-1 ({fr}); at {scs_khz} kHz: "
                         f"{', '.join(map(str, widths))} MHz")
