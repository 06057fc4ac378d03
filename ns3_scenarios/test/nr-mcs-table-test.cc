/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * TestSuite edgelam-nr-mcs-table: NrMcsTable against rows of the MCS index tables of
 * TS 38.214 V17 §5.1.3.1 (Tables 5.1.3.1-1 to -4) as printed in the specification.
 */
#include "ns3/nr-mcs-table.h"
#include "ns3/test.h"

#include <stdexcept>

namespace ns3
{
namespace
{

/// One printed row: I_MCS, Q_m, R x 1024, spectral efficiency (4 decimals, as printed).
struct McsRow
{
    NrMcsTable::Table table; //!< the table
    uint32_t mcs;            //!< I_MCS
    uint32_t qm;             //!< Q_m
    double rateX1024;        //!< target code rate R x 1024
    double se;               //!< spectral efficiency as printed
};

/// The first and last row of each table and the rows around each change of modulation.
const McsRow kRows[] = {
    // Table 5.1.3.1-1 (qam64)
    {NrMcsTable::QAM64, 0, 2, 120, 0.2344},
    {NrMcsTable::QAM64, 9, 2, 679, 1.3262},
    {NrMcsTable::QAM64, 10, 4, 340, 1.3281},
    {NrMcsTable::QAM64, 16, 4, 658, 2.5703},
    {NrMcsTable::QAM64, 17, 6, 438, 2.5664},
    {NrMcsTable::QAM64, 28, 6, 948, 5.5547},
    // Table 5.1.3.1-2 (qam256)
    {NrMcsTable::QAM256, 0, 2, 120, 0.2344},
    {NrMcsTable::QAM256, 4, 2, 602, 1.1758},
    {NrMcsTable::QAM256, 5, 4, 378, 1.4766},
    {NrMcsTable::QAM256, 19, 6, 873, 5.1152},
    {NrMcsTable::QAM256, 20, 8, 682.5, 5.3320},
    {NrMcsTable::QAM256, 27, 8, 948, 7.4063},
    // Table 5.1.3.1-3 (qam64LowSE)
    {NrMcsTable::QAM64_LOW_SE, 0, 2, 30, 0.0586},
    {NrMcsTable::QAM64_LOW_SE, 14, 2, 602, 1.1758},
    {NrMcsTable::QAM64_LOW_SE, 15, 4, 340, 1.3281},
    {NrMcsTable::QAM64_LOW_SE, 20, 4, 616, 2.4063},
    {NrMcsTable::QAM64_LOW_SE, 21, 6, 438, 2.5664},
    {NrMcsTable::QAM64_LOW_SE, 28, 6, 772, 4.5234},
    // Table 5.1.3.1-4 (qam1024)
    {NrMcsTable::QAM1024, 0, 2, 120, 0.2344},
    {NrMcsTable::QAM1024, 2, 2, 449, 0.8770},
    {NrMcsTable::QAM1024, 3, 4, 378, 1.4766},
    {NrMcsTable::QAM1024, 14, 6, 873, 5.1152},
    {NrMcsTable::QAM1024, 15, 8, 682.5, 5.3320},
    {NrMcsTable::QAM1024, 22, 8, 948, 7.4063},
    {NrMcsTable::QAM1024, 23, 10, 805.5, 7.8662},
    {NrMcsTable::QAM1024, 26, 10, 948, 9.2578},
};

/// Rows as printed in TS 38.214.
class NrMcsTableRowsTestCase : public TestCase
{
  public:
    NrMcsTableRowsTestCase()
        : TestCase("Q_m, R x 1024 and spectral efficiency of TS 38.214 Tables 5.1.3.1-1 to -4")
    {
    }

  private:
    void DoRun() override
    {
        for (const auto& r : kRows)
        {
            const NrMcs m = NrMcsTable::Get(r.table, r.mcs);
            NS_TEST_EXPECT_MSG_EQ(m.qm, r.qm, "Q_m of table " << r.table << " MCS " << r.mcs);
            NS_TEST_EXPECT_MSG_EQ_TOL(m.rateX1024,
                                      r.rateX1024,
                                      1e-12,
                                      "R x 1024 of table " << r.table << " MCS " << r.mcs);
            NS_TEST_EXPECT_MSG_EQ(NrMcsTable::GetRateX2048(r.table, r.mcs),
                                  static_cast<uint32_t>(2 * r.rateX1024),
                                  "2 R x 1024 exact, table " << r.table << " MCS " << r.mcs);
            NS_TEST_EXPECT_MSG_EQ_TOL(m.spectralEfficiency,
                                      r.se,
                                      5e-5,
                                      "spectral efficiency of table " << r.table << " MCS "
                                                                      << r.mcs);
        }
    }
};

/// Table sizes, reserved indices and the top spectral efficiency.
class NrMcsTableSizesTestCase : public TestCase
{
  public:
    NrMcsTableSizesTestCase()
        : TestCase("usable indices per table, reserved indices rejected, top spectral "
                   "efficiency")
    {
    }

  private:
    void DoRun() override
    {
        NS_TEST_EXPECT_MSG_EQ(NrMcsTable::GetNumMcs(NrMcsTable::QAM64), 29, "I_MCS 0..28");
        NS_TEST_EXPECT_MSG_EQ(NrMcsTable::GetNumMcs(NrMcsTable::QAM256), 28, "I_MCS 0..27");
        NS_TEST_EXPECT_MSG_EQ(NrMcsTable::GetNumMcs(NrMcsTable::QAM64_LOW_SE), 29, "0..28");
        NS_TEST_EXPECT_MSG_EQ(NrMcsTable::GetNumMcs(NrMcsTable::QAM1024), 27, "I_MCS 0..26");
        bool threw = false;
        try
        {
            NrMcsTable::Get(NrMcsTable::QAM256, 28);
        }
        catch (const std::out_of_range&)
        {
            threw = true;
        }
        NS_TEST_EXPECT_MSG_EQ(threw, true, "I_MCS 28 of Table 5.1.3.1-2 is reserved");
        // 8 x 948 / 1024 and 10 x 948 / 1024, exactly
        NS_TEST_EXPECT_MSG_EQ(NrMcsTable::GetMaxSpectralEfficiency(NrMcsTable::QAM256),
                              7.40625,
                              "top of the 256-QAM table");
        NS_TEST_EXPECT_MSG_EQ(NrMcsTable::GetMaxSpectralEfficiency(NrMcsTable::QAM1024),
                              9.2578125,
                              "top of the 1024-QAM table");
        NS_TEST_EXPECT_MSG_EQ(NrMcsTable::FromString("qam64LowSE"),
                              NrMcsTable::QAM64_LOW_SE,
                              "RRC mcs-Table name");
    }
};

/// The suite.
class NrMcsTableTestSuite : public TestSuite
{
  public:
    NrMcsTableTestSuite()
        : TestSuite("edgelam-nr-mcs-table", UNIT)
    {
        AddTestCase(new NrMcsTableRowsTestCase(), TestCase::QUICK);
        AddTestCase(new NrMcsTableSizesTestCase(), TestCase::QUICK);
    }
};

NrMcsTableTestSuite g_nrMcsTableTestSuite; //!< registers the suite

} // namespace
} // namespace ns3
