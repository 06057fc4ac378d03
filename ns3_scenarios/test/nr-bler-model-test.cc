/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * TestSuite edgelam-nr-bler-model: NrBlerModel on closed forms. EESM (Sionna's sionna.sys.EESM
 * definition), the transport-block error rate 1 - (1 - CBLER)^C, and the look-up of a small
 * synthetic SINR-BLER table: log10-bilinear interpolation, clamping, and the extension past its
 * last point along the slope of its last decade (see NrBlerModel). The Sionna tables themselves
 * are checked from Python (tests/unit/test_nr_phy.py), where they are loaded.
 */
#include "ns3/nr-bler-model.h"
#include "ns3/test.h"

#include <cmath>
#include <vector>

namespace ns3
{
namespace
{

/// EESM closed forms.
class NrEesmTestCase : public TestCase
{
  public:
    NrEesmTestCase()
        : TestCase("EESM: equal SINRs map to themselves, two SINRs to -beta ln of the mean of "
                   "exp(-SINR over beta), unused resources do not count")
    {
    }

  private:
    void DoRun() override
    {
        for (double sinrDb : {-5.0, 0.0, 13.0, 30.0, 60.0})
        {
            const std::vector<double> x(50, std::pow(10.0, sinrDb / 10.0));
            for (double beta : {1.6, 10.97, 132.54})
            {
                NS_TEST_EXPECT_MSG_EQ_TOL(NrBlerModel::Eesm(x.data(), x.size(), beta) / x[0],
                                          1.0,
                                          1e-12,
                                          "equal SINRs of " << sinrDb << " dB, beta " << beta);
            }
        }
        // -2 ln((exp(-1/2) + exp(-10/2)) / 2)
        const double two[] = {1.0, 10.0};
        NS_TEST_EXPECT_MSG_EQ_TOL(NrBlerModel::Eesm(two, 2, 2.0),
                                  2.364198871422703,
                                  1e-12,
                                  "SINRs 1 and 10, beta 2");
        // -ln((exp(-1e4) + exp(-2e4)) / 2) = 1e4 + ln 2: no underflow at high SINR
        const double high[] = {1e4, 2e4};
        NS_TEST_EXPECT_MSG_EQ_TOL(NrBlerModel::Eesm(high, 2, 1.0),
                                  10000.69314718056,
                                  1e-8,
                                  "SINRs 1e4 and 2e4, beta 1");
        const double someUnused[] = {0.0, 4.0, 4.0};
        NS_TEST_EXPECT_MSG_EQ_TOL(NrBlerModel::Eesm(someUnused, 3, 5.0),
                                  4.0,
                                  1e-12,
                                  "a resource with SINR 0 does not count");
        const double unused[] = {0.0, 0.0};
        NS_TEST_EXPECT_MSG_EQ(NrBlerModel::Eesm(unused, 2, 5.0), 0.0, "no resource used: 0");
    }
};

/// A BLER model with one synthetic table: MCS 5 of qam256 (PDSCH), SINR 0..3 dB, code blocks
/// of 500 and 1000 bits, each row falling one decade per dB over its last decade; MCS 10 the
/// same table 5 dB to the right; EESM beta 1 for every MCS.
Ptr<NrBlerModel>
MakeSyntheticModel()
{
    auto model = CreateObject<NrBlerModel>();
    const std::vector<double> cbs{500, 1000};
    const std::vector<double> bler{1, 0.5, 0.05, 0.005, // 500 bits
                                   1, 0.3, 0.03, 0.003}; // 1000 bits
    model->AddCurve(NrBlerModel::PDSCH, NrMcsTable::QAM256, 5, {0, 1, 2, 3}, cbs, bler);
    model->AddCurve(NrBlerModel::PDSCH, NrMcsTable::QAM256, 10, {5, 6, 7, 8}, cbs, bler);
    model->SetEesmBetas(NrMcsTable::QAM256, std::vector<double>(28, 1.0));
    model->Finalize();
    return model;
}

/// Table look-up and extension.
class NrBlerTableTestCase : public TestCase
{
  public:
    NrBlerTableTestCase()
        : TestCase("CBLER of a synthetic table: its points, log10-bilinear between them, "
                   "clamped outside, extended along its last decade; TBLER of C code blocks")
    {
    }

