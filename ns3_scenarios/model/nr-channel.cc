/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-channel.h"

#include "ns3/simulator.h"

namespace ns3
{

NS_OBJECT_ENSURE_REGISTERED(NrChannel);

TypeId
NrChannel::GetTypeId()
{
    static TypeId tid = TypeId("ns3::NrChannel")
                            .SetParent<Object>()
                            .SetGroupName("Edgelam")
                            .AddTraceSource("Updated",
                                            "Channels were recomputed.",
                                            MakeTraceSourceAccessor(&NrChannel::m_updatedTrace),
                                            "ns3::NrChannel::UpdatedTracedCallback");
    return tid;
}

NrChannel::~NrChannel() = default;

void
NrChannel::NotifyUpdated()
{
    m_updatedTrace(Simulator::Now());
}

} // namespace ns3
