/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * TestSuite edgelam-nr-csi-report: NrCsiReport against TS 38.214 V17 as printed: the CQI
 * tables 5.2.2.1-2 and -3 (each efficiency is Q_m R to the 4 decimals printed; the MCS each
 * CQI maps to, read off Tables 5.1.3.1-1..-3 by hand), the differential subband CQI of Table
 * 5.2.2.1-1, and the Type I single-panel codebook: v_{l,m} by its formula, codebook sizes for
 * several (N1, N2, O1, O2), unit Frobenius norm and orthogonal layers, the 2-port Table
 * 5.2.2.2.1-1. PMI against brute force and CQI against the Sionna BLER tables run from
 * Python (tests/unit/test_nr_csi_report.py).
 */
#include "ns3/nr-csi-report.h"
#include "ns3/test.h"
#include "ns3/uinteger.h"

#include <cmath>
#include <complex>

namespace ns3
{
namespace
{

/// CQI tables and their MCS.
class NrCqiTableTestCase : public TestCase
{
  public:
    NrCqiTableTestCase()
        : TestCase("CQI tables 5.2.2.1-2 and -3: efficiency = Q_m R as printed, the MCS of "
                   "the same modulation and rate, differential subband CQI")
    {
    }

  private:
    void DoRun() override
    {
        for (uint32_t t : {1u, 2u})
        {
            for (uint32_t cqi = 1; cqi <= 15; ++cqi)
            {
                const auto e = NrCsiReport::GetCqiEntry(t, cqi);
                NS_TEST_EXPECT_MSG_EQ_TOL(e.qm * e.rateX1024 / 1024.0,
                                          e.efficiency,
                                          6e-5,
                                          "table " << t << " CQI " << cqi);
            }
        }
        NS_TEST_EXPECT_MSG_EQ(NrCsiReport::GetCqiEntry(2, 12).qm, 8, "table 2 CQI 12 is 256QAM");
        NS_TEST_EXPECT_MSG_EQ(NrCsiReport::GetCqiEntry(1, 10).qm, 6, "table 1 CQI 10 is 64QAM");
        NS_TEST_EXPECT_MSG_EQ(NrCsiReport::GetCqiEntry(2, 0).qm, 0, "CQI 0 is out of range");
        struct Case
        {
            uint32_t table;
            uint32_t cqi;
            NrMcsTable::Table mcsTable;
            uint32_t mcs;
        };
        const Case cases[] = {{2, 15, NrMcsTable::QAM256, 27},
                              {2, 12, NrMcsTable::QAM256, 21},
                              {2, 7, NrMcsTable::QAM256, 11},
                              {2, 4, NrMcsTable::QAM256, 5},
                              {2, 2, NrMcsTable::QAM256, 1},
                              {2, 1, NrMcsTable::QAM64_LOW_SE, 4},
                              {1, 15, NrMcsTable::QAM64, 28},
                              {1, 10, NrMcsTable::QAM64, 18},
                              {1, 7, NrMcsTable::QAM64, 11},
                              {1, 2, NrMcsTable::QAM64, 0},
                              {1, 1, NrMcsTable::QAM64_LOW_SE, 4}};
        for (const auto& c : cases)
        {
            const auto [t, m] = NrCsiReport::CqiToMcs(c.table, c.cqi);
            NS_TEST_EXPECT_MSG_EQ(t, c.mcsTable, "MCS table of table " << c.table << " CQI "
                                                                       << c.cqi);
            NS_TEST_EXPECT_MSG_EQ(m, c.mcs, "MCS of table " << c.table << " CQI " << c.cqi);
        }
        const uint32_t diff[][3] = {{7, 7, 0}, {8, 7, 1}, {9, 7, 2}, {12, 7, 2}, {6, 7, 3},
                                    {0, 7, 3}};
        for (const auto& d : diff)
        {
            NS_TEST_EXPECT_MSG_EQ(NrCsiReport::SubbandDifferentialCqi(d[0], d[1]),
                                  d[2],
                                  "subband " << d[0] << " wideband " << d[1]);
        }
    }
};

/// \return a CSI report with the given codebook configuration
Ptr<NrCsiReport>
MakeReport(uint32_t n1, uint32_t n2, uint32_t o1, uint32_t o2)
{
    auto r = CreateObject<NrCsiReport>();
    r->SetAttribute("N1", UintegerValue(n1));
    r->SetAttribute("N2", UintegerValue(n2));
    r->SetAttribute("O1", UintegerValue(o1));
    r->SetAttribute("O2", UintegerValue(o2));
    return r;
}

/// The Type I single-panel codebook.
class NrTypeICodebookTestCase : public TestCase
{
  public:
    NrTypeICodebookTestCase()
        : TestCase("Type I single panel: v_lm by formula, codebook sizes, unit norm, "
                   "orthogonal layers, 2-port table")
    {
    }

