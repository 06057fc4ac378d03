"""DL MU-MIMO and multiple layers in the MAC (issue 10.2, 10.5): the per-layer SINR the MAC
computes on the channel it used, against the closed forms of ZF, MRT and RZF computed here in
numpy; SU-MIMO with two layers at the TS 38.306 rate; precoders set from Python applied at their
slot; the MU-MIMO link-state fields.

Channel: the fixed-gain channel with i.i.d. Rayleigh fading per antenna pair at a Doppler of
1e-6 Hz (static over a run), so the gNB's ideal CSI (two slots old) is the true channel."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edgelam_ns3 import config
from edgelam_ns3.sim import Simulation
from edgelam_ns3.topology import network_spec

K_BOLTZMANN, T0 = 1.380649e-23, 290.0
N_PRB, SCS = 273, 30e3  # 100 MHz at 30 kHz


def _spec(n_ues: int, overrides: list[str], pg_db: float = -100.0):
    """One cell, all-DL, ideal CSI, full-buffer DL at the MAC, every UE at path gain pg_db."""
    cfg = config.load("radio-saturation", [
        f"radio.n_ues={n_ues}", "radio.channel=fixed", "radio.beam_policy=los",
        "radio.csi.mode=ideal", "radio.tdd_pattern=D", *overrides])
    spec = network_spec(cfg)
    attrs = {**spec.radio.channel_attrs, "FreeSpace": "false",
             "DefaultPathGainDb": repr(pg_db), "FadingDopplerHz": "1e-6"}
    radio = dataclasses.replace(spec.radio, channel_attrs=attrs,
                                mac_attrs={**spec.radio.mac_attrs, "FullBufferDl": "true"})
    return cfg, dataclasses.replace(spec, radio=radio)


def _psd_w_per_hz(cfg) -> float:
    """The gNB's transmit PSD: its power spread evenly over the carrier's PRBs."""
    return 10 ** ((cfg.radio.gnb_tx_power_dbm - 30) / 10) / (N_PRB * 12 * SCS)


def _expected_sinr(h: np.ndarray, w: np.ndarray, noise: float) -> np.ndarray:
    """Single-antenna UEs, one layer each: |h_k w_k|^2 / (sigma^2 + sum_j!=k |h_k w_j|^2)."""
    g = np.abs(h @ w) ** 2
    sig = np.diag(g)
    return sig / (noise + g.sum(axis=1) - sig)


def _reference_precoder(kind: str, h: np.ndarray, p: float, noise: float) -> np.ndarray:
    """MRT, ZF, RZF (alpha = sigma^2 L / P) with unit-norm columns scaled to power p each."""
    n_l = h.shape[0]
    if kind == "mrt":
        v = h.conj().T
    else:
        alpha = 0.0 if kind == "zf" else noise * n_l / (p * n_l)
        v = h.conj().T @ np.linalg.inv(h @ h.conj().T + alpha * np.eye(n_l))
    return v / np.linalg.norm(v, axis=0) * np.sqrt(p)


@pytest.mark.parametrize("precoder", ["zf", "mrt", "rzf"])
def test_layer_sinr_of_the_mac_equals_the_closed_form_on_the_channel_it_used(precoder):
    """4 single-antenna UEs co-scheduled on every RBG (max_layers 4, 8x8 gNB, perfect CSI,
    equal power P/4 per layer): ZF gives SINR_k = p_k / (sigma^2 [(H H^H)^-1]_kk); MRT and
    RZF their precoders' SINR with the other layers as interference (numpy, from the true
    channels the MAC read back); sigma^2 = k T F per Hz, p_k = P / (4 N_PRB 12 SCS)."""
    cfg, spec = _spec(4, ["radio.mimo.max_layers=4", f"radio.mimo.precoder={precoder}"])
    noise = K_BOLTZMANN * T0 * 10 ** (cfg.radio.ue_noise_figure_db / 10)
    p = _psd_w_per_hz(cfg) / 4
    with Simulation(spec, seed=1) as sim:
        sim.run(until_s=0.01)
        groups = sim.precoding(0)
    assert len(groups) == 18 and all(len(g["ues"]) == 4 for g in groups)
    for g in groups:
        h = np.vstack(g["h"])  # [4 x 64], path gain included, in group order
        w = g["w"]
        assert g["noise_psd"] == pytest.approx(noise, rel=1e-9)
        np.testing.assert_allclose(np.linalg.norm(w, axis=0) ** 2, p, rtol=1e-9)
        if precoder == "zf":
            expect = p / (noise * np.diag(np.linalg.inv(h @ h.conj().T)).real)
        else:
            expect = _expected_sinr(h, _reference_precoder(precoder, h, p, noise), noise)
        np.testing.assert_allclose(10 * np.log10(g["sinr"]), 10 * np.log10(expect), atol=0.1)
        # perfect CSI: the gNB's estimate is the true SINR
        np.testing.assert_allclose(g["est_sinr"], g["sinr"], rtol=1e-6)


def test_with_srs_csi_the_precoders_come_from_the_gnbs_estimate_not_the_true_channel():
    """radio.csi.mode srs (DDDSU, SRS every 20 slots in the S slot, usable 2 slots later): the
    ZF precoders of slot 30 are ZF of the SRS estimates the gNB holds (read with
    Simulation.csi, times sqrt of their path gain), not of the true channels; the estimation
    error shows as residual inter-user interference, so the true SINR differs from the
    gNB's."""
    cfg, spec = _spec(4, ["radio.mimo.max_layers=4", "radio.tdd_pattern=DDDSU",
                          "radio.csi.mode=srs", "radio.csi.srs_period_slots=20",
                          "radio.csi.srs_offset_slots=3"], pg_db=-120.0)
    p = _psd_w_per_hz(cfg) / 4
    seen = {}
    with Simulation(spec, seed=2) as sim:
        def look():
            seen["groups"] = sim.precoding(0)
            seen["csi"] = [sim.csi(f"ue{u}") for u in range(4)]

        sim.schedule(30.5 * 0.0005, look)
        sim.run(until_s=0.016)
    c = seen["csi"]
    assert all(x["next_slot"] == 31 and x["srs_slot"] == 23 for x in c)
    for r, g in enumerate(seen["groups"]):
        assert g["ues"] and len(g["ues"]) == 4
        sb = min(17, int((16 * r + 0.5 * min(16, N_PRB - 16 * r)) * 18 / N_PRB))  # centre PRB
        est = np.vstack([c[u]["estimate"][0, :, sb] * 10 ** (c[u]["estimate_path_gain_db"] / 20)
                         for u in g["ues"]])
        true = np.vstack([c[u]["true"][0, :, sb] * 10 ** (c[u]["path_gain_db"] / 20)
                          for u in g["ues"]])
        np.testing.assert_allclose(g["w"], _reference_precoder("zf", est, p, 1.0), rtol=1e-6,
                                   atol=1e-9 * np.abs(g["w"]).max())
        assert not np.allclose(g["w"], _reference_precoder("zf", true, p, 1.0), rtol=1e-3)
        assert np.max(np.abs(10 * np.log10(np.asarray(g["sinr"]) / g["est_sinr"]))) > 0.01


