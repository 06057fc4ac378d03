"""A GPT-2-style decoder split for U-shaped split learning.

The model is cut twice, as in the collaborative fine-tuning framework of "Edge Large AI Models"
(Wang et al., 2025): the bottom of the model (token and positional embeddings and the first
``device_layers`` transformer blocks) and the language-model head stay on the device (so
neither the raw tokens nor the labels leave it), and the remaining blocks run on the edge
server::

    device                        edge server                     device
    input_ids --bottom--> h0 ==> decode (blocks, ln_f) --> hL ==> head --> loss
              <---------- dh0 <==  backward          <-- dhL <== backward

``==>`` and ``<==`` are the cuts. What crosses them are plain, detached tensors; their size in
bytes is what the network carries. With
``device_layers = 0`` (the old cut) ``h0`` is the token embedding alone: a lookup in a
256-entry codebook, from which the text is read back exactly. Putting the positional embedding
and at least one block on the device (the default, 1) sends contextual hidden states instead;
that is harder to invert, not a formal guarantee.

The parts are held in an :class:`torch.nn.ModuleDict` keyed ``"embed"``, ``"device_blocks"``
(when ``device_layers >= 1``), ``"decoder"`` and ``"head"``, and every method runs with only the
parts one side owns. Weights are random (built from a :class:`~transformers.GPT2Config`) unless
loaded with :meth:`SplitGPT.from_lm` from a :class:`~transformers.GPT2LMHeadModel` (e.g. the
shipped pretrained base, :mod:`edgelam_ns3.pretrained`); nothing is downloaded.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model

__all__ = [
    "IGNORE_INDEX",
    "DEFAULT_DEVICE_LAYERS",
    "gpt2_config",
    "SplitGPT",
    "DeviceContext",
    "ServerContext",
    "tensor_nbytes",
    "device_forward",
    "server_forward",
    "device_backward_head",
    "server_backward",
    "device_backward_embed",
]

IGNORE_INDEX = -100
"""Label value excluded from the loss, as in :class:`~transformers.GPT2LMHeadModel`."""

DEFAULT_DEVICE_LAYERS = 1
"""Transformer blocks on the device by default (with the token and positional embeddings)."""


def gpt2_config(
    vocab_size: int = 256,
    n_positions: int = 128,
    n_embd: int = 128,
    n_layer: int = 4,
    n_head: int = 4,
    dropout: float = 0.0,
    attn_implementation: str = "eager",
) -> GPT2Config:
    r"""Configuration of a small GPT-2 with a byte-level vocabulary.

    :param vocab_size: vocabulary size [tokens]; 256 for byte-level tokens
    :param n_positions: maximum sequence length [tokens]
    :param n_embd: hidden size :math:`D`
    :param n_layer: number of transformer blocks
    :param n_head: number of attention heads; must divide ``n_embd``
    :param dropout: dropout probability [-] used for the embedding, residual and attention
        dropouts; 0 makes training steps deterministic
    :param attn_implementation: ``"eager"`` (the default: plain matmuls, every FLOP visible to
        :mod:`torch.utils.flop_counter`) or ``"sdpa"``
    :output config: :class:`~transformers.GPT2Config` with no special tokens and no KV cache
    """
    if n_embd % n_head != 0:
        raise ValueError(
            f"n_embd ({n_embd}) must be a multiple of n_head ({n_head}): each head has n_embd/n_head dims"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    return GPT2Config(
        vocab_size=vocab_size,
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        # Byte-level vocabulary: no BOS/EOS/PAD token ids (GPT-2's 50256 lies outside it).
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
        use_cache=False,
        tie_word_embeddings=True,
        attn_implementation=attn_implementation,
    )


def tensor_nbytes(t: torch.Tensor) -> int:
    """Size of a tensor's payload [bytes]: ``t.numel() * t.element_size()``."""
    return t.numel() * t.element_size()


