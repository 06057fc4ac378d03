"""Channel predictors: from P past CSI samples (noisy pilots) to the next F samples.

Shapes: a window's history ``hist`` is [N, P, M, S] complex (N windows, M ports, S subbands),
the prediction [N, F, M, S]. The time axis is uniform at the pilot period.

Classical (numpy, no training):

- :func:`predict_outdated`: the last noisy sample, held (outdated CSI);
- :func:`ar_fit` / :func:`predict_ar`: AR(p) with complex coefficients shared by all M x S
  entries of one window, fitted by (ridge-regularised) least squares on that window's noisy
  history, its poles kept inside the unit circle, and iterated forward. A sum of K rays with fixed Doppler shifts obeys an AR(K)
  recursion exactly, so on sum-of-rays channels AR is a strong baseline;
- :class:`WienerPredictor`: the linear MMSE (Wiener) predictor with the second-order statistics
  estimated on training windows: ``fut[f] = sum_k W[f, k] hist[k]`` for every entry, W from the
  normal equations over all training entries (noisy history -> true future).

Learned (torch; each maps one port's series [B, P, S] complex to [B, F, S] complex, ports are
the batch and share the weights):

- :class:`LamPredictor` (LLM4CP-style, Liu et al. 2024): per time step the frequency-domain CSI
  and its delay-domain transform (IDFT over subbands) as real features, an embedding MLP, a
  GPT-2 backbone (transformers :class:`~transformers.GPT2Model` from a config, fed with
  ``inputs_embeds``), LoRA adapters via peft (:func:`add_lora`: backbone frozen, adapters,
  embedding and head trainable) and a linear head over all time steps;
- :class:`RnnPredictor` (GRU or LSTM) and :class:`TransformerPredictor` (a small encoder trained
  from scratch) with the same features and the same kind of head.

Every learned model normalises each series by the RMS of its history and predicts the change from
the last (noisy) sample: ``pred = hist[-1] + scale * head(...)``, so an untrained head starts
from outdated CSI.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["predict_outdated", "ar_fit", "stabilise_ar", "predict_ar", "WienerPredictor", "csi_features",
           "LamPredictor", "RnnPredictor", "TransformerPredictor", "add_lora", "n_parameters",
           "predict_learned", "ArPredictor"]


# -- classical ------------------------------------------------------------------------------


def predict_outdated(hist: np.ndarray, future: int) -> np.ndarray:
    """Outdated CSI: the last sample of ``hist`` [N, P, ...] repeated ``future`` times."""
    return np.repeat(hist[:, -1:], future, axis=1)


def _lagged(x: np.ndarray, p: int):
    """For x [N, T, E]: regressors [N, T-p, p, E] (lag 1..p) and targets [N, T-p, E]."""
    t = x.shape[1]
    regs = np.stack([x[:, p - 1 - k:t - 1 - k] for k in range(p)], axis=2)
    return regs, x[:, p:]


def ar_fit(x: np.ndarray, p: int, ridge: float = 0.0) -> np.ndarray:
    """Least-squares AR(p) coefficients of each window, shared across its entries.

    Solves ``min_a sum_{t,e} |x[t, e] - sum_k a[k] x[t-1-k, e]|^2 + ridge * tr(G)/p * |a|^2``
    (G the Gram matrix of the regressors) per window.

    :param x: [N, T, E] complex (or [T, E]), T > p
    :param p: order >= 1
    :param ridge: relative Tikhonov weight >= 0 (0: plain least squares)
    :output a: [N, p] complex (or [p]), ``a[k]`` multiplies lag k + 1
    """
    single = x.ndim == 2
    x = x[None] if single else x
    if not 1 <= p < x.shape[1]:
        raise ValueError(f"AR order p={p} must be in [1, T-1] for T={x.shape[1]} samples")
    regs, y = _lagged(x, p)
    n = x.shape[0]
    r = np.moveaxis(regs, 2, 1).reshape(n, p, -1)  # [N, p, (T-p) * E]
    g = r.conj() @ np.swapaxes(r, 1, 2)
    b = (r.conj() @ y.reshape(n, -1, 1))[..., 0]
    lam = ridge * np.real(np.trace(g, axis1=1, axis2=2)) / p + 1e-12
    a = np.linalg.solve(g + lam[:, None, None] * np.eye(p), b[..., None])[..., 0]
    return a[0] if single else a


def stabilise_ar(a: np.ndarray) -> np.ndarray:
    """Move the poles of AR coefficients [N, p] that lie outside the unit circle onto it.

    The poles are the roots of ``z^p - a[0] z^(p-1) - ... - a[p-1]``; a pole with |z| > 1 makes
    the iterated prediction grow without bound (least squares on a short, nearly noise-free
    window can give one), while a Doppler tone has |z| = 1, so ``z -> z / |z|``.
    """
    out = a.copy()
    for i, coef in enumerate(a):
        z = np.roots(np.concatenate([[1.0], -coef]))
        big = np.abs(z) > 1
        if np.any(big):
            z[big] /= np.abs(z[big])
            out[i] = -np.poly(z)[1:]
    return out


def predict_ar(hist: np.ndarray, future: int, p: int, ridge: float = 0.0,
               stable: bool = True) -> np.ndarray:
    """AR(p) prediction: fit :func:`ar_fit` on each window's ``hist`` [N, P, ...] and iterate,
    with the poles projected into the closed unit disc (:func:`stabilise_ar`) if ``stable``.

    :output pred: [N, future, ...] like ``hist``
    """
    n, t = hist.shape[:2]
    x = hist.reshape(n, t, -1)
    a = ar_fit(x, p, ridge)
    a = stabilise_ar(a) if stable else a
    buf = list(np.moveaxis(x[:, t - p:], 1, 0))  # the last p samples, oldest first
    out = []
    for _ in range(future):
        nxt = sum(a[:, k, None] * buf[-1 - k] for k in range(p))
        buf.append(nxt)
        out.append(nxt)
    return np.stack(out, 1).reshape((n, future) + hist.shape[2:]).astype(hist.dtype)


class WienerPredictor:
    """Linear MMSE predictor with statistics from training windows (see the module docstring).

    :param ridge: relative Tikhonov weight on the P x P correlation matrix
    """

    def __init__(self, ridge: float = 1e-6):
        self.ridge = ridge
        self.w: np.ndarray | None = None

    def fit(self, hist: np.ndarray, fut: np.ndarray) -> "WienerPredictor":
        """:param hist: [N, P, ...] noisy history; :param fut: [N, F, ...] true future."""
        n, p = hist.shape[:2]
        x = np.moveaxis(hist.reshape(n, p, -1), 1, 2).reshape(-1, p)  # [N*E, P]
        y = np.moveaxis(fut.reshape(n, fut.shape[1], -1), 1, 2).reshape(-1, fut.shape[1])
        r = x.conj().T @ x
        r += self.ridge * np.real(np.trace(r)) / p * np.eye(p)
        self.w = np.linalg.solve(r, x.conj().T @ y).T  # [F, P]
        return self

    def predict(self, hist: np.ndarray) -> np.ndarray:
        if self.w is None:
            raise RuntimeError("WienerPredictor: call fit() first")
        return np.einsum("fp,np...->nf...", self.w, hist).astype(hist.dtype)


def _cmm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Complex matrix product from four real ones, so that torch's FLOP counter charges the
    8 real FLOPs of each complex multiply-add (it counts a complex ``mm`` as a real one)."""
    re = a.real @ b.real - a.imag @ b.imag
    im = a.real @ b.imag + a.imag @ b.real
    return torch.complex(re, im)


