// SPDX-License-Identifier: GPL-2.0-only
#include "radio_bindings.h"

#include "ns3/double.h"
#include "ns3/nr-bandwidth.h"
#include "ns3/nr-bler-model.h"
#include "ns3/nr-mcs-table.h"
#include "ns3/nr-tbs.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>

namespace py = pybind11;

namespace edgelam
{

namespace
{

using ns3::NrBlerModel;
using ns3::NrMcsTable;

/// An MCS table given as its number (1..4) or its RRC name ("qam64", "qam256", ...).
NrMcsTable::Table
ToTable(const py::object& t)
{
    if (py::isinstance<py::str>(t))
    {
        return NrMcsTable::FromString(t.cast<std::string>());
    }
    return NrMcsTable::FromIndex(t.cast<uint32_t>());
}

/// A channel given as Sionna's mcs_category (0 PUSCH, 1 PDSCH) or as "pusch" / "pdsch".
NrBlerModel::Channel
ToChannel(const py::object& c)
{
    if (py::isinstance<py::str>(c))
    {
        const auto s = c.cast<std::string>();
        if (s == "pdsch" || s == "PDSCH")
        {
            return NrBlerModel::PDSCH;
        }
        if (s == "pusch" || s == "PUSCH")
        {
            return NrBlerModel::PUSCH;
        }
        throw py::value_error("channel must be 'pdsch' or 'pusch' (or 1 / 0), got '" + s + "'");
    }
    const auto v = c.cast<uint32_t>();
    if (v > 1)
    {
        throw py::value_error("channel must be 0 (PUSCH) or 1 (PDSCH), as Sionna's mcs_category");
    }
    return static_cast<NrBlerModel::Channel>(v);
}

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

std::vector<double>
ToVector(const py::array_t<double, py::array::c_style | py::array::forcecast>& a)
{
    return std::vector<double>(a.data(), a.data() + a.size());
}

/// Apply f elementwise to a float array (or scalar), keeping its shape.
template <typename F>
py::object
Map(const py::array_t<double, py::array::c_style | py::array::forcecast>& x, F f)
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

} // namespace

void
RegisterRadio(py::module_& m)
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
        "nr_tbs",
        [](uint32_t nPrb, uint32_t mcs, const py::object& table, uint32_t nSymb, uint32_t nDmrs,
           uint32_t nOh, uint32_t layers) {
            return ns3::NrTbs::Compute(nPrb, mcs, ToTable(table), nSymb, nDmrs, nOh, layers);
        },
        py::arg("n_prb"),
        py::arg("mcs"),
        py::arg("table"),
        py::arg("n_symb") = 14,
        py::arg("n_dmrs_per_prb") = 12,
        py::arg("n_oh_per_prb") = 0,
        py::arg("layers") = 1,
        "Transport block size [bits], TS 38.214 §5.1.3.2.");
    m.def(
        "nr_tbs_info",
        [](uint32_t nPrb, uint32_t mcs, const py::object& table, uint32_t nSymb, uint32_t nDmrs,
           uint32_t nOh, uint32_t layers) {
            return TbsInfoToDict(
                ns3::NrTbs::ComputeInfo(nPrb, mcs, ToTable(table), nSymb, nDmrs, nOh, layers));
        },
        py::arg("n_prb"),
        py::arg("mcs"),
        py::arg("table"),
        py::arg("n_symb") = 14,
        py::arg("n_dmrs_per_prb") = 12,
        py::arg("n_oh_per_prb") = 0,
        py::arg("layers") = 1,
        "TBS with N_RE, N_info, N'_info and code-block segmentation (TS 38.212 §5.2.2).");
    m.def("nr_num_prb",
          &ns3::NrBandwidth::GetNumPrb,
          py::arg("bandwidth_hz"),
          py::arg("scs_hz"),
          py::arg("guard_fraction") = ns3::NrBandwidth::kDefaultGuardFraction,
          "N_RB: TS 38.101-1/-2 Table 5.3.2-1 where defined, else floor(BW(1-g)/(12 SCS)).");
    m.def(
        "nr_num_prb_table",
        [](double bw, double scs) -> std::optional<uint32_t> {
            const uint32_t n = ns3::NrBandwidth::LookupNumPrb(bw, scs);
            return n > 0 ? std::optional<uint32_t>(n) : std::nullopt;
        },
        py::arg("bandwidth_hz"),
        py::arg("scs_hz"),
        "N_RB from TS 38.101-1/-2 Table 5.3.2-1, or None where they do not define it.");
    m.def("nr_scs_hz", &ns3::NrBandwidth::GetScsHz, py::arg("numerology"),
          "Subcarrier spacing 15 kHz x 2^mu [Hz].");
    m.def(
        "nr_eesm",
        [](const py::array_t<double, py::array::c_style | py::array::forcecast>& sinr,
           double beta) { return NrBlerModel::Eesm(sinr.data(), sinr.size(), beta); },
        py::arg("sinr"),
        py::arg("beta"),
        "EESM effective SINR (linear) of linear SINRs with parameter beta.");

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
               uint32_t mcs,
               const py::array_t<double, py::array::c_style | py::array::forcecast>& snrDb,
               const py::array_t<double, py::array::c_style | py::array::forcecast>& cbSizes,
               const py::array_t<double, py::array::c_style | py::array::forcecast>& bler) {
                if (bler.ndim() != 2 || bler.shape(0) != cbSizes.size() ||
                    bler.shape(1) != snrDb.size())
                {
                    throw py::value_error("bler must have shape [len(cb_sizes), len(snr_db)]");
                }
                (*self).AddCurve(ToChannel(channel), ToTable(table), mcs, ToVector(snrDb),
                                 ToVector(cbSizes), ToVector(bler));
            },
            py::arg("channel"),
            py::arg("table"),
            py::arg("mcs"),
            py::arg("snr_db"),
            py::arg("cb_sizes"),
            py::arg("bler"))
        .def(
            "set_eesm_betas",
            [](PyBlerModel& self, const py::object& table,
               const py::array_t<double, py::array::c_style | py::array::forcecast>& betas) {
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
               uint32_t mcs, double cbSize,
               const py::array_t<double, py::array::c_style | py::array::forcecast>& sinrDb) {
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
               uint32_t mcs, double cbSize, uint32_t nCb,
               const py::array_t<double, py::array::c_style | py::array::forcecast>& sinrDb) {
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
            [](PyBlerModel& self,
               const py::array_t<double, py::array::c_style | py::array::forcecast>& sinr,
               const py::object& table, uint32_t mcs) {
                return (*self).GetEffectiveSinr(ToVector(sinr), ToTable(table), mcs);
            },
            py::arg("sinr"),
            py::arg("table"),
            py::arg("mcs"),
            "EESM effective SINR (linear) of linear SINRs, with the MCS's beta.")
        .def(
            "select_mcs",
            [](PyBlerModel& self, const py::object& channel, const py::object& table,
               const py::array_t<double, py::array::c_style | py::array::forcecast>& sinr,
               uint32_t nPrb, uint32_t nSymb, uint32_t nDmrs, uint32_t nOh, uint32_t layers,
               std::optional<double> target) {
                const auto c = (*self).SelectMcs(ToChannel(channel), ToTable(table),
                                                 ToVector(sinr), nPrb, nSymb, nDmrs, nOh, layers,
                                                 target.value_or(-1.0));
                py::dict d;
                d["mcs"] = c.mcs;
                d["meets_target"] = c.meetsTarget;
                d["sinr_eff_db"] = c.sinrEffDb;
                d["cbler"] = c.cbler;
                d["tbler"] = c.tbler;
                d["tbs"] = TbsInfoToDict(c.tbs);
                return d;
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

} // namespace edgelam
