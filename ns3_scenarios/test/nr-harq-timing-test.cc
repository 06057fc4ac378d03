/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * TestSuite edgelam-nr-harq-timing: NrHarqTiming in the DDDSU pattern against tables derived
 * by hand: each PDSCH's HARQ-ACK lands in the first slot at or after n + K1Min that carries
 * PUCCH ('U', or 'S' when its uplink symbols may carry it).
 */
#include "ns3/boolean.h"
#include "ns3/nr-harq-timing.h"
#include "ns3/string.h"
#include "ns3/test.h"
#include "ns3/uinteger.h"

#include <stdexcept>

namespace ns3
{
namespace
{

/// DDDSU.
class NrHarqTimingDddsuTestCase : public TestCase
{
  public:
    NrHarqTimingDddsuTestCase()
        : TestCase("DDDSU: HARQ-ACK in the first uplink slot at or after n + K1, S with or "
                   "without uplink")
    {
    }

  private:
    void DoRun() override
    {
        struct Case
        {
            bool sUplink;
            uint32_t k1;
            uint64_t ack[9]; // ACK slot of the PDSCH in slots 0, 1, 2, 3, 5, 6, 7, 8, 13
        };
        const uint64_t data[9] = {0, 1, 2, 3, 5, 6, 7, 8, 13};
        const Case cases[] = {{false, 1, {4, 4, 4, 4, 9, 9, 9, 9, 14}},
                              {false, 4, {4, 9, 9, 9, 9, 14, 14, 14, 19}},
                              {false, 0, {4, 4, 4, 4, 9, 9, 9, 9, 14}},
                              {true, 1, {3, 3, 3, 4, 8, 8, 8, 9, 14}},
                              {true, 2, {3, 3, 4, 8, 8, 8, 9, 13, 18}}};
        for (const auto& c : cases)
        {
            auto t = CreateObject<NrHarqTiming>();
            t->SetAttribute("Pattern", StringValue("DDDSU"));
            t->SetAttribute("SpecialSlotUplink", BooleanValue(c.sUplink));
            t->SetAttribute("K1Min", UintegerValue(c.k1));
            for (size_t i = 0; i < 9; ++i)
            {
                NS_TEST_EXPECT_MSG_EQ(t->GetAckSlot(data[i]),
                                      c.ack[i],
                                      "PDSCH in slot " << data[i] << ", K1 >= " << c.k1
                                                       << ", S uplink " << c.sUplink);
                NS_TEST_EXPECT_MSG_EQ(t->GetK1(data[i]), c.ack[i] - data[i], "K1");
            }
        }
        auto t = CreateObject<NrHarqTiming>();
        bool threw = false;
        try
        {
            t->GetAckSlot(4);
        }
        catch (const std::invalid_argument&)
        {
            threw = true;
        }
        NS_TEST_EXPECT_MSG_EQ(threw, true, "no PDSCH in a U slot");
    }
};

/// The suite.
class NrHarqTimingTestSuite : public TestSuite
{
  public:
    NrHarqTimingTestSuite()
        : TestSuite("edgelam-nr-harq-timing", UNIT)
    {
        AddTestCase(new NrHarqTimingDddsuTestCase(), TestCase::QUICK);
    }
};

NrHarqTimingTestSuite g_nrHarqTimingTestSuite; //!< registers the suite

} // namespace
} // namespace ns3
