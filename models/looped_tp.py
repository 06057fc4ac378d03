"""A looped transformer trained by tensor parallelism across K devices.

The full-parameter training framework of "Edge Large AI Models" (Wang et al., 2025): one
transformer block's weights are reused over ``n_loops`` loops, and the block's weight matrices
are partitioned across K devices, Megatron-style (Shoeybi et al., 2019, §3):

- attention: the Q/K/V projections are split column-wise by heads (device k owns heads
  ``[k H/K, (k+1) H/K)``), the output projection row-wise;
- MLP: the first linear layer column-wise, the second row-wise.

Each device then computes a *partial product* of the full sub-layer output, and the partials of
the K devices sum to it. The edge server holds everything else (embeddings, layer norms, the
biases of the row-parallel layers and the tied LM head), aggregates the partials and applies
the residual connections. Per loop and per sub-layer (``"attn"``, then ``"mlp"``)::

    forward                                         backward
    server: h = LN(x)           ==h==> each device   server: g = dL/d(sum of partials) ==g==> each
    device k: p_k = f_k(h)      <==p_k== up          device k: dL/dh via k             <==g_k==
    server: x = x + sum_k p_k + bias                 server: dL/dx += LN'(sum_k g_k)

``==>`` and ``<==`` cross the network. What crosses are plain, detached tensors (see
:func:`~edgelam_ns3.models.split_gpt.tensor_nbytes` for their size), so the exchange is real:
the partitioned step computes the monolithic model's loss and every gradient (up to float
summation order). :class:`LoopedTPStep` runs the exchange as explicit steps, one call per
computation, so a simulator can run each at its own instant; :meth:`LoopedTPStep.run` drives a
whole step in order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .split_gpt import IGNORE_INDEX, tensor_nbytes

__all__ = [
    "LoopedConfig",
    "LoopedTransformer",
    "TP_PLAN",
    "SUBLAYERS",
    "DeviceShard",
    "ServerPart",
    "partition",
    "gather_state",
    "merge",
    "Exchange",
    "StepResult",
    "LoopedTPStep",
]

SUBLAYERS = ("attn", "mlp")
"""The two sub-layers of the block, in forward order."""

TP_PLAN: dict[str, tuple[str, int]] = {
    # monolithic parameter name (under ``parts``): (style, dimension split into K chunks)
    "attn_q.weight": ("colwise", 0),
    "attn_q.bias": ("colwise", 0),
    "attn_k.weight": ("colwise", 0),
    "attn_k.bias": ("colwise", 0),
    "attn_v.weight": ("colwise", 0),
    "attn_v.bias": ("colwise", 0),
    "attn_proj.weight": ("rowwise", 1),
    "mlp_fc.weight": ("colwise", 0),
    "mlp_fc.bias": ("colwise", 0),
    "mlp_proj.weight": ("rowwise", 1),
}
"""Tensor-parallel plan, keyed by parameter name.

``nn.Linear`` stores its weight as [out, in], so a column-wise split of the matrix ``W`` in
``y = x W`` cuts dimension 0 of the weight, and a row-wise split cuts dimension 1. Heads occupy
contiguous ``head_dim`` blocks of the Q/K/V outputs, so cutting into K equal chunks gives each
device whole heads. Every other parameter (including ``attn_proj.bias`` and ``mlp_proj.bias``,
which must be added once, after the sum) stays on the edge server.
"""

_SERVER_PARTS = ("wte", "wpe", "ln_1", "ln_2", "ln_f", "head")
_ROW_BIASES = {"attn": "attn_proj", "mlp": "mlp_proj"}


@dataclass(frozen=True)
class LoopedConfig:
    """Size of a :class:`LoopedTransformer`.

    :param vocab_size: vocabulary size [tokens]; 256 for byte-level tokens
    :param n_positions: maximum sequence length [tokens]
    :param d_model: hidden size :math:`D`
    :param n_heads: number of attention heads :math:`H`; must divide ``d_model``
    :param d_ff: MLP hidden size :math:`F`
    :param n_loops: number of times the one block is applied :math:`L`
    """

    vocab_size: int = 256
    n_positions: int = 128
    d_model: int = 128
    n_heads: int = 4
    d_ff: int = 512
    n_loops: int = 4

    def __post_init__(self):
        for name in ("vocab_size", "n_positions", "d_model", "n_heads", "d_ff", "n_loops"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.d_model % self.n_heads != 0:
            raise ValueError(
                f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads}): "
                "each head has d_model/n_heads dims"
            )

    @property
    def head_dim(self) -> int:
        """Width of one attention head, ``d_model // n_heads``."""
        return self.d_model // self.n_heads


