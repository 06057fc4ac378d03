# SPDX-License-Identifier: GPL-2.0-only
"""The CSI-RS report the MAC uses (ns3::NrCsiReport with Polarisations 1, issue 10.1): the Type I
single-panel codebook's oversampled 2D DFT beams on a single-polarised array (no co-phasing;
rank 2 = two orthogonal beams at the non-zero i_{1,3} offsets of TS 38.214 Table 5.2.2.2.1-3),
against an independent numpy construction; PMI = brute-force capacity maximum over that
codebook; CQI = the highest CQI whose TBLER at the measured SINR is <= 10 % (TS 38.214 Table
5.2.2.1-3, the BLER model evaluated through the PHY bindings); RI = the rank of the largest
TBS-level rate, by brute force."""
import itertools

import numpy as np
import pytest

from edgelam_ns3 import _core
from edgelam_ns3.radio import phy
from edgelam_ns3.radio.phy_tables import feed_bler_curves

# CQI table 2 (TS 38.214 Table 5.2.2.1-3) -> (MCS table, I_MCS) of the same Q_m and rate (3:
# qam64LowSE, 2: qam256; read off Tables 5.1.3.1-2 and -3 by hand)
CQI2_MCS = {1: (3, 4), 2: (2, 1), 3: (2, 3), 4: (2, 5), 5: (2, 7), 6: (2, 9), 7: (2, 11),
            8: (2, 13), 9: (2, 15), 10: (2, 17), 11: (2, 19), 12: (2, 21), 13: (2, 23),
            14: (2, 25), 15: (2, 27)}


def _report(n1, n2, o1, o2, max_rank=2):
    r = _core.NrCsiReport(n1=n1, n2=n2, o1=o1, o2=o2, max_rank=max_rank, polarisations=1)
    feed_bler_curves(r.add_curve, r.set_eesm_betas)
    r.finalize()
    return r


def _beam(n1, n2, o1, o2, l, m):
    """v_{l,m}: the 2D DFT beam, element (n1, n2) at n1 N2 + n2 (u_m = 1 for N2 = 1)."""
    a = np.exp(2j * np.pi * l * np.arange(n1) / (o1 * n1))
    b = np.exp(2j * np.pi * m * np.arange(n2) / (o2 * n2))
    return np.kron(a, b)


def _offsets(n1, n2, o1, o2):
    """Non-zero (k1, k2) of Table 5.2.2.2.1-3 (swapped dimensions if N1 < N2) that do not wrap
    onto the same beam."""
    if n1 >= n2:
        table = ([(0, 0), (o1, 0), (2 * o1, 0), (3 * o1, 0)] if n2 == 1 else
                 [(0, 0), (o1, 0), (0, o2), (o1, o2)] if n1 == n2 else
                 [(0, 0), (o1, 0), (0, o2), (2 * o1, 0)])
    else:
        table = ([(0, 0), (0, o2), (0, 2 * o2), (0, 3 * o2)] if n1 == 1 else
                 [(0, 0), (0, o2), (o1, 0), (0, 2 * o2)])
    return {i: k for i, k in enumerate(table) if i > 0 and k[0] < n1 * o1 and k[1] < n2 * o2}


def _codebook(n1, n2, o1, o2, rank):
    p = n1 * n2
    out = {}
    offsets = {0: (0, 0)} if rank == 1 else _offsets(n1, n2, o1, o2)
    for l, m, (i13, (k1, k2)) in itertools.product(range(n1 * o1), range(n2 * o2),
                                                    offsets.items()):
        cols = [_beam(n1, n2, o1, o2, l, m)]
        if rank == 2:
            cols.append(_beam(n1, n2, o1, o2, l + k1, m + k2))
        out[(l, m, i13, 0)] = np.stack(cols, axis=1) / np.sqrt(p * rank)
    return out


def _capacity(h, w, snr):
    return np.mean([np.log2(np.real(np.linalg.det(
        np.eye(w.shape[1]) + snr * (hs @ w).conj().T @ (hs @ w)))) for hs in h])


def _mmse_sinr(h, w):
    """Per subband and layer, unit noise: a_l^H (I + sum_{j != l} a_j a_j^H)^-1 a_l."""
    out = []
    for hs in h:
        a = hs @ w
        row = []
        for layer in range(w.shape[1]):
            others = np.delete(a, layer, axis=1)
            cov = np.eye(hs.shape[0]) + others @ others.conj().T
            row.append(np.real(a[:, layer].conj() @ np.linalg.solve(cov, a[:, layer])))
        out.append(row)
    return np.array(out)


def _shannon_db(se):
    return 10 * np.log10(2 ** se - 1)


def _tbler(model, cqi, sinr, n_prb, layers):
    """TBLER of CQI table 2's TB (12 symbols, 12 DM-RS REs) by the PHY bindings; CQI 1-2 (no
    Sionna curve) on qam256 MCS 2's curve shifted by the Shannon SINR difference."""
    table, mcs = CQI2_MCS[cqi]
    tb = phy.tbs_info(n_prb, mcs, table, 12, 12, 0, layers)
    ct, cm, shift = table, mcs, 0.0
    if not model.has_curve(1, table, mcs):
        ct, cm = 2, 2
        shift = _shannon_db(phy.mcs(2, 2).spectral_efficiency) - _shannon_db(
            phy.mcs(table, mcs).spectral_efficiency)
    eff = phy.eesm(np.ravel(sinr), model.eesm_beta(ct, cm))
    return float(model.tbler(1, ct, cm, tb["code_block_size"], tb["num_code_blocks"],
                             10 * np.log10(eff) + shift))


