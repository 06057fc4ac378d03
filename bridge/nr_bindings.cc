// SPDX-License-Identifier: GPL-2.0-only
#include "nr_bindings.h"

#include "attributes.h"
#include "cosim.h"

#include "ns3/applications-module.h"
#include "ns3/config.h"
#include "ns3/uinteger.h"
#include "ns3/fixed-gain-nr-channel.h"
#include "ns3/inet-socket-address.h"
#include "ns3/nr-bler-model.h"
#include "ns3/nr-radio-helper.h"
#include "ns3/object-factory.h"
#include "ns3/simulator.h"
#include "ns3/string.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <chrono>
#include <map>
#include <sstream>
#include <cmath>
#include <complex>
#include <string>
#include <vector>

namespace py = pybind11;

namespace edgelam
{

namespace
{

using DArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

std::vector<double>
ToVec(const DArray& a)
{
    return std::vector<double>(a.data(), a.data() + a.size());
}

py::array_t<double>
View(std::vector<double>& v, py::handle owner)
{
    return py::array_t<double>({static_cast<py::ssize_t>(v.size())}, {sizeof(double)}, v.data(),
                               owner);
}

/// A radio network (NrRadioHelper) in the CoSim of this process, for tests and benchmarks.
class NrRadioTestBed
{
  public:
    NrRadioTestBed(CoSim& sim,
                   uint32_t nCells,
                   uint32_t nUes,
                   const py::dict& helperAttrs,
                   const py::dict& macAttrs,
                   const py::dict& deviceAttrs,
                   const py::dict& channelAttrs,
                   const std::string& channel,
                   int64_t stream)
        : m_sim(sim),
          m_nCells(nCells),
          m_nUes(nUes),
          m_stream(stream)
    {
        (void)m_sim;
        if (nCells == 0)
        {
            throw py::value_error("n_cells must be >= 1");
        }
        m_helper = MakeRadioHelper(helperAttrs, macAttrs, deviceAttrs);
        m_channel = MakeNrChannel(channel, channelAttrs);
        m_bler = ns3::CreateObject<ns3::NrBlerModel>();
    }

    ns3::Ptr<ns3::FixedGainNrChannel> Fixed() const
    {
        auto c = ns3::DynamicCast<ns3::FixedGainNrChannel>(m_channel);
        if (!c)
        {
            throw py::value_error("only the 'fixed' channel has settable gains");
        }
        return c;
    }

    void RequireBuilt(bool built) const
    {
        if (m_built != built)
        {
            throw std::runtime_error(built ? "build() first" : "already built");
        }
    }

    void AddCurve(uint32_t channel, uint32_t table, uint32_t mcs, const DArray& snr,
                  const DArray& cbs, const DArray& bler)
    {
        if (bler.ndim() != 2 || bler.shape(0) != cbs.size() || bler.shape(1) != snr.size())
        {
            throw py::value_error("bler must have shape [len(cb_sizes), len(snr_db)]");
        }
        m_bler->AddCurve(static_cast<ns3::NrBlerModel::Channel>(channel),
                         ns3::NrMcsTable::FromIndex(table), mcs, ToVec(snr), ToVec(cbs),
                         ToVec(bler));
    }

    void Build(bool ipv4)
    {
        RequireBuilt(false);
        m_bler->Finalize();
        m_helper->SetChannel(m_channel);
        m_helper->SetBlerModel(m_bler);
        m_helper->AssignStreams(m_stream);
        try
        {
            m_helper->Create(m_nCells, m_nUes);
        }
        catch (const std::exception& e)
        {
            throw py::value_error(e.what());
        }
        if (ipv4)
        {
            m_helper->InstallIpv4();
        }
        m_built = true;
    }

    void AddUdp(bool downlink, double rateBps, uint32_t packetSize, double startS, double stopS)
    {
        RequireBuilt(true);
        const uint16_t port = 9000;
        for (uint32_t u = 0; u < m_nUes; ++u)
        {
            const uint32_t g = m_helper->GetServingCell(u);
            ns3::Ptr<ns3::Node> src = downlink ? m_helper->GetGnbNode(g) : m_helper->GetUeNode(u);
            ns3::Ptr<ns3::Node> dst = downlink ? m_helper->GetUeNode(u) : m_helper->GetGnbNode(g);
            const ns3::Ipv4Address to =
                downlink ? m_helper->GetUeAddress(u) : m_helper->GetGnbAddress(g);
            const uint16_t p = downlink ? port : static_cast<uint16_t>(port + 1 + u);
            ns3::OnOffHelper onoff("ns3::UdpSocketFactory", ns3::InetSocketAddress(to, p));
            onoff.SetConstantRate(ns3::DataRate(static_cast<uint64_t>(rateBps)), packetSize);
            auto apps = onoff.Install(src);
            apps.Start(ns3::Seconds(startS));
            if (stopS > startS)
            {
                apps.Stop(ns3::Seconds(stopS));
            }
            ns3::PacketSinkHelper sink("ns3::UdpSocketFactory",
                                       ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), p));
            auto sinks = sink.Install(dst);
            sinks.Start(ns3::Seconds(0));
            (downlink ? m_dlSinks : m_ulSinks)
                .push_back(ns3::DynamicCast<ns3::PacketSink>(sinks.Get(0)));
        }
        m_appStart = startS;
    }

