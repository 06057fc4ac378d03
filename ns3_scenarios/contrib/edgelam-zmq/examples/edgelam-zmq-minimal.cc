// SPDX-License-Identifier: GPL-2.0-only
// The smallest scenario coupled to edgelam's Python frameworks over ZeroMQ: two nodes, "a" and
// "b", joined by a full-duplex link modelled as a FIFO server (serialisation at RateBps, then
// DelayS of propagation). Python sends messages with the "send" call; each delivery goes back
// with NotifyDelivered. A real scenario puts its own network (5G-LENA, Wi-Fi, ...) in
// Send(). Run by edgelam (bridge.transport zmq, bridge.command [this program,
// "--edgelam-endpoint={endpoint}"]); doc/zmq.md.
#include "ns3/command-line.h"
#include "ns3/core-module.h"
#include "ns3/edgelam-zmq-helper.h"

#include <stdexcept>

using namespace ns3;

namespace
{
constexpr double kRateBps = 1e6;
constexpr double kDelayS = 0.01;

class TwoNodeLink
{
  public:
    explicit TwoNodeLink(Ptr<EdgelamZmqBridge> bridge)
        : m_bridge(bridge)
    {
        m_bridge->SetHandler("send", MakeCallback(&TwoNodeLink::Send, this));
        m_bridge->SetLinkStateCallback(MakeCallback(&TwoNodeLink::States, this));
    }

  private:
    // args: src, dst, bytes, udp; result: the message id
    std::vector<double> Send(const EdgelamZmqBridge::CallArgs& args)
    {
        auto src = static_cast<uint32_t>(args.nums.at(0));
        auto dst = static_cast<uint32_t>(args.nums.at(1));
        auto bytes = static_cast<uint64_t>(args.nums.at(2));
        if (src > 1 || dst > 1 || src == dst || bytes == 0)
        {
            throw std::invalid_argument("nodes 0 and 1, one each way; at least 1 byte");
        }
        Time start = Max(Simulator::Now(), m_busyUntil[src]);
        m_busyUntil[src] = start + Seconds(bytes * 8 / kRateBps);
        Time delivered = m_busyUntil[src] + Seconds(kDelayS);
        uint64_t id = m_nextId++;
        bool udp = args.nums.at(3) != 0;
        Time sent = Simulator::Now();
        Time firstByte = start + Seconds(kDelayS);
        Simulator::Schedule(delivered - sent, [=]() {
            m_bridge->NotifyDelivered(id, src, dst, bytes, udp, sent.GetSeconds(),
                                      firstByte.GetSeconds(), delivered.GetSeconds());
        });
        return {static_cast<double>(id)};
    }

    void States(EdgelamZmqBridge::LinkStates& s)
    {
        s.src = {0, 1};
        s.dst = {1, 0};
        s.rateBps = {kRateBps, kRateBps};
        for (uint32_t d = 0; d < 2; ++d)
        {
            Time backlog = Max(Seconds(0), m_busyUntil[d] - Simulator::Now());
            s.queueBytes.push_back(backlog.GetSeconds() * kRateBps / 8);
        }
        s.deliveredBytes = {0, 0}; // not counted by this toy link
        s.droppedPackets = {0, 0};
    }

    Ptr<EdgelamZmqBridge> m_bridge;
    Time m_busyUntil[2];
    uint64_t m_nextId{1};
};
} // namespace

int
main(int argc, char* argv[])
{
    EdgelamZmqHelper helper;
    CommandLine cmd(__FILE__);
    helper.AddCommandLineValues(cmd);
    cmd.Parse(argc, argv);

    Ptr<EdgelamZmqBridge> bridge = helper.Create({"a", "b"});
    TwoNodeLink link(bridge);
    bridge->Serve(); // until Python closes the session
    bridge->Dispose();
    return 0;
}
