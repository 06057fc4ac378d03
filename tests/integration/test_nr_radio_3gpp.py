# SPDX-License-Identifier: GPL-2.0-only
"""The NR radio (NrRadioHelper, NrCellMac, NrNetDevice) over the TR 38.901 channel
(ThreeGppNrChannel), end to end through _core.NrRadioTestBed: distance, link adaptation, beams,
determinism.

References: TR 38.901 V17.0.0 Table 7.4.1-1 (UMa path loss), Table 7.3-1 (element pattern);
TS 38.306 V17 §4.1.2 (maximum data rate); the array factor of a half-wavelength UPA (the
upa_response of tests/conftest.py, which test_nr_channel.py checks against the C++ code).

Geometry: the helper's single gNB faces +x (bearing 0) and drops each UE at a random azimuth
within its sector; the tests narrow the sector to +-10 deg (SectorWidthDeg 20) so that the UE is
in front of the panel, and assert that precondition. Two layout streams give two geometries.
"""
import math

import numpy as np
import pytest

from edgelam_ns3 import _core

CARRIER_HZ = 7e9  # the project's default 6G upper mid-band carrier
FRONT_STREAMS = (1038, 1026)


@pytest.fixture
def bed(load_bler):
    """bed(sim, n_ues=1, helper=None, mac=None, channel=None, stream=1038): one cell over the
    TR 38.901 channel (UMa, 7 GHz, 43 dBm, UEs within +-10 deg of the panel's normal),
    all-downlink full buffer, Sionna's BLER curves; built without IPv4."""

    def make(sim, n_ues=1, helper=None, mac=None, channel=None, stream=1038):
        h = {"CarrierHz": repr(CARRIER_HZ), "Scenario": "UMa", "GnbTxPowerDbm": "43",
             "SectorWidthDeg": "20"}
        h.update(helper or {})
        m = {"TddPattern": "D", "McsTable": "qam256", "FullBufferDl": "true"}
        m.update(mac or {})
        tb = _core.NrRadioTestBed(sim, 1, n_ues, helper=h, mac=m, channel_attrs=channel or {},
                                  channel="3gpp", stream=stream)
        load_bler(tb)
        tb.build(ipv4=False)
        return tb

    return make


def _at_distance(bed, d_m, stream, gnb_array, power_dbm, duration_s=0.2):
    sim = _core.CoSim(1)
    try:
        tb = bed(sim, helper={"UeDistanceM": str(d_m), "GnbArrayRows": str(gnb_array),
                              "GnbArrayCols": str(gnb_array), "GnbTxPowerDbm": str(power_dbm)},
                 channel={"Condition": "los", "ShadowingEnabled": "false"}, stream=stream)
        az, incl = tb.los_angles(0, 0)
        assert tb.is_los(0, 0) and abs(math.degrees(az)) < 15, "UE not in front of the panel"
        pg = tb.path_gain_db(0, 0)
        tb.start()
        sim.run(duration_s)
        r = tb.results()
        return {"pg_db": pg, "incl": incl, "sinr_db": r["dl_wideband_sinr_db"][0],
                "mcs": r["dl_mean_mcs"][0], "bps": r["dl_mac_bps"][0]}
    finally:
        sim.destroy()


DISTANCES_M = (50.0, 200.0, 800.0)


@pytest.mark.parametrize("stream", FRONT_STREAMS)
def test_goodput_falls_as_distance_grows(bed, ts38306_rate_bps, stream):
    """UMa LOS forced, no shadowing, full-buffer DL, one UE at 50, 200 and 800 m.

    The path loss grows by 12.4 and 13.2 dB (Table 7.4.1-1, below the 1.1 km breakpoint at
    7 GHz). At the UMa power (43 dBm) with an 8x8 array every one of these LOS UEs is above
    45 dB SINR and gets the peak rate: throughput cannot fall, and the test checks exactly that.
    To see it fall within 800 m the gNB is one 8 dBi element at 23 dBm, which puts the three
    SINRs at about 33, 22 and 8 dB, across the MCS range; the near UE is still far above the
    256-QAM MCS 27 threshold, so it gets (nearly) the TS 38.306 rate.
    """
    peak = ts38306_rate_bps()
    # low power, one element: across the MCS range
    res = [_at_distance(bed, d, stream, 1, 23) for d in DISTANCES_M]
    for d, x in zip(DISTANCES_M, res):
        print(f"1x1 23 dBm, {d:5.0f} m: PG {x['pg_db']:7.1f} dB, SINR {x['sinr_db']:5.1f} dB, "
              f"MCS {x['mcs']:4.1f}, {x['bps'] / 1e6:6.1f} Mbit/s ({x['bps'] / peak:.2f} of "
              "TS 38.306)")
    pg = np.array([x["pg_db"] for x in res])
    sinr = np.array([x["sinr_db"] for x in res])
    bps = np.array([x["bps"] for x in res])
    assert np.all(np.diff(pg) < -10)
    # SINR follows the path gain and the element's vertical pattern (Table 7.3-1, no tilt:
    # -12 ((theta - 90 deg) / 65 deg)^2 dB, 1.8 dB for the near UE 25 deg below the horizon);
    # the Rician fading (K = 9 dB) of each drop moves it by about a dB
    elem_db = np.array([-min(12 * ((math.degrees(x["incl"]) - 90) / 65) ** 2, 30) for x in res])
    assert np.diff(sinr) == pytest.approx(np.diff(pg + elem_db), abs=2.0)
    assert np.all(np.diff(bps) < 0), bps
    assert bps[-1] < 0.5 * bps[0]
    # the near UE is above the ~25 dB that 256-QAM MCS 27 needs: (nearly) the peak rate
    assert sinr[0] > 28 and bps[0] >= 0.9 * peak

    # the UMa power with an 8x8 array: all at the peak rate, no fall to see
    high = [_at_distance(bed, d, stream, 8, 43) for d in DISTANCES_M]
    for d, x in zip(DISTANCES_M, high):
        print(f"8x8 43 dBm, {d:5.0f} m: SINR {x['sinr_db']:5.1f} dB, {x['bps'] / 1e6:6.1f} Mbit/s")
    assert all(x["sinr_db"] > 40 for x in high)
    assert [x["bps"] for x in high] == pytest.approx([high[0]["bps"]] * 3, rel=1e-3)
    assert high[0]["bps"] >= 0.95 * peak


