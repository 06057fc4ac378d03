"""The LAM as microservices: real and cost modes charge the same, KV-cache bytes."""

import pytest
import torch

from edgelam_ns3.compute import BUILTIN_PROFILES, duration_s
from edgelam_ns3.models.microservices import MicroserviceLAM, ServiceCall, gpt2_like

CFG = gpt2_like(4, 64, 4, vocab_size=100, n_positions=128)


def _serve(model, prompts: dict[int, int], steps: int) -> list[tuple[str, int, int]]:
    """Prefill the prompts as one ragged batch, then ``steps`` decode steps; the (service,
    FLOPs, bytes) of every call."""
    gen = torch.Generator().manual_seed(0)
    calls = [ServiceCall(r, n, 0, torch.randint(0, 100, (n,), generator=gen)
                         if model.mode == "real" else None) for r, n in prompts.items()]
    ctx = dict(prompts)
    out = []
    for step in range(steps + 1):
        for s in model.services:
            res = model.run(s, calls)
            out.append((s, res.flops, res.bytes_moved))
            calls = [ServiceCall(c.req, c.q_len, c.past_len, o) for c, o in zip(calls, res.outputs)]
        calls = [ServiceCall(c.req, 1, ctx[c.req], None if c.data is None else c.data.reshape(1))
                 for c in calls]
        ctx = {r: n + 1 for r, n in ctx.items()}
    return out


def test_real_and_cost_modes_charge_the_same_time_for_a_dense_model():
    real = _serve(MicroserviceLAM(CFG, 2, "real"), {0: 7, 1: 3, 2: 12}, steps=3)
    cost = _serve(MicroserviceLAM(CFG, 2, "cost"), {0: 7, 1: 3, 2: 12}, steps=3)
    assert real == cost
    prof = BUILTIN_PROFILES["edge_gpu_server"]
    t_real = sum(duration_s(prof, f, b) for _, f, b in real)
    t_cost = sum(duration_s(prof, f, b) for _, f, b in cost)
    assert t_real == t_cost > 0
    assert all(f > 0 for s, f, _ in real if s != "embed")


def test_kv_cache_bytes_match_the_closed_form():
    model = MicroserviceLAM(CFG, 3, "real")
    _serve(model, {0: 9, 1: 4}, steps=2)
    for req, prompt in ((0, 9), (1, 4)):
        ctx = prompt + 2  # the last decode step's token is produced, not cached
        for s, layers in model.group_layers.items():
            closed = 2 * layers * ctx * CFG.n_embd * 4
            assert model.kv_bytes(s, req) == closed == model.kv_bytes(s, ctx=ctx)
    model.release(0)
    assert model.kv_bytes("blocks0", 0) == 0 and model.kv_bytes("blocks0", 1) > 0


def test_cost_mode_allocates_no_weights_and_counts_the_weight_bytes():
    big = MicroserviceLAM(gpt2_like(32, 4096, 32, vocab_size=32000), 4, "cost")
    assert all(p.is_meta for p in big.modules.parameters())
    per_block = (4096 * 3 * 4096 + 3 * 4096) + (4096 * 4096 + 4096) + 2 * (4096 * 16384) \
        + 16384 + 4096 + 4 * 4096
    assert big.weight_bytes("blocks0") == 8 * per_block * 4
    res = big.run("blocks0", [ServiceCall(0, 1, 1000), ServiceCall(1, 200, 0)])
    assert res.flops > 2 * 8 * 201 * 12 * 4096 ** 2  # the linear layers alone


def test_unknown_service_and_bad_mode_are_rejected():
    with pytest.raises(ValueError, match="mode"):
        MicroserviceLAM(CFG, 2, "fast")
    with pytest.raises(KeyError, match="unknown service"):
        MicroserviceLAM(CFG, 2, "cost").run("blocks9", [ServiceCall(0, 1, 0)])


@pytest.mark.parametrize("key", [("attn", 1, 2), ("attn", 1, 37), ("attn", 1, 1000),
                                 ("attn", 5, 37), ("attn", 16, 300),
                                 ("dense", 3), ("dense", 517), ("embed", 3), ("embed", 4096)])
def test_counts_extrapolated_from_two_sizes_equal_a_direct_count(key):
    from edgelam_ns3.compute import measure

    model = MicroserviceLAM(CFG, 2, "cost")
    fn, args = model._piece(key)
    job = measure(fn, *args)
    assert model._count(key) == (job.flops, job.bytes_moved)


def test_moe_routing_is_the_top_k_of_the_router_logits_and_charges_k_experts():
    from edgelam_ns3.models.microservices import MoEExperts

    d, d_ff, n_exp, k, n = 32, 64, 4, 2, 24
    real = MoEExperts(d, d_ff, n_exp, k, "real", seed=5)
    x = torch.randn(n, d, generator=torch.Generator().manual_seed(1))
    idx, gates = real.route(x)
    logits = real.router(x)
    for t in range(n):  # the chosen experts are the k largest logits, gates their softmax
        assert set(idx[t].tolist()) == set(logits[t].argsort(descending=True)[:k].tolist())
        assert torch.allclose(gates[t], logits[t, idx[t]].softmax(-1))
    per_token = 2 * 2 * d * d_ff  # two [., d] x [d, d_ff]-class products per token
    rows = real.dispatch(x)
    assert sum(len(r) for r in rows.values()) == n * k
    flops = sum(real.run(e, x[r]).flops for e, r in rows.items())
    assert flops == n * k * per_token
    cost = MoEExperts(d, d_ff, n_exp, k, "cost")
    m = cost.expected_tokens(n)  # 12 tokens to each of the 4 experts
    assert m == 12 and sum(cost.run(e, m).flops for e in cost.services) == n * k * per_token


@pytest.mark.parametrize("key", [("expert", 3), ("expert", 77), ("router", 3), ("router", 61)])
def test_moe_counts_extrapolated_from_two_sizes_equal_a_direct_count(key):
    from edgelam_ns3.compute import measure

    model = MicroserviceLAM(CFG, 2, "cost", n_experts=4, top_k=2)
    fn, args = model._piece(key)
    job = measure(fn, *args)
    assert model._count(key) == (job.flops, job.bytes_moved)


def test_moe_services_charge_the_same_in_real_and_cost_mode():
    real = MicroserviceLAM(CFG, 2, "real", n_experts=4, top_k=2)
    cost = MicroserviceLAM(CFG, 2, "cost", n_experts=4, top_k=2)
    x = torch.randn(9, CFG.n_embd, generator=torch.Generator().manual_seed(0))
    for s in ("moe1_router", "moe0_expert3"):
        calls = [ServiceCall(0, 4, 0, x[:4]), ServiceCall(1, 5, 0, x[4:])]
        r, c = real.run(s, calls), cost.run(s, [ServiceCall(0, 4, 0), ServiceCall(1, 5, 0)])
        assert (r.flops, r.bytes_moved) == (c.flops, c.bytes_moved) and r.flops > 0
    out = real.run("moe1_router", [ServiceCall(0, 9, 0, x)]).outputs[0]
    idx, gates = real.routing(1, 0, 0, 9, out)
    logits = real.modules["moe1_router"](x)
    assert torch.equal(idx, logits.topk(2, -1).indices)
    assert torch.allclose(gates, logits.topk(2, -1).values.softmax(-1))
    assert real.weight_bytes("expert3") == 2 * real.weight_bytes("moe0_expert3")