# -- the math, shared by the monolithic model and the shards --------------------------------


def _causal_attention(
    h: torch.Tensor, q: nn.Linear, k: nn.Linear, v: nn.Linear, n_heads: int
) -> torch.Tensor:
    """Causal multi-head self-attention, before the output projection.

    :input h: normalised hidden states, shape [B, T, D]
    :param q, k, v: projections D -> n_heads * head_dim (all heads, or one device's heads)
    :param n_heads: number of heads the projections produce
    :output y: concatenated head outputs, shape [B, T, n_heads * head_dim]
    """
    B, T, _ = h.shape

    def heads(x: torch.Tensor) -> torch.Tensor:  # [B, T, n*hd] -> [B, n, T, hd]
        return x.view(B, T, n_heads, -1).transpose(1, 2)

    qh, kh, vh = heads(q(h)), heads(k(h)), heads(v(h))
    scores = qh @ kh.transpose(-2, -1) / math.sqrt(qh.shape[-1])
    mask = torch.ones(T, T, dtype=torch.bool, device=h.device).triu(1)
    att = scores.masked_fill(mask, float("-inf")).softmax(dim=-1)
    return (att @ vh).transpose(1, 2).reshape(B, T, -1)


def _lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy, labels shifted inside (as in GPT-2).

    :input logits: shape [B, T, V]
    :input labels: shape [B, T], int64; :data:`IGNORE_INDEX` entries are excluded
    :output loss: mean over the other targets [nat/token], scalar
    """
    shift_labels = F.pad(labels, (0, 1), value=IGNORE_INDEX)[..., 1:]
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]),
        shift_labels.reshape(-1).to(logits.device),
        ignore_index=IGNORE_INDEX,
    )


def _embed(parts: nn.ModuleDict, input_ids: torch.Tensor, n_positions: int) -> torch.Tensor:
    T = input_ids.shape[-1]
    if T > n_positions:
        raise ValueError(f"sequence length T ({T}) must be at most n_positions ({n_positions})")
    pos = torch.arange(T, device=input_ids.device)
    return parts["wte"](input_ids) + parts["wpe"](pos)


# -- the monolithic reference -----------------------------------------------------------------


class LoopedTransformer(nn.Module):
    r"""GPT-style looped transformer: one pre-LN block applied ``n_loops`` times.

    ``x = wte(ids) + wpe(t)``; then ``n_loops`` times
    ``x = x + attn(ln_1(x)); x = x + mlp(ln_2(x))`` with the *same* weights; then
    ``logits = head(ln_f(x))``. The MLP is ``mlp_proj(GELU(mlp_fc(.)))`` (exact GELU). With
    ``n_loops`` copies of its block, this is GPT-2 with ``activation_function="gelu"``.

    Parts (``self.parts``, an :class:`~torch.nn.ModuleDict`): ``"wte"`` [V, D], ``"wpe"``
    [n_positions, D], ``"ln_1"``, ``"attn_q"``, ``"attn_k"``, ``"attn_v"`` (D -> D),
    ``"attn_proj"`` (D -> D), ``"ln_2"``, ``"mlp_fc"`` (D -> F), ``"mlp_proj"`` (F -> D),
    ``"ln_f"`` and ``"head"`` (D -> V, no bias, weight tied to ``wte``). Weights are random,
    GPT-2's initialisation (normal, std 0.02; zero biases; unit layer norms).

    :param config: sizes
    """

    def __init__(self, config: LoopedConfig | None = None):
        super().__init__()
        self.config = config = config or LoopedConfig()
        D, Fd = config.d_model, config.d_ff
        self.parts = nn.ModuleDict(
            {
                "wte": nn.Embedding(config.vocab_size, D),
                "wpe": nn.Embedding(config.n_positions, D),
                "ln_1": nn.LayerNorm(D),
                "attn_q": nn.Linear(D, D),
                "attn_k": nn.Linear(D, D),
                "attn_v": nn.Linear(D, D),
                "attn_proj": nn.Linear(D, D),
                "ln_2": nn.LayerNorm(D),
                "mlp_fc": nn.Linear(D, Fd),
                "mlp_proj": nn.Linear(Fd, D),
                "ln_f": nn.LayerNorm(D),
                "head": nn.Linear(D, config.vocab_size, bias=False),
            }
        )
        for name, module in self.parts.items():
            if isinstance(module, (nn.Linear, nn.Embedding)) and name != "head":
                nn.init.normal_(module.weight, std=0.02)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
        self.parts["head"].weight = self.parts["wte"].weight  # tied: one Parameter

    def attn(self, h: torch.Tensor) -> torch.Tensor:
        """Attention sub-layer (all heads), without the residual.

        :input h: ``ln_1(x)``, shape [B, T, D]
        :output: shape [B, T, D]
        """
        p = self.parts
        y = _causal_attention(h, p["attn_q"], p["attn_k"], p["attn_v"], self.config.n_heads)
        return p["attn_proj"](y)

    def mlp(self, h: torch.Tensor) -> torch.Tensor:
        """MLP sub-layer, without the residual.

        :input h: ``ln_2(x)``, shape [B, T, D]
        :output: shape [B, T, D]
        """
        return self.parts["mlp_proj"](F.gelu(self.parts["mlp_fc"](h)))

    def forward(
        self, input_ids: torch.Tensor, labels: torch.Tensor | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Monolithic forward.

        :input input_ids: token ids, shape [B, T], int64, T <= n_positions
        :input labels: target ids, shape [B, T], int64 (shifted inside: position t predicts
            ``labels[:, t + 1]``; :data:`IGNORE_INDEX` excluded), or `None` for no loss
        :output loss: mean cross-entropy [nat/token], scalar, or `None` without labels
        :output logits: shape [B, T, vocab_size]
        """
        p = self.parts
        x = _embed(p, input_ids, self.config.n_positions)
        for _ in range(self.config.n_loops):
            x = x + self.attn(p["ln_1"](x))
            x = x + self.mlp(p["ln_2"](x))
        logits = p["head"](p["ln_f"](x))
        return (None if labels is None else _lm_loss(logits, labels)), logits


