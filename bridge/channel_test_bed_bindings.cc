// SPDX-License-Identifier: GPL-2.0-only
// register_channel_test_bed: the TR 38.901 channel (ThreeGppNrChannel), its beam policies
// (NrBeamManager) and the NrChannelTestBed helper that owns the nodes.
#include "bindings.h"

// pybind11 first: ns-3's three-gpp-channel-model.h includes C's <complex.h>, whose macro I
// breaks pybind11's templates.
#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "conversions.h"
#include "cosim.h"

#include "ns3/nr-beam-manager.h"
#include "ns3/nr-channel-test-bed.h"
#include "ns3/three-gpp-nr-channel.h"
#ifdef I
#undef I
#endif

#include <array>
#include <complex>
#include <memory>
#include <string>
#include <vector>

namespace py = pybind11;

namespace edgelam
{

namespace
{

using Complex = std::complex<double>;
using ns3::NrBeamManager;
using ns3::NrChannelTestBed;
using ns3::ThreeGppNrChannel;

ns3::Vector
ToPosition(const std::array<double, 3>& v)
{
    return ns3::Vector(v[0], v[1], v[2]);
}

ns3::Time
ToTime(double s)
{
    if (!(s >= 0))
    {
        throw py::value_error("a period must be >= 0 s");
    }
    return ns3::Seconds(s);
}

/** The test bed with its beam manager, as Python holds it. */
class PyChannelTestBed
{
  public:
    PyChannelTestBed(CoSim&, const std::string& scenario, double carrierHz, double bandwidthHz,
                     uint32_t nSubbands, double updatePeriodS, bool shadowing,
                     const std::string& condition, double fadingUpdatePeriodS)
        : m_bed(scenario, carrierHz, bandwidthHz, nSubbands, ToTime(updatePeriodS), shadowing,
                condition, ToTime(fadingUpdatePeriodS))
    {
    }

    NrChannelTestBed& Bed()
    {
        return m_bed;
    }

    ThreeGppNrChannel& Ch()
    {
        return *m_bed.GetChannel();
    }

    NrBeamManager& Beams()
    {
        auto b = m_bed.GetBeamManager();
        if (!b)
        {
            throw std::logic_error("no beam manager: call install_beam_manager() first");
        }
        return *b;
    }