class NoPositionEmbedding(nn.Module):
    """Stands in for ``wpe`` in the server's :class:`~transformers.GPT2Model` when the positional
    embedding is on the device: it adds nothing (a zero scalar, broadcast)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("zero", torch.zeros(()), persistent=False)

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        return self.zero


def _unused_embedding(config: GPT2Config) -> nn.Embedding:
    placeholder = nn.Embedding(0, config.n_embd)
    placeholder.weight.requires_grad_(False)
    return placeholder


class SplitGPT(nn.Module):
    r"""GPT-2 language model split into device and edge-server parts.

    Parts (``self.parts``, an :class:`~torch.nn.ModuleDict`):

    - ``"embed"`` (device): token embedding, weight [vocab_size, D];
    - ``"device_blocks"`` (device, when ``device_layers >= 1``): a
      :class:`~transformers.GPT2Model` run on ``inputs_embeds``: positional embedding, dropout
      and blocks ``0 .. device_layers - 1``, no final layer norm;
    - ``"decoder"`` (edge server): a :class:`~transformers.GPT2Model` run on ``inputs_embeds``:
      the other blocks and the final layer norm (and, with ``device_layers = 0``, the positional
      embedding and dropout). Its token embedding ``wte`` is an empty ``nn.Embedding(0, D)``, so
      the server holds no vocabulary-sized matrix;
    - ``"head"`` (device): the LM head, ``nn.Linear(D, vocab_size, bias=False)`` whose weight *is*
      the embedding weight (tied, as in GPT-2).

    With the same weights, :meth:`forward` computes exactly what
    :class:`~transformers.GPT2LMHeadModel` computes (same loss, same gradients), for any cut.
    The initial weights do not depend on the cut (the same seed gives the same model).

    :param config: model configuration, e.g. from :func:`gpt2_config`
    :param device_layers: transformer blocks on the device, in [0, n_layer); 0 puts only the
        token embedding there (no positional embedding: the cut tensor is a codebook lookup)
    """

    def __init__(self, config: GPT2Config, device_layers: int = DEFAULT_DEVICE_LAYERS):
        super().__init__()
        if not 0 <= device_layers < config.n_layer:
            raise ValueError(
                f"device_layers must be in [0, n_layer={config.n_layer}) (the server keeps at "
                f"least one block), got {device_layers}"
            )
        self.config = config
        self.device_layers = device_layers
        decoder = GPT2Model(config)
        # Take the (GPT-2-initialised) token embedding out of the server part.
        embed = decoder.get_input_embeddings()
        decoder.set_input_embeddings(_unused_embedding(config))
        head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        head.weight = embed.weight  # tied: one Parameter, owned by the device
        parts = {"embed": embed}
        if device_layers:
            parts["device_blocks"] = self._move_bottom(decoder, device_layers)
        parts.update(decoder=decoder, head=head)
        self.parts = nn.ModuleDict(parts)

    @staticmethod
    def _move_bottom(decoder: GPT2Model, k: int) -> GPT2Model:
        """Move the positional embedding, the dropout and the first ``k`` blocks of ``decoder``
        into a new :class:`~transformers.GPT2Model` shell, in place."""
        cfg = copy.deepcopy(decoder.config)
        cfg.n_layer = k
        with torch.random.fork_rng(devices=[]):  # the shell's own init draws are discarded
            bottom = GPT2Model(cfg)
        bottom.set_input_embeddings(_unused_embedding(cfg))
        bottom.wpe, bottom.drop = decoder.wpe, decoder.drop
        bottom.h = nn.ModuleList(decoder.h[:k])
        bottom.ln_f = nn.Identity()
        decoder.h = nn.ModuleList(decoder.h[k:])
        decoder.wpe, decoder.drop = NoPositionEmbedding(), nn.Identity()
        decoder.config = copy.deepcopy(decoder.config)
        decoder.config.n_layer = decoder.config.n_layer - k
        return bottom

    def _part_key(self, key: str) -> tuple[str, str]:
        """Where a :class:`~transformers.GPT2Model` state-dict key of the unsplit model lives:
        (part, key within the part)."""
        k = self.device_layers
        m = re.match(r"h\.(\d+)\.(.*)", key)
        if m:
            i = int(m.group(1))
            return ("device_blocks", key) if i < k else ("decoder", f"h.{i - k}.{m.group(2)}")
        if key.startswith("wpe.") and k:
            return "device_blocks", key
        return "decoder", key

    @classmethod
    def from_lm(cls, lm: GPT2LMHeadModel,
                device_layers: int = DEFAULT_DEVICE_LAYERS) -> "SplitGPT":
        """Split a :class:`~transformers.GPT2LMHeadModel`, copying its weights.

        :param lm: the unsplit model; it is left unchanged and shares no storage with the result
        :param device_layers: blocks on the device, see :class:`SplitGPT`
        :output model: :class:`SplitGPT` that computes the same function as ``lm``
        """
        if lm.lm_head.weight is not lm.transformer.wte.weight:
            raise ValueError(
                "SplitGPT ties the LM head to the token embedding (GPT-2); "
                "lm has untied lm_head and wte weights"
            )
        with torch.random.fork_rng(devices=[]):
            model = cls(lm.config, device_layers)
        states: dict[str, dict[str, torch.Tensor]] = {"device_blocks": {}, "decoder": {}}
        for key, value in lm.transformer.state_dict().items():
            if not key.startswith("wte."):
                part, sub = model._part_key(key)
                states[part][sub] = value
        with torch.no_grad():
            model.parts["embed"].weight.copy_(lm.transformer.wte.weight)
            for part, state in states.items():
                if part not in model.parts:
                    continue
                missing, unexpected = model.parts[part].load_state_dict(state, strict=False)
                missing = [k for k in missing if not k.startswith("wte.")]
                if missing or unexpected:
                    raise ValueError(f"{part} weights do not match lm.transformer: missing "
                                     f"{missing}, unexpected {unexpected}")
        return model

    def to_lm(self) -> GPT2LMHeadModel:
        """The unsplit :class:`~transformers.GPT2LMHeadModel` with this model's weights (the
        inverse of :meth:`from_lm`), e.g. to save or evaluate the whole model. Needs a decoder
        without adapters.

        :output lm: a new model, sharing no storage with this one
        """
        k = self.device_layers
        state = {"wte.weight": self.parts["embed"].weight}
        for part in ("device_blocks", "decoder"):
            if part not in self.parts:
                continue
            for key, value in self.parts[part].state_dict().items():
                if key.startswith("wte."):
                    continue
                if "lora_" in key or "base_layer" in key:
                    raise ValueError("to_lm needs a decoder without LoRA adapters")
                m = re.match(r"h\.(\d+)\.(.*)", key)
                if m and part == "decoder":
                    key = f"h.{int(m.group(1)) + k}.{m.group(2)}"
                state[key] = value
        with torch.random.fork_rng(devices=[]):
            lm = GPT2LMHeadModel(self.config)
        with torch.no_grad():
            lm.transformer.load_state_dict({k_: v.clone() for k_, v in state.items()})
        return lm

    # -- parts -------------------------------------------------------------------------------

    def device_part(self) -> nn.ModuleDict:
        """The modules the device owns: ``"embed"``, ``"device_blocks"`` (if any) and ``"head"``
        (``"head"`` and ``"embed"`` share one weight).

        ``device_part().parameters()`` yields the tied weight once, so it is the right argument
        for the device's optimizer and parameter count.
        """
        names = ("embed", "device_blocks", "head")
        return nn.ModuleDict({k: self.parts[k] for k in names if k in self.parts})

    def server_part(self) -> nn.Module:
        """The module the edge server owns: the ``"decoder"`` (no vocabulary-sized weight)."""
        return self.parts["decoder"]

    # -- computations, each with one side's parts ---------------------------------------------

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The device's bottom of the model, up to the cut: token embedding, then (with
        ``device_layers >= 1``) positional embedding and the device's blocks.

        :input input_ids: token ids, shape [B, T], int64, values in [0, vocab_size),
            T <= n_positions
        :output h0: the cut activations, shape [B, T, D], float32 (with ``device_layers = 0``
            the token embeddings, without positional embedding, which the decoder then adds)
        """
        h0 = self.parts["embed"](input_ids)
        if "device_blocks" in self.parts:
            h0 = self.parts["device_blocks"](inputs_embeds=h0).last_hidden_state
        return h0

    def decode(self, h0: torch.Tensor) -> torch.Tensor:
        """The server's part: its transformer blocks and the final layer norm (and, with
        ``device_layers = 0``, the positional embedding first).

        :input h0: the cut activations, shape [B, T, D], T <= n_positions
        :output hL: final hidden states, shape [B, T, D]
        """
        return self.parts["decoder"](inputs_embeds=h0).last_hidden_state

    def head_loss(
        self, hL: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """LM head and next-token cross-entropy (device).

        As in :class:`~transformers.GPT2LMHeadModel`, labels are shifted inside: position ``t``
        predicts ``labels[:, t + 1]``, so ``labels = input_ids`` is the usual choice. Labels equal
        to :data:`IGNORE_INDEX` are excluded; the loss is the mean over the others.

        :input hL: final hidden states, shape [B, T, D]
        :input labels: target token ids, shape [B, T], int64, or `None` for no loss
        :output loss: mean cross-entropy [nat/token], scalar float32, or `None` without labels
        :output logits: shape [B, T, vocab_size]
        """
        logits = self.parts["head"](hL)
        if labels is None:
            return None, logits
        shift_labels = F.pad(labels, (0, 1), value=IGNORE_INDEX)[..., 1:]
        loss = F.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]),
            shift_labels.reshape(-1).to(logits.device),
            ignore_index=IGNORE_INDEX,
        )
        return loss, logits

    def forward(
        self, input_ids: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Unsplit path: :meth:`embed`, :meth:`decode` and :meth:`head_loss` in one graph.

        :input input_ids: shape [B, T], int64
        :input labels: shape [B, T], int64, or `None`
        :output loss: scalar [nat/token] or `None`
        :output logits: shape [B, T, vocab_size]
        """
        return self.head_loss(self.decode(self.embed(input_ids)), labels)


# -- one split-learning training step, as five exchanges of plain tensors ---------------------


def _wire(t: torch.Tensor) -> torch.Tensor:
    """The payload sent across a cut: a detached, contiguous copy with no autograd history."""
    return t.detach().clone().contiguous()


@dataclass
class DeviceContext:
    """What the device keeps between :func:`device_forward` and :func:`device_backward_embed`.

    :ivar h0: the embedding output with its autograd graph, shape [B, T, D]
    """

    h0: torch.Tensor


@dataclass
class ServerContext:
    """What the server keeps between :func:`server_forward` and :func:`server_backward`.

    :ivar h0_in: the received embeddings, a leaf with ``requires_grad``, shape [B, T, D]
    :ivar hL: the decoder output with its autograd graph, shape [B, T, D]
    """

    h0_in: torch.Tensor
    hL: torch.Tensor


def device_forward(model: SplitGPT, input_ids: torch.Tensor) -> tuple[DeviceContext, torch.Tensor]:
    """Step 1 (device): run the device's bottom of the model (:meth:`SplitGPT.embed`).

    :input input_ids: shape [B, T], int64
    :output ctx: kept on the device for :func:`device_backward_embed`
    :output h0_wire: payload to send to the server, shape [B, T, D], detached
    """
    h0 = model.embed(input_ids)
    return DeviceContext(h0=h0), _wire(h0)


def server_forward(model: SplitGPT, h0_wire: torch.Tensor) -> tuple[ServerContext, torch.Tensor]:
    """Step 2 (server): run the decoder on the received embeddings.

    :input h0_wire: received payload, shape [B, T, D]
    :output ctx: kept on the server for :func:`server_backward`
    :output hL_wire: payload to send to the device, shape [B, T, D], detached
    """
    h0_in = h0_wire.detach().requires_grad_(True)
    hL = model.decode(h0_in)
    return ServerContext(h0_in=h0_in, hL=hL), _wire(hL)


def device_backward_head(
    model: SplitGPT, hL_wire: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 3 (device): LM head, loss, and backward through the head.

    Accumulates the head's contribution into the (tied) embedding weight's ``.grad``.

    :input hL_wire: received payload, shape [B, T, D]
    :input labels: shape [B, T], int64 (shifted inside, see :meth:`SplitGPT.head_loss`)
    :output loss: detached scalar [nat/token]
    :output grad_hL_wire: d loss / d hL, payload to send to the server, shape [B, T, D]
    """
    hL_in = hL_wire.detach().requires_grad_(True)
    loss, _ = model.head_loss(hL_in, labels)
    loss.backward()
    return loss.detach(), _wire(hL_in.grad)


def server_backward(ctx: ServerContext, grad_hL_wire: torch.Tensor) -> torch.Tensor:
    """Step 4 (server): backward through the decoder.

    Accumulates the decoder parameters' ``.grad`` (those with ``requires_grad``; a frozen decoder
    with adapters gets gradients only on the adapters).

    :input grad_hL_wire: received payload, shape [B, T, D]
    :output grad_h0_wire: d loss / d h0, payload to send to the device, shape [B, T, D]
    """
    ctx.hL.backward(grad_hL_wire)
    return _wire(ctx.h0_in.grad)


def device_backward_embed(ctx: DeviceContext, grad_h0_wire: torch.Tensor) -> None:
    """Step 5 (device): backward through the embedding.

    Accumulates into the embedding weight's ``.grad``; does nothing if the embedding is frozen.

    :input grad_h0_wire: received payload, shape [B, T, D]
    """
    if ctx.h0.requires_grad:
        ctx.h0.backward(grad_h0_wire)
