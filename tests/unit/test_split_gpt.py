"""SplitGPT: the U-shaped split computes what an unsplit GPT-2 computes."""

import pytest
import torch
from transformers import GPT2LMHeadModel

from edgelam_ns3.models.split_gpt import (
    IGNORE_INDEX,
    SplitGPT,
    device_backward_embed,
    device_backward_head,
    device_forward,
    gpt2_config,
    server_backward,
    server_forward,
    tensor_nbytes,
)

torch.set_num_threads(1)

B, T = 3, 16
CFG = dict(vocab_size=256, n_positions=32, n_embd=32, n_layer=3, n_head=4)


def _reference(attn: str = "eager") -> GPT2LMHeadModel:
    torch.manual_seed(1234)
    return GPT2LMHeadModel(gpt2_config(**CFG, attn_implementation=attn)).float()


def _batch(seed: int = 7) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, CFG["vocab_size"], (B, T), generator=g)
    labels = input_ids.clone()
    labels[0, 5] = IGNORE_INDEX  # an ignored target must be ignored identically
    return input_ids, labels


def _split_step(model: SplitGPT, input_ids, labels):
    """One training step through the five exchanges; returns the loss and the wire tensors."""
    dev_ctx, h0_wire = device_forward(model, input_ids)
    srv_ctx, hL_wire = server_forward(model, h0_wire)
    loss, grad_hL_wire = device_backward_head(model, hL_wire, labels)
    grad_h0_wire = server_backward(srv_ctx, grad_hL_wire)
    device_backward_embed(dev_ctx, grad_h0_wire)
    return loss, [h0_wire, hL_wire, grad_hL_wire, grad_h0_wire]


def _param_pairs(lm: GPT2LMHeadModel, split: SplitGPT):
    """(name, reference parameter, split parameter) for every trainable parameter."""
    ref = dict(lm.named_parameters())  # lm_head.weight is tied to wte: listed once
    pairs = [("transformer.wte.weight", ref.pop("transformer.wte.weight"), split.parts["embed"].weight)]
    for name in sorted(ref):
        part, sub = split._part_key(name[len("transformer."):])
        pairs.append((name, ref.pop(name), split.parts[part].get_parameter(sub)))
    return pairs


@pytest.mark.parametrize("device_layers", [0, 1, 2])
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_split_parity_loss_and_grads_match_unsplit_gpt2(attn, device_layers):
    lm = _reference(attn)
    split = SplitGPT.from_lm(lm, device_layers)
    input_ids, labels = _batch()

    ref_loss = lm(input_ids=input_ids, labels=labels).loss
    ref_loss.backward()
    loss, _ = _split_step(split, input_ids, labels)

    torch.testing.assert_close(loss, ref_loss.detach(), rtol=1e-6, atol=1e-6)
    pairs = _param_pairs(lm, split)
    # every parameter of the split model but the empty token-embedding placeholders
    assert len(pairs) == len([p for p in split.parameters() if p.numel() > 0])
    for name, p_ref, p_split in pairs:
        assert p_ref.grad is not None and p_split.grad is not None, name
        assert torch.allclose(p_split.grad, p_ref.grad, rtol=1e-5, atol=1e-7), (
            f"{name}: max |diff| {(p_split.grad - p_ref.grad).abs().max().item():.3e}"
        )
    # and back: to_lm gives the unsplit model with the same weights
    again = split.to_lm()
    for (name, p), q in zip(lm.named_parameters(), again.parameters()):
        assert torch.equal(p, q), name


