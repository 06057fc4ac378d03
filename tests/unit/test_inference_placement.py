"""Placement of the heavy services: the ILP against brute force and the capacities."""

import itertools
from dataclasses import replace

import numpy as np
import pytest

from edgelam_ns3 import config
from edgelam_ns3.inference.network import backhaul_paths, transfer_s
from edgelam_ns3.inference.serving import EventClock, HostServer, KvBudget
from edgelam_ns3.inference.placement import (PlacementProblem, brute_force, feasible,
                                             greedy_least_loaded, latency, lone_latency,
                                             memory_used, monolithic, queue_wait_s,
                                             random_placement, solve_ilp, utilisation)


def _problem(seed: int, n_s=3, n_h=3, rate=2.0) -> PlacementProblem:
    rng = np.random.default_rng(seed)
    return PlacementProblem(
        services=[f"s{i}" for i in range(n_s)], hosts=[f"h{i}" for i in range(n_h)],
        t_compute=rng.uniform(0.05, 0.3, (n_s, n_h)),
        t_link=rng.uniform(0.0, 0.2, (n_s - 1, n_h, n_h)) * (1 - np.eye(n_h)),
        t_entry=rng.uniform(0, 0.1, n_h), t_exit=rng.uniform(0, 0.1, n_h),
        mem_need=rng.uniform(1, 3, n_s), mem_cap=rng.uniform(2, 6, n_h), rate_per_s=rate,
        max_utilisation=0.9)


def _with_queueing_and_kv_handoff(p: PlacementProblem, seed: int) -> PlacementProblem:
    rng = np.random.default_rng(100 + seed)
    n_s, n_h = p.t_compute.shape
    ship = rng.uniform(0.0, 0.3, (n_s, n_h))
    ship[:, 0] = 0  # h0 is the decode host
    return replace(p, queueing=True, u_base=np.r_[rng.uniform(0, 0.4), np.zeros(n_h - 1)],
                   t_ship=ship, t_handoff=rng.uniform(0, 0.1, n_h) * (np.arange(n_h) > 0),
                   t_const=0.7, max_utilisation=0.97)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("terms", ["lone", "queueing+disaggregation"])
def test_ilp_matches_brute_force_and_respects_every_capacity(seed, terms):
    p = _problem(seed)
    if terms != "lone":
        p = _with_queueing_and_kv_handoff(p, seed)
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


# -- the framework's problem against the serving it models -----------------------------------

class _IdleNetwork(EventClock):
    """A clock whose messages take :func:`transfer_s` over the backhaul (a UE sits at the gNB)."""

    def __init__(self, paths):
        super().__init__()
        self.paths = paths
        self.sent = []  # (tag, src, dst, bytes, t_send_s, t_delivered_s)

    def send(self, a, b, nbytes, on_delivered, tag=None):
        dt = transfer_s(self.paths, *("gnb" if n.startswith("ue") else n for n in (a, b)),
                        nbytes)
        self.sent.append((tag, a, b, nbytes, self.now, self.now + dt))
        self.schedule(dt, on_delivered, None)

    def stop(self):
        pass


def _lone_request_framework(tmp_path, prompt=24, output=5, serving=None, mode="cost",
                            placement=None, model=None, n_requests=1):
    csv = tmp_path / "one.csv"
    csv.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\r\n" + "\r\n".join(
        f"2023-11-16 18:15:46.{680590 + 100 * i:06d}0,{prompt},{output}"
        for i in range(n_requests)))
    cfg = config.from_dict({
        "nodes": {"n_devices": 1, "n_edge": 2, "cloud": True},
        "radio": {"mode": "ideal"},
        "backhaul": {"links": [{"a": "gnb", "b": "edge0", "rate_bps": 1e9, "delay_s": 0.002},
                               {"a": "gnb", "b": "edge1", "rate_bps": 2e8, "delay_s": 0.0005},
                               {"a": "gnb", "b": "cloud", "rate_bps": 1e9, "delay_s": 0.004}]},
        "train": {"framework": "microservice_inference"},
        "inference": {"serving": serving or {},
                      "model": {"mode": mode, "n_layer": 4, "n_embd": 256, "n_head": 4,
                                "vocab_size": 1000, "n_positions": 256, "n_groups": 2,
                                **(model or {})},
                      "source": {"kind": "trace", "trace": str(csv), "duration_s": 1.0},
                      "placement": placement or {"orchestration": "static",
                                                 "expected_batch": 1}}})
    from edgelam_ns3.inference.framework import MicroserviceInference

    return MicroserviceInference(cfg, _IdleNetwork(backhaul_paths(cfg)))