  private:
    void DoRun() override
    {
        auto m = MakeSyntheticModel();
        auto cbler = [&m](double cb, double s) {
            return m->GetCbler(NrBlerModel::PDSCH, NrMcsTable::QAM256, 5, cb, s);
        };
        NS_TEST_EXPECT_MSG_EQ_TOL(cbler(500, 1), 0.5, 1e-12, "a table point");
        NS_TEST_EXPECT_MSG_EQ_TOL(cbler(1000, 2), 0.03, 1e-12, "a table point");
        NS_TEST_EXPECT_MSG_EQ_TOL(cbler(500, 1.5),
                                  std::sqrt(0.5 * 0.05),
                                  1e-12,
                                  "halfway in SINR: geometric mean");
        NS_TEST_EXPECT_MSG_EQ_TOL(cbler(750, 1),
                                  std::sqrt(0.5 * 0.3),
                                  1e-12,
                                  "halfway in code-block size: geometric mean");
        NS_TEST_EXPECT_MSG_EQ_TOL(cbler(500, -3), 1.0, 1e-12, "below the table: first value");
        NS_TEST_EXPECT_MSG_EQ_TOL(cbler(100, 2), 0.05, 1e-12, "below 500 bits: the 500 row");
        NS_TEST_EXPECT_MSG_EQ_TOL(cbler(4000, 2), 0.03, 1e-12, "above 1000 bits: the 1000 row");
        NS_TEST_EXPECT_MSG_EQ_TOL(cbler(500, 4), 5e-4, 1e-12, "one dB past: one decade less");
        NS_TEST_EXPECT_MSG_EQ_TOL(cbler(1000, 5), 3e-5, 1e-12, "two dB past: two decades");
        NS_TEST_EXPECT_MSG_EQ_TOL(cbler(500, 40), 1e-9, 1e-15, "floored at MinBler");
        NS_TEST_EXPECT_MSG_EQ_TOL(
            m->GetTbler(NrBlerModel::PDSCH, NrMcsTable::QAM256, 5, 500, 3, 1.0),
            1 - 0.5 * 0.5 * 0.5,
            1e-12,
            "TBLER of 3 code blocks at CBLER 0.5");
    }
};

/// Link adaptation over the synthetic table.
class NrSelectMcsTestCase : public TestCase
{
  public:
    NrSelectMcsTestCase()
        : TestCase("link adaptation: the highest MCS meeting the target, else the lowest")
    {
    }

  private:
    void DoRun() override
    {
        auto m = MakeSyntheticModel();
        auto select = [&m](double sinrDb) {
            const std::vector<double> sinr(5, std::pow(10.0, sinrDb / 10.0));
            return m->SelectMcs(NrBlerModel::PDSCH, NrMcsTable::QAM256, sinr, 5, 14, 12, 0, 1,
                                0.1);
        };
        const auto at4 = select(4.0);
        NS_TEST_EXPECT_MSG_EQ(at4.mcs, 5, "4 dB: MCS 10 is still at CBLER 1");
        NS_TEST_EXPECT_MSG_EQ(at4.meetsTarget, true, "4 dB: MCS 5 meets 10 %");
        NS_TEST_EXPECT_MSG_EQ_TOL(at4.sinrEffDb, 4.0, 1e-9, "equal SINRs: EESM identity");
        const auto at9 = select(9.0);
        NS_TEST_EXPECT_MSG_EQ(at9.mcs, 10, "9 dB: MCS 10 is one decade past its table");
        NS_TEST_EXPECT_MSG_EQ(at9.meetsTarget, true, "9 dB: meets 10 %");
        const auto low = select(-10.0);
        NS_TEST_EXPECT_MSG_EQ(low.mcs, 5, "-10 dB: none meets the target, the lowest MCS");
        NS_TEST_EXPECT_MSG_EQ(low.meetsTarget, false, "-10 dB: the target is not met");
    }
};

/// The suite.
class NrBlerModelTestSuite : public TestSuite
{
  public:
    NrBlerModelTestSuite()
        : TestSuite("edgelam-nr-bler-model", UNIT)
    {
        AddTestCase(new NrEesmTestCase(), TestCase::QUICK);
        AddTestCase(new NrBlerTableTestCase(), TestCase::QUICK);
        AddTestCase(new NrSelectMcsTestCase(), TestCase::QUICK);
    }
};

NrBlerModelTestSuite g_nrBlerModelTestSuite; //!< registers the suite

} // namespace
} // namespace ns3
