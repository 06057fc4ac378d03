# SPDX-License-Identifier: GPL-2.0-only
"""PUSCH power control (ns3::NrUlPowerControl) and HARQ-ACK timing (ns3::NrHarqTiming) through
edgelam_ns3.radio.air_interface: the issue-10 checks over sweeps (the hand-worked values are
the ns-3 suites edgelam-nr-ul-power-control and edgelam-nr-harq-timing), and errors that name
the bad argument before ns-3 could abort."""
import math

import numpy as np
import pytest

from edgelam_ns3.radio.air_interface import HarqTiming, UlPowerControl


@pytest.mark.parametrize("alpha", [0.0, 0.4, 0.8, 1.0])
def test_pusch_power_follows_ts38213_until_pcmax(alpha):
    """P = P0 + 10 log10(2^mu M) + alpha PL until P_CMAX: the received power per PRB is
    P0 + 10 log10(2^mu) - (1 - alpha) PL while below P_CMAX, and P_CMAX - PL - 10 log10(M)
    above."""
    pc = UlPowerControl(p0_nominal_dbm=-85.0, p0_ue_db=-2.0, alpha=alpha, p_cmax_dbm=23.0)
    for mu, m, pl in np.ndindex(3, 5, 6):
        n_rb, path_loss = [1, 6, 24, 100, 273][m], 60.0 + 15.0 * pl
        p = pc.pusch_power_dbm(n_rb, mu, path_loss)
        open_loop = -87.0 + 10 * math.log10(2 ** mu * n_rb) + alpha * path_loss
        assert p == pytest.approx(min(23.0, open_loop), abs=1e-9)
        per_prb = p - path_loss - 10 * math.log10(n_rb)
        if open_loop < 23.0:
            assert per_prb == pytest.approx(-87.0 + 10 * math.log10(2 ** mu)
                                            - (1 - alpha) * path_loss, abs=1e-9)


def test_tpc_accumulates_table_7_1_1_1_values():
    pc = UlPowerControl(alpha=1.0)
    base = pc.pusch_power_dbm(1, 0, 50.0)
    f = 0.0
    for field in [3, 2, 1, 0, 0, 3, 2]:
        pc.receive_tpc(field)
        f += {0: -1, 1: 0, 2: 1, 3: 3}[field]
        assert pc.pusch_power_dbm(1, 0, 50.0) - base == pytest.approx(f)
    assert pc.closed_loop_db == pytest.approx(f)
    assert [UlPowerControl.tpc_delta_db(t, False) for t in range(4)] == [-4, -1, 1, 4]


def test_power_control_errors_name_the_field():
    with pytest.raises(ValueError, match="alpha"):
        UlPowerControl(alpha=1.5)
    with pytest.raises(IndexError, match="TPC command field is 2 bits"):
        UlPowerControl().receive_tpc(4)


def test_harq_ack_lands_in_the_first_uplink_slot_at_or_after_k1():
    """DDDSU over four periods, every K1 from 0 to 6, S with and without uplink: the ACK slot
    carries uplink, is >= n + K1, and no earlier slot >= n + K1 carries uplink."""
    pattern = "DDDSU"
    for s_ul in (False, True):
        ul = {"U"} | ({"S"} if s_ul else set())
        for k1 in range(7):
            t = HarqTiming(pattern, special_slot_uplink=s_ul, k1_min=k1)
            for n in (n for n in range(20) if pattern[n % 5] != "U"):
                ack = t.ack_slot(n)
                assert pattern[ack % 5] in ul and ack >= n + k1
                assert all(pattern[s % 5] not in ul for s in range(n + k1, ack))
                assert t.k1(n) == ack - n


def test_harq_timing_errors():
    with pytest.raises(ValueError, match="uplink slot"):
        HarqTiming("DDDSU").ack_slot(4)
    with pytest.raises(ValueError, match="no slot for HARQ-ACK"):
        HarqTiming("DDDS").ack_slot(0)
    with pytest.raises(ValueError, match="D, S and U only"):
        HarqTiming("DDXU").ack_slot(0)
