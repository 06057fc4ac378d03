// SPDX-License-Identifier: GPL-2.0-only
// register_precoding: the air-interface building blocks of ns3_scenarios/model/: MRT/ZF/RZF
// precoders, per-layer MMSE SINR, semi-orthogonal user selection (nr-precoding.h); Type I
// codebook, PMI/RI/CQI (nr-csi-report.h); PUSCH power control (nr-ul-power-control.h); HARQ-ACK
// timing (nr-harq-timing.h). Conversions only.
#include "bindings.h"
#include "conversions.h"

#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/nr-complex-matrix.h"
#include "ns3/nr-csi-report.h"
#include "ns3/nr-harq-timing.h"
#include "ns3/nr-precoding.h"
#include "ns3/nr-ul-power-control.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <optional>
#include <tuple>
#include <string>
#include <vector>

namespace py = pybind11;

namespace edgelam
{

namespace
{

using ns3::NrComplexMatrix;
using ns3::NrPrecoding;

/// A 2-D complex array as a matrix; ValueError naming the argument otherwise.
NrComplexMatrix
ToMatrix(const ComplexArray& a, const char* name)
{
    if (a.ndim() != 2)
    {
        throw py::value_error(std::string(name) + " must be a 2-D complex array, got " +
                              std::to_string(a.ndim()) + " dimensions");
    }
    const auto* p = a.data();
    return NrComplexMatrix::FromRowMajor(a.shape(0),
                                         a.shape(1),
                                         std::vector<std::complex<double>>(p, p + a.size()));
}

/// The slice [i] of a 3-D complex array as a matrix.
NrComplexMatrix
SliceToMatrix(const ComplexArray& a, py::ssize_t i)
{
    const py::ssize_t n = a.shape(1) * a.shape(2);
    const auto* p = a.data() + i * n;
    return NrComplexMatrix::FromRowMajor(a.shape(1),
                                         a.shape(2),
                                         std::vector<std::complex<double>>(p, p + n));
}

/// Copy matrices (all of one shape) into a [len, rows, cols] array, or [rows, cols] if one.
py::array_t<std::complex<double>>
MatricesToArray(const std::vector<NrComplexMatrix>& ms, bool batched)
{
    const auto r = static_cast<py::ssize_t>(ms.front().Rows());
    const auto c = static_cast<py::ssize_t>(ms.front().Cols());
    std::vector<py::ssize_t> shape{r, c};
    if (batched)
    {
        shape.insert(shape.begin(), static_cast<py::ssize_t>(ms.size()));
    }
    py::array_t<std::complex<double>> out(shape);
    auto* o = out.mutable_data();
    for (const auto& m : ms)
    {
        o = std::copy(m.Data().begin(), m.Data().end(), o);
    }
    return out;
}

/// A list of 2-D arrays, or a 3-D array, as matrices.
std::vector<NrComplexMatrix>
ToMatrices(const py::object& obj, const char* name)
{
    std::vector<NrComplexMatrix> out;
    if (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj))
    {
        for (const auto& item : obj)
        {
            out.push_back(ToMatrix(py::cast<ComplexArray>(item), name));
        }
        return out;
    }
    const auto a = py::cast<ComplexArray>(obj);
    if (a.ndim() != 3)
    {
        throw py::value_error(std::string(name) +
                              " must be a list of 2-D arrays or a 3-D complex array");
    }
    for (py::ssize_t i = 0; i < a.shape(0); ++i)
    {
        out.push_back(SliceToMatrix(a, i));
    }
    return out;
}

py::array_t<std::complex<double>>
Precoders(const ComplexArray& h,
          const std::string& scheme,
          double totalPower,
          double noiseVar,
          const std::optional<DoubleArray>& powers,
          std::optional<double> alpha)
{
    if (h.ndim() != 2 && h.ndim() != 3)
    {
        throw py::value_error("h must be [layers, tx] or [rbg, layers, tx] complex");
    }
    const bool batched = h.ndim() == 3;
    const size_t layers = h.shape(h.ndim() - 2);
    const auto p = powers ? ToVector(*powers) : NrPrecoding::EqualPowers(totalPower, layers);
    const auto s = NrPrecoding::FromString(scheme);
    std::vector<NrComplexMatrix> out;
    const py::ssize_t n = batched ? h.shape(0) : 1;
    for (py::ssize_t i = 0; i < n; ++i)
    {
        const auto m = batched ? SliceToMatrix(h, i) : ToMatrix(h, "h");
        out.push_back(NrPrecoding::Compute(s, m, p, noiseVar, alpha.value_or(-1.0)));
    }
    return MatricesToArray(out, batched);
}

py::array_t<double>
LayerSinr(const py::object& h,
          const ComplexArray& w,
          const std::vector<uint32_t>& layerUe,
          const DoubleArray& noiseVar,
          const std::optional<py::object>& interference)
{
    const auto ues = ToMatrices(h, "h");
    auto noise = ToVector(noiseVar);
    if (noise.size() == 1)
    {
        noise.assign(ues.size(), noise[0]);
    }
    std::vector<NrComplexMatrix> q;
    if (interference)
    {
        q = ToMatrices(*interference, "interference");
    }
    return ToArray(NrPrecoding::LayerSinr(ues, ToMatrix(w, "w"), layerUe, noise, q));
}

/// Set an ns-3 attribute, or raise ValueError naming it (ns-3 would abort on a bad value).
void
SetChecked(ns3::Object& o, const char* name, const ns3::AttributeValue& v, const char* pyName)
{
    if (!o.SetAttributeFailSafe(name, v))
    {
        throw py::value_error(std::string(pyName) + " has a value outside its range");
    }
}

py::dict
ReportToDict(const ns3::NrCsiReportValues& r)
{
    py::dict d;
    d["rank"] = r.rank;
    d["pmi"] = py::make_tuple(r.pmi.i11, r.pmi.i12, r.pmi.i13, r.pmi.i2);
    d["capacity"] = r.capacity;
    d["wideband_cqi"] = r.widebandCqi;
    d["subband_cqi"] = r.subbandCqi;
    std::vector<double> s = r.layerSinr;
    auto a = ToArray(s);
    if (!r.subbandCqi.empty())
    {
        a = a.reshape({static_cast<py::ssize_t>(r.subbandCqi.size()),
                       static_cast<py::ssize_t>(r.rank)});
    }
    d["layer_sinr"] = a;
    d["pmi_index"] = r.pmiIndex;
    d["tbs_bits"] = r.tbsBits;
    return d;
}

ns3::NrPmi
ToPmi(const std::tuple<uint32_t, uint32_t, uint32_t, uint32_t>& t)
{
    return ns3::NrPmi{std::get<0>(t), std::get<1>(t), std::get<2>(t), std::get<3>(t)};
}

} // namespace

