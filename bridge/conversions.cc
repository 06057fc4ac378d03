// SPDX-License-Identifier: GPL-2.0-only
#include "conversions.h"

#include <algorithm>
#include <string>

namespace py = pybind11;

namespace edgelam
{

std::vector<double>
ToVector(const DoubleArray& a)
{
    return std::vector<double>(a.data(), a.data() + a.size());
}

std::vector<std::complex<double>>
ToWeights(const ComplexArray& w)
{
    if (w.ndim() != 1)
    {
        throw py::value_error("a beam is a 1-D array of complex weights, one per element");
    }
    return std::vector<std::complex<double>>(w.data(), w.data() + w.size());
}

py::array_t<double>
ToArray(const std::vector<double>& v)
{
    py::array_t<double> a(static_cast<py::ssize_t>(v.size()));
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
}

py::array_t<std::complex<double>>
ToArray(const std::vector<std::complex<double>>& v)
{
    py::array_t<std::complex<double>> a(static_cast<py::ssize_t>(v.size()));
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
}

py::array_t<double>
View(std::vector<double>& v, py::handle owner)
{
    return py::array_t<double>({static_cast<py::ssize_t>(v.size())}, {sizeof(double)}, v.data(),
                               owner);
}

py::dict
ToDict(const ns3::NrRadioHelper::Columns& columns)
{
    py::dict d;
    for (const auto& [name, values] : columns)
    {
        d[py::str(name)] = ToArray(values);
    }
    return d;
}

ns3::NrMcsTable::Table
ToTable(const py::object& t)
{
    if (py::isinstance<py::str>(t))
    {
        return ns3::NrMcsTable::FromString(t.cast<std::string>());
    }
    return ns3::NrMcsTable::FromIndex(t.cast<uint32_t>());
}

ns3::NrBlerModel::Channel
ToChannel(const py::object& c)
{
    if (py::isinstance<py::str>(c))
    {
        const auto s = c.cast<std::string>();
        if (s == "pdsch" || s == "PDSCH")
        {
            return ns3::NrBlerModel::PDSCH;
        }
        if (s == "pusch" || s == "PUSCH")
        {
            return ns3::NrBlerModel::PUSCH;
        }
        throw py::value_error("channel must be 'pdsch' or 'pusch' (or 1 / 0), got '" + s + "'");
    }
    const auto v = c.cast<uint32_t>();
    if (v > 1)
    {
        throw py::value_error("channel must be 0 (PUSCH) or 1 (PDSCH), as Sionna's mcs_category");
    }
    return static_cast<ns3::NrBlerModel::Channel>(v);
}

void
AddBlerCurve(ns3::NrBlerModel& model, const py::object& channel, const py::object& table,
             uint32_t mcs, const DoubleArray& snrDb, const DoubleArray& cbSizes,
             const DoubleArray& bler)
{
    if (bler.ndim() != 2 || bler.shape(0) != cbSizes.size() || bler.shape(1) != snrDb.size())
    {
        throw py::value_error("bler must have shape [len(cb_sizes), len(snr_db)]");
    }
    model.AddCurve(ToChannel(channel), ToTable(table), mcs, ToVector(snrDb), ToVector(cbSizes),
                   ToVector(bler));
}

} // namespace edgelam
