"""MoE serving: expert services behind a fan-out, routed top-k (real) or by the cost mode's
seeded draw, placed by the ILP, their tokens over the backhaul."""

import pytest
from test_inference_placement import _lone_request_framework, _serve_alone

from edgelam_ns3.inference.placement import brute_force, latency, solve_ilp

PROMPT, OUTPUT, D, E, K = 24, 4, 256, 4, 2


def _moe_framework(tmp_path, mode, placement=None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    return _lone_request_framework(tmp_path, PROMPT, OUTPUT, mode=mode, placement=placement,
                                   model={"n_experts": E, "top_k": K})


def _expert_rows(fw):
    return [c for c in fw.calls if "_expert" in c["service"]]


def test_real_mode_charges_the_flops_of_exactly_k_experts_per_token(tmp_path):
    fw = _moe_framework(tmp_path, "real")
    _serve_alone(fw, [0, 0, 0] + [1, 1, 2, 2])  # experts on edge1 and the cloud
    tokens = PROMPT + OUTPUT - 1  # the prefill's tokens, then one per decode step
    rows = _expert_rows(fw)
    per_token = 2 * 2 * D * 4 * D  # c_fc and mlp_proj of one expert
    for layer in (0, 1):
        mine = [r for r in rows if r["service"].startswith(f"moe{layer}_")]
        assert sum(r["q_len"] for r in mine) == K * tokens
        assert sum(r["batch_flops"] for r in mine) == K * tokens * per_token
    # every dispatched token crosses the backhaul to its expert's host, and back to blocks1's
    # (lm_head's for layer 1), since no expert sits with a block group here
    sent = [s for s in fw.sim.sent if s[0] in ("dispatch", "combine")]
    for tag in ("dispatch", "combine"):  # (tag, src, dst, bytes, t_send, t_delivered)
        assert sum(s[3] for s in sent if s[0] == tag) == 2 * K * tokens * D * 4
    assert {(a, b) for tag, a, b, *_ in sent if tag == "dispatch"} == {
        ("edge0", "edge1"), ("edge0", "cloud")}
    assert len(fw.rows) == 1 and not fw.rows[0]["rejected"]


def test_cost_and_real_modes_charge_the_same_time_for_moe_under_the_same_routing(tmp_path):
    runs = {}
    for mode in ("cost", "real"):
        fw = _moe_framework(tmp_path / mode, mode)
        fw.model.route_by = "draw"  # real mode routed by the cost mode's assumption
        e2e = _serve_alone(fw, [0, 1, 1] + [0, 1, 2, 2])
        runs[mode] = (e2e, [(c["service"], c["host"], c["q_len"], c["t_start_s"],
                             c["t_end_s"], c["batch_flops"]) for c in fw.calls],
                      sorted(fw.sim.sent))
    assert runs["cost"] == runs["real"]
    assert any("_expert" in c[0] for c in runs["cost"][1])


def test_real_routing_follows_the_router_and_differs_from_the_draw(tmp_path):
    fw = _moe_framework(tmp_path, "real")
    _serve_alone(fw, [0, 0, 0] + [0, 0, 0, 0])
    by_router = sorted((r["service"], r["q_len"]) for r in _expert_rows(fw))
    fw.model.route_by = "draw"
    _serve_alone(fw, [0, 0, 0] + [0, 0, 0, 0])
    assert by_router != sorted((r["service"], r["q_len"]) for r in _expert_rows(fw))


def test_ilp_places_the_experts_as_brute_force_does_and_keeps_pinned_ones(tmp_path):
    fw = _moe_framework(tmp_path, "cost")
    p = fw.problem
    assert p.services[p.n_chain:] == ["expert0", "expert1", "expert2", "expert3"]
    assign, _ = solve_ilp(p)
    assert latency(p, assign) == pytest.approx(latency(p, brute_force(p)), rel=1e-9)
    pinned = _moe_framework(tmp_path / "pin", "cost", {
        "orchestration": "static", "expected_batch": 1,
        "expert_hosts": ["cloud", "cloud", "edge1", "edge1"]})
    assert [pinned.where[f"expert{j}"] for j in range(E)] == ["cloud", "cloud", "edge1", "edge1"]
    q = pinned.problem
    best = brute_force(q)
    assert latency(q, pinned.assign) == pytest.approx(latency(q, best), rel=1e-9)


def test_moe_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match="expert_hosts: one host per expert"):
        _moe_framework(tmp_path, "cost", {"expert_hosts": ["edge0"]})
    from edgelam_ns3 import config

    with pytest.raises(config.ConfigError, match="top_k: read with n_experts > 0 only"):
        config.from_dict({"train": {"framework": "microservice_inference"},
                          "inference": {"model": {"top_k": 1}}})
