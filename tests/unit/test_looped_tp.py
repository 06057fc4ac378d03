"""Looped tensor parallelism: the partitioned exchange computes what the monolithic model does."""

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from edgelam_ns3.models.looped_tp import (
    TP_PLAN,
    DeviceShard,
    LoopedConfig,
    LoopedTPStep,
    LoopedTransformer,
    ServerPart,
    gather_state,
    merge,
    partition,
)
from edgelam_ns3.models.split_gpt import IGNORE_INDEX

torch.set_num_threads(1)

B, T = 2, 12
CFG = LoopedConfig(vocab_size=64, n_positions=16, d_model=32, n_heads=4, d_ff=64, n_loops=3)


def _model(seed: int = 1234) -> LoopedTransformer:
    """A monolithic model with every parameter random (non-zero biases, non-unit norms)."""
    torch.manual_seed(seed)
    model = LoopedTransformer(CFG)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _batch(seed: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, CFG.vocab_size, (B, T), generator=g)
    labels = input_ids.clone()
    labels[0, 3] = IGNORE_INDEX
    return input_ids, labels


def _split(model: LoopedTransformer, K: int) -> tuple[ServerPart, list[DeviceShard]]:
    return ServerPart.from_model(model), partition(model, K)


def _mono_grads(model: LoopedTransformer) -> dict[str, torch.Tensor]:
    return {name: p.grad for name, p in model.parts.named_parameters()}


@pytest.mark.parametrize("K", [1, 2, 4])
def test_looped_tp_parity_forward_and_grads(K):
    model = _model()
    server, shards = _split(model, K)
    input_ids, labels = _batch()

    ref_loss, ref_logits = model(input_ids, labels)
    ref_loss.backward()
    result = LoopedTPStep(server, shards).run(input_ids, labels)

    assert torch.allclose(result.logits, ref_logits.detach(), rtol=1e-5, atol=1e-6)
    assert torch.allclose(result.loss, ref_loss.detach(), rtol=0, atol=1e-6)
    grads = gather_state(server, shards, grad=True)
    ref = _mono_grads(model)
    assert set(ref) <= set(grads)
    assert len(ref) == len(list(model.parameters()))  # head tied to wte: listed once
    for name, g_ref in ref.items():
        assert g_ref is not None, name
        if name == "attn_k.bias":
            # Zero in exact arithmetic: softmax ignores the constant q.b_k it adds to each row.
            assert g_ref.abs().max() < 1e-7 and grads[name].abs().max() < 1e-7
        else:
            assert g_ref.abs().sum() > 0, name  # the backward really reaches every weight
        assert torch.allclose(grads[name], g_ref, rtol=1e-5, atol=1e-6), (
            f"K={K} {name}: max |diff| {(grads[name] - g_ref).abs().max().item():.3e}"
        )
    # Every parameter of every part got a gradient (full-parameter training).
    for part in [server, *shards]:
        for name, p in part.named_parameters():
            assert p.grad is not None, name


