// SPDX-License-Identifier: GPL-2.0-only
// edgelam-zmq-server: this package's network model (EdgeNetwork, MessageTransport, cross
// traffic: what bridge/cosim.cc drives in-process) served to Python over ZeroMQ with the
// edgelam-zmq module (bridge.transport zmq; bridge/zmq-wire-format.md lists the calls).
// Started by edgelam_ns3.zmq_bridge with --edgelam-endpoint=...; the same calls in the same
// order give the same simulation as the in-process bridge.
#include "ns3/cross-traffic-helper.h"
#include "ns3/data-rate.h"
#include "ns3/edge-network.h"
#include "ns3/edgelam-zmq-helper.h"
#include "ns3/message-transport.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/simulator.h"
#include "ns3/trace-rate-link.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <stdexcept>

using namespace ns3;
using Args = EdgelamZmqBridge::CallArgs;
using Result = std::vector<double>;

namespace
{

void
Require(bool ok, const char* what)
{
    if (!ok)
    {
        throw std::invalid_argument(what);
    }
}

/// The handlers: one per CoSim method that Simulation uses (same checks, same order of effects).
class EdgeNetworkServer
{
  public:
    explicit EdgeNetworkServer(Ptr<EdgelamZmqBridge> bridge)
        : m_bridge(bridge)
    {
        Add("seed", &EdgeNetworkServer::Seed);
        Add("add_node", &EdgeNetworkServer::AddNode);
        Add("add_link", &EdgeNetworkServer::AddLink);
        Add("set_link_trace", &EdgeNetworkServer::SetLinkTrace);
        Add("finalize", &EdgeNetworkServer::Finalize);
        Add("add_onoff", &EdgeNetworkServer::AddOnOff);
        Add("add_replay", &EdgeNetworkServer::AddReplay);
        Add("sink_rx_bytes", &EdgeNetworkServer::SinkRxBytes);
        Add("send", &EdgeNetworkServer::Send);
        Add("set_link_rate", &EdgeNetworkServer::SetLinkRate);
        Add("set_link_share", &EdgeNetworkServer::SetLinkShare);
        Add("share_link_traces", &EdgeNetworkServer::ShareLinkTraces);
        m_bridge->SetLinkStateCallback(MakeCallback(&EdgeNetworkServer::States, this));
    }

  private:
    void Add(const std::string& name, Result (EdgeNetworkServer::*fn)(const Args&))
    {
        m_bridge->SetHandler(name, MakeCallback(fn, this));
    }

    Result Seed(const Args& a) // seed, run: first, before any object draws
    {
        Require(!m_net && a.nums.at(0) >= 1, "seed must be >= 1, before anything else");
        RngSeedManager::SetSeed(static_cast<uint32_t>(a.nums.at(0)));
        RngSeedManager::SetRun(static_cast<uint64_t>(a.nums.at(1)));
        m_net = CreateObject<EdgeNetwork>();
        m_transport = CreateObject<MessageTransport>();
        return {};
    }

    EdgeNetwork& Net(bool finalized)
    {
        Require(m_net != nullptr, "call seed first");
        Require(m_finalized == finalized, finalized ? "before finalize" : "after finalize");
        return *m_net;
    }

    Result AddNode(const Args& a)
    {
        return {static_cast<double>(Net(false).AddNode(a.strs.at(0)))};
    }

    Result AddLink(const Args& a) // a, b, rate_bps, delay_s, queue_packets[, mtu_bytes]
    {
        auto& net = Net(false);
        auto n = net.GetNNodes();
        Require(a.nums.at(0) < n && a.nums.at(1) < n && a.nums[0] != a.nums[1],
                "endpoints must be two different existing nodes");
        Require(a.nums.at(2) > 0 && a.nums.at(3) >= 0 && a.nums.at(4) >= 1,
                "rate must be > 0, delay >= 0, queue >= 1 packet");
        double mtu = a.nums.size() > 5 ? a.nums[5] : 1500.0;
        Require(mtu >= 576 && mtu <= 65535, "mtu_bytes must be in [576, 65535]");
        return {static_cast<double>(
            net.AddLink(a.nums[0], a.nums[1], DataRate(static_cast<uint64_t>(a.nums[2])),
                        Seconds(a.nums[3]), static_cast<uint32_t>(a.nums[4]),
                        static_cast<uint16_t>(mtu)))};
    }

