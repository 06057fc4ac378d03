r"""Differential privacy for split-federated fine-tuning: the Gaussian mechanism and its accounting.

Mechanism (Dwork & Roth, "The Algorithmic Foundations of Differential Privacy", 2014, §A; as used
by DP-SGD, Abadi et al., CCS 2016, and DP-FedAvg, McMahan et al., ICLR 2018): an update
:math:`g` (a list of per-parameter tensors, treated as one vector) is clipped to L2 norm at most
:math:`C` (``max_norm``), and Gaussian noise :math:`\mathcal N(0, \sigma^2 C^2 I)` is added, with
:math:`\sigma` the ``noise_multiplier``.

What the clipping bounds:

- :func:`private_sum` clips **each device's update** to :math:`C`, sums them, and adds the noise
  once. One device's participation then changes the sum by at most :math:`C` (its L2
  sensitivity), so the guarantee is **device-level** (user-level) DP: neighbouring datasets
  differ in one device's whole local data. It needs per-device gradients, e.g. from
  :func:`edgelam_ns3.models.lora_split.server_backward_many` with ``per_device_grads``.
- :func:`clip_and_noise` clips **the update it is given, as a whole**, once. Called on one
  device's update it is the per-device clip plus noise (local DP of that update). Called on an
  already aggregated update, the clipped aggregate can move by up to :math:`2C` when one device
  joins or leaves, so the device-level guarantee is that of noise multiplier :math:`\sigma / 2`.

Accounting (:class:`DeviceAccountant`), per device, from the rounds it actually took part in:

- a policy that chooses devices **deterministically** (``all``, ``round_robin``,
  ``channel_aware``, ``lyapunov``: the choice follows from the round index, the link states or
  the participation history, none of it secret) gives no amplification: device :math:`i`'s
  :math:`\varepsilon_i` is that of :math:`n_i` Gaussian mechanisms composed (sample rate 1),
  :math:`n_i` the rounds it was scheduled in. A device scheduled every round of 40 with
  :math:`\sigma = 1`, :math:`\delta = 10^{-5}` has :math:`\varepsilon \approx 48.8`; one
  scheduled in 10 of them :math:`\approx 19.1`;
- a policy that chooses **at random with a known rate** (``random``: k of N devices, seeded)
  gets privacy amplification by subsampling: every device is accounted in every round at sample
  rate :math:`q = k / N` (40 rounds, :math:`q = 1/4`: :math:`\varepsilon \approx 12.5` for each
  device). Two assumptions come with it: the adversary does not learn which devices were
  scheduled (on a radio link, who transmits is observable to whoever watches the air), and
  Opacus's analysis is that of Poisson sampling, applied to drawing exactly k of N (the usual
  approximation, as in DP-FedAvg).

The worst device's :math:`\varepsilon` is the run's guarantee; the distribution over devices is
reported too (:meth:`DeviceAccountant.summary`).

**What ε covers, and what it does not.** ε bounds what the sequence of aggregated adapter
updates (the noised, clipped sum of the scheduled devices' LoRA gradients, and so the global
adapters after every round) reveals about any one device's local data, to anyone who sees those
updates: other devices, anyone given the fine-tuned adapters. It does **not** cover the tensors
that cross the split every round: the activations a device sends up (the output of its embedding
and device blocks) and the gradient of its loss with respect to the decoder output (head
gradients) are sent **in the clear, without noise or clipping**; the edge server (and anyone on
the link) sees them, so the server must be trusted. Nor does it cover the device-side modules
(embedding, device blocks, head), which are trained on the device without noise and never leave
it.

The accountant is Opacus's Rényi-DP accountant for the subsampled Gaussian mechanism
(:class:`opacus.accountants.RDPAccountant`: Mironov, "Rényi Differential Privacy", CSF 2017;
Mironov, Talwar & Zhang, "Rényi Differential Privacy of the Sampled Gaussian Mechanism", 2019),
not a hand-rolled formula.
"""
from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence

import torch

__all__ = [
    "RDP_ORDERS",
    "global_norm",
    "clip_by_global_norm",
    "gaussian_noise_like",
    "clip_and_noise",
    "private_sum",
    "PrivacyAccountant",
    "DeviceAccountant",
]

RDP_ORDERS: tuple[float, ...] = (
    tuple(1 + x / 10.0 for x in range(1, 100)) + tuple(range(12, 64)) + (80, 96, 128, 192, 256, 512, 1024)
)
r"""Rényi orders :math:`\alpha` over which ε is minimised: Opacus's default orders (1.1 … 63)
plus larger ones, which give tighter ε for large noise multipliers. Any set of orders gives a
valid bound."""


def global_norm(grads: Sequence[torch.Tensor]) -> torch.Tensor:
    """L2 norm of a list of tensors taken as one vector, float64 scalar."""
    if not grads:
        return torch.zeros((), dtype=torch.float64)
    return torch.sqrt(sum((g.detach().to(torch.float64) ** 2).sum() for g in grads))


