"""Gaussian mechanism and RDP accountant (Opacus) for DP split-federated fine-tuning."""

from __future__ import annotations

import math

import pytest
import torch

from edgelam_ns3.privacy import (
    RDP_ORDERS,
    DeviceAccountant,
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


def _opacus_epsilon(sigma, q, steps, delta=1e-5):
    """Opacus's own analysis functions: RDP of the (subsampled) Gaussian, converted to ε."""
    from opacus.accountants.analysis import rdp

    orders = list(RDP_ORDERS)
    eps, _ = rdp.get_privacy_spent(
        orders=orders, rdp=rdp.compute_rdp(q=q, noise_multiplier=sigma, steps=steps, orders=orders),
        delta=delta)
    return float(eps)


def test_deterministic_schedule_composes_each_devices_rounds_without_amplification():
    # sigma 1, 8 devices, 2 per round in turn, 40 rounds: each device takes part in 10 rounds
    from edgelam_ns3.policies import RoundRobinPolicy

    acc = DeviceAccountant(8, noise_multiplier=1.0, delta=1e-5, sample_rate=None)
    policy = RoundRobinPolicy(n=8, k=2, seed=1)
    for r in range(40):
        acc.step(policy.select(r, None).scheduled)
    assert acc.participation == [10] * 8
    ten = _opacus_epsilon(1.0, 1.0, 10)
    assert acc.epsilons() == pytest.approx([ten] * 8, rel=1e-12)
    assert ten == pytest.approx(19.05, abs=0.01)  # not the 12.5 of a q = k/N analysis
    # a device scheduled in every round: 40 compositions
    every = DeviceAccountant(2, 1.0, 1e-5)
    for _ in range(40):
        every.step([0])
    eps = every.epsilons()
    assert eps[0] == pytest.approx(_opacus_epsilon(1.0, 1.0, 40), rel=1e-12)
    assert eps[0] == pytest.approx(48.80, abs=0.01)
    assert eps[1] == 0.0  # never contributed
    s = every.summary()
    assert s["epsilon"] == eps[0] and s["worst_device"] == 0 and s["epsilon_min"] == 0.0
    assert s["rounds_taken_part"] == [40, 0] and "no amplification" in s["accounting"]
    row = every.row()
    assert row["epsilon"] == eps[0] and row["epsilon_devices"] == f"{eps[0]:.4f},0.0000"


def test_random_schedule_is_amplified_at_its_sample_rate_every_round():
    acc = DeviceAccountant(8, 1.0, 1e-5, sample_rate=0.25)
    for r in range(40):
        acc.step([r % 8, (r + 3) % 8])  # whoever was drawn: each device is accounted every round
    expect = _opacus_epsilon(1.0, 0.25, 40)
    assert acc.epsilons() == pytest.approx([expect] * 8, rel=1e-12)
    assert expect == pytest.approx(12.53, abs=0.01)
    assert "sample rate 0.25" in acc.summary()["accounting"]


@pytest.mark.parametrize("policy", ["round_robin", "lyapunov", "random"])
def test_split_fed_lora_accounts_each_device_from_the_rounds_it_took_part_in(policy):
    from edgelam_ns3 import config
    from edgelam_ns3.frameworks.split_fed_lora import SplitFedLoRA
    from edgelam_ns3.sim import Simulation
    from edgelam_ns3.topology import network_spec

    cfg = config.load("split-finetune", [
        "radio.mode=ideal", "model.n_layer=2", "model.n_embd=16", "model.n_head=2",
        "model.seq_len=8", "train.batch_size=1", "nodes.n_devices=8", "train.k=2",
        f"train.policy={policy}", "train.steps=40", "train.dp.enabled=true",
        "train.dp.noise_multiplier=1.0", "train.dp.delta=1e-5"])
    rows = []
    with Simulation(network_spec(cfg), seed=cfg.seed) as sim:
        fw = SplitFedLoRA(cfg, sim, on_round=rows.append)
        fw.start()
        sim.run()
    assert fw.finished and len(rows) == 40
    taken = [0] * 8
    for row in rows:
        for i in map(int, row["scheduled"].split(",")):
            taken[i] += 1
    if policy == "random":
        expect = [_opacus_epsilon(1.0, 2 / 8, 40)] * 8
    else:
        expect = [_opacus_epsilon(1.0, 1.0, n) if n else 0.0 for n in taken]
    if policy == "round_robin":
        assert taken == [10] * 8
    dp = fw.summary()["dp"]
    assert dp["rounds_taken_part"] == taken
    assert dp["epsilon_devices"] == pytest.approx(expect, rel=1e-9)
    assert dp["epsilon"] == rows[-1]["epsilon"] == pytest.approx(max(expect), rel=1e-9)
    assert rows[-1]["epsilon_min"] == pytest.approx(min(expect), rel=1e-9)


def test_dp_charges_the_server_the_flops_of_the_plain_round():
    """With DP the server's jobs take per-device gradients from the one backward: the FLOPs
    charged equal those without DP, job by job (the old K backwards charged K times the
    backward). Only memory traffic grows, by the per-row gradients (bounded in
    test_lora_split.py)."""
    from edgelam_ns3 import config
    from edgelam_ns3.frameworks.split_fed_lora import SplitFedLoRA
    from edgelam_ns3.sim import Simulation
    from edgelam_ns3.topology import network_spec

    flops = {}
    for dp in ("false", "true"):
        cfg = config.load("split-finetune", [
            "radio.mode=ideal", "model.n_layer=2", "model.n_embd=32", "model.n_head=2",
            "model.seq_len=16", "train.batch_size=2", "nodes.n_devices=4", "train.policy=all",
            "radio.ideal.spectral_efficiency_bps_hz=[4, 4, 4, 4]",
            "train.steps=2", f"train.dp.enabled={dp}"])
        jobs = []
        with Simulation(network_spec(cfg), seed=cfg.seed) as sim:
            fw = SplitFedLoRA(cfg, sim, on_job=jobs.append)
            fw.start()
            sim.run()
        assert fw.finished
        flops[dp] = [(j["job"], j["flops"]) for j in jobs if j["device"] == cfg.train.server]
    assert [job for job, _ in flops["true"]] == ["server_forward", "server_backward"] * 2
    assert flops["true"] == flops["false"]
    assert all(f > 0 for _, f in flops["true"])
