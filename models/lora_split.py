"""Split-federated LoRA fine-tuning: a frozen decoder with LoRA adapters on the edge server.

The collaborative fine-tuning framework of "Edge Large AI Models" (Wang et al., 2025) keeps the
embedding and the task module (LM head) on each device and the transformer blocks on the edge
server, frozen, with low-rank adapters (LoRA, Hu et al., 2021) as the only trainable server
weights. The first ``device_layers`` blocks run on the device, frozen, with the positional
embedding (see :class:`~models.split_gpt.SplitGPT`); adapters sit on the server's blocks. This
module builds that split from a :class:`~models.split_gpt.SplitGPT`:

- :func:`make_split_lora` injects peft LoRA adapters into the server's ``"decoder"`` part
  (:func:`peft.inject_adapter_in_model`, in place, so :meth:`SplitGPT.decode` runs unchanged);
  base weights are frozen and every ``lora_B`` starts at zero, so the initial model computes
  exactly the base model's function;
- :func:`server_forward_many` / :func:`server_backward_many` run the server's side of one round
  over all scheduled devices' batches at once: the received activations are concatenated along
  the batch, the decoder runs forward and backward once, the adapter gradients accumulate the sum
  of the devices' gradients, and the incoming gradient is split back per device;
- :func:`adapter_state_dict`, :func:`adapter_nbytes` and :func:`fedavg` are what the FedAvg
  baseline (adapters averaged across devices) and the aggregation of device-side modules need.

The per-device steps (embedding, head and loss, backward through them) are those of
:mod:`models.split_gpt`: :func:`~models.split_gpt.device_forward`,
:func:`~models.split_gpt.device_backward_head` and :func:`~models.split_gpt.device_backward_embed`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model
from peft import set_peft_model_state_dict
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel

from .split_gpt import (DEFAULT_DEVICE_LAYERS, ServerContext, SplitGPT, server_backward,
                        server_forward, tensor_nbytes)

__all__ = [
    "GPT2_LORA_TARGETS",
    "gpt2_lora_config",
    "make_split_lora",
    "add_lora",
    "adapter_parameters",
    "adapter_state_dict",
    "load_adapter_state_dict",
    "adapter_nbytes",
    "state_dict_nbytes",
    "fedavg",
    "enable_per_sample_grads",
    "BatchedServerContext",
    "server_forward_many",
    "server_backward_many",
]

GPT2_LORA_TARGETS: tuple[str, ...] = ("c_attn", "c_proj")
"""GPT-2 modules that get adapters by default: the fused QKV projection ``attn.c_attn`` and the
two output projections ``attn.c_proj`` and ``mlp.c_proj`` (names matched as module-name suffixes
by peft)."""


def gpt2_lora_config(
    r: int = 8,
    alpha: float = 16.0,
    dropout: float = 0.0,
    target_modules: Sequence[str] = GPT2_LORA_TARGETS,
) -> LoraConfig:
    r"""A peft :class:`~peft.LoraConfig` for GPT-2's decoder.

    GPT-2 stores its projections as :class:`~transformers.pytorch_utils.Conv1D` with weight
    [in, out] (transposed with respect to :class:`torch.nn.Linear`), hence ``fan_in_fan_out=True``.
    The adapted weight is :math:`W + \frac{\alpha}{r} B A` with ``A`` Kaiming-uniform and
    ``B = 0`` at initialisation (peft's default).

    :param r: adapter rank :math:`r` (>= 1)
    :param alpha: scaling numerator :math:`\alpha`; the update is scaled by :math:`\alpha / r`
    :param dropout: dropout probability [-] on the adapter input; 0 keeps steps deterministic
    :param target_modules: module-name suffixes to adapt (explicit; never peft's guess)
    :output config: :class:`~peft.LoraConfig` with no ``task_type`` (the decoder is a bare
        :class:`~transformers.GPT2Model`)
    """
    if r < 1:
        raise ValueError(f"LoRA rank r must be >= 1, got {r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"LoRA dropout must be in [0, 1), got {dropout}")
    if not target_modules:
        raise ValueError("target_modules must name at least one module: LoRA needs explicit targets")
    return LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(target_modules),
        fan_in_fan_out=True,
        bias="none",
    )


def _check_config(lora: LoraConfig) -> None:
    targets = lora.target_modules
    if targets is None or (isinstance(targets, str) and targets == "all-linear"):
        raise ValueError(
            "LoraConfig.target_modules must be an explicit list of module names "
            f"(e.g. {list(GPT2_LORA_TARGETS)} for GPT-2), got {targets!r}"
        )
    if not lora.fan_in_fan_out:
        raise ValueError(
            "GPT-2's projections are Conv1D with weight [in, out]: LoraConfig needs fan_in_fan_out=True"
        )


def add_lora(model: SplitGPT, lora: LoraConfig) -> SplitGPT:
    """Inject LoRA adapters into ``model``'s server decoder, in place, and freeze everything else.

    After the call, the decoder's only trainable parameters are the adapters; the server model's
    ``"embed"`` and ``"head"`` parts are frozen too (the server never runs them; each device owns
    its own copy, see :func:`make_split_lora`).

    :param model: a :class:`SplitGPT` without adapters
    :param lora: adapter configuration, e.g. from :func:`gpt2_lora_config`
    :output model: the same object, with adapters
    """
    _check_config(lora)
    decoder = model.server_part()
    if hasattr(decoder, "peft_config"):
        raise ValueError("the decoder already has LoRA adapters: add_lora injects them once")
    # inject_adapter_in_model modifies the module in place (the GPT2Model stays a GPT2Model, so
    # SplitGPT.decode runs unchanged) and marks only the adapters trainable.
    inject_adapter_in_model(copy.deepcopy(lora), decoder)
    for p in model.device_part().parameters():
        p.requires_grad_(False)
    return model


def make_split_lora(
    config: GPT2Config,
    lora: LoraConfig,
    seed: int,
    device_layers: int = DEFAULT_DEVICE_LAYERS,
    base: GPT2LMHeadModel | None = None,
) -> tuple[SplitGPT, SplitGPT]:
    """Build the server model (frozen decoder + LoRA) and a device template with the same weights.

    Both come from one :class:`SplitGPT`, cut after ``device_layers`` blocks: a copy of ``base``
    (e.g. the pretrained base, :mod:`edgelam_ns3.pretrained`), or without it initialised at
    random under ``seed``. The server's decoder gets adapters (:func:`add_lora`), seeded by
    ``seed`` too (the global RNG is left as it was); the device template is an adapter-free copy
    whose tied ``"embed"``/``"head"`` weight is trainable and whose ``"device_blocks"`` are frozen
    (part of the frozen base). Make one ``copy.deepcopy(device)`` per device; a device runs only
    :meth:`SplitGPT.embed` and :meth:`SplitGPT.head_loss` (the template's decoder is the base
    decoder, unused in the split but handy for the FedAvg baseline, where each device holds the
    whole model).

    :param config: model configuration, e.g. from :func:`~models.split_gpt.gpt2_config`
    :param lora: adapter configuration, e.g. from :func:`gpt2_lora_config`
    :param seed: seed of the random base weights (without ``base``) and the adapters' ``A``
    :param device_layers: blocks on the device, see :class:`~models.split_gpt.SplitGPT`
    :param base: weights of the base model, or `None` for random ones; its config must match
        ``config`` in ``n_layer``, ``n_embd``, ``n_head`` and ``vocab_size``, with at least
        ``config.n_positions`` positions (the first ``config.n_positions`` are used)
    :output server: :class:`SplitGPT` whose decoder has adapters; only they require grad
    :output device: :class:`SplitGPT` without adapters; embed/head trainable, the rest frozen
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if base is None:
            model = SplitGPT(config, device_layers)
        else:
            model = SplitGPT.from_lm(_fit_positions(base, config), device_layers)
        device = copy.deepcopy(model)
        server = add_lora(model, lora)
    for p in device.parameters():
        p.requires_grad_(False)
    device.parts["embed"].weight.requires_grad_(True)  # tied with the head
    return server, device


def _fit_positions(base: GPT2LMHeadModel, config: GPT2Config) -> GPT2LMHeadModel:
    """``base`` with its positional embedding cut to ``config.n_positions`` rows (a copy), after
    checking that the shapes match."""
    b = base.config
    for key in ("n_layer", "n_embd", "n_head", "vocab_size"):
        if getattr(b, key) != getattr(config, key):
            raise ValueError(f"the base model has {key}={getattr(b, key)}, the config "
                             f"{getattr(config, key)}")
    if b.n_positions < config.n_positions:
        raise ValueError(f"the base model has {b.n_positions} positions, the config needs "
                         f"{config.n_positions}")
    with torch.random.fork_rng(devices=[]):
        lm = GPT2LMHeadModel(config)
    state = dict(base.state_dict())
    state["transformer.wpe.weight"] = state["transformer.wpe.weight"][: config.n_positions]
    lm.load_state_dict(state)
    return lm


# -- adapter weights ------------------------------------------------------------------------


def _peft_module(model: nn.Module) -> nn.Module:
    """The module that carries ``peft_config``: the decoder of a SplitGPT, or ``model`` itself."""
    if isinstance(model, SplitGPT):
        model = model.server_part()
    if not hasattr(model, "peft_config"):
        raise ValueError("model has no LoRA adapters (no peft_config): build it with make_split_lora")
    return model


def adapter_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The adapter parameters (``lora_`` in their name), in ``named_parameters`` order.

    :param model: a :class:`SplitGPT` with adapters, or its decoder
    """
    return [p for n, p in _peft_module(model).named_parameters() if "lora_" in n]


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the adapter weights, as peft saves them (:func:`peft.get_peft_model_state_dict`).

    Keys are the decoder's module names without the adapter name, e.g.
    ``"h.0.attn.c_attn.lora_A.weight"``; values are detached copies.

    :param model: a :class:`SplitGPT` with adapters, or its decoder
    """
    state = get_peft_model_state_dict(_peft_module(model))
    return {k: v.detach().clone() for k, v in state.items()}


def load_adapter_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Load adapter weights saved by :func:`adapter_state_dict` (e.g. a FedAvg result).

    :raises ValueError: if ``state`` misses an adapter weight of ``model`` or has unknown keys
    """
    module = _peft_module(model)
    expected = set(get_peft_model_state_dict(module))
    if set(state) != expected:
        raise ValueError(
            f"adapter state does not match the model: missing {sorted(expected - set(state))}, "
            f"unexpected {sorted(set(state) - expected)}"
        )
    set_peft_model_state_dict(module, dict(state))


def state_dict_nbytes(state: Mapping[str, torch.Tensor]) -> int:
    """Payload size of a state dict [bytes]: the sum of its tensors' sizes (keys not counted)."""
    return sum(tensor_nbytes(t) for t in state.values())


def adapter_nbytes(model: nn.Module) -> int:
    """Size of the adapter weights [bytes], what one adapter upload or download carries."""
    return state_dict_nbytes(adapter_state_dict(model))


def fedavg(
    state_dicts: Sequence[Mapping[str, torch.Tensor]], weights: Sequence[float] | None = None
) -> dict[str, torch.Tensor]:
    r"""Weighted average of state dicts (FedAvg, McMahan et al., 2017).

    :math:`\bar w = \sum_k \frac{n_k}{\sum_j n_j} w_k` per tensor, computed in float64 and cast
    back to each tensor's dtype. Use it for adapter state dicts (FedAvg baseline) and for
    device-side modules (``device_part().state_dict()``).

    :param state_dicts: K state dicts with the same keys, shapes and dtypes
    :param weights: K non-negative weights, e.g. local sample counts; equal if `None`
    :output average: a new state dict
    """
    if not state_dicts:
        raise ValueError("fedavg needs at least one state dict")
    if weights is None:
        weights = [1.0] * len(state_dicts)
    if len(weights) != len(state_dicts):
        raise ValueError(f"fedavg got {len(state_dicts)} state dicts but {len(weights)} weights")
    w = torch.tensor([float(x) for x in weights], dtype=torch.float64)
    if not torch.all(torch.isfinite(w)) or torch.any(w < 0) or w.sum() <= 0:
        raise ValueError(f"fedavg weights must be finite, non-negative and not all zero, got {list(weights)}")
    w = w / w.sum()
    keys = list(state_dicts[0])
    for i, sd in enumerate(state_dicts[1:], start=1):
        if set(sd) != set(keys):
            raise ValueError(
                f"state dict {i} has different keys from state dict 0: "
                f"{sorted(set(sd) ^ set(keys))}"
            )
    out: dict[str, torch.Tensor] = {}
    for k in keys:
        ref = state_dicts[0][k]
        if not (ref.is_floating_point() or ref.is_complex()):
            # Integer buffers (e.g. counters) cannot be averaged: all devices must agree.
            if any(not torch.equal(sd[k], ref) for sd in state_dicts):
                raise ValueError(f"fedavg cannot average the non-floating tensor {k!r}: devices differ")
            out[k] = ref.detach().clone()
            continue
        acc = torch.zeros(ref.shape, dtype=torch.complex128 if ref.is_complex() else torch.float64,
                          device=ref.device)
        for wk, sd in zip(w, state_dicts):
            t = sd[k]
            if t.shape != ref.shape:
                raise ValueError(f"fedavg: tensor {k!r} has shape {tuple(t.shape)} vs {tuple(ref.shape)}")
            acc += wk * t.detach().to(acc.dtype)
        out[k] = acc.to(ref.dtype)
    return out


# -- the server's step over several devices' batches ------------------------------------------


def enable_per_sample_grads(model: SplitGPT) -> None:
    """Attach Opacus's per-sample gradient hooks to ``model``'s server decoder, in place.

    :class:`opacus.GradSampleModule` registers forward and backward hooks on the decoder's
    trainable modules (the adapters' ``nn.Linear`` layers); after a backward each adapter
    parameter holds ``grad_sample``, its gradient per batch row, computed in that same backward
    (``einsum("n...i,n...j->nij", backprops, activations)``: the multiply-adds of the summed
    weight gradient, kept per row). :func:`server_backward_many` with ``per_device_grads`` sums
    them per device. Call it once, before :func:`server_forward_many`. The decoder is not
    wrapped: it keeps its class and state-dict keys.

    :param model: a :class:`SplitGPT` with adapters (:func:`make_split_lora`)
    """
    from opacus import GradSampleModule  # imported lazily: opacus loads in ~1 s

    decoder = _peft_module(model)
    if "_per_sample" in model.__dict__:
        return
    sampler = GradSampleModule(decoder, batch_first=True, loss_reduction="sum", strict=True)
    # kept outside nn.Module's registry, so that it adds no parameters or state-dict keys
    model.__dict__["_per_sample"] = sampler


@dataclass
class BatchedServerContext:
    """What the server keeps between :func:`server_forward_many` and :func:`server_backward_many`.

    :ivar inner: the context of the one decoder pass over the concatenated batch
    :ivar sizes: batch size of each device's slice, in the order received
    :ivar per_sample: whether the forward ran with :func:`enable_per_sample_grads`'s hooks
    """

    inner: ServerContext
    sizes: list[int]
    per_sample: bool = False


def server_forward_many(
    model: SplitGPT, h0_wires: Sequence[torch.Tensor]
) -> tuple[BatchedServerContext, list[torch.Tensor]]:
    """Step 2 for K devices at once: one decoder pass over their concatenated activations.

    Rows of the batch do not interact in GPT-2 (attention is within a sequence, layer norm per
    token), so slice ``k`` of the output is exactly what device ``k``'s batch alone would give.

    :input h0_wires: K received payloads, shapes [B_k, T, D] (same T and D)
    :output ctx: kept on the server for :func:`server_backward_many`
    :output hL_wires: K payloads to send back, shapes [B_k, T, D], detached
    """
    if not h0_wires:
        raise ValueError("server_forward_many needs at least one device's activations")
    tail = tuple(h0_wires[0].shape[1:])
    for k, h in enumerate(h0_wires):
        if h.dim() != 3 or tuple(h.shape[1:]) != tail:
            raise ValueError(
                "devices' activations are concatenated along the batch, so they need equal "
                f"[T, D]: device 0 has {list(tail)}, device {k} has {list(h.shape[1:])}"
            )
    sizes = [int(h.shape[0]) for h in h0_wires]
    inner, hL_wire = server_forward(model, torch.cat([h.detach() for h in h0_wires], dim=0))
    ctx = BatchedServerContext(inner=inner, sizes=sizes, per_sample="_per_sample" in model.__dict__)
    return ctx, list(torch.split(hL_wire, sizes, dim=0))


def server_backward_many(
    ctx: BatchedServerContext,
    grad_hL_wires: Sequence[torch.Tensor],
    per_device_grads: Sequence[torch.Tensor] | None = None,
) -> tuple[list[torch.Tensor], list[list[torch.Tensor]] | None]:
    r"""Step 4 for K devices at once: one decoder backward, gradients split back per device.

    The adapters' ``.grad`` accumulate :math:`\sum_k \partial L_k / \partial \theta`, the sum of
    the devices' gradients (each device's :math:`L_k` is its own mean loss); divide by K, or let
    devices scale their ``grad_hL`` by a weight, for another aggregate. Device ``k`` gets
    :math:`\partial L_k / \partial h_0^{(k)}`, exactly what a step with its batch alone gives.

    With ``per_device_grads`` (the adapter parameters, :func:`adapter_parameters`), each
    device's own gradient of those parameters is returned as well, as per-device clipping for
    differential privacy needs. It comes from the same single backward: autograd computes the
    input gradient, and Opacus's hooks (:func:`enable_per_sample_grads`, required before the
    forward) the adapters' per-row gradients, summed here over each device's rows; the
    parameters' ``.grad`` then hold the sum over devices, as without. The FLOPs are those of
    the plain backward (the per-row weight gradients replace the summed ones); the extra cost is
    memory traffic for the per-row gradients.

    :input grad_hL_wires: K received payloads, shapes [B_k, T, D], in the order of the forward
    :input per_device_grads: parameters whose per-device gradients to return, or `None`
    :output grad_h0_wires: K payloads to send to the devices, shapes [B_k, T, D]
    :output device_grads: `None`, or per device a list of gradients (zeros where a parameter
        does not depend on the device's batch) in the order of ``per_device_grads``
    """
    if len(grad_hL_wires) != len(ctx.sizes):
        raise ValueError(f"got {len(grad_hL_wires)} gradients for {len(ctx.sizes)} devices' batches")
    for k, (g, b) in enumerate(zip(grad_hL_wires, ctx.sizes)):
        if g.shape[0] != b:
            raise ValueError(f"device {k}'s gradient has batch {g.shape[0]}, its activations had {b}")
    grad_hL = torch.cat([g.detach() for g in grad_hL_wires], dim=0)
    if per_device_grads is None:
        grad_h0 = server_backward(ctx.inner, grad_hL)
        return list(torch.split(grad_h0, ctx.sizes, dim=0)), None
    if not ctx.per_sample:
        raise ValueError("per-device gradients need enable_per_sample_grads(model) before "
                         "server_forward_many")
    params = list(per_device_grads)
    for p in params:
        p.grad_sample = None
    # only the input gradient through autograd: the adapters' weight gradients come per row
    # from the hooks, not a second time summed
    (grad_h0,) = torch.autograd.grad(ctx.inner.hL, [ctx.inner.h0_in], grad_outputs=grad_hL)
    device_grads: list[list[torch.Tensor]] = [[] for _ in ctx.sizes]
    for p in params:
        rows = p.grad_sample
        p.grad_sample = None
        if rows is None:
            raise ValueError("a parameter in per_device_grads got no per-row gradient: pass "
                             "the adapters of the model given to enable_per_sample_grads")
        for k, part in enumerate(torch.split(rows, ctx.sizes, dim=0)):
            device_grads[k].append(part.sum(dim=0))
        total = rows.sum(dim=0)
        p.grad = total if p.grad is None else p.grad + total
    grad_h0_parts = [g.contiguous() for g in torch.split(grad_h0.detach(), ctx.sizes, dim=0)]
    return grad_h0_parts, device_grads
