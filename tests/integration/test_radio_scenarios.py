"""The 6G radio inside the co-simulation (config -> EdgeNetwork -> NR radio -> UDP/TCP), checked
against TS 38.306, TR 38.901 closed forms (path loss, kTBF noise) and what Python asks of it
(shares, beams, CSI).

References: TS 38.306 V17 §4.1.2 (maximum data rate: the ``ts38306_rate_bps`` fixture of
tests/conftest.py); TR 38.901 V17.0.0 Table 7.4.1-1 (UMa path loss), Tables 7.2-1..3 (minimum
UE distance); kTBF noise with T0 = 290 K.
"""

import json
import math

import numpy as np
import pytest

from edgelam_ns3 import config, runner
from edgelam_ns3.radio.control import NrRadioControl
from edgelam_ns3.scenario import run_scenario
from edgelam_ns3.sim import Simulation
from edgelam_ns3.topology import network_spec

UDP_SHARE = 1472 / 1500  # UDP payload of a 1500-byte IPv4 packet (20 + 8 header bytes)
C = 299792458.0


def uma_pl_db(d2d, d3d, los, fc_hz, h_bs=25.0, h_ut=1.5):
    """TR 38.901 Table 7.4.1-1, UMa (h_E = 1 m), LOS or NLOS (the larger of the NLOS formula
    and the LOS path loss), dB."""
    fc = fc_hz / 1e9
    d_bp = 4 * (h_bs - 1.0) * (h_ut - 1.0) * fc_hz / C
    if d2d <= d_bp:
        pl_los = 28.0 + 22 * math.log10(d3d) + 20 * math.log10(fc)
    else:
        pl_los = (28.0 + 40 * math.log10(d3d) + 20 * math.log10(fc)
                  - 9 * math.log10(d_bp**2 + (h_bs - h_ut) ** 2))
    if los:
        return pl_los
    return max(pl_los, 13.54 + 39.08 * math.log10(d3d) + 20 * math.log10(fc)
               - 0.6 * (h_ut - 1.5))


def test_udp_goodput_of_one_near_ue_reaches_the_ts38306_rate(tmp_path, ts38306_rate_bps):
    # one UE 30 m from the gNB in LOS (SINR far above MCS 27's), all-downlink slots, 100 MHz,
    # mu=1 (273 PRBs), 256-QAM, one layer, 3.5 GHz
    cfg = config.load("radio-saturation", [
        "radio.carrier_hz=3.5e9", "radio.tdd_pattern=D", "radio.n_ues=1", "radio.ue_distance_m=30",
        "radio.shadowing=false", "traffic.duration_s=0.3",
        "radio.csi.mode=ideal"])  # all-DL slots: no SRS
    s = run_scenario(cfg, tmp_path / "r")
    peak = ts38306_rate_bps()  # 584.25 Mbit/s
    print(f"TS 38.306 check: goodput {s['cell']['dl_goodput_bps'] / 1e6:.2f} Mbit/s, MAC "
          f"{s['cell']['dl_mac_bps'] / 1e6:.2f} Mbit/s over {s['rate_window_s']} s; TS 38.306 "
          f"{peak / 1e6:.2f} Mbit/s, less the UDP/IPv4 headers {peak * UDP_SHARE / 1e6:.2f}")
    assert s["ues"]["ue0"]["dl_mean_sinr_db"] > 30
    assert s["cell"]["dl_goodput_bps"] == pytest.approx(peak * UDP_SHARE, rel=0.05)
    assert s["cell"]["dl_mac_bps"] == pytest.approx(peak, rel=0.05)
    assert s["slots_simulated"] == pytest.approx((0.3 + 0.01) / 0.5e-3, abs=2)


