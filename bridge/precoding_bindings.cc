// SPDX-License-Identifier: GPL-2.0-only
// register_precoding: the air-interface building blocks (ns3_scenarios/model/nr-precoding.h):
// MRT/ZF/RZF precoders, per-layer MMSE SINR, semi-orthogonal user selection. Conversions only.
#include "bindings.h"
#include "conversions.h"

#include "ns3/nr-complex-matrix.h"
#include "ns3/nr-precoding.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <optional>
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
}

} // namespace edgelam
