// SPDX-License-Identifier: GPL-2.0-only
// edgelam_ns3._core: the in-process bridge between Python and ns-3 3.37, one area at a time
// (bindings.h).
#include "bindings.h"
#include "cosim.h" // CoSim is complete where its class object is built

#include <pybind11/pybind11.h>

PYBIND11_MODULE(_core, m)
{
    m.doc() = "In-process bridge to ns-3 (private; use edgelam_ns3.sim).";
    m.attr("NS3_VERSION") = "3.37";
    auto cosim = edgelam::register_cosim(m);
    edgelam::register_cosim_radio(cosim);
    edgelam::register_phy(m);
    edgelam::register_channel_test_bed(m);
    edgelam::register_radio_test_bed(m);
    edgelam::register_precoding(m);
    edgelam::register_ns3_tests(m);
}