def test_monolithic_model_equals_gpt2_with_one_block_repeated():
    """An independent oracle: GPT-2 whose n_loops blocks all carry the looped block's weights."""
    model = _model()
    lm = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=CFG.vocab_size, n_positions=CFG.n_positions, n_embd=CFG.d_model,
            n_layer=CFG.n_loops, n_head=CFG.n_heads, n_inner=CFG.d_ff,
            activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
            bos_token_id=None, eos_token_id=None, pad_token_id=None, use_cache=False,
            tie_word_embeddings=True, attn_implementation="eager",
        )
    ).eval()
    p = model.parts
    with torch.no_grad():
        lm.transformer.wte.weight.copy_(p["wte"].weight)
        lm.transformer.wpe.weight.copy_(p["wpe"].weight)
        lm.transformer.ln_f.load_state_dict(p["ln_f"].state_dict())
        for block in lm.transformer.h:
            block.ln_1.load_state_dict(p["ln_1"].state_dict())
            block.ln_2.load_state_dict(p["ln_2"].state_dict())
            # GPT-2's Conv1D stores weights as [in, out]; c_attn fuses Q, K, V.
            block.attn.c_attn.weight.copy_(
                torch.cat([p[n].weight for n in ("attn_q", "attn_k", "attn_v")], dim=0).T
            )
            block.attn.c_attn.bias.copy_(
                torch.cat([p[n].bias for n in ("attn_q", "attn_k", "attn_v")])
            )
            block.attn.c_proj.weight.copy_(p["attn_proj"].weight.T)
            block.attn.c_proj.bias.copy_(p["attn_proj"].bias)
            block.mlp.c_fc.weight.copy_(p["mlp_fc"].weight.T)
            block.mlp.c_fc.bias.copy_(p["mlp_fc"].bias)
            block.mlp.c_proj.weight.copy_(p["mlp_proj"].weight.T)
            block.mlp.c_proj.bias.copy_(p["mlp_proj"].bias)
    input_ids, labels = _batch()
    with torch.no_grad():
        ref = lm(input_ids=input_ids, labels=labels)
        loss, logits = model(input_ids, labels)
    torch.testing.assert_close(logits, ref.logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(loss, ref.loss, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("K", [1, 2, 4])
def test_exchange_bytes_match_tensor_sizes(K):
    model = _model()
    server, shards = _split(model, K)
    input_ids, labels = _batch()
    seen = []
    step = LoopedTPStep(server, shards, on_exchange=seen.append)
    result = step.run(input_ids, labels)

    L, D = CFG.n_loops, CFG.d_model
    per_tensor = B * T * D * 4  # float32
    # Per loop, per sub-layer: K down + K up in the forward, K down + K up in the backward.
    assert len(result.exchanges) == L * 2 * 4 * K
    assert seen == result.exchanges == step.exchanges
    assert all(ex.nbytes == per_tensor and ex.shape == (B, T, D) for ex in result.exchanges)
    assert sum(ex.nbytes for ex in result.exchanges) == 8 * L * K * per_tensor
    for phase in ("forward", "backward"):
        for loop in range(L):
            for sub in ("attn", "mlp"):
                for direction in ("down", "up"):
                    key = (phase, loop, sub, direction)
                    devices = sorted(
                        ex.device for ex in result.exchanges
                        if (ex.phase, ex.loop, ex.sublayer, ex.direction) == key
                    )
                    assert devices == list(range(K)), (phase, loop, sub, direction)
    payloads = {(ex.phase, ex.direction): ex.payload for ex in result.exchanges}
    assert payloads == {
        ("forward", "down"): "ln_out",
        ("forward", "up"): "partial",
        ("backward", "down"): "grad_partial",
        ("backward", "up"): "grad_ln_out",
    }
    # Order: forward loop 0 attn first, backward ends at loop 0 attn.
    assert (result.exchanges[0].phase, result.exchanges[0].loop, result.exchanges[0].sublayer) == (
        "forward", 0, "attn")
    last = result.exchanges[-1]
    assert (last.phase, last.loop, last.sublayer, last.direction) == ("backward", 0, "attn", "up")


def test_explicit_steps_take_and_return_plain_detached_tensors():
    """Driving the calls by hand, devices in any order, gives the same result as run()."""
    K = 2
    model = _model()
    input_ids, labels = _batch()
    server_a, shards_a = _split(model, K)
    ref = LoopedTPStep(server_a, shards_a).run(input_ids, labels)

    server, shards = _split(model, K)
    step = LoopedTPStep(server, shards)
    step.server_embed(input_ids)
    for loop, sub in step.stages():
        h = step.server_pre(loop, sub)
        assert h.grad_fn is None and not h.requires_grad and h.is_contiguous()
        partials = [None] * K
        for k in reversed(range(K)):  # devices finish in any order
            partials[k] = step.device_forward(k, loop, sub, h)
            assert partials[k].grad_fn is None and not partials[k].requires_grad
        step.server_aggregate(loop, sub, partials)
    loss, _ = step.server_loss(labels)
    for loop, sub in reversed(step.stages()):
        g = step.server_grad_partial(loop, sub)
        assert g.grad_fn is None and not g.requires_grad
        grads = [None] * K
        for k in reversed(range(K)):
            grads[k] = step.device_backward(k, loop, sub, g)
            assert grads[k].grad_fn is None and not grads[k].requires_grad
        step.server_backward(loop, sub, grads)
    assert torch.equal(loss, ref.loss)
    got, want = gather_state(server, shards, grad=True), gather_state(server_a, shards_a, grad=True)
    for name in want:
        assert torch.equal(got[name], want[name]), name


def test_out_of_order_call_raises():
    server, shards = _split(_model(), 2)
    step = LoopedTPStep(server, shards)
    input_ids, _ = _batch()
    step.server_embed(input_ids)
    with pytest.raises(RuntimeError, match="out of order"):
        step.server_pre(0, "mlp")
    h = step.server_pre(0, "attn")
    p0 = step.device_forward(0, 0, "attn", h)
    with pytest.raises(ValueError, match="all K=2 devices"):
        step.server_aggregate(0, "attn", [p0])


@pytest.mark.parametrize("optim", ["sgd", "adam"])
def test_optimizer_step_on_shards_equals_step_on_monolithic_model(optim):
    K = 2
    model = _model()
    server, shards = _split(model, K)
    input_ids, labels = _batch()

    def make(params):
        if optim == "sgd":
            return torch.optim.SGD(params, lr=0.1, momentum=0.9)
        return torch.optim.Adam(params, lr=1e-2)

    opt_ref = make(model.parameters())
    opt_parts = make([p for part in [server, *shards] for p in part.parameters()])
    step = LoopedTPStep(server, shards)
    losses = []
    for _ in range(3):
        opt_ref.zero_grad()
        opt_parts.zero_grad()
        ref_loss, _ = model(input_ids, labels)
        ref_loss.backward()
        opt_ref.step()
        losses.append(step.run(input_ids, labels).loss.item())
        opt_parts.step()
        assert abs(losses[-1] - ref_loss.item()) < 1e-5

    merged = merge(server, shards)
    ref_state = model.parts.state_dict()
    # Adam divides by sqrt(v): gradient elements near zero turn float summation-order noise
    # into differences of a few 1e-6 after a few steps of lr 1e-2. The key bias's gradient is
    # exactly zero in exact arithmetic (softmax ignores the constant q.b_k it adds to a row), so
    # under Adam both runs move it by lr * sign(rounding noise): not comparable.
    atol = 1e-6 if optim == "sgd" else 1e-5
    for name, value in merged.parts.state_dict().items():
        if optim == "adam" and name == "attn_k.bias":
            continue
        assert torch.allclose(value, ref_state[name], rtol=1e-5, atol=atol), (
            f"{name}: max |diff| {(value - ref_state[name]).abs().max().item():.3e}"
        )
    assert losses[-1] < losses[0]  # it trains


def test_partition_covers_every_parameter_exactly_once():
    model = _model()
    for K in (1, 2, 4):
        server, shards = _split(model, K)
        n_parts = sum(p.numel() for part in [server, *shards] for p in part.parameters())
        assert n_parts == sum(p.numel() for p in model.parameters())
        assert server.parts["head"].weight is server.parts["wte"].weight
        for name, (_, dim) in TP_PLAN.items():
            assert shards[0].parts.get_parameter(name).shape[dim] * K == (
                model.parts.get_parameter(name).shape[dim]
            )
        state = gather_state(server, shards)
        for name, value in model.parts.state_dict().items():
            assert torch.equal(state[name], value), name
    # Copies: changing a shard leaves the model as it was.
    with torch.no_grad():
        shards[0].parts["attn_q"].weight.add_(1.0)
        server.parts["wte"].weight.add_(1.0)
    assert torch.equal(gather_state(*_split(model, 1))["wte.weight"], model.parts["wte"].weight)
    assert not torch.equal(server.parts["wte"].weight, model.parts["wte"].weight)


@pytest.mark.parametrize(
    "K, rule",
    [(3, "must divide n_heads"), (0, "positive integer")],
)
def test_bad_k_raises_naming_the_rule(K, rule):
    with pytest.raises(ValueError, match=rule):
        partition(_model(), K)


def test_k_not_dividing_d_ff_raises_naming_the_rule():
    model = LoopedTransformer(LoopedConfig(d_model=32, n_heads=4, d_ff=62, n_loops=1))
    with pytest.raises(ValueError, match="must divide d_ff"):
        partition(model, 4)


def test_config_rejects_heads_not_dividing_width():
    with pytest.raises(ValueError, match="multiple of n_heads"):
        LoopedConfig(d_model=30, n_heads=4)
