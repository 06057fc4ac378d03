# SPDX-License-Identifier: GPL-2.0-only
"""Channel predictors and their metrics (models/channel_predictors.py, channel_prediction.py).

References: the AR recursion of a synthetic process and of a sinusoid (x_t = 2 cos w x_{t-1} -
x_{t-2}), a hand-computed NMSE, the outdated-CSI error 2 (1 - J0(2 pi f_D tau)) of a Clarke/Jakes
channel, the MRT array gain, and LoRA's frozen backbone. Learned accuracy is the study's job.
"""
import math

import numpy as np
import pytest
import torch
from scipy.special import j0

from edgelam_ns3.channel_prediction import (TrainConfig, mrt_spectral_efficiency, nmse_db,
                                            nmse_per_window, train)
from edgelam_ns3.models import channel_predictors as cp


def test_ar_fit_recovers_the_coefficients_of_a_synthetic_ar2_process():
    rng = np.random.default_rng(0)
    a = np.array([0.5 + 0.6j, -0.4 + 0.1j])  # poles inside the unit circle
    n_t, n_e = 60, 3000
    x = np.zeros((n_t, n_e), complex)
    w = rng.standard_normal((n_t, n_e)) + 1j * rng.standard_normal((n_t, n_e))
    for t in range(2, n_t):
        x[t] = a[0] * x[t - 1] + a[1] * x[t - 2] + w[t]
    np.testing.assert_allclose(cp.ar_fit(x[10:], 2), a, atol=0.01)


def test_ar2_predicts_a_single_doppler_sinusoid_exactly():
    """A real sinusoid per entry (a single path's Doppler seen through cos) obeys
    x_t = 2 cos(w) x_{t-1} - x_{t-2}: AR(2) finds exactly these coefficients and its
    4-step prediction is exact without noise."""
    rng = np.random.default_rng(1)
    w = 2 * math.pi * 133.0 * 0.5e-3  # 60 km/h at 2.4 GHz, 0.5 ms pilots
    t = np.arange(20)[:, None]
    c = rng.standard_normal(64) + 1j * rng.standard_normal(64)
    x = c * np.cos(w * t + rng.uniform(0, 2 * math.pi, 64))  # [T, E]
    np.testing.assert_allclose(cp.ar_fit(x[:16], 2), [2 * math.cos(w), -1.0], atol=1e-8)
    pred = cp.predict_ar(x[None, :16], 4, p=2)
    assert nmse_db(pred, x[None, 16:]) < -100


def test_nmse_matches_a_hand_computed_value():
    true = np.array([[[1.0, 1j]], [[2.0, 0.0]]])  # [N=2, F=1, E=2]
    pred = np.array([[[1.1, 0.8j]], [[2.0, 1.0]]])
    # window 0: (0.01 + 0.04) / 2 = 0.025; window 1: 1 / 4 = 0.25; mean 0.1375
    np.testing.assert_allclose(nmse_per_window(pred, true), [[0.025], [0.25]])
    assert nmse_db(pred, true) == pytest.approx(10 * math.log10(0.1375))


def jakes_series(n_series, n_t, f_d, ts, n_rays=64, seed=0):
    """Clarke's model: equal-power rays from uniform angles with uniform phases."""
    rng = np.random.default_rng(seed)
    ang = rng.uniform(0, 2 * math.pi, (n_series, n_rays))
    ph = rng.uniform(0, 2 * math.pi, (n_series, n_rays))
    t = np.arange(n_t)[:, None, None] * ts
    h = np.exp(1j * (2 * math.pi * f_d * np.cos(ang) * t + ph)).sum(-1) / math.sqrt(n_rays)
    return h.T  # [n_series, n_t]


def test_outdated_csi_nmse_is_2_minus_2_j0_on_a_jakes_channel():
    """Each window holds 64 independent Clarke series (like ports x subbands), so its NMSE
    is close to the ensemble ratio 2 (1 - J0(2 pi f_D tau)) at each horizon tau."""
    f_d, ts = 100.0, 0.5e-3
    h = jakes_series(100 * 64, 20, f_d, ts, n_rays=32).reshape(100, 64, 20).transpose(0, 2, 1)
    pred = cp.predict_outdated(h[:, :16], 4)
    got = nmse_per_window(pred, h[:, 16:]).mean(0)
    ref = 2 * (1 - j0(2 * math.pi * f_d * ts * np.arange(1, 5)))
    np.testing.assert_allclose(got, ref, atol=0.05 * ref.max())


