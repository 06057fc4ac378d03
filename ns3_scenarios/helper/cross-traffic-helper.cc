/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "cross-traffic-helper.h"

#include "ns3/bulk-send-helper.h"
#include "ns3/config.h"
#include "ns3/inet-socket-address.h"
#include "ns3/on-off-helper.h"
#include "ns3/packet-sink-helper.h"
#include "ns3/string.h"
#include "ns3/trace-replay-source.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <sstream>

namespace ns3
{

namespace
{
/// An OnOffHelper toward remote: exponential on/off periods, or always on when meanOff is 0.
OnOffHelper
MakeOnOff(const Address& remote, DataRate rate, double meanOn, double meanOff, uint32_t packetSize)
{
    OnOffHelper onoff("ns3::UdpSocketFactory", remote);
    onoff.SetConstantRate(rate, packetSize);
    std::ostringstream on;
    std::ostringstream off;
    if (meanOff > 0)
    {
        on << "ns3::ExponentialRandomVariable[Mean=" << meanOn << "]";
        off << "ns3::ExponentialRandomVariable[Mean=" << meanOff << "]";
    }
    else
    {
        on << "ns3::ConstantRandomVariable[Constant=1e9]";
        off << "ns3::ConstantRandomVariable[Constant=0]";
    }
    onoff.SetAttribute("OnTime", StringValue(on.str()));
    onoff.SetAttribute("OffTime", StringValue(off.str()));
    return onoff;
}
} // namespace

CrossTrafficHelper::CrossTrafficHelper()
    : m_port(9)
{
}

Ptr<PacketSink>
CrossTrafficHelper::InstallSink(Ptr<Node> node, uint16_t port, const std::string& socketFactory)
{
    PacketSinkHelper sink(socketFactory, InetSocketAddress(Ipv4Address::GetAny(), port));
    ApplicationContainer apps = sink.Install(node);
    apps.Start(Seconds(0));
    return DynamicCast<PacketSink>(apps.Get(0));
}

void
CrossTrafficHelper::EnsureSink(Ptr<EdgeNetwork> net, uint32_t dst, uint16_t port)
{
    auto key = std::make_pair(dst, port);
    if (m_sinks.count(key))
    {
        return;
    }
    m_sinks[key] = InstallSink(net->GetNode(dst), port, "ns3::UdpSocketFactory");
}

uint64_t
CrossTrafficHelper::GetSinkRxBytes(uint32_t dst, uint16_t port) const
{
    auto it = m_sinks.find(std::make_pair(dst, port));
    return it == m_sinks.end() ? 0 : it->second->GetTotalRx();
}

int64_t
CrossTrafficHelper::InstallOnOff(Ptr<EdgeNetwork> net,
                                 uint32_t src,
                                 uint32_t dst,
                                 DataRate rate,
                                 double meanOn,
                                 double meanOff,
                                 uint32_t packetSize,
                                 Time start,
                                 int64_t stream,
                                 uint16_t port)
{
    EnsureSink(net, dst, port);
    OnOffHelper onoff =
        MakeOnOff(InetSocketAddress(net->GetAddress(dst), port), rate, meanOn, meanOff, packetSize);
    ApplicationContainer apps = onoff.Install(net->GetNode(src));
    apps.Start(start);
    return onoff.AssignStreams(NodeContainer(net->GetNode(src)), stream);
}

ApplicationContainer
CrossTrafficHelper::InstallOnOff(Ptr<Node> src,
                                 const Address& remote,
                                 DataRate rate,
                                 double meanOn,
                                 double meanOff,
                                 uint32_t packetSize,
                                 Time start,
                                 Time stop)
{
    ApplicationContainer apps = MakeOnOff(remote, rate, meanOn, meanOff, packetSize).Install(src);
    apps.Start(start);
    if (stop > start)
    {
        apps.Stop(stop);
    }
    return apps;
}

ApplicationContainer
CrossTrafficHelper::InstallBulkSend(Ptr<Node> src,
                                    const Address& remote,
                                    Time start,
                                    uint32_t bufferBytes,
                                    uint32_t segmentSize)
{
    Config::SetDefault("ns3::TcpSocket::SndBufSize", UintegerValue(bufferBytes));
    Config::SetDefault("ns3::TcpSocket::RcvBufSize", UintegerValue(bufferBytes));
    Config::SetDefault("ns3::TcpSocket::SegmentSize", UintegerValue(segmentSize));
    BulkSendHelper bulk("ns3::TcpSocketFactory", remote);
    bulk.SetAttribute("MaxBytes", UintegerValue(0));
    ApplicationContainer apps = bulk.Install(src);
    apps.Start(start);
    return apps;
}

void
CrossTrafficHelper::InstallReplay(Ptr<EdgeNetwork> net,
                                  uint32_t src,
                                  uint32_t dst,
                                  const std::vector<double>& times,
                                  const std::vector<double>& bytes)
{
    EnsureSink(net, dst, m_port);
    Ptr<TraceReplaySource> app = CreateObject<TraceReplaySource>();
    app->SetTrace(times, bytes);
    app->SetRemote(InetSocketAddress(net->GetAddress(dst), m_port));
    net->GetNode(src)->AddApplication(app);
    app->SetStartTime(Seconds(0));
}

} // namespace ns3
