# SPDX-License-Identifier: GPL-2.0-only
"""ns3::NrCsiReport (edgelam_ns3.radio.air_interface.make_csi_report) against an independent
numpy implementation of the TS 38.214 V17 §5.2.2.2.1 Type I single-panel codebook and a brute-
force PMI/RI search over it, and its CQI against the project's BLER model (NrBlerModel with
Sionna's tables), evaluated here through the PHY bindings with the CQI -> MCS mapping read off
TS 38.214 Tables 5.2.2.1-3 and 5.1.3.1-2/-3 by hand. Spec tables as printed: the ns-3 suite
edgelam-nr-csi-report."""
import itertools

import numpy as np
import pytest

from edgelam_ns3.radio import phy
from edgelam_ns3.radio.air_interface import make_csi_report

# CQI table 2 (TS 38.214 Table 5.2.2.1-3) -> (MCS table, I_MCS) with the same Q_m and rate
CQI2_MCS = {1: (3, 4), 2: (2, 1), 3: (2, 3), 4: (2, 5), 5: (2, 7), 6: (2, 9), 7: (2, 11),
            8: (2, 13), 9: (2, 15), 10: (2, 17), 11: (2, 19), 12: (2, 21), 13: (2, 23),
            14: (2, 25), 15: (2, 27)}


def _vlm(n1, n2, o1, o2, l, m):
    u = np.exp(2j * np.pi * m * np.arange(n2) / (o2 * n2)) if n2 > 1 else np.ones(1)
    return np.kron(np.exp(2j * np.pi * l * np.arange(n1) / (o1 * n1)), u)


def _k1k2(n1, n2, o1, o2, i13):
    """TS 38.214 Table 5.2.2.2.1-3."""
    if n2 == 1:
        return [(0, 0), (o1, 0), (2 * o1, 0), (3 * o1, 0)][i13]
    if n1 == n2:
        return [(0, 0), (o1, 0), (0, o2), (o1, o2)][i13]
    return [(0, 0), (o1, 0), (0, o2), (2 * o1, 0)][i13]


def _codebook(n1, n2, o1, o2, rank):
    """{(i11, i12, i13, i2): W} by Tables 5.2.2.2.1-5 and -6 (codebookMode 1)."""
    p = 2 * n1 * n2
    out = {}
    n_i13 = 1 if rank == 1 else (2 if (n1, n2) == (2, 1) else 4)
    for l, m, i13, n in itertools.product(range(n1 * o1), range(n2 * o2 if n2 > 1 else 1),
                                          range(n_i13), range(4 if rank == 1 else 2)):
        phi = np.exp(1j * np.pi * n / 2)
        v = _vlm(n1, n2, o1, o2, l, m)
        if rank == 1:
            w = np.concatenate([v, phi * v])[:, None] / np.sqrt(p)
        else:
            k1, k2 = _k1k2(n1, n2, o1, o2, i13)
            v2 = _vlm(n1, n2, o1, o2, l + k1, m + k2)
            w = np.stack([np.concatenate([v, phi * v]),
                          np.concatenate([v2, -phi * v2])], axis=1) / np.sqrt(2 * p)
        out[(l, m, i13, n)] = w
    return out


def _capacity(h, w, snr):
    return np.mean([np.log2(np.real(np.linalg.det(
        np.eye(w.shape[1]) + snr * (hs @ w).conj().T @ (hs @ w)))) for hs in h])


def _channel(seed, sb, rx, ports):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((sb, rx, ports)) + 1j * rng.standard_normal((sb, rx, ports))) \
        / np.sqrt(2)


@pytest.fixture(scope="module")
def csi():
    return make_csi_report(n1=4, n2=2, o1=4, o2=4)


@pytest.mark.parametrize("n1,n2,o1,o2", [(4, 2, 4, 4), (2, 1, 4, 1), (4, 1, 4, 1),
                                         (2, 2, 4, 4)])
def test_type1_codebook_matches_the_ts38214_formula(n1, n2, o1, o2):
    from edgelam_ns3 import _core

    c = _core.NrCsiReport(n1=n1, n2=n2, o1=o1, o2=o2)
    for rank in (1, 2):
        ref = _codebook(n1, n2, o1, o2, rank)
        assert sorted(c.codebook(rank)) == sorted(ref)
        for pmi, w in ref.items():
            np.testing.assert_allclose(c.precoder(rank, pmi), w, atol=1e-12, err_msg=str(pmi))


@pytest.mark.parametrize("n1,n2,o1,o2,rx", [(2, 1, 4, 1, 2), (4, 1, 4, 1, 2), (2, 2, 4, 4, 4)])
def test_pmi_and_ri_equal_brute_force_capacity_over_the_codebook(n1, n2, o1, o2, rx):
    from edgelam_ns3 import _core

    c = _core.NrCsiReport(n1=n1, n2=n2, o1=o1, o2=o2)
    h = _channel(n1 * 10 + n2, 3, rx, 2 * n1 * n2)
    for snr in (0.1, 10.0, 1000.0):
        best = {}
        for rank in (1, 2):
            caps = {pmi: _capacity(h, w, snr)
                    for pmi, w in _codebook(n1, n2, o1, o2, rank).items()}
            pmi = max(caps, key=caps.get)
            got = c.select_pmi(h, snr, rank)
            assert got["pmi"] == pmi and got["capacity"] == pytest.approx(caps[pmi], rel=1e-9)
            best[rank] = caps[pmi]
        ri = c.select_ri_pmi(h, snr)
        assert ri["rank"] == (2 if best[2] > best[1] else 1), snr


def _shannon_db(se):
    return 10 * np.log10(2 ** se - 1)


