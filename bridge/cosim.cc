// SPDX-License-Identifier: GPL-2.0-only
#include <pybind11/pybind11.h> // before ns-3's channel headers (C <complex.h> defines I)

#include "cosim.h"

#include "attributes.h"
#include "pyevents.h"

#include "ns3/nr-cell-mac.h"
#include "ns3/object-factory.h"
#include "ns3/string.h"
#include "ns3/three-gpp-nr-channel.h"

#include "ns3/data-rate.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/simulator.h"
#include "ns3/uinteger.h"

#include <pybind11/stl.h>

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
CoSim::AddLink(uint32_t a, uint32_t b, double rateBps, double delayS, uint32_t queuePackets)
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
    return m_net->AddLink(a,
                          b,
                          ns3::DataRate(static_cast<uint64_t>(rateBps)),
                          ns3::Seconds(delayS),
                          queuePackets);
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
    }
    m_transport->SetAttribute("TcpSegmentSize", ns3::UintegerValue(tcpSegmentSize));
    m_transport->SetAttribute("TcpSndBufSize", ns3::UintegerValue(tcpBufBytes));
    m_transport->SetAttribute("TcpRcvBufSize", ns3::UintegerValue(tcpBufBytes));
    m_transport->SetAttribute("FrameHeaderBytes", ns3::UintegerValue(frameHeaderBytes));
    m_transport->SetNetwork(m_net);
    m_transport->TraceConnectWithoutContext("Delivered", ns3::MakeCallback(&CoSim::OnDelivered, this));
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
    ns3::Simulator::Schedule(ns3::Seconds(delayS), ns3::Ptr<ns3::EventImpl>(new PyEvent(std::move(fn)), false));
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
    ns3::Simulator::Schedule(ns3::Seconds(periodS), &CoSim::Tick, this, id, periodS, fn, arg, refreshLinks);
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
        ns3::Simulator::Schedule(ns3::Seconds(periodS), &CoSim::Tick, this, id, periodS, fn, arg, refresh);
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
    py::tuple t = py::make_tuple(r.id, r.src, r.dst, r.bytes, r.udp, r.tSend, r.tFirstByte, r.tDelivered);
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

namespace
{
/** A numpy view of a C++ vector owned by the CoSim; the CoSim's Python object is its base. */
py::array_t<double>
View(std::vector<double>& v, py::handle owner)
{
    return py::array_t<double>({static_cast<py::ssize_t>(v.size())}, {sizeof(double)}, v.data(), owner);
}
} // namespace

