/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * TestSuite edgelam-nr-precoding: NrPrecoding against closed forms written out element by
 * element here (2 x 2 Gram inverses by hand, explicit sums), not through NrComplexMatrix:
 * ZF's SINR p_k / (sigma^2 [(H H^H)^-1]_kk) and its nulls, MRT's and RZF's SINR with
 * inter-user interference, the MMSE receiver's SINR (Sherman-Morrison) with inter-cell
 * interference, and semi-orthogonal user selection on a constructed case. Sionna's precoders
 * on random channels are compared from Python (tests/unit/test_nr_precoding.py).
 */
#include "ns3/nr-precoding.h"
#include "ns3/test.h"

#include <cmath>
#include <complex>
#include <vector>

namespace ns3
{
namespace
{

using C = std::complex<double>;
using Vec = std::vector<C>;

/// Two rows of a 2 x 4 layer channel with correlated rows (deterministic, no zero entry).
const std::vector<Vec> kH2 = {{C(1.0, 0.2), C(-0.3, 0.8), C(0.5, -0.5), C(0.1, 0.9)},
                              {C(0.4, -0.6), C(0.9, 0.1), C(-0.2, 0.3), C(0.7, 0.5)}};

/// \return the matrix with the given rows
NrComplexMatrix
FromRows(const std::vector<Vec>& rows)
{
    std::vector<C> data;
    for (const auto& r : rows)
    {
        data.insert(data.end(), r.begin(), r.end());
    }
    return NrComplexMatrix::FromRowMajor(rows.size(), rows[0].size(), data);
}

/// \return a^T b (a row times a column, no conjugation)
C
Dot(const Vec& a, const Vec& b)
{
    C s = 0;
    for (size_t i = 0; i < a.size(); ++i)
    {
        s += a[i] * b[i];
    }
    return s;
}

/// \return the conjugate of each element
Vec
Conj(const Vec& a)
{
    Vec c(a.size());
    for (size_t i = 0; i < a.size(); ++i)
    {
        c[i] = std::conj(a[i]);
    }
    return c;
}

/// \return the column l of w
Vec
Col(const NrComplexMatrix& w, size_t l)
{
    Vec c(w.Rows());
    for (size_t n = 0; n < w.Rows(); ++n)
    {
        c[n] = w(n, l);
    }
    return c;
}

/**
 * SINR of single-antenna UE k with precoders w (columns, powers included), explicitly:
 * |h_k w_k|^2 / (sigma^2 + sum_{j != k} |h_k w_j|^2).
 */
double
ExplicitSinr(const std::vector<Vec>& h, const std::vector<Vec>& w, size_t k, double noise)
{
    double interference = noise;
    for (size_t j = 0; j < w.size(); ++j)
    {
        if (j != k)
        {
            interference += std::norm(Dot(h[k], w[j]));
        }
    }
    return std::norm(Dot(h[k], w[k])) / interference;
}

/// Layer SINRs of single-antenna UEs (one per row of h) from NrPrecoding.
std::vector<double>
ModelSinr(const std::vector<Vec>& h, const NrComplexMatrix& w, double noise)
{
    std::vector<NrComplexMatrix> ue;
    std::vector<uint32_t> layerUe;
    for (size_t k = 0; k < h.size(); ++k)
    {
        ue.push_back(FromRows({h[k]}));
        layerUe.push_back(k);
    }
    return NrPrecoding::LayerSinr(ue, w, layerUe, std::vector<double>(h.size(), noise));
}

/**
 * V = H^H (H H^H + alpha I)^-1 of the 2-row kH2, columns normalised to sqrt(p), with the
 * 2 x 2 inverse [[d, -b], [-c, a]] / (a d - b c) written out.
 */
std::vector<Vec>
ExplicitRzf2(double alpha, const std::vector<double>& p)
{
    const C g00 = Dot(kH2[0], Conj(kH2[0])) + alpha;
    const C g01 = Dot(kH2[0], Conj(kH2[1]));
    const C g10 = Dot(kH2[1], Conj(kH2[0]));
    const C g11 = Dot(kH2[1], Conj(kH2[1])) + alpha;
    const C det = g00 * g11 - g01 * g10;
    const C inv[2][2] = {{g11 / det, -g01 / det}, {-g10 / det, g00 / det}};
    std::vector<Vec> w(2, Vec(4));
    for (size_t l = 0; l < 2; ++l)
    {
        double norm2 = 0;
        for (size_t n = 0; n < 4; ++n)
        {
            w[l][n] = std::conj(kH2[0][n]) * inv[0][l] + std::conj(kH2[1][n]) * inv[1][l];
            norm2 += std::norm(w[l][n]);
        }
        for (auto& x : w[l])
        {
            x *= std::sqrt(p[l] / norm2);
        }
    }
    return w;
}

/// ZF with perfect CSI.
class NrZfTestCase : public TestCase
{
  public:
    NrZfTestCase()
        : TestCase("ZF: SINR_k = p_k over sigma^2 [(H H^H)^-1]_kk within 0.1 dB (2 x 2 inverse "
                   "by hand), no leakage to the other UE")
    {
    }

