"""Offline channel prediction: training, metrics and the predictor comparison of issue 11.

Data come from :mod:`edgelam_ns3.datasets.csi` (windows of P past and F future samples, the
history with pilot noise, the future noise-free); predictors from
:mod:`edgelam_ns3.models.channel_predictors`.

Metrics:

- NMSE of window n at horizon step f: ``sum_{m,s} |H^ - H|^2 / sum_{m,s} |H|^2``, averaged over
  windows (per speed), in dB: ``10 log10(mean_n NMSE_n)`` (:func:`nmse_per_window`);
- spectral efficiency of MRT precoding from the predicted CSI (:func:`mrt_spectral_efficiency`):
  per subband ``w = conj(h^) / |h^|`` over the gNB ports, ``log2(1 + rho |h^T w|^2)`` on the true
  channel with ``rho`` the SNR per port and unit mean channel power per entry, averaged over
  subbands;
- parameters, FLOPs (counted by :func:`edgelam_ns3.compute.measure` for the torch models,
  analytic for the numpy ones: a complex multiply-add is 8 real FLOPs), the roofline time of one
  prediction (one UE's window, all ports) on a device profile, and its wall time on this CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["nmse_per_window", "nmse_db", "mrt_spectral_efficiency", "TrainConfig", "train",
           "trainable_state", "load_trainable_state", "federated_finetune", "tune_ar", "ar_flops",
           "wiener_flops", "cost_of"]


def nmse_per_window(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """[N, F, ...] prediction and truth -> [N, F] linear NMSE over the remaining axes."""
    n, f = true.shape[:2]
    err = np.abs(pred - true).reshape(n, f, -1) ** 2
    return err.sum(-1) / (np.abs(true).reshape(n, f, -1) ** 2).sum(-1)


def nmse_db(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean NMSE over windows and horizon steps, in dB."""
    return float(10 * np.log10(nmse_per_window(pred, true).mean()))


def mrt_spectral_efficiency(pred: np.ndarray, true: np.ndarray, snr_db: float = 0.0):
    """Spectral efficiency [bit/s/Hz] of MRT designed on ``pred`` and used on ``true``.

    :param pred, true: [N, F, M, S] complex (M gNB ports, one UE antenna)
    :param snr_db: SNR per port (transmit power over noise, unit mean channel power)
    :output se: [N, F], averaged over subbands
    """
    w = pred.conj() / np.linalg.norm(pred, axis=2, keepdims=True).clip(1e-30)
    gain = np.abs(np.sum(true * w, axis=2)) ** 2
    return np.log2(1 + 10 ** (snr_db / 10) * gain).mean(-1)


