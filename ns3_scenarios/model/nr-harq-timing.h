/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef NR_HARQ_TIMING_H
#define NR_HARQ_TIMING_H

#include "ns3/object.h"

#include <cstdint>
#include <string>

namespace ns3
{

/**
 * \ingroup edgelam
 * HARQ-ACK timing of PDSCH in a TDD pattern (TS 38.213 V17 §9.2.3): the UE reports the
 * HARQ-ACK of a PDSCH received in slot n in slot n + K1 (PDSCH-to-HARQ_feedback timing), and the
 * gNB picks K1 from dl-DataToUL-ACK so that slot n + K1 is the first slot that can carry
 * PUCCH at least K1Min slots after the data (K1Min: the UE's processing time N1 in slots).
 * A slot carries PUCCH if it is 'U' in the pattern, or 'S' when SpecialSlotUplink is set (the
 * special slot's uplink symbols hold a short PUCCH). The pattern repeats every length slots.
 */
class NrHarqTiming : public Object
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();

    NrHarqTiming();
    ~NrHarqTiming() override;

    /**
     * \param dataSlot absolute slot n of the PDSCH; its pattern slot must be 'D' or 'S'
     * \return the absolute slot of its HARQ-ACK; throws std::invalid_argument for a PDSCH in a
     *         'U' slot or a pattern without a slot that can carry PUCCH
     */
    uint64_t GetAckSlot(uint64_t dataSlot) const;

    /**
     * \param dataSlot absolute slot n of the PDSCH
     * \return K1 = GetAckSlot(n) - n
     */
    uint32_t GetK1(uint64_t dataSlot) const;

  private:
    /**
     * \param slot absolute slot
     * \return whether it can carry PUCCH
     */
    bool CarriesUplink(uint64_t slot) const;

    std::string m_pattern;   //!< TDD pattern, e.g. "DDDSU"
    bool m_specialUplink;    //!< 'S' slots can carry PUCCH
    uint32_t m_k1Min;        //!< the least K1 [slots]
};

} // namespace ns3

#endif // NR_HARQ_TIMING_H