  private:
    void DoRun() override
    {
        const double noise = 0.05;
        for (const auto& p : std::vector<std::vector<double>>{{0.5, 0.5}, {0.8, 0.2}})
        {
            const auto w = NrPrecoding::Compute(NrPrecoding::ZF, FromRows(kH2), p, noise);
            const auto sinr = ModelSinr(kH2, w, noise);
            const double g00 = Dot(kH2[0], Conj(kH2[0])).real();
            const double g11 = Dot(kH2[1], Conj(kH2[1])).real();
            const double det = g00 * g11 - std::norm(Dot(kH2[0], Conj(kH2[1])));
            const double inv[2] = {g11 / det, g00 / det};
            for (size_t k = 0; k < 2; ++k)
            {
                const double closedDb = 10 * std::log10(p[k] / (noise * inv[k]));
                NS_TEST_EXPECT_MSG_EQ_TOL(10 * std::log10(sinr[k]),
                                          closedDb,
                                          0.1,
                                          "ZF SINR of UE " << k << ", power " << p[k]);
                NS_TEST_EXPECT_MSG_EQ_TOL(std::norm(Dot(kH2[1 - k], Col(w, k))),
                                          0.0,
                                          1e-20,
                                          "ZF beam of UE " << k << " leaks to the other");
                NS_TEST_EXPECT_MSG_EQ_TOL(w.ColumnNorm2(k), p[k], 1e-12, "power of layer " << k);
            }
        }
    }
};

/// MRT and RZF against their explicit SINR expressions.
class NrMrtRzfTestCase : public TestCase
{
  public:
    NrMrtRzfTestCase()
        : TestCase("MRT: w_k = sqrt(p_k) h_k^H over its norm; RZF: H^H (H H^H + sigma^2 K "
                   "over P)^-1 by hand; both with inter-user interference; RZF -> ZF as "
                   "alpha -> 0")
    {
    }

  private:
    void DoRun() override
    {
        const double noise = 0.2;
        const std::vector<double> p{0.6, 0.4};
        const auto mrt = NrPrecoding::Compute(NrPrecoding::MRT, FromRows(kH2), p, noise);
        const auto mrtSinr = ModelSinr(kH2, mrt, noise);
        std::vector<Vec> wMrt;
        for (size_t k = 0; k < 2; ++k)
        {
            const double n2 = Dot(kH2[k], Conj(kH2[k])).real();
            Vec w = Conj(kH2[k]);
            for (auto& x : w)
            {
                x *= std::sqrt(p[k] / n2);
            }
            wMrt.push_back(w);
        }
        const auto rzf = NrPrecoding::Compute(NrPrecoding::RZF, FromRows(kH2), p, noise);
        const auto rzfSinr = ModelSinr(kH2, rzf, noise);
        const auto wRzf = ExplicitRzf2(noise * 2 / (p[0] + p[1]), p);
        for (size_t k = 0; k < 2; ++k)
        {
            NS_TEST_EXPECT_MSG_EQ_TOL(mrtSinr[k],
                                      ExplicitSinr(kH2, wMrt, k, noise),
                                      1e-9 * mrtSinr[k],
                                      "MRT SINR of UE " << k);
            NS_TEST_EXPECT_MSG_EQ_TOL(rzfSinr[k],
                                      ExplicitSinr(kH2, wRzf, k, noise),
                                      1e-9 * rzfSinr[k],
                                      "RZF SINR of UE " << k);
        }
        const auto nearZf = NrPrecoding::Compute(NrPrecoding::RZF, FromRows(kH2), p, noise, 1e-9);
        const auto zf = NrPrecoding::Compute(NrPrecoding::ZF, FromRows(kH2), p, noise);
        const auto a = ModelSinr(kH2, nearZf, noise);
        const auto b = ModelSinr(kH2, zf, noise);
        NS_TEST_EXPECT_MSG_EQ_TOL(10 * std::log10(a[0] / b[0]), 0.0, 0.01, "RZF alpha -> 0");
        NS_TEST_EXPECT_MSG_EQ_TOL(10 * std::log10(a[1] / b[1]), 0.0, 0.01, "RZF alpha -> 0");
    }
};

/// The MMSE receiver of a 2-antenna UE.
class NrMmseReceiverTestCase : public TestCase
{
  public:
    NrMmseReceiverTestCase()
        : TestCase("MMSE receiver of a 2-antenna UE: MRC without interference; Sherman-Morrison "
                   "with one interfering layer; inter-cell interference q I acts as noise "
                   "s^2 + q")
    {
    }

