# SPDX-License-Identifier: GPL-2.0-only
"""NR MAC and NetDevice layer (NrCellMac, NrNetDevice, NrRadioHelper) over FixedGainNrChannel.

References: TS 38.306 V17 §4.1.2 (maximum data rate), TS 38.214 V17 §5.1.3.2 (TBS),
Table 5.1.2.2.1-1 (RBG size). Closed forms: with fixed gains, the SINR of a UE is
P_tx/(N_PRB 12 SCS) G / N0 and, with interference, the ratio of the two cells' gains.
"""
import math

import numpy as np
import pytest

from edgelam_ns3 import _core, radio

N_PRB_100MHZ_30KHZ = 273  # TS 38.101-1 Table 5.3.2-1
UE_NF_DB = 9.0  # NrRadioHelper's default UE noise figure (TR 38.802 Table A.2.1-1)


@pytest.fixture
def make_testbed(load_bler):
    """make_testbed(sim, n_cells=1, n_ues=1, pg_db=-60.0, ...): an NrRadioTestBed over the
    fixed-gain channel with Sionna's BLER curves, every UE at path gain pg_db to its cell."""

    def make(sim, n_cells=1, n_ues=1, pg_db=-60.0, mac=None, helper=None, stream=1000,
             build=True):
        h = {"GnbArrayRows": "1", "GnbArrayCols": "1", "UeDistanceM": "50"}
        h.update(helper or {})
        m = {"TddPattern": "D", "McsTable": "qam256"}
        m.update(mac or {})
        tb = _core.NrRadioTestBed(sim, n_cells, n_ues, helper=h, mac=m, stream=stream)
        load_bler(tb)
        if pg_db is not None:
            for u in range(n_ues):
                tb.set_path_gain_db(u % n_cells, u, pg_db)
        if build:
            tb.build()
        return tb

    return make


def test_udp_goodput_matches_ts38306_peak_rate(sim, make_testbed, ts38306_rate_bps):
    tb = make_testbed(sim, pg_db=-60.0)  # SNR ~ 73 dB
    assert tb.n_prb == N_PRB_100MHZ_30KHZ
    assert tb.rbg_size == 16 and tb.n_rbg == 18  # Table 5.1.2.2.1-1, configuration 1
    assert tb.slot_s == pytest.approx(0.5e-3)
    tb.add_udp(downlink=True, rate_bps=700e6, packet_size=1472)
    tb.enable_tb_log()
    tb.start()
    sim.run(0.3)
    r = tb.results()
    expected = ts38306_rate_bps() * 1472 / (1472 + 28)  # less the UDP/IPv4 headers
    goodput = r["dl_goodput_bps"][0]
    print(f"UDP goodput {goodput / 1e6:.2f} Mbit/s, TS 38.306 less headers "
          f"{expected / 1e6:.2f} Mbit/s ({100 * (goodput / expected - 1):+.2f} %)")
    assert goodput == pytest.approx(expected, rel=0.05)
    log = tb.tb_log()
    assert np.all(log["mcs"] == 27) and np.all(log["n_prb"] == 273)
    # OH 0.14 with 12 DM-RS REs: N'_RE = 168 - 12 - 12 = 144 (see NrCellMac)
    assert set(log["tbs_bits"]) == {radio.tbs(273, 27, "qam256", 14, 12, 12)}
    assert r["dl_bler"][0] == 0.0


@pytest.mark.parametrize("carrier_hz,n_prb", [(3.5e9, 135), (28e9, 132)])
def test_prbs_at_60_khz_follow_the_table_of_the_carriers_frequency_range(sim, make_testbed,
                                                                         carrier_hz, n_prb):
    """100 MHz at 60 kHz: TS 38.101-1 Table 5.3.2-1 (FR1) has 135 PRBs, TS 38.101-2 Table
    5.3.2-1 (FR2) 132; the MAC takes its carrier's."""
    tb = make_testbed(sim, helper={"CarrierHz": repr(carrier_hz), "Numerology": "2"})
    assert tb.n_prb == n_prb == radio.num_prb(100e6, 60e3, carrier_hz=carrier_hz)


