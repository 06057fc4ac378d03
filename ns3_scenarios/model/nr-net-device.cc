/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-net-device.h"

#include "ns3/ipv4-header.h"
#include "ns3/log.h"
#include "ns3/node.h"
#include "ns3/uinteger.h"

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("NrNetDevice");
NS_OBJECT_ENSURE_REGISTERED(NrCellChannel);
NS_OBJECT_ENSURE_REGISTERED(NrNetDevice);

TypeId
NrCellChannel::GetTypeId()
{
    static TypeId tid = TypeId("ns3::NrCellChannel")
                            .SetParent<Channel>()
                            .SetGroupName("Edgelam")
                            .AddConstructor<NrCellChannel>();
    return tid;
}

void
NrCellChannel::Add(Ptr<NetDevice> d)
{
    m_devices.push_back(d);
}

std::size_t
NrCellChannel::GetNDevices() const
{
    return m_devices.size();
}

Ptr<NetDevice>
NrCellChannel::GetDevice(std::size_t i) const
{
    return m_devices.at(i);
}

void
NrCellChannel::DoDispose()
{
    m_devices.clear();
    Channel::DoDispose();
}

TypeId
NrNetDevice::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::NrNetDevice")
            .SetParent<NetDevice>()
            .SetGroupName("Edgelam")
            .AddConstructor<NrNetDevice>()
            .AddAttribute("Mtu",
                          "MTU, bytes: the largest IP packet (the SDAP/PDCP SDU of TS 38.323 "
                          "§4.3.1 may be up to 9000 bytes; 1500 matches Ethernet backhaul).",
                          UintegerValue(1500),
                          MakeUintegerAccessor(&NrNetDevice::m_mtu),
                          MakeUintegerChecker<uint16_t>(68, 9000))
            .AddAttribute("QueueLimitBytes",
                          "Limit of each transmit queue (per UE and direction), bytes of "
                          "untransmitted packets; a packet that would exceed it is dropped. "
                          "0: no limit.",
                          UintegerValue(2000000),
                          MakeUintegerAccessor(&NrNetDevice::m_queueLimit),
                          MakeUintegerChecker<uint64_t>())
            .AddTraceSource("MacTx",
                            "A packet was queued for transmission over the radio.",
                            MakeTraceSourceAccessor(&NrNetDevice::m_macTxTrace),
                            "ns3::Packet::TracedCallback")
            .AddTraceSource("MacTxDrop",
                            "A packet was dropped: queue full or unknown destination.",
                            MakeTraceSourceAccessor(&NrNetDevice::m_macTxDropTrace),
                            "ns3::Packet::TracedCallback")
            .AddTraceSource("MacRx",
                            "A packet was reassembled in order and passed up.",
                            MakeTraceSourceAccessor(&NrNetDevice::m_macRxTrace),
                            "ns3::Packet::TracedCallback");
    return tid;
}

NrNetDevice::NrNetDevice()
    : m_address(Mac48Address::Allocate())
{
}

NrNetDevice::~NrNetDevice() = default;

void
NrNetDevice::DoDispose()
{
    m_node = nullptr;
    m_channel = nullptr;
    m_ues.clear();
    m_dlFlows.clear();
    m_gnb = nullptr;
    m_ulFlow.Clear();
    m_rxCallback = MakeNullCallback<bool, Ptr<NetDevice>, Ptr<const Packet>, uint16_t,
                                    const Address&>();
    m_promiscCallback = PromiscReceiveCallback();
    NetDevice::DoDispose();
}

void
NrNetDevice::SetRole(Role role)
{
    m_role = role;
}

NrNetDevice::Role
NrNetDevice::GetRole() const
{
    return m_role;
}

uint32_t
NrNetDevice::AttachUe(Ptr<NrNetDevice> ue)
{
    NS_ABORT_MSG_IF(m_role != GNB, "NrNetDevice::AttachUe on a UE device");
    if (!m_channel)
    {
        m_channel = CreateObject<NrCellChannel>();
        m_channel->Add(this);
    }
    const uint32_t i = m_ues.size();
    m_ues.push_back(ue);
    m_dlFlows.emplace_back();
    ue->m_gnb = this;
    ue->m_indexInCell = i;
    ue->m_channel = m_channel;
    m_channel->Add(ue);
    return i;
}

uint32_t
NrNetDevice::GetNUes() const
{
    return m_ues.size();
}

Ptr<NrNetDevice>
NrNetDevice::GetUeDevice(uint32_t i) const
{
    return m_ues.at(i);
}

void
NrNetDevice::SetUeIpv4(uint32_t i, Ipv4Address addr)
{
    m_ipToUe[addr] = i;
}