# -- training -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """The same budget for every learned predictor.

    :param steps: optimiser steps
    :param batch: port series per step, drawn with replacement; None: every series, in order
    :param lr: peak learning rate
    :param snrs_db: pilot SNRs drawn per series (None = noise-free), relative to the window
    :param optimizer: 'adamw' or 'sgd' (plain, no momentum)
    :param schedule: 'onecycle' (5 % warm-up, cosine decay to 0) or 'constant'
    """

    steps: int = 600
    batch: int | None = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    snrs_db: tuple = (10.0, 20.0, None)
    seed: int = 0
    optimizer: str = "adamw"
    schedule: str = "onecycle"

    def __post_init__(self):
        if self.optimizer not in ("adamw", "sgd"):
            raise ValueError(f"TrainConfig.optimizer: 'adamw' or 'sgd', got {self.optimizer!r}")
        if self.schedule not in ("onecycle", "constant"):
            raise ValueError(f"TrainConfig.schedule: 'onecycle' or 'constant', got "
                             f"{self.schedule!r}")
        if self.steps < 1 or (self.batch is not None and self.batch < 1):
            raise ValueError("TrainConfig.steps and batch must be >= 1")


def _port_series(hist: np.ndarray, fut: np.ndarray):
    """[N, P, M, S], [N, F, M, S] -> per-port tensors [N*M, P, S], [N*M, F, S] and the window
    power of each series [N*M]."""
    n, p, m, s = hist.shape
    x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(hist, 2, 1)).reshape(n * m, p, s))
    y = torch.from_numpy(np.ascontiguousarray(np.moveaxis(fut, 2, 1)).reshape(n * m, -1, s))
    pw = np.repeat(np.mean(np.abs(hist) ** 2, axis=(1, 2, 3)), m)
    return x.to(torch.complex64), y.to(torch.complex64), torch.from_numpy(pw).float()


def _noisy(x: torch.Tensor, pw: torch.Tensor, snrs_db, g: torch.Generator) -> torch.Tensor:
    choice = torch.randint(len(snrs_db), (len(x),), generator=g)
    lin = torch.tensor([0.0 if s is None else 10 ** (-s / 10) for s in snrs_db])[choice]
    sigma = (pw * lin / 2).sqrt()[:, None, None]
    n = torch.complex(torch.randn(x.shape, generator=g), torch.randn(x.shape, generator=g))
    return x + sigma * n


def train(model: torch.nn.Module, hist: np.ndarray, fut: np.ndarray, cfg: TrainConfig,
          log_every: int = 0) -> list[float]:
    """Train ``model`` (a per-port predictor) on noise-free windows ``hist`` [N, P, M, S] ->
    ``fut`` [N, F, M, S]; pilot noise is drawn anew for every batch at one of ``cfg.snrs_db``.
    Loss: the NMSE of each series, averaged. Only parameters with ``requires_grad`` train.

    :output losses: the loss of every step
    """
    g = torch.Generator().manual_seed(cfg.seed)
    x, y, pw = _port_series(hist, fut)
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = (torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.steps,
                                                 pct_start=0.05)
             if cfg.schedule == "onecycle" else None)
    model.train()
    losses, t0 = [], time.perf_counter()
    for step in range(cfg.steps):
        idx = (torch.arange(len(x)) if cfg.batch is None
               else torch.randint(len(x), (cfg.batch,), generator=g))
        pred = model(_noisy(x[idx], pw[idx], cfg.snrs_db, g))
        err = (pred - y[idx]).abs().pow(2).sum((1, 2)) / y[idx].abs().pow(2).sum((1, 2))
        loss = err.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(float(loss.detach()))
        if log_every and (step + 1) % log_every == 0:
            print(f"  step {step + 1}/{cfg.steps}: loss {np.mean(losses[-log_every:]):.4f} "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)
    model.eval()
    return losses


# -- federated fine-tuning ------------------------------------------------------------------


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Copies of the trainable parameters (LoRA adapters, embedding, head for the LAM)."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    params = dict(model.named_parameters())
    if set(state) != {n for n, p in params.items() if p.requires_grad}:
        raise ValueError("state does not hold exactly the model's trainable parameters")
    with torch.no_grad():
        for n, v in state.items():
            params[n].copy_(v)


def federated_finetune(model: torch.nn.Module, shards, rounds: int, local: TrainConfig,
                       on_round=None) -> list[dict]:
    """FedAvg over edge servers: each round every server starts from the global trainable state,
    trains ``local`` on its shard (its cells' windows ``(hist, fut)``), and the states are
    averaged weighted by shard size (:func:`edgelam_ns3.models.lora_split.fedavg`). The model
    ends with the global state. Optimiser state restarts every round.

    :param shards: K pairs ``(hist [N_k, P, M, S], fut [N_k, F, M, S])``
    :param on_round: optional ``f(round, model) -> dict`` merged into the round's log
    :output log: per round: ``round``, ``uplink_bytes`` and ``downlink_bytes`` (K copies of the
        trainable state, float32), plus ``on_round``'s entries
    """
    from dataclasses import replace

    from .models.lora_split import fedavg, state_dict_nbytes

    glob = trainable_state(model)
    nbytes = state_dict_nbytes(glob)
    log = []
    for r in range(rounds):
        states, sizes = [], []
        for k, (h, f) in enumerate(shards):
            load_trainable_state(model, glob)
            train(model, h, f, replace(local, seed=local.seed + 1000 * r + k))
            states.append(trainable_state(model))
            sizes.append(len(h))
        glob = fedavg(states, sizes)
        load_trainable_state(model, glob)
        entry = {"round": r + 1, "uplink_bytes": nbytes * len(shards),
                 "downlink_bytes": nbytes * len(shards)}
        log.append({**entry, **(on_round(r + 1, model) if on_round else {})})
    return log


# -- classical tuning and costs -------------------------------------------------------------


def tune_ar(hist_noisy: np.ndarray, fut: np.ndarray, orders=(1, 2, 3, 4, 6, 8, 10, 12),
            ridges=(0.0, 1e-3, 1e-2, 1e-1, 1.0)):
    """Pick the AR order and ridge weight with the lowest NMSE on validation windows.

    :output (p, ridge, nmse_db): the best pair and its validation NMSE
    """
    from .models.channel_predictors import predict_ar

    best = None
    for p in orders:
        if p >= hist_noisy.shape[1]:
            continue
        for r in ridges:
            v = nmse_db(predict_ar(hist_noisy, fut.shape[1], p, r), fut)
            if best is None or v < best[2]:
                best = (p, r, v)
    return best


def ar_flops(past: int, future: int, p: int, n_entries: int) -> int:
    """Real FLOPs of one AR(p) prediction: the Gram matrix and right-hand side
    ((P - p) * E * (p^2 + p) complex MACs), the p x p solve (~p^3 / 3 complex MACs), and F
    recursive steps of p complex MACs per entry."""
    macs = (past - p) * n_entries * (p * p + p) + p**3 // 3 + future * p * n_entries
    return 8 * macs


def wiener_flops(past: int, future: int, n_entries: int) -> int:
    """Real FLOPs of one Wiener prediction: F x P complex MACs per entry."""
    return 8 * future * past * n_entries


@dataclass
class Cost:
    params: int
    flops: int
    bytes_moved: int
    wall_s: float
    edge_s: float
    extra: dict = field(default_factory=dict)


def _lstm_flops(model: torch.nn.Module, batch: int, steps: int) -> int:
    """FLOPs of the LSTMs in ``model`` (2 * 4 h (in + h) per step, layer and series), which
    torch's FLOP counter does not see in the fused CPU kernel."""
    total = 0
    for m in model.modules():
        if isinstance(m, torch.nn.LSTM):
            h = m.hidden_size
            for layer in range(m.num_layers):
                d_in = m.input_size if layer == 0 else h
                total += 2 * 4 * h * (d_in + h) * steps * batch
    return total


def cost_of(model: torch.nn.Module, one_window: torch.Tensor, profile: str = "edge_gpu_server",
            repeats: int = 5) -> Cost:
    """Parameters, counted FLOPs and bytes, median wall time on this CPU, and roofline time on
    ``profile`` of one prediction: ``model(one_window)``, one_window [M, P, S] (a UE's ports).

    FLOPs are counted with gradients enabled and the model in training mode (every model here
    has dropout 0, so the function is the same): in eval mode under no_grad, PyTorch's
    transformer encoder takes a fused fast path the FLOP counter does not see. LSTM FLOPs are
    added analytically (:func:`_lstm_flops`)."""
    from .compute import duration_s, get_profile, measure
    from .models.channel_predictors import n_parameters

    model.train()
    with torch.enable_grad():
        job = measure(model, one_window)
    flops = job.flops + _lstm_flops(model, one_window.shape[0], one_window.shape[1])
    model.eval()
    with torch.no_grad():
        walls = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            model(one_window)
            walls.append(time.perf_counter() - t0)
    edge = duration_s(get_profile(profile), flops, job.bytes_moved)
    return Cost(n_parameters(model), flops, job.bytes_moved, float(np.median(walls)), edge)
