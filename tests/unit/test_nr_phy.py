"""NR PHY abstraction (ns3_scenarios/model/nr-*.h) against 3GPP values and Sionna 2.x.

References: TS 38.214 V17 §5.1.3.1 (MCS tables) and §5.1.3.2 (TBS), TS 38.212 V17 §5.2.2
(code-block segmentation), TS 38.101-1/-2 V17 Table 5.3.2-1 (N_RB). Independent oracles:
``sionna.phy.nr.utils.decode_mcs_index`` / ``calculate_tb_size``, ``sionna.sys.EESM`` and the
interpolator of ``sionna.sys.PHYAbstraction`` (``SplineGriddataInterpolation``).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from edgelam_ns3 import radio

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model():
    return radio.make_bler_model()


@pytest.fixture(scope="module")
def curves():
    """Sionna's PDSCH curves: the model uses them for PDSCH and CP-OFDM PUSCH."""
    return tuple(c for c in radio.load_bler_tables() if c.channel == 1)


# ----------------------------------------------------------------------------------- TBS


# The TBS worked by hand from TS 38.214 §5.1.3.2 and the rows of the MCS tables as printed are
# ns-3 test cases (ns3_scenarios/test/nr-tbs-test.cc, nr-mcs-table-test.cc, run by
# test_ns3_suites.py); here the C++ is held against Sionna over whole sweeps.


def test_tbs_matches_sionna_calculate_tb_size_sweep():
    from sionna.phy.nr.utils import calculate_tb_size

    cases = list(
        itertools.product(
            [1, 2, 3, 5, 8, 11, 16, 24, 33, 51, 79, 106, 133, 162, 217, 273],  # n_prb
            [(1, m) for m in range(29)] + [(2, m) for m in range(28)],  # (table, mcs)
            [(14, 12, 0), (12, 12, 0), (14, 24, 0), (7, 6, 6), (4, 12, 0), (2, 6, 0)],
            [1, 2, 4],  # layers
        )
    )
    qm, rate, n_prb, n_symb, n_dmrs, n_ov, layers, ours = ([] for _ in range(8))
    for p, (t, m), (s, d, o), v in cases:
        mc = radio.mcs(t, m)
        qm.append(mc.qm)
        rate.append(mc.rate_x1024 / 1024)
        n_prb.append(p)
        n_symb.append(s)
        n_dmrs.append(d)
        n_ov.append(o)
        layers.append(v)
        ours.append(radio.tbs(p, m, t, s, d, o, v))
    t32 = lambda x: torch.tensor(x, dtype=torch.int32)  # noqa: E731
    tb, cb, ncb, *_ = calculate_tb_size(
        modulation_order=t32(qm),
        target_coderate=torch.tensor(rate, dtype=torch.float32),
        num_prbs=t32(n_prb),
        num_ofdm_symbols=t32(n_symb),
        num_dmrs_per_prb=t32(n_dmrs),
        num_layers=t32(layers),
        num_ov=t32(n_ov),
        return_cw_length=False,
        device="cpu",
    )
    mismatch = [(c, o, s) for c, o, s in zip(cases, ours, tb.tolist()) if o != s]
    assert len(cases) > 8000
    assert not mismatch, mismatch[:10]
    # segmentation too
    for i in range(0, len(cases), 97):
        p, (t, m), (s, d, o), v = cases[i]
        info = radio.tbs_info(p, m, t, s, d, o, v)
        assert (info["num_code_blocks"], info["code_block_size"]) == (ncb[i].item(), cb[i].item())


def test_tbs_rejects_arguments_outside_ts38214():
    with pytest.raises(ValueError, match="N_symb"):
        radio.tbs(10, 5, "qam64", n_symb=15)
    with pytest.raises(ValueError, match="1..4 layers"):
        radio.tbs(10, 5, "qam64", layers=5)
    with pytest.raises(IndexError, match="Table 5.1.3.1-2"):
        radio.tbs(10, 28, "qam256")
    with pytest.raises(ValueError, match="qam256"):
        radio.tbs(10, 5, "qam512")


# ----------------------------------------------------------------------------------- MCS


def test_mcs_tables_match_sionna_decode_mcs_index():
    from sionna.phy.nr.utils import decode_mcs_index

    sizes = {1: 29, 2: 28, 3: 29, 4: 27}
    for table, n in sizes.items():
        assert radio.num_mcs(table) == n
        qm, rate = decode_mcs_index(
            torch.arange(n), table_index=table, is_pusch=False, device="cpu"
        )
        for i in range(n):
            m = radio.mcs(table, i)
            assert m.qm == qm[i].item(), (table, i)
            assert m.rate_x1024 == pytest.approx(rate[i].item() * 1024, abs=1e-3), (table, i)
            assert m.spectral_efficiency == pytest.approx(m.qm * m.rate_x1024 / 1024)