def test_two_layers_to_one_ue_reach_the_ts38306_rate_with_two_layers(ts38306_rate_bps):
    """SU-MIMO: one UE with 2 antennas (1x2) at high SINR (path gain -60 dB), max_layers 2,
    2 layers per UE (its two eigen-modes, ZF over them = SVD precoding), all-DL, full buffer:
    every TB at MCS 27 over 273 PRBs and 2 layers; MAC rate = TS 38.306 with 2 layers within
    5 % (the first two slots wait for CSI)."""
    cfg, spec = _spec(1, ["radio.mimo.max_layers=2", "radio.mimo.max_layers_per_ue=2",
                          "radio.ue_array=[1,2]", "radio.gnb_array=[2,2]", "radio.olla=false"],
                      pg_db=-60.0)
    t = 0.1
    with Simulation(spec, seed=1) as sim:
        sim.run(until_s=t)
        st = sim.radio_ue_stats()
        groups = sim.precoding(0)
    rate = st["dl_mac_bytes"][0] * 8 / t
    expected = ts38306_rate_bps(layers=2)
    print(f"2-layer MAC rate {rate / 1e6:.1f} Mbit/s, TS 38.306 (2 layers) "
          f"{expected / 1e6:.1f} Mbit/s ({100 * (rate / expected - 1):+.2f} %)")
    assert st["dl_mean_mcs"][0] == 27 and st["dl_mean_layers"][0] == 2
    assert all(g["layer_ue"] == [0, 0] for g in groups)
    assert rate == pytest.approx(expected, rel=0.05)


