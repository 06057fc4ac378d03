// SPDX-License-Identifier: GPL-2.0-only
// register_phy: the NR PHY abstraction (ns3_scenarios/model/nr-mcs-table.h, nr-tbs.h,
// nr-bandwidth.h, nr-bler-model.h): MCS tables, TBS, PRBs per bandwidth, BLER model.
#include "bindings.h"
#include "conversions.h"

#include "ns3/double.h"
#include "ns3/nr-bandwidth.h"
#include "ns3/nr-bler-model.h"
#include "ns3/nr-mcs-table.h"
#include "ns3/nr-spec-tables.h"
#include "ns3/nr-tbs.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>
#include <tuple>
#include <string>

namespace py = pybind11;

namespace edgelam
{

namespace
{

using ns3::NrBlerModel;
using ns3::NrMcsTable;

py::dict
TbsInfoToDict(const ns3::NrTbsInfo& i)
{
    py::dict d;
    d["tbs"] = i.tbs;
    d["n_re"] = i.nRe;
    d["n_info"] = i.nInfo;
    d["n_info_quantized"] = i.nInfoQuantized;
    d["num_code_blocks"] = i.numCodeBlocks;
    d["code_block_size"] = i.codeBlockSize;
    d["tb_crc_bits"] = i.tbCrcBits;
    d["cb_crc_bits"] = i.cbCrcBits;
    d["ldpc_base_graph"] = i.ldpcBaseGraph;
    return d;
}

/// The arguments of TS 38.214 §5.1.3.2 shared by the TBS functions (after n_prb, mcs, table).
struct TbsArgs
{
    uint32_t nSymb;   //!< N_symb^sh
    uint32_t nDmrs;   //!< N_DMRS^PRB
    uint32_t nOh;     //!< N_oh^PRB
    uint32_t layers;  //!< v
};

/**
 * Define a function f(n_prb, mcs, table, n_symb=14, n_dmrs_per_prb=12, n_oh_per_prb=0,
 * layers=1) on the module; fn(nPrb, mcs, table, TbsArgs) computes its result.
 */
template <typename Fn>
void
DefTbs(py::module_& m, const char* name, Fn fn, const char* doc)
{
    m.def(
        name,
        [fn](uint32_t nPrb, uint32_t mcs, const py::object& table, uint32_t nSymb, uint32_t nDmrs,
             uint32_t nOh, uint32_t layers) {
            return fn(nPrb, mcs, ToTable(table), TbsArgs{nSymb, nDmrs, nOh, layers});
        },
        py::arg("n_prb"),
        py::arg("mcs"),
        py::arg("table"),
        py::arg("n_symb") = 14,
        py::arg("n_dmrs_per_prb") = 12,
        py::arg("n_oh_per_prb") = 0,
        py::arg("layers") = 1,
        doc);
}

py::dict
McsChoiceToDict(const NrBlerModel::McsChoice& c)
{
    py::dict d;
    d["mcs"] = c.mcs;
    d["meets_target"] = c.meetsTarget;
    d["sinr_eff_db"] = c.sinrEffDb;
    d["cbler"] = c.cbler;
    d["tbler"] = c.tbler;
    d["tbs"] = TbsInfoToDict(c.tbs);
    return d;
}

/// Apply f elementwise to a float array (or scalar), keeping its shape.
template <typename F>
py::object
Map(const DoubleArray& x, F f)
{
    py::array_t<double> out(std::vector<py::ssize_t>(x.shape(), x.shape() + x.ndim()));
    const double* in = x.data();
    double* o = out.mutable_data();
    for (py::ssize_t i = 0; i < x.size(); ++i)
    {
        o[i] = f(in[i]);
    }
    if (x.ndim() == 0)
    {
        return py::float_(o[0]);
    }
    return std::move(out);
}

/// Owner of an ns3::NrBlerModel for Python.
class PyBlerModel
{
  public:
    PyBlerModel(double targetBler, double minBler)
        : m_model(ns3::CreateObject<NrBlerModel>())
    {
        SetTarget(targetBler);
        SetMinBler(minBler);
    }

