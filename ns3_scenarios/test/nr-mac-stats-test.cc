/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * TestSuite edgelam-nr-mac-stats: the figures NrMacStats derives from its counters.
 */
#include "ns3/nr-mac-stats.h"
#include "ns3/test.h"

#include <cmath>

namespace ns3
{
namespace
{

/// BLER, means, NaN without transmissions, interval differences.
class NrMacStatsDerivedTestCase : public TestCase
{
  public:
    NrMacStatsDerivedTestCase()
        : TestCase("BLER and means of first transmissions, NaN without one, over an interval")
    {
    }

  private:
    void DoRun() override
    {
        const NrMacStats none;
        NS_TEST_EXPECT_MSG_EQ(std::isnan(none.GetBler()), true, "no first transmission: NaN");
        NS_TEST_EXPECT_MSG_EQ(std::isnan(none.GetMeanSinrDb()), true, "no SINR: NaN");
        NS_TEST_EXPECT_MSG_EQ(std::isnan(none.GetMeanMcs()), true, "no MCS: NaN");
        NS_TEST_EXPECT_MSG_EQ(none.GetMeanRbg(), 0.0, "no transmission: 0 RBGs");

        NrMacStats a;
        a.tbFirst = 10;
        a.tbFirstErr = 1;
        a.tbTx = 12;
        a.tbErr = 3;
        a.retx = 2;
        a.sumMcs = 250;
        a.sumSinrEffDb = 185;
        a.sumRbg = 36;
        a.bytes = 1000;
        NS_TEST_EXPECT_MSG_EQ_TOL(a.GetBler(), 0.1, 1e-15, "1 of 10 first transmissions");
        NS_TEST_EXPECT_MSG_EQ_TOL(a.GetBlerAll(), 0.25, 1e-15, "3 of 12 transmissions");
        NS_TEST_EXPECT_MSG_EQ_TOL(a.GetMeanMcs(), 25.0, 1e-15, "mean MCS");
        NS_TEST_EXPECT_MSG_EQ_TOL(a.GetMeanSinrDb(), 18.5, 1e-15, "mean SINR, dB");
        NS_TEST_EXPECT_MSG_EQ_TOL(a.GetMeanRbg(), 3.0, 1e-15, "mean RBGs");

        NrMacStats b = a;
        b.tbFirst = 30;
        b.tbFirstErr = 5;
        b.bytes = 4000;
        b.lastMcs = 27;
        const NrMacStats d = b.Since(a);
        NS_TEST_EXPECT_MSG_EQ(d.tbFirst, 20u, "first transmissions in the interval");
        NS_TEST_EXPECT_MSG_EQ_TOL(d.GetBler(), 0.2, 1e-15, "4 of 20 in the interval");
        NS_TEST_EXPECT_MSG_EQ_TOL(d.bytes, 3000.0, 1e-12, "bytes in the interval");
        NS_TEST_EXPECT_MSG_EQ(d.lastMcs, 27.0, "the last MCS is the latest one");
        NS_TEST_EXPECT_MSG_EQ(std::isnan(a.Since(a).GetBler()), true, "empty interval: NaN");
    }
};

/// The suite.
class NrMacStatsTestSuite : public TestSuite
{
  public:
    NrMacStatsTestSuite()
        : TestSuite("edgelam-nr-mac-stats", UNIT)
    {
        AddTestCase(new NrMacStatsDerivedTestCase(), TestCase::QUICK);
    }
};

NrMacStatsTestSuite g_nrMacStatsTestSuite; //!< registers the suite

} // namespace
} // namespace ns3