@pytest.mark.parametrize("distance_m,speed_kmh", [(300.0, 3.0), (500.0, 30.0)])
def test_bler_holds_the_target_with_olla_on_a_fading_channel(bed, distance_m, speed_kmh):
    """UMa NLOS forced (frequency-selective, Table 7.5-6 clusters), UE moving at constant
    velocity, channel updated every 1 ms (Doppler phases, eq. 7.6-9), CSI 2 slots late: OLLA
    holds the first-transmission BLER at the 10 % target while the SINR stays within the MCS
    range (no outage below MCS 0, no cap at MCS 27)."""
    sim = _core.CoSim(1)
    try:
        tb = bed(sim, helper={"UeDistanceM": str(distance_m), "Mobility": "constant-velocity",
                              "UeSpeedKmh": str(speed_kmh)},
                 mac={"Olla": "true", "TargetBler": "0.1"},
                 channel={"Condition": "nlos", "ShadowingEnabled": "false",
                          "UpdatePeriod": "1ms"}, stream=1026)
        assert not tb.is_los(0, 0)
        tb.enable_tb_log()
        tb.start()
        sim.run(2.0)
        r = tb.results()
        log = tb.tb_log()
    finally:
        sim.destroy()
    first = log["harq_round"] == 1
    print(f"{distance_m:.0f} m, {speed_kmh:.0f} km/h: BLER {r['dl_bler'][0]:.4f} over "
          f"{int(r['dl_tb_first'][0])} TBs, effective SINR {log['sinr_eff_db'][first].mean():.1f} "
          f"+- {log['sinr_eff_db'][first].std():.1f} dB, MCS {log['mcs'][first].min()}.."
          f"{log['mcs'][first].max()} (mean {r['dl_mean_mcs'][0]:.1f}), OLLA "
          f"{r['dl_olla_db'][0]:+.2f} dB")
    assert r["dl_tb_first"][0] > 3000
    assert log["mcs"][first].max() > log["mcs"][first].min()  # the channel does vary
    assert 0 < log["mcs"][first].min() and log["mcs"][first].max() < 27
    assert r["dl_bler"][0] == pytest.approx(0.1, abs=0.04)
    assert r["dl_tb_lost"][0] == 0


def _mean_wideband_sinr_db(sim, tb, t0, t1, n=20):
    """Linear mean of the MAC's wideband DL SINR (link state sinr_db, the CSI measurement)
    sampled n times in (t0, t1]."""
    views = tb.link_states()
    samples = []
    for t in np.linspace(t0, t1, n + 1)[1:]:
        sim.run(float(t))
        tb.refresh_link_states()
        samples.append(10 ** (views["sinr_db"][0] / 10))
    return 10 * math.log10(np.mean(samples))


