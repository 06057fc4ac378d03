/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "edge-network.h"

#include "ns3/abort.h"
#include "ns3/internet-stack-helper.h"
#include "ns3/ipv4-address-helper.h"
#include "ns3/ipv4-global-routing-helper.h"
#include "ns3/ipv4-l3-protocol.h"
#include "ns3/net-device-queue-interface.h"
#include "ns3/log.h"
#include "ns3/nr-radio-helper.h"
#include "ns3/point-to-point-helper.h"
#include "ns3/queue-size.h"
#include "ns3/queue.h"
#include "ns3/string.h"
#include "ns3/trace-cell.h"
#include "ns3/trace-rate-link.h"
#include "ns3/traffic-control-helper.h"
#include "ns3/uinteger.h"

#include <sstream>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("EdgeNetwork");
NS_OBJECT_ENSURE_REGISTERED(EdgeNetwork);

TypeId
EdgeNetwork::GetTypeId()
{
    static TypeId tid = TypeId("ns3::EdgeNetwork")
                            .SetParent<Object>()
                            .SetGroupName("Edgelam")
                            .AddConstructor<EdgeNetwork>();
    return tid;
}

EdgeNetwork::EdgeNetwork()
    : m_finalized(false)
{
}

EdgeNetwork::~EdgeNetwork() = default;

void
EdgeNetwork::DoDispose()
{
    m_radio = nullptr;
    m_traces.clear();
    m_cells.clear();
    m_txDevices.clear();
    m_nodes = NodeContainer();
    Object::DoDispose();
}

uint32_t
EdgeNetwork::AddNode(const std::string& name)
{
    NS_ABORT_MSG_IF(m_finalized, "EdgeNetwork: AddNode after Finalize");
    m_nodes.Create(1);
    m_names.push_back(name);
    return m_nodes.GetN() - 1;
}

uint32_t
EdgeNetwork::AddLink(uint32_t a,
                     uint32_t b,
                     DataRate rate,
                     Time delay,
                     uint32_t queuePackets,
                     uint16_t mtuBytes)
{
    NS_ABORT_MSG_IF(m_finalized, "EdgeNetwork: AddLink after Finalize");
    NS_ABORT_MSG_IF(a >= m_nodes.GetN() || b >= m_nodes.GetN() || a == b,
                    "EdgeNetwork: bad link endpoints");
    PointToPointHelper p2p;
    p2p.SetDeviceAttribute("DataRate", DataRateValue(rate));
    p2p.SetChannelAttribute("Delay", TimeValue(delay));
    p2p.SetDeviceAttribute("Mtu", UintegerValue(mtuBytes));
    std::ostringstream q;
    q << queuePackets << "p";
    p2p.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", QueueSizeValue(QueueSize(q.str())));
    NetDeviceContainer devs = p2p.Install(m_nodes.Get(a), m_nodes.Get(b));
    uint32_t undirected = m_txDevices.size() / 2;
    for (uint32_t dir = 0; dir < 2; ++dir)
    {
        uint32_t l = 2 * undirected + dir;
        Ptr<PointToPointNetDevice> tx = DynamicCast<PointToPointNetDevice>(devs.Get(dir));
        Ptr<PointToPointNetDevice> rx = DynamicCast<PointToPointNetDevice>(devs.Get(1 - dir));
        m_txDevices.push_back(tx);
        m_traces.push_back(nullptr);
        m_cells.push_back(nullptr);
        m_src.push_back(dir == 0 ? a : b);
        m_dst.push_back(dir == 0 ? b : a);
        m_rateBps.push_back(static_cast<double>(rate.GetBitRate()));
        m_queueBytes.push_back(0.0);
        m_deliveredBytes.push_back(0.0);
        m_droppedPackets.push_back(0.0);
        rx->TraceConnectWithoutContext("PhyRxEnd", MakeCallback(&EdgeNetwork::RxOnLink, this).Bind(l));
        tx->TraceConnectWithoutContext("MacTxDrop",
                                       MakeCallback(&EdgeNetwork::DropOnLink, this).Bind(l));
    }
    return undirected;
}

void
EdgeNetwork::RxOnLink(uint32_t l, Ptr<const Packet> p)
{
    m_deliveredBytes[l] += p->GetSize();
}

