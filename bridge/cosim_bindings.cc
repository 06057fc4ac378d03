// SPDX-License-Identifier: GPL-2.0-only
// register_cosim: the simulation of this process (CoSim) as Python drives it.
#include "bindings.h"
#include "conversions.h"
#include "cosim.h"

#include <pybind11/stl.h>

namespace py = pybind11;

namespace edgelam
{

py::class_<CoSim>
register_cosim(py::module_& m)
{
    py::class_<CoSim> cls(m, "CoSim", "The ns-3 simulation of this process (one at a time).");
    cls.def(py::init<uint32_t, uint32_t>(), py::arg("seed"), py::arg("run") = 1)
        .def("add_node", &CoSim::AddNode, py::arg("name"))
        .def("add_link", &CoSim::AddLink, py::arg("a"), py::arg("b"), py::arg("rate_bps"),
             py::arg("delay_s"), py::arg("queue_packets"), py::arg("mtu_bytes") = 1500)
        .def("finalize", &CoSim::Finalize, py::arg("tcp_segment_size") = 1448,
             py::arg("tcp_buffer_bytes") = 1 << 20, py::arg("frame_header_bytes") = 16)
        .def("add_onoff", &CoSim::AddOnOff, py::arg("src"), py::arg("dst"), py::arg("rate_bps"),
             py::arg("mean_on_s"), py::arg("mean_off_s"), py::arg("packet_size"),
             py::arg("start_s"), py::arg("stream"), py::arg("port") = 9)
        .def("sink_rx_bytes", &CoSim::SinkRxBytes, py::arg("node"), py::arg("port") = 9,
             "Bytes received so far by the UDP sink of a cross-traffic flow.")
        .def("add_replay", &CoSim::AddReplay, py::arg("src"), py::arg("dst"), py::arg("times_s"),
             py::arg("bytes"))
        .def_property_readonly("now", &CoSim::Now)
        .def("schedule", &CoSim::Schedule, py::arg("delay_s"), py::arg("fn"))
        .def("every", &CoSim::Every, py::arg("period_s"), py::arg("fn"),
             py::arg("arg") = py::none(), py::arg("refresh_links") = true)
        .def("cancel", &CoSim::Cancel, py::arg("every_id"))
        .def("run", &CoSim::Run, py::arg("until_s") = py::none())
        .def("stop", &CoSim::Stop)
        .def("destroy", &CoSim::Destroy)
        .def("set_delivery_handler", &CoSim::SetDeliveryHandler, py::arg("fn"))
        .def("send", &CoSim::Send, py::arg("src"), py::arg("dst"), py::arg("nbytes"),
             py::arg("udp") = false)
        .def_property_readonly("in_flight", &CoSim::InFlight)
        .def("set_link_rate", &CoSim::SetLinkRate, py::arg("link"), py::arg("rate_bps"))
        .def("set_link_trace", &CoSim::SetLinkTrace, py::arg("link"), py::arg("times_s"),
             py::arg("rates_bps"), py::arg("delays_s"), py::arg("losses"),
             py::arg("base_delay_s"), py::arg("loop_period_s"), py::arg("min_rate_bps"),
             py::arg("stream"), py::arg("access_delay_s") = 0.0)
        .def("set_link_share", &CoSim::SetLinkShare, py::arg("link"), py::arg("share"))
        .def("share_link_traces", &CoSim::ShareLinkTraces, py::arg("links"))
        .def("refresh_links", &CoSim::RefreshLinks)
        .def_property_readonly("n_directed_links",
                               [](CoSim& s) { return s.Network()->GetNDirectedLinks(); })
        .def_property_readonly("link_src", [](CoSim& s) { return s.Network()->GetLinkSrc(); })
        .def_property_readonly("link_dst", [](CoSim& s) { return s.Network()->GetLinkDst(); })
        .def(
            "link_views",
            [](py::object self) {
                auto net = self.cast<CoSim&>().Network();
                py::dict d;
                d["rate_bps"] = View(net->GetRateBps(), self);
                d["queue_bytes"] = View(net->GetQueueBytes(), self);
                d["delivered_bytes"] = View(net->GetDeliveredBytes(), self);
                d["dropped_packets"] = View(net->GetDroppedPackets(), self);
                return d;
            },
            "Zero-copy numpy views of the per-directed-link counters (valid while the "
            "simulation lives; refreshed before each every() callback).")
        .def(
            "bench_buffer",
            [](py::object self, size_t nbytes) {
                auto& v = self.cast<CoSim&>().BenchBuffer();
                v.assign(nbytes / sizeof(double), 0.0);
                return View(v, self);
            },
            py::arg("nbytes"),
            "A C++-owned buffer of nbytes as a zero-copy numpy view (invalid after the next "
            "call); for benchmarks of state hand-off.");
    return cls;
}

} // namespace edgelam