def test_tbs_equals_ts38214_for_each_allocation(sim, make_testbed):
    tb = make_testbed(sim, n_ues=3, pg_db=-110.0, mac={"FullBufferDl": "true"})
    tb.enable_tb_log()
    tb.start()
    sim.run(0.05)
    log = tb.tb_log()
    assert len(log["mcs"]) > 100
    first = log["harq_round"] == 1  # a retransmission keeps its TBS on as many RBGs
    for mcs, prb, tbs in set(zip(log["mcs"][first], log["n_prb"][first],
                                 log["tbs_bits"][first])):
        assert tbs == radio.tbs(int(prb), int(mcs), "qam256", 14, 12, 12)


def test_bler_hits_target_with_olla(sim, make_testbed):
    # SNR = 46 dBm - 10 log10(273 12 30 kHz) + PG + 165 dBm/Hz (9 dB NF) ~ 13 dB
    tb = make_testbed(sim, pg_db=-118.0, mac={"FullBufferDl": "true", "Olla": "true",
                                              "TargetBler": "0.1"})
    tb.start()
    sim.run(2.0)
    r = tb.results()
    print(f"BLER {r['dl_bler'][0]:.4f} over {int(r['dl_tb_first'][0])} TBs, "
          f"SINR {r['dl_wideband_sinr_db'][0]:.2f} dB, mean MCS {r['dl_mean_mcs'][0]:.2f}")
    assert r["dl_tb_first"][0] > 3000
    assert 10 < r["dl_wideband_sinr_db"][0] < 20
    assert r["dl_bler"][0] == pytest.approx(0.1, abs=0.03)
    assert r["dl_tb_lost"][0] == 0


def test_bler_without_olla_stays_below_target(sim, make_testbed):
    tb = make_testbed(sim, pg_db=-118.0, mac={"FullBufferDl": "true"})
    tb.start()
    sim.run(1.0)
    r = tb.results()
    assert r["dl_bler"][0] <= 0.1 + 0.03


def test_rr_gives_equal_rbg_shares(sim, make_testbed):
    tb = make_testbed(sim, n_ues=4, pg_db=-100.0, mac={"FullBufferDl": "true", "Scheduler": "RR"})
    tb.start()
    sim.run(0.5)
    r = tb.results()
    rbgs = r["dl_mean_rbg"] * r["dl_tb_tx"]
    assert rbgs.sum() == pytest.approx(18 * r["slots"], rel=0.01)
    assert rbgs == pytest.approx(np.full(4, rbgs.mean()), rel=0.05)  # PRBs are equal
    assert r["dl_mac_bytes"] == pytest.approx(np.full(4, r["dl_mac_bytes"].mean()), rel=0.03)


@pytest.mark.parametrize("scheduler", ["RR", "PF"])
def test_weights_are_respected(sim, make_testbed, scheduler):
    tb = make_testbed(sim, n_ues=2, pg_db=-100.0,
                      mac={"FullBufferDl": "true", "Scheduler": scheduler})
    tb.set_ue_weight(0, 1.0)
    tb.set_ue_weight(1, 3.0)
    tb.start()
    sim.run(1.0)
    r = tb.results()
    ratio = r["dl_mac_bytes"][1] / r["dl_mac_bytes"][0]
    print(f"{scheduler}: throughput ratio {ratio:.3f} for weights 3:1")
    assert ratio == pytest.approx(3.0, rel=0.1)


def test_shares_are_respected_and_settable_at_any_instant(sim, make_testbed):
    tb = make_testbed(sim, n_ues=3, pg_db=-100.0, mac={"FullBufferDl": "true", "Scheduler": "PF"})
    tb.set_ue_share(0, 0.25)
    tb.set_ue_share(1, 0.5)
    tb.set_ue_share(2, 0.25)
    tb.start()
    views = tb.link_states()
    sim.run(0.5)
    tb.refresh_link_states()
    first = views["dl_bytes"].copy()
    sim.schedule(0.0, lambda: (tb.set_ue_share(0, 0.5), tb.set_ue_share(1, 0.25)))
    sim.run(1.0)
    tb.refresh_link_states()  # the same (zero-copy) arrays, refreshed
    second = views["dl_bytes"].copy()
    assert first / first.sum() == pytest.approx([0.25, 0.5, 0.25], abs=0.02)
    assert second / second.sum() == pytest.approx([0.5, 0.25, 0.25], abs=0.02)


