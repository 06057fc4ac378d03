# SPDX-License-Identifier: GPL-2.0-only
"""The C++ precoders and MMSE SINR (ns3::NrPrecoding, through edgelam_ns3.radio.precoding)
against Sionna 2.x's ``sionna.phy.mimo`` (``rzf_precoding_matrix``, ``cbf_precoding_matrix``,
``lmmse_equalizer``) and numpy closed forms, on random channel matrices. The closed forms on
hand-built cases are the ns-3 suite edgelam-nr-precoding."""
import numpy as np
import pytest
import torch

from edgelam_ns3.radio import precoding


def _channels(seed, *shape):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)


@pytest.mark.parametrize("k,n", [(2, 4), (4, 8), (8, 64)])
def test_rzf_zf_mrt_match_sionna_precoding_matrices(k, n):
    from sionna.phy.mimo import cbf_precoding_matrix, rzf_precoding_matrix

    h = _channels(k * n, 3, k, n)  # 3 RBGs
    th = torch.tensor(h, dtype=torch.complex128)
    alpha = 0.1 * k / 1.0
    ours = {
        "rzf": precoding.precoders(h, "rzf", total_power=k, noise_var=0.1, alpha=alpha),
        "zf": precoding.precoders(h, "zf", total_power=k, noise_var=0.1),
        "mrt": precoding.precoders(h, "mrt", total_power=k, noise_var=0.1),
    }
    ref = {
        "rzf": rzf_precoding_matrix(th, alpha=alpha, precision="double").numpy(),
        "zf": rzf_precoding_matrix(th, alpha=0.0, precision="double").numpy(),
        "mrt": cbf_precoding_matrix(th, precision="double").numpy(),
    }
    for scheme in ours:
        np.testing.assert_allclose(ours[scheme], ref[scheme], atol=1e-9, err_msg=scheme)


def test_rzf_default_alpha_is_noise_times_layers_over_power():
    h = _channels(7, 4, 8)
    w = precoding.precoders(h, "rzf", total_power=2.0, noise_var=0.05)
    np.testing.assert_allclose(
        w, precoding.precoders(h, "rzf", total_power=2.0, noise_var=0.05, alpha=0.05 * 4 / 2.0))


def test_zf_sinr_is_power_over_noise_times_diagonal_of_gram_inverse():
    """Issue 10 validation: perfect CSI, equal power, SINR_k = P_k / (sigma^2 [(H H^H)^-1]_kk)
    within 0.1 dB, for 16 random 4 x 8 channels."""
    for seed in range(16):
        h = _channels(seed, 4, 8)
        p, noise = 4.0, 0.01
        w = precoding.precoders(h, "zf", total_power=p, noise_var=noise)
        sinr = precoding.layer_sinr(h[:, None, :], w, range(4), noise)
        closed = (p / 4) / (noise * np.real(np.diag(np.linalg.inv(h @ h.conj().T))))
        np.testing.assert_allclose(10 * np.log10(sinr), 10 * np.log10(closed), atol=0.1)


def test_mrt_and_rzf_sinr_match_the_interference_closed_form():
    """SINR_k = |h_k w_k|^2 / (sigma^2 + sum_{j != k} |h_k w_j|^2) for single-antenna UEs."""
    h = _channels(3, 4, 8)
    noise = 0.3
    powers = np.array([0.1, 0.2, 0.3, 0.4])
    for scheme in ("mrt", "rzf"):
        w = precoding.precoders(h, scheme, noise_var=noise, powers=powers)
        g = np.abs(h @ w) ** 2  # [ue, layer]
        closed = np.diag(g) / (noise + g.sum(axis=1) - np.diag(g))
        np.testing.assert_allclose(precoding.layer_sinr(h[:, None, :], w, range(4), noise),
                                   closed, rtol=1e-9, err_msg=scheme)
        np.testing.assert_allclose(np.sum(np.abs(w) ** 2, axis=0), powers, rtol=1e-12)


