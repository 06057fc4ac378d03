// SPDX-License-Identifier: GPL-2.0-only
#include <pybind11/pybind11.h> // before ns-3's channel headers (C <complex.h> defines I)

#include "cosim.h"

#include "attributes.h"
#include "pyevents.h"

#include "ns3/nr-cell-mac.h"
#include "ns3/object-factory.h"
#include "ns3/string.h"
#include "ns3/three-gpp-nr-channel.h"
#include "ns3/trace-rate-link.h"

#include "ns3/data-rate.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <pybind11/stl.h>

#include <set>

namespace py = pybind11;

namespace edgelam
{

namespace
{
bool g_alive = false; //!< ns-3's Simulator is a process singleton: one CoSim at a time
} // namespace

CoSim::CoSim(uint32_t seed, uint32_t run)
{
    if (g_alive)
    {
        throw std::runtime_error("a simulation is already alive in this process; ns-3's "
                                 "Simulator is a process singleton (destroy() it first)");
    }
    if (seed == 0)
    {
        throw py::value_error("seed must be >= 1 (ns-3 RngSeedManager)");
    }
    g_alive = true;
    ns3::RngSeedManager::SetSeed(seed);
    ns3::RngSeedManager::SetRun(run);
    m_net = ns3::CreateObject<ns3::EdgeNetwork>();
    m_transport = ns3::CreateObject<ns3::MessageTransport>();
}

CoSim::~CoSim()
{
    Destroy();
}

void
CoSim::RequireAlive() const
{
    if (m_destroyed)
    {
        throw std::runtime_error("simulation already destroyed");
    }
}

uint32_t
CoSim::AddNode(const std::string& name)
{
    RequireAlive();
    if (m_finalized)
    {
        throw std::runtime_error("add_node after finalize");
    }
    return m_net->AddNode(name);
}

uint32_t
CoSim::AddLink(uint32_t a,
              uint32_t b,
              double rateBps,
              double delayS,
              uint32_t queuePackets,
              uint32_t mtuBytes)
{
    RequireAlive();
    if (m_finalized)
    {
        throw std::runtime_error("add_link after finalize");
    }
    if (a >= m_net->GetNNodes() || b >= m_net->GetNNodes() || a == b)
    {
        throw py::value_error("add_link: endpoints must be two different existing nodes");
    }
    if (!(rateBps > 0) || !(delayS >= 0) || queuePackets == 0)
    {
        throw py::value_error("add_link: rate must be > 0, delay >= 0, queue >= 1 packet");
    }
    if (mtuBytes < 576 || mtuBytes > 65535)
    {
        throw py::value_error("add_link: mtu_bytes must be in [576, 65535]");
    }
    return m_net->AddLink(a,
                          b,
                          ns3::DataRate(static_cast<uint64_t>(rateBps)),
                          ns3::Seconds(delayS),
                          queuePackets,
                          static_cast<uint16_t>(mtuBytes));
}

void
CoSim::Finalize(uint32_t tcpSegmentSize, uint32_t tcpBufBytes, uint32_t frameHeaderBytes)
{
    RequireAlive();
    if (m_finalized)
    {
        throw std::runtime_error("finalize called twice");
    }
    if (m_radio)
    {
        m_bler->Finalize();
        m_radio->SetBlerModel(m_bler);
    }
    try
    {
        m_net->Finalize();
    }
    catch (const std::exception& e)
    {
        throw py::value_error(std::string("finalize: ") + e.what());
    }
    if (m_radio && py::len(m_beamAttrs) > 0)
    {
        auto ch = ns3::DynamicCast<ns3::ThreeGppNrChannel>(m_radio->GetChannel());
        if (!ch)
        {
            throw py::value_error("beam policies need the TR 38.901 channel");
        }
        m_beams = ns3::CreateObject<ns3::NrBeamManager>();
        SetAttrs(m_beams, m_beamAttrs);
        m_beams->Install(ch);
        for (uint32_t u = 0; u < m_radio->GetNUes(); ++u)
        {
            m_beams->SetServingGnb(u, m_radio->GetServingCell(u));
        }
        // CsiMode Srs: the Ideal policy steers from the gNB's estimates
        m_beams->SetCsiSource(ns3::MakeCallback(&ns3::NrRadioHelper::GetCsiMatrix, m_radio));
        for (uint32_t g = 0; g < m_radio->GetNGnbs(); ++g)
        {
            m_radio->GetCellMac(g)->TraceConnectWithoutContext(
                "CsiUpdated", ns3::MakeCallback(&ns3::NrBeamManager::OnCsiUpdated, m_beams));
        }
    }
    m_transport->SetAttribute("TcpSegmentSize", ns3::UintegerValue(tcpSegmentSize));
    m_transport->SetAttribute("TcpSndBufSize", ns3::UintegerValue(tcpBufBytes));
    m_transport->SetAttribute("TcpRcvBufSize", ns3::UintegerValue(tcpBufBytes));
    m_transport->SetAttribute("FrameHeaderBytes", ns3::UintegerValue(frameHeaderBytes));
    m_transport->SetNetwork(m_net);
    m_transport->TraceConnectWithoutContext("Delivered",
                                            ns3::MakeCallback(&CoSim::OnDelivered, this));
    m_finalized = true;
}

int64_t
CoSim::AddOnOff(uint32_t src, uint32_t dst, double rateBps, double meanOnS, double meanOffS,
                uint32_t packetSize, double startS, int64_t stream, uint16_t port)
{
    RequireAlive();
    if (!m_finalized)
    {
        throw std::runtime_error("add cross traffic after finalize");
    }
    return m_cross.InstallOnOff(m_net, src, dst, ns3::DataRate(static_cast<uint64_t>(rateBps)),
                                meanOnS, meanOffS, packetSize, ns3::Seconds(startS), stream,
                                port);
}

uint64_t
CoSim::SinkRxBytes(uint32_t dst, uint16_t port) const
{
    return m_cross.GetSinkRxBytes(dst, port);
}

void
CoSim::AddReplay(uint32_t src, uint32_t dst, std::vector<double> times, std::vector<double> bytes)
{
    RequireAlive();
    if (!m_finalized)
    {
        throw std::runtime_error("add cross traffic after finalize");
    }
    if (times.size() != bytes.size())
    {
        throw py::value_error("replay: times and bytes differ in length");
    }
    for (size_t i = 0; i < times.size(); ++i)
    {
        if (times[i] < 0 || bytes[i] < 0 || (i > 0 && times[i] < times[i - 1]))
        {
            throw py::value_error("replay: times must be >= 0 and non-decreasing, bytes >= 0");
        }
    }
    m_cross.InstallReplay(m_net, src, dst, times, bytes);
}

double
CoSim::Now() const
{
    return ns3::Simulator::Now().GetSeconds();
}

void
CoSim::Schedule(double delayS, py::object fn)
{
    RequireAlive();
    if (!(delayS >= 0))
    {
        throw py::value_error("schedule: delay must be >= 0 s");
    }
    ns3::Simulator::Schedule(ns3::Seconds(delayS),
                             ns3::Ptr<ns3::EventImpl>(new PyEvent(std::move(fn)), false));
}

uint32_t
CoSim::Every(double periodS, py::object fn, py::object arg, bool refreshLinks)
{
    RequireAlive();
    if (!(periodS > 0))
    {
        throw py::value_error("every: period must be > 0 s");
    }
    uint32_t id = m_everyActive.size();
    m_everyActive.push_back(true);
    ns3::Simulator::Schedule(ns3::Seconds(periodS), &CoSim::Tick, this, id, periodS, fn, arg,
                             refreshLinks);
    return id;
}

void
CoSim::Cancel(uint32_t every)
{
    if (every < m_everyActive.size())
    {
        m_everyActive[every] = false;
    }
}

void
CoSim::Tick(uint32_t id, double periodS, py::object fn, py::object arg, bool refresh)
{
    if (!m_everyActive[id])
    {
        return;
    }
    if (refresh && m_finalized)
    {
        m_net->RefreshLinkStates();
    }
    if (arg.is_none())
    {
        InvokePython(fn);
    }
    else
    {
        InvokePython(fn, arg);
    }
    if (m_everyActive[id])
    {
        ns3::Simulator::Schedule(ns3::Seconds(periodS), &CoSim::Tick, this, id, periodS, fn, arg,
                                 refresh);
    }
}

void
CoSim::Run(std::optional<double> untilS)
{
    RequireAlive();
    if (untilS)
    {
        if (*untilS < Now())
        {
            throw py::value_error("run: until_s is in the past");
        }
        ns3::Simulator::Stop(ns3::Seconds(*untilS) - ns3::Simulator::Now());
    }
    ns3::Simulator::Run();
    RethrowPending();
}

void
CoSim::Stop()
{
    ns3::Simulator::Stop();
}

void
CoSim::Destroy()
{
    if (m_destroyed)
    {
        return;
    }
    m_destroyed = true;
    ns3::Simulator::Destroy();
    m_transport = nullptr;
    // m_net is kept until ~CoSim: numpy views of its counters hold this object as their base,
    // so they stay valid (with their final values) after the simulation is destroyed.
    m_deliveryHandler = py::object();
    g_alive = false;
}

void
CoSim::SetDeliveryHandler(py::object fn)
{
    m_deliveryHandler = std::move(fn);
}

uint64_t
CoSim::Send(uint32_t src, uint32_t dst, uint64_t bytes, bool udp)
{
    RequireAlive();
    if (!m_finalized)
    {
        throw std::runtime_error("send before finalize");
    }
    if (src >= m_net->GetNNodes() || dst >= m_net->GetNNodes() || src == dst)
    {
        throw py::value_error("send: src and dst must be two different existing nodes");
    }
    if (bytes == 0)
    {
        throw py::value_error("send: a message has at least 1 byte");
    }
    return m_transport->Send(src, dst, bytes, udp);
}

uint64_t
CoSim::InFlight() const
{
    return m_transport ? m_transport->GetNInFlight() : 0;
}

void
CoSim::OnDelivered(const ns3::MessageRecord& r)
{
    if (!m_deliveryHandler)
    {
        return;
    }
    py::tuple t = py::make_tuple(r.id, r.src, r.dst, r.bytes, r.udp, r.tSend, r.tFirstByte,
                                 r.tDelivered);
    InvokePython(m_deliveryHandler, t);
}

void
CoSim::SetLinkRate(uint32_t l, double rateBps)
{
    RequireAlive();
    if (l >= m_net->GetNDirectedLinks() || !(rateBps > 0))
    {
        throw py::value_error("set_link_rate: unknown directed link or rate <= 0");
    }
    m_net->SetLinkRate(l, ns3::DataRate(static_cast<uint64_t>(rateBps)));
}

void
CoSim::SetLinkTrace(uint32_t l, std::vector<double> timesS, std::vector<double> ratesBps,
                    std::vector<double> delaysS, std::vector<double> losses, double baseDelayS,
                    double loopPeriodS, double minRateBps, int64_t stream,
                    double accessDelayS)
{
    RequireAlive();
    if (m_finalized)
    {
        throw std::runtime_error("set_link_trace after finalize");
    }
    bool ok = l < m_net->GetNDirectedLinks() && !timesS.empty() && timesS[0] == 0.0 &&
              ratesBps.size() == timesS.size() &&
              (delaysS.empty() || delaysS.size() == timesS.size()) &&
              (losses.empty() || losses.size() == timesS.size()) && baseDelayS >= 0 &&
              minRateBps > 0 && (loopPeriodS == 0 || loopPeriodS > timesS.back()) &&
              accessDelayS >= 0;
    for (size_t k = 0; ok && k < timesS.size(); ++k)
    {
        ok = (k == 0 || timesS[k] > timesS[k - 1]) && ratesBps[k] >= 0 &&
             (delaysS.empty() || delaysS[k] >= 0) &&
             (losses.empty() || (losses[k] >= 0 && losses[k] <= 1));
    }
    if (!ok)
    {
        throw py::value_error("set_link_trace: unknown link or bad series (times from 0, "
                              "increasing; rates, delays, access delay >= 0; losses in [0, 1]; "
                              "one each; loop period past the last time)");
    }
    auto trace = ns3::CreateObject<ns3::TraceRateLink>();
    trace->SetAttribute("BaseDelay", ns3::TimeValue(ns3::Seconds(baseDelayS)));
    trace->SetAttribute("LoopPeriod", ns3::TimeValue(ns3::Seconds(loopPeriodS)));
    trace->SetAttribute("AccessDelay", ns3::TimeValue(ns3::Seconds(accessDelayS)));
    trace->SetAttribute("MinRate",
                        ns3::DataRateValue(ns3::DataRate(static_cast<uint64_t>(minRateBps))));
    trace->SetTrace(timesS, ratesBps, delaysS, losses);
    m_net->SetLinkTrace(l, trace);
    trace->AssignStreams(stream);
}

void
CoSim::SetLinkShare(uint32_t l, double share)
{
    RequireAlive();
    if (l >= m_net->GetNDirectedLinks() || !m_net->GetLinkTrace(l) || !(share >= 0))
    {
        throw py::value_error("set_link_share: unknown directed link, link without a trace or "
                              "share < 0");
    }
    m_net->SetLinkShare(l, share);
}

void
CoSim::ShareLinkTraces(const std::vector<uint32_t>& links)
{
    RequireAlive();
    std::set<uint32_t> seen;
    for (uint32_t l : links)
    {
        if (l >= m_net->GetNDirectedLinks() || !m_net->GetLinkTrace(l) || !seen.insert(l).second)
        {
            throw py::value_error("share_link_traces: unknown directed link, link without a "
                                  "trace, or a link twice");
        }
    }
    m_net->ShareLinkTraces(links);
}

void
CoSim::RefreshLinks()
{
    RequireAlive();
    m_net->RefreshLinkStates();
}

ns3::Ptr<ns3::EdgeNetwork>
CoSim::Network() const
{
    return m_net;
}

void
CoSim::SetRadio(const py::dict& helperAttrs, const py::dict& macAttrs, const py::dict& deviceAttrs,
                const py::dict& channelAttrs, const std::string& channel,
                const py::dict& beamAttrs, const std::vector<uint32_t>& gnbs,
                const std::vector<uint32_t>& ues, int64_t stream)
{
    RequireAlive();
    if (m_finalized || m_radio)
    {
        throw std::runtime_error("set_radio: once, before finalize");
    }
    for (uint32_t i : gnbs)
    {
        if (i >= m_net->GetNNodes())
        {
            throw py::value_error("set_radio: unknown gNB node");
        }
    }
    for (uint32_t i : ues)
    {
        if (i >= m_net->GetNNodes())
        {
            throw py::value_error("set_radio: unknown UE node");
        }
    }
    if (py::len(beamAttrs) > 0)
    {
        CheckAttrs("ns3::NrBeamManager", beamAttrs);
    }
    auto radio = MakeRadioHelper(helperAttrs, macAttrs, deviceAttrs);
    auto ch = MakeNrChannel(channel, channelAttrs);
    radio->SetChannel(ch);
    radio->AssignStreams(stream);
    m_bler = ns3::CreateObject<ns3::NrBlerModel>();
    m_beamAttrs = beamAttrs;
    m_radio = radio;
    m_net->SetRadio(radio, gnbs, ues);
}

void
CoSim::AddBlerCurve(uint32_t channel, uint32_t table, uint32_t mcs, std::vector<double> snrDb,
                    std::vector<double> cbSizes, std::vector<double> bler)
{
    if (!m_bler || m_finalized)
    {
        throw std::runtime_error("add_bler_curve: after set_radio, before finalize");
    }
    if (bler.size() != snrDb.size() * cbSizes.size())
    {
        throw py::value_error("add_bler_curve: bler must be [len(cb_sizes) x len(snr_db)]");
    }
    m_bler->AddCurve(static_cast<ns3::NrBlerModel::Channel>(channel),
                     ns3::NrMcsTable::FromIndex(table), mcs, snrDb, cbSizes, bler);
}

void
CoSim::SetEesmBetas(uint32_t table, std::vector<double> betas)
{
    if (!m_bler || m_finalized)
    {
        throw std::runtime_error("set_eesm_betas: after set_radio, before finalize");
    }
    m_bler->SetEesmBetas(ns3::NrMcsTable::FromIndex(table), betas);
}

ns3::Ptr<ns3::NrRadioHelper>
CoSim::Radio() const
{
    if (!m_radio || !m_finalized)
    {
        throw std::runtime_error("no radio (radio.mode is not 'nr', or before finalize)");
    }
    return m_radio;
}

ns3::Ptr<ns3::NrBeamManager>
CoSim::Beams() const
{
    return m_beams;
}

std::vector<double>&
CoSim::BenchBuffer()
{
    return m_bench;
}

} // namespace edgelam
