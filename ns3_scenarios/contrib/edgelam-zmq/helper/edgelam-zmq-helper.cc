// SPDX-License-Identifier: GPL-2.0-only
#include "edgelam-zmq-helper.h"

#include "ns3/nstime.h"
#include "ns3/string.h"

namespace ns3
{

EdgelamZmqHelper::EdgelamZmqHelper()
{
    m_factory.SetTypeId(EdgelamZmqBridge::GetTypeId());
}

void
EdgelamZmqHelper::SetBridgeAttribute(const std::string& name, const AttributeValue& value)
{
    m_factory.Set(name, value);
}

void
EdgelamZmqHelper::AddCommandLineValues(CommandLine& cmd)
{
    cmd.AddValue("edgelam-endpoint", "ZeroMQ endpoint of the edgelam Python side", m_endpoint);
    cmd.AddValue("edgelam-timeout-s",
                 "longest wait for the Python side, s (0: no limit)",
                 m_timeoutS);
}

Ptr<EdgelamZmqBridge>
EdgelamZmqHelper::Create(const std::vector<std::string>& names) const
{
    auto bridge = m_factory.Create<EdgelamZmqBridge>();
    if (!m_endpoint.empty())
    {
        bridge->SetAttribute("Endpoint", StringValue(m_endpoint));
    }
    if (m_timeoutS >= 0)
    {
        bridge->SetAttribute("Timeout", TimeValue(Seconds(m_timeoutS)));
    }
    bridge->SetNodes(names);
    return bridge;
}

} // namespace ns3