# ------------------------------------------------------------------------------- N_RB


def test_nprb_matches_ts38101_table():
    spec = {  # (MHz, kHz): N_RB, TS 38.101-1 / 38.101-2 Table 5.3.2-1
        (5, 15): 25, (20, 15): 106, (50, 15): 270, (10, 30): 24, (40, 30): 106,
        (100, 30): 273, (35, 30): 92, (45, 60): 58, (100, 60): 135, (50, 60): 65,
        (200, 60): 264, (50, 120): 32, (100, 120): 66, (400, 120): 264,
        (400, 480): 66, (1600, 480): 248, (400, 960): 33, (2000, 960): 148,
    }  # fmt: skip
    for (bw, scs), n in spec.items():
        assert radio.num_prb_table(bw * 1e6, scs * 1e3) == n, (bw, scs)
        assert radio.num_prb(bw * 1e6, scs * 1e3) == n, (bw, scs)
    # not defined by the tables: None, and the formula floor(BW (1 - g) / (12 SCS))
    assert radio.num_prb_table(100e6, 15e3) is None
    assert radio.num_prb_table(400e6, 30e3) is None
    assert radio.num_prb(200e6, 30e3) == math.floor(200e6 * 0.95 / 360e3) == 527
    assert radio.num_prb(100e6, 15e3) == 527
    assert radio.num_prb(400e6, 120e3, guard_fraction=0.1) == 264  # the table wins
    assert radio.num_prb(320e6, 240e3, guard_fraction=0.0) == 111
    assert [radio.scs_hz(mu) for mu in range(5)] == [15e3, 30e3, 60e3, 120e3, 240e3]


# ------------------------------------------------------------------------------ BLER


def test_bler_table_interpolation_matches_sionna_points(model, curves):
    from sionna.phy.utils import SplineGriddataInterpolation

    interp = SplineGriddataInterpolation()
    assert {c.table for c in curves} == {1, 2, 3, 4}
    n_exact = n_mid = 0
    for c in curves:
        # at the tabulated points: the table itself
        for i, cbs in enumerate(c.cb_sizes):
            nz = np.nonzero(c.bler[i])[0]
            for channel in ("pdsch", "pusch"):
                got = model.cbler(channel, c.table, c.mcs, cbs, c.snr_db[nz])
                np.testing.assert_allclose(got, c.bler[i, nz], rtol=1e-9)
            n_exact += len(nz)
        # between points and between code-block sizes: Sionna's bilinear log10 interpolation,
        # inside the curves' observed range (where Sionna reports a non-zero value)
        cbs_q = np.sort(np.concatenate([c.cb_sizes, 0.5 * (c.cb_sizes[1:] + c.cb_sizes[:-1])]))
        snr_q = 0.5 * (c.snr_db[1:] + c.snr_db[:-1])
        ref = interp.struct(c.bler, c.cb_sizes, c.snr_db, cbs_q, snr_q)
        last_nz = max(np.nonzero(r)[0].max(initial=0) for r in c.bler)
        for a, cbs in enumerate(cbs_q):
            for b, s in enumerate(snr_q):
                if ref[a, b] > 0 and s < c.snr_db[last_nz] and all(
                    np.any(r[c.snr_db > s] > 0) for r in c.bler
                ):
                    got = model.cbler(c.channel, c.table, c.mcs, cbs, s)
                    assert got == pytest.approx(ref[a, b], rel=1e-6), (c.source, c.mcs, cbs, s)
                    n_mid += 1
    assert n_exact > 3000 and n_mid > 3000


def test_bler_extends_past_table_edge_monotonically(model, curves):
    table2_27 = next(c for c in curves if (c.channel, c.table, c.mcs) == (1, 2, 27))
    # Sionna's table stops at 25 dB with CBLER ~0.15 at 2000 bits: clamped, never usable
    assert table2_27.snr_db[-1] == pytest.approx(25.0)
    assert table2_27.bler[-1, -1] > 0.1
    for cbs in (2000, 3000, 8448):
        assert model.cbler("pdsch", "qam256", 27, cbs, 35.0) < 1e-3
        assert model.tbler("pdsch", "qam256", 27, cbs, 38, 35.0) < 1e-3
    s = np.linspace(0, 80, 801)
    for c in curves:
        for cbs in list(c.cb_sizes) + [4000.0]:
            b = model.cbler(c.channel, c.table, c.mcs, cbs, s[s >= c.snr_db[-1]])
            assert np.all(np.diff(b) <= 1e-15), (c.source, c.mcs, cbs)
            assert np.all(b >= model.min_bler)
        # the extension reaches the floor for every MCS that has a waterfall somewhere
        assert model.cbler(c.channel, c.table, c.mcs, 2000, 80.0) == pytest.approx(1e-9)
    # no curve falls before the Shannon-capacity SINR of its spectral efficiency
    for c in curves:
        se = radio.mcs(c.table, c.mcs).spectral_efficiency
        cap_db = 10 * math.log10(2**se - 1)
        assert model.cbler(c.channel, c.table, c.mcs, 2000, cap_db - 0.5) > 0.5, (c.source, c.mcs)


