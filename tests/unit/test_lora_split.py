"""LoRA on the server decoder of a split GPT-2: parity with the unsplit peft model, freezing,
adapter state, FedAvg and the batched multi-device server step."""

from __future__ import annotations

import copy

import pytest
import torch
from peft import get_peft_model, get_peft_model_state_dict
from transformers import GPT2LMHeadModel

from edgelam_ns3.models.lora_split import (
    adapter_nbytes,
    adapter_parameters,
    adapter_state_dict,
    enable_per_sample_grads,
    fedavg,
    gpt2_lora_config,
    load_adapter_state_dict,
    make_split_lora,
    server_backward_many,
    server_forward_many,
)
from edgelam_ns3.models.split_gpt import (
    device_backward_embed,
    device_backward_head,
    device_forward,
    gpt2_config,
    server_backward,
    server_forward,
)

B, T = 3, 12


@pytest.fixture()
def cfg():
    return gpt2_config(vocab_size=64, n_positions=32, n_embd=32, n_layer=2, n_head=4)


@pytest.fixture()
def lora():
    return gpt2_lora_config(r=4, alpha=8.0)


def _tokens(seed: int, batch: int = B, vocab: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (batch, T), generator=g)


def _randomise_adapters(model, seed: int) -> None:
    """Give every lora_B non-zero values so that the lora_A gradients are non-zero too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in adapter_parameters(model):
            p.copy_(0.1 * torch.randn(p.shape, generator=g))


def _split_step(server, device, ids):
    dctx, h0 = device_forward(device, ids)
    sctx, hL = server_forward(server, h0)
    loss, g_hL = device_backward_head(device, hL, ids)
    g_h0 = server_backward(sctx, g_hL)
    device_backward_embed(dctx, g_h0)
    return loss


def _unsplit_reference(server, device, lora):
    """GPT2LMHeadModel with the same base weights, wrapped by peft with the same adapters (on
    the blocks the server holds: those after the device's)."""
    k = device.device_layers
    lm = device.to_lm()
    ref_lora = copy.deepcopy(lora)
    ref_lora.layers_to_transform = list(range(k, server.config.n_layer))
    ref_lora.layers_pattern = "h"
    plm = get_peft_model(lm, ref_lora)
    # Copy the split model's adapters (keys "h.0.attn.c_attn.lora_A.weight", server block 0 =
    # block k) into the peft model (keys "base_model.model.transformer.h.<k>.attn.c_attn.lora_A.
    # default.weight").
    named = dict(plm.named_parameters())
    assert len([n for n in named if "lora_" in n]) == len(adapter_parameters(server))
    with torch.no_grad():
        for key, v in adapter_state_dict(server).items():
            _, i, rest = key.split(".", 2)
            mod, leaf = rest.rsplit(".", 1)
            named[f"base_model.model.transformer.h.{int(i) + k}.{mod}.default.{leaf}"].copy_(v)
    # peft freezes everything but the adapters; the device's embedding/head (tied) trains too.
    plm.base_model.model.transformer.wte.weight.requires_grad_(True)
    return plm


@pytest.mark.parametrize("device_layers", [0, 1])
def test_split_lora_parity_loss_and_grads(cfg, lora, device_layers):
    server, device = make_split_lora(cfg, lora, seed=0, device_layers=device_layers)
    _randomise_adapters(server, seed=1)
    plm = _unsplit_reference(server, device, lora)
    ids = _tokens(2)

    loss_split = _split_step(server, device, ids)
    out = plm(input_ids=ids, labels=ids)
    out.loss.backward()

    torch.testing.assert_close(loss_split, out.loss.detach(), rtol=1e-6, atol=1e-6)
    # Adapter gradients.
    ref = {n: p for n, p in plm.named_parameters() if "lora_" in n}
    for n, p in server.server_part().named_parameters():
        if "lora_" not in n:
            continue
        _, i, rest = n.split(".", 2)
        q = ref[f"base_model.model.transformer.h.{int(i) + device_layers}.{rest}"]
        assert p.grad is not None and p.grad.abs().sum() > 0, n
        assert torch.allclose(p.grad, q.grad, rtol=1e-5, atol=1e-6), n
    # Device (tied embedding/head) gradient.
    wte = plm.base_model.model.transformer.wte.weight
    assert torch.allclose(device.parts["embed"].weight.grad, wte.grad, rtol=1e-5, atol=1e-6)


def test_server_base_weights_frozen_only_adapters_trainable(cfg, lora):
    server, device = make_split_lora(cfg, lora, seed=0)
    k = device.device_layers
    assert k == 1  # the default cut: one block on the device
    trainable = [n for n, p in server.named_parameters() if p.requires_grad]
    assert trainable and all("lora_A" in n or "lora_B" in n for n in trainable)
    # Every server block has adapters on attn.c_attn, attn.c_proj and mlp.c_proj (A and B each).
    assert len(trainable) == (cfg.n_layer - k) * 3 * 2
    # After a step, no base weight of the server has a gradient.
    _split_step(server, device, _tokens(3))
    for n, p in server.named_parameters():
        if "lora_" not in n:
            assert p.grad is None, n
    # The device template trains its embedding/head, not its (frozen, base) blocks or the decoder.
    trained = [n for n, p in device.named_parameters() if p.requires_grad]
    assert trained == ["parts.embed.weight"]
    assert device.parts["device_blocks"].h[0].attn.c_attn.weight.grad is None


def test_initial_lora_output_equals_base_model(cfg, lora):
    server, device = make_split_lora(cfg, lora, seed=5)
    for n, p in server.server_part().named_parameters():
        if "lora_B" in n:
            assert torch.count_nonzero(p) == 0, n
    ids = _tokens(4)
    with torch.no_grad():
        h0 = device.embed(ids)
        assert torch.equal(server.decode(h0), device.decode(h0))


def test_make_split_lora_is_seeded_and_leaves_global_rng(cfg, lora):
    state = torch.random.get_rng_state()
    a, _ = make_split_lora(cfg, lora, seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)
    b, _ = make_split_lora(cfg, lora, seed=7)
    c, _ = make_split_lora(cfg, lora, seed=8)
    sa, sb, sc = adapter_state_dict(a), adapter_state_dict(b), adapter_state_dict(c)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)


