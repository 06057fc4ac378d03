/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * NrCellMac's DL MU-MIMO path (MaxLayers > 1 or external precoders): grouping, precoding,
 * per-layer link adaptation and SINR. See the class documentation in nr-cell-mac.h.
 */
#include "nr-cell-mac.h"

#include "ns3/simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace ns3
{

namespace
{
/// SUS weight of a retransmitting UE: above any PF weight, so that it is picked first.
constexpr double kForcedWeight = 1e300;

/**
 * \param h channel [rx][tx][sb] \param nRx rows \param nTx columns \param nSb subbands
 * \param sb subband \param scale factor (sqrt of the path gain)
 * \return scale H(sb) [nRx x nTx]
 */
NrComplexMatrix
SubbandMatrix(const std::vector<NrChannel::Complex>& h, size_t nRx, size_t nTx, uint32_t nSb,
              uint32_t sb, double scale)
{
    NrComplexMatrix out(nRx, nTx);
    for (size_t r = 0; r < nRx; ++r)
    {
        for (size_t t = 0; t < nTx; ++t)
        {
            out(r, t) = h[(r * nTx + t) * nSb + sb] * scale;
        }
    }
    return out;
}
} // namespace

void
NrCellMac::ConfigureMu()
{
    try
    {
        m_precoder = NrPrecoding::FromString(m_precoderName);
    }
    catch (const std::invalid_argument&)
    {
        throw std::invalid_argument("Precoder must be mrt, zf or rzf, got '" + m_precoderName +
                                    "'");
    }
    if (m_maxLayers > 1 && !m_pf)
    {
        throw std::invalid_argument("MaxLayers > 1 (MU-MIMO) needs Scheduler PF: users are "
                                    "grouped on the PF metric");
    }
    m_mu.assign(m_nRbg, MuGroup());
}

bool
NrCellMac::IsMuDl() const
{
    return m_maxLayers > 1 || HasExternalPrecoders() || m_csiRs; // CsiRs: precoded by the PMI
}

bool
NrCellMac::HasExternalPrecoders() const
{
    return m_ext.set && !m_ext.ues.empty();
}

const NrCellMac::MuGroup&
NrCellMac::GetMuGroup(uint32_t r) const
{
    return m_mu.at(r);
}

void
NrCellMac::SetExternalPrecoders(uint64_t n,
                                const std::vector<uint32_t>& ues,
                                const std::vector<uint32_t>& layerUe,
                                const std::vector<NrComplexMatrix>& w)
{
    External e;
    e.set = true;
    e.from = std::max(n, m_nextSlot);
    if (!ues.empty())
    {
        const size_t nTx = m_channel->GetNGnbAntennas(m_cell);
        std::vector<uint32_t> count(ues.size(), 0);
        for (uint32_t p : layerUe)
        {
            if (p >= ues.size())
            {
                throw std::invalid_argument("layer_ue: entries index the group's UEs");
            }
            ++count[p];
        }
        for (size_t k = 0; k < ues.size(); ++k)
        {
            if (ues[k] >= m_ues.size() || count[k] == 0 ||
                std::count(ues.begin(), ues.end(), ues[k]) > 1)
            {
                throw std::invalid_argument("ues: distinct UEs of the cell, each with a layer");
            }
        }
        if (w.size() != 1 && w.size() != m_nRbg)
        {
            throw std::invalid_argument("w: one (wideband) or " + std::to_string(m_nRbg) +
                                        " (per RBG) precoder matrices");
        }
        for (const auto& m : w)
        {
            double p = 0;
            for (size_t c = 0; c < m.Cols(); ++c)
            {
                p += m.ColumnNorm2(c);
            }
            if (m.Rows() != nTx || m.Cols() != layerUe.size() || p > 1.0 + 1e-9)
            {
                throw std::invalid_argument(
                    "w: each [" + std::to_string(nTx) + " x " + std::to_string(layerUe.size()) +
                    "] with sum of |w_l|^2 <= 1 (a share of the RBG's power)");
            }
        }
        e.ues = ues;
        e.layerUe = layerUe;
        e.w = w;
    }
    while (!m_extPending.empty() && m_extPending.back().from >= e.from)
    {
        m_extPending.pop_back();
    }
    m_extPending.push_back(e);
}

uint32_t
NrCellMac::UeLayers(uint32_t i)
{
    const uint32_t m = m_channel->GetNUeAntennas(m_ues[i].id);
    return AdaptedRank(i, std::min({m_maxLayersPerUe, m, m_maxLayers})); // nr-cell-mac-csi.cc
}

uint32_t
NrCellMac::GroupLayers(const MuGroup& g) const
{
    return g.layerUe.size();
}

void
NrCellMac::JoinGroup(uint32_t r, uint32_t i, uint32_t v)
{
    MuGroup& g = m_mu[r];
    g.ues.push_back(i);
    g.layerUe.insert(g.layerUe.end(), v, uint32_t(g.ues.size() - 1));
    m_ues[i].link[DL].rbgs.push_back(r);
}

void
NrCellMac::ResetMu()
{
    for (auto& g : m_mu)
    {
        g = MuGroup();
    }
    const uint32_t nSb = m_channel->GetNSubbands();
    m_csiH.resize(m_ues.size());
    m_csiL.resize(m_ues.size());
    m_csiHOk.assign(m_ues.size(), std::vector<bool>(nSb, false));
    m_csiLOk.assign(m_ues.size(), std::vector<bool>(nSb, false));
    for (size_t i = 0; i < m_ues.size(); ++i)
    {
        m_csiH[i].resize(nSb);
        m_csiL[i].resize(nSb);
        m_ues[i].link[DL].muLayers = 0;
    }
}

void
NrCellMac::ScheduleMu(uint64_t n, uint32_t nSymb)
{
    ResetMu();
    if (HasExternalPrecoders())
    {
        MuExternalGroup(nSymb);
    }
    else
    {
        MuRetransmissions(n);
        MuCandidates(nSymb);
        MuSelectUsers();
    }
    for (uint32_t r = m_rbgFirst; r < m_rbgEnd; ++r)
    {
        MuPrecode(r);
    }
    MuFormTransportBlocks(nSymb);
    for (uint32_t r = m_rbgFirst; r < m_rbgEnd; ++r)
    {
        const MuGroup& g = m_mu[r];
        m_owner[DL][r] = g.ues.empty() ? -1 : int32_t(m_ues[g.ues[0]].id);
        m_ownerLocal[DL][r] = g.ues.empty() ? -1 : int32_t(g.ues[0]);
    }
}

const NrComplexMatrix&
NrCellMac::CsiChannel(uint32_t i, uint32_t sb)
{
    if (m_csiHOk[i][sb])
    {
        return m_csiH[i][sb];
    }
    if (m_csiRs)
    {
        return CsiRsChannel(i, sb); // the reported PMI and CQI
    }
    const uint32_t u = m_ues[i].id;
    const size_t nRx = m_channel->GetNUeAntennas(u);
    const size_t nTx = m_channel->GetNGnbAntennas(m_cell);
    const uint32_t nSb = m_channel->GetNSubbands();
    const std::vector<NrChannel::Complex>* h = nullptr;
    double pgDb = 0;
    const Link& l = m_ues[i].link[DL];
    if (m_srs)
    {
        const NrCsiSrs::Estimate& e = m_srs->Current(i, m_muN);
        h = e.valid ? &e.h : nullptr;
        pgDb = e.pathGainDb;
    }
    else if (l.csiCount > 0 && !l.hRing[DelayedIndex(l)].empty())
    {
        h = &l.hRing[DelayedIndex(l)];
        pgDb = l.pgRing[DelayedIndex(l)];
    }
    else
    {
        h = &m_channel->GetChannelMatrix(m_cell, u); // no measurement kept yet: now
        pgDb = m_channel->GetPathGainDb(m_cell, u);
    }
    NrComplexMatrix& out = m_csiH[i][sb];
    out = h ? SubbandMatrix(*h, nRx, nTx, nSb, sb, std::pow(10.0, pgDb / 20.0))
            : NrComplexMatrix(nRx, nTx); // no estimate: zero
    m_csiHOk[i][sb] = true;
    return out;
}

const NrComplexMatrix&
NrCellMac::CsiLayers(uint32_t i, uint32_t sb)
{
    if (m_csiLOk[i][sb])
    {
        return m_csiL[i][sb];
    }
    const NrComplexMatrix& h = CsiChannel(i, sb);
    if (m_csiLOk[i][sb])
    {
        return m_csiL[i][sb]; // CsiRs: the reported layers
    }
    const uint32_t v = std::max(1u, std::min<uint32_t>(m_ues[i].link[DL].muLayers, h.Rows()));
    if (h.Rows() == 1)
    {
        m_csiL[i][sb] = h;
    }
    else
    {
        m_csiL[i][sb] = NrPrecoding::EigenLayerChannels(h, v);
    }
    m_csiLOk[i][sb] = true;
    return m_csiL[i][sb];
}

NrComplexMatrix
NrCellMac::TrueChannel(uint32_t i, uint32_t sb) const
{
    const uint32_t u = m_ues[i].id;
    const size_t nRx = m_channel->GetNUeAntennas(u);
    const size_t nTx = m_channel->GetNGnbAntennas(m_cell);
    const uint32_t nSb = m_channel->GetNSubbands();
    const double a = std::pow(10.0, m_channel->GetPathGainDb(m_cell, u) / 20.0);
    return SubbandMatrix(m_channel->GetChannelMatrix(m_cell, u), nRx, nTx, nSb, sb, a);
}

void
NrCellMac::MuRetransmissions(uint64_t /*n*/)
{
    const uint32_t nUe = m_ues.size();
    for (uint32_t k = 0; k < nUe; ++k)
    {
        const uint32_t i = (k + m_rrStart) % nUe;
        Link& l = m_ues[i].link[DL];
        const int32_t best = OldestNack(l);
        if (best < 0)
        {
            continue;
        }
        Harq& h = l.harq[best];
        std::vector<uint32_t> room;
        for (uint32_t r = m_rbgFirst; r < m_rbgEnd && room.size() < h.nRbg; ++r)
        {
            if (GroupLayers(m_mu[r]) + h.layers <= m_maxLayers)
            {
                room.push_back(r);
            }
        }
        if (room.size() < h.nRbg)
        {
            continue; // waits for a slot with room
        }
        h.needRetx = false;
        l.proc = best;
        l.muLayers = h.layers;
        for (uint32_t r : room)
        {
            JoinGroup(r, i, h.layers);
            ++m_mu[r].forcedUes;
        }
    }
}

void
NrCellMac::MuCandidates(uint32_t nSymb)
{
    m_cand.clear();
    m_candNeed.clear();
    const uint32_t nUe = m_ues.size();
    for (uint32_t k = 0; k < nUe; ++k)
    {
        const uint32_t i = (k + m_rrStart) % nUe;
        const double need = CsiRsNeed(i, NewDataNeed(i, DL, nSymb), nSymb);
        if (need <= 0 || !CsiReady(i))
        {
            continue;
        }
        const uint32_t v = UeLayers(i);
        m_ues[i].link[DL].muLayers = v;
        m_cand.push_back(i);
        m_candNeed.push_back(std::ceil(need / v)); // RBGs: each carries v layers of it
    }
}

void
NrCellMac::MuSelectUsers()
{
    if (m_cand.empty())
    {
        return;
    }
    const uint32_t nSb = m_channel->GetNSubbands();
    const double noise = m_channel->GetUeNoiseW(m_ues[m_cand[0]].id) / (m_bandwidthHz / nSb);
    const double snr = CarrierPsd(0, DL) / (m_maxLayers * noise);
    const size_t nTx = m_channel->GetNGnbAntennas(m_cell);
    std::vector<int32_t> cand; // per row: candidate index, or -1 for a retransmitting UE
    std::vector<double> weights;
    std::vector<NrChannel::Complex> rows;
    for (uint32_t r = m_rbgFirst; r < m_rbgEnd; ++r)
    {
        MuGroup& g = m_mu[r];
        uint32_t used = GroupLayers(g);
        const uint32_t sb = m_rbgSb[r];
        cand.clear();
        weights.clear();
        rows.clear();
        auto addRow = [&](uint32_t i, int32_t c, double w) {
            const NrComplexMatrix& hl = CsiLayers(i, sb);
            for (size_t t = 0; t < nTx; ++t)
            {
                rows.push_back(hl(0, t)); // the dominant layer stands for the UE
            }
            cand.push_back(c);
            weights.push_back(w);
        };
        for (uint32_t k = 0; k < g.forcedUes; ++k)
        {
            addRow(g.ues[k], -1, kForcedWeight);
        }
        for (size_t c = 0; c < m_cand.size(); ++c)
        {
            const Ue& u = m_ues[m_cand[c]];
            if (m_candNeed[c] >= 1)
            {
                addRow(m_cand[c], int32_t(c), u.weight / std::max(u.link[DL].pfAvg, 1e-9));
            }
        }
        if (cand.size() == g.forcedUes || used >= m_maxLayers)
        {
            continue;
        }
        const auto h = NrComplexMatrix::FromRowMajor(cand.size(), nTx, rows);
        for (uint32_t p : NrPrecoding::SelectUsers(h, weights, m_maxLayers, m_susEpsilon, snr))
        {
            const int32_t c = cand[p];
            const uint32_t v = c < 0 ? 0 : m_ues[m_cand[c]].link[DL].muLayers;
            if (c < 0 || used + v > m_maxLayers)
            {
                continue;
            }
            JoinGroup(r, m_cand[c], v);
            used += v;
            m_candNeed[c] -= 1;
        }
    }
}

void
NrCellMac::MuExternalGroup(uint32_t nSymb)
{
    std::vector<uint32_t> usable;
    for (uint32_t r = m_rbgFirst; r < m_rbgEnd; ++r)
    {
        usable.push_back(r);
    }
    for (size_t p = 0; p < m_ext.ues.size(); ++p)
    {
        const uint32_t i = m_ext.ues[p];
        Link& l = m_ues[i].link[DL];
        const auto v =
            static_cast<uint32_t>(std::count(m_ext.layerUe.begin(), m_ext.layerUe.end(), p));
        l.muLayers = v;
        size_t k = 0;
        const int32_t best = OldestNack(l);
        if (best >= 0 && l.harq[best].layers == v && l.harq[best].nRbg <= usable.size())
        {
            l.harq[best].needRetx = false;
            l.proc = best;
            k = l.harq[best].nRbg;
        }
        else if (best < 0)
        {
            const double need = NewDataNeed(i, DL, nSymb);
            k = need <= 0 ? 0 : size_t(std::min<double>(usable.size(), std::ceil(need / v)));
        }
        for (size_t q = 0; q < k; ++q)
        {
            JoinGroup(usable[q], i, v);
        }
    }
}

double
NrCellMac::MeasuredInr(uint32_t i, uint32_t r) const
{
    const Link& l = m_ues[i].link[DL];
    if (l.csiCount > 0 && !l.inrRing.empty())
    {
        const auto& inr = l.inrRing[DelayedIndex(l)];
        if (r < inr.size())
        {
            return inr[r];
        }
    }
    return m_channel->GetUeNoiseW(m_ues[i].id) / (m_bandwidthHz / m_channel->GetNSubbands());
}

void
NrCellMac::ExternalColumns(uint32_t r, double psd)
{
    MuGroup& g = m_mu[r];
    const NrComplexMatrix& we = m_ext.w.size() == 1 ? m_ext.w[0] : m_ext.w[r];
    std::vector<size_t> keep;
    g.layerUe.clear();
    for (size_t k = 0; k < m_ext.layerUe.size(); ++k)
    {
        const uint32_t i = m_ext.ues[m_ext.layerUe[k]];
        const auto it = std::find(g.ues.begin(), g.ues.end(), i);
        if (it != g.ues.end()) // a UE without data on r sends nothing on its layers
        {
            g.layerUe.push_back(uint32_t(it - g.ues.begin()));
            keep.push_back(k);
        }
    }
    g.w = NrComplexMatrix(we.Rows(), keep.size());
    for (size_t c = 0; c < keep.size(); ++c)
    {
        for (size_t t = 0; t < we.Rows(); ++t)
        {
            g.w(t, c) = we(t, keep[c]) * std::sqrt(psd);
        }
    }
}

void
NrCellMac::MuPrecode(uint32_t r)
{
    MuGroup& g = m_mu[r];
    if (g.ues.empty())
    {
        return;
    }
    const uint32_t sb = m_rbgSb[r];
    const double psd = CarrierPsd(0, DL);
    const size_t nTx = m_channel->GetNGnbAntennas(m_cell);
    if (HasExternalPrecoders())
    {
        ExternalColumns(r, psd);
    }
    else
    {
        std::vector<NrChannel::Complex> rows;
        for (uint32_t i : g.ues)
        {
            const NrComplexMatrix& hl = CsiLayers(i, sb);
            const uint32_t v = m_ues[i].link[DL].muLayers;
            rows.insert(rows.end(), hl.Data().begin(), hl.Data().begin() + v * nTx);
        }
        const auto hs = NrComplexMatrix::FromRowMajor(g.layerUe.size(), nTx, rows);
        const auto powers = NrPrecoding::EqualPowers(psd, g.layerUe.size());
        const double noise = MeasuredInr(g.ues[0], r);
        try
        {
            g.w = NrPrecoding::Compute(m_precoder, hs, powers, noise);
        }
        catch (const std::invalid_argument&)
        {
            g.w = NrPrecoding::Compute(NrPrecoding::MRT, hs, powers, noise); // rank-deficient
        }
    }
    std::vector<NrComplexMatrix> chans;
    std::vector<double> inr;
    for (uint32_t i : g.ues)
    {
        chans.push_back(CsiChannel(i, sb));
        inr.push_back(MeasuredInr(i, r));
    }
    g.estSinr = NrPrecoding::LayerSinr(chans, g.w, g.layerUe, inr);
}

void
NrCellMac::GatherMuSinr(uint32_t i, std::vector<double>& out, bool est) const
{
    out.clear();
    for (uint32_t r : m_ues[i].link[DL].rbgs)
    {
        const MuGroup& g = m_mu[r];
        const auto pos = uint32_t(std::find(g.ues.begin(), g.ues.end(), i) - g.ues.begin());
        for (size_t k = 0; k < g.layerUe.size(); ++k)
        {
            if (g.layerUe[k] == pos)
            {
                out.push_back(est ? g.estSinr[k] : g.sinr[k]);
            }
        }
    }
}

void
NrCellMac::MuFormTransportBlocks(uint32_t nSymb)
{
    for (uint32_t i = 0; i < m_ues.size(); ++i)
    {
        Link& l = m_ues[i].link[DL];
        if (l.proc >= 0 || l.rbgs.empty())
        {
            continue;
        }
        const auto nPrb = static_cast<uint32_t>(AllocatedPrbs(l.rbgs));
        GatherMuSinr(i, m_scratch, true);
        const double olla = std::pow(10.0, -l.ollaDb / 10.0);
        for (double& x : m_scratch)
        {
            x *= olla;
        }
        const auto& choice = m_csiRs ? CsiRsChoice(i, nSymb, nPrb, l.muLayers)
                                     : SelectCached(i, DL, nSymb, nPrb, l.muLayers);
        if (choice.mcs < 0)
        {
            MuDrop(i);
            continue;
        }
        FormTb(i, DL, choice, nPrb);
    }
}

void
NrCellMac::MuDrop(uint32_t i)
{
    Link& l = m_ues[i].link[DL];
    for (uint32_t r : l.rbgs)
    {
        MuGroup& g = m_mu[r];
        const auto pos = uint32_t(std::find(g.ues.begin(), g.ues.end(), i) - g.ues.begin());
        for (size_t k = 0; k < g.layerUe.size(); ++k)
        {
            if (g.layerUe[k] == pos)
            {
                for (size_t t = 0; t < g.w.Rows(); ++t)
                {
                    g.w(t, k) = 0.0;
                }
            }
        }
    }
    l.rbgs.clear();
}

void
NrCellMac::MuTrueSinr()
{
    const double bSb = m_bandwidthHz / m_channel->GetNSubbands();
    for (uint32_t r = m_rbgFirst; r < m_rbgEnd; ++r)
    {
        MuGroup& g = m_mu[r];
        if (g.ues.empty())
        {
            continue;
        }
        const uint32_t sb = m_rbgSb[r];
        std::vector<double> noise;
        std::vector<NrComplexMatrix> q;
        g.h.clear();
        for (uint32_t i : g.ues)
        {
            g.h.push_back(TrueChannel(i, sb));
            noise.push_back(m_channel->GetUeNoiseW(m_ues[i].id) / bSb);
            q.push_back(InterCellCov(i, r, g.h.back().Rows()));
        }
        g.noisePsd = noise[0];
        g.sinr = NrPrecoding::LayerSinr(g.h, g.w, g.layerUe, noise, q);
        g.gainDb.assign(g.layerUe.size(), std::numeric_limits<double>::quiet_NaN());
        for (size_t k = 0; k < g.layerUe.size(); ++k)
        {
            const NrComplexMatrix& h = g.h[g.layerUe[k]];
            const double pw = g.w.ColumnNorm2(k);
            double hf = 0;
            for (size_t row = 0; row < h.Rows(); ++row)
            {
                hf += h.RowNorm2(row);
            }
            if (pw > 0 && hf > 0)
            {
                const double rx = (h * g.w.Column(k)).ColumnNorm2(0);
                g.gainDb[k] = 10.0 * std::log10(rx * h.Cols() / (pw * hf));
            }
        }
    }
}

NrComplexMatrix
NrCellMac::InterCellCov(uint32_t i, uint32_t r, uint32_t m) const
{
    NrComplexMatrix q;
    const uint32_t u = m_ues[i].id;
    const uint32_t sb = m_rbgSb[r];
    const double rbHz = 12.0 * m_scsHz;
    for (const auto& other : m_cells)
    {
        if (other == this || other->m_owner[DL][r] < 0)
        {
            continue;
        }
        const uint32_t g = other->m_cell;
        const size_t nTx = m_channel->GetNGnbAntennas(g);
        const uint32_t nSb = m_channel->GetNSubbands();
        const double a = std::pow(10.0, m_channel->GetPathGainDb(g, u) / 20.0);
        const NrComplexMatrix x =
            SubbandMatrix(m_channel->GetChannelMatrix(g, u), m, nTx, nSb, sb, a);
        NrComplexMatrix w;
        if (other->m_muSlot)
        {
            w = other->m_mu[r].w;
        }
        else
        {
            const auto& beam = m_channel->GetGnbBeam(g, other->m_owner[DL][r]);
            const double p = m_channel->GetGnbTxPowerW(g) / (other->m_nPrb * rbHz);
            w = NrComplexMatrix::FromRowMajor(nTx, 1, beam).Scaled(std::sqrt(p));
        }
        const NrComplexMatrix y = x * w; // [m x layers]
        const NrComplexMatrix c = y * y.Hermitian();
        q = q.Rows() == 0 ? c : q + c;
    }
    return q;
}

double
NrCellMac::MuInterferencePsd(uint32_t r, uint32_t u,
                             const std::vector<NrChannel::Complex>& wu) const
{
    const MuGroup& g = m_mu[r];
    if (g.w.Cols() == 0)
    {
        return 0;
    }
    const size_t nTx = m_channel->GetNGnbAntennas(m_cell);
    const uint32_t nSb = m_channel->GetNSubbands();
    const uint32_t sb = m_rbgSb[r];
    const double pg = std::pow(10.0, m_channel->GetPathGainDb(m_cell, u) / 10.0);
    const auto& h = m_channel->GetChannelMatrix(m_cell, u);
    std::vector<NrChannel::Complex> x(nTx); // w_u^H H(sb)
    for (size_t row = 0; row < wu.size(); ++row)
    {
        for (size_t t = 0; t < nTx; ++t)
        {
            x[t] += std::conj(wu[row]) * h[(row * nTx + t) * nSb + sb];
        }
    }
    double sum = 0;
    for (size_t k = 0; k < g.w.Cols(); ++k)
    {
        NrChannel::Complex y = 0;
        for (size_t t = 0; t < nTx; ++t)
        {
            y += x[t] * g.w(t, k);
        }
        sum += std::norm(y);
    }
    return sum * pg;
}

void
NrCellMac::RecordCsiChannel(uint32_t i, uint64_t at)
{
    Link& l = m_ues[i].link[DL];
    const uint32_t u = m_ues[i].id;
    l.hRing[at] = m_channel->GetChannelMatrix(m_cell, u);
    l.pgRing[at] = m_channel->GetPathGainDb(m_cell, u);
}

void
NrCellMac::CountMu(uint32_t i, NrMacStats& s) const
{
    const Link& l = m_ues[i].link[DL];
    double co = 0;
    double gain = 0;
    uint32_t nGain = 0;
    for (uint32_t r : l.rbgs)
    {
        const MuGroup& g = m_mu[r];
        co += g.ues.size();
        const auto pos = uint32_t(std::find(g.ues.begin(), g.ues.end(), i) - g.ues.begin());
        for (size_t k = 0; k < g.layerUe.size(); ++k)
        {
            if (g.layerUe[k] == pos && std::isfinite(g.gainDb[k]))
            {
                gain += g.gainDb[k];
                ++nGain;
            }
        }
    }
    s.sumLayers += l.harq[l.proc].layers;
    s.sumCoUes += l.rbgs.empty() ? 0.0 : co / l.rbgs.size();
    if (nGain > 0)
    {
        s.sumPrecGainDb += gain / nGain;
        s.precTx += 1;
    }
}

} // namespace ns3
