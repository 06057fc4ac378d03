// SPDX-License-Identifier: GPL-2.0-only
// edgelam_ns3._core: the in-process bridge between Python and ns-3 3.37.
#include "cosim.h"
#include "radio_bindings.h"
#include "channel_bindings.h"
#include "nr_bindings.h"

#include <pybind11/pybind11.h>

#include "ns3/core-module.h"

namespace py = pybind11;

PYBIND11_MODULE(_core, m)
{
    m.doc() = "In-process bridge to ns-3 (private; use edgelam_ns3.sim).";
    m.attr("NS3_VERSION") = "3.37";
    edgelam::RegisterCoSim(m);
    edgelam::RegisterRadio(m);
    edgelam::RegisterChannel(m);
    edgelam::RegisterNr(m);
}