def test_adapter_state_dict_holds_only_lora_weights(cfg, lora):
    server, _ = make_split_lora(cfg, lora, seed=0)
    sd = adapter_state_dict(server)
    assert sd and all(".lora_A." in k or ".lora_B." in k for k in sd)
    assert sd.keys() == get_peft_model_state_dict(server.server_part()).keys()
    n_params = sum(p.numel() for p in adapter_parameters(server))
    assert sum(v.numel() for v in sd.values()) == n_params
    assert adapter_nbytes(server) == 4 * n_params  # float32
    # r * (in + out) per adapted projection: c_attn D->3D, attn.c_proj D->D, mlp.c_proj 4D->D,
    # on each of the server's blocks
    D, r = cfg.n_embd, 4
    server_blocks = cfg.n_layer - server.device_layers
    assert n_params == server_blocks * r * ((D + 3 * D) + (D + D) + (4 * D + D))
    # Copies, not views of the live weights; and they load back.
    _randomise_adapters(server, seed=3)
    load_adapter_state_dict(server, sd)
    assert all(torch.equal(adapter_state_dict(server)[k], sd[k]) for k in sd)
    with pytest.raises(ValueError, match="missing"):
        load_adapter_state_dict(server, dict(list(sd.items())[1:]))


def test_fedavg_identity_and_weights(cfg, lora):
    server, _ = make_split_lora(cfg, lora, seed=0)
    _randomise_adapters(server, seed=1)
    a = adapter_state_dict(server)
    avg = fedavg([a, a, a], [1.0, 5.0, 2.0])
    assert all(torch.allclose(avg[k], a[k], rtol=0, atol=1e-7) and avg[k].dtype == a[k].dtype for k in a)

    b = {k: torch.full_like(v, 2.0) for k, v in a.items()}
    c = {k: torch.full_like(v, -1.0) for k, v in a.items()}
    out = fedavg([b, c], [3, 1])  # (3*2 + 1*(-1)) / 4
    assert all(torch.allclose(out[k], torch.full_like(a[k], 1.25)) for k in a)
    out = fedavg([b, c])  # equal weights
    assert all(torch.allclose(out[k], torch.full_like(a[k], 0.5)) for k in a)
    out = fedavg([b, c], [0, 1])  # a zero weight drops that device
    assert all(torch.equal(out[k], c[k]) for k in a)

    with pytest.raises(ValueError, match="weights"):
        fedavg([b, c], [1])
    with pytest.raises(ValueError, match="not all zero"):
        fedavg([b, c], [0, 0])
    with pytest.raises(ValueError, match="different keys"):
        fedavg([b, {k: v for k, v in list(c.items())[1:]}])


