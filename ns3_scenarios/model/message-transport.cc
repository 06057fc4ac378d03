/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "message-transport.h"

#include "message-id-tag.h"

#include "ns3/abort.h"
#include "ns3/inet-socket-address.h"
#include "ns3/log.h"
#include "ns3/packet.h"
#include "ns3/simulator.h"
#include "ns3/tcp-socket-factory.h"
#include "ns3/uinteger.h"
#include "ns3/nstime.h"
#include "ns3/udp-socket-factory.h"

#include <algorithm>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("MessageTransport");
NS_OBJECT_ENSURE_REGISTERED(MessageTransport);

TypeId
MessageTransport::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::MessageTransport")
            .SetParent<Object>()
            .SetGroupName("Edgelam")
            .AddConstructor<MessageTransport>()
            .AddAttribute("TcpSegmentSize",
                          "TCP maximum segment size, bytes. 1448 fills a 1500-byte MTU: "
                          "1500 - 20 (IPv4) - 20 (TCP) - 12 (timestamp option, RFC 7323).",
                          UintegerValue(1448),
                          MakeUintegerAccessor(&MessageTransport::m_segmentSize),
                          MakeUintegerChecker<uint32_t>(1))
            .AddAttribute("TcpSndBufSize",
                          "TCP send buffer, bytes.",
                          UintegerValue(1 << 20),
                          MakeUintegerAccessor(&MessageTransport::m_sndBuf),
                          MakeUintegerChecker<uint32_t>(1))
            .AddAttribute("TcpRcvBufSize",
                          "TCP receive buffer, bytes (the advertised window's ceiling).",
                          UintegerValue(1 << 20),
                          MakeUintegerAccessor(&MessageTransport::m_rcvBuf),
                          MakeUintegerChecker<uint32_t>(1))
            .AddAttribute("FrameHeaderBytes",
                          "Bytes of framing written before each message on a TCP stream "
                          "(message id and length).",
                          UintegerValue(16),
                          MakeUintegerAccessor(&MessageTransport::m_frameHeader),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("UdpPayloadBytes",
                          "UDP payload per datagram, bytes. 1472 fills a 1500-byte MTU: "
                          "1500 - 20 (IPv4) - 8 (UDP).",
                          UintegerValue(1472),
                          MakeUintegerAccessor(&MessageTransport::m_udpPayload),
                          MakeUintegerChecker<uint32_t>(1))
            .AddAttribute("BasePort",
                          "First TCP port; the connection of the k-th node pair listens on "
                          "BasePort + k.",
                          UintegerValue(20000),
                          MakeUintegerAccessor(&MessageTransport::m_basePort),
                          MakeUintegerChecker<uint16_t>())
            .AddAttribute("UdpPort",
                          "UDP port every node receives messages on.",
                          UintegerValue(19999),
                          MakeUintegerAccessor(&MessageTransport::m_udpPort),
                          MakeUintegerChecker<uint16_t>())
            .AddAttribute("ReconnectDelay",
                          "Wait before a new connection when TCP gives up on a handshake.",
                          TimeValue(Seconds(1)),
                          MakeTimeAccessor(&MessageTransport::m_reconnectDelay),
                          MakeTimeChecker())
            .AddTraceSource("Delivered",
                            "A message's last byte reached its destination.",
                            MakeTraceSourceAccessor(&MessageTransport::m_deliveredTrace),
                            "ns3::MessageTransport::DeliveredTracedCallback");
    return tid;
}

MessageTransport::MessageTransport()
    : m_nextId(1),
      m_inFlight(0)
{
}

MessageTransport::~MessageTransport() = default;

void
MessageTransport::DoDispose()
{
    for (auto& kv : m_flows)
    {
        Flow* f = kv.second.get();
        for (Ptr<Socket> s : {f->tx, f->listener, f->rx})
        {
            if (s)
            {
                s->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
                s->SetSendCallback(MakeNullCallback<void, Ptr<Socket>, uint32_t>());
            }
        }
    }
    m_flows.clear();
    for (auto& kv : m_udpSockets)
    {
        kv.second->SetRecvCallback(MakeNullCallback<void, Ptr<Socket>>());
    }
    m_udpSockets.clear();
    m_net = nullptr;
    Object::DoDispose();
}

void
MessageTransport::SetNetwork(Ptr<EdgeNetwork> net)
{
    m_net = net;
}

