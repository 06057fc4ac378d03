"""A GPT-2-style decoder split for U-shaped split learning.

The model is cut twice, as in the collaborative fine-tuning framework of "Edge Large AI Models"
(Wang et al., 2025): the token embedding and the language-model head stay on the device (so
neither the raw tokens nor the labels leave it), and the transformer blocks run on the edge
server::

    device                      edge server                     device
    input_ids --embed--> h0 ==> decode (blocks, ln_f) --> hL ==> head --> loss
              <--------- dh0 <==  backward          <-- dhL <== backward

``==>`` and ``<==`` are the cuts. What crosses them are plain, detached tensors
(:class:`CutTensor` payloads); their size in bytes is what the network carries.

The parts are held in an :class:`torch.nn.ModuleDict` keyed ``"embed"``, ``"decoder"`` and
``"head"``, and every method runs with only the parts one side owns. Weights are random
(built from a :class:`~transformers.GPT2Config`); nothing is downloaded. Users with local
pretrained weights can load a :class:`~transformers.GPT2LMHeadModel` themselves and use
:meth:`SplitGPT.from_lm`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel, GPT2Model

__all__ = [
    "IGNORE_INDEX",
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


class SplitGPT(nn.Module):
    r"""GPT-2 language model split into device and edge-server parts.

    Parts (``self.parts``, an :class:`~torch.nn.ModuleDict`):

    - ``"embed"`` (device): token embedding, weight [vocab_size, D];
    - ``"decoder"`` (edge server): a :class:`~transformers.GPT2Model` run on ``inputs_embeds``:
      positional embedding, dropout, ``n_layer`` blocks and the final layer norm. Its own token
      embedding ``wte`` is replaced by an empty ``nn.Embedding(0, D)`` so the server holds no
      vocabulary-sized matrix;
    - ``"head"`` (device): the LM head, ``nn.Linear(D, vocab_size, bias=False)`` whose weight *is*
      the embedding weight (tied, as in GPT-2).

    With the same weights, :meth:`forward` computes exactly what
    :class:`~transformers.GPT2LMHeadModel` computes (same loss, same gradients).

    :param config: model configuration, e.g. from :func:`gpt2_config`
    """

    def __init__(self, config: GPT2Config):
        super().__init__()
        self.config = config
        decoder = GPT2Model(config)
        # Take the (GPT-2-initialised) token embedding out of the server part.
        embed = decoder.get_input_embeddings()
        placeholder = nn.Embedding(0, config.n_embd)
        placeholder.weight.requires_grad_(False)
        decoder.set_input_embeddings(placeholder)
        head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        head.weight = embed.weight  # tied: one Parameter, owned by the device
        self.parts = nn.ModuleDict({"embed": embed, "decoder": decoder, "head": head})

    @classmethod
    def from_lm(cls, lm: GPT2LMHeadModel) -> "SplitGPT":
        """Split a :class:`~transformers.GPT2LMHeadModel`, copying its weights.

        :param lm: the unsplit model; it is left unchanged and shares no storage with the result
        :output model: :class:`SplitGPT` that computes the same function as ``lm``
        """
        model = cls(lm.config)
        with torch.no_grad():
            model.parts["embed"].weight.copy_(lm.transformer.wte.weight)
            if lm.lm_head.weight is not lm.transformer.wte.weight:
                raise ValueError(
                    "SplitGPT ties the LM head to the token embedding (GPT-2); "
                    "lm has untied lm_head and wte weights"
                )
            state = {k: v for k, v in lm.transformer.state_dict().items() if not k.startswith("wte.")}
            missing, unexpected = model.parts["decoder"].load_state_dict(state, strict=False)
            missing = [k for k in missing if not k.startswith("wte.")]
            if missing or unexpected:
                raise ValueError(
                    f"decoder weights do not match lm.transformer: missing {missing}, unexpected {unexpected}"
                )
        return model

    # -- parts -------------------------------------------------------------------------------

    def device_part(self) -> nn.ModuleDict:
        """The modules the device owns: ``"embed"`` and ``"head"`` (sharing one weight).

        ``device_part().parameters()`` yields the tied weight once, so it is the right argument
        for the device's optimizer and parameter count.
        """
        return nn.ModuleDict({"embed": self.parts["embed"], "head": self.parts["head"]})

    def server_part(self) -> nn.Module:
        """The module the edge server owns: the ``"decoder"`` (no vocabulary-sized weight)."""
        return self.parts["decoder"]

    # -- computations, each with one side's parts ---------------------------------------------

    def embed(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Token embedding (device).

        :input input_ids: token ids, shape [B, T], int64, values in [0, vocab_size)
        :output h0: token embeddings, shape [B, T, D], float32 (without positional embedding,
            which the decoder adds)
        """
        return self.parts["embed"](input_ids)

    def decode(self, h0: torch.Tensor) -> torch.Tensor:
        """Positional embedding, transformer blocks and final layer norm (edge server).

        :input h0: token embeddings, shape [B, T, D], T <= n_positions
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
    """Step 1 (device): embed the tokens.

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
