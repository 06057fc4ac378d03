/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * TestSuite edgelam-nr-channel: channel gains, noise and powers of ThreeGppNrChannel and
 * FixedGainNrChannel against closed forms: the UMa LOS path loss of TR 38.901 V17.0.0
 * Table 7.4.1-1, thermal noise k T B F, Friis free-space gain and the array gain of a rank-1
 * line-of-sight channel.
 */
#include "ns3/boolean.h"
#include "ns3/constant-position-mobility-model.h"
#include "ns3/fixed-gain-nr-channel.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/test.h"
#include "ns3/three-gpp-nr-channel.h"

#include <cmath>
#include <string>

namespace ns3
{
namespace
{

/// A node at pos (m) with a ConstantPositionMobilityModel.
Ptr<Node>
NodeAt(const Vector& pos)
{
    auto node = CreateObject<Node>();
    auto mob = CreateObject<ConstantPositionMobilityModel>();
    mob->SetPosition(pos);
    node->AggregateObject(mob);
    return node;
}

/// A test case that builds nodes and channels: the simulator is destroyed after it.
class NrChannelTestCase : public TestCase
{
  public:
    /** \param name the test case's name */
    explicit NrChannelTestCase(const std::string& name)
        : TestCase(name)
    {
    }

  private:
    void DoTeardown() override
    {
        Simulator::Destroy();
    }
};

/// UMa LOS path loss, TR 38.901 Table 7.4.1-1 (PL1 up to the breakpoint d'_BP = 4 h'_BS h'_UT
/// f_c / c, PL2 beyond; h_E = 1 m), h_BS 25 m, h_UT 1.5 m.
class NrUmaLosPathGainTestCase : public NrChannelTestCase
{
  public:
    NrUmaLosPathGainTestCase()
        : NrChannelTestCase("ThreeGppNrChannel path gain = -(TR 38.901 Table 7.4.1-1 UMa LOS "
                            "path loss)")
    {
    }

  private:
    void DoRun() override
    {
        const double distances[] = {20, 100, 300, 1000, 3000}; // 2D, m
        struct Case
        {
            double carrierHz;  //!< f_c
            double plDb[5];    //!< path loss at each distance, dB
        };
        // d'_BP = 560 m at 3.5 GHz, 1121 m at 7 GHz, 4483 m at 28 GHz
        const Case cases[] = {
            {3.5e9, {71.6476, 83.1382, 93.4073, 109.4065, 128.4871}},
            {7e9, {77.6682, 89.1588, 99.4279, 110.9046, 129.0943}},
            {28e9, {89.7094, 101.2000, 111.4691, 122.9458, 133.4401}},
        };
        for (const auto& c : cases)
        {
            auto ch = CreateObjectWithAttributes<ThreeGppNrChannel>(
                "ShadowingEnabled", BooleanValue(false),
                "Condition", StringValue("los"));
            ch->Configure("UMa", c.carrierHz, 100e6, 4);
            ch->AddGnb(NodeAt(Vector(0, 0, 25.0)), 2, 2, 43.0, 0.0);
            for (double d : distances)
            {
                ch->AddUe(NodeAt(Vector(d, 0, 1.5)), 1, 1, 23.0, 9.0);
            }
            ch->AssignStreams(1000);
            for (uint32_t u = 0; u < 5; ++u)
            {
                NS_TEST_EXPECT_MSG_EQ(ch->IsLos(0, u), true, "forced LOS");
                NS_TEST_EXPECT_MSG_EQ_TOL(ch->GetPathGainDb(0, u),
                                          -c.plDb[u],
                                          0.01,
                                          "UMa LOS at " << c.carrierHz / 1e9 << " GHz, "
                                                        << distances[u] << " m");
            }
            ch->Dispose();
        }
    }

};

/// Noise and transmit powers of both channels.
class NrNoiseAndPowerTestCase : public NrChannelTestCase
{
  public:
    NrNoiseAndPowerTestCase()
        : NrChannelTestCase("noise per subband k T B F (ThreeGppNrChannel: -174 dBm per Hz; "
                            "FixedGainNrChannel: T = 290 K) and transmit powers")
    {
    }