def _serve_alone(fw, assign) -> float:
    """End-to-end latency of the lone request served with the heavy services on ``assign``."""
    fw.sim = net = _IdleNetwork(fw.paths)
    fw.set_placement(assign)
    fw.kv = {h: KvBudget(float("inf")) for h in fw.hosts}
    fw.servers = {h: HostServer(h, fw.profiles[h], net, fw.model, 10**6, 64, fw.calls.append)
                  for h in fw.hosts}
    fw.rows, fw.calls[:] = [], []
    fw.start()
    net.run()
    return fw.rows[0]["e2e_s"]


@pytest.mark.parametrize("serving", [{}, {"decode_host": "cloud"}])
def test_modelled_latency_is_the_served_latency_and_the_ilp_finds_its_minimum(tmp_path,
                                                                             serving):
    fw = _lone_request_framework(tmp_path, serving=serving)
    p = replace(fw.problem, queueing=False)  # a lone request waits for nobody
    assert len(p.services) == 3 and len(p.hosts) == 3
    assert fw.problem.queueing and (p.t_ship is not None) == bool(serving)
    served = {a: _serve_alone(fw, a) for a in itertools.product(range(3), repeat=3)}
    for a, t in served.items():  # serial per-step compute, links and token loop; one exit;
        # disaggregated: the prefill path, the slowest KV hand-off, the decode on the cloud
        assert lone_latency(p, a) == latency(p, a) == pytest.approx(t, rel=1e-9, abs=1e-12), a
    assign, relaxed = solve_ilp(p)
    assert not relaxed
    assert served[tuple(assign)] == pytest.approx(min(served.values()), rel=1e-9)
    assert latency(p, assign) == pytest.approx(latency(p, brute_force(p)), rel=1e-9)


def test_placement_plans_for_the_poisson_sources_rate_not_its_draws(tmp_path):
    fw = _lone_request_framework(tmp_path)
    fw.ic.source = fw.ic.source.model_copy(update={
        "kind": "poisson", "rate_per_s": 3.5, "prompt_tokens": 40, "output_tokens": 7})
    assert fw.expected_load() == (3.5, 40, 7)


def test_queue_term_is_the_md1_wait_at_the_breakpoints_and_zero_on_an_idle_host():
    rho = np.array([0.0, 0.3, 0.5, 0.9, 0.99])
    assert queue_wait_s(rho) == pytest.approx(rho ** 2 / (2 * (1 - rho)), rel=1e-12, abs=1e-15)
    mid = queue_wait_s(np.array([0.52]))[0]  # between breakpoints: the chord, above the curve
    assert 0.52 ** 2 / (2 * 0.48) < mid < 0.55 ** 2 / (2 * 0.45)


def test_with_load_the_ilp_moves_services_off_a_host_the_lone_objective_overloads():
    # h0 is the fastest for every service, and alone it takes all three at 2.5 requests/s
    # (utilisation 0.9); the queueing term prices that load and splits the chain, even though
    # the hops cost link time.
    p = PlacementProblem(
        services=["s0", "s1", "s2"], hosts=["h0", "h1"],
        t_compute=np.array([[0.12, 0.16]] * 3), t_link=np.full((2, 2, 2), 0.01) * (1 - np.eye(2)),
        t_entry=np.zeros(2), t_exit=np.zeros(2), mem_need=np.ones(3), mem_cap=np.full(2, 3.0),
        rate_per_s=2.5, max_utilisation=0.95)
    lone, _ = solve_ilp(p)
    loaded, _ = solve_ilp(replace(p, queueing=True))
    assert lone == [0, 0, 0] and utilisation(p, lone)[0] == pytest.approx(0.9)
    assert loaded != lone and utilisation(p, loaded).max() < 0.9
    assert lone_latency(p, loaded) > lone_latency(p, lone)  # slower alone, faster under load
    q = replace(p, queueing=True)
    assert latency(q, loaded) < latency(q, lone)
    assert latency(q, loaded) == pytest.approx(latency(q, brute_force(q)), rel=1e-9)