    // l, base_delay_s, loop_period_s, min_rate_bps, stream, n, n_delays, n_losses, then the
    // series: times (n), rates (n), delays (n_delays), losses (n_losses)
    Result SetLinkTrace(const Args& a)
    {
        auto& net = Net(false);
        auto at = [&](size_t from, size_t n) {
            Require(from + n <= a.nums.size(), "series shorter than its length");
            return std::vector<double>(a.nums.begin() + from, a.nums.begin() + from + n);
        };
        auto n = static_cast<size_t>(a.nums.at(5));
        auto nd = static_cast<size_t>(a.nums.at(6));
        auto nl = static_cast<size_t>(a.nums.at(7));
        auto times = at(8, n);
        auto rates = at(8 + n, n);
        auto delays = at(8 + 2 * n, nd);
        auto losses = at(8 + 2 * n + nd, nl);
        size_t rest = 8 + 2 * n + nd + nl;
        double access = a.nums.size() > rest ? a.nums[rest] : 0.0;
        Require(access >= 0, "access delay < 0");
        auto l = static_cast<uint32_t>(a.nums[0]);
        Require(l < net.GetNDirectedLinks() && n > 0 && times[0] == 0.0 && a.nums[3] > 0,
                "unknown link, series not from 0 or min rate <= 0");
        auto trace = CreateObject<TraceRateLink>();
        trace->SetAttribute("BaseDelay", TimeValue(Seconds(a.nums[1])));
        trace->SetAttribute("LoopPeriod", TimeValue(Seconds(a.nums[2])));
        trace->SetAttribute("AccessDelay", TimeValue(Seconds(access)));
        trace->SetAttribute("MinRate", DataRateValue(DataRate(static_cast<uint64_t>(a.nums[3]))));
        trace->SetTrace(times, rates, delays, losses);
        net.SetLinkTrace(l, trace);
        trace->AssignStreams(static_cast<int64_t>(a.nums[4]));
        return {};
    }

    Result Finalize(const Args& a) // tcp segment, tcp buffer, frame header bytes
    {
        auto& net = Net(false);
        net.Finalize();
        m_transport->SetAttribute("TcpSegmentSize", UintegerValue(a.nums.at(0)));
        m_transport->SetAttribute("TcpSndBufSize", UintegerValue(a.nums.at(1)));
        m_transport->SetAttribute("TcpRcvBufSize", UintegerValue(a.nums.at(1)));
        m_transport->SetAttribute("FrameHeaderBytes", UintegerValue(a.nums.at(2)));
        m_transport->SetNetwork(m_net);
        m_transport->TraceConnectWithoutContext(
            "Delivered",
            MakeCallback(&EdgeNetworkServer::Delivered, this));
        m_finalized = true;
        return {};
    }

    // src, dst, rate_bps, mean_on_s, mean_off_s, packet_bytes, start_s, stream, port
    Result AddOnOff(const Args& a)
    {
        Net(true);
        return {static_cast<double>(m_cross.InstallOnOff(
            m_net, a.nums.at(0), a.nums.at(1), DataRate(static_cast<uint64_t>(a.nums.at(2))),
            a.nums.at(3), a.nums.at(4), a.nums.at(5), Seconds(a.nums.at(6)), a.nums.at(7),
            a.nums.at(8)))};
    }

