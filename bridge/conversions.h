// SPDX-License-Identifier: GPL-2.0-only
// Conversions between numpy / Python values and the C++ types of ns3_scenarios/.
#ifndef EDGELAM_BRIDGE_CONVERSIONS_H
#define EDGELAM_BRIDGE_CONVERSIONS_H

#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "ns3/nr-bler-model.h"
#include "ns3/nr-mcs-table.h"
#include "ns3/nr-radio-helper.h"

#include <complex>
#include <vector>

namespace edgelam
{

/** A float64 array argument (C order, converted if needed). */
using DoubleArray =
    pybind11::array_t<double, pybind11::array::c_style | pybind11::array::forcecast>;
/** A complex128 array argument (C order, converted if needed). */
using ComplexArray = pybind11::array_t<std::complex<double>,
                                       pybind11::array::c_style | pybind11::array::forcecast>;

/** \return the array's values, flattened (a copy) */
std::vector<double> ToVector(const DoubleArray& a);

/** \return a 1-D complex array's values (a copy); ValueError if it is not 1-D */
std::vector<std::complex<double>> ToWeights(const ComplexArray& w);

/** \return a 1-D numpy array with a copy of v */
pybind11::array_t<double> ToArray(const std::vector<double>& v);
/** \return a 1-D numpy array with a copy of v */
pybind11::array_t<std::complex<double>> ToArray(const std::vector<std::complex<double>>& v);

/** A zero-copy 1-D numpy view of a C++ vector; owner (a Python object that keeps the vector
 *  alive) becomes the array's base. The view must not outlive a resize of the vector. */
pybind11::array_t<double> View(std::vector<double>& v, pybind11::handle owner);

/** \return a dict of 1-D arrays (copies), one per named column */
pybind11::dict ToDict(const ns3::NrRadioHelper::Columns& columns);

/** An MCS table given as its number (1..4) or its RRC name ("qam64", "qam256", ...). */
ns3::NrMcsTable::Table ToTable(const pybind11::object& t);

/** A BLER channel given as Sionna's mcs_category (0 PUSCH, 1 PDSCH) or "pusch" / "pdsch". */
ns3::NrBlerModel::Channel ToChannel(const pybind11::object& c);

/** Add a BLER curve, bler given as a [len(cbSizes), len(snrDb)] array; ValueError otherwise. */
void AddBlerCurve(ns3::NrBlerModel& model, const pybind11::object& channel,
                  const pybind11::object& table, uint32_t mcs, const DoubleArray& snrDb,
                  const DoubleArray& cbSizes, const DoubleArray& bler);

} // namespace edgelam

#endif