class ArPredictor(nn.Module):
    """:func:`predict_ar` in torch (same fit, pole projection and recursion), so that
    :func:`edgelam_ns3.compute.measure` counts its FLOPs: the Gram matrix, right-hand side and
    recursion are real matrix products; the p x p solve and the pole projection (numpy) are
    not counted (p^3, negligible next to the Gram matrix's (P - p) E p^2).

    :param p: AR order; :param future: steps predicted; :param ridge: as :func:`ar_fit`
    """

    def __init__(self, p: int, future: int = 1, ridge: float = 0.0):
        super().__init__()
        self.p, self.future, self.ridge = p, future, ridge

    def forward(self, hist: torch.Tensor) -> torch.Tensor:
        """:param hist: [N, P, E] complex64; :output: [N, future, E] complex64."""
        n, t, e = hist.shape
        p = self.p
        if not 1 <= p < t:
            raise ValueError(f"AR order p={p} must be in [1, T-1] for T={t} samples")
        x = hist.to(torch.complex128)
        regs = torch.stack([x[:, p - 1 - k:t - 1 - k] for k in range(p)], dim=1)  # [N,p,T-p,E]
        r = regs.reshape(n, p, -1)
        y = x[:, p:].reshape(n, -1, 1)
        rc = r.conj()
        g = _cmm(rc, r.transpose(1, 2))
        b = _cmm(rc, y)[..., 0]
        lam = self.ridge * torch.diagonal(g, dim1=1, dim2=2).real.sum(-1) / p + 1e-12
        eye = torch.eye(p, dtype=g.dtype)
        a = torch.linalg.solve(g + lam[:, None, None] * eye, b[..., None])[..., 0]
        a = torch.from_numpy(stabilise_ar(a.numpy()))
        buf = x[:, t - p:].flip(1).transpose(1, 2)  # [N, E, p], newest first
        out = []
        for _ in range(self.future):
            nxt = _cmm(buf, a[:, :, None])[..., 0]  # [N, E]
            out.append(nxt)
            buf = torch.cat([nxt[..., None], buf[..., :-1]], dim=-1)
        return torch.stack(out, 1).to(hist.dtype)


