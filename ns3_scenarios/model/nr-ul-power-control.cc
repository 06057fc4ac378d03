/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-ul-power-control.h"

#include "ns3/boolean.h"
#include "ns3/double.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace ns3
{

NS_OBJECT_ENSURE_REGISTERED(NrUlPowerControl);

TypeId
NrUlPowerControl::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::NrUlPowerControl")
            .SetParent<Object>()
            .SetGroupName("Edgelam")
            .AddConstructor<NrUlPowerControl>()
            .AddAttribute("P0NominalPusch",
                          "P_O_NOMINAL_PUSCH, TS 38.213 §7.1.1 (-202..24) [dBm]",
                          DoubleValue(-90.0),
                          MakeDoubleAccessor(&NrUlPowerControl::m_p0NominalDbm),
                          MakeDoubleChecker<double>(-202.0, 24.0))
            .AddAttribute("P0UePusch",
                          "P_O_UE_PUSCH, TS 38.213 §7.1.1 (-16..15) [dB]",
                          DoubleValue(0.0),
                          MakeDoubleAccessor(&NrUlPowerControl::m_p0UeDb),
                          MakeDoubleChecker<double>(-16.0, 15.0))
            .AddAttribute("Alpha",
                          "Fractional path-loss compensation alpha, TS 38.213 §7.1.1 (0, 0.4 "
                          "... 1) [-]",
                          DoubleValue(1.0),
                          MakeDoubleAccessor(&NrUlPowerControl::m_alpha),
                          MakeDoubleChecker<double>(0.0, 1.0))
            .AddAttribute("PcMax",
                          "Configured maximum output power P_CMAX (23 dBm: power class 3, "
                          "TS 38.101-1 §6.2.1) [dBm]",
                          DoubleValue(23.0),
                          MakeDoubleAccessor(&NrUlPowerControl::m_pCmaxDbm),
                          MakeDoubleChecker<double>())
            .AddAttribute("PMin",
                          "Minimum output power, below which negative TPC commands are not "
                          "accumulated (-40 dBm, TS 38.101-1 §6.3.1) [dBm]",
                          DoubleValue(-40.0),
                          MakeDoubleAccessor(&NrUlPowerControl::m_pMinDbm),
                          MakeDoubleChecker<double>())
            .AddAttribute("Ks",
                          "K_s of Delta_TF (deltaMCS): 0 (Delta_TF = 0) or 1.25, TS 38.213 "
                          "§7.1.1 [-]",
                          DoubleValue(0.0),
                          MakeDoubleAccessor(&NrUlPowerControl::m_ks),
                          MakeDoubleChecker<double>(0.0, 1.25))
            .AddAttribute("BetaOffset",
                          "beta_offset^PUSCH of Delta_TF (1 for a PUSCH with data) [-]",
                          DoubleValue(1.0),
                          MakeDoubleAccessor(&NrUlPowerControl::m_betaOffset),
                          MakeDoubleChecker<double>(1e-9))
            .AddAttribute("TpcAccumulation",
                          "Accumulate TPC commands (true) or apply the last one's absolute "
                          "value (false; tpc-Accumulation disabled), TS 38.213 Table 7.1.1-1",
                          BooleanValue(true),
                          MakeBooleanAccessor(&NrUlPowerControl::m_accumulation),
                          MakeBooleanChecker());
    return tid;
}

NrUlPowerControl::NrUlPowerControl()
    : m_p0NominalDbm(-90.0),
      m_p0UeDb(0.0),
      m_alpha(1.0),
      m_pCmaxDbm(23.0),
      m_pMinDbm(-40.0),
      m_ks(0.0),
      m_betaOffset(1.0),
      m_accumulation(true)
{
}

NrUlPowerControl::~NrUlPowerControl() = default;

double
NrUlPowerControl::TpcDeltaDb(uint32_t tpc, bool accumulated)
{
    // TS 38.213 Table 7.1.1-1
    static const double kAccumulated[4] = {-1.0, 0.0, 1.0, 3.0};
    static const double kAbsolute[4] = {-4.0, -1.0, 1.0, 4.0};
    if (tpc > 3)
    {
        throw std::out_of_range("the TPC command field is 2 bits (0..3), got " +
                                std::to_string(tpc));
    }
    return accumulated ? kAccumulated[tpc] : kAbsolute[tpc];
}

void
NrUlPowerControl::ReceiveTpc(uint32_t tpc)
{
    if (m_accumulation)
    {
        m_pendingDb += TpcDeltaDb(tpc, true);
    }
    else
    {
        m_f = TpcDeltaDb(tpc, false);
    }
    m_pending = true;
}

double
NrUlPowerControl::ClosedLoopAtNextOccasion() const
{
    if (!m_accumulation || !m_pending)
    {
        return m_f;
    }
    // §7.1.1: no positive accumulation after P_CMAX, no negative after the minimum
    const bool blocked = (m_atMax && m_pendingDb >= 0) || (m_atMin && m_pendingDb <= 0);
    return blocked ? m_f : m_f + m_pendingDb;
}

double
NrUlPowerControl::OpenPowerDbm(uint32_t numRb, uint32_t numerology, double pathLossDb,
                               double bpre, double f) const
{
    if (numRb == 0 || numerology > 6)
    {
        throw std::invalid_argument("PUSCH power needs M_RB >= 1 and mu in 0..6");
    }
    const double deltaTf =
        m_ks > 0 ? 10 * std::log10((std::pow(2.0, bpre * m_ks) - 1) * m_betaOffset) : 0.0;
    return m_p0NominalDbm + m_p0UeDb + 10 * std::log10(std::pow(2.0, numerology) * numRb) +
           m_alpha * pathLossDb + deltaTf + f;
}

double
NrUlPowerControl::PeekPuschPowerDbm(uint32_t numRb,
                                    uint32_t numerology,
                                    double pathLossDb,
                                    double bpre) const
{
    const double open =
        OpenPowerDbm(numRb, numerology, pathLossDb, bpre, ClosedLoopAtNextOccasion());
    return std::min(m_pCmaxDbm, open);
}

double
NrUlPowerControl::ComputePuschPowerDbm(uint32_t numRb,
                                       uint32_t numerology,
                                       double pathLossDb,
                                       double bpre)
{
    const double f = ClosedLoopAtNextOccasion();
    const double open = OpenPowerDbm(numRb, numerology, pathLossDb, bpre, f);
    m_f = f;
    m_pendingDb = 0;
    m_pending = false;
    m_atMax = open >= m_pCmaxDbm;
    m_atMin = open <= m_pMinDbm;
    return std::min(m_pCmaxDbm, open);
}

double
NrUlPowerControl::GetPcMaxDbm() const
{
    return m_pCmaxDbm;
}

double
NrUlPowerControl::GetClosedLoopDb() const
{
    return m_f;
}

void
NrUlPowerControl::ResetClosedLoop()
{
    m_f = 0;
    m_pendingDb = 0;
    m_pending = false;
    m_atMax = false;
    m_atMin = false;
}

} // namespace ns3