    void AddTcp(bool downlink, double startS, uint32_t bufferBytes, uint32_t segmentSize)
    {
        RequireBuilt(true);
        ns3::Config::SetDefault("ns3::TcpSocket::SndBufSize", ns3::UintegerValue(bufferBytes));
        ns3::Config::SetDefault("ns3::TcpSocket::RcvBufSize", ns3::UintegerValue(bufferBytes));
        ns3::Config::SetDefault("ns3::TcpSocket::SegmentSize", ns3::UintegerValue(segmentSize));
        const uint16_t port = 9500;
        for (uint32_t u = 0; u < m_nUes; ++u)
        {
            const uint32_t g = m_helper->GetServingCell(u);
            ns3::Ptr<ns3::Node> src = downlink ? m_helper->GetGnbNode(g) : m_helper->GetUeNode(u);
            ns3::Ptr<ns3::Node> dst = downlink ? m_helper->GetUeNode(u) : m_helper->GetGnbNode(g);
            const ns3::Ipv4Address to =
                downlink ? m_helper->GetUeAddress(u) : m_helper->GetGnbAddress(g);
            const uint16_t p = static_cast<uint16_t>(port + u);
            ns3::BulkSendHelper bulk("ns3::TcpSocketFactory", ns3::InetSocketAddress(to, p));
            bulk.SetAttribute("MaxBytes", ns3::UintegerValue(0));
            auto apps = bulk.Install(src);
            apps.Start(ns3::Seconds(startS));
            ns3::PacketSinkHelper sink("ns3::TcpSocketFactory",
                                       ns3::InetSocketAddress(ns3::Ipv4Address::GetAny(), p));
            auto sinks = sink.Install(dst);
            sinks.Start(ns3::Seconds(0));
            (downlink ? m_dlSinks : m_ulSinks)
                .push_back(ns3::DynamicCast<ns3::PacketSink>(sinks.Get(0)));
        }
        m_appStart = startS;
    }

    void Start()
    {
        RequireBuilt(true);
        m_helper->Start();
        m_start = ns3::Simulator::Now().GetSeconds();
    }

    void EnableTbLog()
    {
        RequireBuilt(true);
        m_helper->TraceConnectWithoutContext(
            "TbTrace", ns3::MakeCallback(&NrRadioTestBed::OnTb, this));
    }

    void OnTb(const ns3::NrTbTraceParams& p)
    {
        m_tb.push_back(p);
    }

    void EnableRxLog()
    {
        RequireBuilt(true);
        for (uint32_t u = 0; u < m_nUes; ++u)
        {
            m_helper->GetUeDevice(u)->TraceConnectWithoutContext(
                "MacRx", ns3::MakeCallback(&NrRadioTestBed::OnRx, this).Bind(u));
        }
    }

    void OnRx(uint32_t u, ns3::Ptr<const ns3::Packet> p)
    {
        m_rxUe.push_back(u);
        m_rxUid.push_back(p->GetUid());
    }

    py::dict TbLog() const
    {
        const size_t n = m_tb.size();
        py::array_t<double> t(n), sinr(n);
        py::array_t<int64_t> cell(n), ue(n), dir(n), mcs(n), tbs(n), prb(n), ok(n), round(n);
        for (size_t i = 0; i < n; ++i)
        {
            const auto& p = m_tb[i];
            t.mutable_at(i) = p.timeS;
            sinr.mutable_at(i) = p.sinrEffDb;
            cell.mutable_at(i) = p.cell;
            ue.mutable_at(i) = p.ue;
            dir.mutable_at(i) = p.dir;
            mcs.mutable_at(i) = p.mcs;
            tbs.mutable_at(i) = p.tbsBits;
            prb.mutable_at(i) = p.nPrb;
            ok.mutable_at(i) = p.success;
            round.mutable_at(i) = p.harqRound;
        }
        py::dict d;
        d["t_s"] = t;
        d["cell"] = cell;
        d["ue"] = ue;
        d["dir"] = dir;
        d["mcs"] = mcs;
        d["tbs_bits"] = tbs;
        d["n_prb"] = prb;
        d["sinr_eff_db"] = sinr;
        d["success"] = ok;
        d["harq_round"] = round;
        return d;
    }