uint64_t
MessageTransport::GetNInFlight() const
{
    return m_inFlight;
}

uint64_t
MessageTransport::Send(uint32_t src, uint32_t dst, uint64_t bytes, bool udp)
{
    NS_ABORT_MSG_IF(!m_net, "MessageTransport: no network");
    NS_ABORT_MSG_IF(src >= m_net->GetNNodes() || dst >= m_net->GetNNodes() || src == dst,
                    "MessageTransport: bad endpoints");
    NS_ABORT_MSG_IF(bytes == 0, "MessageTransport: empty message");
    MessageRecord rec;
    rec.id = m_nextId++;
    rec.src = src;
    rec.dst = dst;
    rec.bytes = bytes;
    rec.udp = udp;
    rec.tSend = Simulator::Now().GetSeconds();
    ++m_inFlight;
    if (udp)
    {
        Ptr<Socket> s = UdpSocketAt(src);
        UdpSocketAt(dst); // make sure the destination listens
        uint32_t n = static_cast<uint32_t>((bytes + m_udpPayload - 1) / m_udpPayload);
        m_udpInTransit[rec.id] = Datagrams{rec, n, 0};
        InetSocketAddress to(m_net->GetAddress(dst), m_udpPort);
        uint64_t left = bytes;
        for (uint32_t k = 0; k < n; ++k)
        {
            uint32_t size = static_cast<uint32_t>(std::min<uint64_t>(left, m_udpPayload));
            left -= size;
            Ptr<Packet> p = Create<Packet>(size);
            MessageIdTag tag;
            tag.SetMessageId(rec.id);
            p->AddPacketTag(tag);
            s->SendTo(p, 0, to);
        }
        return rec.id;
    }
    Flow* flow = GetFlow(src, dst);
    StreamMessage m;
    m.record = rec;
    m.start = flow->enqueued;
    m.end = flow->enqueued + m_frameHeader + bytes;
    flow->enqueued = m.end;
    flow->queue.push_back(m);
    FillTx(flow);
    return rec.id;
}

MessageTransport::Flow*
MessageTransport::GetFlow(uint32_t src, uint32_t dst)
{
    auto key = std::make_pair(src, dst);
    auto it = m_flows.find(key);
    if (it != m_flows.end())
    {
        return it->second.get();
    }
    auto flow = std::make_unique<Flow>();
    Flow* f = flow.get();
    f->src = src;
    f->dst = dst;
    uint32_t k = m_flows.size();
    NS_ABORT_MSG_IF(m_basePort + k > 65535, "MessageTransport: out of ports");
    f->port = static_cast<uint16_t>(m_basePort + k);
    m_flows[key] = std::move(flow);

    f->listener = Socket::CreateSocket(m_net->GetNode(dst), TcpSocketFactory::GetTypeId());
    f->listener->SetAttribute("SegmentSize", UintegerValue(m_segmentSize));
    f->listener->SetAttribute("RcvBufSize", UintegerValue(m_rcvBuf));
    f->listener->SetAttribute("SndBufSize", UintegerValue(m_sndBuf));
    f->listener->Bind(InetSocketAddress(Ipv4Address::GetAny(), f->port));
    f->listener->Listen();
    f->listener->SetAcceptCallback(MakeCallback(&MessageTransport::AcceptRequest, this),
                                   MakeCallback(&MessageTransport::Accepted, this).Bind(f));

    Connect(f);
    return f;
}

void
MessageTransport::ConnectionSucceeded(Flow* flow, Ptr<Socket> s)
{
    flow->connected = true;
    FillTx(flow);
}

void
MessageTransport::ConnectionFailed(Flow* flow, Ptr<Socket> s)
{
    // TCP gave up on the handshake (e.g. a UE out of coverage for a while). Nothing was sent
    // yet (data is written only once connected), so open a fresh connection after
    // ReconnectDelay: an application would retry too, and its messages must not hang forever.
    NS_LOG_WARN("MessageTransport: connection " << flow->src << "->" << flow->dst
                                                << " failed; retrying");
    Simulator::Schedule(m_reconnectDelay, &MessageTransport::Connect, this, flow);
}

