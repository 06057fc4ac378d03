"""The GNN beamformer: equivariance over UEs, power constraint, structure, training signal."""

import pytest
import torch

from edgelam_ns3 import beamforming as bf
from edgelam_ns3.models.gnn_beamformer import GNNBeamformer, _Layer

NOISE = 1.0


def _model(seed=0, random_head=True):
    torch.manual_seed(seed)
    m = GNNBeamformer(d_hidden=16, n_layers=2, n_rounds=2).double()
    if random_head:  # the heads start at zero (RZF); give them weights so the GNN matters
        for r in m.rounds:
            torch.nn.init.normal_(r.head.weight, std=0.5)
            torch.nn.init.normal_(r.head.bias, std=0.5)
    return m


def _draw(batch, k, n, seed):
    return bf.rayleigh(batch, k, n, torch.Generator().manual_seed(seed))


def test_permuting_the_ues_permutes_the_precoders():
    m = _model()
    h = _draw(3, 5, 8, seed=1)
    perm = torch.tensor([3, 0, 4, 1, 2])
    with torch.no_grad():
        v = m(h, 10.0, NOISE)
        v_perm = m(h[:, perm], 10.0, NOISE)
        lam, log_p, _ = m.allocation(h, 10.0, NOISE)
    torch.testing.assert_close(v_perm, v[:, :, perm], rtol=1e-9, atol=1e-12)
    assert float(log_p.std(-1).min()) > 1e-3  # the powers do differ across UEs


@pytest.mark.parametrize("k,n,dtype", [(1, 4, torch.complex128), (4, 8, torch.complex128),
                                       (7, 16, torch.complex64)])
def test_total_power_equals_p(k, n, dtype):
    m = _model()
    if dtype == torch.complex64:
        m = m.float()
    h = _draw(4, k, n, seed=2).to(dtype)
    with torch.no_grad():
        v = m(h, 6.3, NOISE)
    total = (v.abs() ** 2).sum((-2, -1)).double()
    rtol = 1e-12 if dtype == torch.complex128 else 1e-5
    torch.testing.assert_close(total, torch.full((4,), 6.3, dtype=torch.float64), rtol=rtol,
                               atol=0)


def test_untrained_gnn_is_sionna_rzf_at_equal_power():
    m = _model(random_head=False)
    h = _draw(3, 4, 8, seed=3)
    with torch.no_grad():
        v = m(h, 20.0, NOISE)
    torch.testing.assert_close(v, bf.rzf(h, 20.0, NOISE), rtol=1e-9, atol=1e-12)


def test_one_ue_gnn_reaches_mrt_capacity():
    m = _model()
    h = _draw(3, 1, 8, seed=4)
    with torch.no_grad():
        rate = bf.sum_rate(h, m(h, 3.0, NOISE), NOISE)
    torch.testing.assert_close(rate, torch.log2(1 + 3.0 * (h.abs() ** 2).sum((-2, -1))))


def test_training_steps_increase_the_sum_rate_on_a_fixed_batch():
    m = _model(random_head=True)
    h = _draw(16, 4, 8, seed=5)
    with torch.no_grad():
        before = float(bf.sum_rate(h, m(h, 10.0, NOISE), NOISE).mean())
    rates = bf.train_gnn(m, lambda batch, gen: h, snr_db=[10.0], steps=25, lr=1e-2)
    with torch.no_grad():
        after = float(bf.sum_rate(h, m(h, 10.0, NOISE), NOISE).mean())
    assert rates[0] == pytest.approx(before)
    assert after > before + 0.05


def test_gnn_rejects_a_real_channel():
    with pytest.raises(ValueError, match="h must be complex"):
        _model()(torch.ones(1, 2, 4), 1.0, NOISE)


def test_per_node_first_layer_equals_the_message_mlp_on_each_edge():
    torch.manual_seed(3)
    layer = _Layer(d_node=5, d_edge=3, d_hidden=8).double()
    x, e = torch.randn(2, 4, 5, dtype=torch.float64), torch.randn(2, 4, 4, 3, dtype=torch.float64)
    xi, xj = x.unsqueeze(2).expand(2, 4, 4, 5), x.unsqueeze(1).expand(2, 4, 4, 5)
    per_edge = layer.message[0](torch.cat([xi, xj, e], -1))  # [x_k, x_j, e_kj] on every edge
    torch.testing.assert_close(layer._first(x, e), per_edge, rtol=1e-12, atol=1e-12)
