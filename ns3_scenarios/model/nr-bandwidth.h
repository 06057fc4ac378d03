/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef NR_BANDWIDTH_H
#define NR_BANDWIDTH_H

#include <cstdint>
#include <vector>

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
     * Frequency range of a carrier (TS 38.101-1 §5.1, TS 38.101-2 §5.1), which decides the
     * table of N_RB and the subcarrier spacings for data.
     */
    enum FrequencyRange : uint32_t
    {
        ANY_FR = 0, //!< neither (7.125-24.25 GHz, the 6G upper mid-band, or above 71 GHz)
        FR1 = 1,    //!< 410 MHz - 7.125 GHz
        FR2 = 2,    //!< 24.25 - 71 GHz (FR2-1 up to 52.6 GHz, FR2-2 above)
    };

    /**
     * \param carrierHz carrier (centre) frequency [Hz]
     * \return its frequency range; ANY_FR outside FR1 and FR2
     */
    static FrequencyRange GetFrequencyRange(double carrierHz);

    /**
     * Subcarrier spacings NR defines for data (PDSCH/PUSCH) at a carrier: FR1 15, 30, 60 kHz
     * (TS 38.101-1 Table 5.3.5-1); FR2-1 60, 120 kHz and FR2-2 (above 52.6 GHz) 120, 480,
     * 960 kHz (TS 38.101-2 Table 5.3.5-1); 240 kHz carries only SSBs (TS 38.211 Table 4.2-1).
     * 7.125-24.25 GHz has no TS 38.101 range yet: 15-120 kHz, the data spacings of FR1 and
     * FR2-1; above 71 GHz those of FR2-2.
     * \param carrierHz carrier frequency [Hz]
     * \return the spacings [kHz], increasing
     */
    static std::vector<uint32_t> GetDataScsKhz(double carrierHz);

    /**
     * \param bandwidthHz channel bandwidth [Hz] (> 0)
     * \param scsHz subcarrier spacing [Hz] (15 kHz x 2^mu)
     * \param guardFraction g of the formula for pairs the tables do not define, in [0, 1)
     * \param fr the carrier's frequency range: its table only; ANY_FR: FR1's, then FR2's
     * \return N_RB (0 if not even one PRB fits)
     */
    static uint32_t GetNumPrb(double bandwidthHz,
                              double scsHz,
                              double guardFraction = kDefaultGuardFraction,
                              FrequencyRange fr = ANY_FR);

    /**
     * \param bandwidthHz channel bandwidth [Hz]
     * \param scsHz subcarrier spacing [Hz]
     * \param fr the carrier's frequency range: TS 38.101-1 (FR1) or -2 (FR2) Table 5.3.2-1;
     *        ANY_FR: FR1's, then FR2's (they differ only at 60 kHz, e.g. 100 MHz: 135 and 132)
     * \return N_RB from the table, or 0 if it does not define the pair
     */
    static uint32_t LookupNumPrb(double bandwidthHz, double scsHz, FrequencyRange fr = ANY_FR);

    /**
     * \param numerology mu (0..6: 15, 30, 60, 120, 240, 480, 960 kHz; TS 38.211 §4.2)
     * \return the subcarrier spacing 15 kHz x 2^mu [Hz]
     */
    static double GetScsHz(uint32_t numerology);
};

} // namespace ns3

#endif // NR_BANDWIDTH_H
