"""Placement of the heavy services: the ILP against brute force and the capacities."""

import numpy as np
import pytest

from edgelam_ns3.inference.placement import (PlacementProblem, brute_force, feasible,
                                             greedy_least_loaded, latency, memory_used,
                                             monolithic, random_placement, solve_ilp,
                                             utilisation)


def _problem(seed: int, n_s=3, n_h=3, rate=2.0) -> PlacementProblem:
    rng = np.random.default_rng(seed)
    return PlacementProblem(
        services=[f"s{i}" for i in range(n_s)], hosts=[f"h{i}" for i in range(n_h)],
        t_compute=rng.uniform(0.05, 0.3, (n_s, n_h)),
        t_link=rng.uniform(0.0, 0.2, (n_s - 1, n_h, n_h)) * (1 - np.eye(n_h)),
        t_entry=rng.uniform(0, 0.1, n_h), t_exit=rng.uniform(0, 0.1, n_h),
        mem_need=rng.uniform(1, 3, n_s), mem_cap=rng.uniform(2, 6, n_h), rate_per_s=rate,
        max_utilisation=0.9)


@pytest.mark.parametrize("seed", range(12))
def test_ilp_matches_brute_force_and_respects_every_capacity(seed):
    p = _problem(seed)
    best = brute_force(p)
    if brute_force(p, load=False) is None:  # nothing fits the memory
        with pytest.raises(ValueError, match="do not fit the hosts' memory"):
            solve_ilp(p)
        return
    assign, relaxed = solve_ilp(p)
    if best is None:  # no placement meets the load cap: the ILP relaxes it, not the memory
        best = brute_force(p, load=False)
        assert relaxed and best is not None
    else:
        assert not relaxed
        assert np.all(utilisation(p, assign) <= p.max_utilisation + 1e-9)
    assert latency(p, assign) == pytest.approx(latency(p, best), rel=1e-9)
    assert np.all(memory_used(p, assign) <= p.mem_cap)


def test_ilp_names_a_model_that_fits_no_placement():
    p = _problem(1)
    p = PlacementProblem(**{**p.__dict__, "mem_cap": np.full(3, 1.5)})
    with pytest.raises(ValueError, match="do not fit the hosts' memory"):
        solve_ilp(p)


def test_ilp_relaxes_only_the_load_cap_and_says_so():
    p = _problem(3, rate=50.0)  # no host can take this load
    assert brute_force(p) is None
    assign, relaxed = solve_ilp(p)
    assert relaxed and feasible(p, assign, load=False)
    assert latency(p, assign) == pytest.approx(latency(p, brute_force(p, load=False)))


def test_baselines_fit_the_memory_and_name_a_model_that_does_not_fit():
    p = _problem(5)
    p = PlacementProblem(**{**p.__dict__, "mem_cap": np.array([100.0, 3.0, 4.0])})
    assert monolithic(p, "h0") == [0, 0, 0]
    with pytest.raises(ValueError, match="does not fit h1"):
        monolithic(p, "h1")
    for assign in (greedy_least_loaded(p), random_placement(p, np.random.default_rng(0))):
        assert feasible(p, assign, load=False)
