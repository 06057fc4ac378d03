# SPDX-License-Identifier: GPL-2.0-only
"""Physically invalid radio settings are rejected when the config is read, with one line that
names the field and the rule (edgelam_ns3.radio.limits).

References: TS 38.101-1 V17 Table 5.3.2-1 (FR1 channel bandwidths and N_RB) and Table 5.3.5-1
(SCS per band), TS 38.101-2 V17 Tables 5.3.2-1 and 5.3.5-1 (FR2), TS 38.211 Table 4.2-1
(240 kHz carries no data); TS 38.101-1 §6.2.1 and §6.3.1 (UE power), TS 38.104 §6.2 (BS power).
"""
import pytest

from edgelam_ns3 import config, radio


def _load(*overrides):
    return config.load("radio-saturation", list(overrides))


@pytest.mark.parametrize("overrides,match", [
    # 100 MHz needs 30 kHz or more in FR1: 15 kHz channels end at 50 MHz (270 PRBs); the
    # formula would have given 527 PRBs, beyond the table and NR's 275
    (["radio.numerology=0"], r"bandwidth_hz: 100 MHz at 15 kHz \(numerology 0\) is not a "
     r"channel of TS 38.101-1 Table 5.3.2-1 \(FR1\); at 15 kHz: 5, 10, .*, 50 MHz"),
    (["radio.bandwidth_hz=55e6"], r"bandwidth_hz: 55 MHz at 30 kHz .* TS 38.101-1"),
    # FR2 has no 15/30 kHz data numerology; FR1 none at 120 kHz; 240 kHz carries only SSBs
    (["radio.carrier_hz=28e9"], r"numerology: 1 \(30 kHz\) carries no data in FR2 at 28 GHz"),
    (["radio.numerology=3"], r"numerology: 3 \(120 kHz\) carries no data in FR1"),
    (["radio.carrier_hz=28e9", "radio.numerology=4"], r"numerology: 4 \(240 kHz\)"),
    (["radio.carrier_hz=28e9", "radio.numerology=3", "radio.bandwidth_hz=300e6"],
     r"bandwidth_hz: 300 MHz at 120 kHz .* TS 38.101-2 .* 50, 100, 200, 400 MHz"),
    (["radio.carrier_hz=15e9", "radio.bandwidth_hz=400e6"],
     r"bandwidth_hz: 400 MHz at 30 kHz .* \(7.125-24.25 GHz, no TS 38.101 range\)"),
    (["radio.carrier_hz=0.5e9", "radio.bandwidth_hz=1e9"],
     r"bandwidth_hz: 1000 MHz is not below the carrier \(0.5 GHz\)"),
    (["radio.gnb_tx_power_dbm=500"], r"gnb_tx_power_dbm: 500 dBm is outside the plausible "
     r"0..60 dBm"),
    (["radio.ue_tx_power_dbm=40"], r"ue_tx_power_dbm: 40 dBm is outside the plausible -40..33"),
    (["radio.ue_tx_power_dbm=-50"], r"ue_tx_power_dbm: -50 dBm"),
])
def test_invalid_radio_settings_are_rejected_with_the_rule(overrides, match):
    with pytest.raises(config.ConfigError, match=match) as err:
        _load(*overrides)
    assert "\n" not in str(err.value) and str(err.value).startswith("config: radio")


@pytest.mark.parametrize("overrides", [
    [],  # 7 GHz (FR1, n104), 100 MHz at 30 kHz: 273 PRBs
    ["radio.carrier_hz=3.5e9", "radio.numerology=0", "radio.bandwidth_hz=50e6"],
    ["radio.carrier_hz=28e9", "radio.numerology=3", "radio.bandwidth_hz=400e6"],
    ["radio.carrier_hz=28e9", "radio.numerology=2", "radio.bandwidth_hz=200e6"],
    ["radio.carrier_hz=15e9", "radio.numerology=1", "radio.bandwidth_hz=100e6"],
    ["radio.gnb_tx_power_dbm=0", "radio.ue_tx_power_dbm=-40"],
    ["radio.gnb_tx_power_dbm=60", "radio.ue_tx_power_dbm=33"],
])
def test_valid_radio_settings_are_accepted(overrides):
    cfg = _load(*overrides)
    r = cfg.radio
    n_prb = radio.num_prb_table(r.bandwidth_hz, radio.scs_hz(r.numerology), r.carrier_hz)
    assert n_prb is not None and n_prb <= 275


def test_frequency_ranges_and_their_data_numerologies():
    assert radio.phy.frequency_range(3.5e9) == "FR1" and radio.phy.frequency_range(7e9) == "FR1"
    assert radio.phy.frequency_range(10e9) is None  # the 6G upper mid-band
    assert radio.phy.frequency_range(28e9) == "FR2" and radio.phy.frequency_range(60e9) == "FR2"
    assert radio.phy.data_scs_khz(3.5e9) == [15, 30, 60]
    assert radio.phy.data_scs_khz(28e9) == [60, 120]
    assert radio.phy.data_scs_khz(60e9) == [120, 480, 960]
    assert radio.phy.data_scs_khz(10e9) == [15, 30, 60, 120]


def test_radio_positions_must_match_the_ues():
    with pytest.raises(config.ConfigError, match=r"radio.ue_positions_m: 1 positions for 2"):
        _load("radio.n_ues=2", "radio.ue_positions_m=[[10, 0]]")
    with pytest.raises(config.ConfigError, match=r"ue_positions_m\[0\]: \[x, y\] or"):
        _load("radio.n_ues=1", "radio.ue_positions_m=[[10]]")
    with pytest.raises(config.ConfigError, match=r"ue_positions_m: set it or ue_distance_m"):
        _load("radio.n_ues=1", "radio.ue_positions_m=[[10, 0]]", "radio.ue_distance_m=5")
