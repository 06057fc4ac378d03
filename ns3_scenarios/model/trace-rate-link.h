/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef TRACE_RATE_LINK_H
#define TRACE_RATE_LINK_H

#include "ns3/data-rate.h"
#include "ns3/error-model.h"
#include "ns3/event-id.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/point-to-point-net-device.h"
#include "ns3/traced-callback.h"

#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * A trace-driven radio hop (one UE and one direction): drives a point-to-point device's
 * service rate, and optionally its channel's one-way delay and the receiver's packet loss,
 * along a piecewise-constant time series (Mahimahi-style link emulation).
 *
 * Sample k holds from times[k] until times[k+1] (the last one until the end, or until the
 * series restarts when LoopPeriod is positive). The device serves at max(Share x rate[k],
 * MinRate). A packet's serialisation ends when the integral of that service rate since
 * it started reaches its size: the series ahead is known, so each packet's time is set when
 * it starts, across every change of sample (a zero-rate sample holds it until the rate
 * returns). A Share change applies from the next packet the device starts. A packet that
 * finds the direction idle first waits AccessDelay (an NR uplink's scheduling request and
 * grant); the packets queued behind it follow without it.
 */
class TraceRateLink : public Object
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();

    TraceRateLink();
    ~TraceRateLink() override;

    /**
     * Set the series (before Start()).
     * \param timesS sample instants, s: the first 0, strictly increasing
     * \param ratesBps service rate of each sample with the whole capacity, bit/s (>= 0)
     * \param delaysS extra one-way delay of each sample, s (empty: none)
     * \param losses packet loss probability of each sample in [0, 1] (empty: no loss model)
     */
    void SetTrace(const std::vector<double>& timesS,
                  const std::vector<double>& ratesBps,
                  const std::vector<double>& delaysS,
                  const std::vector<double>& losses);

    /**
     * Drive a device: tx serves the direction, rx receives it (its ReceiveErrorModel is set
     * when the series has losses); the delay goes on tx's channel.
     * \param tx the transmitting device
     * \param rx the receiving device
     */
    void Install(Ptr<PointToPointNetDevice> tx, Ptr<PointToPointNetDevice> rx);

    /** Apply the sample of the current instant and follow the series from now on. */
    void Start();

    /**
     * Scale the capacity from now on (a scheduling policy's share of the UE's capacity).
     * \param share fraction of the trace's rate, >= 0
     */
    void SetShare(double share);

    /** \return the share in force */
    double GetShare() const;

    /** \return the service rate now, bit/s */
    double GetRateBps() const;

    /**
     * Assign a fixed random stream to the loss model.
     * \param stream first stream index
     * \return the number of streams used
     */
    int64_t AssignStreams(int64_t stream);

  protected:
    void DoDispose() override;

  private:
    void Apply(size_t k);
    void ApplyRate();
    /** \return the service rate of sample k at the current share, bit/s */
    double ServiceRate(size_t k) const;
    /**
     * \param from when the service starts, s (>= now)
     * \param bits the packet's size
     * \return the time from now until the series, serving from \p from, has served \p bits
     */
    Time SerialisationTime(double from, double bits) const;
    /** Set the device's rate for the packet it starts now (its PhyTxBegin). */
    void PacketStarts(Ptr<const Packet> packet);
    /** Note when the device's packet ended (its PhyTxEnd). */
    void PacketEnds(Ptr<const Packet> packet);

    std::vector<double> m_times;          //!< sample instants within a period, s
    std::vector<double> m_rates;          //!< rate per sample, bit/s
    std::vector<double> m_delays;         //!< extra delay per sample, s
    std::vector<double> m_losses;         //!< loss probability per sample
    double m_share;                       //!< Share attribute
    DataRate m_minRate;                   //!< MinRate attribute
    Time m_baseDelay;                     //!< BaseDelay attribute
    Time m_loopPeriod;                    //!< LoopPeriod attribute (0: no loop)
    Time m_accessDelay;                   //!< AccessDelay attribute
    Time m_lastEnd;                       //!< when the last packet's serialisation ended
    Ptr<PointToPointNetDevice> m_tx;      //!< the device served
    Ptr<RateErrorModel> m_loss;           //!< receiver's loss model, if any
    size_t m_current;                     //!< sample in force
    Time m_cycleStart;                    //!< start of the current period
    double m_rateBps;                     //!< service rate in force, bit/s
    EventId m_next;                       //!< next sample change
    TracedCallback<double> m_rateTrace;   //!< service rate changes, bit/s
};

} // namespace ns3

#endif // TRACE_RATE_LINK_H
