/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "trace-replay-source.h"

#include "ns3/abort.h"
#include "ns3/log.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"
#include "ns3/udp-socket-factory.h"

#include <algorithm>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("TraceReplaySource");
NS_OBJECT_ENSURE_REGISTERED(TraceReplaySource);

TypeId
TraceReplaySource::GetTypeId()
{
    static TypeId tid = TypeId("ns3::TraceReplaySource")
                            .SetParent<Application>()
                            .SetGroupName("Edgelam")
                            .AddConstructor<TraceReplaySource>()
                            .AddAttribute("PacketSize",
                                          "Largest UDP payload per datagram, bytes.",
                                          UintegerValue(1472),
                                          MakeUintegerAccessor(&TraceReplaySource::m_packetSize),
                                          MakeUintegerChecker<uint32_t>(1));
    return tid;
}

TraceReplaySource::TraceReplaySource()
    : m_packetSize(1472),
      m_next(0)
{
}

TraceReplaySource::~TraceReplaySource() = default;

void
TraceReplaySource::DoDispose()
{
    m_socket = nullptr;
    Application::DoDispose();
}

void
TraceReplaySource::SetTrace(const std::vector<double>& times, const std::vector<double>& bytes)
{
    NS_ABORT_MSG_IF(times.size() != bytes.size(), "TraceReplaySource: trace lengths differ");
    for (size_t i = 1; i < times.size(); ++i)
    {
        NS_ABORT_MSG_IF(times[i] < times[i - 1], "TraceReplaySource: times must not decrease");
    }
    m_times = times;
    m_bytes = bytes;
}

void
TraceReplaySource::SetRemote(const Address& remote)
{
    m_remote = remote;
}

void
TraceReplaySource::StartApplication()
{
    m_socket = Socket::CreateSocket(GetNode(), UdpSocketFactory::GetTypeId());
    m_socket->Bind();
    m_socket->Connect(m_remote);
    m_next = 0;
    if (!m_times.empty())
    {
        m_event = Simulator::Schedule(Seconds(m_times[0]), &TraceReplaySource::SendNext, this);
    }
}

void
TraceReplaySource::StopApplication()
{
    m_event.Cancel();
    if (m_socket)
    {
        m_socket->Close();
    }
}

void
TraceReplaySource::SendNext()
{
    double now = m_times[m_next];
    while (m_next < m_times.size() && m_times[m_next] <= now)
    {
        uint64_t left = static_cast<uint64_t>(m_bytes[m_next]);
        while (left > 0)
        {
            uint32_t size = static_cast<uint32_t>(std::min<uint64_t>(left, m_packetSize));
            m_socket->Send(Create<Packet>(size));
            left -= size;
        }
        ++m_next;
    }
    if (m_next < m_times.size())
    {
        m_event = Simulator::Schedule(Seconds(m_times[m_next] - now),
                                      &TraceReplaySource::SendNext,
                                      this);
    }
}

} // namespace ns3