  private:
    void DoRun() override
    {
        // v_{l,m}[a N2 + b] = exp(j 2 pi (l a / (O1 N1) + m b / (O2 N2)))
        const auto v = NrCsiReport::Vlm(4, 2, 4, 4, 3, 5);
        for (uint32_t a = 0; a < 4; ++a)
        {
            for (uint32_t b = 0; b < 2; ++b)
            {
                const double ph = 2 * M_PI * (3.0 * a / 16 + 5.0 * b / 8);
                NS_TEST_EXPECT_MSG_EQ_TOL(std::abs(v[a * 2 + b] - std::polar(1.0, ph)),
                                          0.0,
                                          1e-12,
                                          "v_{3,5} element " << a << "," << b);
            }
        }
        // sizes: rank 1 N1 O1 x N2 O2 x 4; rank 2 N1 O1 x N2 O2 x |i13| x 2
        const uint32_t sizes[][6] = {{4, 2, 4, 4, 512, 1024},
                                     {2, 1, 4, 1, 32, 32},
                                     {4, 1, 4, 1, 64, 128},
                                     {2, 2, 4, 4, 256, 512},
                                     {1, 1, 1, 1, 4, 2}};
        for (const auto& s : sizes)
        {
            auto r = MakeReport(s[0], s[1], s[2], s[3]);
            NS_TEST_EXPECT_MSG_EQ(r->GetCodebook(1).size(), s[4], "rank 1 N1 " << s[0] << " N2 "
                                                                                << s[1]);
            NS_TEST_EXPECT_MSG_EQ(r->GetCodebook(2).size(), s[5], "rank 2 N1 " << s[0] << " N2 "
                                                                                << s[1]);
            for (uint32_t rank : {1u, 2u})
            {
                for (const auto& pmi : r->GetCodebook(rank))
                {
                    const auto w = r->GetPrecoder(rank, pmi);
                    const auto g = w.Hermitian() * w; // I / rank
                    for (uint32_t i = 0; i < rank; ++i)
                    {
                        for (uint32_t j = 0; j < rank; ++j)
                        {
                            const double expect = i == j ? 1.0 / rank : 0.0;
                            NS_TEST_EXPECT_MSG_EQ_TOL(std::abs(g(i, j) - expect),
                                                      0.0,
                                                      1e-12,
                                                      "W^H W of rank " << rank);
                        }
                    }
                }
            }
        }
        // 1 layer of N1 = 2, N2 = 1: [v_l; phi_n v_l] / 2 with phi_n = j^n
        auto r = MakeReport(2, 1, 4, 1);
        const auto w = r->GetPrecoder(1, NrPmi{3, 0, 0, 1});
        const std::complex<double> e(std::polar(1.0, 2 * M_PI * 3 / 8));
        const std::complex<double> expect[4] = {0.5, 0.5 * e, 0.5 * std::complex<double>(0, 1),
                                                0.5 * std::complex<double>(0, 1) * e};
        for (uint32_t p = 0; p < 4; ++p)
        {
            NS_TEST_EXPECT_MSG_EQ_TOL(std::abs(w(p, 0) - expect[p]), 0.0, 1e-12, "port " << p);
        }
        // 2 ports, 2 layers, i2 = 1: [[1, 1], [j, -j]] / 2
        const auto w2 = MakeReport(1, 1, 1, 1)->GetPrecoder(2, NrPmi{0, 0, 0, 1});
        NS_TEST_EXPECT_MSG_EQ_TOL(std::abs(w2(1, 1) - std::complex<double>(0, -0.5)),
                                  0.0,
                                  1e-12,
                                  "2 ports, 2 layers, i2 = 1");
    }
};

/// The suite.
class NrCsiReportTestSuite : public TestSuite
{
  public:
    NrCsiReportTestSuite()
        : TestSuite("edgelam-nr-csi-report", UNIT)
    {
        AddTestCase(new NrCqiTableTestCase(), TestCase::QUICK);
        AddTestCase(new NrTypeICodebookTestCase(), TestCase::QUICK);
    }
};

NrCsiReportTestSuite g_nrCsiReportTestSuite; //!< registers the suite

} // namespace
} // namespace ns3