void
EdgeNetwork::DropOnLink(uint32_t l, Ptr<const Packet> p)
{
    m_droppedPackets[l] += 1.0;
}

void
EdgeNetwork::TxOnNode(uint32_t node, Ptr<const Packet> p, Ptr<Ipv4> ipv4, uint32_t iface)
{
    auto it = m_ifaceLink.find({node, iface});
    if (it == m_ifaceLink.end())
    {
        return; // not a backhaul link (loopback, the radio)
    }
    Ptr<NetDeviceQueueInterface> ndqi = m_txDevices[it->second]->GetObject<NetDeviceQueueInterface>();
    if (ndqi && ndqi->GetTxQueue(0)->IsStopped())
    {
        m_droppedPackets[it->second] += 1.0;
    }
}

void
EdgeNetwork::ConnectDropTraces()
{
    for (uint32_t l = 0; l < m_txDevices.size(); ++l)
    {
        Ptr<Ipv4> ipv4 = m_nodes.Get(m_src[l])->GetObject<Ipv4>();
        int32_t iface = ipv4->GetInterfaceForDevice(m_txDevices[l]);
        NS_ABORT_MSG_IF(iface < 0, "EdgeNetwork: link " << l << " has no IPv4 interface");
        m_ifaceLink[{m_src[l], static_cast<uint32_t>(iface)}] = l;
    }
    for (uint32_t n = 0; n < m_nodes.GetN(); ++n)
    {
        m_nodes.Get(n)->GetObject<Ipv4L3Protocol>()->TraceConnectWithoutContext(
            "Tx",
            MakeCallback(&EdgeNetwork::TxOnNode, this).Bind(n));
    }
}

void
EdgeNetwork::Finalize()
{
    NS_ABORT_MSG_IF(m_finalized, "EdgeNetwork: Finalize twice");
    InternetStackHelper stack;
    stack.Install(m_nodes);
    m_nodeAddress.assign(m_nodes.GetN(), Ipv4Address());
    std::vector<bool> hasAddress(m_nodes.GetN(), false);
    Ipv4AddressHelper address;
    address.SetBase("10.0.0.0", "255.255.255.252");
    TrafficControlHelper tch;
    for (uint32_t i = 0; i < m_txDevices.size(); i += 2)
    {
        NetDeviceContainer devs;
        devs.Add(m_txDevices[i]);
        devs.Add(m_txDevices[i + 1]);
        Ipv4InterfaceContainer ifs = address.Assign(devs);
        // Ipv4AddressHelper installs an FqCoDel queue disc by default; the model's queue is the
        // device's drop-tail queue of the configured size, so remove it.
        tch.Uninstall(devs);
        for (uint32_t k = 0; k < 2; ++k)
        {
            uint32_t node = m_src[i + k];
            if (!hasAddress[node])
            {
                m_nodeAddress[node] = ifs.GetAddress(k);
                hasAddress[node] = true;
            }
        }
        address.NewNetwork();
    }
    if (m_radio)
    {
        NodeContainer gnbs;
        NodeContainer ues;
        for (uint32_t g : m_radioGnbs)
        {
            gnbs.Add(m_nodes.Get(g));
        }
        for (uint32_t u : m_radioUes)
        {
            ues.Add(m_nodes.Get(u));
        }
        m_radio->Install(gnbs, ues);
        m_radio->InstallIpv4(Ipv4Address("10.200.0.0"));
        for (uint32_t k = 0; k < m_radioUes.size(); ++k)
        {
            m_nodeAddress[m_radioUes[k]] = m_radio->GetUeAddress(k);
            hasAddress[m_radioUes[k]] = true;
        }
        for (uint32_t k = 0; k < m_radioGnbs.size(); ++k)
        {
            if (!hasAddress[m_radioGnbs[k]])
            {
                m_nodeAddress[m_radioGnbs[k]] = m_radio->GetGnbAddress(k);
                hasAddress[m_radioGnbs[k]] = true;
            }
        }
    }
    ConnectDropTraces();
    Ipv4GlobalRoutingHelper::PopulateRoutingTables();
    if (m_radio)
    {
        m_radio->Start();
    }
    for (Ptr<TraceRateLink>& trace : m_traces)
    {
        if (trace)
        {
            trace->Start();
        }
    }
    m_finalized = true;
}