def test_harq_delivers_each_packet_once_in_order(sim, make_testbed):
    # aggressive link adaptation: many first transmissions fail, retransmissions recover
    tb = make_testbed(sim, pg_db=-118.0, mac={"TargetBler": "0.3", "Olla": "true"})
    rate, size, stop = 50e6, 1000, 0.4
    tb.add_udp(downlink=True, rate_bps=rate, packet_size=size, stop_s=stop)
    tb.enable_tb_log()
    tb.enable_rx_log()
    tb.start()
    sim.run(stop + 0.1)
    r = tb.results()
    rx = tb.rx_log()
    log = tb.tb_log()
    sent = round(rate * stop / (size * 8))  # OnOff counts payload bytes
    assert r["dl_retx"][0] > 20 and r["dl_tb_lost"][0] == 0
    # some TB failed its first transmission and was decoded on its retransmission
    assert np.any((log["harq_round"] == 2) & (log["success"] == 1))
    assert np.any((log["harq_round"] == 1) & (log["success"] == 0))
    assert abs(len(rx["uid"]) - sent) <= 2
    assert np.all(np.diff(rx["uid"]) > 0)  # in order, no duplicates
    assert r["dl_app_bytes"][0] == len(rx["uid"]) * size


def _two_cells(make_testbed, pg_serving=-100.0, pg_cross=-110.0, orthogonal=False, seed=1):
    s = _core.CoSim(seed)
    try:
        tb = make_testbed(s, n_cells=2, n_ues=2, pg_db=None, mac={"FullBufferDl": "true"},
                          build=False)
        for u in range(2):
            tb.set_path_gain_db(u, u, pg_serving)
            tb.set_path_gain_db(1 - u, u, pg_cross)
        tb.build()
        assert [tb.serving_cell(u) for u in range(2)] == [0, 1]
        if orthogonal:
            tb.set_rbg_range(0, 0, 9)
            tb.set_rbg_range(1, 9, 9)
        tb.start()
        s.run(0.2)
        return tb.results()
    finally:
        s.destroy()


def test_two_cells_interfere_on_shared_blocks_not_on_orthogonal_ones(make_testbed):
    shared = _two_cells(make_testbed)
    orth = _two_cells(make_testbed, orthogonal=True)
    snr_db = 46 - 10 * math.log10(273 * 12 * 30e3) - 100 + 174 - UE_NF_DB  # ~31 dB
    sir_db = 10.0  # serving -100 dB against cross -110 dB, same power and PSD
    sinr_db = -10 * math.log10(10 ** (-snr_db / 10) + 10 ** (-sir_db / 10))
    print(f"shared: {shared['dl_wideband_sinr_db']}, orthogonal: "
          f"{orth['dl_wideband_sinr_db']} dB; closed form {sinr_db:.2f} / {snr_db:.2f} dB")
    assert shared["dl_wideband_sinr_db"] == pytest.approx([sinr_db] * 2, abs=0.1)
    assert orth["dl_wideband_sinr_db"] == pytest.approx([snr_db] * 2, abs=0.1)
    assert np.all(orth["dl_mean_mcs"] > shared["dl_mean_mcs"])


def _moderate_run(make_testbed, seed, stream=1000):
    s = _core.CoSim(seed)
    try:
        tb = make_testbed(s, n_ues=4, pg_db=-118.0, stream=stream,
                          mac={"FullBufferDl": "true", "Olla": "true", "TddPattern": "DDDSU",
                               "FullBufferUl": "true"})
        tb.enable_tb_log()
        tb.start()
        s.run(0.2)
        return tb.results(), tb.tb_log()
    finally:
        s.destroy()


def test_same_seed_same_results(make_testbed):
    a, la = _moderate_run(make_testbed, 1)
    b, lb = _moderate_run(make_testbed, 1)
    c, _ = _moderate_run(make_testbed, 2)
    for k in la:
        np.testing.assert_array_equal(la[k], lb[k])
    for k in ("dl_mac_bytes", "ul_mac_bytes", "dl_bler", "dl_mean_mcs"):
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["dl_mac_bytes"], c["dl_mac_bytes"])
    assert np.all(a["ul_tb_first"] > 0)  # DDDSU carries uplink too