    py::dict RxLog() const
    {
        py::dict d;
        d["ue"] = py::array_t<int64_t>(m_rxUe.size(), m_rxUe.data());
        d["uid"] = py::array_t<int64_t>(m_rxUid.size(), m_rxUid.data());
        return d;
    }

    py::dict Results() const
    {
        RequireBuilt(true);
        const double now = ns3::Simulator::Now().GetSeconds();
        const double el = std::max(1e-12, now - m_start);
        const double appEl = std::max(1e-12, now - std::max(m_start, m_appStart));
        const size_t n = m_nUes;
        std::map<std::string, std::vector<double>> f;
        auto put = [&](const std::string& k, size_t u, double v) {
            auto& vec = f[k];
            vec.resize(n, 0.0);
            vec[u] = v;
        };
        for (uint32_t u = 0; u < n; ++u)
        {
            const uint32_t g = m_helper->GetServingCell(u);
            const uint32_t i = m_helper->GetIndexInCell(u);
            auto cell = m_helper->GetCellMac(g);
            put("serving_cell", u, g);
            const char* names[2] = {"dl", "ul"};
            for (uint32_t d = 0; d < 2; ++d)
            {
                const auto dir = static_cast<ns3::NrCellMac::Direction>(d);
                const auto& s = cell->GetStats(i, dir);
                const std::string p = names[d];
                const double nan = std::nan("");
                put(p + "_mac_bytes", u, s.bytes);
                put(p + "_mac_bps", u, s.bytes * 8 / el);
                put(p + "_tb_first", u, double(s.tbFirst));
                put(p + "_tb_tx", u, double(s.tbTx));
                put(p + "_retx", u, double(s.retx));
                put(p + "_tb_lost", u, double(s.tbLost));
                put(p + "_bler", u, s.tbFirst ? double(s.tbFirstErr) / s.tbFirst : nan);
                put(p + "_bler_all", u, s.tbTx ? double(s.tbErr) / s.tbTx : nan);
                put(p + "_mean_mcs", u, s.tbFirst ? s.sumMcs / s.tbFirst : nan);
                put(p + "_mean_sinr_db", u, s.tbFirst ? s.sumSinrEffDb / s.tbFirst : nan);
                put(p + "_mean_rbg", u, s.tbTx ? s.sumRbg / s.tbTx : 0.0);
                put(p + "_wideband_sinr_db", u, s.widebandSinrDb);
                put(p + "_olla_db", u, cell->GetOllaOffsetDb(i, dir));
                put(p + "_queue_bytes", u, double(cell->GetQueuedBytes(i, dir)));
                const auto& sinks = d == 0 ? m_dlSinks : m_ulSinks;
                const double rx = u < sinks.size() ? double(sinks[u]->GetTotalRx()) : 0.0;
                put(p + "_app_bytes", u, rx);
                put(p + "_goodput_bps", u, rx * 8 / appEl);
            }
        }
        py::dict out;
        for (auto& kv : f)
        {
            out[py::str(kv.first)] = py::array_t<double>(kv.second.size(), kv.second.data());
        }
        out["slots"] = m_helper->GetNSlots();
        out["elapsed_s"] = el;
        out["app_elapsed_s"] = appEl;
        return out;
    }

    py::dict LinkStates(py::object self)
    {
        RequireBuilt(true);
        py::dict d;
        for (uint32_t k = 0; k < ns3::NrRadioHelper::N_FIELDS; ++k)
        {
            const auto f = static_cast<ns3::NrRadioHelper::Field>(k);
            d[py::str(ns3::NrRadioHelper::GetFieldName(f))] =
                View(m_helper->GetLinkState(f), self);
        }
        return d;
    }

    CoSim& m_sim;
    uint32_t m_nCells;
    uint32_t m_nUes;
    int64_t m_stream;
    bool m_built{false};
    double m_start{0};
    double m_appStart{0};
    ns3::Ptr<ns3::NrRadioHelper> m_helper;
    ns3::Ptr<ns3::NrChannel> m_channel;
    ns3::Ptr<ns3::NrBlerModel> m_bler;
    std::vector<ns3::Ptr<ns3::PacketSink>> m_dlSinks;
    std::vector<ns3::Ptr<ns3::PacketSink>> m_ulSinks;
    std::vector<ns3::NrTbTraceParams> m_tb;
    std::vector<int64_t> m_rxUe;
    std::vector<int64_t> m_rxUid;
};

} // namespace