  private:
    void DoRun() override
    {
        // 100 MHz in 20 subbands of 5 MHz; UE NF 9 dB, gNB NF 5 dB (the default)
        auto gpp = CreateObject<ThreeGppNrChannel>();
        auto fixed = CreateObject<FixedGainNrChannel>();
        for (Ptr<NrChannel> ch : {Ptr<NrChannel>(gpp), Ptr<NrChannel>(fixed)})
        {
            ch->Configure("UMa", 7e9, 100e6, 20);
            ch->AddGnb(NodeAt(Vector(0, 0, 25.0)), 4, 4, 43.0, 0.0);
            ch->AddUe(NodeAt(Vector(100, 0, 1.5)), 1, 1, 23.0, 9.0);
            NS_TEST_EXPECT_MSG_EQ_TOL(ch->GetGnbTxPowerW(0), 19.952623149688797, 1e-12, "43 dBm");
            NS_TEST_EXPECT_MSG_EQ_TOL(ch->GetUeTxPowerW(0), 0.19952623149688797, 1e-14, "23 dBm");
            NS_TEST_EXPECT_MSG_EQ(ch->GetNGnbAntennas(0), 16u, "4 x 4 array");
            NS_TEST_EXPECT_MSG_EQ_TOL(ch->GetSubbandWidth(), 5e6, 1e-6, "100 MHz / 20");
        }
        // 10^((-174 - 30) / 10) x 5e6 x 10^(NF / 10)
        NS_TEST_EXPECT_MSG_EQ_TOL(gpp->GetUeNoiseW(0) / 1.5811388300841951e-13,
                                  1.0,
                                  1e-9,
                                  "UE: -174 dBm/Hz + 67 dB(5 MHz) + 9 dB");
        NS_TEST_EXPECT_MSG_EQ_TOL(gpp->GetGnbNoiseW(0) / 6.294627058970858e-14,
                                  1.0,
                                  1e-9,
                                  "gNB: -174 dBm/Hz + 67 dB(5 MHz) + 5 dB");
        // 1.380649e-23 J/K x 290 K x 5e6 Hz x 10^(NF / 10)
        NS_TEST_EXPECT_MSG_EQ_TOL(fixed->GetUeNoiseW(0) / 1.5901983002685745e-13,
                                  1.0,
                                  1e-9,
                                  "UE: k T0 B F");
        NS_TEST_EXPECT_MSG_EQ_TOL(fixed->GetGnbNoiseW(0) / 6.330693459389028e-14,
                                  1.0,
                                  1e-9,
                                  "gNB: k T0 B F");
        gpp->Dispose();
        fixed->Dispose();
    }

};

/// Friis and the array gain of the fixed-gain channel's rank-1 LOS channel.
class NrFixedGainFreeSpaceTestCase : public NrChannelTestCase
{
  public:
    NrFixedGainFreeSpaceTestCase()
        : NrChannelTestCase("FixedGainNrChannel: Friis path gain, beam gain = N_gNB x path "
                            "gain with the default beam")
    {
    }

  private:
    void DoRun() override
    {
        auto ch = CreateObjectWithAttributes<FixedGainNrChannel>("FreeSpace", BooleanValue(true));
        ch->Configure("UMa", 3.5e9, 100e6, 4);
        ch->AddGnb(NodeAt(Vector(0, 0, 25.0)), 4, 4, 43.0, 0.0);
        ch->AddUe(NodeAt(Vector(100, 0, 1.5)), 1, 1, 23.0, 9.0);
        // 20 log10(lambda / (4 pi d)), lambda = c / 3.5 GHz, d = |(100, 0, -23.5)| m
        const double pgDb = -83.56259482693149;
        NS_TEST_EXPECT_MSG_EQ_TOL(ch->GetPathGainDb(0, 0), pgDb, 1e-9, "Friis at 102.7 m");
        const auto& gain = ch->GetBeamGain(0, 0, 0);
        NS_TEST_EXPECT_MSG_EQ(gain.size(), 4u, "one gain per subband");
        for (double g : gain)
        {
            NS_TEST_EXPECT_MSG_EQ_TOL(10 * std::log10(g),
                                      pgDb + 10 * std::log10(16.0),
                                      1e-9,
                                      "array gain of 16 elements");
        }
        ch->SetPathGainDb(0, 0, -100.0);
        NS_TEST_EXPECT_MSG_EQ_TOL(ch->GetPathGainDb(0, 0), -100.0, 1e-12, "a set path gain");
        ch->Dispose();
    }

};

/// The suite.
class NrChannelTestSuite : public TestSuite
{
  public:
    NrChannelTestSuite()
        : TestSuite("edgelam-nr-channel", UNIT)
    {
        AddTestCase(new NrUmaLosPathGainTestCase(), TestCase::QUICK);
        AddTestCase(new NrNoiseAndPowerTestCase(), TestCase::QUICK);
        AddTestCase(new NrFixedGainFreeSpaceTestCase(), TestCase::QUICK);
    }
};

NrChannelTestSuite g_nrChannelTestSuite; //!< registers the suite

} // namespace
} // namespace ns3
