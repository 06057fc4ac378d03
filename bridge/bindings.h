// SPDX-License-Identifier: GPL-2.0-only
// The areas of the _core extension module, each registered by one function (module.cc calls
// them in order). Bindings only: conversions between Python and the ns3_scenarios/ classes.
#ifndef EDGELAM_BRIDGE_BINDINGS_H
#define EDGELAM_BRIDGE_BINDINGS_H

#include <pybind11/pybind11.h>

namespace ns3
{
struct NrCsiRsState;
}

namespace edgelam
{

class CoSim;

/** Simulation.csi in CsiMode CsiRs: fill d with UE's report in use (precoding_bindings.cc).
 *  \param d the dict \param s its state \param nextSlot the next slot \param slotS slot, s
 *  \return d */
pybind11::dict csi_rs_dict(pybind11::dict d, const ns3::NrCsiRsState& s, uint64_t nextSlot,
                           double slotS);

/** CoSim: simulator clock, topology, message transport, cross traffic, link views
 *  (cosim_bindings.cc). \return the class, for register_cosim_radio */
pybind11::class_<CoSim> register_cosim(pybind11::module_& m);

/** The 6G radio of a CoSim: set-up, link-state views, MAC statistics, shares, beams, CSI
 *  (cosim_radio_bindings.cc). \param cls the CoSim class */
void register_cosim_radio(pybind11::class_<CoSim>& cls);

/** NR PHY abstraction: MCS tables, TBS, PRBs per bandwidth, BLER model with EESM and link
 *  adaptation (phy_bindings.cc). */
void register_phy(pybind11::module_& m);

/** NrChannelTestBed: the TR 38.901 channel and its beam manager (channel_test_bed_bindings.cc). */
void register_channel_test_bed(pybind11::module_& m);

/** NrRadioTestBed: a radio network with traffic and results (radio_test_bed_bindings.cc). */
void register_radio_test_bed(pybind11::module_& m);

/** Air-interface blocks: precoders, per-layer MMSE SINR, user selection, CSI report (Type I
 *  codebook, PMI/RI/CQI), PUSCH power control, HARQ-ACK timing (precoding_bindings.cc). */
void register_precoding(pybind11::module_& m);

/** The ns-3 TestSuites of ns3_scenarios/test/, run by name (ns3_test_bindings.cc). */
void register_ns3_tests(pybind11::module_& m);

} // namespace edgelam

#endif
