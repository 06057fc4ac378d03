# SPDX-License-Identifier: GPL-2.0-only
"""Uplink realism in the NR MAC (issue 10 item 3) over the fixed-gain channel, against closed
forms: TS 38.213 §7.1.1 PUSCH power (received power per PRB from the TB's SINR), SR -> grant
-> BSR (TS 38.321 §5.4.4, §5.4.5) on the configured SR occasions and grant delay, HARQ-ACK at
the first PUCCH slot >= K1 in DDDSU (TS 38.213 §9.2.3), PDCP/RLC/MAC header bytes."""
import math

import numpy as np
import pytest

from edgelam_ns3 import _core

KT0_DBM_HZ = 10 * math.log10(1.380649e-23 * 290.0 * 1e3)  # -173.98 dBm/Hz
GNB_NF_DB = 5.0  # FixedGainNrChannel GnbNoiseFigure
SCS_HZ = 30e3
N_PRB, RBG = 273, 16  # 100 MHz at 30 kHz (TS 38.101-1), RBG size of configuration 1


@pytest.fixture
def make_testbed(load_bler):
    def make(sim, n_ues=1, pg_db=-90.0, mac=None, stream=1000):
        h = {"GnbArrayRows": "1", "GnbArrayCols": "1", "UeDistanceM": "50"}
        m = {"TddPattern": "U", "McsTable": "qam256"}
        m.update(mac or {})
        tb = _core.NrRadioTestBed(sim, 1, n_ues, helper=h, mac=m, stream=stream)
        load_bler(tb)
        for u in range(n_ues):
            tb.set_path_gain_db(0, u, pg_db)
        tb.build()
        return tb

    return make


def _ul_first(log):
    sel = (log["dir"] == 1) & (log["harq_round"] == 1)
    return {k: v[sel] for k, v in log.items()}


@pytest.mark.parametrize("p0,alpha", [(-60.0, 0.6), (-90.0, 1.0)])
@pytest.mark.parametrize("pl", [70.0, 90.0, 110.0, 120.0])
def test_received_power_per_prb_follows_p0_alpha_pl_until_pcmax(sim, make_testbed, p0, alpha,
                                                                pl):
    """Received power per PRB of every UL TB = min(P_CMAX, P0 + 10 log10(2^mu M) + alpha PL)
    - 10 log10(M) - PL, read off the TB's SINR on a flat channel (SINR + kT0 NF 12 SCS)."""
    tb = make_testbed(sim, pg_db=-pl, mac={"FullBufferUl": "true", "UlPowerControl": "true",
                                           "UlP0Dbm": repr(p0), "UlAlpha": repr(alpha)})
    tb.enable_tb_log()
    tb.start()
    sim.run(0.02)
    ul = _ul_first(tb.tb_log())
    assert len(ul["slot"]) > 20
    noise_prb = KT0_DBM_HZ + GNB_NF_DB + 10 * math.log10(12 * SCS_HZ)
    m = ul["n_prb"].astype(float)
    open_loop = p0 + 10 * np.log10(2 * m) + alpha * pl
    expect = np.minimum(23.0, open_loop) - 10 * np.log10(m) - pl
    print(f"P0 {p0} alpha {alpha} PL {pl}: M {set(m)}, rx/PRB {expect[0]:.2f} dBm, "
          f"capped {bool(open_loop[0] > 23)}")
    np.testing.assert_allclose(ul["sinr_eff_db"] + noise_prb, expect, atol=0.01)
    np.testing.assert_allclose(ul["tx_power_dbm"], np.minimum(23.0, open_loop), atol=1e-9)


def test_power_control_off_transmits_at_full_power(sim, make_testbed):
    tb = make_testbed(sim, pg_db=-90.0, mac={"FullBufferUl": "true"})
    tb.enable_tb_log()
    tb.start()
    sim.run(0.01)
    ul = _ul_first(tb.tb_log())
    noise_prb = KT0_DBM_HZ + GNB_NF_DB + 10 * math.log10(12 * SCS_HZ)
    expect = 23.0 - 10 * np.log10(ul["n_prb"]) - 90.0
    np.testing.assert_allclose(ul["sinr_eff_db"] + noise_prb, expect, atol=0.01)


