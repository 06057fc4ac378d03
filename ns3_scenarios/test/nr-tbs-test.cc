/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * TestSuite edgelam-nr-tbs: NrTbs against transport block sizes of TS 38.214 V17 §5.1.3.2
 * worked by hand (steps 1-4), with the code-block segmentation of TS 38.212 V17 §5.2.2.
 */
#include "ns3/nr-tbs.h"
#include "ns3/test.h"

#include <stdexcept>
#include <string>

namespace ns3
{
namespace
{

/// One allocation and its TBS worked by hand.
struct WorkedTbs
{
    uint32_t nPrb;            //!< n_PRB
    uint32_t mcs;             //!< I_MCS
    NrMcsTable::Table table;  //!< MCS table
    uint32_t nSymb;           //!< N_symb^sh
    uint32_t nDmrs;           //!< N_DMRS^PRB
    uint32_t nOh;             //!< N_oh^PRB
    uint32_t layers;          //!< v
    uint32_t nRe;             //!< N_RE
    double nInfo;             //!< N_info
    uint32_t nInfoQuantized;  //!< N'_info
    uint32_t tbs;             //!< TBS [bits]
    uint32_t nCb;             //!< C
    uint32_t cbSize;          //!< K' [bits]
    const char* how;          //!< the working
};

const WorkedTbs kWorked[] = {
    {1, 0, NrMcsTable::QAM64, 14, 12, 0, 1, 156, 36.5625, 32, 32, 1, 48,
     "N_RE 156, N_info 36.56, n 3, N' 32 -> Table 5.1.3.2-1: 32"},
    {10, 9, NrMcsTable::QAM64, 14, 12, 0, 1, 1560, 2068.828125, 2048, 2088, 1, 2104,
     "N_RE 1560, N_info 2068.8, n 5, N' 2048 -> Table 5.1.3.2-1: 2088"},
    {5, 4, NrMcsTable::QAM256, 12, 12, 6, 1, 630, 740.7421875, 736, 736, 1, 752,
     "N'_RE 144 - 12 - 6 = 126, N_RE 630, N_info 740.7, n 3, N' 736 -> table: 736"},
    {10, 22, NrMcsTable::QAM64, 14, 12, 0, 1, 1560, 6087.65625, 6016, 6016, 1, 6040,
     "MCS 22 (Q_m 6, R 666/1024): N_info 6087.7 > 3824, n 7, N' 128 round(47.37) = 6016, "
     "R > 1/4 and N' <= 8424: TBS 8 ceil(6040 / 8) - 24"},
    {273, 27, NrMcsTable::QAM256, 14, 12, 0, 1, 42588, 315417.375, 319488, 319784, 38, 8440,
     "N_info 315417.4, n 13, N' 8192 round(38.50) = 319488 > 8424: C ceil(319512 / 8424) = "
     "38, TBS 8 C ceil(319512 / (8 C)) - 24 = 319784, K' (319784 + 24) / 38 + 24 = 8440"},
    {273, 0, NrMcsTable::QAM64_LOW_SE, 14, 12, 0, 4, 42588, 9981.5625, 9984, 9984, 3, 3360,
     "R 30/1024 <= 1/4, 4 layers: N_info 9981.6, n 8, N' 9984, C ceil(10008 / 3816) = 3, "
     "TBS 24 ceil(10008 / 24) - 24 = 9984, K' 10008 / 3 + 24 = 3360"},
};

/// The worked cases: TBS and every intermediate quantity.
class NrTbsWorkedCasesTestCase : public TestCase
{
  public:
    NrTbsWorkedCasesTestCase()
        : TestCase("TBS, N_RE, N_info, N'_info, C and K' of TS 38.214 5.1.3.2 cases worked by "
                   "hand")
    {
    }

  private:
    void DoRun() override
    {
        for (const auto& w : kWorked)
        {
            const NrTbsInfo i =
                NrTbs::ComputeInfo(w.nPrb, w.mcs, w.table, w.nSymb, w.nDmrs, w.nOh, w.layers);
            NS_TEST_EXPECT_MSG_EQ(i.nRe, w.nRe, "N_RE: " << w.how);
            NS_TEST_EXPECT_MSG_EQ_TOL(i.nInfo, w.nInfo, 1e-9, "N_info: " << w.how);
            NS_TEST_EXPECT_MSG_EQ(i.nInfoQuantized, w.nInfoQuantized, "N'_info: " << w.how);
            NS_TEST_EXPECT_MSG_EQ(i.tbs, w.tbs, "TBS: " << w.how);
            NS_TEST_EXPECT_MSG_EQ(i.numCodeBlocks, w.nCb, "C: " << w.how);
            NS_TEST_EXPECT_MSG_EQ(i.codeBlockSize, w.cbSize, "K': " << w.how);
            NS_TEST_EXPECT_MSG_EQ(
                NrTbs::Compute(w.nPrb, w.mcs, w.table, w.nSymb, w.nDmrs, w.nOh, w.layers),
                w.tbs,
                "Compute() and ComputeInfo() agree: " << w.how);
        }
    }
};

/// \return whether f throws std::invalid_argument
template <typename F>
bool
ThrowsInvalidArgument(F f)
{
    try
    {
        f();
    }
    catch (const std::invalid_argument&)
    {
        return true;
    }
    return false;
}

/// Arguments the clause does not define are rejected.
class NrTbsRejectsTestCase : public TestCase
{
  public:
    NrTbsRejectsTestCase()
        : TestCase("arguments outside TS 38.214 5.1.3.2 are rejected")
    {
    }

  private:
    void DoRun() override
    {
        const auto t = NrMcsTable::QAM64;
        NS_TEST_EXPECT_MSG_EQ(ThrowsInvalidArgument([t] { NrTbs::Compute(10, 5, t, 15, 12); }),
                              true,
                              "N_symb^sh = 15");
        NS_TEST_EXPECT_MSG_EQ(ThrowsInvalidArgument([t] { NrTbs::Compute(10, 5, t, 0, 12); }),
                              true,
                              "N_symb^sh = 0");
        NS_TEST_EXPECT_MSG_EQ(
            ThrowsInvalidArgument([t] { NrTbs::Compute(10, 5, t, 14, 12, 0, 5); }),
            true,
            "5 layers");
        NS_TEST_EXPECT_MSG_EQ(ThrowsInvalidArgument([t] { NrTbs::Compute(0, 5, t, 14, 12); }),
                              true,
                              "n_PRB = 0");
    }
};

/// The suite.
class NrTbsTestSuite : public TestSuite
{
  public:
    NrTbsTestSuite()
        : TestSuite("edgelam-nr-tbs", UNIT)
    {
        AddTestCase(new NrTbsWorkedCasesTestCase(), TestCase::QUICK);
        AddTestCase(new NrTbsRejectsTestCase(), TestCase::QUICK);
    }
};

NrTbsTestSuite g_nrTbsTestSuite; //!< registers the suite

} // namespace
} // namespace ns3