def test_uplink_udp_over_the_radio(sim, make_testbed):
    tb = make_testbed(sim, n_ues=2, pg_db=-90.0, mac={"TddPattern": "DDDSU"})
    tb.add_udp(downlink=False, rate_bps=20e6, packet_size=1200)
    tb.start()
    sim.run(0.3)
    r = tb.results()
    assert r["ul_goodput_bps"] == pytest.approx([20e6, 20e6], rel=0.05)


@pytest.mark.parametrize("pg_db", [-60.0, -118.0])
def test_tcp_runs_over_the_radio(sim, make_testbed, pg_db):
    # -118 dB: ~15 dB SINR with OLLA at 10 % BLER; HARQ hides the TB errors from TCP
    tb = make_testbed(sim, n_ues=2, pg_db=pg_db, mac={"TddPattern": "DDDSU", "Olla": "true"})
    tb.add_tcp(downlink=True)
    tb.enable_rx_log()
    tb.start()
    sim.run(1.0)
    r = tb.results()
    mac = r["dl_mac_bps"]
    print(f"TCP at PG {pg_db} dB: goodput {r['dl_goodput_bps'] / 1e6} Mbit/s, MAC "
          f"{mac / 1e6} Mbit/s, UL (ACKs) {r['ul_mac_bps'] / 1e6} Mbit/s")
    assert np.all(r["dl_goodput_bps"] > 0.5 * mac)
    assert np.all(r["ul_mac_bytes"] > 0)  # the ACKs went up over the radio
    assert np.all(r["dl_goodput_bps"] > (100e6 if pg_db > -100 else 10e6))


def test_pf_with_16_full_buffer_ues_uses_every_rbg_of_every_slot(sim, make_testbed):
    """16 backlogged UEs, PF: every slot's 18 RBGs are used (work-conserving), every UE is
    served and no UE gets more than its queue needs (full buffer: all of it). The slot rate is
    a benchmark (``edgelam bench radio``), not a test."""
    tb = make_testbed(sim, n_ues=16, pg_db=-105.0,
                      helper={"GnbArrayRows": "8", "GnbArrayCols": "8", "UeDistanceM": "-1"},
                      mac={"FullBufferDl": "true", "Scheduler": "PF"})
    tb.start()
    sim.run(1.0)
    r = tb.results()
    assert r["slots"] == 2000  # 1 s of 0.5 ms slots
    rbgs = r["dl_mean_rbg"] * r["dl_tb_tx"]
    assert rbgs.sum() == pytest.approx(18 * r["slots"], rel=1e-3)
    assert np.all(rbgs > 0)


def _rbg_fractions(r, d):
    """Each UE's fraction of the RBGs its cell used in direction d, and the RBGs used."""
    rbgs = r[f"{d}_mean_rbg"] * r[f"{d}_tb_tx"]
    return rbgs / rbgs.sum(), rbgs.sum()


def _two_backlogged_ues(make_testbed, direction, scheduler, shares):
    """Two full-buffer UEs at the same path gain (-100 dB), all slots in ``direction``, with
    ``shares`` (None: not set; -1: no reservation) for 0.3 s; :return: the results."""
    s = _core.CoSim(1)
    try:
        full = "FullBufferDl" if direction == "dl" else "FullBufferUl"
        tb = make_testbed(s, n_ues=2, pg_db=-100.0,
                          mac={full: "true", "Scheduler": scheduler,
                               "TddPattern": "D" if direction == "dl" else "U"})
        for u, share in enumerate(shares or ()):
            tb.set_ue_share(u, share)
        tb.start()
        s.run(0.3)
        return tb.results()
    finally:
        s.destroy()