def test_tbler_combines_code_blocks(model):
    cb = model.cbler("pdsch", 2, 20, 8440, 19.0)
    assert 1e-4 < cb < 0.5
    assert model.tbler("pdsch", 2, 20, 8440, 1, 19.0) == pytest.approx(cb)
    assert model.tbler("pdsch", 2, 20, 8440, 38, 19.0) == pytest.approx(1 - (1 - cb) ** 38)


def test_eesm_equal_sinr_is_identity(model):
    for sinr_db in (-5.0, 0.0, 13.0, 30.0, 60.0):
        x = np.full(50, 10 ** (sinr_db / 10))
        for beta in (1.6, 10.97, 132.54):
            assert radio.eesm(x, beta) == pytest.approx(x[0], rel=1e-12)
        assert model.effective_sinr(x, "qam256", 27) == pytest.approx(x[0], rel=1e-12)
    # unused resources (SINR 0) do not count; none used gives 0, as Sionna
    assert radio.eesm(np.array([0.0, 4.0, 4.0]), 5.0) == pytest.approx(4.0)
    assert radio.eesm(np.zeros(4), 5.0) == 0.0


def test_eesm_matches_sionna_eesm(model):
    from sionna.sys import EESM

    g = torch.Generator().manual_seed(1)
    sinr_db = torch.rand(4, 1, 24, 3, 1, generator=g, dtype=torch.float64) * 30 - 5
    sinr = (10 ** (sinr_db / 10)).float()
    mcs = torch.tensor([[3, 14, 27]] * 4, dtype=torch.int32)
    ref = EESM(device="cpu")(sinr, mcs, mcs_table_index=2).double()
    for b in range(4):
        for u in range(3):
            ours = model.effective_sinr(sinr[b, :, :, u, 0].double().numpy(), 2, int(mcs[b, u]))
            assert ours == pytest.approx(ref[b, u].item(), rel=1e-4)
    # betas are Sionna's, per table
    assert model.eesm_beta("qam64", 0) == pytest.approx(1.60)
    assert model.eesm_beta("qam256", 27) == pytest.approx(132.54)


def test_link_adaptation_meets_target(model):
    rng = np.random.default_rng(7)
    for table, n_prb in (("qam256", 273), ("qam64", 51)):
        prev = -1
        for sinr_db in np.arange(-5.0, 45.0, 1.0):
            # a frequency-selective allocation: per-PRB SINR spread by +-6 dB
            sinr = 10 ** ((sinr_db + rng.uniform(-6, 6, n_prb)) / 10)
            ch = model.select_mcs("pdsch", table, sinr, n_prb)
            if not ch["meets_target"]:
                assert ch["mcs"] == min(m for m in range(29) if model.has_curve(1, table, m))
                continue
            m = ch["mcs"]
            assert ch["tbler"] <= 0.1
            # the next MCS up misses the target at its own effective SINR
            if m + 1 < radio.num_mcs(table) and model.has_curve(1, table, m + 1):
                info = radio.tbs_info(n_prb, m + 1, table)
                eff_db = 10 * math.log10(model.effective_sinr(sinr, table, m + 1))
                cbs, n_cb = info["code_block_size"], info["num_code_blocks"]
                tb = model.tbler(1, table, m + 1, cbs, n_cb, eff_db)
                assert tb > 0.1, (table, sinr_db, m)
            assert ch["tbs"]["tbs"] == radio.tbs(n_prb, m, table)
            prev = max(prev, m)
        assert prev == radio.num_mcs(table) - 1  # the top MCS is reached at high SINR
    # a stricter target never picks a higher MCS
    sinr = np.full(100, 10 ** (15 / 10))
    loose = model.select_mcs("pdsch", 2, sinr, 100)["mcs"]
    strict = model.select_mcs("pdsch", 2, sinr, 100, target_bler=1e-3)["mcs"]
    assert strict <= loose
    # at 60 dB, 256-QAM MCS 27 (the peak rate) is chosen
    assert model.select_mcs("pdsch", "qam256", np.full(273, 1e6), 273)["mcs"] == 27
