// SPDX-License-Identifier: GPL-2.0-only
// register_radio_test_bed: ns3::NrRadioTestBed (ns3_scenarios/helper/nr-radio-test-bed.h), a
// radio network with traffic inside the CoSim of this process, for tests and benchmarks.
#include "bindings.h"
#include "conversions.h"

#include "attributes.h"
#include "cosim.h"

#include "ns3/mobility-model.h"
#include "ns3/nr-radio-test-bed.h"
#include "ns3/three-gpp-nr-channel.h"
#include "ns3/simulator.h"

#include <pybind11/stl.h>

#include <complex>
#include <sstream>
#include <string>

namespace py = pybind11;

namespace edgelam
{

namespace
{

using ns3::NrRadioTestBed;

/// The test bed as Python holds it: built from attribute dicts, alive with its CoSim.
class PyRadioTestBed
{
  public:
    PyRadioTestBed(CoSim&, uint32_t nCells, uint32_t nUes, const py::dict& helperAttrs,
                   const py::dict& macAttrs, const py::dict& deviceAttrs,
                   const py::dict& channelAttrs, const std::string& channel, int64_t stream)
        : m_bed(MakeRadioHelper(helperAttrs, macAttrs, deviceAttrs),
                MakeNrChannel(channel, channelAttrs), nCells, nUes, stream)
    {
    }

    NrRadioTestBed& Bed()
    {
        return m_bed;
    }

    /// The bed, which must be built (else RuntimeError, as the C++ test bed's own checks).
    NrRadioTestBed& Built()
    {
        if (!m_bed.IsBuilt())
        {
            throw std::runtime_error("build() first");
        }
        return m_bed;
    }

    ns3::Ptr<ns3::NrChannel> Channel()
    {
        return m_bed.GetChannel();
    }