@pytest.mark.parametrize("direction", ["dl", "ul"])
@pytest.mark.parametrize("scheduler", ["RR", "PF"])
@pytest.mark.parametrize("no_share", [0.0, -1.0])
def test_share_is_a_guaranteed_minimum_and_the_leftover_goes_to_the_other_ue(
        make_testbed, direction, scheduler, no_share):
    """Two backlogged UEs, shares 0.75 and none (0, or negative: what Simulation passes for
    None). UE 0 gets its 0.75 of the RBGs, and the 0.25 the share leaves goes to UE 1: the
    carrier never idles (work-conserving) and UE 1, which has no reservation, is scheduled."""
    r = _two_backlogged_ues(make_testbed, direction, scheduler, (0.75, no_share))
    frac, used = _rbg_fractions(r, direction)
    print(f"{direction} {scheduler} shares (0.75, {no_share}): RBG fractions {frac}")
    assert used == pytest.approx(18 * r["slots"], rel=0.01)  # no RBG idles
    assert frac == pytest.approx([0.75, 0.25], abs=0.02)


@pytest.mark.parametrize("direction", ["dl", "ul"])
@pytest.mark.parametrize("scheduler", ["RR", "PF"])
def test_share_below_the_fair_part_changes_nothing(make_testbed, direction, scheduler):
    """A share is a minimum, not an extra: with shares 0.25 and 0 the scheduler shares the
    carrier counting what each UE already got, so UE 0 (guaranteed 0.25, fair part 0.5) gets
    what it gets without shares: the same part of the bytes within 2 % of the cell, and with
    RR the same RBGs. (PF is fair in throughput: in UL, where a UE's power concentrates on its
    PRBs, the guaranteed RBGs change how PF splits them, not the bytes.)"""
    base = _two_backlogged_ues(make_testbed, direction, scheduler, None)
    shared = _two_backlogged_ues(make_testbed, direction, scheduler, (0.25, 0.0))
    f0, used0 = _rbg_fractions(base, direction)
    f1, used1 = _rbg_fractions(shared, direction)
    b0 = base[f"{direction}_mac_bytes"] / base[f"{direction}_mac_bytes"].sum()
    b1 = shared[f"{direction}_mac_bytes"] / shared[f"{direction}_mac_bytes"].sum()
    print(f"{direction} {scheduler}: RBGs {f0} -> {f1}, bytes {b0} -> {b1}")
    assert used1 == pytest.approx(used0, rel=0.01) == 18 * base["slots"]
    assert b1 == pytest.approx(b0, abs=0.02)
    assert f1[0] >= 0.25 - 0.01
    if scheduler == "RR":
        assert f1 == pytest.approx(f0, abs=0.02)


def test_allocation_size_uses_the_top_efficiency_of_the_configured_mcs_table(sim, make_testbed):
    """The MAC sizes a UE's allocation from its backlog over the bytes an RBG carries at the
    top spectral efficiency of the configured table (capped Shannon rate). With qam1024 (TS
    38.214 Table 5.1.3.1-4, MCS 26: Q_m 10, R 948/1024) at ~73 dB SNR, 3 UDP packets (1500 B
    IP each) per 0.5 ms slot need ceil(4500 / (9.26 x 12 x 14 x 0.86 x 16 / 8)) = 2 RBGs; the
    256-QAM cap (7.41 bit/RE, the old fixed constant) would have given 3."""
    tb = make_testbed(sim, pg_db=-60.0, mac={"McsTable": "qam1024"})
    # Sionna has no EESM betas for table 4; the fixed channel is flat, so EESM gives the
    # per-RBG SINR whatever beta is
    tb.set_eesm_betas(4, [1.0] * 27)
    se_1024, se_256 = 10 * 948 / 1024, 8 * 948 / 1024
    per_rbg = lambda se: se * 12 * 14 * (1 - 0.14) * 16 / 8  # noqa: E731
    backlog = 3 * 1500
    assert math.ceil(backlog / per_rbg(se_1024)) == 2 < math.ceil(backlog / per_rbg(se_256))
    tb.add_udp(downlink=True, rate_bps=3 * 1472 * 8 / 0.5e-3, packet_size=1472,
               start_s=0.01001)
    tb.enable_tb_log()
    tb.start()
    sim.run(0.1)
    log = tb.tb_log()
    late = log["t_s"] > 0.02
    assert late.sum() > 100
    assert np.all(log["mcs"][late] == 26)  # the table's top MCS
    assert np.all(log["n_prb"][late] == 2 * 16)