py::dict
csi_rs_dict(py::dict d, const ns3::NrCsiRsState& s, uint64_t nextSlot, double slotS)
{
    const double nan = std::nan("");
    d["mode"] = "csi-rs";
    d["estimate"] = py::none(); // the gNB knows the report, not the channel
    d["estimate_path_gain_db"] = nan;
    d["external"] = false;
    d["srs_slot"] = py::none();
    d["srs_sinr_db"] = nan;
    d["report"] = py::none();
    d["age_slots"] = nan;
    d["age_s"] = nan;
    if (!s.valid)
    {
        return d;
    }
    py::dict r = ReportToDict(s.current.values);
    r["meas_slot"] = s.current.measSlot;
    r["ready_slot"] = s.current.readySlot;
    r["precoder"] = MatricesToArray({s.current.w}, false);
    d["report"] = r;
    d["age_slots"] = double(nextSlot) - double(s.current.measSlot);
    d["age_s"] = d["age_slots"].cast<double>() * slotS;
    return d;
}

namespace
{

/// Owner of an ns3::NrCsiReport and of its own BLER model for Python.
struct PyCsiReport
{
    ns3::Ptr<ns3::NrCsiReport> report;
    ns3::Ptr<ns3::NrBlerModel> bler;
};

void
RegisterCsiReport(py::module_& m)
{
    using R = ns3::NrCsiReport;
    py::class_<PyCsiReport>(m,
                            "NrCsiReport",
                            "CSI report of TS 38.214 §5.2.2: Type I single-panel codebook, "
                            "PMI/RI by capacity, 4-bit CQI at TBLER <= target "
                            "(ns3::NrCsiReport); feed it BLER curves like NrBlerModel.")
        .def(py::init([](uint32_t n1, uint32_t n2, uint32_t o1, uint32_t o2, uint32_t maxRank,
                         uint32_t cqiTable, double target, uint32_t pol) {
                 PyCsiReport p{ns3::CreateObject<R>(), ns3::CreateObject<ns3::NrBlerModel>()};
                 SetChecked(*p.report, "N1", ns3::UintegerValue(n1), "n1");
                 SetChecked(*p.report, "N2", ns3::UintegerValue(n2), "n2");
                 SetChecked(*p.report, "O1", ns3::UintegerValue(o1), "o1");
                 SetChecked(*p.report, "O2", ns3::UintegerValue(o2), "o2");
                 SetChecked(*p.report, "Polarisations", ns3::UintegerValue(pol), "polarisations");
                 SetChecked(*p.report, "MaxRank", ns3::UintegerValue(maxRank), "max_rank");
                 SetChecked(*p.report, "CqiTable", ns3::UintegerValue(cqiTable), "cqi_table");
                 SetChecked(*p.report, "TargetBler", ns3::DoubleValue(target), "target_bler");
                 p.report->GetCodebook(1); // checks N1 N2 O1 O2 now
                 p.report->SetBlerModel(p.bler);
                 return p;
             }),
             py::arg("n1") = 4,
             py::arg("n2") = 2,
             py::arg("o1") = 4,
             py::arg("o2") = 4,
             py::arg("max_rank") = 2,
             py::arg("cqi_table") = 2,
             py::arg("target_bler") = 0.1,
             py::arg("polarisations") = 2)
        .def_property_readonly("num_ports", [](const PyCsiReport& s) {
            return s.report->GetNumPorts();
        })
        .def("add_curve",
             [](PyCsiReport& s, const py::object& channel, const py::object& table, uint32_t mcs,
                const DoubleArray& snrDb, const DoubleArray& cbSizes, const DoubleArray& bler) {
                 AddBlerCurve(*s.bler, channel, table, mcs, snrDb, cbSizes, bler);
             })
        .def("set_eesm_betas",
             [](PyCsiReport& s, const py::object& table, const DoubleArray& betas) {
                 s.bler->SetEesmBetas(ToTable(table), ToVector(betas));
             })
        .def("finalize", [](PyCsiReport& s) { s.bler->Finalize(); })
        .def(
            "codebook",
            [](const PyCsiReport& s, uint32_t rank) {
                std::vector<std::tuple<uint32_t, uint32_t, uint32_t, uint32_t>> out;
                for (const auto& p : s.report->GetCodebook(rank))
                {
                    out.emplace_back(p.i11, p.i12, p.i13, p.i2);
                }
                return out;
            },
            py::arg("rank"),
            "Every PMI (i11, i12, i13, i2) of the codebook for a rank (1 or 2).")
        .def(
            "pmi_index",
            [](const PyCsiReport& s, uint32_t rank,
               const std::tuple<uint32_t, uint32_t, uint32_t, uint32_t>& pmi) {
                return s.report->GetPmiIndex(rank, ToPmi(pmi));
            },
            py::arg("rank"),
            py::arg("pmi"),
            "Position of a PMI in codebook(rank).")
        .def(
            "precoder",
            [](const PyCsiReport& s, uint32_t rank,
               const std::tuple<uint32_t, uint32_t, uint32_t, uint32_t>& pmi) {
                return MatricesToArray({s.report->GetPrecoder(rank, ToPmi(pmi))}, false);
            },
            py::arg("rank"),
            py::arg("pmi"),
            "W [ports, rank] of a PMI, Frobenius norm 1.")
        .def(
            "select_pmi",
            [](const PyCsiReport& s, const ComplexArray& h, double snr, uint32_t rank) {
                return ReportToDict(s.report->SelectPmi(ToMatrices(h, "h"), snr, rank));
            },
            py::arg("h"),
            py::arg("snr"),
            py::arg("rank"),
            "PMI of a rank maximising the mean log2 det(I + snr W^H H^H H W) over subbands of "
            "h [subband, rx, ports].")
        .def(
            "select_ri_pmi",
            [](const PyCsiReport& s, const ComplexArray& h, double snr) {
                return ReportToDict(s.report->SelectRiPmi(ToMatrices(h, "h"), snr));
            },
            py::arg("h"),
            py::arg("snr"))
        .def(
            "cqi_tbler",
            [](const PyCsiReport& s, uint32_t cqi, const DoubleArray& sinr, uint32_t nPrb,
               uint32_t nSymb, uint32_t nDmrs, uint32_t nOh, uint32_t layers) {
                return s.report->GetCqiTbler(cqi, ToVector(sinr), nPrb, nSymb, nDmrs, nOh, layers);
            },
            py::arg("cqi"),
            py::arg("sinr"),
            py::arg("n_prb"),
            py::arg("n_symb") = 12,
            py::arg("n_dmrs_per_prb") = 12,
            py::arg("n_oh_per_prb") = 0,
            py::arg("layers") = 1,
            "TBLER of a CQI's transport block at linear SINRs (EESM over them).")
        .def(
            "select_cqi",
            [](const PyCsiReport& s, const DoubleArray& sinr, uint32_t nPrb, uint32_t nSymb,
               uint32_t nDmrs, uint32_t nOh, uint32_t layers) {
                return s.report->SelectCqi(ToVector(sinr), nPrb, nSymb, nDmrs, nOh, layers);
            },
            py::arg("sinr"),
            py::arg("n_prb"),
            py::arg("n_symb") = 12,
            py::arg("n_dmrs_per_prb") = 12,
            py::arg("n_oh_per_prb") = 0,
            py::arg("layers") = 1,
            "The highest CQI with TBLER <= target at linear SINRs; 0 if none.")
        .def(
            "report",
            [](const PyCsiReport& s, const ComplexArray& h, double snr, uint32_t nPrbSb,
               uint32_t nSymb, uint32_t nDmrs, uint32_t nOh) {
                return ReportToDict(
                    s.report->Report(ToMatrices(h, "h"), snr, nPrbSb, nSymb, nDmrs, nOh));
            },
            py::arg("h"),
            py::arg("snr"),
            py::arg("n_prb_per_subband"),
            py::arg("n_symb") = 12,
            py::arg("n_dmrs_per_prb") = 12,
            py::arg("n_oh_per_prb") = 0,
            "RI, PMI, per-subband layer SINRs, wideband and subband CQI from h "
            "[subband, rx, ports] at snr (total power over noise).")
        .def_static(
            "cqi_entry",
            [](uint32_t table, uint32_t cqi) {
                const auto e = R::GetCqiEntry(table, cqi);
                return py::make_tuple(e.qm, e.rateX1024, e.efficiency);
            },
            py::arg("table"),
            py::arg("cqi"),
            "(Q_m, R x 1024, efficiency) of TS 38.214 Table 5.2.2.1-2 (1) or -3 (2).")
        .def_static(
            "cqi_to_mcs",
            [](uint32_t table, uint32_t cqi) {
                const auto [t, mcs] = R::CqiToMcs(table, cqi);
                return py::make_tuple(static_cast<uint32_t>(t), mcs);
            },
            py::arg("table"),
            py::arg("cqi"),
            "(MCS table 1..4, MCS index) with the CQI's modulation and code rate.")
        .def_static("subband_differential_cqi", &R::SubbandDifferentialCqi,
                    py::arg("subband_cqi"), py::arg("wideband_cqi"));
}

/// Owner of an ns3::NrUlPowerControl for Python.
struct PyUlPowerControl
{
    ns3::Ptr<ns3::NrUlPowerControl> pc;
};

/// Owner of an ns3::NrHarqTiming for Python.
struct PyHarqTiming
{
    ns3::Ptr<ns3::NrHarqTiming> timing;
};

void
RegisterUplink(py::module_& m)
{
    using Pc = PyUlPowerControl;
    py::class_<Pc>(m, "NrUlPowerControl",
                   "PUSCH power of TS 38.213 §7.1.1 with closed-loop TPC "
                   "(ns3::NrUlPowerControl).")
        .def(py::init([](double p0, double p0Ue, double alpha, double pCmax, double pMin,
                         double ks, double beta, bool acc) {
                 Pc p{ns3::CreateObject<ns3::NrUlPowerControl>()};
                 auto& o = *p.pc;
                 SetChecked(o, "P0NominalPusch", ns3::DoubleValue(p0), "p0_nominal_dbm");
                 SetChecked(o, "P0UePusch", ns3::DoubleValue(p0Ue), "p0_ue_db");
                 SetChecked(o, "Alpha", ns3::DoubleValue(alpha), "alpha");
                 SetChecked(o, "PcMax", ns3::DoubleValue(pCmax), "p_cmax_dbm");
                 SetChecked(o, "PMin", ns3::DoubleValue(pMin), "p_min_dbm");
                 SetChecked(o, "Ks", ns3::DoubleValue(ks), "ks");
                 SetChecked(o, "BetaOffset", ns3::DoubleValue(beta), "beta_offset");
                 SetChecked(o, "TpcAccumulation", ns3::BooleanValue(acc), "tpc_accumulation");
                 return p;
             }),
             py::arg("p0_nominal_dbm") = -90.0,
             py::arg("p0_ue_db") = 0.0,
             py::arg("alpha") = 1.0,
             py::arg("p_cmax_dbm") = 23.0,
             py::arg("p_min_dbm") = -40.0,
             py::arg("ks") = 0.0,
             py::arg("beta_offset") = 1.0,
             py::arg("tpc_accumulation") = true)
        .def(
            "receive_tpc", [](Pc& s, uint32_t tpc) { s.pc->ReceiveTpc(tpc); }, py::arg("tpc"))
        .def(
            "pusch_power_dbm",
            [](Pc& s, uint32_t rb, uint32_t mu, double pl, double bpre) {
                return s.pc->ComputePuschPowerDbm(rb, mu, pl, bpre);
            },
            py::arg("num_rb"),
            py::arg("numerology"),
            py::arg("path_loss_db"),
            py::arg("bpre") = 0.0,
            "P_PUSCH [dBm] of the next occasion (closes the occasion for TPC accumulation).")
        .def_property_readonly("closed_loop_db",
                               [](const Pc& s) { return s.pc->GetClosedLoopDb(); })
        .def("reset_closed_loop", [](Pc& s) { s.pc->ResetClosedLoop(); })
        .def_static("tpc_delta_db", &ns3::NrUlPowerControl::TpcDeltaDb, py::arg("tpc"),
                    py::arg("accumulated") = true);
    using Ht = PyHarqTiming;
    py::class_<Ht>(m, "NrHarqTiming",
                   "HARQ-ACK slot of a PDSCH in a TDD pattern (ns3::NrHarqTiming).")
        .def(py::init([](const std::string& pattern, bool sUl, uint32_t k1Min) {
                 Ht t{ns3::CreateObject<ns3::NrHarqTiming>()};
                 SetChecked(*t.timing, "Pattern", ns3::StringValue(pattern), "pattern");
                 SetChecked(*t.timing, "SpecialSlotUplink", ns3::BooleanValue(sUl),
                            "special_slot_uplink");
                 SetChecked(*t.timing, "K1Min", ns3::UintegerValue(k1Min), "k1_min");
                 return t;
             }),
             py::arg("pattern") = "DDDSU",
             py::arg("special_slot_uplink") = false,
             py::arg("k1_min") = 1)
        .def(
            "ack_slot", [](const Ht& s, uint64_t n) { return s.timing->GetAckSlot(n); },
            py::arg("data_slot"))
        .def(
            "k1", [](const Ht& s, uint64_t n) { return s.timing->GetK1(n); },
            py::arg("data_slot"));
}

} // namespace