def test_mac_rate_and_goodput_share_one_window_and_the_goodput_is_the_mac_bytes_less_headers(
        tmp_path, ts38306_rate_bps):
    """Full-buffer DL and UL, 4 UEs. Every rate of summary.json is over rate_window_s, from the
    traffic's start to the end: each UE's goodput (UDP payload delivered, counted by the
    sinks) is its MAC throughput (decoded TB bytes, counted by the MAC) less the 28 header
    bytes of each 1500-byte packet, so the MAC rate is never below the goodput (short of it by
    the packets still in reassembly at the end, behind a HARQ retransmission). The DL cell
    rate stays below TS 38.306 for the DL part of DDDSU (3 D slots + 10 of an S slot's 14
    symbols in 5 slots)."""
    cfg = config.load("radio-saturation", ["radio.n_ues=4", "traffic.duration_s=0.2",
                                            "traffic.full_buffer_ul=true"])
    out = tmp_path / "s"
    s = runner.launch(cfg, out, quiet=True, warm=True)
    assert s["status"] == "ok"
    saved = json.loads((out / "summary.json").read_text())
    assert saved["rate_window_s"] == pytest.approx([cfg.traffic.start_s, saved["sim_time_s"]])
    assert set(saved["ues"]) == {"ue0", "ue1", "ue2", "ue3"}
    window_s = saved["rate_window_s"][1] - saved["rate_window_s"][0]
    for name, ue in saved["ues"].items():
        for d in ("dl", "ul"):
            mac, gp = ue[f"{d}_mac_bps"], ue[f"{d}_goodput_bps"]
            print(f"{name} {d}: MAC {mac / 1e6:.2f}, goodput {gp / 1e6:.2f} Mbit/s")
            assert mac >= gp > 0
            in_flight_bytes = (mac * UDP_SHARE - gp) * window_s / 8
            # behind a NACKed TB: at most a HARQ round trip of DDDSU (ACK in the first PUCCH
            # slot >= K1, retransmission in the next D slot: 8 slots of 0.5 ms) of its bytes
            assert 0 <= in_flight_bytes <= max(16 * 1500, mac / 8 * 8 * 0.5e-3)
    dl_share = (3 * 14 + 10) / (5 * 14)
    assert saved["cell"]["dl_mac_bps"] <= 1.01 * ts38306_rate_bps() * dl_share
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
        h = sim.csi("ue0")["true"]
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
    # the gNB's CSI beside it (radio.csi.mode ideal: the true channel) and its age
    assert z["h_est"].shape == h.shape and z["age_s"].shape == (len(t), 3)
    assert np.all(np.abs(h).sum(axis=(2, 3, 4)) > 0)


# -- shares: a guaranteed minimum, work-conserving (issue 8.3) ----------------------------------


def _near_pair(direction):
    """Two UEs 30 m from the gNB, 3.5 GHz, no shadowing, all slots in ``direction``."""
    return config.load("radio-saturation", [
        "radio.carrier_hz=3.5e9", f"radio.tdd_pattern={'D' if direction == 'dl' else 'U'}",
        "radio.n_ues=2", "radio.ue_distance_m=30", "radio.shadowing=false",
        "traffic.full_buffer_dl=false", "radio.csi.mode=ideal"])  # D or U only: no SRS in D


def _goodput_of_ue1(direction, shares):
    """UE 1's UDP goodput [bit/s] over 0.2 s with only UE 1 sending (``direction``), after
    ``shares`` (UE name -> share) are set; UE 0 has nothing to send."""
    cfg = _near_pair(direction)
    port = 30001
    with Simulation(network_spec(cfg), seed=1) as sim:
        src, dst = ("edge0", "ue1") if direction == "dl" else ("ue1", "edge0")
        sim.add_udp_flow(src, dst, 800e6, 1472, 0.01, port)
        for ue, share in shares.items():
            sim.set_radio_share(ue, share)
        sim.run(until_s=0.21)
        return sim.udp_rx_bytes(dst, port) * 8 / 0.2


@pytest.mark.parametrize("direction", ["dl", "ul"])
def test_share_of_an_idle_ue_goes_to_the_backlogged_ue(direction, ts38306_rate_bps):
    """UE 0 holds a 0.5 share and has nothing to send; UE 1 (share None: no reservation) gets
    every RBG, so its goodput is what it gets alone (and in DL the TS 38.306 rate less the
    headers). Before shares were minima, UE 1 got nothing, and half the carrier with a 0.5
    share of its own."""
    alone = _goodput_of_ue1(direction, {})
    beside_idle = _goodput_of_ue1(direction, {"ue0": 0.5, "ue1": None})
    with_own_half = _goodput_of_ue1(direction, {"ue0": 0.5, "ue1": 0.5})
    print(f"{direction}: UE 1 alone {alone / 1e6:.1f}, beside an idle 0.5 share "
          f"{beside_idle / 1e6:.1f}, with a 0.5 share {with_own_half / 1e6:.1f} Mbit/s")
    assert beside_idle == pytest.approx(alone, rel=0.02)
    assert with_own_half == pytest.approx(alone, rel=0.02)
    if direction == "dl":
        assert alone == pytest.approx(ts38306_rate_bps() * UDP_SHARE, rel=0.05)