def _brute_cqi(model, sinr, n_prb, layers):
    ok = [c for c in range(1, 16) if _tbler(model, c, sinr, n_prb, layers) <= 0.1]
    return max(ok, default=0)


def _channel(seed, sb, rx, ports):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((sb, rx, ports)) + 1j * rng.standard_normal((sb, rx, ports))) \
        / np.sqrt(2)


@pytest.mark.parametrize("n1,n2,o1,o2", [(4, 2, 4, 4), (2, 2, 4, 4), (4, 1, 4, 1), (2, 1, 4, 1),
                                         (2, 4, 4, 4), (1, 4, 1, 4)])
def test_single_polarised_codebook_is_the_type1_dft_beams_without_cophasing(n1, n2, o1, o2):
    c = _core.NrCsiReport(n1=n1, n2=n2, o1=o1, o2=o2, polarisations=1)
    assert c.num_ports == n1 * n2
    for rank in (1, 2):
        ref = _codebook(n1, n2, o1, o2, rank)
        assert sorted(c.codebook(rank)) == sorted(ref)
        for pmi, w in ref.items():
            np.testing.assert_allclose(c.precoder(rank, pmi), w, atol=1e-12, err_msg=str(pmi))
        for k, pmi in enumerate(c.codebook(rank)):
            assert c.pmi_index(rank, pmi) == k
        if rank == 2:  # two orthogonal beams of equal power
            for w in ref.values():
                np.testing.assert_allclose(w.conj().T @ w, np.eye(2) / 2, atol=1e-12)


@pytest.mark.parametrize("rx", [1, 2])
def test_pmi_maximises_capacity_over_the_codebook_by_brute_force(rx):
    """4 x 2 gNB array (N1 4, N2 2, O1 = O2 = 4), 1 or 2 UE antennas, 3 subbands: the chosen
    PMI's capacity mean_s log2 det(I + snr W^H H_s^H H_s W) is the largest over every PMI
    (pairs of beams can tie exactly: the capacity, not the index, is compared)."""
    c = _core.NrCsiReport(n1=4, n2=2, o1=4, o2=4, polarisations=1)
    for seed, snr in itertools.product(range(3), (0.1, 10.0, 1000.0)):
        h = _channel(seed, 3, rx, 8)
        for rank in range(1, rx + 1):
            caps = {p: _capacity(h, w, snr) for p, w in _codebook(4, 2, 4, 4, rank).items()}
            got = c.select_pmi(h, snr, rank)
            best = max(caps.values())
            assert caps[got["pmi"]] == pytest.approx(best, rel=1e-9), (seed, snr, rank)
            assert got["capacity"] == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize("rx", [1, 2])
def test_report_cqi_at_most_10_percent_bler_and_ri_maximises_the_tbs_rate(rx):
    """Full report on a 4 x 2 array, 2 subbands of 8 PRBs: RI = argmax over ranks of the TBS
    of the brute-force CQI's MCS (Table 5.2.2.1-3) with that many layers, each rank with its
    brute-force PMI and numpy MMSE SINRs; the wideband CQI's TBLER at the measured SINRs is
    <= 10 % and the next CQI's is above (BLER model through the PHY bindings)."""
    model = phy.make_bler_model()
    c = _report(4, 2, 4, 4)
    n_prb_sb, n_sb = 8, 2
    ranks_seen = set()
    for seed, snr in itertools.product(range(2), (0.3, 3.0, 30.0, 300.0)):
        h = _channel(10 + seed, n_sb, rx, 8)
        tbs = {}
        for rank in range(1, rx + 1):
            book = _codebook(4, 2, 4, 4, rank)
            caps = {p: _capacity(h, w, snr) for p, w in book.items()}
            w = book[max(caps, key=caps.get)] * np.sqrt(snr)
            cqi = _brute_cqi(model, _mmse_sinr(h, w), n_prb_sb * n_sb, rank)
            tbs[rank] = 0 if cqi == 0 else phy.tbs_info(
                n_prb_sb * n_sb, CQI2_MCS[cqi][1], CQI2_MCS[cqi][0], 12, 12, 0, rank)["tbs"]
        r = c.report(h, snr, n_prb_per_subband=n_prb_sb)
        ri = max(tbs, key=lambda k: (tbs[k], -k))
        assert r["rank"] == ri, (seed, snr, tbs)
        assert r["tbs_bits"] == tbs[ri]
        ranks_seen.add(ri)
        w = c.precoder(r["rank"], r["pmi"]) * np.sqrt(snr)
        sinr = _mmse_sinr(h, w)
        np.testing.assert_allclose(r["layer_sinr"], sinr, rtol=1e-9)
        cqi = r["wideband_cqi"]
        if cqi >= 1:
            assert _tbler(model, cqi, sinr, n_prb_sb * n_sb, ri) <= 0.1
        if cqi < 15:
            assert _tbler(model, cqi + 1, sinr, n_prb_sb * n_sb, ri) > 0.1
        for s in range(n_sb):
            assert r["subband_cqi"][s] == _brute_cqi(model, sinr[s], n_prb_sb, ri)
    if rx == 2:
        assert ranks_seen == {1, 2}  # the SNRs span both ranks


def test_single_polarised_configuration_errors_name_the_rule():
    with pytest.raises(ValueError, match="O1 must be 1 when N1 = 1"):
        _core.NrCsiReport(n1=1, n2=4, o1=4, o2=4, polarisations=1)
    with pytest.raises(ValueError, match="polarisations"):
        _core.NrCsiReport(polarisations=3)