def test_closed_loop_tpc_steers_the_pusch_sinr_to_its_target(sim, make_testbed):
    """Open loop at PL 80 dB: SINR = P0 + 10 log10(2) - 0.4 PL - noise/PRB ~ 24 dB; the TPC
    (-1 dB per PUSCH above the target) brings it to the 10 dB target within +-1 dB."""
    tb = make_testbed(sim, pg_db=-80.0, mac={"FullBufferUl": "true", "UlPowerControl": "true",
                                             "UlTpc": "true", "UlTpcTargetSinrDb": "10"})
    tb.enable_tb_log()
    tb.start()
    sim.run(0.05)
    ul = _ul_first(tb.tb_log())
    noise_prb = KT0_DBM_HZ + GNB_NF_DB + 10 * math.log10(12 * SCS_HZ)
    first = -60.0 + 10 * math.log10(2) - 0.4 * 80.0 - noise_prb
    assert ul["sinr_eff_db"][0] == pytest.approx(first, abs=0.01)
    late = ul["sinr_eff_db"][-20:]
    assert np.all(np.abs(late - 10.0) <= 1.0)


def _first_ul_slot_at_or_after(n, pattern="DDDSU"):
    # U, or S (2 UL symbols carry data: 24 REs > 12 DM-RS REs)
    while pattern[n % len(pattern)] not in "US":
        n += 1
    return n


@pytest.mark.parametrize("period,offset,delay", [(20, 9, 3), (10, 4, 5)])
def test_sr_grant_then_bsr_grant_follow_the_sr_occasions_and_delay(sim, make_testbed, period,
                                                                   offset, delay):
    """A burst of ~10 kB arrives in slot 40 (D) of DDDSU. With SR/BSR the UE sends an SR at the
    first occasion n = offset + k period > 40, gets one RBG at the first UL slot >= n + delay
    (its TB carries the BSR), and is granted from the BSR in the next UL slot. With ideal
    buffer knowledge the first TB is in the first UL slot after the arrival."""
    mac = {"TddPattern": "DDDSU", "SrBsr": "true", "SrPeriodSlots": str(period),
           "SrOffsetSlots": str(offset), "SrGrantDelaySlots": str(delay)}
    tb = make_testbed(sim, pg_db=-90.0, mac=mac)
    tb.add_udp(downlink=False, rate_bps=800e6, packet_size=1000, start_s=0.02,
               stop_s=0.0201)
    tb.enable_tb_log()
    tb.start()
    sim.run(0.06)
    ul = _ul_first(tb.tb_log())
    sr = next(n for n in range(41, 200) if n % period == offset)
    grant = _first_ul_slot_at_or_after(sr + delay)
    print(f"SR at {sr}, grant in {grant}; UL TBs at slots {ul['slot']}, PRBs {ul['n_prb']}")
    assert ul["slot"][0] == grant and ul["n_prb"][0] == RBG
    assert ul["slot"][1] == _first_ul_slot_at_or_after(grant + 1) and ul["n_prb"][1] > RBG
    r = tb.results()
    assert r["ul_app_bytes"][0] >= 9000  # the burst arrived


def test_without_sr_bsr_the_gnb_serves_the_burst_at_once(sim, make_testbed):
    tb = make_testbed(sim, pg_db=-90.0, mac={"TddPattern": "DDDSU"})
    tb.add_udp(downlink=False, rate_bps=800e6, packet_size=1000, start_s=0.02,
               stop_s=0.0201)
    tb.enable_tb_log()
    tb.start()
    sim.run(0.03)
    ul = _ul_first(tb.tb_log())
    assert ul["slot"][0] == _first_ul_slot_at_or_after(41)