  private:
    NrChannelTestBed m_bed;
};

} // namespace

void
register_channel_test_bed(py::module_& m)
{
    py::class_<PyChannelTestBed>(
        m,
        "NrChannelTestBed",
        "A TR 38.901 channel (ns-3 ThreeGppChannelModel, path loss, LOS condition) between gNBs "
        "and UEs placed at given positions, with beams. Create it while a CoSim is alive; its "
        "clock is the simulation's. Channel matrices are [rx, tx, subband] complex128, large-"
        "scale loss excluded; gains are linear with the path gain included.")
        .def(py::init<CoSim&, const std::string&, double, double, uint32_t, double, bool,
                      const std::string&, double>(),
             py::arg("sim"), py::arg("scenario"), py::arg("carrier_hz"), py::arg("bandwidth_hz"),
             py::arg("n_subbands"), py::arg("update_period_s") = 0.0,
             py::arg("shadowing") = true, py::arg("condition") = "3gpp",
             py::arg("fading_update_period_s") = 0.0, py::keep_alive<1, 2>())
        .def(
            "add_gnb",
            [](PyChannelTestBed& b, std::array<double, 3> pos, uint32_t rows, uint32_t cols,
               double txPowerDbm, double bearingRad) {
                return b.Bed().AddGnb(ToPosition(pos), rows, cols, txPowerDbm, bearingRad);
            },
            py::arg("pos"), py::arg("rows") = 8, py::arg("cols") = 8,
            py::arg("tx_power_dbm") = 43.0, py::arg("bearing_rad") = 0.0,
            "Add a gNB at pos (m); returns its index.")
        .def(
            "add_ue",
            [](PyChannelTestBed& b, std::array<double, 3> pos, std::array<double, 3> vel,
               uint32_t rows, uint32_t cols, double txPowerDbm, double nfDb) {
                return b.Bed().AddUe(ToPosition(pos), ToPosition(vel), rows, cols, txPowerDbm,
                                     nfDb);
            },
            py::arg("pos"), py::arg("velocity") = py::make_tuple(0.0, 0.0, 0.0),
            py::arg("rows") = 1, py::arg("cols") = 1, py::arg("tx_power_dbm") = 23.0,
            py::arg("noise_figure_db") = 9.0,
            "Add a UE at pos (m) moving at velocity (m/s); returns its index.")
        .def(
            "set_ue_position",
            [](PyChannelTestBed& b, uint32_t u, std::array<double, 3> pos) {
                b.Bed().SetUePosition(u, ToPosition(pos));
            },
            py::arg("ue"), py::arg("pos"))
        .def(
            "ue_position",
            [](PyChannelTestBed& b, uint32_t u) {
                auto p = b.Bed().GetUePosition(u);
                return std::array<double, 3>{p.x, p.y, p.z};
            },
            py::arg("ue"))
        .def(
            "assign_streams",
            [](PyChannelTestBed& b, int64_t s) { return b.Bed().AssignStreams(s); },
            py::arg("stream"), "Fix the random streams (deterministic channels for a seed).")
        .def_property_readonly("n_gnbs", [](PyChannelTestBed& b) { return b.Ch().GetNGnbs(); })
        .def_property_readonly("n_ues", [](PyChannelTestBed& b) { return b.Ch().GetNUes(); })
        .def_property_readonly("n_subbands",
                               [](PyChannelTestBed& b) { return b.Ch().GetNSubbands(); })
        .def_property_readonly("n_updates",
                               [](PyChannelTestBed& b) { return b.Ch().GetNUpdates(); })
        .def(
            "subband_frequencies",
            [](PyChannelTestBed& b) {
                std::vector<double> f(b.Ch().GetNSubbands());
                for (uint32_t i = 0; i < f.size(); ++i)
                {
                    f[i] = b.Ch().GetSubbandFrequency(i);
                }
                return ToArray(f);
            },
            "Centre frequency of each subband, Hz.")
        .def(
            "n_gnb_antennas",
            [](PyChannelTestBed& b, uint32_t g) { return b.Ch().GetNGnbAntennas(g); },
            py::arg("gnb"))
        .def(
            "n_ue_antennas",
            [](PyChannelTestBed& b, uint32_t u) { return b.Ch().GetNUeAntennas(u); },
            py::arg("ue"))
        .def(
            "channel_matrix",
            [](PyChannelTestBed& b, uint32_t g, uint32_t u) {
                auto& ch = b.Ch();
                const auto& h = ch.GetChannelMatrix(g, u);
                py::array_t<Complex> a({static_cast<py::ssize_t>(ch.GetNUeAntennas(u)),
                                        static_cast<py::ssize_t>(ch.GetNGnbAntennas(g)),
                                        static_cast<py::ssize_t>(ch.GetNSubbands())});
                std::copy(h.begin(), h.end(), a.mutable_data());
                return a;
            },
            py::arg("gnb"), py::arg("ue"),
            "Small-scale channel now, complex128 [rx, tx, subband] (a copy).")
        .def(
            "path_gain_db",
            [](PyChannelTestBed& b, uint32_t g, uint32_t u) { return b.Ch().GetPathGainDb(g, u); },
            py::arg("gnb"), py::arg("ue"), "-(path loss + shadowing), dB.")
        .def(
            "is_los",
            [](PyChannelTestBed& b, uint32_t g, uint32_t u) { return b.Ch().IsLos(g, u); },
            py::arg("gnb"), py::arg("ue"))
        .def(
            "los_angles",
            [](PyChannelTestBed& b, uint32_t g, uint32_t u) { return b.Ch().GetLosAngles(g, u); },
            py::arg("gnb"), py::arg("ue"), "(azimuth, inclination) from the gNB to the UE, rad.")
        .def(
            "beam_gain",
            [](PyChannelTestBed& b, uint32_t g, uint32_t v, uint32_t u) {
                return ToArray(b.Ch().GetBeamGain(g, v, u));
            },
            py::arg("gnb"), py::arg("beam_ue"), py::arg("ue"),
            "|w_u^H H w_(g,v)|^2 times the path gain, per subband (linear).")
        .def(
            "set_gnb_beam",
            [](PyChannelTestBed& b, uint32_t g, uint32_t u,
               const ComplexArray& w) {
                b.Ch().SetGnbBeam(g, u, ToWeights(w));
            },
            py::arg("gnb"), py::arg("ue"), py::arg("w"))
        .def(
            "reset_gnb_beam",
            [](PyChannelTestBed& b, uint32_t g, uint32_t u) { b.Ch().ResetGnbBeam(g, u); },
            py::arg("gnb"), py::arg("ue"), "Back to the default LOS-following beam.")
        .def(
            "gnb_beam",
            [](PyChannelTestBed& b, uint32_t g, uint32_t u) {
                return ToArray(b.Ch().GetGnbBeam(g, u));
            },
            py::arg("gnb"), py::arg("ue"))
        .def(
            "set_ue_beam",
            [](PyChannelTestBed& b, uint32_t u,
               const ComplexArray& w) {
                b.Ch().SetUeBeam(u, ToWeights(w));
            },
            py::arg("ue"), py::arg("w"))
        .def(
            "ue_beam",
            [](PyChannelTestBed& b, uint32_t u) { return ToArray(b.Ch().GetUeBeam(u)); },
            py::arg("ue"))
        .def(
            "gnb_steering_vector",
            [](PyChannelTestBed& b, uint32_t g, double az, double incl) {
                return ToArray(b.Ch().GetGnbSteeringVector(g, az, incl));
            },
            py::arg("gnb"), py::arg("azimuth"), py::arg("inclination"))
        .def(
            "ue_steering_vector",
            [](PyChannelTestBed& b, uint32_t u, double az, double incl) {
                return ToArray(b.Ch().GetUeSteeringVector(u, az, incl));
            },
            py::arg("ue"), py::arg("azimuth"), py::arg("inclination"))
        .def(
            "gnb_tx_power_w",
            [](PyChannelTestBed& b, uint32_t g) { return b.Ch().GetGnbTxPowerW(g); },
            py::arg("gnb"))
        .def(
            "ue_tx_power_w",
            [](PyChannelTestBed& b, uint32_t u) { return b.Ch().GetUeTxPowerW(u); },
            py::arg("ue"))
        .def(
            "ue_noise_w",
            [](PyChannelTestBed& b, uint32_t u) { return b.Ch().GetUeNoiseW(u); },
            py::arg("ue"), "Thermal noise of one subband at the UE, W.")
        .def(
            "gnb_noise_w",
            [](PyChannelTestBed& b, uint32_t g) { return b.Ch().GetGnbNoiseW(g); },
            py::arg("gnb"), "Thermal noise of one subband at the gNB, W.")
        .def(
            "install_beam_manager",
            [](PyChannelTestBed& b, const std::string& policy, double periodS, uint32_t over) {
                if (!(periodS > 0))
                {
                    throw py::value_error("measurement_period_s must be > 0");
                }
                b.Bed().InstallBeamManager(policy, ns3::Seconds(periodS), over);
            },
            py::arg("policy") = "DftCodebook", py::arg("measurement_period_s") = 0.02,
            py::arg("oversampling") = 2,
            "Beam policy for every UE: 'DftCodebook', 'LosDirection' or 'Ideal'.")
        .def(
            "set_beam",
            [](PyChannelTestBed& b, uint32_t u,
               const ComplexArray& w) {
                b.Beams().SetBeam(u, ToWeights(w));
            },
            py::arg("ue"), py::arg("w"),
            "Set the serving gNB's beam toward ue; pauses the policy for ue.")
        .def(
            "set_codeword",
            [](PyChannelTestBed& b, uint32_t u, uint32_t k) { b.Beams().SetCodeword(u, k); },
            py::arg("ue"), py::arg("index"),
            "Use a codeword of the serving gNB's DFT codebook; pauses the policy for ue.")
        .def(
            "resume_policy",
            [](PyChannelTestBed& b, uint32_t u) { b.Beams().Resume(u); },
            py::arg("ue"))
        .def(
            "codeword_index",
            [](PyChannelTestBed& b, uint32_t u) { return b.Beams().GetCodewordIndex(u); },
            py::arg("ue"), "Codeword in use toward ue, -1 if the beam is not a codeword.")
        .def(
            "n_codewords",
            [](PyChannelTestBed& b, uint32_t g) { return b.Beams().GetNCodewords(g); },
            py::arg("gnb"))
        .def(
            "codeword",
            [](PyChannelTestBed& b, uint32_t g, uint32_t k) {
                return ToArray(b.Beams().GetCodeword(g, k));
            },
            py::arg("gnb"), py::arg("index"))
        .def(
            "measure_codebook",
            [](PyChannelTestBed& b, uint32_t g, uint32_t u) {
                return ToArray(b.Beams().MeasureCodebook(g, u));
            },
            py::arg("gnb"), py::arg("ue"),
            "Beamformed gain summed over subbands of every codeword (path gain excluded).")
        .def(
            "serving_gnb",
            [](PyChannelTestBed& b, uint32_t u) { return b.Beams().GetServingGnb(u); },
            py::arg("ue"))
        .def(
            "set_serving_gnb",
            [](PyChannelTestBed& b, uint32_t u, uint32_t g) { b.Beams().SetServingGnb(u, g); },
            py::arg("ue"), py::arg("gnb"))
        .def("apply_beams", [](PyChannelTestBed& b) { b.Beams().ApplyAll(); },
             "Apply the beam policy now to every UE whose policy is not paused.");
}

} // namespace edgelam