NrRlcFlow&
NrNetDevice::GetDlFlow(uint32_t i)
{
    return m_dlFlows[i];
}

Ptr<NrNetDevice>
NrNetDevice::GetGnbDevice() const
{
    return m_gnb;
}

uint32_t
NrNetDevice::GetIndexInCell() const
{
    return m_indexInCell;
}

NrRlcFlow&
NrNetDevice::GetUlFlow()
{
    return m_ulFlow;
}

uint64_t
NrNetDevice::GetQueueLimitBytes() const
{
    return m_queueLimit;
}

void
NrNetDevice::Receive(Ptr<Packet> p, uint16_t protocol, const Address& from)
{
    m_macRxTrace(p);
    if (!m_promiscCallback.IsNull())
    {
        m_promiscCallback(this, p, protocol, from, m_address, NetDevice::PACKET_HOST);
    }
    if (!m_rxCallback.IsNull())
    {
        m_rxCallback(this, p, protocol, from);
    }
}

Ptr<NrCellChannel>
NrNetDevice::GetCellChannel() const
{
    return m_channel;
}

void
NrNetDevice::SetCellChannel(Ptr<NrCellChannel> ch)
{
    m_channel = ch;
}

void
NrNetDevice::SetIfIndex(const uint32_t index)
{
    m_ifIndex = index;
}

uint32_t
NrNetDevice::GetIfIndex() const
{
    return m_ifIndex;
}

Ptr<Channel>
NrNetDevice::GetChannel() const
{
    return m_channel;
}

void
NrNetDevice::SetAddress(Address address)
{
    m_address = Mac48Address::ConvertFrom(address);
}

Address
NrNetDevice::GetAddress() const
{
    return m_address;
}

bool
NrNetDevice::SetMtu(const uint16_t mtu)
{
    m_mtu = mtu;
    return true;
}

uint16_t
NrNetDevice::GetMtu() const
{
    return m_mtu;
}

bool
NrNetDevice::IsLinkUp() const
{
    return true;
}

void
NrNetDevice::AddLinkChangeCallback(Callback<void> /*callback*/)
{
}

bool
NrNetDevice::IsBroadcast() const
{
    return true;
}

Address
NrNetDevice::GetBroadcast() const
{
    return Mac48Address::GetBroadcast();
}

bool
NrNetDevice::IsMulticast() const
{
    return false;
}

Address
NrNetDevice::GetMulticast(Ipv4Address /*multicastGroup*/) const
{
    return Mac48Address::GetMulticast(Ipv4Address("224.0.0.0"));
}

Address
NrNetDevice::GetMulticast(Ipv6Address addr) const
{
    return Mac48Address::GetMulticast(addr);
}

bool
NrNetDevice::IsBridge() const
{
    return false;
}

bool
NrNetDevice::IsPointToPoint() const
{
    return false;
}

bool
NrNetDevice::Send(Ptr<Packet> packet, const Address& dest, uint16_t protocolNumber)
{
    NrRlcFlow* flow = nullptr;
    if (m_role == UE)
    {
        flow = m_gnb ? &m_ulFlow : nullptr;
    }
    else
    {
        const Mac48Address to = Mac48Address::ConvertFrom(dest);
        for (uint32_t i = 0; i < m_ues.size() && !flow; ++i)
        {
            if (m_ues[i]->m_address == to)
            {
                flow = &m_dlFlows[i];
            }
        }
        if (!flow && protocolNumber == 0x0800)
        {
            Ipv4Header h;
            packet->PeekHeader(h);
            auto it = m_ipToUe.find(h.GetDestination());
            if (it != m_ipToUe.end())
            {
                flow = &m_dlFlows[it->second];
            }
        }
    }
    if (!flow || !flow->Enqueue(packet, protocolNumber, m_queueLimit))
    {
        m_macTxDropTrace(packet);
        return false;
    }
    m_macTxTrace(packet);
    return true;
}

bool
NrNetDevice::SendFrom(Ptr<Packet> packet,
                      const Address& /*source*/,
                      const Address& dest,
                      uint16_t protocolNumber)
{
    return Send(packet, dest, protocolNumber);
}

Ptr<Node>
NrNetDevice::GetNode() const
{
    return m_node;
}

void
NrNetDevice::SetNode(Ptr<Node> node)
{
    m_node = node;
}

bool
NrNetDevice::NeedsArp() const
{
    return false;
}

void
NrNetDevice::SetReceiveCallback(NetDevice::ReceiveCallback cb)
{
    m_rxCallback = cb;
}

void
NrNetDevice::SetPromiscReceiveCallback(PromiscReceiveCallback cb)
{
    m_promiscCallback = cb;
}

bool
NrNetDevice::SupportsSendFrom() const
{
    return false;
}

} // namespace ns3
