/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * NrCellMac: uplink realism (PUSCH power control, SR/BSR) and the TDD-aware HARQ-ACK timing.
 */
#include "nr-cell-mac.h"

#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/object-factory.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace ns3
{

namespace
{
/// TS 38.321 V17 Table 6.1.3.1-2 (8-bit buffer size levels): the upper bound BS <= v of
/// index 0..253, bytes (index 254: BS > 81338368; 255 reserved).
constexpr uint32_t kLongBsr[254] = {
    0,        10,       11,       12,       13,       14,       15,       16,       17,
    18,       19,       20,       22,       23,       25,       26,       28,       30,
    32,       34,       36,       38,       40,       43,       46,       49,       52,
    55,       59,       62,       66,       71,       75,       80,       85,       91,
    97,       103,      110,      117,      124,      132,      141,      150,      160,
    170,      181,      193,      205,      218,      233,      248,      264,      281,
    299,      318,      339,      361,      384,      409,      436,      464,      494,
    526,      560,      597,      635,      677,      720,      767,      817,      870,
    926,      987,      1051,     1119,     1191,     1269,     1351,     1439,     1532,
    1631,     1737,     1850,     1970,     2098,     2234,     2379,     2533,     2698,
    2873,     3059,     3258,     3469,     3694,     3934,     4189,     4461,     4751,
    5059,     5387,     5737,     6109,     6506,     6928,     7378,     7857,     8367,
    8910,     9488,     10104,    10760,    11458,    12202,    12994,    13838,    14736,
    15692,    16711,    17795,    18951,    20181,    21491,    22885,    24371,    25953,
    27638,    29431,    31342,    33376,    35543,    37850,    40307,    42923,    45709,
    48676,    51836,    55200,    58784,    62599,    66663,    70990,    75598,    80505,
    85730,    91295,    97221,    103532,   110252,   117409,   125030,   133146,   141789,
    150992,   160793,   171231,   182345,   194182,   206786,   220209,   234503,   249725,
    265935,   283197,   301579,   321155,   342002,   364202,   387842,   413018,   439827,
    468377,   498780,   531156,   565634,   602350,   641449,   683087,   727427,   774645,
    824928,   878475,   935498,   996222,   1060888,  1129752,  1203085,  1281179,  1364342,
    1452903,  1547213,  1647644,  1754595,  1868488,  1989774,  2118933,  2256475,  2402946,
    2558924,  2725027,  2901912,  3090279,  3290873,  3504487,  3731968,  3974215,  4232186,
    4506902,  4799451,  5110989,  5442750,  5796046,  6172275,  6572925,  6999582,  7453933,
    7937777,  8453028,  9001725,  9586039,  10208280, 10870913, 11576557, 12328006, 13128233,
    13980403, 14887889, 15854280, 16883401, 17979324, 19146385, 20389201, 21712690, 23122088,
    24622972, 26221280, 27923336, 29735875, 31666069, 33721553, 35910462, 38241455, 40723756,
    43367187, 46182206, 49179951, 52372284, 55771835, 59392055, 63247269, 67352729, 71724679,
    76380419, 81338368};
/// What the gNB assumes of index 254 (BS > 81338368): twice the last bound, bytes.
constexpr uint64_t kBsrAbove = 2ULL * 81338368ULL;
/// Long BSR MAC CE of one LCG: 2-byte MAC subheader (8-bit L), LCG bitmap, one 8-bit level.
constexpr uint64_t kLongBsrCeBytes = 4;

/** \return P in W for P in dBm \param dbm power */
double
DbmToW(double dbm)
{
    return std::pow(10.0, (dbm - 30.0) / 10.0);
}
} // namespace

void
NrCellMac::ConfigureUl()
{
    if (m_ulTpc && !m_ulPcOn)
    {
        throw std::invalid_argument("UlTpc: closed-loop TPC needs UlPowerControl");
    }
    bool ulData = false;
    bool pucch = false;
    for (size_t s = 0; s < m_tddPattern.size(); ++s)
    {
        const uint32_t nSymb = SymbolsIn(s, UL);
        ulData = ulData || (nSymb > 0 && 12 * nSymb > m_dmrsRe + OverheadRe(UL, nSymb));
        pucch = pucch || nSymb > 0;
    }
    if (m_srBsr && ulData)
    {
        if (m_srOffset >= m_srPeriod)
        {
            throw std::invalid_argument("SrOffsetSlots (" + std::to_string(m_srOffset) +
                                        ") must be below SrPeriodSlots (" +
                                        std::to_string(m_srPeriod) + ")");
        }
        for (size_t k = 0; k < m_tddPattern.size(); ++k)
        {
            const uint64_t n = m_srOffset + k * uint64_t(m_srPeriod);
            if (SymbolsIn(n, UL) == 0)
            {
                throw std::invalid_argument("SR occasion in slot " + std::to_string(n) +
                                            " (SrOffsetSlots + k x SrPeriodSlots) has no UL "
                                            "symbols in TDD pattern '" + m_tddPattern + "'");
            }
        }
    }
    m_harqTiming = nullptr;
    if (m_harqTdd && pucch)
    {
        if (m_k1 > 15)
        {
            throw std::invalid_argument("HarqFeedbackDelaySlots: K1 above 15 slots with "
                                        "HarqTddTiming (dl-DataToUL-ACK is 0..15)");
        }
        m_harqTiming = CreateObjectWithAttributes<NrHarqTiming>(
            "Pattern", StringValue(m_tddPattern), "SpecialSlotUplink",
            BooleanValue(m_specialUlSymbols > 0), "K1Min", UintegerValue(m_k1));
    }
}

void
NrCellMac::AddUeUl(uint32_t i)
{
    if (!m_ulPcOn)
    {
        return;
    }
    const double pcMaxDbm =
        std::min(m_ulPcMaxDbm, 10.0 * std::log10(m_channel->GetUeTxPowerW(m_ues[i].id)) + 30);
    m_ues[i].pc = CreateObjectWithAttributes<NrUlPowerControl>(
        "P0NominalPusch", DoubleValue(m_ulP0Dbm), "P0UePusch", DoubleValue(0.0), "Alpha",
        DoubleValue(m_ulAlpha), "PcMax", DoubleValue(pcMaxDbm));
}

double
NrCellMac::UlPcMaxW(uint32_t i) const
{
    const Ue& u = m_ues[i];
    return u.pc ? DbmToW(u.pc->GetPcMaxDbm()) : m_channel->GetUeTxPowerW(u.id);
}

double
NrCellMac::UlPathLossDb(uint32_t i)
{
    return -m_channel->GetPathGainDb(m_cell, m_ues[i].id);
}

double
NrCellMac::UlPsd(uint32_t i, double nPrb)
{
    const double m = std::max(1.0, nPrb);
    const double rbHz = 12.0 * m_scsHz;
    const Ue& u = m_ues[i];
    if (!u.pc)
    {
        return m_channel->GetUeTxPowerW(u.id) / (m * rbHz);
    }
    const double p =
        u.pc->PeekPuschPowerDbm(static_cast<uint32_t>(m), m_numerology, UlPathLossDb(i));
    return DbmToW(p) / (m * rbHz);
}

void
NrCellMac::SetUlPower(uint32_t i, double nPrb)
{
    const double m = std::max(1.0, nPrb);
    Ue& u = m_ues[i];
    Link& l = u.link[UL];
    double p;
    if (u.pc)
    {
        p = u.pc->ComputePuschPowerDbm(static_cast<uint32_t>(m), m_numerology, UlPathLossDb(i));
    }
    else
    {
        p = 10.0 * std::log10(m_channel->GetUeTxPowerW(u.id)) + 30.0;
    }
    l.txPowerDbm = p;
    l.txPsd = DbmToW(p) / (m * 12.0 * m_scsHz);
}

void
NrCellMac::SendTpc(uint32_t i, double sinrDb)
{
    if (!m_ulTpc)
    {
        return;
    }
    // accumulated TPC field (Table 7.1.1-1): 0 -1 dB, 1 0 dB, 2 +1 dB, 3 +3 dB
    const double err = m_ulTpcTargetDb - sinrDb;
    const uint32_t field = err >= 2.0 ? 3 : err >= 0.5 ? 2 : err <= -0.5 ? 0 : 1;
    m_ues[i].pc->ReceiveTpc(field);
}

uint64_t
NrCellMac::DlAckSlot(uint64_t n) const
{
    return m_harqTiming ? m_harqTiming->GetAckSlot(n) : n + m_k1;
}

uint64_t
NrCellMac::NextUlSlot(uint64_t n) const
{
    for (uint64_t s = n; s < n + m_tddPattern.size(); ++s)
    {
        const uint32_t nSymb = SymbolsIn(s, UL);
        if (nSymb > 0 && 12 * nSymb > m_dmrsRe + OverheadRe(UL, nSymb))
        {
            return s;
        }
    }
    return n; // no UL data slot in the pattern: never scheduled anyway
}

void
NrCellMac::ProcessSr(uint64_t n)
{
    if (!m_srBsr || m_fullBufferUl || n % m_srPeriod != m_srOffset)
    {
        return;
    }
    for (uint32_t i = 0; i < m_ues.size(); ++i)
    {
        Link& l = m_ues[i].link[UL];
        // an SR only when nothing else tells the gNB: no grant coming, no buffer it believes
        // in, no TB in flight (whose BSR it will decode)
        if (l.srGrantSlot >= 0 || l.bsrBelief > 0 || Flow(i, UL).GetQueuedBytes() == 0)
        {
            continue;
        }
        const bool inFlight =
            std::any_of(l.harq.begin(), l.harq.end(), [](const Harq& h) { return h.busy; });
        if (!inFlight)
        {
            l.srGrantSlot = static_cast<int64_t>(NextUlSlot(n + m_srGrantDelay));
        }
    }
}

void
NrCellMac::AllocateSrGrants(Allocation& a, uint64_t n)
{
    if (!m_srBsr)
    {
        return;
    }
    const uint32_t nUe = m_ues.size();
    for (uint32_t k = 0; k < nUe && a.freeLeft > 0; ++k)
    {
        const uint32_t i = (k + m_rrStart) % nUe;
        Link& l = m_ues[i].link[UL];
        if (l.srGrantSlot < 0 || uint64_t(l.srGrantSlot) > n || l.proc >= 0 ||
            !l.rbgs.empty() || l.csiCount == 0 || (m_srs && !l.srsReady))
        {
            continue; // not due, or waits for a slot it can be served in
        }
        const bool freeProc =
            std::any_of(l.harq.begin(), l.harq.end(), [](const Harq& h) { return !h.busy; });
        if (freeProc)
        {
            TakeRbgs(a, i, 1); // the TB formed on it serves the grant (BuildBsr)
        }
    }
}

uint64_t
NrCellMac::UlMacCeBytes() const
{
    return m_srBsr && m_l2Headers ? kLongBsrCeBytes : 0;
}

void
NrCellMac::BuildBsr(uint32_t i, Harq& h, uint64_t cap)
{
    Link& l = m_ues[i].link[UL];
    l.bsrBelief = l.bsrBelief > cap ? l.bsrBelief - cap : 0;
    l.granted += cap;
    l.srGrantSlot = -1;
    h.grantedAt = l.granted;
    h.bsrSeq = ++l.bsrSeq;
    h.bsrBytes = BsrLevel(Flow(i, UL).GetQueuedBytes()); // what is left after this TB
}

void
NrCellMac::ReceiveBsr(uint32_t i, const Harq& h)
{
    Link& l = m_ues[i].link[UL];
    if (h.bsrSeq == 0 || h.bsrSeq <= l.bsrSeqRx)
    {
        return; // a newer BSR is in already
    }
    l.bsrSeqRx = h.bsrSeq;
    const uint64_t since = l.granted - h.grantedAt; // granted after it was built
    l.bsrBelief = h.bsrBytes > since ? h.bsrBytes - since : 0;
}

uint64_t
NrCellMac::BsrLevel(uint64_t b)
{
    const auto* end = kLongBsr + 254;
    const auto* it = std::lower_bound(kLongBsr, end, b);
    return it == end ? kBsrAbove : *it;
}

} // namespace ns3
