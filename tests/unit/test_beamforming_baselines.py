"""Classical multi-user MISO precoders against closed forms (edgelam_ns3.beamforming)."""

import math

import pytest
import torch

from edgelam_ns3 import beamforming as bf

NOISE = 1.0


def _draw(batch, k, n, seed):
    return bf.rayleigh(batch, k, n, torch.Generator().manual_seed(seed))


def test_zf_sinr_equals_power_over_noise_times_inverse_gram_diagonal():
    h = _draw(4, 3, 6, seed=1)
    p = torch.tensor([0.5, 2.0, 7.5], dtype=torch.float64)
    v = bf.zf(h, 3.0, NOISE) * torch.sqrt(p / 1.0).to(h.dtype)  # zf gives P/K = 1 per UE
    inv_diag = torch.diagonal(torch.linalg.inv(h @ h.mH), dim1=-2, dim2=-1).real
    torch.testing.assert_close(bf.sinr(h, v, NOISE), p / (NOISE * inv_diag), rtol=1e-10,
                               atol=0)
    off = (h @ v) - torch.diag_embed(torch.diagonal(h @ v, dim1=-2, dim2=-1))
    assert float(off.abs().max()) < 1e-10  # no inter-user interference


@pytest.mark.parametrize("power", [0.05, 1.0, 40.0])
def test_water_filling_meets_kkt_sum_power_and_one_water_level(power):
    gains = torch.tensor([[4.0, 1.0, 0.25, 0.02], [3.0, 3.0, 0.5, 9.0]], dtype=torch.float64)
    p = bf.water_filling(gains, power)
    torch.testing.assert_close(p.sum(-1), torch.full((2,), power, dtype=torch.float64))
    level = p + 1 / gains  # = mu on active streams
    for row in range(2):
        active = p[row] > 0
        mu = level[row][active]
        torch.testing.assert_close(mu, mu[0].expand_as(mu), rtol=1e-12, atol=0)
        # Inactive streams: their floor 1/g_k lies at or above the water level.
        assert bool((1 / gains[row][~active] >= mu[0] - 1e-12).all())
    if power == 0.05:  # only the strongest stream of the first row is on
        assert int((p[0] > 0).sum()) == 1


def test_zf_wf_rate_is_water_filled_zf_stream_capacity():
    h = _draw(3, 4, 8, seed=2)
    g = bf.zf_gains(h, NOISE)
    p = bf.water_filling(g, 10.0)
    expected = torch.log2(1 + g * p).sum(-1)
    torch.testing.assert_close(bf.sum_rate(h, bf.zf_wf(h, 10.0, NOISE), NOISE), expected)


def test_wmmse_sum_rate_never_decreases_over_iterations():
    h = _draw(6, 4, 8, seed=3)
    res = bf.wmmse(h, 10.0, NOISE, inits=("mrt", "random"), n_random=2, max_iter=60, tol=0.0,
                   generator=torch.Generator().manual_seed(0))
    steps = res.history.diff(dim=0)
    assert res.history.shape == (61, 6, 3)
    assert float(steps.min()) >= -1e-9 * float(res.history.abs().max())
    assert float(steps.max()) > 0  # it does move


def test_wmmse_from_mrt_and_random_starts_beats_zf_wf_at_high_snr():
    h = _draw(8, 4, 8, seed=7)
    power = 100.0  # 20 dB
    res = bf.wmmse(h, power, NOISE, inits=("mrt", "random"), max_iter=200, tol=1e-10,
                   generator=torch.Generator().manual_seed(7))
    zf_wf = bf.sum_rate(h, bf.zf_wf(h, power, NOISE), NOISE)
    assert bool((res.rate >= zf_wf).all()), (res.rate - zf_wf)


def test_wmmse_from_zf_and_random_starts_beats_mrt_at_low_snr():
    h = _draw(8, 4, 8, seed=7)
    power = 0.1  # -10 dB
    res = bf.wmmse(h, power, NOISE, inits=("zf", "random"), max_iter=100,
                   generator=torch.Generator().manual_seed(7))
    mrt = bf.sum_rate(h, bf.mrt(h, power, NOISE), NOISE)
    assert bool((res.rate >= mrt).all()), (res.rate - mrt)


def test_one_ue_every_method_reaches_mrt_capacity():
    h = _draw(5, 1, 8, seed=4)
    power = 3.0
    capacity = torch.log2(1 + power * (h.abs() ** 2).sum((-2, -1)) / NOISE)
    rates = bf.classical_sum_rates(h, power, NOISE, generator=torch.Generator().manual_seed(0))
    assert set(rates) == {"mrt", "zf", "rzf", "zf_wf", "wmmse"}
    for name, rate in rates.items():
        torch.testing.assert_close(rate, capacity, rtol=1e-9, atol=0, msg=name)


def test_every_precoder_transmits_total_power_p():
    h = _draw(3, 4, 8, seed=5)
    for name, fn in bf.PRECODERS.items():
        v = fn(h, 2.5, NOISE)
        assert v.shape == (3, 8, 4)
        torch.testing.assert_close((v.abs() ** 2).sum((-2, -1)),
                                   torch.full((3,), 2.5, dtype=torch.float64), msg=name)
    v = bf.wmmse(h, 2.5, NOISE, max_iter=20).v
    torch.testing.assert_close((v.abs() ** 2).sum((-2, -1)),
                               torch.full((3,), 2.5, dtype=torch.float64))


def test_wmmse_from_a_given_start_begins_at_its_rate_and_keeps_it_as_last_init():
    h = _draw(4, 3, 6, seed=6)
    v0 = bf.mrt(h, 5.0, NOISE)
    res = bf.wmmse(h, 5.0, NOISE, inits=("zf",), v0=v0, max_iter=3, tol=0.0)
    assert res.history.shape == (4, 4, 2)
    torch.testing.assert_close(res.history[0, :, 1], bf.sum_rate(h, v0, NOISE))
    torch.testing.assert_close(res.history[0, :, 0], bf.sum_rate(h, bf.zf(h, 5.0, NOISE), NOISE))


def test_wmmse_names_an_unknown_initialisation():
    with pytest.raises(ValueError, match="inits: unknown"):
        bf.wmmse(_draw(1, 2, 4, seed=0), 1.0, NOISE, inits=("zf", "svd"))


def test_decision_cost_counts_complex_products_at_8_flops_per_multiply_add():
    a = _draw(1, 4, 8, seed=0)[0]
    b = _draw(1, 8, 3, seed=1)[0]
    cost = bf.decision_cost(lambda: a @ b, repeats=1)
    assert cost.counted_flops == 2 * 4 * 8 * 3  # FlopCounterMode: 2 per multiply-add
    assert cost.flops == 8 * 4 * 8 * 3


def test_decision_cost_with_no_repeats_counts_the_same_flops_and_runs_once():
    a, b = _draw(1, 4, 8, seed=0)[0], _draw(1, 8, 3, seed=1)[0]
    calls = []
    cost = bf.decision_cost(lambda: calls.append(1) or a @ b, repeats=0)
    assert len(calls) == 1 and math.isnan(cost.time_s)
    assert cost.flops == bf.decision_cost(lambda: a @ b, repeats=1).flops == 8 * 4 * 8 * 3


def test_decision_cost_adds_cholesky_at_textbook_count():
    g = _draw(1, 6, 12, seed=0)[0]
    gram = g @ g.mH
    cost = bf.decision_cost(lambda: torch.linalg.cholesky_ex(gram), repeats=1)
    assert cost.counted_flops == 0
    assert math.isclose(cost.flops, 4 * 6**3 / 3)