def clip_by_global_norm(
    grads: Sequence[torch.Tensor], max_norm: float
) -> tuple[list[torch.Tensor], float]:
    r"""Scale ``grads`` by :math:`\min(1, C / \lVert g \rVert_2)` so that their joint norm is at most C.

    :param grads: the update, one tensor per parameter
    :param max_norm: clipping bound :math:`C` (> 0), in the gradients' units
    :output clipped: new tensors (the inputs are not modified), same shapes and dtypes
    :output norm: the update's L2 norm before clipping
    """
    if not max_norm > 0 or not math.isfinite(max_norm):
        raise ValueError(f"max_norm (the clipping bound C) must be finite and > 0, got {max_norm}")
    norm = float(global_norm(grads))
    factor = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return [g.detach() * factor for g in grads], norm


def gaussian_noise_like(
    grads: Sequence[torch.Tensor], std: float, generator: torch.Generator
) -> list[torch.Tensor]:
    """Independent :math:`\\mathcal N(0, \\text{std}^2)` draws shaped like ``grads``, from ``generator``.

    :param generator: a :class:`torch.Generator` on the tensors' device; the draws are
        reproducible from its seed and advance its state
    """
    return [
        torch.randn(g.shape, generator=generator, dtype=g.dtype, device=g.device) * std for g in grads
    ]


def _check_sigma(noise_multiplier: float) -> None:
    if not noise_multiplier >= 0 or not math.isfinite(noise_multiplier):
        raise ValueError(f"noise_multiplier must be finite and >= 0, got {noise_multiplier}")


def clip_and_noise(
    grads: Sequence[torch.Tensor],
    max_norm: float,
    noise_multiplier: float,
    generator: torch.Generator,
) -> list[torch.Tensor]:
    r"""Gaussian mechanism on one update: clip its joint L2 norm to C, add :math:`\mathcal N(0, (\sigma C)^2)`.

    The clip is applied once, to the whole update given (all tensors together), not per device:
    see the module docstring for what that bounds; :func:`private_sum` clips per device.

    :param grads: the update, one tensor per parameter
    :param max_norm: clipping bound :math:`C` (> 0)
    :param noise_multiplier: :math:`\sigma` (>= 0); the noise std per coordinate is
        :math:`\sigma C`; 0 clips without noise (no privacy)
    :param generator: source of the noise (explicit, so runs are reproducible)
    :output noised: new tensors, same shapes and dtypes
    """
    _check_sigma(noise_multiplier)
    clipped, _ = clip_by_global_norm(grads, max_norm)
    noise = gaussian_noise_like(clipped, noise_multiplier * max_norm, generator)
    return [c + n for c, n in zip(clipped, noise)]


def private_sum(
    per_device_grads: Sequence[Sequence[torch.Tensor]],
    max_norm: float,
    noise_multiplier: float,
    generator: torch.Generator,
) -> list[torch.Tensor]:
    r"""DP aggregate of K devices' updates: clip each to C, sum, add :math:`\mathcal N(0, (\sigma C)^2)` once.

    The sum's sensitivity to one device is C, so ``PrivacyAccountant(noise_multiplier,
    sample_rate, delta)`` gives device-level :math:`(\varepsilon, \delta)`. Divide the result by
    the (expected) number of devices for an average (post-processing: no privacy cost).

    :param per_device_grads: K updates, each a list of tensors with the same shapes
    :output noised_sum: one list of tensors
    """
    if not per_device_grads:
        raise ValueError("private_sum needs at least one device's update")
    _check_sigma(noise_multiplier)
    shapes = [tuple(g.shape) for g in per_device_grads[0]]
    total: list[torch.Tensor] | None = None
    for k, grads in enumerate(per_device_grads):
        if [tuple(g.shape) for g in grads] != shapes:
            got = [tuple(g.shape) for g in grads]
            raise ValueError(f"device {k}'s update has shapes {got}, device 0's {shapes}")
        clipped, _ = clip_by_global_norm(grads, max_norm)
        total = clipped if total is None else [t + c for t, c in zip(total, clipped)]
    assert total is not None
    noise = gaussian_noise_like(total, noise_multiplier * max_norm, generator)
    return [t + n for t, n in zip(total, noise)]