# -- the partition ----------------------------------------------------------------------------


def _check_k(config: LoopedConfig, K: int) -> None:
    if not isinstance(K, int) or K < 1:
        raise ValueError(f"the number of devices K must be a positive integer, got {K!r}")
    if config.n_heads % K != 0:
        raise ValueError(
            f"K ({K}) must divide n_heads ({config.n_heads}): attention is split by whole heads, "
            "n_heads/K per device"
        )
    if config.d_ff % K != 0:
        raise ValueError(
            f"K ({K}) must divide d_ff ({config.d_ff}): the MLP hidden layer is split into K "
            "equal column blocks"
        )


class DeviceShard(nn.Module):
    r"""Device k's slices of the block's weight matrices (its own Parameters).

    Parts (``self.parts``): ``"attn_q"``, ``"attn_k"``, ``"attn_v"`` (D -> D/K, with their bias
    slices), ``"attn_proj"`` (D/K -> D, no bias), ``"mlp_fc"`` (D -> F/K, with its bias slice),
    ``"mlp_proj"`` (F/K -> D, no bias). Build them with :func:`partition`.

    :param config: the full model's sizes
    :param index: device index k in [0, K)
    :param n_devices: K
    """

    def __init__(self, config: LoopedConfig, index: int, n_devices: int):
        super().__init__()
        _check_k(config, n_devices)
        if not 0 <= index < n_devices:
            raise ValueError(f"device index must be in [0, K={n_devices}), got {index}")
        self.config, self.index, self.n_devices = config, index, n_devices
        self.n_heads = config.n_heads // n_devices
        D, Dk, Fk = config.d_model, config.d_model // n_devices, config.d_ff // n_devices
        self.parts = nn.ModuleDict(
            {
                "attn_q": nn.Linear(D, Dk),
                "attn_k": nn.Linear(D, Dk),
                "attn_v": nn.Linear(D, Dk),
                "attn_proj": nn.Linear(Dk, D, bias=False),
                "mlp_fc": nn.Linear(D, Fk),
                "mlp_proj": nn.Linear(Fk, D, bias=False),
            }
        )

    def partial(self, sublayer: str, h: torch.Tensor) -> torch.Tensor:
        """This device's partial product of a sub-layer output (no bias, no residual).

        Summed over the K devices, the partials give the monolithic sub-layer output minus the
        row-parallel bias.

        :param sublayer: ``"attn"`` (this device's heads times its rows of the output
            projection) or ``"mlp"`` (``GELU(h W1_k + b1_k) W2_k``)
        :input h: the normalised hidden states the server sent, shape [B, T, D]
        :output p_k: shape [B, T, D]
        """
        p = self.parts
        if sublayer == "attn":
            y = _causal_attention(h, p["attn_q"], p["attn_k"], p["attn_v"], self.n_heads)
            return p["attn_proj"](y)
        if sublayer == "mlp":
            return p["mlp_proj"](F.gelu(p["mlp_fc"](h)))
        raise ValueError(f"sublayer must be one of {SUBLAYERS}, got {sublayer!r}")