void
MessageTransport::Connect(Flow* f)
{
    if (f->tx)
    {
        f->tx->SetConnectCallback(MakeNullCallback<void, Ptr<Socket>>(),
                                  MakeNullCallback<void, Ptr<Socket>>());
        f->tx->SetSendCallback(MakeNullCallback<void, Ptr<Socket>, uint32_t>());
    }
    f->tx = Socket::CreateSocket(m_net->GetNode(f->src), TcpSocketFactory::GetTypeId());
    f->tx->SetAttribute("SegmentSize", UintegerValue(m_segmentSize));
    f->tx->SetAttribute("SndBufSize", UintegerValue(m_sndBuf));
    f->tx->SetAttribute("RcvBufSize", UintegerValue(m_rcvBuf));
    f->tx->Bind();
    f->tx->SetConnectCallback(MakeCallback(&MessageTransport::ConnectionSucceeded, this).Bind(f),
                              MakeCallback(&MessageTransport::ConnectionFailed, this).Bind(f));
    f->tx->SetSendCallback(MakeCallback(&MessageTransport::TxSpace, this).Bind(f));
    f->tx->Connect(InetSocketAddress(m_net->GetAddress(f->dst), f->port));
}

void
MessageTransport::TxSpace(Flow* flow, Ptr<Socket> s, uint32_t available)
{
    FillTx(flow);
}

void
MessageTransport::FillTx(Flow* flow)
{
    if (!flow->connected)
    {
        return;
    }
    while (flow->written < flow->enqueued)
    {
        uint32_t avail = flow->tx->GetTxAvailable();
        if (avail == 0)
        {
            return;
        }
        uint64_t chunk = std::min<uint64_t>(flow->enqueued - flow->written, avail);
        chunk = std::min<uint64_t>(chunk, 1 << 16);
        int sent = flow->tx->Send(Create<Packet>(static_cast<uint32_t>(chunk)), 0);
        if (sent <= 0)
        {
            return;
        }
        flow->written += static_cast<uint64_t>(sent);
    }
}

bool
MessageTransport::AcceptRequest(Ptr<Socket> s, const Address& from)
{
    return true;
}

void
MessageTransport::Accepted(Flow* flow, Ptr<Socket> s, const Address& from)
{
    flow->rx = s;
    s->SetRecvCallback(MakeCallback(&MessageTransport::TcpReceive, this).Bind(flow));
}

void
MessageTransport::TcpReceive(Flow* flow, Ptr<Socket> s)
{
    Ptr<Packet> p;
    double now = Simulator::Now().GetSeconds();
    while ((p = s->Recv()))
    {
        if (p->GetSize() == 0)
        {
            break;
        }
        flow->received += p->GetSize();
        for (auto& m : flow->queue)
        {
            if (m.start >= flow->received)
            {
                break;
            }
            if (m.record.tFirstByte < 0)
            {
                m.record.tFirstByte = now;
            }
        }
        while (!flow->queue.empty() && flow->queue.front().end <= flow->received)
        {
            MessageRecord rec = flow->queue.front().record;
            flow->queue.pop_front();
            rec.tDelivered = now;
            --m_inFlight;
            m_deliveredTrace(rec);
        }
    }
}

Ptr<Socket>
MessageTransport::UdpSocketAt(uint32_t node)
{
    auto it = m_udpSockets.find(node);
    if (it != m_udpSockets.end())
    {
        return it->second;
    }
    Ptr<Socket> s = Socket::CreateSocket(m_net->GetNode(node), UdpSocketFactory::GetTypeId());
    s->Bind(InetSocketAddress(Ipv4Address::GetAny(), m_udpPort));
    s->SetRecvCallback(MakeCallback(&MessageTransport::UdpReceive, this));
    m_udpSockets[node] = s;
    return s;
}

void
MessageTransport::UdpReceive(Ptr<Socket> s)
{
    Ptr<Packet> p;
    double now = Simulator::Now().GetSeconds();
    while ((p = s->Recv()))
    {
        MessageIdTag tag;
        if (!p->PeekPacketTag(tag))
        {
            continue;
        }
        auto it = m_udpInTransit.find(tag.GetMessageId());
        if (it == m_udpInTransit.end())
        {
            continue;
        }
        Datagrams& d = it->second;
        if (d.record.tFirstByte < 0)
        {
            d.record.tFirstByte = now;
        }
        if (++d.received == d.expected)
        {
            MessageRecord rec = d.record;
            rec.tDelivered = now;
            m_udpInTransit.erase(it);
            --m_inFlight;
            m_deliveredTrace(rec);
        }
    }
}

} // namespace ns3