class PrivacyAccountant:
    r"""(ε, δ) spent by repeated subsampled Gaussian mechanisms, from Opacus's RDP accountant.

    :param noise_multiplier: :math:`\sigma`, noise std divided by the L2 sensitivity (> 0; 0 is
        allowed and gives ε = ∞)
    :param sample_rate: probability q in (0, 1] that a device takes part in a round
    :param delta: target δ in (0, 1), usually below 1 / (number of devices)
    """

    def __init__(self, noise_multiplier: float, sample_rate: float, delta: float):
        _check_sigma(noise_multiplier)
        if not 0.0 < sample_rate <= 1.0:
            raise ValueError(f"sample_rate must be in (0, 1], got {sample_rate}")
        if not 0.0 < delta < 1.0:
            raise ValueError(f"delta must be in (0, 1), got {delta}")
        try:
            from opacus.accountants import RDPAccountant  # imported lazily: opacus loads in ~1 s
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(
                "PrivacyAccountant needs Opacus's RDP accountant: pip install 'opacus==1.6.0'"
            ) from e
        self.noise_multiplier = float(noise_multiplier)
        self.sample_rate = float(sample_rate)
        self.delta = float(delta)
        self._accountant = RDPAccountant()
        self.steps = 0

    def step(self, n: int = 1) -> None:
        """Record ``n`` rounds (mechanism applications) with this accountant's σ and q."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        for _ in range(n):
            # Opacus merges consecutive steps with equal (σ, q) into one history entry.
            self._accountant.step(noise_multiplier=self.noise_multiplier, sample_rate=self.sample_rate)
        self.steps += n

    def epsilon(self) -> float:
        """ε spent so far at this accountant's δ (0 before any step, ∞ without noise)."""
        if self.steps == 0:
            return 0.0
        if self.noise_multiplier == 0.0:
            return math.inf
        with warnings.catch_warnings():
            # Opacus warns when the best order is at the edge of the range; the bound is still
            # valid (only possibly loose), and RDP_ORDERS already extends Opacus's range.
            warnings.filterwarnings("ignore", message="Optimal order is the", category=UserWarning)
            return float(self._accountant.get_epsilon(delta=self.delta, alphas=list(RDP_ORDERS)))

    def spent(self) -> tuple[float, float]:
        """(ε, δ) spent so far."""
        return self.epsilon(), self.delta

    def __repr__(self) -> str:
        return (
            f"PrivacyAccountant(noise_multiplier={self.noise_multiplier}, sample_rate={self.sample_rate}, "
            f"delta={self.delta}, steps={self.steps})"
        )


class DeviceAccountant:
    r"""Each device's (ε, δ), from the rounds it took part in (see the module docstring).

    :param n_devices: number of devices N
    :param noise_multiplier: :math:`\sigma` of the per-round Gaussian mechanism (noise std over
        the per-device clipping bound)
    :param delta: target δ in (0, 1)
    :param sample_rate: `None` when the scheduling policy chooses deterministically (each device
        composes its own rounds, without amplification); else the probability q in (0, 1] with
        which the policy picks each device in a round at random (amplification by subsampling:
        every device is accounted in every round at rate q)
    """

    def __init__(self, n_devices: int, noise_multiplier: float, delta: float,
                 sample_rate: float | None = None):
        if n_devices < 1:
            raise ValueError(f"n_devices must be >= 1, got {n_devices}")
        self.sample_rate = sample_rate
        self.rounds = 0
        self.participation = [0] * n_devices
        if sample_rate is None:
            self._acc = [PrivacyAccountant(noise_multiplier, 1.0, delta) for _ in range(n_devices)]
        else:
            shared = PrivacyAccountant(noise_multiplier, sample_rate, delta)
            self._acc = [shared] * n_devices
        self.delta = float(delta)
        self.noise_multiplier = float(noise_multiplier)

    @property
    def amplified(self) -> bool:
        """Whether subsampling amplification is applied (the policy chooses at random)."""
        return self.sample_rate is not None

    def step(self, scheduled: Sequence[int]) -> None:
        """Record one round in which the devices ``scheduled`` (indices) contributed."""
        for i in scheduled:
            self.participation[i] += 1
        self.rounds += 1
        if self.amplified:
            self._acc[0].step()
        else:
            for i in scheduled:
                self._acc[i].step()

    def epsilons(self) -> list[float]:
        """ε of each device so far, in device order (0 for a device that never contributed,
        unless amplified: then every device has spent the same ε from the first round)."""
        if self.amplified:
            return [self._acc[0].epsilon()] * len(self._acc)
        return [a.epsilon() for a in self._acc]

    def row(self) -> dict:
        """Columns of a round's row: ``epsilon`` (the worst device's), ``epsilon_min``,
        ``epsilon_median`` and ``epsilon_devices`` (each device's, comma-separated)."""
        eps = self.epsilons()
        return {"epsilon": max(eps), "epsilon_min": min(eps),
                "epsilon_median": statistics.median(eps),
                "epsilon_devices": ",".join(f"{e:.4f}" for e in eps)}

    def summary(self) -> dict:
        """The run's accounting: the worst device's ε (the guarantee) and the distribution."""
        eps = self.epsilons()
        worst = max(range(len(eps)), key=eps.__getitem__)
        return {
            "epsilon": eps[worst],
            "worst_device": worst,
            "epsilon_min": min(eps),
            "epsilon_median": statistics.median(eps),
            "epsilon_mean": sum(eps) / len(eps),
            "epsilon_devices": eps,
            "rounds_taken_part": list(self.participation),
            "rounds": self.rounds,
            "delta": self.delta,
            "noise_multiplier": self.noise_multiplier,
            "accounting": (f"subsampled Gaussian, sample rate {self.sample_rate:.4g} per round "
                           "(random scheduling), every round counted for every device"
                           if self.amplified else
                           "composition over the rounds each device took part in, no "
                           "amplification (deterministic scheduling)"),
            "covers": "the aggregated adapter updates (device-level); not the activations and "
                      "head gradients sent to the server, which are not noised",
        }