void
RegisterNr(py::module_& m)
{
    py::class_<NrRadioTestBed>(
        m,
        "NrRadioTestBed",
        "An NR radio network (ns3::NrRadioHelper: cells, UEs, NrNetDevices, the channel) in "
        "the CoSim of this process. Attributes are given as strings: helper (ns3::NrRadioHelper), "
        "mac (ns3::NrCellMac), device (ns3::NrNetDevice), channel (the channel's TypeId).")
        .def(py::init<CoSim&, uint32_t, uint32_t, const py::dict&, const py::dict&,
                      const py::dict&, const py::dict&, const std::string&, int64_t>(),
             py::arg("sim"), py::arg("n_cells") = 1, py::arg("n_ues") = 1,
             py::arg("helper") = py::dict(), py::arg("mac") = py::dict(),
             py::arg("device") = py::dict(), py::arg("channel_attrs") = py::dict(),
             py::arg("channel") = "fixed", py::arg("stream") = 1000, py::keep_alive<1, 2>())
        .def("add_bler_curve", &NrRadioTestBed::AddCurve, py::arg("channel"), py::arg("table"),
             py::arg("mcs"), py::arg("snr_db"), py::arg("cb_sizes"), py::arg("bler"))
        .def(
            "set_eesm_betas",
            [](NrRadioTestBed& s, uint32_t table, const DArray& b) {
                s.m_bler->SetEesmBetas(ns3::NrMcsTable::FromIndex(table), ToVec(b));
            },
            py::arg("table"), py::arg("betas"))
        .def(
            "set_path_gain_db",
            [](NrRadioTestBed& s, uint32_t g, uint32_t u, double db) {
                s.Fixed()->SetPathGainDb(g, u, db);
            },
            py::arg("gnb"), py::arg("ue"), py::arg("db"))
        .def(
            "set_subband_gain",
            [](NrRadioTestBed& s, uint32_t g, uint32_t u, const DArray& gain) {
                s.Fixed()->SetSubbandGain(g, u, ToVec(gain));
            },
            py::arg("gnb"), py::arg("ue"), py::arg("gain"))
        .def("build", &NrRadioTestBed::Build, py::arg("ipv4") = true)
        .def("add_udp", &NrRadioTestBed::AddUdp, py::arg("downlink") = true,
             py::arg("rate_bps") = 1e9, py::arg("packet_size") = 1472, py::arg("start_s") = 0.0, py::arg("stop_s") = -1.0,
             "Full-buffer UDP (OnOff at a constant rate) from each UE's gNB to the UE "
             "(downlink) or back, with a PacketSink at the far end.")
        .def("add_tcp", &NrRadioTestBed::AddTcp, py::arg("downlink") = true,
             py::arg("start_s") = 0.0, py::arg("buffer_bytes") = 4u << 20,
             py::arg("segment_size") = 1448,
             "A TCP bulk transfer (BulkSend) per UE from its gNB (downlink) or to it, with a "
             "PacketSink at the far end (sets the TcpSocket buffer and segment defaults).")
        .def("start", &NrRadioTestBed::Start, "Start the slot loop now.")
        .def("enable_tb_log", &NrRadioTestBed::EnableTbLog)
        .def("tb_log", &NrRadioTestBed::TbLog, "Per-TB records as arrays.")
        .def("enable_rx_log", &NrRadioTestBed::EnableRxLog)
        .def("rx_log", &NrRadioTestBed::RxLog, "Packets passed up at each UE: ue, uid.")
        .def("results", &NrRadioTestBed::Results, "Per-UE results (arrays) and slots.")
        .def("link_states",
             [](py::object self) { return self.cast<NrRadioTestBed&>().LinkStates(self); },
             "Zero-copy views of the per-UE link-state arrays (refresh_link_states() updates "
             "them).")
        .def("refresh_link_states",
             [](NrRadioTestBed& s) { s.m_helper->RefreshLinkStates(); })
        .def("set_ue_weight",
             [](NrRadioTestBed& s, uint32_t u, double w) {
                 s.RequireBuilt(true);
                 s.m_helper->SetUeWeight(u, w);
             },
             py::arg("ue"), py::arg("weight"))
        .def("set_ue_share",
             [](NrRadioTestBed& s, uint32_t u, double x) {
                 s.RequireBuilt(true);
                 s.m_helper->SetUeShare(u, x);
             },
             py::arg("ue"), py::arg("share"))
        .def("set_rbg_range",
             [](NrRadioTestBed& s, uint32_t g, uint32_t first, uint32_t n) {
                 s.RequireBuilt(true);
                 s.m_helper->GetCellMac(g)->SetRbgRange(first, n);
             },
             py::arg("cell"), py::arg("first"), py::arg("n"))
        .def_property_readonly("n_prb",
                               [](NrRadioTestBed& s) {
                                   s.RequireBuilt(true);
                                   return s.m_helper->GetCellMac(0)->GetNPrb();
                               })
        .def_property_readonly("n_rbg",
                               [](NrRadioTestBed& s) {
                                   s.RequireBuilt(true);
                                   return s.m_helper->GetCellMac(0)->GetNRbg();
                               })
        .def_property_readonly("rbg_size",
                               [](NrRadioTestBed& s) {
                                   s.RequireBuilt(true);
                                   return s.m_helper->GetCellMac(0)->GetRbgSize();
                               })
        .def_property_readonly("slot_s",
                               [](NrRadioTestBed& s) {
                                   s.RequireBuilt(true);
                                   return s.m_helper->GetSlotDuration().GetSeconds();
                               })
        .def_property_readonly("slots",
                               [](NrRadioTestBed& s) { return s.m_helper->GetNSlots(); })
        .def("serving_cell",
             [](NrRadioTestBed& s, uint32_t u) { return s.m_helper->GetServingCell(u); })
        .def("ue_address",
             [](NrRadioTestBed& s, uint32_t u) {
                 std::ostringstream os;
                 s.m_helper->GetUeAddress(u).Print(os);
                 return os.str();
             })
        .def("path_gain_db",
             [](NrRadioTestBed& s, uint32_t g, uint32_t u) {
                 return s.m_channel->GetPathGainDb(g, u);
             })
        // Beams of the radio's channel (NrChannel's beam API), e.g. to steer a UE's beam away
        // from it during a run: the MAC sees the new gain from the next CSI measurement on.
        .def("is_los",
             [](NrRadioTestBed& s, uint32_t g, uint32_t u) {
                 s.RequireBuilt(true);
                 return s.m_channel->IsLos(g, u);
             },
             py::arg("gnb"), py::arg("ue"))
        .def("los_angles",
             [](NrRadioTestBed& s, uint32_t g, uint32_t u) {
                 s.RequireBuilt(true);
                 return s.m_channel->GetLosAngles(g, u);
             },
             py::arg("gnb"), py::arg("ue"), "(azimuth, inclination) from the gNB to the UE, rad.")
        .def("gnb_steering_vector",
             [](NrRadioTestBed& s, uint32_t g, double az, double incl) {
                 s.RequireBuilt(true);
                 const auto w = s.m_channel->GetGnbSteeringVector(g, az, incl);
                 return py::array_t<std::complex<double>>(w.size(), w.data());
             },
             py::arg("gnb"), py::arg("azimuth"), py::arg("inclination"))
        .def("gnb_beam",
             [](NrRadioTestBed& s, uint32_t g, uint32_t u) {
                 s.RequireBuilt(true);
                 const auto& w = s.m_channel->GetGnbBeam(g, u);
                 return py::array_t<std::complex<double>>(w.size(), w.data());
             },
             py::arg("gnb"), py::arg("ue"))
        .def("set_gnb_beam",
             [](NrRadioTestBed& s, uint32_t g, uint32_t u,
                const py::array_t<std::complex<double>,
                                  py::array::c_style | py::array::forcecast>& w) {
                 s.RequireBuilt(true);
                 if (w.ndim() != 1 || static_cast<uint32_t>(w.size()) !=
                                          s.m_channel->GetNGnbAntennas(g))
                 {
                     throw py::value_error("w must have one weight per gNB antenna element");
                 }
                 s.m_channel->SetGnbBeam(
                     g, u, std::vector<std::complex<double>>(w.data(), w.data() + w.size()));
             },
             py::arg("gnb"), py::arg("ue"), py::arg("w"),
             "Set gNB g's beam toward UE u from now on (normalised; the channel's SetGnbBeam).")
        .def("beam_gain",
             [](NrRadioTestBed& s, uint32_t g, uint32_t v, uint32_t u) {
                 s.RequireBuilt(true);
                 const auto& x = s.m_channel->GetBeamGain(g, v, u);
                 return py::array_t<double>(x.size(), x.data());
             },
             py::arg("gnb"), py::arg("beam_ue"), py::arg("ue"),
             "|w_u^H H w_(g,v)|^2 times the path gain, per subband (linear).");
}

} // namespace edgelam
