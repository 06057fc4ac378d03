/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "cross-traffic-helper.h"

#include "ns3/inet-socket-address.h"
#include "ns3/on-off-helper.h"
#include "ns3/packet-sink-helper.h"
#include "ns3/string.h"
#include "ns3/trace-replay-source.h"

#include <algorithm>
#include <sstream>

namespace ns3
{

CrossTrafficHelper::CrossTrafficHelper()
    : m_port(9)
{
}

void
CrossTrafficHelper::EnsureSink(Ptr<EdgeNetwork> net, uint32_t dst, uint16_t port)
{
    auto key = std::make_pair(dst, port);
    if (m_sinks.count(key))
    {
        return;
    }
    PacketSinkHelper sink("ns3::UdpSocketFactory", InetSocketAddress(Ipv4Address::GetAny(), port));
    ApplicationContainer apps = sink.Install(net->GetNode(dst));
    apps.Start(Seconds(0));
    m_sinks[key] = DynamicCast<PacketSink>(apps.Get(0));
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
    OnOffHelper onoff("ns3::UdpSocketFactory", InetSocketAddress(net->GetAddress(dst), port));
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
    ApplicationContainer apps = onoff.Install(net->GetNode(src));
    apps.Start(start);
    return onoff.AssignStreams(NodeContainer(net->GetNode(src)), stream);
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
