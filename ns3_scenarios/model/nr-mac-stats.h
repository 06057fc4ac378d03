/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * NrMacStats: the MAC counters of one UE and direction, and the figures derived from them
 * (BLER, mean SINR and MCS of first transmissions). The one place where they are derived.
 */
#ifndef NR_MAC_STATS_H
#define NR_MAC_STATS_H

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * Cumulative MAC counters of one UE in one direction (NrCellMac keeps one per UE and
 * direction), with the figures derived from them. Since() gives the counters over an interval,
 * whose getters then give that interval's figures.
 */
struct NrMacStats
{
    uint64_t tbFirst{0};      //!< first transmissions
    uint64_t tbFirstErr{0};   //!< failed first transmissions
    uint64_t tbTx{0};         //!< transmissions (incl. retransmissions)
    uint64_t tbErr{0};        //!< failed transmissions
    uint64_t retx{0};         //!< retransmissions
    uint64_t tbLost{0};       //!< TBs that failed their last transmission
    double bytes{0};          //!< payload bytes of decoded TBs (padding excluded)
    double sumSinrEffDb{0};   //!< sum of first-transmission effective SINRs, dB
    double sumMcs{0};         //!< sum of first-transmission MCS indices
    double sumRbg{0};         //!< RBGs allocated (all transmissions)
    double lastMcs{-1};       //!< MCS of the last first transmission (-1: none yet)
    double lastSinrEffDb{0};  //!< effective SINR of the last first transmission, dB
    double widebandSinrDb{0}; //!< mean of the last CSI measurement over the RBGs, dB
    double sumLayers{0};      //!< MIMO layers of the TB (all transmissions)
    double sumCoUes{0};       //!< UEs on its RBGs incl. itself, mean over them (all tx)
    double sumPrecGainDb{0};  //!< precoder gain, mean over its layers and RBGs, dB (MU path)
    double precTx{0};         //!< transmissions counted in sumPrecGainDb

    /** \return the first-transmission TB error rate [-] (NaN without a first transmission) */
    double GetBler() const;
    /** \return the TB error rate over all transmissions [-] (NaN without a transmission) */
    double GetBlerAll() const;
    /** \return the mean MCS index of first transmissions (NaN without one) */
    double GetMeanMcs() const;
    /** \return the mean effective SINR of first transmissions, dB (NaN without one) */
    double GetMeanSinrDb() const;
    /** \return the mean RBGs per transmission (0 without a transmission) */
    double GetMeanRbg() const;
    /** \return the mean MIMO layers (rank) per transmission (NaN without one) */
    double GetMeanLayers() const;
    /** \return the mean co-scheduled UEs on a transmission's RBGs, itself included (NaN
     *  without one) */
    double GetMeanCoScheduled() const;
    /** \return the mean precoder gain, dB (NaN without a transmission on the MU path) */
    double GetMeanPrecoderGainDb() const;

    /**
     * The counters over an interval: these counters less those at its start. The "last" and
     * wideband values are this one's (the state at the end of the interval).
     * \param earlier the counters at the start of the interval
     * \return the difference
     */
    NrMacStats Since(const NrMacStats& earlier) const;

    /**
     * The counters and derived figures by name, as the Python bridge reports them per UE and
     * direction: tb_first, tb_first_err, tb_tx, tb_err, retx, tb_lost, mac_bytes,
     * sum_sinr_eff_db, sum_mcs, wideband_sinr_db, bler, bler_all, mean_mcs, mean_sinr_db,
     * mean_rbg, mean_layers, mean_co_scheduled, mean_precoder_gain_db.
     * \return (name, value) pairs, always in this order
     */
    std::vector<std::pair<std::string, double>> GetNamedValues() const;
};

} // namespace ns3

#endif // NR_MAC_STATS_H