def test_devices_a_policy_leaves_unscheduled_still_receive_over_tcp():
    """A policy schedules ue0 alone (share 1) while ue1, unscheduled (no share), downloads 1 MB
    over TCP: ue1's data and its TCP acknowledgements use the RBGs ue0 leaves, and the message
    arrives. (When a share of 0 was a reservation of nothing, ue1 was never scheduled.)"""
    cfg = config.load("radio-saturation", ["radio.n_ues=2", "radio.ue_distance_m=100",
                                            "radio.shadowing=false", "nodes.n_devices=2"])
    got = {}
    with Simulation(network_spec(cfg), seed=1) as sim:
        NrRadioControl(cfg, sim).set_shares([0], [1.0])
        sim.send("ue0", "edge0", 2_000_000, on_delivered=lambda m: got.setdefault("up", m))
        sim.send("edge0", "ue1", 1_000_000, on_delivered=lambda m: got.setdefault("down", m))
        sim.run(until_s=2.0)
    assert set(got) == {"up", "down"}
    print(f"ue0 up {got['up'].latency_s * 1e3:.1f} ms, ue1 down {got['down'].latency_s * 1e3:.1f} ms")
    assert got["down"].latency_s < 0.5


# -- several cells: attachment and interference (issue 8.13, 8.17) ------------------------------


def _three_cells(extra=()):
    return config.load("radio-saturation", ["radio.n_cells=3", "radio.n_ues=30",
                                            "radio.fading_speed_kmh=0", *extra])


def test_every_ue_attaches_to_its_strongest_cell_on_the_channel_it_sees():
    """A 3-cell drop of 30 UEs (shadowing on, fading frozen so that the coupling gains are the
    drop's). After several channel updates (10 ms), each UE's serving cell is still the gNB of
    largest transmit power + coupling gain: the shadowing it attached on is the one it keeps.
    ns-3 3.37 redrew it at the first update, which left 10-17 % of such UEs on a weaker cell."""
    cfg = _three_cells()
    with Simulation(network_spec(cfg), seed=1) as sim:
        at_install = sim.radio_links()["coupling_gain_db"].copy()
        serving = sim.radio_ue_stats()["serving_cell"].astype(int)
        sim.run(until_s=0.055)
        links = sim.radio_links()
        assert sim.radio_slots() > 100
    strongest = np.argmax(links["coupling_gain_db"], axis=0)  # equal powers: coupling decides
    margin = links["coupling_gain_db"][serving, range(30)] - links["coupling_gain_db"].max(axis=0)
    print(f"serving cells {np.bincount(serving, minlength=3)}, worst margin {margin.min():.2f} dB")
    np.testing.assert_array_equal(serving, strongest)
    np.testing.assert_allclose(links["coupling_gain_db"], at_install, atol=1e-9)
    assert set(serving) == {0, 1, 2}


def _mean_sinr_of_cell0_ues(loaded_cells):
    """Mean DL effective SINR [dB] of gnb0's UEs with full-buffer UDP to the UEs of
    ``loaded_cells`` only (a cell without traffic does not transmit)."""
    cfg = _three_cells(["radio.n_ues=9", "radio.beam_policy=los"])
    with Simulation(network_spec(cfg), seed=1) as sim:
        serving = sim.radio_ue_stats()["serving_cell"].astype(int)
        for u in range(9):
            if serving[u] in loaded_cells:
                sim.add_udp_flow("edge0", f"ue{u}", 800e6, 1472, 0.0, 30000 + u)
        sim.run(until_s=0.1)
        sinr = sim.radio_ue_stats()["dl_mean_sinr_db"]
    return sinr[serving == 0]


def test_co_channel_neighbours_lower_the_sinr_of_a_cell():
    """The same 3-cell drop twice: with the two neighbours transmitting (full buffer to their
    UEs) every UE of gnb0 measures a lower SINR than with the neighbours silent (the MAC only
    counts interference from RBGs another cell allocates in the slot)."""
    quiet = _mean_sinr_of_cell0_ues({0})
    loaded = _mean_sinr_of_cell0_ues({0, 1, 2})
    print(f"gnb0's UEs: SINR {quiet} dB alone, {loaded} dB with loaded neighbours")
    assert len(quiet) >= 2
    assert np.all(loaded < quiet)
    assert np.max(quiet - loaded) > 1.0


# -- fading of static UEs (issue 8.11) -----------------------------------------------------------