# -- learned --------------------------------------------------------------------------------


def csi_features(x: torch.Tensor) -> torch.Tensor:
    """[B, P, S] complex -> [B, P, 4S] real: frequency domain (re, im) and delay domain (re, im,
    the orthonormal IDFT over subbands), as LLM4CP's two preprocessing branches."""
    d = torch.fft.ifft(x, dim=-1, norm="ortho")
    return torch.cat([x.real, x.imag, d.real, d.imag], dim=-1)


class _Learned(nn.Module):
    """Shared normalisation, features and head. Subclasses set ``parts['embed']``,
    ``parts['core']`` (a [B, P, d] -> [B, P, d] map) and call :meth:`_build_head`."""

    def __init__(self, past: int, future: int, n_subbands: int):
        super().__init__()
        self.past, self.future, self.n_subbands = past, future, n_subbands
        self.parts = nn.ModuleDict()

    def _build_head(self, d: int) -> None:
        self.parts["head"] = nn.Linear(self.past * d, self.future * 2 * self.n_subbands)

    def _core(self, z: torch.Tensor) -> torch.Tensor:
        return self.parts["core"](z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:param x: [B, P, S] complex64 history; :output: [B, F, S] complex64 prediction."""
        if x.shape[1:] != (self.past, self.n_subbands):
            raise ValueError(f"expected [B, {self.past}, {self.n_subbands}] history, got "
                             f"{list(x.shape)}")
        scale = x.abs().pow(2).mean(dim=(1, 2), keepdim=True).sqrt().clamp_min(1e-12)
        z = self.parts["embed"](csi_features(x / scale))
        z = self._core(z)
        out = self.parts["head"](z.flatten(1)).view(-1, self.future, 2, self.n_subbands)
        return x[:, -1:] + torch.complex(out[:, :, 0], out[:, :, 1]) * scale


def _embed(n_subbands: int, d: int) -> nn.Module:
    return nn.Sequential(nn.Linear(4 * n_subbands, d), nn.GELU(), nn.Linear(d, d))


class LamPredictor(_Learned):
    """LLM4CP-style predictor: features -> embedding -> GPT-2 backbone -> linear head.

    :param n_embd, n_layer, n_head: the GPT-2 config (a small one; no weights are downloaded)
    """

    def __init__(self, past: int = 16, future: int = 4, n_subbands: int = 48, n_embd: int = 128,
                 n_layer: int = 4, n_head: int = 4):
        super().__init__(past, future, n_subbands)
        from transformers import GPT2Config, GPT2Model

        cfg = GPT2Config(vocab_size=1, n_positions=past, n_embd=n_embd, n_layer=n_layer,
                         n_head=n_head, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                         use_cache=False, attn_implementation="eager",
                         bos_token_id=None, eos_token_id=None)
        self.parts["embed"] = _embed(n_subbands, n_embd)
        self.parts["backbone"] = GPT2Model(cfg)
        self._build_head(n_embd)

    def _core(self, z: torch.Tensor) -> torch.Tensor:
        return self.parts["backbone"](inputs_embeds=z).last_hidden_state


def add_lora(model: LamPredictor, r: int = 8, alpha: float = 16.0) -> LamPredictor:
    """Freeze the GPT-2 backbone and inject peft LoRA adapters into its attention and MLP
    projections (``c_attn``, ``c_proj``; B = 0 so the function is unchanged at first). The
    embedding and head stay trainable, as in LLM4CP."""
    from peft import inject_adapter_in_model

    from .lora_split import gpt2_lora_config

    backbone = model.parts["backbone"]
    for p in backbone.parameters():
        p.requires_grad_(False)
    inject_adapter_in_model(gpt2_lora_config(r=r, alpha=alpha), backbone)
    return model


class RnnPredictor(_Learned):
    """GRU or LSTM over the time steps (``kind`` 'gru' or 'lstm'), the same features and head."""

    def __init__(self, kind: str = "gru", past: int = 16, future: int = 4, n_subbands: int = 48,
                 hidden: int = 128, n_layers: int = 2):
        super().__init__(past, future, n_subbands)
        if kind not in ("gru", "lstm"):
            raise ValueError(f"RnnPredictor: kind must be 'gru' or 'lstm', got {kind!r}")
        self.parts["embed"] = _embed(n_subbands, hidden)
        rnn = nn.GRU if kind == "gru" else nn.LSTM
        self.parts["core"] = rnn(hidden, hidden, n_layers, batch_first=True)
        self._build_head(hidden)

    def _core(self, z: torch.Tensor) -> torch.Tensor:
        return self.parts["core"](z)[0]


class TransformerPredictor(_Learned):
    """A small transformer encoder trained from scratch (learned positions, full attention)."""

    def __init__(self, past: int = 16, future: int = 4, n_subbands: int = 48, d: int = 64,
                 n_layers: int = 2, n_head: int = 4):
        super().__init__(past, future, n_subbands)
        self.parts["embed"] = _embed(n_subbands, d)
        self.pos = nn.Parameter(torch.zeros(1, past, d))
        layer = nn.TransformerEncoderLayer(d, n_head, 4 * d, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.parts["core"] = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self._build_head(d)

    def _core(self, z: torch.Tensor) -> torch.Tensor:
        return self.parts["core"](z + self.pos)


def n_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def predict_learned(model: _Learned, hist: np.ndarray, batch: int = 4096) -> np.ndarray:
    """Apply a learned per-port model to windows ``hist`` [N, P, M, S] -> [N, F, M, S]."""
    n, p, m, s = hist.shape
    x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(hist, 2, 1)).reshape(n * m, p, s))
    x = x.to(torch.complex64)
    model.eval()
    out = torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])
    return np.moveaxis(out.numpy().reshape(n, m, model.future, s), 1, 2)

