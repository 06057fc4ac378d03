/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef NR_UL_POWER_CONTROL_H
#define NR_UL_POWER_CONTROL_H

#include "ns3/object.h"

#include <cstdint>

namespace ns3
{

/**
 * \ingroup edgelam
 * PUSCH transmit power of a UE, TS 38.213 V17 §7.1.1 (one carrier, one BWP, one closed loop,
 * no SRS/PUCCH interaction):
 *
 *   P(i) = min(P_CMAX, P_O + 10 log10(2^mu M_RB(i)) + alpha PL + Delta_TF(i) + f(i))  [dBm]
 *
 * with P_O = P_O_NOMINAL_PUSCH + P_O_UE_PUSCH, M_RB the PUSCH resource blocks, PL the downlink
 * path loss estimate [dB], Delta_TF = 10 log10((2^(BPRE K_s) - 1) beta_offset) for K_s = 1.25
 * and 0 for K_s = 0, and f the closed-loop state: with accumulation, f(i) = f(i - 1) + delta
 * of the TPC commands received since the last occasion (Table 7.1.1-1: -1, 0, +1, +3 dB),
 * except that positive commands are not accumulated after an occasion at P_CMAX and negative
 * ones not after an occasion at the minimum power PMin; without accumulation, f is the last
 * command's absolute value (-4, -1, +1, +4 dB).
 */
class NrUlPowerControl : public Object
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();

    NrUlPowerControl();
    ~NrUlPowerControl() override;

    /**
     * \param tpc the 2-bit TPC command field (0..3)
     * \param accumulated accumulation (true) or absolute (false) values of Table 7.1.1-1
     * \return delta [dB]; throws std::out_of_range for a field above 3
     */
    static double TpcDeltaDb(uint32_t tpc, bool accumulated);

    /**
     * Receive a TPC command (DCI format 0_0/0_1 or 2_2) for the next PUSCH occasion.
     * \param tpc the 2-bit field (0..3)
     */
    void ReceiveTpc(uint32_t tpc);

    /**
     * The power of a PUSCH occasion; also closes the occasion for the TPC accumulation rule.
     * \param numRb M_RB, the PUSCH's resource blocks (>= 1)
     * \param numerology mu (0..6)
     * \param pathLossDb PL, the downlink path-loss estimate [dB] (positive)
     * \param bpre bits per resource element of the PUSCH (for Delta_TF with K_s = 1.25)
     * \return P_PUSCH [dBm]
     */
    double ComputePuschPowerDbm(uint32_t numRb,
                                uint32_t numerology,
                                double pathLossDb,
                                double bpre = 0);

    /**
     * The power the next PUSCH occasion would have, without closing it (for the scheduler's
     * estimates; the pending TPC commands are applied as ComputePuschPowerDbm would).
     * \param numRb M_RB \param numerology mu \param pathLossDb PL [dB] \param bpre BPRE
     * \return P_PUSCH [dBm]
     */
    double PeekPuschPowerDbm(uint32_t numRb,
                             uint32_t numerology,
                             double pathLossDb,
                             double bpre = 0) const;

    /** \return P_CMAX [dBm] */
    double GetPcMaxDbm() const;

    /** \return f, the closed-loop adjustment state [dB] */
    double GetClosedLoopDb() const;

    /** Reset the closed loop (f = 0, no pending commands), as after P_O or alpha changes. */
    void ResetClosedLoop();

  private:
    /** \return f at the next occasion: the pending commands accumulated unless blocked */
    double ClosedLoopAtNextOccasion() const;
    /**
     * \param numRb M_RB \param numerology mu \param pathLossDb PL \param bpre BPRE
     * \param f closed-loop state
     * \return the uncapped power P_O + 10 log10(2^mu M_RB) + alpha PL + Delta_TF + f [dBm]
     */
    double OpenPowerDbm(uint32_t numRb, uint32_t numerology, double pathLossDb, double bpre,
                        double f) const;

    double m_p0NominalDbm;  //!< P_O_NOMINAL_PUSCH [dBm]
    double m_p0UeDb;        //!< P_O_UE_PUSCH [dB]
    double m_alpha;         //!< alpha
    double m_pCmaxDbm;      //!< P_CMAX [dBm]
    double m_pMinDbm;       //!< minimum transmit power [dBm]
    double m_ks;            //!< K_s (deltaMCS): 0 or 1.25
    double m_betaOffset;    //!< beta_offset^PUSCH for Delta_TF
    bool m_accumulation;    //!< tpc-Accumulation enabled
    double m_f{0};          //!< closed-loop state f [dB]
    double m_pendingDb{0};  //!< sum of accumulated deltas received since the last occasion
    bool m_pending{false};  //!< whether a command arrived since the last occasion
    bool m_atMax{false};    //!< the last occasion was at P_CMAX
    bool m_atMin{false};    //!< the last occasion was at the minimum power
};

} // namespace ns3

#endif // NR_UL_POWER_CONTROL_H