def test_unsplit_forward_matches_gpt2_logits_and_loss():
    lm = _reference()
    split = SplitGPT.from_lm(lm)
    input_ids, labels = _batch(3)
    with torch.no_grad():
        ref = lm(input_ids=input_ids, labels=labels)
        loss, logits = split(input_ids, labels)
    torch.testing.assert_close(logits, ref.logits, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(loss, ref.loss, rtol=1e-6, atol=1e-6)
    none_loss, _ = split(input_ids)
    assert none_loss is None


def test_cut_tensors_are_detached_with_expected_shapes_and_bytes():
    lm = _reference()
    split = SplitGPT.from_lm(lm)
    input_ids, labels = _batch()
    _, wires = _split_step(split, input_ids, labels)
    D = CFG["n_embd"]
    for t in wires:
        assert t.shape == (B, T, D)
        assert t.dtype == torch.float32
        assert t.grad_fn is None and not t.requires_grad
        assert t.is_contiguous()
        assert tensor_nbytes(t) == B * T * D * 4
    # The gradients crossing the cut are not all zero: the backward really flows through them.
    assert all(t.abs().sum() > 0 for t in wires[2:])


@pytest.mark.parametrize("device_layers", [0, 1, 2])
def test_parts_hold_only_their_side_weights(device_layers):
    cfg = gpt2_config(**CFG)
    split = SplitGPT(cfg, device_layers)
    assert cfg.n_layer == CFG["n_layer"]  # the caller's config is not modified
    V, D, P = cfg.vocab_size, cfg.n_embd, cfg.n_positions
    block = sum(p.numel() for p in split.server_part().h[0].parameters())
    dev = split.device_part()
    assert dev["head"].weight is dev["embed"].weight
    # tied weight counted once; with blocks on the device, the positional embedding goes too
    on_device = V * D + (P * D + device_layers * block if device_layers else 0)
    assert sum(p.numel() for p in dev.parameters()) == on_device
    assert len(split.server_part().h) == cfg.n_layer - device_layers
    server_shapes = [tuple(p.shape) for p in split.server_part().parameters() if p.numel() > 0]
    assert all(V not in s for s in server_shapes), server_shapes
    server_has_positions = any(n.startswith("wpe.") for n, _ in split.server_part().named_parameters())
    assert server_has_positions == (device_layers == 0)
    total = sum(p.numel() for p in split.parameters())
    ref = sum(p.numel() for p in GPT2LMHeadModel(cfg).parameters())
    assert total == ref


def test_old_cut_sends_a_codebook_and_the_default_cut_sends_context():
    """device_layers=0: the cut tensor of a token is the same row wherever and after whatever it
    stands (the text is read back by nearest row). With one block on the device it depends on
    the position and on the tokens before it."""
    torch.manual_seed(0)
    old, new = SplitGPT(gpt2_config(**CFG), 0), SplitGPT(gpt2_config(**CFG))
    assert new.device_layers == 1
    ids = torch.tensor([[7, 9, 7, 3, 7], [1, 9, 7, 3, 7]])
    with torch.no_grad():
        h_old, h_new = old.embed(ids), new.embed(ids)
    # token 7 at positions 0, 2 and 4 of the first sequence
    assert torch.equal(h_old[0, 0], h_old[0, 2]) and torch.equal(h_old[0, 2], h_old[0, 4])
    codebook = old.parts["embed"].weight
    assert torch.equal(torch.cdist(h_old[0], codebook).argmin(-1), ids[0])
    assert not torch.allclose(h_new[0, 0], h_new[0, 2], atol=1e-3)
    # the same token at the same position after a different first token
    assert torch.equal(h_old[0, 2], h_old[1, 2])
    assert not torch.allclose(h_new[0, 2], h_new[1, 2], atol=1e-4)


def test_device_layers_must_leave_a_block_on_the_server():
    with pytest.raises(ValueError, match="device_layers"):
        SplitGPT(gpt2_config(**CFG), CFG["n_layer"])


def test_split_step_changes_only_trainable_parts_and_trains():
    """A few SGD steps over the split exchange lower the loss on a fixed batch."""
    torch.manual_seed(0)
    split = SplitGPT(gpt2_config(**CFG))
    opt_dev = torch.optim.SGD(split.device_part().parameters(), lr=0.5)
    opt_srv = torch.optim.SGD(split.server_part().parameters(), lr=0.5)
    input_ids, labels = _batch()
    losses = []
    for _ in range(5):
        opt_dev.zero_grad()
        opt_srv.zero_grad()
        loss, _ = _split_step(split, input_ids, labels)
        opt_dev.step()
        opt_srv.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_from_lm_shares_no_storage_with_source():
    lm = _reference()
    split = SplitGPT.from_lm(lm)
    with torch.no_grad():
        split.parts["embed"].weight.add_(1.0)
    assert not torch.equal(split.parts["embed"].weight, lm.transformer.wte.weight)


def test_gpt2_config_rejects_heads_not_dividing_width():
    with pytest.raises(ValueError, match="multiple of n_head"):
        gpt2_config(n_embd=30, n_head=4)


@pytest.mark.parametrize("scenario,override,message", [
    ("split-finetune", "model.device_layers=4",
     "config: model.device_layers: 4 blocks on the device but model.n_layer is 4"),
    ("looped-tp", "model.device_layers=2",
     "config: model.device_layers: train.framework looped_tp does not split the GPT-2 model"),
    ("split-finetune", "model.device_layers=-1",
     "config: model.device_layers: Input should be greater than"),
])
def test_device_layers_is_checked_before_the_run(scenario, override, message):
    from edgelam_ns3 import config

    with pytest.raises(config.ConfigError) as exc:
        config.load(scenario, [override])
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)
    cfg = config.load("split-finetune", ["model.device_layers=3"])
    assert cfg.model.device_layers == 3
    assert config.load("quickstart").model.device_layers == 1  # the default cut