class ServerPart(nn.Module):
    r"""What the edge server holds: every parameter not in :data:`TP_PLAN`.

    Parts (``self.parts``): ``"wte"``, ``"wpe"``, ``"ln_1"``, ``"ln_2"``, ``"ln_f"``, ``"head"``
    (tied to ``"wte"``); ``self.bias`` (an :class:`~torch.nn.ParameterDict`) holds the biases of
    the row-parallel layers, ``"attn_proj"`` and ``"mlp_proj"`` [D], added once after the sum of
    the partials.

    :param config: the full model's sizes
    """

    def __init__(self, config: LoopedConfig):
        super().__init__()
        self.config = config
        D = config.d_model
        self.parts = nn.ModuleDict(
            {
                "wte": nn.Embedding(config.vocab_size, D),
                "wpe": nn.Embedding(config.n_positions, D),
                "ln_1": nn.LayerNorm(D),
                "ln_2": nn.LayerNorm(D),
                "ln_f": nn.LayerNorm(D),
                "head": nn.Linear(D, config.vocab_size, bias=False),
            }
        )
        self.parts["head"].weight = self.parts["wte"].weight
        self.bias = nn.ParameterDict(
            {name: nn.Parameter(torch.zeros(D)) for name in _ROW_BIASES.values()}
        )

    @classmethod
    def from_model(cls, model: LoopedTransformer) -> "ServerPart":
        """Copy the server's parameters out of ``model`` (sharing no storage with it)."""
        server = cls(model.config)
        with torch.no_grad():
            for name in _SERVER_PARTS:
                if name != "head":  # tied to wte
                    server.parts[name].load_state_dict(model.parts[name].state_dict())
            for name in _ROW_BIASES.values():
                server.bias[name].copy_(model.parts[name].bias)
        return server


