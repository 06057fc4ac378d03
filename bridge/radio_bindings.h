// SPDX-License-Identifier: GPL-2.0-only
// Bindings of the NR PHY abstraction (ns3_scenarios/model/nr-*.h): MCS tables, TBS, PRBs per
// bandwidth, the BLER model with EESM and link adaptation. Glue only.
#ifndef EDGELAM_BRIDGE_RADIO_BINDINGS_H
#define EDGELAM_BRIDGE_RADIO_BINDINGS_H

#include <pybind11/pybind11.h>

namespace edgelam
{

/**
 * Register the radio functions and classes on the extension module.
 * \param m the module
 */
void RegisterRadio(pybind11::module_& m);

} // namespace edgelam

#endif
