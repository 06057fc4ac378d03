"""The gNB's CSI (issue 10.1, 10.5): SRS estimates against closed forms, CSI aging against the
Jakes correlation, Python reading and replacing the gNB's CSI, the link-state columns, and the
config checks of radio.csi."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.special import j0

from edgelam_ns3 import config
from edgelam_ns3.sim import Simulation
from edgelam_ns3.topology import network_spec

K_BOLTZMANN, T0 = 1.380649e-23, 290.0


def _fixed_radio(n_ues: int, overrides: list[str], **channel_attrs):
    """A one-cell NR network on the fixed-gain channel (LOS beams, no beam policy), with
    extra FixedGainNrChannel attributes."""
    cfg = config.load("radio-saturation", [f"radio.n_ues={n_ues}", "radio.channel=fixed",
                                            "radio.beam_policy=los", "radio.csi.mode=srs",
                                            *overrides])
    spec = network_spec(cfg)
    radio = dataclasses.replace(spec.radio, channel_attrs={**spec.radio.channel_attrs,
                                                           **channel_attrs})
    return cfg, dataclasses.replace(spec, radio=radio)


def test_srs_estimate_nmse_is_one_over_the_link_budget_sinr():
    """LS estimate from one SRS symbol (comb 2) at the UE's full power, averaged over the SRS
    REs of each subband: SINR_srs = K P_RE PG |H|^2 / (k T F SCS) with K = 12 N_PRB / (N_sb
    K_TC) REs, and the estimate's NMSE E|Ĥ - H|^2 / E|H|^2 = 1 / SINR_srs (unit-modulus LOS
    channel, static, so the true channel at the SRS instant is the one read now)."""
    pg_db = -124.0
    cfg, spec = _fixed_radio(4, ["radio.csi.srs_period_slots=5"], FreeSpace="false",
                             DefaultPathGainDb=repr(pg_db))
    r = cfg.radio
    n_prb, scs, n_sb = 273, 30e3, 18  # 100 MHz at 30 kHz; one subband per 16-PRB RBG
    p_re = 10 ** ((r.ue_tx_power_dbm - 30) / 10) / (n_prb * 12)
    noise_re = K_BOLTZMANN * T0 * scs * 10 ** (r.gnb_noise_figure_db / 10)
    k_res = 12 * n_prb / (n_sb * r.csi.srs_comb)
    sinr = k_res * p_re * 10 ** (pg_db / 10) / noise_re
    err, power, reported = [], [], []
    with Simulation(spec, seed=3) as sim:
        def tap():
            for u in range(4):
                c = sim.csi(f"ue{u}")
                err.append(np.abs(c["estimate"] - c["true"]) ** 2)
                power.append(np.abs(c["true"]) ** 2)
                reported.append(c["srs_sinr_db"])

        for k in range(20):  # one tap per SRS period (5 slots of 0.5 ms): a new estimate each
            sim.schedule(0.01 + k * 0.0025, tap)
        sim.run(until_s=0.07)
    nmse = np.mean(err) / np.mean(power)
    print(f"SINR_srs {10 * np.log10(sinr):.2f} dB, NMSE {nmse:.4f}, 1/SINR {1 / sinr:.4f}")
    assert 5 < 10 * np.log10(sinr) < 15  # a regime where the estimate is neither exact nor noise
    np.testing.assert_allclose(reported, 10 * np.log10(sinr), atol=0.01)
    assert nmse == pytest.approx(1 / sinr, rel=0.05)  # 4 x 20 x 64 x 18 samples: ~1 % std


def test_csi_aging_follows_the_jakes_correlation():
    """Rayleigh fading with the Jakes spectrum (f_D = 100 Hz, i.i.d. over the 64 gNB antennas)
    and an SRS every 20 slots used 2 slots later: an estimate of age tau (here 0.75 to 10.25
    ms, at SRS SINR ~90 dB) correlates with the true channel as J0(2 pi f_D tau), and MRT
    (matched filter) steered from it keeps the share J0^2 + (1 - J0^2) / N of the ideal
    beamforming gain (h = J0 ĥ + sqrt(1 - J0^2) e, e independent of ĥ)."""
    f_d, n_ant, slot = 100.0, 64, 0.0005
    _, spec = _fixed_radio(8, ["radio.csi.srs_period_slots=20",
                               "radio.csi.processing_delay_slots=2"],
                           FreeSpace="false", DefaultPathGainDb="-60",
                           FadingDopplerHz=repr(f_d))
    corr: dict[int, list[float]] = {}
    gain: dict[int, list[float]] = {}
    ideal: dict[int, list[float]] = {}
    with Simulation(spec, seed=5) as sim:
        def tap():
            for u in range(8):
                c = sim.csi(f"ue{u}")
                h, e = c["true"][0, :, 0], c["estimate"][0, :, 0]
                k = int(round(c["age_s"] / slot * 2))  # age in half slots (taps mid-slot)
                corr.setdefault(k, []).append(np.real(np.vdot(e, h)) / n_ant)
                gain.setdefault(k, []).append(abs(np.vdot(e, h)) ** 2 / np.vdot(e, e).real)
                ideal.setdefault(k, []).append(np.vdot(h, h).real)

        for n in range(40, 2400):
            sim.schedule((n + 0.5) * slot, tap)
        sim.run(until_s=1.21)
    ages = sorted(corr)
    # read mid-slot, the estimate the next slot uses: from 1.5 slots after the SRS (usable 2
    # slots after it) to 20.5 (the next one is usable)
    assert [k / 2 for k in ages] == [a + 0.5 for a in range(1, 21)]
    worst_corr = worst_gain = 0.0
    for k in ages:
        rho = j0(2 * np.pi * f_d * k / 2 * slot)
        g = np.mean(gain[k]) / np.mean(ideal[k])
        worst_corr = max(worst_corr, abs(np.mean(corr[k]) - rho))
        worst_gain = max(worst_gain, abs(g - (rho ** 2 + (1 - rho ** 2) / n_ant)))
    print(f"largest deviation: correlation {worst_corr:.4f}, gain share {worst_gain:.4f}")
    assert worst_corr < 0.03  # measured 0.009 (seed 5)
    assert worst_gain < 0.03  # measured 0.007


def test_python_replaces_the_gnb_csi_from_a_given_slot_and_link_adaptation_follows():
    """set_csi: from the given slot on the gNB uses the given channel (a 'prediction'), flagged
    external, until set_csi(ue, None); a channel 20 dB weaker than the true one makes link
    adaptation choose a lower MCS, while the true channel still decides the SINR."""
    # without OLLA, whose offset runs down while the top MCS is always ACKed
    _, spec = _fixed_radio(1, ["radio.csi.srs_period_slots=5", "radio.olla=false"],
                           FreeSpace="false", DefaultPathGainDb="-110")
    seen = {}
    with Simulation(spec, seed=1) as sim:
        sim.add_udp_flow("edge0", "ue0", 400e6, 1472, 0.0, 30000)

        def before():
            c = sim.csi("ue0")
            seen["before"] = (c["external"], sim.radio_ue_stats()["dl_sum_mcs"][0],
                              sim.radio_ue_stats()["dl_tb_first"][0])
            sim.set_csi("ue0", c["true"] * 0.1, at_time=0.1)

        def during():
            c = sim.csi("ue0")
            st = sim.link_states().radio
            seen["during"] = (c["external"], c["srs_slot"], sim.radio_ue_stats()["dl_sum_mcs"][0],
                              sim.radio_ue_stats()["dl_tb_first"][0], st["sinr_est_db"][0],
                              st["sinr_db"][0])
            sim.set_csi("ue0", None)

        sim.schedule(0.05, before)
        sim.schedule(0.15, during)
        sim.run(until_s=0.16)
        assert not sim.csi("ue0")["external"]
    ext0, mcs0, tb0 = seen["before"]
    ext1, from_slot, mcs1, tb1, est_db, true_db = seen["during"]
    assert not ext0 and ext1 and from_slot == 200  # 0.1 s / 0.5 ms
    mean_before, mean_during = mcs0 / tb0, (mcs1 - mcs0) / (tb1 - tb0)  # half with it
    print(f"mean MCS before {mean_before:.2f}, with the external CSI {mean_during:.2f}")
    assert mean_during < mean_before - 3
    assert est_db == pytest.approx(true_db - 20, abs=1.0)


def test_ideal_csi_link_states_show_the_two_slot_measurement_and_no_srs():
    """radio.csi.mode ideal: the CSI the gNB uses is the true SINR measured 2 active slots
    before (age 2 slots in DDDSU's DL-only stretch, 3 after the U slot), no SRS SINR, and the
    believed SINR equals the true one on a static fixed channel."""
    cfg = config.load("radio-saturation", ["radio.n_ues=2", "radio.channel=fixed",
                                            "radio.beam_policy=los", "radio.csi.mode=ideal"])
    with Simulation(network_spec(cfg), seed=1) as sim:
        sim.run(until_s=0.02)
        st = sim.link_states().radio
        c = sim.csi("ue0")
    assert np.all(np.isnan(st["srs_sinr_db"]))
    assert set(np.round(st["csi_age_s"] / 0.0005)) <= {2.0, 3.0}
    np.testing.assert_allclose(st["sinr_est_db"], st["sinr_db"], atol=1e-9)
    assert c["mode"] == "ideal" and np.array_equal(c["estimate"], c["true"])


# Per-UE MAC counters of the run below, recorded with the radio as it was before CSI modes
# existed (commit a753c9f~1, built apart): ideal CSI must reproduce them exactly.
_BEFORE_CSI_MODES = {
    "dl_mac_bytes": [2126339.0, 1853870.0, 1933015.0, 645044.0],
    "ul_mac_bytes": [723000.0, 309536.0, 358901.0, 24981.0],
    "dl_sum_mcs": [7187.0, 5686.0, 6218.0, 1958.0], "ul_sum_mcs": [2646.0, 1511.0, 1787.0, 472.0],
    "dl_tb_first": [267.0, 268.0, 268.0, 270.0], "ul_tb_first": [137.0, 137.0, 135.0, 124.0],
    "dl_tb_first_err": [26.0, 26.0, 26.0, 26.0], "ul_tb_err": [14.0, 14.0, 14.0, 13.0],
    "dl_sum_sinr_eff_db": [7343.20843812339, 5302.359356985314, 5896.256533343211,
                           1773.7634277193638],
}


def test_ideal_csi_reproduces_the_radio_before_csi_modes_on_a_fixed_seed():
    """radio.csi.mode ideal: the same TBs, MCSs, errors and SINRs as before (TR 38.901 UMa, 4
    UEs, DDDSU, PF, OLLA, UDP both ways, seed 7, 0.2 s)."""
    cfg = config.load("radio-saturation", ["radio.n_ues=4", "radio.csi.mode=ideal",
                                           "radio.ul.realism=false"])  # before issue 10.3
    with Simulation(network_spec(cfg), seed=7) as sim:
        for u in range(4):
            sim.add_udp_flow("edge0", f"ue{u}", 300e6, 1472, 0.01, 30000 + u)
            sim.add_udp_flow(f"ue{u}", "edge0", 30e6, 1472, 0.01, 31000 + u)
        sim.run(until_s=0.2)
        st = sim.radio_ue_stats()
    for k, v in _BEFORE_CSI_MODES.items():
        np.testing.assert_array_equal(np.asarray(st[k], dtype=float), v, err_msg=k)


@pytest.mark.parametrize("overrides, message", [
    (["radio.csi.mode=srs", "radio.tdd_pattern=D"],
     "csi.srs_period_slots: SRS every 10 slots from slot 0 hits slots without UL symbols"),
    (["radio.csi.mode=srs", "radio.csi.srs_offset_slots=0"],
     "csi.srs_offset_slots: SRS every 10 slots from slot 0 hits slots without UL symbols in "
     "tdd_pattern 'DDDSU'"),
    (["radio.csi.mode=srs", "radio.csi.srs_offset_slots=10"],
     "csi.srs_offset_slots: 10 must be below csi.srs_period_slots (10)"),
    (["radio.csi.mode=srs", "radio.csi.srs_comb=3"], "srs_comb"),
    (["radio.csi.mode=predicted"], "radio.csi.mode"),
])
def test_bad_csi_settings_are_one_line_errors_naming_the_field(overrides, message):
    with pytest.raises(config.ConfigError) as e:
        config.load("radio-saturation", overrides)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_srs_offset_defaults_to_the_first_slot_with_ul_symbols():
    cfg = config.load("radio-saturation", ["radio.csi.mode=srs"])
    attrs = cfg.radio.mac_attributes()
    assert attrs["CsiMode"] == "Srs" and attrs["SrsOffsetSlots"] == "3"  # DDDSU: the S slot
    cfg = config.load("radio-saturation", ["radio.csi.mode=srs", "radio.tdd_pattern=DDDUU",
                                            "radio.csi.srs_period_slots=5"])
    assert cfg.radio.mac_attributes()["SrsOffsetSlots"] == "3"
