/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "trace-cell.h"

#include "ns3/abort.h"
#include "ns3/log.h"
#include "ns3/queue.h"

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("TraceCell");
NS_OBJECT_ENSURE_REGISTERED(TraceCell);

TypeId
TraceCell::GetTypeId()
{
    static TypeId tid = TypeId("ns3::TraceCell")
                            .SetParent<Object>()
                            .SetGroupName("Edgelam")
                            .AddConstructor<TraceCell>();
    return tid;
}

TraceCell::TraceCell() = default;

TraceCell::~TraceCell() = default;

void
TraceCell::DoDispose()
{
    m_members.clear();
    Object::DoDispose();
}

void
TraceCell::AddLink(Ptr<TraceRateLink> link, Ptr<PointToPointNetDevice> tx)
{
    NS_ABORT_MSG_IF(!link || !tx, "TraceCell: a member needs its series and its device");
    NS_ABORT_MSG_IF(Has(link), "TraceCell: a hop joins a carrier once");
    size_t i = m_members.size();
    m_members.push_back({link, tx, link->GetShare(), false});
    // The device enqueues before it starts a packet (PointToPointNetDevice::Send), so the
    // share is set before the packet's serialisation time is.
    tx->GetQueue()->TraceConnectWithoutContext(
        "Enqueue", MakeCallback(&TraceCell::Enqueued, this).Bind(i));
    // At PhyTxEnd the device has not yet dequeued its next packet: an empty queue means idle.
    tx->TraceConnectWithoutContext("PhyTxEnd", MakeCallback(&TraceCell::TxEnded, this).Bind(i));
}

void
TraceCell::SetWeight(Ptr<TraceRateLink> link, double weight)
{
    NS_ABORT_MSG_IF(!(weight >= 0.0), "TraceCell: weights must be >= 0");
    for (Member& m : m_members)
    {
        if (m.link == link)
        {
            m.weight = weight;
            Reshare();
            return;
        }
    }
    NS_ABORT_MSG("TraceCell: SetWeight of a hop that is not a member");
}

bool
TraceCell::Has(Ptr<TraceRateLink> link) const
{
    for (const Member& m : m_members)
    {
        if (m.link == link)
        {
            return true;
        }
    }
    return false;
}

void
TraceCell::Enqueued(size_t i, Ptr<const Packet> /* packet */)
{
    SetBusy(i, true);
}

void
TraceCell::TxEnded(size_t i, Ptr<const Packet> /* packet */)
{
    SetBusy(i, !m_members[i].tx->GetQueue()->IsEmpty());
}

void
TraceCell::SetBusy(size_t i, bool busy)
{
    if (m_members[i].busy != busy)
    {
        m_members[i].busy = busy;
        Reshare();
    }
}

void
TraceCell::Reshare()
{
    double total = 0.0;
    for (const Member& m : m_members)
    {
        total += m.busy ? m.weight : 0.0;
    }
    for (Member& m : m_members)
    {
        // an idle member keeps the share it would have on joining the busy ones
        double sum = m.busy ? total : total + m.weight;
        double share = sum > 0.0 ? m.weight / sum : m.weight;
        if (share != m.link->GetShare())
        {
            m.link->SetShare(share);
        }
    }
}

} // namespace ns3