def test_set_precoders_applies_at_its_slot_and_control_goes_back():
    """Python's precoders (MRT toward 2 UEs, half the power each) from slot 40 (at_time 20 ms)
    on: slot 39 still has the MAC's own single-layer path (no groups, max_layers 1), slot 40
    the given group with W = w sqrt(PSD), and the true SINR of each layer matches the closed
    form with the other layer as interference; set_precoders(None) from slot 80 gives it
    back."""
    cfg, spec = _spec(2, [])
    psd = _psd_w_per_hz(cfg)
    noise = K_BOLTZMANN * T0 * 10 ** (cfg.radio.ue_noise_figure_db / 10)
    slot = 0.0005
    seen = {}
    with Simulation(spec, seed=1) as sim:
        def decide():
            h = np.vstack([sim.csi(f"ue{u}")["true"][0, :, 0] for u in range(2)])
            w = h.conj().T / np.linalg.norm(h, axis=1) / np.sqrt(2)
            seen["w"] = w
            sim.set_precoders(["ue0", "ue1"], w, at_time=0.02)
            sim.set_precoders(None, cell=0, from_slot=80)

        def look(name):
            seen[name] = sim.precoding(0)

        sim.schedule(0.005, decide)
        for name, n in (("s39", 39), ("s40", 40), ("s79", 79), ("s80", 80)):
            sim.schedule((n + 0.5) * slot, look, name)
        sim.run(until_s=0.045)
    assert all(len(g["ues"]) == 0 for g in seen["s39"] + seen["s80"])
    for s in ("s40", "s79"):
        for g in seen[s]:
            assert g["ues"] == [0, 1] and g["layer_ue"] == [0, 1]
            np.testing.assert_allclose(g["w"], seen["w"] * np.sqrt(psd), rtol=1e-12)
            h = np.vstack(g["h"])
            expect = _expected_sinr(h, g["w"], noise)
            np.testing.assert_allclose(10 * np.log10(g["sinr"]), 10 * np.log10(expect),
                                       atol=0.01)


def test_a_lone_ues_mrt_precoder_gain_is_the_array_gain_in_the_link_states():
    """Link states (issue 10.5): one single-antenna UE on the MU-MIMO path with MRT gets one
    layer alone on each RBG, so dl_layers 1, dl_co_scheduled 1 and a precoder gain of
    ||h||^2 N / ||h||^2 = N: 10 log10 64 = 18.06 dB for the 8x8 array."""
    _, spec = _spec(1, ["radio.mimo.max_layers=2", "radio.mimo.precoder=mrt"])
    with Simulation(spec, seed=1) as sim:
        sim.run(until_s=0.02)
        st = sim.link_states().radio
    assert st["dl_layers"][0] == 1 and st["dl_co_scheduled"][0] == 1
    assert st["precoder_gain_db"][0] == pytest.approx(10 * np.log10(64), abs=1e-6)


def test_four_co_scheduled_ues_show_in_the_link_states():
    """4 UEs, max_layers 4, ZF: each transmission shares its RBGs with the 3 others
    (dl_co_scheduled 4, one layer each) and ZF's gain is below MRT's array gain."""
    _, spec = _spec(4, ["radio.mimo.max_layers=4"])
    with Simulation(spec, seed=1) as sim:
        sim.run(until_s=0.02)
        st = sim.link_states().radio
    np.testing.assert_array_equal(st["dl_co_scheduled"], 4.0)
    np.testing.assert_array_equal(st["dl_layers"], 1.0)
    assert np.all(st["precoder_gain_db"] < 10 * np.log10(64))


@pytest.mark.parametrize("overrides, message", [
    (["radio.mimo.max_layers=2", "radio.scheduler=rr"], "radio.mimo.max_layers"),
    (["radio.mimo.precoder=svd"], "precoder"),
])
def test_bad_mimo_settings_are_one_line_errors_naming_the_field(overrides, message):
    with pytest.raises(config.ConfigError) as e:
        config.load("radio-saturation", overrides)
    assert message in str(e.value)


def test_a_resource_share_on_the_mu_mimo_path_is_an_error_not_ignored():
    _, spec = _spec(2, ["radio.mimo.max_layers=2"])
    with Simulation(spec, seed=1) as sim:
        with pytest.raises(ValueError, match="MU-MIMO"):
            sim.set_radio_share("ue0", 0.5)
        sim.set_radio_share("ue0", None)  # no reservation stays allowed
