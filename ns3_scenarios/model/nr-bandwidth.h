/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef NR_BANDWIDTH_H
#define NR_BANDWIDTH_H

#include <cstdint>

namespace ns3
{

/**
 * \ingroup edgelam
 * Number of PRBs that fit a channel: the maximum transmission bandwidth configuration N_RB of
 * TS 38.101-1 V17 Table 5.3.2-1 (FR1) and TS 38.101-2 V17 Table 5.3.2-1 (FR2-1, FR2-2) where
 * they define the (bandwidth, subcarrier spacing) pair, and elsewhere the formula
 *
 *   N_RB = floor(BW (1 - g) / (12 SCS))
 *
 * with g the guard fraction of the channel, 0.05 by default: about the guard of 38.101-2's
 * wide channels (264 PRB x 12 x 120 kHz = 380.16 MHz of 400 MHz, g = 0.0496; 264 PRB at
 * 60 kHz in 200 MHz, g = 0.0496), and more than the 1.7-2.8 % of 38.101-1's 100 MHz channels.
 * The formula does not cap N_RB at NR's 275 PRBs per carrier (TS 38.211 §4.4.2), so that 6G
 * bandwidths beyond NR can be studied; the tables never exceed it.
 */
class NrBandwidth
{
  public:
    /// Default guard fraction g of the formula.
    static constexpr double kDefaultGuardFraction = 0.05;

    /**
     * \param bandwidthHz channel bandwidth [Hz] (> 0)
     * \param scsHz subcarrier spacing [Hz] (15 kHz x 2^mu)
     * \param guardFraction g of the formula for pairs the tables do not define, in [0, 1)
     * \return N_RB (0 if not even one PRB fits)
     */
    static uint32_t GetNumPrb(double bandwidthHz,
                              double scsHz,
                              double guardFraction = kDefaultGuardFraction);

    /**
     * \param bandwidthHz channel bandwidth [Hz]
     * \param scsHz subcarrier spacing [Hz]
     * \return N_RB from TS 38.101-1 or -2 Table 5.3.2-1, or 0 if they do not define the pair
     */
    static uint32_t LookupNumPrb(double bandwidthHz, double scsHz);

    /**
     * \param numerology mu (0..6: 15, 30, 60, 120, 240, 480, 960 kHz; TS 38.211 §4.2)
     * \return the subcarrier spacing 15 kHz x 2^mu [Hz]
     */
    static double GetScsHz(uint32_t numerology);
};

} // namespace ns3

#endif // NR_BANDWIDTH_H
