// SPDX-License-Identifier: GPL-2.0-only
// Bindings of the NR MAC / NetDevice layer (ns3_scenarios/model/nr-cell-mac.h, nr-net-device.h,
// fixed-gain-nr-channel.h, helper/nr-radio-helper.h): a test bed that builds a radio network
// inside a CoSim and reads its results. Glue only.
#ifndef EDGELAM_BRIDGE_NR_BINDINGS_H
#define EDGELAM_BRIDGE_NR_BINDINGS_H

#include <pybind11/pybind11.h>

namespace edgelam
{

/**
 * Register NrRadioTestBed on the extension module.
 * \param m the module
 */
void RegisterNr(pybind11::module_& m);

} // namespace edgelam

#endif
