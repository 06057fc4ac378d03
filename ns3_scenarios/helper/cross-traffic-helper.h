/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef CROSS_TRAFFIC_HELPER_H
#define CROSS_TRAFFIC_HELPER_H

#include "ns3/data-rate.h"
#include "ns3/edge-network.h"
#include "ns3/nstime.h"
#include "ns3/packet-sink.h"

#include <map>

#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * Installs background UDP traffic between two nodes of an EdgeNetwork, so that it competes
 * with the co-simulated application's messages on the links of its route.
 */
class CrossTrafficHelper
{
  public:
    CrossTrafficHelper();

    /**
     * On/off traffic (ns-3 OnOffApplication): exponentially distributed on and off periods;
     * during on periods, constant bit rate.
     * \param net the network
     * \param src source node index
     * \param dst sink node index
     * \param rate bit rate while on
     * \param meanOn mean on period, s
     * \param meanOff mean off period, s (0 for always on)
     * \param packetSize UDP payload per packet, bytes
     * \param start start instant
     * \param stream first random stream index to assign
     * \param port UDP port of the sink at dst (one sink per node and port)
     * \return the number of streams used
     */
    int64_t InstallOnOff(Ptr<EdgeNetwork> net,
                         uint32_t src,
                         uint32_t dst,
                         DataRate rate,
                         double meanOn,
                         double meanOff,
                         uint32_t packetSize,
                         Time start,
                         int64_t stream,
                         uint16_t port = 9);

    /**
     * \param dst sink node index
     * \param port sink port
     * \return bytes received by that sink so far (0 if there is none)
     */
    uint64_t GetSinkRxBytes(uint32_t dst, uint16_t port) const;

    /**
     * Trace replay (TraceReplaySource): at each instant, the given bytes.
     * \param net the network
     * \param src source node index
     * \param dst sink node index
     * \param times send instants, s, non-decreasing
     * \param bytes bytes at each instant
     */
    void InstallReplay(Ptr<EdgeNetwork> net,
                       uint32_t src,
                       uint32_t dst,
                       const std::vector<double>& times,
                       const std::vector<double>& bytes);

  private:
    void EnsureSink(Ptr<EdgeNetwork> net, uint32_t dst, uint16_t port);
    uint16_t m_port;                                            //!< default UDP port of sinks
    std::map<std::pair<uint32_t, uint16_t>, Ptr<PacketSink>> m_sinks; //!< sink per node, port
};

} // namespace ns3

#endif // CROSS_TRAFFIC_HELPER_H
