/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-harq-timing.h"

#include "ns3/boolean.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <stdexcept>

namespace ns3
{

NS_OBJECT_ENSURE_REGISTERED(NrHarqTiming);

TypeId
NrHarqTiming::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::NrHarqTiming")
            .SetParent<Object>()
            .SetGroupName("Edgelam")
            .AddConstructor<NrHarqTiming>()
            .AddAttribute("Pattern",
                          "TDD slot pattern of 'D', 'S' and 'U', repeated (e.g. DDDSU)",
                          StringValue("DDDSU"),
                          MakeStringAccessor(&NrHarqTiming::m_pattern),
                          MakeStringChecker())
            .AddAttribute("SpecialSlotUplink",
                          "Whether an 'S' slot's uplink symbols carry PUCCH (HARQ-ACK)",
                          BooleanValue(false),
                          MakeBooleanAccessor(&NrHarqTiming::m_specialUplink),
                          MakeBooleanChecker())
            .AddAttribute("K1Min",
                          "Least PDSCH-to-HARQ-ACK delay K1 (UE processing time N1, TS 38.214 "
                          "§5.3, rounded up to slots) [slots]",
                          UintegerValue(1),
                          MakeUintegerAccessor(&NrHarqTiming::m_k1Min),
                          MakeUintegerChecker<uint32_t>(0, 15));
    return tid;
}

NrHarqTiming::NrHarqTiming()
    : m_pattern("DDDSU"),
      m_specialUplink(false),
      m_k1Min(1)
{
}

NrHarqTiming::~NrHarqTiming() = default;

bool
NrHarqTiming::CarriesUplink(uint64_t slot) const
{
    const char c = m_pattern[slot % m_pattern.size()];
    return c == 'U' || (c == 'S' && m_specialUplink);
}

uint64_t
NrHarqTiming::GetAckSlot(uint64_t dataSlot) const
{
    if (m_pattern.empty() || m_pattern.find_first_not_of("DSU") != std::string::npos)
    {
        throw std::invalid_argument("TDD pattern '" + m_pattern + "' must be D, S and U only");
    }
    const char c = m_pattern[dataSlot % m_pattern.size()];
    if (c == 'U')
    {
        throw std::invalid_argument("slot " + std::to_string(dataSlot) + " is an uplink slot "
                                    "of pattern " + m_pattern + ": no PDSCH there");
    }
    for (uint64_t s = dataSlot + m_k1Min; s < dataSlot + m_k1Min + m_pattern.size(); ++s)
    {
        if (CarriesUplink(s))
        {
            return s;
        }
    }
    throw std::invalid_argument("TDD pattern '" + m_pattern + "' has no slot for HARQ-ACK" +
                                (m_specialUplink ? "" : " (S slots do not carry uplink)"));
}

uint32_t
NrHarqTiming::GetK1(uint64_t dataSlot) const
{
    return static_cast<uint32_t>(GetAckSlot(dataSlot) - dataSlot);
}

} // namespace ns3
