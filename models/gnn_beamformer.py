"""A graph neural network that computes multi-user MISO downlink precoders.

Graph: one node per UE, a complete graph between UEs. Convention as in
:mod:`edgelam_ns3.beamforming`: channels ``h`` [B, K, N] complex (row k = UE k), precoders
``v`` [B, N, K] with total power ``||v||_F^2 = power``, noise power ``noise``.

Features are the CSI seen through the Gram matrix G = H H^H, which is all the sum rate depends on
(it is unchanged by a unitary rotation of the antenna space and by a phase on each UE):

- node k: the UE's SNR at full power, log(1 + P ||h_k||^2 / noise), log10(P / noise), and
  log(1 + SINR_k) under the current allocation (first: equal-power RZF, alpha = K noise / P);
- edge (k, j), k != j: the correlation magnitude |rho_kj| and |rho_kj|^2, with
  rho_kj = h_k h_j^H / (||h_k|| ||h_j||), and log(1 + |h_k v_j|^2 / noise) of UE j's current
  beam at UE k, beside both nodes' states. The real and imaginary parts
  of h_k or of rho_kj are not inputs: a phase on one UE changes them but not the sum rate, and the
  precoders are built from the full complex Gram matrix anyway (below).

So one model serves any number of antennas N and of UEs K (messages are aggregated by mean and
max over the other UEs; nothing has a size K or N).

Layers: ``n_layers`` edge-conditioned message passing layers (Shen, Shi, Zhang, Letaief, "Graph
neural networks for scalable radio resource management", IEEE JSAC 2021): a message MLP on each
edge, mean and max over the neighbours, an update MLP with a residual. Every layer treats the UEs
alike, so the network is permutation-equivariant over UEs: permuting the rows of ``h`` permutes
the columns of ``v``.

Output (the optimal beamforming structure, Bjornson, Bengtsson, Ottersten, IEEE SP Magazine
2014): per UE a dual weight lambda_k and a power p_k, both >= 0 with sum P (softmax over UEs),

    v_k = sqrt(p_k) d_k / ||d_k||,   d_k = (I_N + sum_j lambda_j h_j^H h_j / noise)^-1 h_k^H
        = [H^H (I_K + Lambda G / noise)^-1]_k      (push-through identity: a K x K solve),

so ``||v||_F^2 = sum_k p_k = P`` exactly, and every sum-rate-optimal precoder has this form for
some (lambda, p). The last layer starts at zero, so an untrained model gives lambda = p = P/K:
regularised ZF with alpha = K noise / P at equal power.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["GNNBeamformer", "structured_precoders", "gnn_features"]


def _mlp(d_in: int, d_hidden: int, d_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_hidden), nn.SiLU(), nn.Linear(d_hidden, d_out))


def _beam_gains(gram: torch.Tensor, lam: torch.Tensor, p: torch.Tensor, noise: float):
    """Received SNR of UE j's beam at UE k, |h_k v_j|^2 / noise [B, K, K], and each UE's SINR
    [B, K], for the structured precoders of (lam, p); K x K work only (v_j = H^H x_j / ||.||)."""
    k = gram.shape[-1]
    eye = torch.eye(k, dtype=gram.dtype, device=gram.device)
    x = torch.linalg.solve(eye + (lam / noise).to(gram.dtype).unsqueeze(-1) * gram,
                           eye.expand_as(gram))
    e = gram @ x  # h_k applied to the unnormalised column j
    col2 = torch.diagonal(x.mH @ e, dim1=-2, dim2=-1).real.clamp_min(1e-30)
    cross = e.abs() ** 2 * (p / col2).unsqueeze(-2) / noise
    own = torch.diagonal(cross, dim1=-2, dim2=-1)
    return cross, own / (cross.sum(-1) - own + 1)


def gnn_features(h: torch.Tensor, power: float, noise: float) -> tuple[torch.Tensor, ...]:
    """Features that do not depend on the allocation: node [B, K, 2], edge [B, K, K, 2], and
    the Gram matrix [B, K, K] (complex) of channels ``h`` [B, K, N]."""
    gram = h @ h.mH
    norm2 = torch.diagonal(gram, dim1=-2, dim2=-1).real.clamp_min(1e-30)  # [B, K]
    snr = power / noise
    mag = gram.abs() / torch.sqrt(norm2.unsqueeze(-1) * norm2.unsqueeze(-2))
    node = torch.stack([torch.log1p(snr * norm2), torch.full_like(norm2, math.log10(snr))], -1)
    edge = torch.stack([mag, mag**2], -1)
    return node.to(h.real.dtype), edge.to(h.real.dtype), gram


def structured_precoders(h: torch.Tensor, gram: torch.Tensor, lam: torch.Tensor,
                         amp: torch.Tensor, noise: float) -> torch.Tensor:
    """v [B, N, K] from dual weights ``lam`` [B, K] and amplitudes ``amp`` = sqrt(p) [B, K]
    (see the module docstring); total power = sum(amp^2). Amplitudes, not powers, so that a
    UE switched off (p_k = 0) has a finite gradient."""
    k = h.shape[-2]
    eye = torch.eye(k, dtype=gram.dtype, device=gram.device)
    a = eye + (lam / noise).to(gram.dtype).unsqueeze(-1) * gram
    x = torch.linalg.solve(a, eye.expand_as(a))  # (I + Lambda G / noise)^-1
    d = h.mH @ x
    d = d / torch.linalg.vector_norm(d, dim=-2, keepdim=True).clamp_min(1e-30)
    return d * amp.to(d.dtype).unsqueeze(-2)


class _Layer(nn.Module):
    def __init__(self, d_node: int, d_edge: int, d_hidden: int):
        super().__init__()
        self.message = _mlp(2 * d_node + d_edge, d_hidden, d_hidden)
        self.update = _mlp(d_node + 2 * d_hidden, d_hidden, d_hidden)
        self.skip = nn.Identity() if d_node == d_hidden else nn.Linear(d_node, d_hidden)

    def _first(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """The message MLP's first linear map of [x_k, x_j, e_kj], [B, K, K, H]: its node
        blocks act once per node (K of them), not once per edge (K^2), then broadcast."""
        lin, d = self.message[0], x.shape[-1]
        w_i, w_j, w_e = lin.weight[:, :d], lin.weight[:, d:2 * d], lin.weight[:, 2 * d:]
        return ((x @ w_i.T).unsqueeze(2) + (x @ w_j.T).unsqueeze(1)
                + torch.nn.functional.linear(e, w_e, lin.bias))

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        b, k, d = x.shape
        m = self.message[2](self.message[1](self._first(x, e)))  # [B, K, K, H], k <- j
        off = ~torch.eye(k, dtype=torch.bool, device=x.device)  # no self-messages
        if k > 1:
            mean = (m * off.unsqueeze(-1)).sum(2) / (k - 1)
            mx = m.masked_fill(~off.unsqueeze(-1), float("-inf")).amax(2)
        else:
            mean = mx = torch.zeros(b, k, m.shape[-1], dtype=m.dtype, device=m.device)
        return self.skip(x) + self.update(torch.cat([x, mean, mx], -1))


class GNNBeamformer(nn.Module):
    """Permutation-equivariant GNN over UEs that outputs precoders at total power P.

    Unrolled over ``n_rounds``: round r sees the fixed features plus, from the allocation of
    round r - 1 (round 1: equal lambda and p, i.e. RZF), each UE's SINR, the received SNR of
    every beam at every UE, and the current logits; it adds its head's output to the logits.

    :param d_hidden: width of node states and messages
    :param n_layers: message passing layers per round
    :param n_rounds: unrolled rounds (each with its own layers and head)
    :input h: channels [B, K, N] complex64/complex128
    :input power: total transmit power P (linear); :input noise: noise power (same unit)
    :output v: precoders [B, N, K], same dtype as ``h``, ``||v[b]||_F^2 = P``
    """

    def __init__(self, d_hidden: int = 64, n_layers: int = 3, n_rounds: int = 1):
        super().__init__()
        if d_hidden < 1 or n_layers < 1 or n_rounds < 1:
            raise ValueError("GNNBeamformer: d_hidden, n_layers and n_rounds must be >= 1")
        dims = [5] + [d_hidden] * n_layers  # node: 2 fixed + SINR + 2 logits
        self.rounds = nn.ModuleList()
        for _ in range(n_rounds):
            r = nn.Module()
            r.layers = nn.ModuleList(_Layer(dims[i], 3, d_hidden) for i in range(n_layers))
            r.head = nn.Linear(d_hidden, 2)
            nn.init.zeros_(r.head.weight)
            nn.init.zeros_(r.head.bias)
            self.rounds.append(r)

    @staticmethod
    def _shares(logits: torch.Tensor, power: float):
        # Over UEs; double keeps sum(p) = P exact.
        log_share = torch.log_softmax(logits.double(), dim=1)
        return power * log_share[..., 0].exp(), math.log(power) + log_share[..., 1]

    def allocation(self, h: torch.Tensor, power: float, noise: float):
        """Dual weights lambda [B, K], log powers log p [B, K] (lambda and p each sum to P)
        and the Gram matrix."""
        node, edge, gram = gnn_features(h, power, noise)
        dt = self.rounds[0].head.weight.dtype
        node, edge = node.to(dt), edge.to(dt)
        logits = torch.zeros(*node.shape[:-1], 2, dtype=dt, device=node.device)
        for r in self.rounds:
            lam, log_p = self._shares(logits, power)
            cross, sinr = _beam_gains(gram, lam.to(h.real.dtype), log_p.exp().to(h.real.dtype),
                                      noise)
            x = torch.cat([node, torch.log1p(sinr).to(dt).unsqueeze(-1), logits], -1)
            e = torch.cat([edge, torch.log1p(cross).to(dt).unsqueeze(-1)], -1)
            for layer in r.layers:
                x = layer(x, e)
            logits = logits + r.head(x)
        lam, log_p = self._shares(logits, power)
        return lam, log_p, gram

    def forward(self, h: torch.Tensor, power: float, noise: float) -> torch.Tensor:
        if h.dim() != 3 or not h.is_complex():
            raise ValueError(f"GNNBeamformer: h must be complex [B, K, N], got "
                             f"{tuple(h.shape)} {h.dtype}")
        lam, log_p, gram = self.allocation(h, power, noise)
        amp = torch.exp(0.5 * log_p)
        return structured_precoders(h, gram, lam.to(h.real.dtype), amp.to(h.real.dtype), noise)
