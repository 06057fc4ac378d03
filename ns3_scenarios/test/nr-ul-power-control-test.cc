/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * TestSuite edgelam-nr-ul-power-control: NrUlPowerControl against TS 38.213 V17 §7.1.1 worked
 * by hand: P = min(P_CMAX, P_O + 10 log10(2^mu M_RB) + alpha PL + Delta_TF + f), so that the
 * received power per PRB is P_O + 10 log10(2^mu) - (1 - alpha) PL + f until P_CMAX; the TPC
 * values of Table 7.1.1-1, accumulated (and held at P_CMAX) or absolute; Delta_TF for K_s 1.25.
 */
#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/nr-ul-power-control.h"
#include "ns3/test.h"

#include <cmath>

namespace ns3
{
namespace
{

/// \return a power control with P_O = -90 dBm and the given alpha
Ptr<NrUlPowerControl>
Make(double alpha)
{
    auto pc = CreateObject<NrUlPowerControl>();
    pc->SetAttribute("P0NominalPusch", DoubleValue(-90.0));
    pc->SetAttribute("Alpha", DoubleValue(alpha));
    pc->SetAttribute("PcMax", DoubleValue(23.0));
    return pc;
}

/// Open loop.
class NrUlPowerOpenLoopTestCase : public TestCase
{
  public:
    NrUlPowerOpenLoopTestCase()
        : TestCase("open loop: P_O + 10 log10(2^mu M) + alpha PL until P_CMAX; received power "
                   "per PRB P_O + 10 log10(2^mu) - (1 - alpha) PL; Delta_TF")
    {
    }

  private:
    void DoRun() override
    {
        auto pc = Make(0.8);
        // -90 + 10 log10(2 x 10) + 0.8 x 100 = 3.0103 dBm
        const double p = pc->ComputePuschPowerDbm(10, 1, 100.0);
        NS_TEST_EXPECT_MSG_EQ_TOL(p, 3.0103, 1e-4, "M 10, mu 1, PL 100");
        NS_TEST_EXPECT_MSG_EQ_TOL(p - 100.0 - 10.0, -106.9897, 1e-4, "received per PRB");
        // received per PRB does not depend on M below P_CMAX
        for (uint32_t m : {1u, 4u, 25u})
        {
            const double q = pc->ComputePuschPowerDbm(m, 1, 100.0);
            NS_TEST_EXPECT_MSG_EQ_TOL(q - 100.0 - 10 * std::log10(m), -106.9897, 1e-4,
                                      "received per PRB with " << m << " PRBs");
        }
        // -90 + 20 + 104 = 34 dBm: capped at 23
        NS_TEST_EXPECT_MSG_EQ_TOL(pc->ComputePuschPowerDbm(50, 1, 130.0), 23.0, 1e-12, "P_CMAX");
        // full compensation: received per PRB = P_O + 10 log10(2^mu) at any path loss
        auto full = Make(1.0);
        for (double pl : {70.0, 90.0, 105.0}) // 105 dB: 21.0 dBm, below P_CMAX
        {
            const double q = full->ComputePuschPowerDbm(4, 0, pl);
            NS_TEST_EXPECT_MSG_EQ_TOL(q - pl - 10 * std::log10(4.0), -90.0, 1e-9,
                                      "alpha 1, PL " << pl);
        }
        // Delta_TF = 10 log10(2^(2 x 1.25) - 1) = 6.6809 dB at BPRE 2
        auto tf = Make(1.0);
        tf->SetAttribute("Ks", DoubleValue(1.25));
        NS_TEST_EXPECT_MSG_EQ_TOL(tf->ComputePuschPowerDbm(1, 0, 80.0, 2.0), -10.0 + 6.6809, 1e-4,
                                  "Delta_TF with K_s 1.25, BPRE 2");
    }
};

/// Closed loop.
class NrUlPowerTpcTestCase : public TestCase
{
  public:
    NrUlPowerTpcTestCase()
        : TestCase("TPC of Table 7.1.1-1: accumulated -1 0 +1 +3, not above P_CMAX; absolute "
                   "-4 -1 +1 +4")
    {
    }

  private:
    void DoRun() override
    {
        const double acc[4] = {-1, 0, 1, 3};
        const double abs[4] = {-4, -1, 1, 4};
        for (uint32_t t = 0; t < 4; ++t)
        {
            NS_TEST_EXPECT_MSG_EQ(NrUlPowerControl::TpcDeltaDb(t, true), acc[t], "accumulated");
            NS_TEST_EXPECT_MSG_EQ(NrUlPowerControl::TpcDeltaDb(t, false), abs[t], "absolute");
        }
        auto pc = Make(1.0); // -90 + 0 + 60 = -30 dBm at M 1, mu 0, PL 60
        const uint32_t cmds[] = {3, 3, 0, 2, 1};
        const double f[] = {3, 6, 5, 6, 6};
        for (size_t i = 0; i < 5; ++i)
        {
            pc->ReceiveTpc(cmds[i]);
            NS_TEST_EXPECT_MSG_EQ_TOL(pc->ComputePuschPowerDbm(1, 0, 60.0), -30.0 + f[i], 1e-9,
                                      "occasion " << i);
        }
        pc->ReceiveTpc(3);
        pc->ReceiveTpc(0);
        pc->ComputePuschPowerDbm(1, 0, 60.0);
        NS_TEST_EXPECT_MSG_EQ_TOL(pc->GetClosedLoopDb(), 8.0, 1e-9, "two commands in one gap");
        auto capped = Make(1.0); // -90 + 10 + 120 = 40 dBm > P_CMAX
        capped->ComputePuschPowerDbm(10, 0, 120.0);
        capped->ReceiveTpc(3);
        capped->ComputePuschPowerDbm(10, 0, 120.0);
        NS_TEST_EXPECT_MSG_EQ_TOL(capped->GetClosedLoopDb(), 0.0, 1e-12, "+3 held at P_CMAX");
        capped->ReceiveTpc(0);
        capped->ComputePuschPowerDbm(10, 0, 120.0);
        NS_TEST_EXPECT_MSG_EQ_TOL(capped->GetClosedLoopDb(), -1.0, 1e-12, "-1 accumulates");
        auto absolute = Make(1.0);
        absolute->SetAttribute("TpcAccumulation", BooleanValue(false));
        absolute->ReceiveTpc(0);
        absolute->ReceiveTpc(3);
        NS_TEST_EXPECT_MSG_EQ_TOL(absolute->ComputePuschPowerDbm(1, 0, 60.0), -26.0, 1e-9,
                                  "absolute: the last command, +4");
    }
};

/// The suite.
class NrUlPowerControlTestSuite : public TestSuite
{
  public:
    NrUlPowerControlTestSuite()
        : TestSuite("edgelam-nr-ul-power-control", UNIT)
    {
        AddTestCase(new NrUlPowerOpenLoopTestCase(), TestCase::QUICK);
        AddTestCase(new NrUlPowerTpcTestCase(), TestCase::QUICK);
    }
};

NrUlPowerControlTestSuite g_nrUlPowerControlTestSuite; //!< registers the suite

} // namespace
} // namespace ns3