    NrBlerModel& operator*() const
    {
        return *m_model;
    }

    double GetTarget() const
    {
        ns3::DoubleValue v;
        m_model->GetAttribute("TargetBler", v);
        return v.Get();
    }

    void SetTarget(double t)
    {
        if (!(t >= 0 && t <= 1))
        {
            throw py::value_error("target BLER must be in [0, 1]");
        }
        m_model->SetAttribute("TargetBler", ns3::DoubleValue(t));
    }

    double GetMinBler() const
    {
        ns3::DoubleValue v;
        m_model->GetAttribute("MinBler", v);
        return v.Get();
    }

    void SetMinBler(double b)
    {
        if (!(b > 0 && b <= 1))
        {
            throw py::value_error("min_bler must be in (0, 1]");
        }
        m_model->SetAttribute("MinBler", ns3::DoubleValue(b));
    }

  private:
    ns3::Ptr<NrBlerModel> m_model;
};

void
RegisterTables(py::module_& m)
{
    m.def(
        "nr_mcs",
        [](const py::object& table, uint32_t mcs) {
            const auto r = NrMcsTable::Get(ToTable(table), mcs);
            return py::make_tuple(r.qm, r.rateX1024, r.spectralEfficiency);
        },
        py::arg("table"),
        py::arg("mcs"),
        "(Q_m, R x 1024, spectral efficiency) of an MCS index, TS 38.214 Table 5.1.3.1-x.");
    m.def(
        "nr_num_mcs",
        [](const py::object& table) { return NrMcsTable::GetNumMcs(ToTable(table)); },
        py::arg("table"),
        "Number of non-reserved MCS indices of a TS 38.214 MCS table.");
    m.def(
        "nr_max_spectral_efficiency",
        [](const py::object& table) {
            return NrMcsTable::GetMaxSpectralEfficiency(ToTable(table));
        },
        py::arg("table"),
        "Highest spectral efficiency Q_m x R of a TS 38.214 MCS table [bit/RE/layer] (the one "
        "the MAC's rate estimates saturate at, for qam256).");
    DefTbs(
        m,
        "nr_tbs",
        [](uint32_t nPrb, uint32_t mcs, NrMcsTable::Table t, const TbsArgs& a) {
            return ns3::NrTbs::Compute(nPrb, mcs, t, a.nSymb, a.nDmrs, a.nOh, a.layers);
        },
        "Transport block size [bits], TS 38.214 §5.1.3.2.");
    DefTbs(
        m,
        "nr_tbs_info",
        [](uint32_t nPrb, uint32_t mcs, NrMcsTable::Table t, const TbsArgs& a) {
            return TbsInfoToDict(
                ns3::NrTbs::ComputeInfo(nPrb, mcs, t, a.nSymb, a.nDmrs, a.nOh, a.layers));
        },
        "TBS with N_RE, N_info, N'_info and code-block segmentation (TS 38.212 §5.2.2).");
    // the carrier's frequency range picks the table (0 Hz: none given, FR1's then FR2's)
    const auto fr = [](double carrierHz) {
        return carrierHz > 0 ? ns3::NrBandwidth::GetFrequencyRange(carrierHz)
                             : ns3::NrBandwidth::ANY_FR;
    };
    m.def(
        "nr_num_prb",
        [fr](double bw, double scs, double guard, double carrierHz) {
            return ns3::NrBandwidth::GetNumPrb(bw, scs, guard, fr(carrierHz));
        },
        py::arg("bandwidth_hz"),
        py::arg("scs_hz"),
        py::arg("guard_fraction") = ns3::NrBandwidth::kDefaultGuardFraction,
        py::arg("carrier_hz") = 0.0,
        "N_RB: TS 38.101-1/-2 Table 5.3.2-1 (the carrier's FR; carrier 0: FR1's, then FR2's) "
        "where defined, else floor(BW(1-g)/(12 SCS)).");
    m.def(
        "nr_num_prb_table",
        [fr](double bw, double scs, double carrierHz) -> std::optional<uint32_t> {
            const uint32_t n = ns3::NrBandwidth::LookupNumPrb(bw, scs, fr(carrierHz));
            return n > 0 ? std::optional<uint32_t>(n) : std::nullopt;
        },
        py::arg("bandwidth_hz"),
        py::arg("scs_hz"),
        py::arg("carrier_hz") = 0.0,
        "N_RB from TS 38.101-1/-2 Table 5.3.2-1 (the carrier's FR; carrier 0: FR1's, then "
        "FR2's), or None where they do not define it.");
    m.def(
        "nr_frequency_range",
        [](double carrierHz) {
            return static_cast<uint32_t>(ns3::NrBandwidth::GetFrequencyRange(carrierHz));
        },
        py::arg("carrier_hz"),
        "1 (FR1, 410 MHz - 7.125 GHz), 2 (FR2, 24.25 - 71 GHz) or 0 (neither).");
    m.def(
        "nr_num_prb_entries",
        [](double carrierHz) {
            const auto range = carrierHz > 0 ? ns3::NrBandwidth::GetFrequencyRange(carrierHz)
                                             : ns3::NrBandwidth::ANY_FR;
            std::vector<std::tuple<uint32_t, uint32_t, uint32_t>> out;
            if (range != ns3::NrBandwidth::FR2)
            {
                for (const auto& e : ns3::nrspec::kNrbFr1)
                {
                    out.emplace_back(e.bandwidthMhz, e.scsKhz, e.nRb);
                }
            }
            if (range != ns3::NrBandwidth::FR1)
            {
                for (const auto& e : ns3::nrspec::kNrbFr2)
                {
                    out.emplace_back(e.bandwidthMhz, e.scsKhz, e.nRb);
                }
            }
            return out;
        },
        py::arg("carrier_hz") = 0.0,
        "The (bandwidth MHz, SCS kHz, N_RB) entries of TS 38.101-1/-2 Table 5.3.2-1 for the "
        "carrier's FR (carrier 0 or outside FR1/FR2: both tables).");
    m.def("nr_data_scs_khz", &ns3::NrBandwidth::GetDataScsKhz, py::arg("carrier_hz"),
          "Subcarrier spacings NR defines for data at a carrier [kHz] (TS 38.101-1/-2 Table "
          "5.3.5-1).");
    m.def("nr_scs_hz", &ns3::NrBandwidth::GetScsHz, py::arg("numerology"),
          "Subcarrier spacing 15 kHz x 2^mu [Hz].");
    m.def(
        "nr_eesm",
        [](const DoubleArray& sinr, double beta) {
            return NrBlerModel::Eesm(sinr.data(), sinr.size(), beta);
        },
        py::arg("sinr"),
        py::arg("beta"),
        "EESM effective SINR (linear) of linear SINRs with parameter beta.");
}

void
RegisterBlerModel(py::module_& m)
{
    py::class_<PyBlerModel>(m,
                            "NrBlerModel",
                            "SINR -> BLER of NR transport blocks from AWGN tables, with EESM, "
                            "curves extended past their last point, and link adaptation "
                            "(ns3::NrBlerModel).")
        .def(py::init<double, double>(), py::arg("target_bler") = 0.1, py::arg("min_bler") = 1e-9)
        .def_property("target_bler", &PyBlerModel::GetTarget, &PyBlerModel::SetTarget)
        .def_property("min_bler", &PyBlerModel::GetMinBler, &PyBlerModel::SetMinBler)
        .def(
            "add_curve",
            [](PyBlerModel& self, const py::object& channel, const py::object& table,
               uint32_t mcs, const DoubleArray& snrDb, const DoubleArray& cbSizes,
               const DoubleArray& bler) {
                AddBlerCurve(*self, channel, table, mcs, snrDb, cbSizes, bler);
            },
            py::arg("channel"),
            py::arg("table"),
            py::arg("mcs"),
            py::arg("snr_db"),
            py::arg("cb_sizes"),
            py::arg("bler"))
        .def(
            "set_eesm_betas",
            [](PyBlerModel& self, const py::object& table, const DoubleArray& betas) {
                (*self).SetEesmBetas(ToTable(table), ToVector(betas));
            },
            py::arg("table"),
            py::arg("betas"))
        .def("finalize", [](PyBlerModel& self) { (*self).Finalize(); })
        .def(
            "has_curve",
            [](PyBlerModel& self, const py::object& channel, const py::object& table,
               uint32_t mcs) { return (*self).HasCurve(ToChannel(channel), ToTable(table), mcs); },
            py::arg("channel"),
            py::arg("table"),
            py::arg("mcs"))
        .def(
            "cbler",
            [](PyBlerModel& self, const py::object& channel, const py::object& table,
               uint32_t mcs, double cbSize, const DoubleArray& sinrDb) {
                const auto c = ToChannel(channel);
                const auto t = ToTable(table);
                return Map(sinrDb,
                           [&](double s) { return (*self).GetCbler(c, t, mcs, cbSize, s); });
            },
            py::arg("channel"),
            py::arg("table"),
            py::arg("mcs"),
            py::arg("cb_size"),
            py::arg("sinr_db"),
            "Code-block error rate at SINR [dB] (scalar or array).")
        .def(
            "tbler",
            [](PyBlerModel& self, const py::object& channel, const py::object& table,
               uint32_t mcs, double cbSize, uint32_t nCb, const DoubleArray& sinrDb) {
                const auto c = ToChannel(channel);
                const auto t = ToTable(table);
                return Map(sinrDb, [&](double s) {
                    return (*self).GetTbler(c, t, mcs, cbSize, nCb, s);
                });
            },
            py::arg("channel"),
            py::arg("table"),
            py::arg("mcs"),
            py::arg("cb_size"),
            py::arg("num_code_blocks"),
            py::arg("sinr_db"),
            "Transport-block error rate 1 - (1 - CBLER)^C at SINR [dB] (scalar or array).")
        .def(
            "eesm_beta",
            [](PyBlerModel& self, const py::object& table, uint32_t mcs) {
                return (*self).GetEesmBeta(ToTable(table), mcs);
            },
            py::arg("table"),
            py::arg("mcs"))
        .def(
            "effective_sinr",
            [](PyBlerModel& self, const DoubleArray& sinr, const py::object& table,
               uint32_t mcs) {
                return (*self).GetEffectiveSinr(ToVector(sinr), ToTable(table), mcs);
            },
            py::arg("sinr"),
            py::arg("table"),
            py::arg("mcs"),
            "EESM effective SINR (linear) of linear SINRs, with the MCS's beta.")
        .def(
            "select_mcs",
            [](PyBlerModel& self, const py::object& channel, const py::object& table,
               const DoubleArray& sinr, uint32_t nPrb, uint32_t nSymb, uint32_t nDmrs,
               uint32_t nOh, uint32_t layers, std::optional<double> target) {
                return McsChoiceToDict((*self).SelectMcs(ToChannel(channel), ToTable(table),
                                                         ToVector(sinr), nPrb, nSymb, nDmrs,
                                                         nOh, layers, target.value_or(-1.0)));
            },
            py::arg("channel"),
            py::arg("table"),
            py::arg("sinr"),
            py::arg("n_prb"),
            py::arg("n_symb") = 14,
            py::arg("n_dmrs_per_prb") = 12,
            py::arg("n_oh_per_prb") = 0,
            py::arg("layers") = 1,
            py::arg("target_bler") = py::none(),
            "Highest MCS whose TBLER at its EESM effective SINR is <= the target.");
}
} // namespace

void
register_phy(py::module_& m)
{
    RegisterTables(m);
    RegisterBlerModel(m);
}

} // namespace edgelam