def test_wiener_fit_recovers_the_ar1_prediction_coefficients():
    rng = np.random.default_rng(2)
    a = 0.9 * np.exp(0.3j)
    x = np.zeros((40000, 12), complex)
    x[:, 0] = (rng.standard_normal(40000) + 1j * rng.standard_normal(40000)) / math.sqrt(1 - 0.81)
    for t in range(1, 12):
        x[:, t] = a * x[:, t - 1] + rng.standard_normal(40000) + 1j * rng.standard_normal(40000)
    wf = cp.WienerPredictor(ridge=0).fit(x[:, :8, None], x[:, 8:, None])
    np.testing.assert_allclose(wf.w[:, -1], a ** np.arange(1, 5), atol=0.03)
    np.testing.assert_allclose(wf.w[:, :-1], 0, atol=0.03)


def test_mrt_with_perfect_csi_gets_the_array_gain():
    rng = np.random.default_rng(3)
    h = np.exp(1j * rng.uniform(0, 2 * math.pi, (2, 1, 32, 4)))  # |h_m| = 1: gain M = 32
    np.testing.assert_allclose(mrt_spectral_efficiency(h, h, 0.0), math.log2(1 + 32))
    wrong = h * np.exp(1j * np.pi * (np.arange(32) % 2))[:, None]  # half the ports flipped
    assert mrt_spectral_efficiency(wrong, h, 0.0).max() < math.log2(1 + 32) - 1


def tiny_lam():
    torch.manual_seed(0)
    return cp.LamPredictor(past=16, future=4, n_subbands=8, n_embd=32, n_layer=2, n_head=2)


def test_lam_forward_shapes_and_lora_leaves_the_backbone_frozen():
    lam = tiny_lam()
    x = torch.randn(3, 16, 8, dtype=torch.complex64)
    before = lam(x)
    assert before.shape == (3, 4, 8) and before.dtype == torch.complex64
    base = {k: v.clone() for k, v in lam.parts["backbone"].state_dict().items()}
    cp.add_lora(lam, r=4)
    torch.testing.assert_close(lam(x), before)  # B = 0: same function
    names = [n for n, p in lam.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in names) and any("lora_B" in n for n in names)
    assert all("lora_" in n for n in names if n.startswith("parts.backbone"))
    assert any(n.startswith("parts.embed") for n in names)
    assert any(n.startswith("parts.head") for n in names)
    hist = (np.random.default_rng(0).standard_normal((4, 16, 2, 8)) + 0j).astype(np.complex64)
    train(lam, hist, hist[:, :4], TrainConfig(steps=3, batch=4))
    after = lam.parts["backbone"].state_dict()
    for k, v in base.items():  # peft renames adapted layers' weights to ...base_layer.weight
        k2 = k if k in after else k.replace(".weight", ".base_layer.weight").replace(
            ".bias", ".base_layer.bias")
        torch.testing.assert_close(after[k2], v)
    assert any(not torch.all(p == 0) for n, p in lam.named_parameters() if "lora_B" in n)


@pytest.mark.parametrize("make", [lambda: cp.RnnPredictor("gru", 16, 4, 8, hidden=16),
                                  lambda: cp.RnnPredictor("lstm", 16, 4, 8, hidden=16),
                                  lambda: cp.TransformerPredictor(16, 4, 8, d=16)])
def test_baseline_networks_map_windows_to_the_future_shape(make):
    model = make()
    hist = np.ones((2, 16, 3, 8), np.complex64)
    assert cp.predict_learned(model, hist).shape == (2, 4, 3, 8)
    with pytest.raises(ValueError, match="expected"):
        model(torch.ones(2, 15, 8, dtype=torch.complex64))