def _tbler(bler_model, cqi, sinr, n_prb, layers):
    """TBLER of CQI table 2's transport block, computed through the PHY bindings. Sionna has
    no curve for QPSK below R = 308/1024 (CQI 1, 2): as documented, those use qam256 MCS 2's
    curve shifted by the difference of the Shannon SINRs of the two spectral efficiencies."""
    table, mcs = CQI2_MCS[cqi]
    tb = phy.tbs_info(n_prb, mcs, table, 12, 12, 0, layers)
    curve_table, curve_mcs, shift = table, mcs, 0.0
    if not bler_model.has_curve(1, table, mcs):
        assert cqi in (1, 2)
        curve_table, curve_mcs = 2, 2
        shift = (_shannon_db(phy.mcs(2, 2).spectral_efficiency)
                 - _shannon_db(phy.mcs(table, mcs).spectral_efficiency))
    eff = phy.eesm(sinr, bler_model.eesm_beta(curve_table, curve_mcs))
    return float(bler_model.tbler(1, curve_table, curve_mcs, tb["code_block_size"],
                                  tb["num_code_blocks"], 10 * np.log10(eff) + shift))


def test_cqi_table2_maps_to_the_mcs_of_the_same_modulation_and_rate(csi):
    for cqi, (table, idx) in CQI2_MCS.items():
        qm, rate, _ = csi.cqi_entry(2, cqi)
        m = phy.mcs(table, idx)
        assert (m.qm, m.rate_x1024) == (qm, rate)
        assert csi.cqi_to_mcs(2, cqi) == (table, idx)


@pytest.mark.parametrize("layers", [1, 2])
def test_cqi_is_the_highest_with_bler_at_most_10_percent(csi, layers):
    """Issue 10: the reported CQI's TBLER at the measured SINR is <= 10 %, the next CQI's is
    above; flat SINRs from -10 to 30 dB (EESM is then the SINR itself, whatever beta)."""
    model = phy.make_bler_model()
    seen = set()
    for sinr_db in np.arange(-10.0, 30.0, 0.7):
        sinr = np.full(8 * layers, 10 ** (sinr_db / 10))
        cqi = csi.select_cqi(sinr, 52, layers=layers)
        seen.add(cqi)
        if cqi >= 1:
            assert _tbler(model, cqi, sinr, 52, layers) <= 0.1, (sinr_db, cqi)
            assert csi.cqi_tbler(cqi, sinr, 52, layers=layers) == pytest.approx(
                _tbler(model, cqi, sinr, 52, layers), rel=1e-9)
        if cqi < 15:
            assert _tbler(model, cqi + 1, sinr, 52, layers) > 0.1, (sinr_db, cqi)
    assert {0, 15} <= seen and len(seen) >= 12


def test_subband_cqi_of_a_frequency_selective_channel_uses_eesm(csi):
    """Per subband SINRs spread over 12 dB: the wideband CQI's TBLER, with EESM over the
    subbands at the MCS's beta, meets the target and the next one's does not."""
    model = phy.make_bler_model()
    rng = np.random.default_rng(4)
    for _ in range(5):
        sinr = 10 ** (rng.uniform(4, 16, 10) / 10)
        cqi = csi.select_cqi(sinr, 40)
        assert 1 <= cqi < 15
        assert _tbler(model, cqi, sinr, 40, 1) <= 0.1 < _tbler(model, cqi + 1, sinr, 40, 1)


def test_full_report_is_consistent_with_its_parts(csi):
    h = _channel(9, 4, 2, csi.num_ports)
    snr = 30.0
    r = csi.report(h, snr, n_prb_per_subband=8)
    # RI: the rank whose wideband CQI's MCS gives the larger TBS with that many layers
    tbs = {}
    for rank in (1, 2):
        w = csi.precoder(rank, csi.select_pmi(h, snr, rank)["pmi"]) * np.sqrt(snr)
        sinr = [_mmse_sinr_of(h[s] @ w) for s in range(4)]
        cqi = csi.select_cqi(np.ravel(sinr), 32, layers=rank)
        tbs[rank] = 0 if cqi == 0 else phy.tbs_info(32, CQI2_MCS[cqi][1], CQI2_MCS[cqi][0], 12,
                                                    12, 0, rank)["tbs"]
    assert r["rank"] == max(tbs, key=lambda k: (tbs[k], -k))
    assert r["tbs_bits"] == max(tbs.values())
    w = csi.precoder(r["rank"], r["pmi"]) * np.sqrt(snr)
    for s in range(4):
        a = h[s] @ w
        for layer in range(r["rank"]):
            others = np.delete(a, layer, axis=1)
            cov = np.eye(2) + others @ others.conj().T
            mmse = np.real(a[:, layer].conj() @ np.linalg.solve(cov, a[:, layer]))
            assert r["layer_sinr"][s, layer] == pytest.approx(mmse, rel=1e-9)
        assert r["subband_cqi"][s] == csi.select_cqi(r["layer_sinr"][s], 8, layers=r["rank"])
    assert r["wideband_cqi"] == csi.select_cqi(r["layer_sinr"].ravel(), 32, layers=r["rank"])


def _mmse_sinr_of(a):
    """Per layer of the received layer matrix a [rx x v], unit noise."""
    out = []
    for layer in range(a.shape[1]):
        others = np.delete(a, layer, axis=1)
        cov = np.eye(a.shape[0]) + others @ others.conj().T
        out.append(np.real(a[:, layer].conj() @ np.linalg.solve(cov, a[:, layer])))
    return out


def test_configuration_errors_name_the_rule():
    from edgelam_ns3 import _core

    with pytest.raises(ValueError, match="O2 must be 1 when N2 = 1"):
        _core.NrCsiReport(n1=4, n2=1, o1=4, o2=4)
    with pytest.raises(ValueError, match="max_rank"):
        _core.NrCsiReport(max_rank=3)