def partition(model: LoopedTransformer, K: int) -> list[DeviceShard]:
    """Cut the block's weight matrices into K device shards, following :data:`TP_PLAN`.

    The shards' Parameters are copies: ``model`` is unchanged and shares no storage with them.
    Pair them with :meth:`ServerPart.from_model` for the rest.

    :param model: the monolithic model
    :param K: number of devices; must divide ``n_heads`` and ``d_ff``
    :output shards: K :class:`DeviceShard`, shard k holding chunk k of every planned parameter
    """
    _check_k(model.config, K)
    full = model.parts.state_dict()
    shards = [DeviceShard(model.config, k, K) for k in range(K)]
    with torch.no_grad():
        for name, (_, dim) in TP_PLAN.items():
            for k, chunk in enumerate(full[name].chunk(K, dim=dim)):
                shards[k].parts.get_parameter(name).copy_(chunk)
    return shards


def gather_state(
    server: ServerPart, shards: Sequence[DeviceShard], *, grad: bool = False
) -> dict[str, torch.Tensor]:
    """Reassemble the monolithic parameters (or their gradients) from the parts.

    :param server: the server's part
    :param shards: the K device shards, in device order
    :param grad: gather ``.grad`` instead of the values (a missing grad counts as zeros)
    :output state: keyed like ``LoopedTransformer.parts.state_dict()`` (both ``wte.weight``
        and the tied ``head.weight``), detached copies
    """

    def get(p: torch.Tensor) -> torch.Tensor:
        t = p if not grad else (p.grad if p.grad is not None else torch.zeros_like(p))
        return t.detach().clone()

    state: dict[str, torch.Tensor] = {}
    for name in _SERVER_PARTS:
        for pname, p in server.parts[name].named_parameters():
            state[f"{name}.{pname}"] = get(p)
    for name, p in server.bias.items():
        state[f"{name}.bias"] = get(p)
    for name, (_, dim) in TP_PLAN.items():
        state[name] = torch.cat([get(s.parts.get_parameter(name)) for s in shards], dim=dim)
    return state


def merge(server: ServerPart, shards: Sequence[DeviceShard]) -> LoopedTransformer:
    """A monolithic :class:`LoopedTransformer` with the parts' current values."""
    model = LoopedTransformer(server.config)
    model.parts.load_state_dict(gather_state(server, shards))
    return model


# -- the exchange -----------------------------------------------------------------------------


def _wire(t: torch.Tensor) -> torch.Tensor:
    """The payload sent over the network: a detached, contiguous copy with no autograd history."""
    return t.detach().clone().contiguous()


@dataclass(frozen=True)
class Exchange:
    """One tensor sent between the edge server and one device.

    :ivar phase: ``"forward"`` or ``"backward"``
    :ivar loop: loop index in [0, n_loops)
    :ivar sublayer: ``"attn"`` or ``"mlp"``
    :ivar direction: ``"down"`` (server -> device) or ``"up"`` (device -> server)
    :ivar device: device index k in [0, K)
    :ivar payload: ``"ln_out"`` (forward, down: LN(x)), ``"partial"`` (forward, up: p_k),
        ``"grad_partial"`` (backward, down: dL/dp_k, the same tensor for every k) or
        ``"grad_ln_out"`` (backward, up: device k's share of dL/dLN(x))
    :ivar shape: tensor shape, [B, T, D]
    :ivar nbytes: payload size [bytes], ``numel * element_size``
    """

    phase: str
    loop: int
    sublayer: str
    direction: str
    device: int
    payload: str
    shape: tuple[int, ...]
    nbytes: int


@dataclass
class StepResult:
    """Outcome of :meth:`LoopedTPStep.run`.

    :ivar loss: mean cross-entropy [nat/token], detached scalar
    :ivar logits: shape [B, T, vocab_size], detached
    :ivar exchanges: every tensor sent, in the order sent
    """

    loss: torch.Tensor
    logits: torch.Tensor
    exchanges: list[Exchange]


@dataclass
class _ServerStage:
    x_in: torch.Tensor  # residual stream entering the sub-layer, a leaf with requires_grad
    h: torch.Tensor  # LN(x_in), with its graph
    s: torch.Tensor | None = None  # sum of the partials, a leaf with requires_grad
    out: torch.Tensor | None = None  # x_in + s + bias, with its graph


