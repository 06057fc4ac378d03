"""A decoder-only LAM decomposed into microservices, with prefill and decode steps and KV caches.

The model (GPT-2 architecture, sizes from a :class:`transformers.GPT2Config`, random weights, no
downloads) is split into services that form a chain per request::

    embed -> blocks0 -> blocks1 -> ... -> lm_head

``embed`` maps token ids to hidden states (token + position embeddings), each ``blocks<i>`` runs
a group of consecutive decoder blocks and keeps their KV cache, ``lm_head`` applies the final
layer norm and the output projection to the last position of each request and picks the next
token (greedy). A call serves a *ragged batch*: the tokens of several requests concatenated,
each with its own query length (prompt length for prefill, 1 for a decode step) and past length
(tokens already in its KV cache; a prompt chunk may follow cached tokens, as in chunked
prefill), the way continuous-batching servers (vLLM) flatten a batch:
the linear layers run once over all tokens, attention runs per request against its own cache.
The decoder block is written here rather than taken from ``transformers.GPT2Block`` because the
latter serves padded batches only.

Two modes:

- ``real``: the services are PyTorch modules with weights; each call runs for real and its
  FLOPs and bytes are counted on the real tensors (:func:`edgelam_ns3.compute.measure`);
- ``cost``: the modules are built on torch's meta device (no weights allocated); a call's FLOPs
  and bytes are the sum of its pieces (the linear layers over ``n`` tokens, attention for one
  request of ``(q_len, past_len)``), each counted once on meta tensors of that shape and cached
  by ``(piece, shapes)`` (a decode step's attention, affine in its past length, from the counts
  at past lengths 0 and 1). Both modes dispatch the same operators on the same shapes, so they
  charge the same cost (tests/unit/test_microservices.py).

Mixture of experts (``n_experts > 0``): one MoE feed-forward layer (a residual
``x + sum_k gate_k expert_k(x)``, GShard/Mixtral top-k routing) follows each block group, as
services ``moe<i>_router`` (the router's logits, top-k and gates) and ``moe<i>_expert<j>``; the
placement unit ``expert<j>`` holds expert j of every MoE layer (expert parallelism). The
router's top-k comes from the real activations in ``real`` mode; ``cost`` mode assumes a
uniform seeded draw (:meth:`MicroserviceLAM.routing`), which ``route_by='draw'`` forces on
``real`` mode too. The fan-out (dispatch, expert calls, combine) is the serving's
(:mod:`edgelam_ns3.inference.framework`).

KV cache: a block group of ``L`` blocks holds ``2 * L * ctx * n_embd * element_size`` bytes per
request of ``ctx`` tokens (:meth:`MicroserviceLAM.kv_bytes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["ServiceCall", "ServiceResult", "MicroserviceLAM", "MoEExperts", "gpt2_like",
           "top_k_routing"]


def gpt2_like(n_layer: int, n_embd: int, n_head: int, vocab_size: int = 50257,
              n_positions: int = 4096):
    """A :class:`transformers.GPT2Config` of the given sizes (MLP width 4 x ``n_embd``)."""
    from transformers import GPT2Config

    return GPT2Config(n_layer=n_layer, n_embd=n_embd, n_head=n_head, vocab_size=vocab_size,
                      n_positions=n_positions, bos_token_id=vocab_size - 1,
                      eos_token_id=vocab_size - 1)


@dataclass(frozen=True)
class ServiceCall:
    """One request's part of a service call.

    :ivar req: request id (keys its KV cache)
    :ivar q_len: tokens processed now [-] (prompt length for prefill, 1 for decode)
    :ivar past_len: tokens already in its KV cache [-]
    :ivar data: input (``real`` mode): token ids [q_len] int64 for ``embed``, hidden states
        [q_len, n_embd] otherwise; None in ``cost`` mode
    """

    req: int
    q_len: int
    past_len: int
    data: torch.Tensor | None = None


@dataclass
class ServiceResult:
    """Outputs (one per call, None in ``cost`` mode), FLOPs [FLOP] and bytes moved [bytes]."""

    outputs: list
    flops: int
    bytes_moved: int


def _attend(qkv: torch.Tensor, past_k: torch.Tensor, past_v: torch.Tensor, n_head: int):
    """Causal self-attention of one request: ``qkv`` [T, 3*d] (a row slice of the batch's QKV),
    ``past_k``/``past_v`` [H, P, hd]. Returns (y [T, d], k [H, P+T, hd], v [H, P+T, hd])."""
    t, d3 = qkv.shape
    d = d3 // 3
    hd = d // n_head
    parts = qkv.view(t, 3, n_head, hd).permute(1, 2, 0, 3)
    q, k, v = (parts[i].clone(memory_format=torch.contiguous_format) for i in range(3))
    k = torch.cat([past_k, k], 1)
    v = torch.cat([past_v, v], 1)
    att = torch.bmm(q, k.transpose(1, 2)) * (1.0 / math.sqrt(hd))
    if t > 1:  # query i sits at position P + i: it sees the P cached keys and keys 0..i
        p = past_k.shape[1]
        mask = torch.ones(t, p + t, dtype=torch.bool, device=qkv.device).triu(p + 1)
        att = att.masked_fill(mask, float("-inf"))
    y = torch.bmm(att.softmax(-1), v)
    return y.transpose(0, 1).reshape(t, d), k, v


class _Block(nn.Module):
    """A GPT-2 decoder block (pre-LN attention + GELU MLP) over a ragged batch."""

    def __init__(self, d: int, n_head: int, d_ff: int, eps: float):
        super().__init__()
        self.n_head = n_head
        self.ln_1 = nn.LayerNorm(d, eps=eps)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=eps)
        self.c_fc = nn.Linear(d, d_ff)
        self.mlp_proj = nn.Linear(d_ff, d)

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_attn(self.ln_1(x))

    def post(self, x: torch.Tensor, ys: list[torch.Tensor]) -> torch.Tensor:
        x = x + self.c_proj(torch.cat(ys, 0))
        return x + self.mlp_proj(nn.functional.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

    def forward(self, x: torch.Tensor, lens: list[int], caches: list[tuple]) -> tuple:
        qkv = self.pre(x)
        ys, new = [], []
        start = 0
        for t, (pk, pv) in zip(lens, caches):
            y, k, v = _attend(qkv[start:start + t], pk, pv, self.n_head)
            ys.append(y)
            new.append((k, v))
            start += t
        return self.post(x, ys), new


class _Embed(nn.Module):
    def __init__(self, vocab: int, n_pos: int, d: int):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(n_pos, d)

    def forward(self, ids: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        return self.wte(ids) + self.wpe(pos)


class _Head(nn.Module):
    def __init__(self, d: int, vocab: int, eps: float):
        super().__init__()
        self.ln_f = nn.LayerNorm(d, eps=eps)
        self.lm_head = nn.Linear(d, vocab, bias=False)

    def forward(self, x: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.ln_f(x.index_select(0, last))).argmax(-1)


class MicroserviceLAM:
    """A GPT-2-style model as services ``embed``, ``blocks0..blocks{n_groups-1}``, ``lm_head``.

    :param config: a :class:`transformers.GPT2Config` (``n_layer``, ``n_embd``, ``n_head``,
        ``vocab_size``, ``n_positions``, ``n_inner``, ``layer_norm_epsilon``)
    :param n_groups: block groups (``n_layer`` blocks split as evenly as possible), >= 1
    :param mode: ``real`` (weights, real compute) or ``cost`` (meta device, counts from shapes)
    :param dtype: parameter and activation dtype
    :param seed: seed of the random weights (``real``)
    """

    def __init__(self, config, n_groups: int = 2, mode: str = "real",
                 dtype: torch.dtype = torch.float32, seed: int = 0, n_experts: int = 0,
                 top_k: int = 2, expert_ffn: int | None = None, route_by: str = "router"):
        if mode not in ("real", "cost"):
            raise ValueError(f"mode: 'real' or 'cost', not {mode!r}")
        if not 1 <= n_groups <= config.n_layer:
            raise ValueError(f"n_groups must be in [1, n_layer={config.n_layer}], got {n_groups}")
        if config.n_embd % config.n_head:
            raise ValueError(f"n_embd {config.n_embd} is not a multiple of n_head {config.n_head}")
        if n_experts and (n_experts < 2 or not 1 <= top_k <= n_experts):
            raise ValueError(f"MoE: n_experts >= 2 and 1 <= top_k <= n_experts (got "
                             f"{n_experts}, {top_k})")
        if n_experts > 2 / torch.finfo(dtype).eps:  # the router output holds ids as dtype
            raise ValueError(f"MoE: {n_experts} experts: their ids are not exact in {dtype}")
        if route_by not in ("router", "draw"):
            raise ValueError(f"route_by: 'router' or 'draw', not {route_by!r}")
        self.n_experts, self.top_k, self.route_by, self.seed = n_experts, top_k, route_by, seed
        self.config, self.mode, self.dtype = config, mode, dtype
        self.d, self.n_head = config.n_embd, config.n_head
        self.elt = torch.empty((), dtype=dtype).element_size()
        device = torch.device("meta" if mode == "cost" else "cpu")
        sizes = [len(g) for g in torch.arange(config.n_layer).tensor_split(n_groups)]
        self.group_layers = dict(zip((f"blocks{i}" for i in range(n_groups)), sizes))
        eps, d_ff = config.layer_norm_epsilon, config.n_inner or 4 * config.n_embd
        gen = torch.random.fork_rng() if mode == "real" else _NullCtx()
        with gen, device:
            torch.manual_seed(seed)
            mods = {"embed": _Embed(config.vocab_size, config.n_positions, self.d)}
            for i, (name, n) in enumerate(self.group_layers.items()):
                mods[name] = nn.ModuleList(_Block(self.d, self.n_head, d_ff, eps)
                                           for _ in range(n))
                if n_experts:  # one MoE feed-forward layer after each block group
                    mods[f"moe{i}_router"] = nn.Linear(self.d, n_experts, bias=False)
                    for j in range(n_experts):
                        mods[f"moe{i}_expert{j}"] = _ExpertMlp(self.d, expert_ffn or d_ff)
            mods["lm_head"] = _Head(self.d, config.vocab_size, eps)
        self.modules = nn.ModuleDict(mods).to(dtype).requires_grad_(False)
        self.services = list(mods)
        self.chain = [s for s in self.services if "_expert" not in s]
        self.expert_units = [f"expert{j}" for j in range(n_experts)]
        self._kv: dict[tuple[str, int], list[tuple]] = {}
        self._counts: dict[tuple, tuple[int, int]] = {}

    # -- sizes -----------------------------------------------------------------------------

    def weight_bytes(self, service: str) -> int:
        """Bytes of the service's parameters, or of an expert unit ``expert<j>`` (expert j of
        every MoE layer) [bytes]."""
        return sum(p.numel() for m in self.unit_services(service)
                   for p in self.modules[m].parameters()) * self.elt

    def unit_services(self, unit: str) -> list[str]:
        """The services a placement unit stands for: ``expert<j>`` -> ``moe<i>_expert<j>`` of
        every MoE layer ``i``; any other service -> itself."""
        if unit in self.expert_units:
            return [f"moe{i}_{unit}" for i in range(len(self.group_layers))]
        return [unit]

    def routing(self, layer: int, req: int, past: int, q: int, out) -> tuple:
        """The experts [q, top_k] int64 and gates [q, top_k] of a request's ``q`` tokens at MoE
        layer ``layer``: the router's top-k on the real activations (``real`` mode, the
        output of ``moe<layer>_router``), or (``cost`` mode, or ``route_by='draw'``) the
        routing assumption: each token's ``top_k`` experts a uniform draw without replacement,
        seeded by (seed, layer, request, past length), gates ``1 / top_k``."""
        k = self.top_k
        if self.mode == "real" and self.route_by == "router":
            return out[:, self.d:self.d + k].long(), out[:, self.d + k:]
        gen = torch.Generator().manual_seed(hash((self.seed, layer, req, past)) % 2 ** 62)
        idx = torch.rand(q, self.n_experts, generator=gen).topk(k, dim=-1).indices
        return idx, torch.full((q, k), 1.0 / k)

    def kv_bytes_per_token(self, service: str) -> int:
        """KV-cache bytes one token of context takes in the service: ``2 * L * n_embd *
        element_size`` for a group of ``L`` blocks, 0 for the other services [bytes]."""
        return 2 * self.group_layers.get(service, 0) * self.d * self.elt

    def kv_bytes(self, service: str, req: int | None = None, ctx: int | None = None) -> int:
        """KV-cache bytes of one request: of ``ctx`` tokens (closed form), or (``real`` mode,
        ``ctx`` None) of the tensors the service holds for request ``req``."""
        if ctx is not None:
            return ctx * self.kv_bytes_per_token(service)
        caches = self._kv.get((service, req), [])
        return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in caches)

    def output_bytes(self, service: str, q_len: int) -> int:
        """Bytes of a request's output of the service: hidden states [q_len, n_embd] (a
        router's also each token's experts, int64, and gates), or one token id (int64) from
        ``lm_head`` [bytes]."""
        if service == "lm_head":
            return 8
        extra = self.top_k * (8 + self.elt) if service.endswith("_router") else 0
        return q_len * (self.d * self.elt + extra)

    # -- calls -----------------------------------------------------------------------------

    def run(self, service: str, calls: list[ServiceCall]) -> ServiceResult:
        """Serve a ragged batch; returns the outputs and the call's FLOPs and bytes."""
        if service not in self.modules:
            raise KeyError(f"unknown service {service!r} (known: {', '.join(self.services)})")
        if not calls:
            raise ValueError("run: empty batch")
        if self.mode == "cost":
            flops, nbytes = self._cost(service, calls)
            return ServiceResult([None] * len(calls), flops, nbytes)
        from edgelam_ns3.compute import measure

        args = self._inputs(service, calls)
        job = measure(self._forward, service, calls, *args)
        return ServiceResult(job.result, job.flops, job.bytes_moved)

    def release(self, req: int, services=None) -> None:
        """Free request ``req``'s KV caches (in ``services`` only, when given)."""
        for name in self.group_layers if services is None else services:
            self._kv.pop((name, req), None)

    def _inputs(self, service: str, calls: list[ServiceCall]) -> tuple:
        """The batch's inputs, assembled outside the measured call (as a server's input
        buffers would be)."""
        x = torch.cat([c.data for c in calls], 0)
        if service == "embed":
            pos = torch.cat([torch.arange(c.past_len, c.past_len + c.q_len) for c in calls])
            return x, pos
        if service == "lm_head":
            return x, torch.tensor(_last_rows(calls))
        return (x,)

    def _forward(self, service: str, calls: list[ServiceCall], x, extra=None) -> list:
        mod = self.modules[service]
        lens = [c.q_len for c in calls]
        if service == "embed":
            return list(mod(x, extra).split(lens, 0))
        if service == "lm_head":
            return list(mod(x, extra).unbind(0))
        if service.endswith("_router"):
            return list(_route(mod, x, self.top_k).split(lens, 0))
        if "_expert" in service:
            return list(mod(x).split(lens, 0))
        empty = torch.empty(self.n_head, 0, self.d // self.n_head, dtype=self.dtype)
        per_req = [self._kv.get((service, c.req)) or [(empty, empty)] * len(mod) for c in calls]
        for j, block in enumerate(mod):
            x, new = block(x, lens, [caches[j] for caches in per_req])
            for caches, kv in zip(per_req, new):
                caches[j] = kv
        for c, caches in zip(calls, per_req):
            self._kv[(service, c.req)] = list(caches)
        return list(x.split(lens, 0))

    # -- cost mode: counts from shapes, cached by (piece, shapes) --------------------------

    def _cost(self, service: str, calls: list[ServiceCall]) -> tuple[int, int]:
        n = sum(c.q_len for c in calls)
        if service == "embed":
            return self._count(("embed", n))
        if service == "lm_head":
            return self._count(("lm_head", n, len(calls)))
        if service.endswith("_router") or "_expert" in service:
            return self._count(("router" if service.endswith("_router") else "expert", n))
        flops, nbytes = self._count(("dense", n))
        for c in calls:
            f, b = self._count(("attn", c.q_len, c.past_len))
            flops, nbytes = flops + f, nbytes + b
        layers = self.group_layers[service]
        return layers * flops, layers * nbytes

    def _count(self, key: tuple) -> tuple[int, int]:
        # Counts affine in one size, from two counts, exactly: attention (a decode step's or a
        # prompt chunk's of T tokens) in its past length P (the cat, both products, the scale,
        # the mask and the softmax each touch P + T keys or scores per query and head), the
        # linear layers and norms in the tokens n (weights read once, activations n rows), the
        # embedding in n (gathered rows).
        if key[0] == "attn" and key[2] > 1:  # a decode step or a prompt chunk
            return self._affine(("attn", key[1], 0), ("attn", key[1], 1), key[2])
        if key[0] in ("dense", "embed", "expert", "router") and key[1] > 2:
            return self._affine((key[0], 1), (key[0], 2), key[1] - 1)
        hit = self._counts.get(key)
        if hit is None:
            from edgelam_ns3.compute import measure

            fn, args = self._piece(key)
            job = measure(fn, *args)
            hit = self._counts[key] = (job.flops, job.bytes_moved)
        return hit

    def _affine(self, k0: tuple, k1: tuple, x: int) -> tuple[int, int]:
        (f0, b0), (f1, b1) = self._count(k0), self._count(k1)
        return f0 + x * (f1 - f0), b0 + x * (b1 - b0)

    def _piece(self, key: tuple) -> tuple[Any, tuple]:
        """A piece of a call and meta inputs of its shapes."""
        d, h, kind = self.d, self.n_head, key[0]
        meta = dict(device="meta", dtype=self.dtype)
        if kind == "embed":
            n = key[1]
            ids = torch.empty(n, device="meta", dtype=torch.long)
            return self.modules["embed"], (ids, ids)
        if kind == "lm_head":
            n, k = key[1], key[2]
            return self.modules["lm_head"], (torch.empty(n, d, **meta),
                                             torch.empty(k, device="meta", dtype=torch.long))
        if kind in ("router", "expert"):
            name = "moe0_router" if kind == "router" else "moe0_expert0"
            fn = self.modules[name] if kind == "expert" else \
                (lambda x: _route(self.modules[name], x, self.top_k))
            return fn, (torch.empty(key[1], d, **meta),)
        block = next(iter(self.modules[self.services[1]]))
        if kind == "dense":
            n = key[1]
            return (lambda x, y: (block.pre(x), block.post(x, [y]))), \
                (torch.empty(n, d, **meta), torch.empty(n, d, **meta))
        t, p = key[1], key[2]
        past = torch.empty(h, p, d // h, **meta)
        return _attend, (torch.empty(t, 3 * d, **meta), past, past, h)


def _route(router: nn.Module, x: torch.Tensor, k: int) -> torch.Tensor:
    """A router service's output: the hidden states, each token's top-k experts (as the
    dtype) and their gates, side by side [n, d + 2k]."""
    idx, gates = top_k_routing(router(x), k)
    return torch.cat([x, idx.to(x.dtype), gates], 1)


def _last_rows(calls: list[ServiceCall]) -> list[int]:
    """Row of each request's last token in the concatenated batch."""
    rows, end = [], 0
    for c in calls:
        end += c.q_len
        rows.append(end - 1)
    return rows


class _NullCtx:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


# -- a mixture-of-experts layer on its own (MicroserviceLAM serves its MoE layers itself) --


def top_k_routing(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k routing (GShard/Mixtral): each token's ``k`` experts of largest router logit, and
    their gates (softmax over the ``k`` chosen logits). ``logits`` [n, E] -> (experts [n, k]
    int64, gates [n, k])."""
    top, idx = logits.topk(k, dim=-1)
    return idx, top.softmax(-1)


class _ExpertMlp(nn.Module):
    def __init__(self, d: int, d_ff: int):
        super().__init__()
        self.c_fc = nn.Linear(d, d_ff)
        self.mlp_proj = nn.Linear(d_ff, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp_proj(nn.functional.gelu(self.c_fc(x), approximate="tanh"))


class MoEExperts:
    """The feed-forward of one MoE layer as ``n_experts`` services ``expert0..`` and a router.

    ``real`` mode: :meth:`route` takes each token's top-``k`` experts from the router's logits on
    the real activations, :meth:`run` runs one expert on the tokens sent to it and counts its
    FLOPs and bytes on the real tensors. ``cost`` mode (meta device): the router's expected
    fan-out, each token to ``k`` experts, uniform over them (:meth:`expected_tokens`), and
    :meth:`run` counts an expert call of that many tokens from shapes.

    :param d: hidden size
    :param d_ff: each expert's MLP width
    :param n_experts: experts, >= 2
    :param top_k: experts per token, in [1, n_experts]
    """

    def __init__(self, d: int, d_ff: int, n_experts: int, top_k: int, mode: str = "real",
                 dtype: torch.dtype = torch.float32, seed: int = 0):
        if n_experts < 2 or not 1 <= top_k <= n_experts:
            raise ValueError(f"MoE: n_experts >= 2 and 1 <= top_k <= n_experts (got "
                             f"{n_experts}, {top_k})")
        self.mode, self.k, self.n_experts = mode, top_k, n_experts
        device = torch.device("meta" if mode == "cost" else "cpu")
        gen = torch.random.fork_rng() if mode == "real" else _NullCtx()
        with gen, device:
            torch.manual_seed(seed)
            self.router = nn.Linear(d, n_experts, bias=False).to(dtype).requires_grad_(False)
            self.experts = nn.ModuleList(_ExpertMlp(d, d_ff) for _ in range(n_experts)) \
                .to(dtype).requires_grad_(False)
        self.services = [f"expert{j}" for j in range(n_experts)]
        self.d, self.dtype = d, dtype

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Experts [n, k] and gates [n, k] of the tokens ``x`` [n, d] (``real`` mode)."""
        return top_k_routing(self.router(x), self.k)

    def dispatch(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Token rows each expert service receives (``real`` mode): ``{expert: rows}``."""
        idx, _ = self.route(x)
        return {f"expert{j}": (idx == j).any(-1).nonzero().flatten()
                for j in range(self.n_experts) if (idx == j).any()}

    def expected_tokens(self, n: int) -> float:
        """Tokens each expert receives from ``n`` tokens at the expected fan-out (``cost``)."""
        return n * self.k / self.n_experts

    def run(self, service: str, x: torch.Tensor | int) -> ServiceResult:
        """One expert on its tokens: a tensor [m, d] (``real``) or a token count (``cost``)."""
        from edgelam_ns3.compute import measure

        mod = self.experts[self.services.index(service)]
        if self.mode == "cost":
            x = torch.empty(int(x), self.d, device="meta", dtype=self.dtype)
        job = measure(mod, x)
        return ServiceResult([None if self.mode == "cost" else job.result], job.flops,
                             job.bytes_moved)