def test_mmse_layer_sinr_matches_sionna_lmmse_equalizer_noise():
    """Two 2-antenna UEs with two layers each (RZF on their antennas' rows) plus inter-cell
    interference: SINR = 1 / no_eff of Sionna's LMMSE equalizer on H_u W, S = sigma^2 I + Q."""
    from sionna.phy.mimo import lmmse_equalizer

    h = _channels(11, 2, 2, 8)
    w = precoding.precoders(h.reshape(4, 8), "rzf", total_power=2.0, noise_var=0.1)
    rng = np.random.default_rng(5)
    q = []
    for _ in range(2):
        a = _channels(int(rng.integers(1000)), 2, 3)
        q.append(0.2 * a @ a.conj().T)
    ours = precoding.layer_sinr(h, w, [0, 0, 1, 1], [0.1, 0.05], q)
    for u, noise in ((0, 0.1), (1, 0.05)):
        heff = torch.tensor(h[u] @ w, dtype=torch.complex128)
        s = torch.tensor(noise * np.eye(2) + q[u], dtype=torch.complex128)
        y = torch.zeros(2, dtype=torch.complex128)
        _, no_eff = lmmse_equalizer(y, heff, s, precision="double")
        # Sionna detects all four streams jointly; stream k's LMMSE SINR is the same as with the
        # other streams treated as interference, so UE u's own two streams are compared
        np.testing.assert_allclose(ours[2 * u:2 * u + 2], 1 / no_eff.numpy()[2 * u:2 * u + 2],
                                   rtol=1e-9)


def test_sus_groups_are_semi_orthogonal_and_respect_the_cap():
    h = _channels(21, 16, 8)
    weights = np.random.default_rng(2).uniform(0.5, 2.0, 16)
    group = precoding.select_users(h, weights, max_layers=4, epsilon=0.5)
    assert 1 <= len(group) <= 4 and len(set(group)) == len(group)
    # the first pick is the best weighted channel gain
    assert group[0] == int(np.argmax(weights * np.sum(np.abs(h) ** 2, axis=1)))
    hn = h[group] / np.linalg.norm(h[group], axis=1, keepdims=True)
    corr = np.abs(hn @ hn.conj().T)
    # each later pick is below epsilon to the one picked just before it
    assert all(corr[i, i + 1] < 0.5 for i in range(len(group) - 1))


def test_errors_name_the_bad_argument():
    h = _channels(1, 3, 2)
    with pytest.raises(ValueError, match="ZF needs at most as many layers"):
        precoding.precoders(h, "zf")
    with pytest.raises(ValueError, match="precoder 'bf' is not one of mrt, zf, rzf"):
        precoding.precoders(h, "bf")
    with pytest.raises(ValueError, match="powers has 2 values for 3 layers"):
        precoding.precoders(h, "mrt", powers=[1, 1])


def test_eigen_layer_channels_are_the_singular_modes():
    """Rows u_l^H H: norms = numpy's singular values, rows = s_l v_l^H up to a phase."""
    h = _channels(31, 4, 8)
    _, s, vh = np.linalg.svd(h)
    rows = precoding.eigen_layer_channels(h, 3)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), s[:3], rtol=1e-9)
    for layer in range(3):
        np.testing.assert_allclose(abs(rows[layer] @ vh[layer].conj()), s[layer], rtol=1e-9)


def test_two_layer_su_mimo_on_eigen_modes_gets_p_s2_over_noise_per_layer():
    """SVD precoding closed form: ZF on a UE's two eigen-mode rows sends along v_1, v_2, and
    the MMSE receiver sees SINR_l = p_l s_l^2 / sigma^2 (the modes do not interfere)."""
    h = _channels(32, 4, 8)
    s = np.linalg.svd(h, compute_uv=False)
    rows = precoding.eigen_layer_channels(h, 2)
    w = precoding.precoders(rows, "zf", total_power=2.0, noise_var=0.1)
    sinr = precoding.layer_sinr([h], w, [0, 0], 0.1)
    np.testing.assert_allclose(sinr, 1.0 * s[:2] ** 2 / 0.1, rtol=1e-8)