def test_federated_averaging_of_one_sgd_step_equals_centralised_step_on_equal_shards():
    """Two edge servers with equal shards, one full-batch SGD step each, then FedAvg: the
    average of the two updates is the centralised full-batch step on the pooled data (the
    pooled loss is the mean of the shard losses)."""
    from edgelam_ns3.channel_prediction import (federated_finetune, load_trainable_state,
                                                trainable_state)

    rng = np.random.default_rng(4)
    data = (rng.standard_normal((6, 20, 2, 8)) + 1j * rng.standard_normal((6, 20, 2, 8)))
    data = data.astype(np.complex64)
    hist, fut = data[:, :16], data[:, 16:]
    lam = cp.add_lora(tiny_lam(), r=4)
    start = trainable_state(lam)
    step = TrainConfig(steps=1, batch=None, lr=0.05, snrs_db=(None,), optimizer="sgd",
                       schedule="constant")
    train(lam, hist, fut, step)
    central = trainable_state(lam)
    load_trainable_state(lam, start)
    log = federated_finetune(lam, [(hist[:3], fut[:3]), (hist[3:], fut[3:])], 1, step)
    fed = trainable_state(lam)
    assert any(not torch.equal(central[k], start[k]) for k in start)
    for k in central:
        torch.testing.assert_close(fed[k], central[k], rtol=1e-4, atol=1e-6)
    nbytes = sum(v.numel() * 4 for v in start.values())
    assert log == [{"round": 1, "uplink_bytes": 2 * nbytes, "downlink_bytes": 2 * nbytes}]


def test_stabilise_ar_moves_outside_poles_onto_the_unit_circle_and_keeps_inside_ones():
    poles = np.array([1.5 * np.exp(0.4j), 0.5 * np.exp(-1.0j)])
    a = -np.poly(poles)[1:]
    fixed = cp.stabilise_ar(a[None])[0]
    got = np.sort_complex(np.roots(np.concatenate([[1.0], -fixed])))
    np.testing.assert_allclose(got, np.sort_complex([np.exp(0.4j), 0.5 * np.exp(-1.0j)]),
                               atol=1e-12)
    inside = -np.poly([0.9, 0.2j])[1:]
    np.testing.assert_array_equal(cp.stabilise_ar(inside[None])[0], inside)


def test_cost_counts_the_transformer_encoder_flops():
    """PyTorch's encoder takes a fused fast path in eval mode that the FLOP counter misses;
    cost_of must still count at least the encoder's linear layers (24 B P d^2 per layer)
    on top of the embedding and head."""
    from edgelam_ns3.channel_prediction import cost_of

    b, p, s, d, f = 2, 16, 8, 16, 4
    model = cp.TransformerPredictor(p, f, s, d=d, n_layers=2)
    cost = cost_of(model, torch.ones(b, p, s, dtype=torch.complex64), repeats=1)
    embed_head = 2 * b * p * (4 * s * d + d * d) + 2 * b * p * d * f * 2 * s
    assert cost.flops >= embed_head + 2 * 24 * b * p * d * d


def test_torch_ar_predictor_equals_the_numpy_ar_and_counts_its_complex_flops():
    """ArPredictor (what the edge server runs in the loop) gives predict_ar's prediction, and
    the FLOP counter charges 8 real FLOPs per complex multiply-add of the Gram matrix, the
    right-hand side and the recursion (ar_flops less the uncounted p x p solve)."""
    from edgelam_ns3.channel_prediction import ar_flops
    from edgelam_ns3.compute import measure
    from edgelam_ns3.models.channel_predictors import ArPredictor, predict_ar

    rng = np.random.default_rng(0)
    h = (rng.standard_normal((3, 8, 10)) + 1j * rng.standard_normal((3, 8, 10)))
    h = h.astype(np.complex64)
    for p in (1, 3, 5):
        np.testing.assert_allclose(ArPredictor(p, 2, 0.01)(torch.from_numpy(h)).numpy(),
                                   predict_ar(h, 2, p, 0.01), atol=1e-5)
    job = measure(ArPredictor(3, 1), torch.from_numpy(h))
    assert job.flops == 3 * (ar_flops(8, 1, 3, 10) - 8 * (3 ** 3 // 3))