@pytest.mark.parametrize("k1", [1, 2, 4])
@pytest.mark.parametrize("s_ul_symbols", [2, 0])
def test_harq_ack_lands_in_the_first_pucch_slot_at_or_after_k1_in_dddsu(sim, make_testbed, k1,
                                                                       s_ul_symbols):
    """Every DL TB in slot n of DDDSU has its ACK in the first slot >= n + K1 that is U (or S
    when S has UL symbols); a retransmission of a HARQ process comes after that ACK slot."""
    mac = {"TddPattern": "DDDSU", "FullBufferDl": "true", "HarqTddTiming": "true",
           "HarqFeedbackDelaySlots": str(k1), "TargetBler": "0.3", "Olla": "true",
           "SpecialSlotUlSymbols": str(s_ul_symbols)}
    tb = make_testbed(sim, pg_db=-118.0, mac=mac)
    tb.enable_tb_log()
    tb.start()
    sim.run(0.1)
    log = tb.tb_log()
    dl = log["dir"] == 0
    slots, acks = log["slot"][dl], log["ack_slot"][dl]
    pucch = "US" if s_ul_symbols else "U"
    for n, a in zip(slots, acks):
        expect = n + k1
        while "DDDSU"[expect % 5] not in pucch:
            expect += 1
        assert a == expect
    retx = 0
    for ue, proc in set(zip(log["ue"][dl], log["harq_id"][dl])):
        sel = (log["ue"][dl] == ue) & (log["harq_id"][dl] == proc)
        s, a, rnd = slots[sel], acks[sel], log["harq_round"][dl][sel]
        later = rnd[1:] > 1
        assert np.all(s[1:][later] > a[:-1][later])
        retx += later.sum()
    assert retx > 10


def test_headers_cost_seven_bytes_per_sdu_piece(sim, make_testbed):
    """Saturated DL UDP (1500-B IP packets) at the peak MCS: each TB of C bytes carries its SDUs
    behind 4 B of PDCP + RLC header and a 3-B MAC subheader per piece, and one piece more than
    it has whole SDUs, so its SDU bytes are C 1500 / 1507 - 7 (within a subheader's byte or two
    of the partial pieces)."""
    tb = make_testbed(sim, pg_db=-60.0, mac={"TddPattern": "D", "L2Headers": "true"})
    tb.add_udp(downlink=True, rate_bps=700e6, packet_size=1472)
    tb.enable_tb_log()
    tb.start()
    sim.run(0.05)
    log = tb.tb_log()
    r = tb.results()
    ok = (log["success"] == 1) & (log["t_s"] > 0.01)
    cap = log["tbs_bits"][ok] // 8
    assert np.all(cap == cap[0]) and cap[0] > 10000
    sdu_per_tb = cap[0] * 1500 / 1507 - 7
    tbs_all = (log["tbs_bits"][log["success"] == 1] // 8).sum()
    ratio = r["dl_mac_bytes"][0] / tbs_all
    print(f"TB {cap[0]} B: SDU bytes / TB bytes {ratio:.5f}, closed form "
          f"{sdu_per_tb / cap[0]:.5f}")
    assert ratio == pytest.approx(sdu_per_tb / cap[0], abs=4 / cap[0])


def test_radio_ul_and_harq_keys_reach_the_mac_and_errors_name_the_field():
    from edgelam_ns3 import config
    from edgelam_ns3.config import ConfigError

    cfg = config.load("quickstart", ["radio.ul.p0_dbm=-80", "radio.ul.alpha=0.8",
                                     "radio.ul.sr_period_slots=20", "radio.harq.k1_slots=3"])
    a = cfg.radio.mac_attributes()
    assert (a["UlPowerControl"], a["UlP0Dbm"], a["UlAlpha"], a["UlPcMaxDbm"]) == \
        ("true", "-80.0", "0.8", "23.0")
    assert (a["SrBsr"], a["SrPeriodSlots"], a["SrOffsetSlots"]) == ("true", "20", "3")
    assert (a["HarqFeedbackDelaySlots"], a["HarqTddTiming"], a["L2Headers"]) == \
        ("3", "true", "true")
    for override, message in [("radio.ul.alpha=0.65", "radio.ul.alpha: 0.65 is not one of"),
                              ("radio.ul.sr_offset_slots=0", "radio.ul.sr_period_slots: SR every"),
                              ("radio.ul.tpc_target_sinr_db=5", "radio.ul.tpc_target_sinr_db: "
                               "set away from its default but unused")]:
        with pytest.raises(ConfigError, match=message):
            config.load("quickstart", [override])
