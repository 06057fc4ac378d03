"""The 6G radio inside the co-simulation (config -> EdgeNetwork -> NR radio -> UDP/TCP), checked
against TS 38.306 and against what Python asks of it (shares, beams, CSI)."""

import json

import numpy as np
import pytest

from edgelam_ns3 import config, runner
from edgelam_ns3.scenario import run_scenario
from edgelam_ns3.sim import Simulation
from edgelam_ns3.topology import network_spec


def test_udp_goodput_of_one_near_ue_reaches_the_ts38306_rate(tmp_path, ts38306_rate_bps):
    # one UE 30 m from the gNB in LOS (SINR far above MCS 27's), all-downlink slots, 100 MHz,
    # mu=1 (273 PRBs), 256-QAM, one layer, 3.5 GHz
    cfg = config.load("radio-saturation", [
        "radio.carrier_hz=3.5e9", "radio.tdd_pattern=D", "radio.n_ues=1", "radio.ue_distance_m=30",
        "radio.shadowing=false", "traffic.duration_s=0.3"])
    s = run_scenario(cfg, tmp_path / "r")
    peak = ts38306_rate_bps()  # 584.25 Mbit/s
    udp_share = 1472 / 1500    # IPv4 (20) + UDP (8) headers per 1500-byte packet
    assert s["ues"]["ue0"]["dl_mean_sinr_db"] > 30
    assert s["cell"]["dl_goodput_bps"] == pytest.approx(peak * udp_share, rel=0.05)
    assert s["slots_simulated"] == pytest.approx((0.3 + 0.01) / 0.5e-3, abs=2)


def test_radio_saturation_summary_has_cell_and_per_ue_figures(tmp_path, ts38306_rate_bps):
    cfg = config.load("radio-saturation", ["radio.n_ues=4", "traffic.duration_s=0.2",
                                            "traffic.full_buffer_ul=true"])
    out = tmp_path / "s"
    s = runner.launch(cfg, out, quiet=True)
    assert s["status"] == "ok"
    saved = json.loads((out / "summary.json").read_text())
    assert saved["cell"]["dl_goodput_bps"] > 0 and saved["cell"]["ul_goodput_bps"] > 0
    assert set(saved["ues"]) == {"ue0", "ue1", "ue2", "ue3"}
    for ue in saved["ues"].values():
        for k in ("dl_mean_sinr_db", "dl_mean_mcs", "dl_bler", "dl_goodput_bps",
                  "ul_goodput_bps"):
            assert k in ue
    # the cell's goodput is the sum of its UEs'
    total = sum(u["dl_goodput_bps"] for u in saved["ues"].values())
    assert saved["cell"]["dl_goodput_bps"] == pytest.approx(total)
    # DDDSU: DL goodput below the all-DL 38.306 rate
    assert saved["cell"]["dl_goodput_bps"] < ts38306_rate_bps()
    import pandas as pd

    ls = pd.read_parquet(out / "traces" / "link_states.parquet")
    ue_rows = ls[ls["kind"] == "ue"]
    assert set(ue_rows["dst"]) == {"ue0", "ue1", "ue2", "ue3"}
    assert ue_rows["sinr_db"].notna().all()


def test_radio_shares_set_from_python_split_the_cell(tmp_path):
    cfg = config.load("radio-saturation", ["radio.n_ues=2", "radio.ue_distance_m=50",
                                            "radio.shadowing=false", "radio.scheduler=rr"])
    rx = {}
    with Simulation(network_spec(cfg), seed=1) as sim:
        for u in range(2):
            sim.add_udp_flow("edge0", f"ue{u}", 800e6, 1472, 0.01, 30000 + u)
        sim.schedule(0.0, lambda: (sim.set_radio_share("ue0", 0.75),
                                   sim.set_radio_share("ue1", 0.25)))
        sim.run(until_s=0.3)
        rx = {u: sim.udp_rx_bytes(f"ue{u}", 30000 + u) for u in range(2)}
        st = sim.link_states()
        assert st.radio is not None and list(st.radio["ue"]) == ["ue0", "ue1"]
        h = sim.csi("ue0")
    # [rx antennas, tx antennas (8x8), subbands: one per RBG, ceil(273 PRBs / 16) = 18]
    assert h.shape == (1, 64, 18) and h.dtype == complex
    assert np.abs(h).max() > 0
    # both UEs are near (top MCS), so bytes follow the RBG shares 3:1 (within rounding of the
    # 17 RBGs and the 1-PRB last RBG)
    assert rx[0] / rx[1] == pytest.approx(3.0, rel=0.12)


def test_beam_set_from_python_takes_effect_from_that_instant():
    cfg = config.load("radio-saturation", ["radio.n_ues=1", "radio.ue_distance_m=100",
                                            "radio.shadowing=false", "radio.beam_policy=los",
                                            "radio.gnb_tx_power_dbm=10"])
    with Simulation(network_spec(cfg), seed=1) as sim:
        sim.add_udp_flow("edge0", "ue0", 800e6, 1472, 0.01, 30000)
        sinr = {}

        def measure(tag):
            sinr[tag] = float(sim.link_states().radio["sinr_db"][0])

        sim.schedule(0.1, measure, "steered")
        # a beam with all weight on one element: the array gain (64 elements) is lost
        w = np.zeros(64, complex)
        w[0] = 1.0
        sim.schedule(0.1, sim.set_beam, "ue0", w)
        sim.schedule(0.2, measure, "one element")
        sim.run(until_s=0.2)
    loss_db = sinr["steered"] - sinr["one element"]
    # LOS steering gains up to 10 log10(64) = 18 dB over one element; the channel's scattered
    # paths make it somewhat less
    assert 8 < loss_db < 19


def test_csi_is_recorded_as_complex_matrices_per_ue_and_tap(tmp_path):
    cfg = config.load("radio-saturation", ["radio.n_ues=3", "traffic.duration_s=0.05",
                                            "trace.csi=true", "trace.link_state_period_s=0.01"])
    out = tmp_path / "c"
    s = run_scenario(cfg, out)
    assert s["csi_file"] == "traces/csi.npz"
    z = np.load(out / "traces" / "csi.npz")
    h, t = z["h"], z["t_s"]
    # taps at 0.01 .. 0.06 s; [tap, ue, rx_ant, tx_ant (8x8), subband]
    assert h.shape == (len(t), 3, 1, 64, 18) and h.dtype == np.complex64
    assert list(z["ue"]) == ["ue0", "ue1", "ue2"]
    assert np.all(np.abs(h).sum(axis=(2, 3, 4)) > 0)


def test_several_cells_attach_ues_to_the_strongest_and_interfere(tmp_path):
    cfg = config.load("radio-saturation", ["radio.n_cells=3", "radio.n_ues=9",
                                            "traffic.duration_s=0.1"])
    assert cfg.gnb_names() == ["gnb0", "gnb1", "gnb2"]
    s = run_scenario(cfg, tmp_path / "m")
    serving = {u["serving_cell"] for u in s["ues"].values()}
    assert serving == {"gnb0", "gnb1", "gnb2"}  # UE u is dropped around gNB u mod 3
    assert sum(c["dl_goodput_bps"] for c in s["cells"].values()) == \
        pytest.approx(s["cell"]["dl_goodput_bps"])
    # every backhaul link named 'gnb' joined each gNB to the edge server
    assert all(c["dl_goodput_bps"] > 0 for c in s["cells"].values())