def test_fedavg_of_device_modules(cfg, lora):
    _, device = make_split_lora(cfg, lora, seed=0)
    d1, d2 = copy.deepcopy(device), copy.deepcopy(device)
    with torch.no_grad():
        d2.parts["embed"].weight.add_(1.0)
    avg = fedavg([d1.device_part().state_dict(), d2.device_part().state_dict()], [1, 1])
    expect = device.parts["embed"].weight + 0.5
    assert torch.allclose(avg["embed.weight"], expect) and torch.allclose(avg["head.weight"], expect)


@pytest.mark.parametrize("per_device", [False, True])
def test_multi_device_batched_server_step_equals_sum_of_per_device_steps(cfg, lora, per_device):
    server, device = make_split_lora(cfg, lora, seed=0)
    _randomise_adapters(server, seed=1)
    devices = [copy.deepcopy(device) for _ in range(3)]
    batches = [_tokens(10 + k, batch=k + 1) for k in range(3)]  # unequal batch sizes 1, 2, 3

    # Reference: each device's step alone, adapter grads summed by accumulation.
    ref_server = copy.deepcopy(server)
    ref_devices = [copy.deepcopy(d) for d in devices]
    ref_losses, ref_g_h0, ref_dev_grads = [], [], []
    params = adapter_parameters(ref_server)
    for d, ids in zip(ref_devices, batches):
        before = [None if p.grad is None else p.grad.clone() for p in params]
        dctx, h0 = device_forward(d, ids)
        sctx, hL = server_forward(ref_server, h0)
        loss, g_hL = device_backward_head(d, hL, ids)
        g_h0 = server_backward(sctx, g_hL)
        device_backward_embed(dctx, g_h0)
        ref_losses.append(loss)
        ref_g_h0.append(g_h0)
        ref_dev_grads.append([p.grad - (0 if b is None else b) for p, b in zip(params, before)])

    # Batched: the server runs once over all three devices' activations.
    if per_device:
        enable_per_sample_grads(server)
    ctxs, h0s = zip(*(device_forward(d, ids) for d, ids in zip(devices, batches)))
    sctx, hLs = server_forward_many(server, list(h0s))
    assert [h.shape[0] for h in hLs] == [1, 2, 3]
    losses, g_hLs = zip(*(device_backward_head(d, hL, ids) for d, hL, ids in zip(devices, hLs, batches)))
    g_h0s, dev_grads = server_backward_many(
        sctx, list(g_hLs), per_device_grads=adapter_parameters(server) if per_device else None
    )
    for ctx, g in zip(ctxs, g_h0s):
        device_backward_embed(ctx, g)

    for k in range(3):
        torch.testing.assert_close(losses[k], ref_losses[k], rtol=1e-6, atol=1e-6)
        assert torch.allclose(g_h0s[k], ref_g_h0[k], rtol=1e-5, atol=1e-7)
        assert torch.allclose(
            devices[k].parts["embed"].weight.grad, ref_devices[k].parts["embed"].weight.grad, rtol=1e-5, atol=1e-7
        )
    for p, q in zip(adapter_parameters(server), adapter_parameters(ref_server)):
        assert torch.allclose(p.grad, q.grad, rtol=1e-5, atol=1e-6)
    if per_device:
        assert dev_grads is not None and len(dev_grads) == 3
        for k in range(3):
            for g, r in zip(dev_grads[k], ref_dev_grads[k]):
                assert torch.allclose(g, r, rtol=1e-4, atol=1e-6)
    else:
        assert dev_grads is None


