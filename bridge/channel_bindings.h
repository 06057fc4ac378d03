// SPDX-License-Identifier: GPL-2.0-only
// Bindings of the TR 38.901 NR channel (ThreeGppNrChannel), its beam policies (NrBeamManager)
// and the NrChannelTestBed helper that owns the nodes. Glue only.
#ifndef EDGELAM_BRIDGE_CHANNEL_BINDINGS_H
#define EDGELAM_BRIDGE_CHANNEL_BINDINGS_H

#include <pybind11/pybind11.h>

namespace edgelam
{

/**
 * Register the channel classes on the extension module.
 * \param m the module
 */
void RegisterChannel(pybind11::module_& m);

} // namespace edgelam

#endif