void
register_precoding(py::module_& m)
{
    m.def("nr_precoder",
          &Precoders,
          py::arg("h"),
          py::arg("scheme"),
          py::arg("total_power") = 1.0,
          py::arg("noise_var") = 1.0,
          py::arg("powers") = py::none(),
          py::arg("alpha") = py::none(),
          "Precoders W [tx, layers] (or [rbg, tx, layers]) from layer channels h [layers, tx] "
          "(or [rbg, layers, tx]): 'mrt', 'zf' or 'rzf', column l of norm^2 p_l (powers, "
          "default total_power split equally); RZF alpha default noise_var L / P "
          "(ns3::NrPrecoding::Compute).");
    m.def("nr_layer_sinr",
          &LayerSinr,
          py::arg("h"),
          py::arg("w"),
          py::arg("layer_ue"),
          py::arg("noise_var"),
          py::arg("interference") = py::none(),
          "Linear SINR per layer with an MMSE receiver: h the UEs' channels [rx, tx] (a list "
          "or a [ue, rx, tx] array), w [tx, layers] with powers, layer_ue the UE of each "
          "layer, noise_var per UE (or one value), interference an inter-cell covariance "
          "[rx, rx] per UE (ns3::NrPrecoding::LayerSinr).");
    m.def(
        "nr_eigen_layer_channels",
        [](const ComplexArray& hu, uint32_t layers) {
            return MatricesToArray({NrPrecoding::EigenLayerChannels(ToMatrix(hu, "h"), layers)},
                                   false);
        },
        py::arg("h"),
        py::arg("layers"),
        "Eigen-mode layer channels u_l^H H [layers, tx] of a UE's channel h [rx, tx], "
        "dominant first (ns3::NrPrecoding::EigenLayerChannels).");
    m.def(
        "nr_select_users",
        [](const ComplexArray& h, const DoubleArray& weights, uint32_t maxLayers, double eps,
           double snr) {
            return NrPrecoding::SelectUsers(ToMatrix(h, "h"), ToVector(weights), maxLayers, eps,
                                            snr);
        },
        py::arg("h"),
        py::arg("weights"),
        py::arg("max_layers"),
        py::arg("epsilon"),
        py::arg("snr") = 0.0,
        "Semi-orthogonal user selection (Yoo & Goldsmith) on weight x metric: the rows of h "
        "[users, tx] picked, in order (ns3::NrPrecoding::SelectUsers).");
    RegisterCsiReport(m);
    RegisterUplink(m);
}

} // namespace edgelam
