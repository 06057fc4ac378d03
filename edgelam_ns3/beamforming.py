"""Multi-user MISO downlink beamforming: classical precoders, WMMSE, sum rate and cost per decision.

System model (the convention of ``sionna.phy.mimo``: ``y = H G x + n``)::

    H      [..., K, N] complex   row k is UE k's channel from the N gNB antennas
    V      [..., N, K] complex   column k is UE k's precoder; total power ||V||_F^2 = P
    y_k    = h_k V x + n_k,      n_k ~ CN(0, noise), E|x_k|^2 = 1
    SINR_k = |h_k v_k|^2 / (sum_{j != k} |h_k v_j|^2 + noise)

``power`` is the total transmit power P and ``noise`` the noise power sigma^2 (same linear unit), so
with unit-variance channel entries ``P / noise`` is the SNR. Rates are in bit/s/Hz.

Baselines: MRT, ZF and RZF directions come from Sionna (``cbf_precoding_matrix``,
``rzf_precoding_matrix``: unit-norm columns), scaled to equal power P/K per UE. Sionna 2.2 has no
power allocation and no iterative sum-rate precoder, so water-filling over the ZF streams and
WMMSE (Shi, Razaviyayn, Luo, He, IEEE TSP 59(9), 2011, Table I specialised to single-antenna
UEs) are implemented here.

Cost per decision (:func:`decision_cost`): FLOPs from the project's counter
(:func:`edgelam_ns3.compute.measure`, which counts matrix products at 2 FLOPs per multiply-add
whatever the dtype), plus what it does not count: the other 6 real FLOPs of each complex
multiply-add (a complex multiply-add is 8 real FLOPs) and the dense linear algebra kernels
(eigh, Cholesky, LU, triangular solves) at their textbook operation counts (Golub and Van Loan).
Element-wise operators count 0 FLOPs, as in ``measure``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = [
    "sinr", "sum_rate", "mrt", "zf", "rzf", "zf_gains", "water_filling", "zf_wf", "wmmse",
    "WmmseResult", "rayleigh", "PRECODERS", "classical_sum_rates", "decision_cost", "DecisionCost",
    "train_gnn", "csi_samples",
]


def _check_shapes(h: torch.Tensor, power: float) -> None:
    if h.dim() < 2 or not h.is_complex():
        raise ValueError(f"beamforming: h must be complex with shape [..., K, N], got "
                         f"{tuple(h.shape)} {h.dtype}")
    if not power > 0:
        raise ValueError(f"beamforming: power must be > 0, got {power}")


# -- sum rate ---------------------------------------------------------------------------------


def sinr(h: torch.Tensor, v: torch.Tensor, noise: float) -> torch.Tensor:
    """SINR of each UE [linear], shape [..., K], for channels h [..., K, N] and precoders
    v [..., N, K]."""
    g = (h @ v).abs() ** 2  # [..., K, K]: g[k, j] = |h_k v_j|^2
    sig = torch.diagonal(g, dim1=-2, dim2=-1)
    return sig / (g.sum(-1) - sig + noise)


def sum_rate(h: torch.Tensor, v: torch.Tensor, noise: float) -> torch.Tensor:
    """Sum over UEs of log2(1 + SINR_k) [bit/s/Hz], shape [...]; differentiable in v."""
    return torch.log2(1 + sinr(h, v, noise)).sum(-1)


# -- linear precoders -------------------------------------------------------------------------


def _equal_power(g_unit: torch.Tensor, power: float) -> torch.Tensor:
    return g_unit * math.sqrt(power / g_unit.shape[-1])


def mrt(h: torch.Tensor, power: float, noise: float | None = None) -> torch.Tensor:
    """Maximum ratio transmission (Sionna's conjugate beamforming), P/K per UE: [..., N, K]."""
    from sionna.phy.mimo import cbf_precoding_matrix

    _check_shapes(h, power)
    return _equal_power(cbf_precoding_matrix(h, precision=_precision(h)), power)


def zf(h: torch.Tensor, power: float, noise: float | None = None) -> torch.Tensor:
    """Zero forcing (Sionna's RZF with alpha = 0), unit-norm directions at P/K per UE;
    needs K <= N."""
    from sionna.phy.mimo import rzf_precoding_matrix

    _check_shapes(h, power)
    return _equal_power(rzf_precoding_matrix(h, alpha=0.0, precision=_precision(h)), power)


def rzf(h: torch.Tensor, power: float, noise: float, alpha: float | None = None) -> torch.Tensor:
    """Regularised ZF (Sionna), P/K per UE. ``alpha`` defaults to K * noise / P (Peel,
    Hochwald, Swindlehurst, IEEE TCOM 2005), the SINR-maximising value for i.i.d. channels."""
    from sionna.phy.mimo import rzf_precoding_matrix

    _check_shapes(h, power)
    a = h.shape[-2] * noise / power if alpha is None else alpha
    return _equal_power(rzf_precoding_matrix(h, alpha=a, precision=_precision(h)), power)


def _precision(h: torch.Tensor) -> str:
    return "double" if h.dtype == torch.complex128 else "single"


# -- ZF with water-filling --------------------------------------------------------------------


def zf_gains(h: torch.Tensor, noise: float) -> torch.Tensor:
    """Per-stream SNR per unit power of ZF with unit-norm directions:
    g_k = 1 / (noise [(H H^H)^-1]_kk), shape [..., K] (real)."""
    gram = h @ h.mH
    inv_diag = torch.diagonal(torch.linalg.inv(gram), dim1=-2, dim2=-1).real
    return 1.0 / (noise * inv_diag)


def water_filling(gains: torch.Tensor, power: float) -> torch.Tensor:
    """Powers p_k = max(0, mu - 1/g_k) with sum_k p_k = power that maximise
    sum_k log2(1 + g_k p_k); shape of ``gains`` [..., K]. Exact: the water level mu comes from
    the number of active streams, found by sorting."""
    if not power > 0 or bool((gains <= 0).any()):
        raise ValueError("water_filling: power and every gain must be > 0")
    inv = 1.0 / gains
    inv_sorted, _ = torch.sort(inv, dim=-1)
    m = torch.arange(1, gains.shape[-1] + 1, dtype=gains.dtype, device=gains.device)
    levels = (power + torch.cumsum(inv_sorted, -1)) / m  # water level if the m best are active
    active = levels > inv_sorted  # true for a prefix of the sorted streams
    n_active = active.sum(-1, keepdim=True)
    mu = torch.gather(levels, -1, n_active - 1)
    return torch.clamp(mu - inv, min=0.0)


def zf_wf(h: torch.Tensor, power: float, noise: float) -> torch.Tensor:
    """ZF directions (unit norm) with water-filling powers over their stream gains."""
    from sionna.phy.mimo import rzf_precoding_matrix

    _check_shapes(h, power)
    p = water_filling(zf_gains(h, noise), power)
    g = rzf_precoding_matrix(h, alpha=0.0, precision=_precision(h))
    return g * torch.sqrt(p).unsqueeze(-2).to(g.dtype)


# -- WMMSE ------------------------------------------------------------------------------------


@dataclass
class WmmseResult:
    """What :func:`wmmse` returns.

    :ivar v: best precoders over the initialisations [..., N, K]
    :ivar rate: their sum rate [...] [bit/s/Hz]
    :ivar history: sum rate after each iteration, per initialisation [n_iter + 1, ..., n_init]
        (row 0: the initialisation; converged entries repeat their last value)
    :ivar best_init: index into ``inits`` of the best initialisation [...]
    :ivar n_iter: iterations run (until every sample converged or ``max_iter``)
    """

    v: torch.Tensor
    rate: torch.Tensor
    history: torch.Tensor
    best_init: torch.Tensor
    n_iter: int


def _wmmse_init(h, power, noise, name, generator):
    if name == "random":
        n, k = h.shape[-1], h.shape[-2]
        re = torch.randn(*h.shape[:-2], n, k, generator=generator, dtype=h.real.dtype)
        im = torch.randn(*h.shape[:-2], n, k, generator=generator, dtype=h.real.dtype)
        v = torch.complex(re, im)
        return v * torch.sqrt(power / (v.abs() ** 2).sum((-2, -1), keepdim=True))
    return PRECODERS[name](h, power, noise)


def _wmmse_precoders(h, gram, u, w, power, n_newton=12):
    """The V-step: argmin_V sum_k w_k e_k s.t. ||V||^2 <= P, in the K x K form.

    V = (H^H D H + mu I)^-1 H^H E with D = diag(w|u|^2), E = diag(conj(u) w). By the push-through
    identity V = H^H X, X = (D G + mu I)^-1 E with G = H H^H; with M = D^1/2 G D^1/2 = Q L Q^H,
    X = D^1/2 Q (L + mu)^-1 F and ||V||^2 = sum_i L_i |F_i|^2 / (L_i + mu)^2, where
    F = Q^H D^-1/2 E. mu >= 0 solves ||V||^2 = P by Newton's method on 1/||V(mu)|| (concave in
    mu, so the iterates increase monotonically to the root; More and Sorensen 1983); V is then
    scaled to power exactly P."""
    d = w * u.abs() ** 2
    # A UE switched off (u_k = 0, e.g. by water-filling) stays off; a floor far below the other
    # UEs' weights keeps eigh well conditioned without changing the precoders measurably.
    d = d.clamp_min(1e-15 * d.amax(-1, keepdim=True))
    ds = torch.sqrt(d)
    lam, q = torch.linalg.eigh(ds.unsqueeze(-1) * gram * ds.unsqueeze(-2))
    # M is PSD: eigenvalues below eps * max are rounding noise; the floor keeps pw(0) finite.
    lam = lam.clamp_min(torch.finfo(lam.dtype).eps * lam.amax(-1, keepdim=True))
    f = q.mH * (u.conj() * w / ds).unsqueeze(-2)  # Q^H D^-1/2 E, [..., K, K]
    lf = lam * (f.abs() ** 2).sum(-1)  # [..., K] per eigen-direction
    need = (lf / lam**2).sum(-1) > power  # else mu = 0 meets the constraint
    # Start left of the root: ||V(mu)||^2 >= lf_i / (L_i + mu)^2 for every i.
    mu = (torch.sqrt(lf / power) - lam).amax(-1).clamp_min(0.0)
    mu = torch.where(need, mu, torch.zeros_like(mu))
    target = power**-0.5
    for _ in range(n_newton):
        t = lam + mu.unsqueeze(-1)
        pw = (lf / t**2).sum(-1)
        dpw = -2.0 * (lf / t**3).sum(-1)
        step = (target - pw**-0.5) / (-0.5 * pw**-1.5 * dpw)
        mu = torch.where(need, mu + step.clamp_min(0.0), mu)
    x = ds.unsqueeze(-1) * (q @ (f / (lam + mu.unsqueeze(-1)).unsqueeze(-1)))
    v = h.mH @ x.to(h.dtype)
    return v * torch.sqrt(power / (v.abs() ** 2).sum((-2, -1), keepdim=True))


def _wmmse_receivers(h, v, noise):
    """Shi et al. Table I: MMSE receiver u_k and weight w_k = 1 / e_k (single-antenna UEs)."""
    g = h @ v
    hv = torch.diagonal(g, dim1=-2, dim2=-1)
    total = (g.abs() ** 2).sum(-1) + noise
    u = hv.conj() / total
    e = 1 - (hv.abs() ** 2) / total  # MMSE with that receiver
    return u, 1.0 / e.clamp_min(1e-300)


def wmmse(
    h: torch.Tensor,
    power: float,
    noise: float,
    inits: Sequence[str] = ("zf_wf", "rzf", "mrt", "random"),
    n_random: int = 2,
    max_iter: int = 500,
    tol: float = 1e-6,
    generator: torch.Generator | None = None,
    v0: torch.Tensor | None = None,
) -> WmmseResult:
    """Weighted MMSE sum-rate precoders (Shi et al. 2011), from several initialisations.

    Each iteration updates the MMSE receivers, the weights w_k = 1/MSE_k and then the precoders
    (:func:`_wmmse_precoders`); the sum rate never decreases. Stops when every sample's sum rate
    changed by less than ``tol`` (relative) in one iteration, or after ``max_iter``.

    :param h: channels [..., K, N], complex (complex128 recommended)
    :param inits: names in :data:`PRECODERS` and/or "random" (``n_random`` Gaussian draws from
        ``generator``, scaled to power P)
    :param v0: precoders [..., N, K] at power P to start from as well (the last
        initialisation), e.g. a learned beamformer's output refined by a few iterations
    """
    _check_shapes(h, power)
    names = [n for n in inits for _ in range(n_random if n == "random" else 1)]
    bad = [n for n in names if n != "random" and n not in PRECODERS]
    if bad or not (names or v0 is not None):
        raise ValueError(f"wmmse: inits: unknown {bad or 'empty'}; use {sorted(PRECODERS)} or "
                         "'random'")
    starts = [_wmmse_init(h, power, noise, n, generator) for n in names]
    if v0 is not None:
        starts.append(v0.to(h.dtype))
    v = torch.stack(starts, 0)
    hb = h.unsqueeze(0).expand(len(starts), *h.shape)
    gram = hb @ hb.mH
    rate = sum_rate(hb, v, noise)
    history = [rate]
    it = 0
    for it in range(1, max_iter + 1):
        u, w = _wmmse_receivers(hb, v, noise)
        v = _wmmse_precoders(hb, gram, u, w, power)
        new = sum_rate(hb, v, noise)
        history.append(new)
        done = bool(((new - rate).abs() <= tol * new.abs().clamp_min(1.0)).all())
        rate = new
        if done:
            break
    hist = torch.stack(history, 0).movedim(1, -1)  # [n_iter + 1, ..., n_init]
    best = rate.argmax(0)  # [...]
    idx = best.reshape(1, *best.shape, 1, 1).expand(1, *v.shape[1:])
    return WmmseResult(v=torch.gather(v, 0, idx)[0], rate=rate.max(0).values, history=hist,
                       best_init=best, n_iter=it)


PRECODERS: dict[str, Callable[..., torch.Tensor]] = {
    "mrt": mrt,
    "zf": zf,
    "rzf": rzf,
    "zf_wf": zf_wf,
}
"""Closed-form precoders by name: ``fn(h, power, noise) -> v`` [..., N, K]."""


def classical_sum_rates(h: torch.Tensor, power: float, noise: float, **wmmse_kw
                        ) -> dict[str, torch.Tensor]:
    """Sum rate [...] of every closed-form precoder and of WMMSE, keyed by name."""
    out = {name: sum_rate(h, fn(h, power, noise), noise) for name, fn in PRECODERS.items()}
    out["wmmse"] = wmmse(h, power, noise, **wmmse_kw).rate
    return out


# -- channels ---------------------------------------------------------------------------------


def rayleigh(batch: int, n_ues: int, n_antennas: int, generator: torch.Generator | None = None,
             dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """I.i.d. Rayleigh channels, entries CN(0, 1): [batch, K, N]."""
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    shape = (batch, n_ues, n_antennas)
    re = torch.randn(shape, generator=generator, dtype=real)
    im = torch.randn(shape, generator=generator, dtype=real)
    return torch.complex(re, im) / math.sqrt(2.0)


# -- cost per decision ------------------------------------------------------------------------


def _linalg_flops(name: str, shapes: list[tuple[int, ...]], complex_: bool) -> float:
    """Textbook real-FLOP counts of dense kernels (Golub and Van Loan, 4th ed.); a complex
    kernel costs 4x its real count."""
    if not shapes or len(shapes[0]) < 2:
        return 0.0
    *batch, n, _ = shapes[0]
    b = math.prod(batch) if batch else 1
    rhs = shapes[1][-1] if len(shapes) > 1 and len(shapes[1]) >= 2 else 0
    per = {
        "_linalg_eigh": 9.0 * n**3,  # tridiagonalisation + implicit QR with vectors
        "linalg_cholesky_ex": n**3 / 3.0,
        "linalg_solve_triangular": float(n * n * rhs),
        "_linalg_solve_ex": 2.0 * n**3 / 3.0 + 2.0 * n * n * rhs,
        "linalg_inv_ex": 2.0 * n**3,
        "linalg_lu_factor_ex": 2.0 * n**3 / 3.0,
    }.get(name, 0.0)
    return b * per * (4.0 if complex_ else 1.0)


class _ExtraFlops(TorchDispatchMode):
    """Counts what FlopCounterMode leaves out: dense linear algebra kernels and the 6 of 8 real
    FLOPs per complex multiply-add of a complex matrix product."""

    _PRODUCTS = frozenset({"mm", "bmm", "addmm", "baddbmm"})

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0.0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        cplx = any(t.is_complex() for t in tensors)
        if name in self._PRODUCTS and cplx:
            a, b = tensors[-2], tensors[-1]
            self.flops += 6.0 * a.shape[:-1].numel() * a.shape[-1] * b.shape[-1]
        else:
            self.flops += _linalg_flops(name, [tuple(t.shape) for t in tensors], cplx)
        return out


@dataclass(frozen=True)
class DecisionCost:
    """Cost of one beamforming decision.

    :ivar flops: real FLOPs (see the module docstring)
    :ivar counted_flops: the part counted by :func:`edgelam_ns3.compute.measure`
    :ivar time_s: median wall time over ``repeats`` runs on this machine's CPU [s] (NaN with
        ``repeats=0``)
    """

    flops: float
    counted_flops: float
    time_s: float


def decision_cost(fn: Callable[[], object], repeats: int = 20) -> DecisionCost:
    """FLOPs and median wall time of ``fn()`` (one decision; run under torch.no_grad).
    ``repeats=0`` counts the FLOPs only (``fn`` runs once)."""
    from edgelam_ns3.compute import measure

    with torch.no_grad():
        with _ExtraFlops() as extra:
            counted = measure(fn).flops
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    times.sort()
    return DecisionCost(flops=float(counted + extra.flops), counted_flops=float(counted),
                        time_s=times[len(times) // 2] if times else math.nan)


# -- training the GNN -------------------------------------------------------------------------


def train_gnn(
    model: torch.nn.Module,
    channels: Callable[[int, torch.Generator], torch.Tensor],
    snr_db: Sequence[float],
    steps: int,
    batch: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    clip: float = 1.0,
    log: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Unsupervised training on the negative mean sum rate (noise = 1, P = 10^(SNR/10)).

    Each step draws ``channels(batch, generator)`` [batch, K, N] and one SNR from ``snr_db``;
    Adam with cosine decay, gradients clipped to norm ``clip``. Returns the mean sum rate of
    each step's batch [bit/s/Hz] (before that step's update)."""
    if steps < 1 or batch < 1 or not snr_db:
        raise ValueError("train_gnn: steps and batch must be >= 1 and snr_db non-empty")
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    rates = []
    for step in range(steps):
        h = channels(batch, gen)
        snr = snr_db[int(torch.randint(len(snr_db), (1,), generator=gen))]
        power = 10.0 ** (snr / 10.0)
        rate = sum_rate(h, model(h, power, 1.0), 1.0).mean()
        opt.zero_grad()
        (-rate).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        sched.step()
        rates.append(float(rate.detach()))
        if log is not None:
            log(step, rates[-1])
    return rates


def csi_samples(h: "object", rx: int = 0) -> torch.Tensor:
    """Multi-user channels from a CSI dataset array (:mod:`edgelam_ns3.datasets.csi` layout
    ``[n_drops, n_ues, n_steps, n_rx, n_tx, n_subbands]``): every (drop, step, subband) is one
    sample of the drop's UEs seen by UE antenna ``rx``: [n_drops * n_steps * n_subbands, K, N],
    complex128. Each UE keeps the dataset's normalisation (unit mean power per entry)."""
    x = torch.as_tensor(h)[:, :, :, rx]  # [D, U, T, A, S]
    x = x.permute(0, 2, 4, 1, 3)  # [D, T, S, U, A]
    return x.reshape(-1, x.shape[-2], x.shape[-1]).to(torch.complex128)