    Result AddReplay(const Args& a) // src, dst, n, times (n), bytes (n)
    {
        Net(true);
        auto n = static_cast<size_t>(a.nums.at(2));
        Require(a.nums.size() == 3 + 2 * n, "times and bytes differ in length");
        std::vector<double> times(a.nums.begin() + 3, a.nums.begin() + 3 + n);
        std::vector<double> bytes(a.nums.begin() + 3 + n, a.nums.end());
        m_cross.InstallReplay(m_net, a.nums[0], a.nums[1], times, bytes);
        return {};
    }

    Result SinkRxBytes(const Args& a) // dst, port
    {
        return {static_cast<double>(m_cross.GetSinkRxBytes(a.nums.at(0), a.nums.at(1)))};
    }

    Result Send(const Args& a) // src, dst, bytes, udp
    {
        auto& net = Net(true);
        Require(a.nums.at(0) < net.GetNNodes() && a.nums.at(1) < net.GetNNodes() &&
                    a.nums[0] != a.nums[1] && a.nums.at(2) >= 1,
                "src and dst must be two different existing nodes; at least 1 byte");
        return {static_cast<double>(m_transport->Send(
            a.nums[0], a.nums[1], static_cast<uint64_t>(a.nums[2]), a.nums.at(3) != 0))};
    }

    Result SetLinkRate(const Args& a) // directed link, rate_bps
    {
        Require(a.nums.at(0) < Net(true).GetNDirectedLinks() && a.nums.at(1) > 0,
                "unknown directed link or rate <= 0");
        m_net->SetLinkRate(a.nums[0], DataRate(static_cast<uint64_t>(a.nums[1])));
        return {};
    }

    Result SetLinkShare(const Args& a) // directed link, share
    {
        Require(m_net && a.nums.at(0) < m_net->GetNDirectedLinks() &&
                    m_net->GetLinkTrace(a.nums[0]) && a.nums.at(1) >= 0,
                "unknown directed link, link without a trace or share < 0");
        m_net->SetLinkShare(a.nums[0], a.nums[1]);
        return {};
    }

    Result ShareLinkTraces(const Args& a) // directed links
    {
        std::vector<uint32_t> links;
        for (double l : a.nums)
        {
            Require(m_net && l >= 0 && l < m_net->GetNDirectedLinks() &&
                        m_net->GetLinkTrace(static_cast<uint32_t>(l)) &&
                        std::find(links.begin(), links.end(), l) == links.end(),
                    "unknown directed link, link without a trace, or a link twice");
            links.push_back(static_cast<uint32_t>(l));
        }
        m_net->ShareLinkTraces(links);
        return {};
    }

    void States(EdgelamZmqBridge::LinkStates& s)
    {
        if (!m_finalized)
        {
            return;
        }
        m_net->RefreshLinkStates();
        s.src = m_net->GetLinkSrc();
        s.dst = m_net->GetLinkDst();
        s.rateBps = m_net->GetRateBps();
        s.queueBytes = m_net->GetQueueBytes();
        s.deliveredBytes = m_net->GetDeliveredBytes();
        s.droppedPackets = m_net->GetDroppedPackets();
    }

    void Delivered(const MessageRecord& r)
    {
        m_bridge->NotifyDelivered(r.id, r.src, r.dst, r.bytes, r.udp, r.tSend, r.tFirstByte,
                                  r.tDelivered);
    }

    Ptr<EdgelamZmqBridge> m_bridge;
    Ptr<EdgeNetwork> m_net;
    Ptr<MessageTransport> m_transport;
    CrossTrafficHelper m_cross;
    bool m_finalized{false};
};

} // namespace

int
main(int argc, char* argv[])
{
    EdgelamZmqHelper helper;
    CommandLine cmd(__FILE__);
    helper.AddCommandLineValues(cmd);
    cmd.Parse(argc, argv);
    Ptr<EdgelamZmqBridge> bridge = helper.Create({}); // nodes come with add_node calls
    EdgeNetworkServer server(bridge);
    bridge->Serve();
    bridge->Dispose();
    return 0;
}
