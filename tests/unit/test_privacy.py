"""Gaussian mechanism and RDP accountant (Opacus) for DP split-federated fine-tuning."""

from __future__ import annotations

import math

import pytest
import torch

from edgelam_ns3.privacy import (
    RDP_ORDERS,
    PrivacyAccountant,
    clip_and_noise,
    clip_by_global_norm,
    global_norm,
    private_sum,
)


def _grads(seed: int, scale: float = 1.0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [scale * torch.randn(s, generator=g) for s in [(8, 4), (4,), (3, 5, 2)]]


@pytest.mark.parametrize("sigma,max_norm", [(1.0, 1.0), (0.5, 2.0), (2.0, 0.1)])
def test_noise_has_configured_scale(sigma, max_norm):
    # A zero update: the output is pure noise, std sigma * C per coordinate.
    zeros = [torch.zeros(200, 100), torch.zeros(10_000)]
    out = clip_and_noise(zeros, max_norm, sigma, torch.Generator().manual_seed(0))
    flat = torch.cat([o.reshape(-1) for o in out]).double()
    assert flat.numel() == 30_000
    assert abs(float(flat.std()) / (sigma * max_norm) - 1.0) < 0.03
    assert abs(float(flat.mean())) < 0.03 * sigma * max_norm


def test_noise_is_seeded_by_the_generator():
    g = _grads(1)
    a = clip_and_noise(g, 1.0, 1.0, torch.Generator().manual_seed(42))
    b = clip_and_noise(g, 1.0, 1.0, torch.Generator().manual_seed(42))
    c = clip_and_noise(g, 1.0, 1.0, torch.Generator().manual_seed(43))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert any(not torch.equal(x, y) for x, y in zip(a, c))


@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
def test_clipping_bounds_the_joint_norm(scale):
    g = _grads(2, scale)
    norm = float(global_norm(g))
    clipped, reported = clip_by_global_norm(g, max_norm=1.0)
    assert reported == pytest.approx(norm)
    assert float(global_norm(clipped)) <= 1.0 + 1e-6
    if norm <= 1.0:  # below the bound: unchanged
        assert all(torch.equal(c, x) for c, x in zip(clipped, g))
    else:  # above: scaled onto the sphere of radius C, direction kept
        assert float(global_norm(clipped)) == pytest.approx(1.0, rel=1e-6)
        assert all(torch.allclose(c * norm, x, rtol=1e-5, atol=1e-6) for c, x in zip(clipped, g))
    # Without noise, clip_and_noise is the clip; inputs are never modified in place.
    before = [x.clone() for x in g]
    out = clip_and_noise(g, 1.0, 0.0, torch.Generator().manual_seed(0))
    assert all(torch.equal(o, c) for o, c in zip(out, clipped))
    assert all(torch.equal(x, y) for x, y in zip(g, before))


def test_private_sum_clips_each_device_then_noises_once():
    devices = [_grads(10 + k, scale=5.0 * (k + 1)) for k in range(4)]
    # sigma = 0: the sum of per-device clipped updates, each of norm <= C.
    out = private_sum(devices, 1.0, 0.0, torch.Generator().manual_seed(0))
    expect = [sum(t) for t in zip(*(clip_by_global_norm(d, 1.0)[0] for d in devices))]
    assert all(torch.allclose(o, e) for o, e in zip(out, expect))
    assert float(global_norm(out)) <= 4.0 + 1e-6
    # One noise draw of std sigma*C (not K draws): the noise is that of a single clip_and_noise.
    zeros = [[torch.zeros(20_000)] for _ in range(4)]
    noisy = private_sum(zeros, 2.0, 1.5, torch.Generator().manual_seed(0))[0]
    assert abs(float(noisy.double().std()) / 3.0 - 1.0) < 0.03


def test_epsilon_grows_with_rounds():
    acc = PrivacyAccountant(noise_multiplier=1.0, sample_rate=0.1, delta=1e-5)
    assert acc.epsilon() == 0.0
    eps = []
    for _ in range(5):
        acc.step(20)
        eps.append(acc.epsilon())
    assert acc.steps == 100
    assert all(b > a > 0 for a, b in zip(eps, eps[1:]))


def test_epsilon_decreases_when_noise_multiplier_grows():
    eps = []
    for sigma in [0.7, 1.0, 2.0, 4.0]:
        acc = PrivacyAccountant(noise_multiplier=sigma, sample_rate=0.2, delta=1e-5)
        acc.step(50)
        eps.append(acc.epsilon())
    assert all(b < a for a, b in zip(eps, eps[1:]))
    no_noise = PrivacyAccountant(noise_multiplier=0.0, sample_rate=0.2, delta=1e-5)
    no_noise.step()
    assert no_noise.epsilon() == math.inf


def test_epsilon_matches_opacus_rdp_accountant():
    # DP-SGD on MNIST as in Abadi et al. (2016): sigma 1.1, batch 256 of 60000, 60 epochs.
    from opacus.accountants import RDPAccountant
    from opacus.accountants.analysis import rdp

    sigma, q, delta = 1.1, 256 / 60_000, 1e-5
    steps = math.ceil(60 * 60_000 / 256)
    acc = PrivacyAccountant(sigma, q, delta)
    acc.step(steps)

    ref = RDPAccountant()
    for _ in range(steps):
        ref.step(noise_multiplier=sigma, sample_rate=q)
    assert acc.epsilon() == pytest.approx(ref.get_epsilon(delta, alphas=list(RDP_ORDERS)), rel=1e-12)
    # The same through Opacus's analysis functions, and with Opacus's own default orders.
    orders = list(RDP_ORDERS)
    eps, _ = rdp.get_privacy_spent(
        orders=orders, rdp=rdp.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders), delta=delta
    )
    assert acc.epsilon() == pytest.approx(float(eps), rel=1e-12)
    assert acc.epsilon() == pytest.approx(ref.get_epsilon(delta), rel=1e-9)
    # Opacus 1.6.0's value for this setting (a regression anchor, computed by the library).
    assert acc.epsilon() == pytest.approx(2.5967, abs=1e-3)


def test_accountant_rejects_invalid_settings():
    with pytest.raises(ValueError, match="sample_rate"):
        PrivacyAccountant(1.0, 0.0, 1e-5)
    with pytest.raises(ValueError, match="delta"):
        PrivacyAccountant(1.0, 0.1, 1.0)
    with pytest.raises(ValueError, match="noise_multiplier"):
        PrivacyAccountant(-1.0, 0.1, 1e-5)
    with pytest.raises(ValueError, match="clipping bound"):
        clip_and_noise(_grads(0), 0.0, 1.0, torch.Generator())