void
RegisterCoSim(py::module_& m)
{
    py::class_<CoSim>(m, "CoSim", "The ns-3 simulation of this process (one at a time).")
        .def(py::init<uint32_t, uint32_t>(), py::arg("seed"), py::arg("run") = 1)
        .def("add_node", &CoSim::AddNode, py::arg("name"))
        .def("add_link", &CoSim::AddLink, py::arg("a"), py::arg("b"), py::arg("rate_bps"),
             py::arg("delay_s"), py::arg("queue_packets"))
        .def("finalize", &CoSim::Finalize, py::arg("tcp_segment_size") = 1448,
             py::arg("tcp_buffer_bytes") = 1 << 20, py::arg("frame_header_bytes") = 16)
        .def("add_onoff", &CoSim::AddOnOff, py::arg("src"), py::arg("dst"), py::arg("rate_bps"),
             py::arg("mean_on_s"), py::arg("mean_off_s"), py::arg("packet_size"),
             py::arg("start_s"), py::arg("stream"), py::arg("port") = 9)
        .def("sink_rx_bytes", &CoSim::SinkRxBytes, py::arg("node"), py::arg("port") = 9,
             "Bytes received so far by the UDP sink of a cross-traffic flow.")
        .def("add_replay", &CoSim::AddReplay, py::arg("src"), py::arg("dst"), py::arg("times_s"),
             py::arg("bytes"))
        .def_property_readonly("now", &CoSim::Now)
        .def("schedule", &CoSim::Schedule, py::arg("delay_s"), py::arg("fn"))
        .def("every", &CoSim::Every, py::arg("period_s"), py::arg("fn"), py::arg("arg") = py::none(),
             py::arg("refresh_links") = true)
        .def("cancel", &CoSim::Cancel, py::arg("every_id"))
        .def("run", &CoSim::Run, py::arg("until_s") = py::none())
        .def("stop", &CoSim::Stop)
        .def("destroy", &CoSim::Destroy)
        .def("set_delivery_handler", &CoSim::SetDeliveryHandler, py::arg("fn"))
        .def("send", &CoSim::Send, py::arg("src"), py::arg("dst"), py::arg("nbytes"), py::arg("udp") = false)
        .def_property_readonly("in_flight", &CoSim::InFlight)
        .def("set_link_rate", &CoSim::SetLinkRate, py::arg("link"), py::arg("rate_bps"))
        .def("refresh_links", &CoSim::RefreshLinks)
        .def_property_readonly("n_directed_links",
                               [](CoSim& s) { return s.Network()->GetNDirectedLinks(); })
        .def_property_readonly("link_src",
                               [](CoSim& s) { return s.Network()->GetLinkSrc(); })
        .def_property_readonly("link_dst",
                               [](CoSim& s) { return s.Network()->GetLinkDst(); })
        .def("link_views",
             [](py::object self) {
                 CoSim& s = self.cast<CoSim&>();
                 auto net = s.Network();
                 py::dict d;
                 d["rate_bps"] = View(net->GetRateBps(), self);
                 d["queue_bytes"] = View(net->GetQueueBytes(), self);
                 d["delivered_bytes"] = View(net->GetDeliveredBytes(), self);
                 d["dropped_packets"] = View(net->GetDroppedPackets(), self);
                 return d;
             },
             "Zero-copy numpy views of the per-directed-link counters (valid while the "
             "simulation lives; refreshed before each every() callback).")
        .def("set_radio", &CoSim::SetRadio, py::arg("helper_attrs"), py::arg("mac_attrs"),
             py::arg("device_attrs"), py::arg("channel_attrs"), py::arg("channel"),
             py::arg("beam_attrs"), py::arg("gnbs"), py::arg("ues"), py::arg("stream"),
             "Devices reach the gNBs through the 6G radio (before finalize). Attributes are "
             "strings, checked before ns-3 sees them.")
        .def("add_bler_curve", &CoSim::AddBlerCurve, py::arg("channel"), py::arg("table"),
             py::arg("mcs"), py::arg("snr_db"), py::arg("cb_sizes"), py::arg("bler_flat"))
        .def("set_eesm_betas", &CoSim::SetEesmBetas, py::arg("table"), py::arg("betas"))
        .def("radio_views",
             [](py::object self) {
                 auto radio = self.cast<CoSim&>().Radio();
                 py::dict d;
                 for (uint32_t f = 0; f < ns3::NrRadioHelper::N_FIELDS; ++f)
                 {
                     std::string name = ns3::NrRadioHelper::GetFieldName(
                         static_cast<ns3::NrRadioHelper::Field>(f));
                     d[py::str(name)] = View(radio->GetLinkState(
                                                 static_cast<ns3::NrRadioHelper::Field>(f)),
                                             self);
                 }
                 return d;
             },
             "Zero-copy numpy views of the per-UE radio link states (refresh_radio() updates "
             "them; values are over the period since the previous refresh).")
        .def("refresh_radio", [](CoSim& s) { s.Radio()->RefreshLinkStates(); })
        .def("set_ue_share", [](CoSim& s, uint32_t u, double share) {
                 if (!(share >= 0 && share <= 1)) throw py::value_error("share must be in [0, 1]");
                 s.Radio()->SetUeShare(u, share); }, py::arg("ue"), py::arg("share"))
        .def("set_ue_weight", [](CoSim& s, uint32_t u, double w) {
                 if (!(w > 0)) throw py::value_error("weight must be > 0");
                 s.Radio()->SetUeWeight(u, w); }, py::arg("ue"), py::arg("weight"))
        .def("radio_slots", [](CoSim& s) { return s.Radio()->GetNSlots(); })
        .def("radio_ue_stats",
             [](CoSim& s) {
                 auto radio = s.Radio();
                 const uint32_t n = radio->GetNUes();
                 py::dict out;
                 std::vector<double> cell(n);
                 for (uint32_t u = 0; u < n; ++u)
                 {
                     cell[u] = radio->GetServingCell(u);
                 }
                 out["serving_cell"] = py::array_t<double>(n, cell.data());
                 using Stats = ns3::NrCellMac::UeStats;
                 // field name -> value of one UE's stats
                 const std::pair<const char*, double (*)(const Stats&)> fields[] = {
                     {"_tb_first", [](const Stats& st) { return double(st.tbFirst); }},
                     {"_tb_first_err", [](const Stats& st) { return double(st.tbFirstErr); }},
                     {"_mac_bytes", [](const Stats& st) { return st.bytes; }},
                     {"_sum_sinr_eff_db", [](const Stats& st) { return st.sumSinrEffDb; }},
                     {"_sum_mcs", [](const Stats& st) { return st.sumMcs; }},
                     {"_retx", [](const Stats& st) { return double(st.retx); }},
                     {"_tb_lost", [](const Stats& st) { return double(st.tbLost); }},
                     {"_wideband_sinr_db", [](const Stats& st) { return st.widebandSinrDb; }},
                 };
                 const char* dirs[2] = {"dl", "ul"};
                 for (uint32_t d = 0; d < 2; ++d)
                 {
                     for (const auto& f : fields)
                     {
                         std::vector<double> v(n);
                         for (uint32_t u = 0; u < n; ++u)
                         {
                             auto mac = radio->GetCellMac(radio->GetServingCell(u));
                             v[u] = f.second(mac->GetStats(
                                 radio->GetIndexInCell(u),
                                 static_cast<ns3::NrCellMac::Direction>(d)));
                         }
                         out[py::str(std::string(dirs[d]) + f.first)] =
                             py::array_t<double>(n, v.data());
                     }
                 }
                 return out;
             },
             "Per-UE MAC counters since the start (first transmissions, their errors, decoded "
             "bytes, sums of effective SINR and MCS, retransmissions, lost TBs) and the wideband "
             "SINR of the last CSI measurement, read now (no link-state refresh).")
        .def("set_beam",
             [](CoSim& s, uint32_t u, std::vector<std::complex<double>> w) {
                 auto radio = s.Radio();
                 if (u >= radio->GetNUes()) throw py::value_error("set_beam: unknown UE");
                 if (s.Beams())
                 {
                     s.Beams()->SetBeam(u, w);  // pauses the beam policy for this UE
                 }
                 else
                 {
                     radio->GetChannel()->SetGnbBeam(radio->GetServingCell(u), u, w);
                 }
             },
             py::arg("ue"), py::arg("weights"),
             "Set the serving gNB's beam toward a UE from now on (one weight per gNB antenna).")
        .def("set_codeword",
             [](CoSim& s, uint32_t u, uint32_t k) {
                 if (!s.Beams()) throw py::value_error("set_codeword: no beam policy installed");
                 s.Beams()->SetCodeword(u, k);
             },
             py::arg("ue"), py::arg("index"))
        .def("csi",
             [](CoSim& s, uint32_t u) {
                 auto radio = s.Radio();
                 if (u >= radio->GetNUes()) throw py::value_error("csi: unknown UE");
                 auto ch = radio->GetChannel();
                 const uint32_t g = radio->GetServingCell(u);
                 const auto& h = ch->GetChannelMatrix(g, u);
                 const py::ssize_t rx = ch->GetNUeAntennas(u), tx = ch->GetNGnbAntennas(g),
                                   sb = ch->GetNSubbands();
                 py::array_t<std::complex<double>> out({rx, tx, sb});
                 std::copy(h.begin(), h.end(), out.mutable_data());
                 return out;
             },
             py::arg("ue"),
             "The small-scale channel from the serving gNB to a UE now, complex128 "
             "[rx_ant, tx_ant, subband] (a copy; large-scale loss excluded).")
        .def("bench_buffer",
             [](py::object self, size_t nbytes) {
                 CoSim& s = self.cast<CoSim&>();
                 auto& v = s.BenchBuffer();
                 v.assign(nbytes / sizeof(double), 0.0);
                 return View(v, self);
             },
             py::arg("nbytes"),
             "A C++-owned buffer of nbytes as a zero-copy numpy view (invalid after the next "
             "call); for benchmarks of state hand-off.");
}

} // namespace edgelam