@dataclass
class _DeviceStage:
    h_in: torch.Tensor  # received LN(x), a leaf with requires_grad
    p: torch.Tensor  # the partial, with its graph through the shard's weights


class LoopedTPStep:
    r"""One training step (forward and backward) of the partitioned looped transformer.

    Every computation is its own call, taking and returning the wire tensors, so a simulator
    can run each on its host at its own instant. The order is::

        server_embed(input_ids)
        for loop in range(L): for sub in ("attn", "mlp"):            # forward
            h = server_pre(loop, sub)                     # send h to every device
            p[k] = device_forward(k, loop, sub, h)        # on device k; send p[k] up
            server_aggregate(loop, sub, p)                # all K partials, device order
        loss, logits = server_loss(labels)                # head; starts the backward
        for loop in reversed(range(L)): for sub in ("mlp", "attn"):  # backward
            g = server_grad_partial(loop, sub)            # send g to every device
            gh[k] = device_backward(k, loop, sub, g)      # on device k; send gh[k] up
            server_backward(loop, sub, gh)                # the last one also does the embedding

    :meth:`run` does exactly this. Gradients accumulate into the server's and the shards'
    ``.grad`` (zero them between steps, as usual); :meth:`stages` lists the (loop, sub-layer)
    order. A call out of order raises :class:`RuntimeError`.

    Each send is recorded as an :class:`Exchange` in :attr:`exchanges` (and passed to
    ``on_exchange``, if given) when the tensor is produced: K ``"down"`` records for a
    broadcast, one ``"up"`` record per device result.

    :param server: the server's part
    :param shards: the K device shards, in device order (``shards[k].index == k``)
    :param on_exchange: called with each :class:`Exchange` as it is recorded
    """

    def __init__(
        self,
        server: ServerPart,
        shards: Sequence[DeviceShard],
        on_exchange: Callable[[Exchange], None] | None = None,
    ):
        if not shards:
            raise ValueError("at least one device shard is needed (K >= 1)")
        K = len(shards)
        for k, s in enumerate(shards):
            if s.index != k or s.n_devices != K:
                raise ValueError(
                    f"shards must be the K={K} shards of one partition, in device order; "
                    f"shards[{k}] is shard {s.index} of {s.n_devices}"
                )
            if s.config != server.config:
                raise ValueError(f"shards[{k}] and the server part have different configs")
        self.server, self.shards, self.K = server, list(shards), K
        self.on_exchange = on_exchange
        self.exchanges: list[Exchange] = []
        self._reset()

    # -- bookkeeping --------------------------------------------------------------------------

    def stages(self) -> list[tuple[int, str]]:
        """(loop, sub-layer) in forward order; the backward visits them reversed."""
        return [(loop, sub) for loop in range(self.server.config.n_loops) for sub in SUBLAYERS]

    def _reset(self) -> None:
        self._x0: torch.Tensor | None = None  # embedding output, with its graph
        self._x: torch.Tensor | None = None  # current residual stream, a leaf
        self._srv: dict[tuple[int, str], _ServerStage] = {}
        self._dev: list[dict[tuple[int, str], _DeviceStage]] = [{} for _ in range(self.K)]
        self._grad_x: torch.Tensor | None = None  # dL/dx at the current backward point
        self._cursor = 0  # index into stages() (forward) or its reverse (backward)
        self._phase = "idle"

    def _expect(self, phase: str, loop: int, sub: str) -> tuple[int, str]:
        stages = self.stages()
        order = stages if phase == "forward" else stages[::-1]
        if self._phase != phase or self._cursor >= len(order) or order[self._cursor] != (loop, sub):
            in_phase = self._phase == phase and self._cursor < len(order)
            nxt = order[self._cursor] if in_phase else None
            raise RuntimeError(
                f"out of order: called for {phase} stage {(loop, sub)} while in phase "
                f"{self._phase!r}, next stage {nxt}"
            )
        return loop, sub

    def _record(self, phase, loop, sub, direction, device, payload, t: torch.Tensor) -> None:
        shape, nbytes = tuple(t.shape), tensor_nbytes(t)
        ex = Exchange(phase, loop, sub, direction, device, payload, shape, nbytes)
        self.exchanges.append(ex)
        if self.on_exchange is not None:
            self.on_exchange(ex)

    def _broadcast(self, phase, loop, sub, payload, t: torch.Tensor) -> torch.Tensor:
        wire = _wire(t)
        for k in range(self.K):
            self._record(phase, loop, sub, "down", k, payload, wire)
        return wire

    @staticmethod
    def _sum(tensors: Sequence[torch.Tensor], K: int, what: str) -> torch.Tensor:
        if len(tensors) != K:
            raise ValueError(f"expected {what} from all K={K} devices, got {len(tensors)}")
        total = tensors[0].detach().clone()
        for t in tensors[1:]:
            total += t.detach()
        return total

    # -- forward ------------------------------------------------------------------------------

    def server_embed(self, input_ids: torch.Tensor) -> None:
        """Server: token + position embedding; starts a new step.

        :input input_ids: shape [B, T], int64, T <= n_positions
        """
        self._reset()
        cfg = self.server.config
        self._x0 = _embed(self.server.parts, input_ids, cfg.n_positions)
        self._x = self._x0.detach().requires_grad_(True)
        self._phase = "forward"

    def server_pre(self, loop: int, sub: str) -> torch.Tensor:
        """Server: layer norm of the residual stream, to broadcast.

        :output h_wire: LN(x) (``ln_1`` for ``"attn"``, ``ln_2`` for ``"mlp"``), shape
            [B, T, D], detached; send it to every device (K ``"down"`` exchanges recorded)
        """
        self._expect("forward", loop, sub)
        if (loop, sub) in self._srv:
            raise RuntimeError(f"server_pre already called for stage {(loop, sub)}")
        ln = self.server.parts["ln_1" if sub == "attn" else "ln_2"]
        h = ln(self._x)
        self._srv[(loop, sub)] = _ServerStage(x_in=self._x, h=h)
        return self._broadcast("forward", loop, sub, "ln_out", h)

    def device_forward(self, k: int, loop: int, sub: str, h_wire: torch.Tensor) -> torch.Tensor:
        """Device k: its partial product; keeps its graph for :meth:`device_backward`.

        :input h_wire: the received LN(x), shape [B, T, D]
        :output p_wire: the partial p_k, shape [B, T, D], detached; send it up
        """
        self._expect("forward", loop, sub)
        if (loop, sub) in self._dev[k]:
            raise RuntimeError(f"device {k} already ran forward for stage {(loop, sub)}")
        h_in = h_wire.detach().clone().requires_grad_(True)
        p = self.shards[k].partial(sub, h_in)
        self._dev[k][(loop, sub)] = _DeviceStage(h_in=h_in, p=p)
        wire = _wire(p)
        self._record("forward", loop, sub, "up", k, "partial", wire)
        return wire

    def server_aggregate(self, loop: int, sub: str, partials: Sequence[torch.Tensor]) -> None:
        """Server: sum the K partials (in device order), add the bias and the residual.

        :input partials: the received p_k, k = 0..K-1, each shape [B, T, D]
        """
        self._expect("forward", loop, sub)
        st = self._srv.get((loop, sub))
        if st is None:
            raise RuntimeError(f"server_aggregate before server_pre for stage {(loop, sub)}")
        st.s = self._sum(partials, self.K, "partials").requires_grad_(True)
        st.out = st.x_in + st.s + self.server.bias[_ROW_BIASES[sub]]
        self._x = st.out.detach().requires_grad_(True)
        self._cursor += 1

    def server_loss(self, labels: torch.Tensor | None) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Server: final layer norm, LM head and loss; back-propagates through them.

        :input labels: shape [B, T], int64 (shifted inside), or `None` for inference only
            (then no backward follows)
        :output loss: mean cross-entropy [nat/token], detached scalar, or `None`
        :output logits: shape [B, T, vocab_size], detached
        """
        if self._phase != "forward" or self._cursor != len(self.stages()):
            raise RuntimeError("server_loss before the forward of every stage has finished")
        x_L = self._x
        logits = self.server.parts["head"](self.server.parts["ln_f"](x_L))
        if labels is None:
            self._phase = "done"
            return None, logits.detach()
        loss = _lm_loss(logits, labels)
        loss.backward()
        self._grad_x = x_L.grad
        self._phase, self._cursor = "backward", 0
        return loss.detach(), logits.detach()

    # -- backward -----------------------------------------------------------------------------

    def server_grad_partial(self, loop: int, sub: str) -> torch.Tensor:
        """Server: back-propagate through the residual add and the bias.

        :output g_wire: dL/d(sum of partials) = dL/dp_k, shape [B, T, D], detached; the same
            tensor for every device (K ``"down"`` exchanges recorded)
        """
        self._expect("backward", loop, sub)
        st = self._srv[(loop, sub)]
        if st.s.grad is not None:
            raise RuntimeError(f"server_grad_partial already called for stage {(loop, sub)}")
        st.out.backward(self._grad_x)  # into bias.grad, s.grad, and x_in.grad (residual)
        return self._broadcast("backward", loop, sub, "grad_partial", st.s.grad)

    def device_backward(self, k: int, loop: int, sub: str, g_wire: torch.Tensor) -> torch.Tensor:
        """Device k: back-propagate through its slices, accumulating their weights' ``.grad``.

        :input g_wire: the received dL/dp_k, shape [B, T, D]
        :output gh_wire: device k's share of dL/dLN(x), shape [B, T, D], detached; send it up
        """
        self._expect("backward", loop, sub)
        st = self._dev[k].pop((loop, sub), None)
        if st is None:
            raise RuntimeError(f"device {k} has no forward state for stage {(loop, sub)}")
        st.p.backward(g_wire.detach())
        wire = _wire(st.h_in.grad)
        self._record("backward", loop, sub, "up", k, "grad_ln_out", wire)
        return wire

    def server_backward(self, loop: int, sub: str, grads: Sequence[torch.Tensor]) -> None:
        """Server: sum the K input gradients, back-propagate through the layer norm.

        After the first stage (loop 0, ``"attn"``) this also back-propagates into the
        embeddings, which ends the step.

        :input grads: the received dL/dLN(x) shares, k = 0..K-1, each shape [B, T, D]
        """
        self._expect("backward", loop, sub)
        st = self._srv.pop((loop, sub))
        if st.s.grad is None:
            raise RuntimeError(f"server_backward before server_grad_partial for {(loop, sub)}")
        st.h.backward(self._sum(grads, self.K, "input gradients"))  # adds LN' into x_in.grad
        self._grad_x = st.x_in.grad
        self._cursor += 1
        if self._cursor == len(self.stages()):
            self._x0.backward(self._grad_x)
            self._phase = "done"

    # -- driver -------------------------------------------------------------------------------

    def run(self, input_ids: torch.Tensor, labels: torch.Tensor) -> StepResult:
        """A whole forward and backward, every call in order (devices in index order).

        :input input_ids: shape [B, T], int64
        :input labels: shape [B, T], int64
        :output result: loss, logits and the exchanges of this step
        """
        first = len(self.exchanges)
        self.server_embed(input_ids)
        for loop, sub in self.stages():
            h = self.server_pre(loop, sub)
            partials = [self.device_forward(k, loop, sub, h) for k in range(self.K)]
            self.server_aggregate(loop, sub, partials)
        loss, logits = self.server_loss(labels)
        for loop, sub in reversed(self.stages()):
            g = self.server_grad_partial(loop, sub)
            grads = [self.device_backward(k, loop, sub, g) for k in range(self.K)]
            self.server_backward(loop, sub, grads)
        return StepResult(loss=loss, logits=logits, exchanges=self.exchanges[first:])