@pytest.mark.parametrize("gnb_array,off_deg", [(8, 25.0), (4, 60.0)])
def test_beam_steered_away_lowers_the_mac_sinr_by_the_array_factor(bed, upa_response, gnb_array,
                                                                  off_deg):
    """UMa LOS forced (K-factor 9 dB), no shadowing, UE 200 m in front of the panel. The default
    gNB beam is the LOS steering vector; at 0.1 s it is steered off_deg away in azimuth (the
    radio's beam API). The mean SINR the MAC measures must fall by the array factor
    |a(ue)^H a(off)|^2 / N^2 within 1 dB, and the MCS with it. 13 dBm keeps both SINRs
    within the MCS range (~37 and ~24 dB with 8x8), so the MAC's choice shows the loss."""
    n = gnb_array * gnb_array
    sim = _core.CoSim(1)
    try:
        tb = bed(sim, helper={"UeDistanceM": "200", "GnbArrayRows": str(gnb_array),
                              "GnbArrayCols": str(gnb_array), "GnbTxPowerDbm": "13"},
                 channel={"Condition": "los", "ShadowingEnabled": "false"}, stream=1038)
        az, incl = tb.los_angles(0, 0)
        assert abs(math.degrees(az)) < 15
        a_ue = upa_response(gnb_array, gnb_array, az, incl)
        assert abs(np.vdot(a_ue, tb.gnb_beam(0, 0))) == pytest.approx(math.sqrt(n), rel=1e-9)
        tb.enable_tb_log()
        tb.start()
        sinr_on = _mean_wideband_sinr_db(sim, tb, 0.0, 0.1)
        w_off = tb.gnb_steering_vector(0, az + math.radians(off_deg), incl)
        tb.set_gnb_beam(0, 0, w_off)
        sim.run(0.11)  # the CSI of the new beam reaches link adaptation 2 slots later
        sinr_off = _mean_wideband_sinr_db(sim, tb, 0.11, 0.21)
        log = tb.tb_log()
        r = tb.results()
    finally:
        sim.destroy()
    a_off = upa_response(gnb_array, gnb_array, az + math.radians(off_deg), incl)
    af_db = 10 * math.log10(abs(np.vdot(a_ue, a_off)) ** 2 / n**2)
    t, mcs = log["t_s"], log["mcs"]
    first = log["harq_round"] == 1
    mcs_on = mcs[first & (t < 0.1)].mean()
    mcs_off = mcs[first & (t > 0.11)].mean()
    print(f"{gnb_array}x{gnb_array}, {off_deg:.0f} deg away: SINR {sinr_on:.2f} -> "
          f"{sinr_off:.2f} dB ({sinr_off - sinr_on:+.2f} dB), array factor {af_db:+.2f} dB; "
          f"MCS {mcs_on:.1f} -> {mcs_off:.1f}; BLER {r['dl_bler'][0]:.3f}")
    assert -25 < af_db < -8  # clearly attenuated, not in a null of the array
    assert sinr_off - sinr_on == pytest.approx(af_db, abs=1.0)
    assert 0 < sinr_off < sinr_on < 45  # both within the MCS range
    assert mcs_off < mcs_on - 3


def _run(bed, seed, stream=1000, duration_s=0.2):
    sim = _core.CoSim(seed)
    try:
        tb = bed(sim, n_ues=4,
                 helper={"UeDistanceM": "-1", "MinUeDistanceM": "35",
                         "Mobility": "constant-velocity", "UeSpeedKmh": "30"},
                 mac={"Olla": "true", "Scheduler": "PF", "TddPattern": "DDDSU",
                      "FullBufferUl": "true"},
                 channel={"UpdatePeriod": "1ms"}, stream=stream)
        pg = [tb.path_gain_db(0, u) for u in range(4)]
        tb.enable_tb_log()
        tb.start()
        sim.run(duration_s)
        return pg, tb.results(), tb.tb_log()
    finally:
        sim.destroy()


def test_same_seed_same_results_different_seed_different_results(bed):
    """TR 38.901 condition draws, shadowing, clusters, UE drops and directions, TB error draws:
    all from the seed and streams."""
    pg_a, a, la = _run(bed, 1)
    pg_b, b, lb = _run(bed, 1)
    pg_c, c, lc = _run(bed, 2)
    assert pg_a == pg_b
    for k in la:
        np.testing.assert_array_equal(la[k], lb[k])
    for k in ("dl_mac_bytes", "ul_mac_bytes", "dl_bler", "dl_mean_mcs", "dl_wideband_sinr_db"):
        np.testing.assert_array_equal(a[k], b[k])
    assert len(la["t_s"]) > 1000 and np.all(a["ul_tb_first"] > 0)
    assert pg_a != pg_c
    assert not np.array_equal(a["dl_mac_bytes"], c["dl_mac_bytes"])


def test_sinr_of_static_ues_does_not_jump_at_the_first_channel_update(bed):
    """8 static UEs dropped in a UMa cell (the scenario's LOS draws and shadowing, TR 38.901
    Table 7.4.1-1), fading frozen, 10 ms channel updates, one cell (no interference): the MAC's
    wideband SINR just before the first update equals the one after it, and after five more.
    ns-3 3.37's GetShadowing redrew the shadowing at that update (7-10 dB rms SINR jumps)."""
    sim = _core.CoSim(1)
    try:
        tb = bed(sim, n_ues=8, helper={"UeDistanceM": "-1", "SectorWidthDeg": "120"},
                 channel={"UpdatePeriod": "10ms", "StaticUeFadingSpeedKmh": "0"}, stream=1026)
        views = tb.link_states()
        tb.start()
        sinr = []
        for t in (0.0095, 0.0105, 0.0605):
            sim.run(t)
            tb.refresh_link_states()
            sinr.append(views["sinr_db"].copy())
    finally:
        sim.destroy()
    print(f"SINR before the first update {sinr[0]} dB, after {sinr[1] - sinr[0]} dB change")
    assert np.ptp(sinr[0]) > 10  # a drop: the UEs differ
    np.testing.assert_allclose(sinr[1], sinr[0], atol=1e-9)
    np.testing.assert_allclose(sinr[2], sinr[0], atol=1e-9)
