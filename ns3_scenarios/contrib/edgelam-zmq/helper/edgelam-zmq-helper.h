// SPDX-License-Identifier: GPL-2.0-only
#ifndef EDGELAM_ZMQ_HELPER_H
#define EDGELAM_ZMQ_HELPER_H

#include "ns3/command-line.h"
#include "ns3/edgelam-zmq-bridge.h"
#include "ns3/object-factory.h"

#include <string>
#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam-zmq
 * Creates the EdgelamZmqBridge of a scenario, with the endpoint and timeout edgelam passes on
 * the command line (--edgelam-endpoint=..., --edgelam-timeout-s=...).
 */
class EdgelamZmqHelper
{
  public:
    EdgelamZmqHelper();

    /// Set an attribute of the bridges this helper creates.
    void SetBridgeAttribute(const std::string& name, const AttributeValue& value);

    /// Add --edgelam-endpoint and --edgelam-timeout-s to a scenario's command line.
    void AddCommandLineValues(CommandLine& cmd);

    /// A bridge for the nodes `names` (index order), with the command-line values applied.
    Ptr<EdgelamZmqBridge> Create(const std::vector<std::string>& names) const;

  private:
    ObjectFactory m_factory;
    std::string m_endpoint;
    double m_timeoutS{-1};
};

} // namespace ns3

#endif