def test_batched_server_step_rejects_mismatched_shapes(cfg, lora):
    server, _ = make_split_lora(cfg, lora, seed=0)
    with pytest.raises(ValueError, match="equal"):
        server_forward_many(server, [torch.zeros(1, 4, 32), torch.zeros(1, 5, 32)])
    ctx, _ = server_forward_many(server, [torch.zeros(1, 4, 32), torch.zeros(2, 4, 32)])
    with pytest.raises(ValueError, match="batch"):
        server_backward_many(ctx, [torch.zeros(2, 4, 32), torch.zeros(1, 4, 32)])
    # per-device gradients come from Opacus's hooks, which must be on before the forward
    with pytest.raises(ValueError, match="enable_per_sample_grads"):
        server_backward_many(ctx, [torch.zeros(1, 4, 32), torch.zeros(2, 4, 32)],
                             per_device_grads=adapter_parameters(server))


def test_lora_config_requires_explicit_targets_and_conv1d_layout(cfg):
    from peft import LoraConfig

    with pytest.raises(ValueError, match="fan_in_fan_out"):
        make_split_lora(cfg, LoraConfig(r=2, target_modules=["c_attn"]), seed=0)
    with pytest.raises(ValueError, match="rank"):
        gpt2_lora_config(r=0)


def test_per_device_gradients_cost_the_flops_of_one_plain_backward(cfg, lora):
    """DP needs each device's adapter gradient. Taking them from the one backward (Opacus's
    per-row weight gradients, summed per device) costs exactly the FLOPs of the plain backward:
    a per-row weight gradient contracts over the same rows x tokens as the summed one it
    replaces, and the input gradient is the same. K backwards (the old way) cost K times as
    much. The real overhead is memory traffic: the per-row gradients (rows x adapter size) are
    zero-filled, written, accumulated, read back and summed per device and in total, at most 8
    passes over them."""
    from edgelam_ns3.compute import measure

    server, _ = make_split_lora(cfg, lora, seed=0)
    _randomise_adapters(server, seed=1)
    dp_server = copy.deepcopy(server)
    enable_per_sample_grads(dp_server)
    g = torch.Generator().manual_seed(3)
    h0s = [torch.randn(2, T, cfg.n_embd, generator=g) for _ in range(4)]
    g_hLs = [torch.randn(2, T, cfg.n_embd, generator=g) for _ in range(4)]

    def costs(model, per_device):
        fwd = measure(server_forward_many, model, h0s)
        ctx, _ = fwd.result
        params = adapter_parameters(model) if per_device else None
        bwd = measure(server_backward_many, ctx, g_hLs, params)
        return fwd, bwd

    fwd, bwd = costs(server, False)
    dp_fwd, dp_bwd = costs(dp_server, True)
    assert dp_fwd.flops == fwd.flops > 0
    assert dp_bwd.flops == bwd.flops > 0
    per_row_bytes = 8 * sum(p.numel() for p in adapter_parameters(server)) * 4  # 8 rows, fp32
    assert 0 <= dp_bwd.bytes_moved - bwd.bytes_moved <= 8 * per_row_bytes
    # and the per-device gradients sum to the plain backward's summed gradients
    per_dev = dp_bwd.result[1]
    for i, p in enumerate(adapter_parameters(server)):
        torch.testing.assert_close(sum(d[i] for d in per_dev), p.grad, rtol=1e-4, atol=1e-6)
