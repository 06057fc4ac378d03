// SPDX-License-Identifier: GPL-2.0-only
// register_cosim_radio: the 6G radio (NrRadioHelper) inside the CoSim, as Python sees it.
#include "bindings.h"
#include "conversions.h"
#include "cosim.h"

#include "ns3/simulator.h"

#include <pybind11/stl.h>

#include <cmath>
#include <complex>
#include <string>
#include <vector>

namespace py = pybind11;

namespace edgelam
{

namespace
{
/// The radio's UE u; ValueError naming the call if there is no such UE.
uint32_t
CheckUe(CoSim& s, uint32_t u, const char* call)
{
    if (u >= s.Radio()->GetNUes())
    {
        throw py::value_error(std::string(call) + ": unknown UE");
    }
    return u;
}

void
SetBeam(CoSim& s, uint32_t u, const std::vector<std::complex<double>>& w)
{
    auto radio = s.Radio();
    CheckUe(s, u, "set_beam");
    if (s.Beams())
    {
        s.Beams()->SetBeam(u, w); // pauses the beam policy for this UE
    }
    else
    {
        radio->GetChannel()->SetGnbBeam(radio->GetServingCell(u), u, w);
    }
}

/// A [rx][tx][sb] matrix as a complex128 array of that shape (a copy).
py::array_t<std::complex<double>>
Matrix(const std::vector<std::complex<double>>& h, py::ssize_t rx, py::ssize_t tx, py::ssize_t sb)
{
    py::array_t<std::complex<double>> out({rx, tx, sb});
    std::copy(h.begin(), h.end(), out.mutable_data());
    return out;
}

py::dict
Csi(CoSim& s, uint32_t u)
{
    auto radio = s.Radio();
    CheckUe(s, u, "csi");
    auto ch = radio->GetChannel();
    const uint32_t g = radio->GetServingCell(u);
    auto mac = radio->GetCellMac(g);
    const uint32_t i = radio->GetIndexInCell(u);
    const py::ssize_t rx = ch->GetNUeAntennas(u);
    const py::ssize_t tx = ch->GetNGnbAntennas(g);
    const py::ssize_t sb = ch->GetNSubbands();
    const double slotS = mac->GetSlotDuration().GetSeconds();
    const double now = ns3::Simulator::Now().GetSeconds();
    const double nan = std::nan("");
    py::dict d;
    d["true"] = Matrix(ch->GetChannelMatrix(g, u), rx, tx, sb);
    d["path_gain_db"] = ch->GetPathGainDb(g, u);
    d["next_slot"] = mac->GetNextSlot();
    d["next_slot_s"] = mac->GetNextSlotTime().GetSeconds();
    d["slot_s"] = slotS;
    if (mac->IsCsiRsCsi())
    {
        return csi_rs_dict(d, mac->GetCsiRsState(i), mac->GetNextSlot(), slotS);
    }
    if (!mac->IsSrsCsi())
    {
        // the gNB knows the channel; its SINR measurement is CsiDelaySlots active slots old
        const double age = mac->GetCsiAgeSlots(i, ns3::NrCellMac::DL);
        d["mode"] = "ideal";
        d["estimate"] = Matrix(ch->GetChannelMatrix(g, u), rx, tx, sb);
        d["estimate_path_gain_db"] = d["path_gain_db"];
        d["age_slots"] = age < 0 ? nan : age;
        d["age_s"] = age < 0 ? nan : age * slotS;
        d["srs_slot"] = py::none();
        d["srs_sinr_db"] = nan;
        d["external"] = false;
        return d;
    }
    const auto& e = mac->GetCsiEstimate(i);
    d["mode"] = "srs";
    d["external"] = e.external;
    if (!e.valid)
    {
        d["estimate"] = py::none();
        d["estimate_path_gain_db"] = nan;
        d["age_slots"] = nan;
        d["age_s"] = nan;
        d["srs_slot"] = py::none();
        d["srs_sinr_db"] = nan;
        return d;
    }
    d["estimate"] = Matrix(e.h, rx, tx, sb);
    d["estimate_path_gain_db"] = e.pathGainDb;
    d["age_slots"] = double(mac->GetNextSlot()) - double(e.slot);
    d["age_s"] = now - e.timeS;
    d["srs_slot"] = e.slot;
    d["srs_sinr_db"] = e.sinrDb;
    return d;
}

void
SetCsi(CoSim& s, uint32_t u, py::object h, int64_t fromSlot, double pathGainDb)
{
    auto radio = s.Radio();
    CheckUe(s, u, "set_csi");
    const uint32_t g = radio->GetServingCell(u);
    auto mac = radio->GetCellMac(g);
    const uint32_t i = radio->GetIndexInCell(u);
    if (!mac->IsSrsCsi())
    {
        throw py::value_error(std::string("set_csi: the gNB's CSI is ") +
                              (mac->IsCsiRsCsi() ? "CSI-RS reports" : "ideal") +
                              ", not an SRS estimate (set radio.csi.mode: srs)");
    }
    if (h.is_none())
    {
        mac->ClearExternalCsi(i);
        return;
    }
    auto ch = radio->GetChannel();
    auto a = py::array_t<std::complex<double>, py::array::c_style | py::array::forcecast>(h);
    const std::vector<py::ssize_t> shape{ch->GetNUeAntennas(u), ch->GetNGnbAntennas(g),
                                         ch->GetNSubbands()};
    if (a.ndim() != 3 || a.shape(0) != shape[0] || a.shape(1) != shape[1] ||
        a.shape(2) != shape[2])
    {
        throw py::value_error("set_csi: H must be [rx_ant, tx_ant, subband] = [" +
                              std::to_string(shape[0]) + ", " + std::to_string(shape[1]) + ", " +
                              std::to_string(shape[2]) + "]");
    }
    std::vector<std::complex<double>> v(a.data(), a.data() + a.size());
    const double pg = std::isnan(pathGainDb) ? ch->GetPathGainDb(g, u) : pathGainDb;
    mac->SetExternalCsi(i, fromSlot < 0 ? mac->GetNextSlot() : uint64_t(fromSlot), v, pg);
}

/// A complex matrix as a [rows, cols] complex128 array (a copy).
py::array_t<std::complex<double>>
Array(const ns3::NrComplexMatrix& m)
{
    py::array_t<std::complex<double>> out({py::ssize_t(m.Rows()), py::ssize_t(m.Cols())});
    std::copy(m.Data().begin(), m.Data().end(), out.mutable_data());
    return out;
}

void
SetPrecoders(CoSim& s, uint32_t g, std::vector<uint32_t> ues, py::object w,
             std::vector<uint32_t> layerUe, int64_t fromSlot)
{
    auto radio = s.Radio();
    if (g >= radio->GetNGnbs())
    {
        throw py::value_error("set_precoders: unknown cell");
    }
    auto mac = radio->GetCellMac(g);
    const uint64_t from = fromSlot < 0 ? mac->GetNextSlot() : uint64_t(fromSlot);
    if (ues.empty())
    {
        mac->SetExternalPrecoders(from, {}, {}, {}); // control back to the MAC
        return;
    }
    for (auto& u : ues)
    {
        CheckUe(s, u, "set_precoders");
        if (radio->GetServingCell(u) != g)
        {
            throw py::value_error("set_precoders: every UE must be served by the same cell");
        }
        u = radio->GetIndexInCell(u);
    }
    auto a = py::array_t<std::complex<double>, py::array::c_style | py::array::forcecast>(w);
    if (a.ndim() == 2)
    {
        a = a.reshape(std::vector<py::ssize_t>{1, a.shape(0), a.shape(1)});
    }
    if (a.ndim() != 3)
    {
        throw py::value_error("set_precoders: w must be [tx_ant, layers] or [rbg, tx_ant, layers]");
    }
    std::vector<ns3::NrComplexMatrix> ws;
    const size_t rows = a.shape(1);
    const size_t cols = a.shape(2);
    for (py::ssize_t k = 0; k < a.shape(0); ++k)
    {
        const auto* p = a.data() + k * rows * cols;
        ws.push_back(ns3::NrComplexMatrix::FromRowMajor(rows, cols, {p, p + rows * cols}));
    }
    try
    {
        mac->SetExternalPrecoders(from, ues, layerUe, ws);
    }
    catch (const std::invalid_argument& e)
    {
        throw py::value_error(std::string("set_precoders: ") + e.what());
    }
}

/// The MU-MIMO groups of cell g's last scheduled DL slot, one dict per RBG.
py::list
Precoding(CoSim& s, uint32_t g)
{
    auto radio = s.Radio();
    if (g >= radio->GetNGnbs())
    {
        throw py::value_error("precoding: unknown cell");
    }
    auto mac = radio->GetCellMac(g);
    py::list out;
    for (uint32_t r = 0; r < mac->GetNRbg(); ++r)
    {
        const auto& m = mac->GetMuGroup(r);
        py::dict d;
        std::vector<uint32_t> ues;
        py::list h;
        for (uint32_t i : m.ues)
        {
            ues.push_back(mac->GetUeId(i));
        }
        for (const auto& x : m.h)
        {
            h.append(Array(x));
        }
        d["ues"] = ues;
        d["layer_ue"] = m.layerUe;
        d["w"] = Array(m.w);
        d["est_sinr"] = m.estSinr;
        d["sinr"] = m.sinr;
        d["precoder_gain_db"] = m.gainDb;
        d["h"] = h;
        d["noise_psd"] = m.noisePsd;
        out.append(d);
    }
    return out;
}

/// Per (gNB, UE) pair now: path and coupling gain, LOS state, distances; each [gNB][UE].
py::dict
RadioLinks(CoSim& s)
{
    auto radio = s.Radio();
    auto ch = radio->GetChannel();
    const py::ssize_t nG = radio->GetNGnbs();
    const py::ssize_t nU = radio->GetNUes();
    const char* names[] = {"path_gain_db", "coupling_gain_db", "los", "distance_2d_m",
                           "distance_3d_m"};
    std::vector<py::array_t<double>> cols;
    for (size_t k = 0; k < 5; ++k)
    {
        cols.emplace_back(std::vector<py::ssize_t>{nG, nU});
    }
    for (py::ssize_t g = 0; g < nG; ++g)
    {
        for (py::ssize_t u = 0; u < nU; ++u)
        {
            const py::ssize_t i = g * nU + u;
            cols[0].mutable_data()[i] = ch->GetPathGainDb(g, u);
            cols[1].mutable_data()[i] = ch->GetCouplingGainDb(g, u);
            cols[2].mutable_data()[i] = ch->IsLos(g, u) ? 1.0 : 0.0;
            cols[3].mutable_data()[i] = ch->GetDistance2dM(g, u);
            cols[4].mutable_data()[i] = ch->GetDistance3dM(g, u);
        }
    }
    py::dict d;
    for (size_t k = 0; k < 5; ++k)
    {
        d[py::str(names[k])] = cols[k];
    }
    return d;
}

py::dict
RadioViews(py::object self)
{
    auto radio = self.cast<CoSim&>().Radio();
    py::dict d;
    for (uint32_t k = 0; k < ns3::NrRadioHelper::N_FIELDS; ++k)
    {
        const auto f = static_cast<ns3::NrRadioHelper::Field>(k);
        d[py::str(ns3::NrRadioHelper::GetFieldName(f))] = View(radio->GetLinkState(f), self);
    }
    return d;
}
} // namespace

void
register_cosim_radio(py::class_<CoSim>& cls)
{
    cls.def("set_radio", &CoSim::SetRadio, py::arg("helper_attrs"), py::arg("mac_attrs"),
            py::arg("device_attrs"), py::arg("channel_attrs"), py::arg("channel"),
            py::arg("beam_attrs"), py::arg("gnbs"), py::arg("ues"), py::arg("stream"),
            "Devices reach the gNBs through the 6G radio (before finalize). Attributes are "
            "strings, checked before ns-3 sees them.")
        .def("add_bler_curve", &CoSim::AddBlerCurve, py::arg("channel"), py::arg("table"),
             py::arg("mcs"), py::arg("snr_db"), py::arg("cb_sizes"), py::arg("bler_flat"))
        .def("set_eesm_betas", &CoSim::SetEesmBetas, py::arg("table"), py::arg("betas"))
        .def("radio_views", &RadioViews,
             "Zero-copy numpy views of the per-UE radio link states (refresh_radio() updates "
             "them; values are over the period since the previous refresh).")
        .def("refresh_radio", [](CoSim& s) { s.Radio()->RefreshLinkStates(); })
        .def(
            "set_ue_share",
            [](CoSim& s, uint32_t u, double share) {
                if (!(share <= 1))
                {
                    throw py::value_error("share must be <= 1 (0 or negative: no reservation)");
                }
                s.Radio()->SetUeShare(CheckUe(s, u, "set_ue_share"), share);
            },
            py::arg("ue"), py::arg("share"),
            "Guarantee a UE the fraction share of its cell's RBGs while it has data (a minimum: "
            "the scheduler gives the RBGs no share uses to any backlogged UE); 0 or negative: "
            "no reservation.")
        .def(
            "set_ue_weight",
            [](CoSim& s, uint32_t u, double w) {
                if (!(w > 0))
                {
                    throw py::value_error("weight must be > 0");
                }
                s.Radio()->SetUeWeight(u, w);
            },
            py::arg("ue"), py::arg("weight"))
        .def("radio_slots", [](CoSim& s) { return s.Radio()->GetNSlots(); })
        .def("radio_links", &RadioLinks,
             "Per (gNB, UE) pair now, arrays [gnb, ue]: path_gain_db (path loss and shadowing), "
             "coupling_gain_db (NrChannel::GetCouplingGainDb, what attachment maximises with the "
             "power), los (1 or 0), distance_2d_m, distance_3d_m.")
        .def(
            "radio_ue_stats",
            [](CoSim& s) { return ToDict(s.Radio()->GetMacStatsColumns()); },
            "Per-UE MAC statistics since the start, read now (no link-state refresh): "
            "serving_cell and, per direction d in (dl, ul), the counters d_tb_first, "
            "d_tb_first_err, d_tb_tx, d_tb_err, d_retx, d_tb_lost, d_mac_bytes, "
            "d_sum_sinr_eff_db, d_sum_mcs, the wideband SINR of the last CSI measurement "
            "d_wideband_sinr_db, and the figures derived from them (ns3::NrMacStats): d_bler, "
            "d_bler_all, d_mean_mcs, d_mean_sinr_db (NaN without a first transmission) and "
            "d_mean_rbg.")
        .def("set_beam", &SetBeam, py::arg("ue"), py::arg("weights"),
             "Set the serving gNB's beam toward a UE from now on (one weight per gNB antenna).")
        .def(
            "set_codeword",
            [](CoSim& s, uint32_t u, uint32_t k) {
                if (!s.Beams())
                {
                    throw py::value_error("set_codeword: no beam policy installed");
                }
                s.Beams()->SetCodeword(u, k);
            },
            py::arg("ue"), py::arg("index"))
        .def("csi", &Csi, py::arg("ue"),
             "The serving gNB's CSI of a UE and the true channel now: dict with true and "
             "estimate (complex128 [rx_ant, tx_ant, subband], large-scale loss excluded; "
             "estimate None before the first usable SRS), path_gain_db, "
             "estimate_path_gain_db, mode (ideal | srs), age_slots (from the sounding to the "
             "next scheduling), age_s (from the sounding to now), srs_slot, srs_sinr_db, "
             "external (set by set_csi), next_slot.")
        .def("set_csi", &SetCsi, py::arg("ue"), py::arg("h"), py::arg("from_slot") = -1,
             py::arg("path_gain_db") = std::nan(""),
             "Replace the gNB's CSI of a UE by h ([rx_ant, tx_ant, subband]) from slot "
             "from_slot on (-1: the next; until set_csi(ue, None)); path_gain_db NaN: the "
             "path gain now.")
        .def("set_precoders", &SetPrecoders, py::arg("cell"), py::arg("ues"), py::arg("w"),
             py::arg("layer_ue"), py::arg("from_slot") = -1,
             "Cell's DL precoders and co-scheduled group from slot from_slot on (-1: the "
             "next): ues (global UE indices), w [tx_ant, layers] or [rbg, tx_ant, layers] "
             "(column power shares of the RBG's power, sum <= 1), layer_ue (per layer its "
             "position in ues); ues empty: back to the MAC's own.")
        .def("precoding", &Precoding, py::arg("cell"),
             "Per RBG of the cell's last DL slot on the MU-MIMO path: ues, layer_ue, w [tx_ant, "
             "layers] (W/Hz), est_sinr (gNB's CSI) and sinr (true) per layer [-], "
             "precoder_gain_db, h (true channels used, sqrt(PG) H [rx_ant, tx_ant]), noise_psd.");
}

} // namespace edgelam
