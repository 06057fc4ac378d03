/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef CROSS_TRAFFIC_HELPER_H
#define CROSS_TRAFFIC_HELPER_H

#include "ns3/address.h"
#include "ns3/application-container.h"
#include "ns3/data-rate.h"
#include "ns3/edge-network.h"
#include "ns3/node.h"
#include "ns3/nstime.h"
#include "ns3/packet-sink.h"

#include <map>
#include <string>
#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * Installs traffic applications: background UDP between two nodes of an EdgeNetwork, so that
 * it competes with the co-simulated application's messages on the links of its route, and
 * node-level sources and sinks (UDP on/off, TCP bulk transfer) between any two IPv4 nodes,
 * e.g. a gNB and a UE of an NrRadioHelper.
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

    /**
     * UDP on/off source on a node (OnOffApplication, as the EdgeNetwork variant; streams are
     * not assigned).
     * \param src the source node (with IPv4)
     * \param remote the sink's InetSocketAddress
     * \param rate bit rate while on
     * \param meanOn mean on period, s
     * \param meanOff mean off period, s (0 for always on: constant bit rate)
     * \param packetSize UDP payload per packet, bytes
     * \param start start instant
     * \param stop stop instant (not after start: never stops)
     * \return the application
     */
    static ApplicationContainer InstallOnOff(Ptr<Node> src,
                                             const Address& remote,
                                             DataRate rate,
                                             double meanOn,
                                             double meanOff,
                                             uint32_t packetSize,
                                             Time start,
                                             Time stop);

    /**
     * TCP bulk transfer on a node (BulkSendApplication, no byte limit). BulkSend and
     * PacketSink create their sockets when they start, so the socket sizes are set as the
     * ns3::TcpSocket defaults (SndBufSize, RcvBufSize, SegmentSize): they apply to every TCP
     * socket created from now on without its own values.
     * \param src the source node (with IPv4)
     * \param remote the sink's InetSocketAddress
     * \param start start instant
     * \param bufferBytes send and receive buffer, bytes
     * \param segmentSize TCP segment size (MSS), bytes
     * \return the application
     */
    static ApplicationContainer InstallBulkSend(Ptr<Node> src,
                                                const Address& remote,
                                                Time start,
                                                uint32_t bufferBytes,
                                                uint32_t segmentSize);

    /**
     * A PacketSink on a node, started at time 0.
     * \param node the node (with IPv4)
     * \param port local port (any address)
     * \param socketFactory "ns3::UdpSocketFactory" or "ns3::TcpSocketFactory"
     * \return the sink
     */
    static Ptr<PacketSink> InstallSink(Ptr<Node> node,
                                       uint16_t port,
                                       const std::string& socketFactory);

  private:
    void EnsureSink(Ptr<EdgeNetwork> net, uint32_t dst, uint16_t port);
    uint16_t m_port;                                            //!< default UDP port of sinks
    std::map<std::pair<uint32_t, uint16_t>, Ptr<PacketSink>> m_sinks; //!< sink per node, port
};

} // namespace ns3

#endif // CROSS_TRAFFIC_HELPER_H