void
EdgeNetwork::SetRadio(Ptr<NrRadioHelper> radio, const std::vector<uint32_t>& gnbs,
                      const std::vector<uint32_t>& ues)
{
    NS_ABORT_MSG_IF(m_finalized, "EdgeNetwork: SetRadio after Finalize");
    m_radio = radio;
    m_radioGnbs = gnbs;
    m_radioUes = ues;
}

Ptr<NrRadioHelper>
EdgeNetwork::GetRadio() const
{
    return m_radio;
}

uint32_t
EdgeNetwork::GetNNodes() const
{
    return m_nodes.GetN();
}

uint32_t
EdgeNetwork::GetNDirectedLinks() const
{
    return m_txDevices.size();
}

Ptr<Node>
EdgeNetwork::GetNode(uint32_t i) const
{
    return m_nodes.Get(i);
}

Ipv4Address
EdgeNetwork::GetAddress(uint32_t i) const
{
    return m_nodeAddress.at(i);
}

Ptr<PointToPointNetDevice>
EdgeNetwork::GetTxDevice(uint32_t l) const
{
    return m_txDevices.at(l);
}

void
EdgeNetwork::SetLinkRate(uint32_t l, DataRate rate)
{
    m_txDevices.at(l)->SetDataRate(rate);
    m_rateBps[l] = static_cast<double>(rate.GetBitRate());
}

void
EdgeNetwork::SetLinkTrace(uint32_t l, Ptr<TraceRateLink> trace)
{
    NS_ABORT_MSG_IF(m_finalized, "EdgeNetwork: SetLinkTrace after Finalize");
    NS_ABORT_MSG_IF(l >= m_txDevices.size(), "EdgeNetwork: unknown directed link");
    Ptr<PointToPointNetDevice> rx = m_txDevices[l ^ 1U];
    trace->Install(m_txDevices[l], rx);
    trace->TraceConnectWithoutContext("Rate",
                                      MakeCallback(&EdgeNetwork::RateOnLink, this).Bind(l));
    m_traces[l] = trace;
}

void
EdgeNetwork::SetLinkShare(uint32_t l, double share)
{
    NS_ABORT_MSG_IF(l >= m_txDevices.size() || !m_traces[l],
                    "EdgeNetwork: SetLinkShare on a link without a trace");
    if (m_cells[l])
    {
        m_cells[l]->SetWeight(m_traces[l], share);
    }
    else
    {
        m_traces[l]->SetShare(share);
    }
}

void
EdgeNetwork::ShareLinkTraces(const std::vector<uint32_t>& links)
{
    auto cell = CreateObject<TraceCell>();
    for (uint32_t l : links)
    {
        NS_ABORT_MSG_IF(l >= m_txDevices.size() || !m_traces[l] || m_cells[l],
                        "EdgeNetwork: ShareLinkTraces of a link without a trace or already "
                        "in a carrier");
        cell->AddLink(m_traces[l], m_txDevices[l]);
        m_cells[l] = cell;
    }
}

Ptr<TraceRateLink>
EdgeNetwork::GetLinkTrace(uint32_t l) const
{
    return m_traces.at(l);
}

void
EdgeNetwork::RateOnLink(uint32_t l, double rateBps)
{
    m_rateBps[l] = rateBps;
}

void
EdgeNetwork::RefreshLinkStates()
{
    for (uint32_t l = 0; l < m_txDevices.size(); ++l)
    {
        m_queueBytes[l] = m_txDevices[l]->GetQueue()->GetNBytes();
    }
}

const std::vector<uint32_t>&
EdgeNetwork::GetLinkSrc() const
{
    return m_src;
}

const std::vector<uint32_t>&
EdgeNetwork::GetLinkDst() const
{
    return m_dst;
}

std::vector<double>&
EdgeNetwork::GetRateBps()
{
    return m_rateBps;
}

std::vector<double>&
EdgeNetwork::GetQueueBytes()
{
    return m_queueBytes;
}

std::vector<double>&
EdgeNetwork::GetDeliveredBytes()
{
    return m_deliveredBytes;
}

std::vector<double>&
EdgeNetwork::GetDroppedPackets()
{
    return m_droppedPackets;
}

} // namespace ns3