  private:
    void DoRun() override
    {
        const auto hu = FromRows(kH2); // a UE with two receive antennas
        const Vec w0{C(0.5, 0), C(0, 0.5), C(-0.5, 0), C(0.5, 0)};
        const Vec w1{C(0.3, 0.4), C(0.1, -0.2), C(0, 0.6), C(-0.5, 0)};
        auto w = NrComplexMatrix(4, 2);
        for (size_t n = 0; n < 4; ++n)
        {
            w(n, 0) = w0[n];
            w(n, 1) = w1[n];
        }
        const Vec a{Dot(kH2[0], w0), Dot(kH2[1], w0)};
        const Vec b{Dot(kH2[0], w1), Dot(kH2[1], w1)};
        const double a2 = std::norm(a[0]) + std::norm(a[1]);
        const double b2 = std::norm(b[0]) + std::norm(b[1]);
        const double ab2 = std::norm(std::conj(a[0]) * b[0] + std::conj(a[1]) * b[1]);
        for (double q : {0.0, 0.3})
        {
            const double s2 = 0.1 + q;
            std::vector<NrComplexMatrix> icov;
            if (q > 0)
            {
                icov.push_back(NrComplexMatrix::Identity(2).Scaled(q));
            }
            const auto one =
                NrPrecoding::LayerSinr({hu}, NrComplexMatrix(w.Column(0)), {0}, {0.1}, icov);
            NS_TEST_EXPECT_MSG_EQ_TOL(one[0], a2 / s2, 1e-9, "MRC, inter-cell " << q);
            const auto two = NrPrecoding::LayerSinr({hu}, w, {0, 0}, {0.1}, icov);
            NS_TEST_EXPECT_MSG_EQ_TOL(two[0],
                                      (a2 - ab2 / (s2 + b2)) / s2,
                                      1e-9,
                                      "MMSE against one layer, inter-cell " << q);
        }
    }
};

/// Semi-orthogonal user selection.
class NrSusTestCase : public TestCase
{
  public:
    NrSusTestCase()
        : TestCase("SUS: drops the user nearly parallel to the first pick, then picks the "
                   "largest orthogonal components; PF weights change the first pick")
    {
    }

  private:
    void DoRun() override
    {
        // user 1 is nearly parallel to user 0 (|cos| = 0.995) and a little stronger;
        // users 2 and 3 are (nearly) orthogonal to both
        const auto h = FromRows({{C(2, 0), C(0, 0), C(0, 0), C(0, 0)},
                                 {C(2.2, 0), C(0.22, 0), C(0, 0), C(0, 0)},
                                 {C(0, 0), C(0, 1), C(0, 0), C(0, 0)},
                                 {C(0, 0), C(0, 0), C(0.5, 0), C(0, 0)}});
        auto picked = NrPrecoding::SelectUsers(h, {1, 1, 1, 1}, 3, 0.3);
        NS_TEST_ASSERT_MSG_EQ(picked.size(), 3, "three users picked");
        NS_TEST_EXPECT_MSG_EQ(picked[0], 1, "the strongest first");
        NS_TEST_EXPECT_MSG_EQ(picked[1], 2, "then the largest orthogonal component");
        NS_TEST_EXPECT_MSG_EQ(picked[2], 3, "then the last orthogonal user");
        picked = NrPrecoding::SelectUsers(h, {2, 1, 1, 1}, 4, 0.3);
        NS_TEST_ASSERT_MSG_EQ(picked.size(), 3, "user 1 is never co-scheduled with user 0");
        NS_TEST_EXPECT_MSG_EQ(picked[0], 0, "PF weight 2 x 4 beats 1 x 4.89");
        picked = NrPrecoding::SelectUsers(h, {1, 1, 1, 1}, 2, 1.0);
        NS_TEST_EXPECT_MSG_EQ(picked.size(), 2, "max_layers caps the group");
    }
};

/// The suite.
class NrPrecodingTestSuite : public TestSuite
{
  public:
    NrPrecodingTestSuite()
        : TestSuite("edgelam-nr-precoding", UNIT)
    {
        AddTestCase(new NrZfTestCase(), TestCase::QUICK);
        AddTestCase(new NrMrtRzfTestCase(), TestCase::QUICK);
        AddTestCase(new NrMmseReceiverTestCase(), TestCase::QUICK);
        AddTestCase(new NrSusTestCase(), TestCase::QUICK);
    }
};

NrPrecodingTestSuite g_nrPrecodingTestSuite; //!< registers the suite

} // namespace
} // namespace ns3