def test_static_ues_see_their_fading_evolve_with_the_default_config():
    """The defaults (static UEs, radio.fading_speed_kmh 3: TR 38.901's pedestrian): a UE stays
    where it was dropped, its channel's clusters keep their powers, and the Doppler phases make
    its channel and its SINR change over a short run (both were frozen for a static UE)."""
    cfg = config.from_dict({"radio": {"n_ues": 4}, "nodes": {"n_devices": 1},
                            "train": {"framework": "none"}})
    assert cfg.radio.mobility is None and cfg.radio.ue_speed_kmh == 0
    sinr, h = [], []
    with Simulation(network_spec(cfg), seed=1) as sim:
        d0 = sim.radio_links()["distance_3d_m"].copy()
        for u in range(4):
            sim.add_udp_flow("edge0", f"ue{u}", 100e6, 1472, 0.0, 30000 + u)

        def tap(st):
            sinr.append(st.radio["sinr_db"].copy())
            h.append(sim.csi("ue0")["true"])

        sim.schedule(0.05, sim.every, 0.01, tap)  # after the first channel updates
        sim.run(until_s=0.35)
        np.testing.assert_array_equal(sim.radio_links()["distance_3d_m"], d0)  # static
    sinr = np.array(sinr)
    print(f"SINR std over {len(sinr)} taps per UE: {sinr.std(axis=0)} dB")
    assert np.all(sinr.std(axis=0) > 0)  # exactly 0 when frozen
    assert np.max(sinr.std(axis=0)) > 0.1
    power = [np.sum(np.abs(x) ** 2) for x in h]
    assert not np.allclose(h[0], h[-1])
    assert power[-1] == pytest.approx(power[0], rel=0.5)  # phases move, cluster powers stay


# -- geometry and noise in the config and the summary (issue 8.15) -------------------------------


def test_summary_reports_distance_los_and_path_gain_of_explicit_positions(tmp_path):
    """UEs at given positions (UMa, 7 GHz, no shadowing): the summary's distances are theirs
    (gNB 25 m high, UEs 1.5 m) and each path gain is minus TR 38.901's UMa path loss for the
    LOS state it reports."""
    positions = [[100.0, 0.0], [300.0, 50.0], [60.0, -40.0, 1.5]]
    cfg = config.load("radio-saturation", [
        "radio.n_ues=3", "radio.shadowing=false", f"radio.ue_positions_m={positions}",
        "traffic.duration_s=0.02"])
    s = run_scenario(cfg, tmp_path / "g")
    for u, p in enumerate(positions):
        e = s["ues"][f"ue{u}"]
        d2d = math.hypot(p[0], p[1])
        d3d = math.hypot(d2d, 25.0 - 1.5)
        assert e["distance_2d_m"] == pytest.approx(d2d, abs=1e-9)
        assert e["distance_3d_m"] == pytest.approx(d3d, abs=1e-9)
        assert e["path_gain_db"] == pytest.approx(-uma_pl_db(d2d, d3d, e["los"], 7e9), abs=0.01)
        # the gNB elements (8 dBi at most, TR 38.901 Table 7.3-1) toward the UE's clusters
        assert 0 < e["coupling_gain_db"] - e["path_gain_db"] < 8.5


def test_noise_figures_set_the_snr_by_ktbf():
    """Fixed gains (-80 dB), LOS beams of an 8x8 array (18.1 dB): the wideband SNR of the MAC's
    CSI is P / (N_PRB 12 SCS) G / (k T0 F), DL with the UE's noise figure, UL with the gNB's."""
    cfg = config.load("radio-saturation", [
        "radio.n_ues=1", "radio.channel=fixed", "radio.beam_policy=los",
        "radio.ue_noise_figure_db=7", "radio.gnb_noise_figure_db=3",
        "radio.ul.power_control=false"])  # the UE at its full 23 dBm
    with Simulation(network_spec(cfg), seed=1) as sim:
        sim.run(until_s=0.02)
        st = sim.radio_ue_stats()
    hz = 273 * 12 * 30e3
    kt0_dbm_hz = 10 * math.log10(1.380649e-23 * 290 * 1e3)
    gain_db = 10 * math.log10(64) - 80.0
    dl = 43.0 - 10 * math.log10(hz) + gain_db - kt0_dbm_hz - 7.0
    ul = 23.0 - 10 * math.log10(hz) + gain_db - kt0_dbm_hz - 3.0
    assert st["dl_wideband_sinr_db"][0] == pytest.approx(dl, abs=0.01)
    assert st["ul_wideband_sinr_db"][0] == pytest.approx(ul, abs=0.01)


@pytest.mark.parametrize("scenario,min_m", [("UMa", 35.0), ("UMi-StreetCanyon", 10.0)])
def test_dropped_ues_keep_the_scenarios_minimum_distance(scenario, min_m):
    """TR 38.901 Table 7.2-1: UEs are dropped at least 35 m (UMa) or 10 m (UMi) from the gNB."""
    cfg = config.load("radio-saturation", [f"radio.scenario={scenario}", "radio.n_ues=200",
                                            "radio.isd_m=100", "radio.shadowing=false"])
    with Simulation(network_spec(cfg), seed=1) as sim:
        d = sim.radio_links()["distance_2d_m"][0]
    print(f"{scenario}: nearest of 200 UEs at {d.min():.1f} m")
    assert d.min() >= min_m - 1e-9
    assert d.min() < min_m + 2.0  # the annulus starts there
