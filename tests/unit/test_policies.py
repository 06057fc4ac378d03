"""Scheduling and bandwidth policies of the training frameworks."""

import numpy as np
import pytest

from edgelam_ns3.policies import DeviceState, LyapunovPolicy, make_policy, optimal_shares


def state(rates, bits=8e6, compute=0.01):
    n = len(rates)
    return DeviceState([f"ue{i}" for i in range(n)], np.asarray(rates, float),
                       np.full(n, bits), np.full(n, compute))


def test_channel_aware_picks_the_devices_with_the_best_links():
    p = make_policy("channel_aware", n=6, k=2, seed=1)
    d = p.select(0, state([10e6, 80e6, 5e6, 60e6, 20e6, 1e6]))
    assert d.scheduled == [1, 3]
    assert d.shares == [0.5, 0.5]


def test_random_policy_is_seeded():
    a = [make_policy("random", 8, 3, seed=5).select(r, state([1e6] * 8)).scheduled for r in range(1)]
    pa, pb, pc = (make_policy("random", 8, 3, seed=s) for s in (5, 5, 6))
    sa = [pa.select(r, state([1e6] * 8)).scheduled for r in range(20)]
    sb = [pb.select(r, state([1e6] * 8)).scheduled for r in range(20)]
    sc = [pc.select(r, state([1e6] * 8)).scheduled for r in range(20)]
    assert sa == sb and sa != sc
    assert all(len(set(s)) == 3 for s in sa)
    assert a[0] == sa[0]


def test_round_robin_cycles_through_every_device():
    p = make_policy("round_robin", 5, 2, seed=1)
    seen = [i for r in range(5) for i in p.select(r, state([1e6] * 5)).scheduled]
    assert sorted(seen) == sorted(list(range(5)) * 2)


def test_optimal_shares_equalise_finishing_times():
    bits = np.array([8e6, 8e6, 4e6])
    rates = np.array([100e6, 20e6, 50e6])
    comp = np.array([0.01, 0.02, 0.0])
    shares, T = optimal_shares(bits, rates, comp)
    assert shares.sum() == pytest.approx(1.0)
    finish = comp + bits / (shares * rates)
    assert finish == pytest.approx(np.full(3, T), rel=1e-6)
    # any other split is slower for someone
    alt = np.array([1 / 3, 1 / 3, 1 / 3])
    assert max(comp + bits / (alt * rates)) > T


def test_lyapunov_keeps_every_device_at_its_participation_constraint():
    rates = [200e6, 100e6, 50e6, 20e6, 10e6, 5e6, 2e6, 1e6]
    p_min = 0.25
    p = LyapunovPolicy(n=8, k=3, seed=1, min_participation=p_min, v=10.0)
    rounds = 800
    count = np.zeros(8)
    for r in range(rounds):
        d = p.select(r, state(rates))
        count[d.scheduled] += 1
        assert sum(d.shares) == pytest.approx(1.0)
    participation = count / rounds
    assert (participation >= p_min - 0.01).all(), participation
    # and it prefers good links beyond the constraint (latency is what it minimises)
    assert participation[0] > participation[-1]


def test_lyapunov_without_constraint_schedules_for_latency():
    p = LyapunovPolicy(n=4, k=2, seed=1, min_participation=0.0, v=10.0)
    d = p.select(0, state([10e6, 100e6, 1e6, 50e6]))
    assert d.scheduled == [1]  # the fastest device alone: lowest latency, no debt to pay


def test_unknown_policy_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown policy 'best'"):
        make_policy("best", 4, 2, 1)


def test_rate_observer_turns_message_latency_into_full_band_rate():
    from edgelam_ns3.policies import RateObserver

    obs = RateObserver(3, alpha=0.5)
    prior = np.array([1e6, 2e6, 3e6])
    assert obs.estimate(prior).tolist() == prior.tolist()  # nothing observed yet
    # 1 MB in 0.2 s with a quarter of the band: 40 Mbit/s on a quarter, 160 on the whole band
    obs.observe(1, 1_000_000, 0.2, 0.25)
    assert obs.estimate(prior)[1] == pytest.approx(160e6)
    obs.observe(1, 1_000_000, 0.4, 0.25)  # then half as fast: the average moves half way
    assert obs.estimate(prior)[1] == pytest.approx(120e6)
    assert obs.estimate(prior)[[0, 2]].tolist() == [1e6, 3e6]