  private:
    NrRadioTestBed m_bed;
};

void
Build(PyRadioTestBed& b, bool ipv4)
{
    if (b.Bed().IsBuilt())
    {
        throw std::runtime_error("already built");
    }
    try
    {
        b.Bed().Build(ipv4);
    }
    catch (const std::exception& e)
    {
        throw py::value_error(e.what()); // a configuration the helper rejects
    }
}

py::dict
TbLog(PyRadioTestBed& b)
{
    const auto& tb = b.Bed().GetTbLog();
    const size_t n = tb.size();
    py::array_t<double> t(n), sinr(n), power(n);
    py::array_t<int64_t> cell(n), ue(n), dir(n), mcs(n), tbs(n), prb(n), ok(n), round(n);
    py::array_t<int64_t> slot(n), ack(n), proc(n);
    for (size_t i = 0; i < n; ++i)
    {
        const auto& p = tb[i];
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
        slot.mutable_at(i) = static_cast<int64_t>(p.slot);
        ack.mutable_at(i) = static_cast<int64_t>(p.ackSlot);
        proc.mutable_at(i) = p.harqId;
        power.mutable_at(i) = p.txPowerDbm;
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
    d["slot"] = slot;
    d["ack_slot"] = ack;
    d["harq_id"] = proc;
    d["tx_power_dbm"] = power;
    return d;
}

py::dict
RxLog(PyRadioTestBed& b)
{
    const auto& ue = b.Bed().GetRxUes();
    const auto& uid = b.Bed().GetRxUids();
    py::dict d;
    d["ue"] = py::array_t<int64_t>(ue.size(), ue.data());
    d["uid"] = py::array_t<int64_t>(uid.size(), uid.data());
    return d;
}

py::dict
Results(PyRadioTestBed& b)
{
    auto& bed = b.Built();
    py::dict out = ToDict(bed.GetResults());
    out["slots"] = bed.GetHelper()->GetNSlots();
    out["elapsed_s"] = bed.GetElapsedS();
    out["app_elapsed_s"] = bed.GetAppElapsedS();
    return out;
}

py::dict
LinkStates(py::object self)
{
    auto helper = self.cast<PyRadioTestBed&>().Built().GetHelper();
    py::dict d;
    for (uint32_t k = 0; k < ns3::NrRadioHelper::N_FIELDS; ++k)
    {
        const auto f = static_cast<ns3::NrRadioHelper::Field>(k);
        d[py::str(ns3::NrRadioHelper::GetFieldName(f))] = View(helper->GetLinkState(f), self);
    }
    return d;
}

void
SetGnbBeam(PyRadioTestBed& b, uint32_t g, uint32_t u, const ComplexArray& w)
{
    b.Built();
    if (w.ndim() != 1 || static_cast<uint32_t>(w.size()) != b.Channel()->GetNGnbAntennas(g))
    {
        throw py::value_error("w must have one weight per gNB antenna element");
    }
    b.Channel()->SetGnbBeam(g, u, ToWeights(w));
}

/// Traffic, logs and results.
void
RegisterTraffic(py::class_<PyRadioTestBed>& cls)
{
    cls.def(
           "add_udp",
           [](PyRadioTestBed& b, bool downlink, double rateBps, uint32_t packetSize,
              double startS, double stopS) {
               b.Built().AddUdp(downlink, ns3::DataRate(static_cast<uint64_t>(rateBps)),
                                packetSize, ns3::Seconds(startS), ns3::Seconds(stopS));
           },
           py::arg("downlink") = true, py::arg("rate_bps") = 1e9, py::arg("packet_size") = 1472,
           py::arg("start_s") = 0.0, py::arg("stop_s") = -1.0,
           "Full-buffer UDP (OnOff at a constant rate) from each UE's gNB to the UE "
           "(downlink) or back, with a PacketSink at the far end.")
        .def(
            "add_tcp",
            [](PyRadioTestBed& b, bool downlink, double startS, uint32_t bufferBytes,
               uint32_t segmentSize) {
                b.Built().AddTcp(downlink, ns3::Seconds(startS), bufferBytes, segmentSize);
            },
            py::arg("downlink") = true, py::arg("start_s") = 0.0,
            py::arg("buffer_bytes") = 4u << 20, py::arg("segment_size") = 1448,
            "A TCP bulk transfer (BulkSend) per UE from its gNB (downlink) or to it, with a "
            "PacketSink at the far end (sets the TcpSocket buffer and segment defaults).")
        .def("start", [](PyRadioTestBed& b) { b.Built().Start(); }, "Start the slot loop now.")
        .def("enable_tb_log", [](PyRadioTestBed& b) { b.Built().EnableTbLog(); })
        .def("tb_log", &TbLog,
             "Per-TB records as arrays: t_s, cell, ue, dir, mcs, tbs_bits, n_prb, sinr_eff_db, "
             "success, harq_round, slot, ack_slot (DL: its HARQ-ACK slot; UL: when the gNB "
             "acts on it), harq_id, tx_power_dbm (UL: the PUSCH power).")
        .def("enable_rx_log", [](PyRadioTestBed& b) { b.Built().EnableRxLog(); })
        .def("rx_log", &RxLog, "Packets passed up at each UE: ue, uid.")
        .def("results", &Results,
             "Per-UE results (arrays; see ns3::NrRadioTestBed::GetResults), slots, elapsed_s "
             "and app_elapsed_s.")
        .def("link_states", &LinkStates,
             "Zero-copy views of the per-UE link-state arrays (refresh_link_states() updates "
             "them).")
        .def("refresh_link_states",
             [](PyRadioTestBed& b) { b.Built().GetHelper()->RefreshLinkStates(); });
}

/// The first cell's MAC (all cells share the numerology), once built.
ns3::NrCellMac&
Cell0(PyRadioTestBed& b)
{
    return *b.Built().GetHelper()->GetCellMac(0);
}

/// Scheduler controls and the cell's numerology.
void
RegisterCell(py::class_<PyRadioTestBed>& cls)
{
    cls.def(
           "set_ue_weight",
           [](PyRadioTestBed& b, uint32_t u, double w) {
               b.Built().GetHelper()->SetUeWeight(u, w);
           },
           py::arg("ue"), py::arg("weight"))
        .def(
            "set_ue_share",
            [](PyRadioTestBed& b, uint32_t u, double x) {
                b.Built().GetHelper()->SetUeShare(u, x);
            },
            py::arg("ue"), py::arg("share"))
        .def(
            "set_rbg_range",
            [](PyRadioTestBed& b, uint32_t g, uint32_t first, uint32_t n) {
                b.Built().GetHelper()->GetCellMac(g)->SetRbgRange(first, n);
            },
            py::arg("cell"), py::arg("first"), py::arg("n"))
        .def_property_readonly("n_prb", [](PyRadioTestBed& b) { return Cell0(b).GetNPrb(); })
        .def_property_readonly("n_rbg", [](PyRadioTestBed& b) { return Cell0(b).GetNRbg(); })
        .def_property_readonly("rbg_size",
                               [](PyRadioTestBed& b) { return Cell0(b).GetRbgSize(); })
        .def_property_readonly(
            "slot_s",
            [](PyRadioTestBed& b) {
                return b.Built().GetHelper()->GetSlotDuration().GetSeconds();
            })
        .def_property_readonly(
            "slots", [](PyRadioTestBed& b) { return b.Bed().GetHelper()->GetNSlots(); })
        .def("serving_cell",
             [](PyRadioTestBed& b, uint32_t u) { return b.Bed().GetHelper()->GetServingCell(u); })
        .def("ue_address", [](PyRadioTestBed& b, uint32_t u) {
            std::ostringstream os;
            b.Bed().GetHelper()->GetUeAddress(u).Print(os);
            return os.str();
        });
}

/// The layout as the helper drew it: positions, bearings, wrap-around images, coupling gains.
void
RegisterLayout(py::class_<PyRadioTestBed>& cls)
{
    auto xyz = [](const ns3::Vector& v) { return py::make_tuple(v.x, v.y, v.z); };
    cls.def(
           "coupling_gain_db",
           [](PyRadioTestBed& b, uint32_t g, uint32_t u) {
               b.Built();
               return b.Channel()->GetCouplingGainDb(g, u);
           },
           py::arg("gnb"), py::arg("ue"),
           "Path gain plus the mean small-scale power gain over antenna pairs and subbands, dB "
           "(NrChannel::GetCouplingGainDb: no beamforming).")
        .def(
            "gnb_position",
            [xyz](PyRadioTestBed& b, uint32_t g) {
                b.Built();
                return xyz(b.Bed().GetHelper()->GetGnbNode(g)->GetObject<ns3::MobilityModel>()
                               ->GetPosition());
            },
            py::arg("gnb"), "(x, y, z) of gNB g, m.")
        .def(
            "ue_position",
            [xyz](PyRadioTestBed& b, uint32_t u) {
                b.Built();
                return xyz(b.Bed().GetHelper()->GetUeNode(u)->GetObject<ns3::MobilityModel>()
                               ->GetPosition());
            },
            py::arg("ue"), "(x, y, z) of UE u now, m.")
        .def(
            "gnb_position_seen_by",
            [xyz](PyRadioTestBed& b, uint32_t g, uint32_t u) {
                b.Built();
                return xyz(b.Channel()->GetGnbPositionSeenBy(g, u));
            },
            py::arg("gnb"), py::arg("ue"), "gNB g's (wrapped) position as UE u sees it, m.")
        .def(
            "gnb_bearing_deg",
            [](PyRadioTestBed& b, uint32_t g) {
                b.Built();
                return b.Channel()->GetGnbBearingRad(g) * 180.0 / M_PI;
            },
            py::arg("gnb"), "Azimuth gNB g's panel faces, degrees.")
        .def(
            "gnb_element_gain_db",
            [](PyRadioTestBed& b, uint32_t g, double az, double incl) {
                b.Built();
                auto ch = ns3::DynamicCast<ns3::ThreeGppNrChannel>(b.Channel());
                if (!ch)
                {
                    throw py::value_error("gnb_element_gain_db: channel '3gpp' only");
                }
                return ch->GetGnbElementGainDb(g, az, incl);
            },
            py::arg("gnb"), py::arg("azimuth"), py::arg("inclination"),
            "Power gain of one element of gNB g toward (azimuth, inclination) in global "
            "coordinates, rad: TR 38.901 Table 7.3-1 turned to its bearing, dBi.")
        .def(
            "distance_2d_m",
            [](PyRadioTestBed& b, uint32_t g, uint32_t u) {
                b.Built();
                return b.Channel()->GetDistance2dM(g, u);
            },
            py::arg("gnb"), py::arg("ue"), "Horizontal distance (to the wrapped image), m.");
}

/// The channel: fixed gains, path gains and beams (NrChannel's beam API), e.g. to steer a UE's
/// beam away during a run: the MAC sees the new gain from the next CSI measurement on.
void
RegisterChannel(py::class_<PyRadioTestBed>& cls)
{
    cls.def(
           "set_path_gain_db",
           [](PyRadioTestBed& b, uint32_t g, uint32_t u, double db) {
               b.Bed().GetFixedGainChannel()->SetPathGainDb(g, u, db);
           },
           py::arg("gnb"), py::arg("ue"), py::arg("db"))
        .def(
            "set_subband_gain",
            [](PyRadioTestBed& b, uint32_t g, uint32_t u, const DoubleArray& gain) {
                b.Bed().GetFixedGainChannel()->SetSubbandGain(g, u, ToVector(gain));
            },
            py::arg("gnb"), py::arg("ue"), py::arg("gain"))
        .def("path_gain_db",
             [](PyRadioTestBed& b, uint32_t g, uint32_t u) {
                 return b.Channel()->GetPathGainDb(g, u);
             })
        .def(
            "is_los",
            [](PyRadioTestBed& b, uint32_t g, uint32_t u) {
                b.Built();
                return b.Channel()->IsLos(g, u);
            },
            py::arg("gnb"), py::arg("ue"))
        .def(
            "los_angles",
            [](PyRadioTestBed& b, uint32_t g, uint32_t u) {
                b.Built();
                return b.Channel()->GetLosAngles(g, u);
            },
            py::arg("gnb"), py::arg("ue"), "(azimuth, inclination) from the gNB to the UE, rad.")
        .def(
            "gnb_steering_vector",
            [](PyRadioTestBed& b, uint32_t g, double az, double incl) {
                b.Built();
                return ToArray(b.Channel()->GetGnbSteeringVector(g, az, incl));
            },
            py::arg("gnb"), py::arg("azimuth"), py::arg("inclination"))
        .def(
            "gnb_beam",
            [](PyRadioTestBed& b, uint32_t g, uint32_t u) {
                b.Built();
                return ToArray(b.Channel()->GetGnbBeam(g, u));
            },
            py::arg("gnb"), py::arg("ue"))
        .def("set_gnb_beam", &SetGnbBeam, py::arg("gnb"), py::arg("ue"), py::arg("w"),
             "Set gNB g's beam toward UE u from now on (normalised; the channel's SetGnbBeam).")
        .def(
            "beam_gain",
            [](PyRadioTestBed& b, uint32_t g, uint32_t v, uint32_t u) {
                b.Built();
                return ToArray(b.Channel()->GetBeamGain(g, v, u));
            },
            py::arg("gnb"), py::arg("beam_ue"), py::arg("ue"),
            "|w_u^H H w_(g,v)|^2 times the path gain, per subband (linear).");
    RegisterLayout(cls);
}

} // namespace

void
register_radio_test_bed(py::module_& m)
{
    py::class_<PyRadioTestBed> cls(
        m,
        "NrRadioTestBed",
        "An NR radio network (ns3::NrRadioTestBed: an NrRadioHelper with cells, UEs, "
        "NrNetDevices and the channel, and traffic per UE) in the CoSim of this process. "
        "Attributes are given as strings: helper (ns3::NrRadioHelper), mac (ns3::NrCellMac), "
        "device (ns3::NrNetDevice), channel_attrs (the channel's TypeId).");
    cls.def(py::init<CoSim&, uint32_t, uint32_t, const py::dict&, const py::dict&,
                     const py::dict&, const py::dict&, const std::string&, int64_t>(),
            py::arg("sim"), py::arg("n_cells") = 1, py::arg("n_ues") = 1,
            py::arg("helper") = py::dict(), py::arg("mac") = py::dict(),
            py::arg("device") = py::dict(), py::arg("channel_attrs") = py::dict(),
            py::arg("channel") = "fixed", py::arg("stream") = 1000, py::keep_alive<1, 2>())
        .def(
            "add_bler_curve",
            [](PyRadioTestBed& b, const py::object& channel, const py::object& table,
               uint32_t mcs, const DoubleArray& snr, const DoubleArray& cbs,
               const DoubleArray& bler) {
                AddBlerCurve(*b.Bed().GetBlerModel(), channel, table, mcs, snr, cbs, bler);
            },
            py::arg("channel"), py::arg("table"), py::arg("mcs"), py::arg("snr_db"),
            py::arg("cb_sizes"), py::arg("bler"))
        .def(
            "set_eesm_betas",
            [](PyRadioTestBed& b, const py::object& table, const DoubleArray& betas) {
                b.Bed().GetBlerModel()->SetEesmBetas(ToTable(table), ToVector(betas));
            },
            py::arg("table"), py::arg("betas"))
        .def("build", &Build, py::arg("ipv4") = true);
    RegisterTraffic(cls);
    RegisterCell(cls);
    RegisterChannel(cls);
}

} // namespace edgelam
