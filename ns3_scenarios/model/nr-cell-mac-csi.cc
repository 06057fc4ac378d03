/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * NrCellMac's CSI-RS reports (CsiMode CsiRs) and rank adaptation (CsiRs: the reported RI;
 * Srs: the rank of the largest TBS-level rate on the SRS estimate). See the class
 * documentation in nr-cell-mac.h and ns3_scenarios/doc/air-interface.md.
 */
#include "nr-cell-mac.h"
#include "nr-tbs.h"

#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/object-factory.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ns3
{

namespace
{
/// DFT oversampling of a dimension of n elements (TS 38.214 Table 5.2.2.2.1-2: 4; 1 if n = 1).
uint32_t
Oversampling(uint32_t n)
{
    return n > 1 ? 4 : 1;
}
} // namespace

TypeId
NrCellMac::AddCsiRsAttributes(TypeId tid)
{
    return tid
        .AddAttribute("CsiRsPeriodSlots",
                      "CSI-RS / CSI report period of every UE, slots (CsiMode CsiRs; TS 38.214 "
                      "§5.2.1.4, periodic reporting).",
                      UintegerValue(10),
                      MakeUintegerAccessor(&NrCellMac::m_csiRsPeriod),
                      MakeUintegerChecker<uint32_t>(1, 2560))
        .AddAttribute("CsiRsOffsetSlots",
                      "CSI-RS slot offset (< CsiRsPeriodSlots; every occasion in a slot with DL "
                      "symbols).",
                      UintegerValue(0),
                      MakeUintegerAccessor(&NrCellMac::m_csiRsOffset),
                      MakeUintegerChecker<uint32_t>())
        .AddAttribute("CsiReportDelaySlots",
                      "Slots from a CSI-RS occasion to the first scheduling that uses its report "
                      "(measurement, PUCCH/PUSCH report, gNB processing).",
                      UintegerValue(4),
                      MakeUintegerAccessor(&NrCellMac::m_csiRsDelay),
                      MakeUintegerChecker<uint32_t>(0, 1000))
        .AddAttribute("CsiRsN1",
                      "Codebook N1: gNB array rows (the first dimension; ports n1 N2 + n2 are "
                      "the channel's antennas in ns-3's row-major element order).",
                      UintegerValue(0),
                      MakeUintegerAccessor(&NrCellMac::m_csiRsN1),
                      MakeUintegerChecker<uint32_t>())
        .AddAttribute("CsiRsN2",
                      "Codebook N2: gNB array columns (0 with CsiRsN1 0: N1 = the gNB's "
                      "antennas, N2 = 1).",
                      UintegerValue(0),
                      MakeUintegerAccessor(&NrCellMac::m_csiRsN2),
                      MakeUintegerChecker<uint32_t>())
        .AddAttribute("RankAdaptation",
                      "CsiMode Srs: DL layers per UE = the rank of the largest TBS-level rate on "
                      "the SRS estimate, instead of min(MaxLayersPerUe, UE antennas, MaxLayers) "
                      "(CsiRs always follows the reported RI; Ideal keeps the fixed rank).",
                      BooleanValue(true),
                      MakeBooleanAccessor(&NrCellMac::m_rankAdaptation),
                      MakeBooleanChecker());
}

bool
NrCellMac::ConfigureCsiRs()
{
    m_csiRs = m_csiMode == "CsiRs";
    m_csiReport = nullptr; // built at first use (the gNB's array is known by then)
    if (!m_csiRs)
    {
        return false;
    }
    if (m_table != NrMcsTable::QAM64 && m_table != NrMcsTable::QAM256)
    {
        throw std::invalid_argument("CsiMode CsiRs needs McsTable qam64 or qam256 (CQI tables "
                                    "5.2.2.1-2 / -3)");
    }
    if (!m_pf)
    {
        throw std::invalid_argument("CsiMode CsiRs needs Scheduler PF (the DL is precoded from "
                                    "the PMI on the MU-MIMO path)");
    }
    if (m_csiRsOffset >= m_csiRsPeriod)
    {
        throw std::invalid_argument("CsiRsOffsetSlots (" + std::to_string(m_csiRsOffset) +
                                    ") must be below CsiRsPeriodSlots (" +
                                    std::to_string(m_csiRsPeriod) + ")");
    }
    for (size_t k = 0; k < m_tddPattern.size(); ++k)
    {
        const uint64_t n = m_csiRsOffset + k * uint64_t(m_csiRsPeriod);
        if (SymbolsIn(n, DL) == 0)
        {
            throw std::invalid_argument(
                "CSI-RS occasion in slot " + std::to_string(n) + " (offset " +
                std::to_string(m_csiRsOffset) + " + k x period " + std::to_string(m_csiRsPeriod) +
                ") has no DL symbols in TDD pattern '" + m_tddPattern + "'");
        }
    }
    return true;
}

Ptr<NrCsiReport>
NrCellMac::GetCsiReport()
{
    if (m_csiReport)
    {
        return m_csiReport;
    }
    const uint32_t nTx = m_channel->GetNGnbAntennas(m_cell);
    uint32_t n1 = m_csiRsN1;
    uint32_t n2 = m_csiRsN2;
    if (n1 == 0 && n2 == 0)
    {
        n1 = nTx;
        n2 = 1;
    }
    if (n1 * n2 != nTx)
    {
        throw std::invalid_argument("CsiRsN1 x CsiRsN2 (" + std::to_string(n1) + " x " +
                                    std::to_string(n2) + ") must be the gNB's " +
                                    std::to_string(nTx) + " antennas");
    }
    const uint32_t maxRank = std::min({2u, m_maxLayersPerUe, m_maxLayers});
    m_csiReport = CreateObjectWithAttributes<NrCsiReport>(
        "N1", UintegerValue(n1), "N2", UintegerValue(n2), "O1", UintegerValue(Oversampling(n1)),
        "O2", UintegerValue(Oversampling(n2)), "Polarisations", UintegerValue(1), "MaxRank",
        UintegerValue(maxRank), "CqiTable", UintegerValue(m_table == NrMcsTable::QAM64 ? 1 : 2),
        "TargetBler", DoubleValue(m_targetBler));
    m_csiReport->SetBlerModel(m_bler);
    return m_csiReport;
}

bool
NrCellMac::IsCsiRsCsi() const
{
    return m_csiRs;
}


const NrCsiRsState&
NrCellMac::GetCsiRsState(uint32_t i) const
{
    static const NrCsiRsState kNone;
    return i < m_csiRsUe.size() ? m_csiRsUe[i] : kNone;
}

void
NrCellMac::CsiRsMeasure(uint64_t n)
{
    if (!m_csiRs || m_activeSymb[DL] == 0 || (n + m_csiRsPeriod - m_csiRsOffset) % m_csiRsPeriod)
    {
        return;
    }
    m_csiRsUe.resize(m_ues.size());
    const uint32_t nSb = m_channel->GetNSubbands();
    const double psd = CarrierPsd(0, DL);
    const uint32_t nPrbSb = std::max(1u, m_nPrb / nSb);
    const uint32_t nSymb = 14; // reference resource: a D slot of this cell
    std::vector<double> sinr;
    std::vector<double> inr;
    for (uint32_t i = 0; i < m_ues.size(); ++i)
    {
        // the interference plus noise of this slot per RBG (CSI-IM), averaged per subband
        ComputeSinr(i, DL, nullptr, sinr, &inr);
        const double noise = m_channel->GetUeNoiseW(m_ues[i].id) / (m_bandwidthHz / nSb);
        std::vector<NrComplexMatrix> h;
        for (uint32_t sb = 0; sb < nSb; ++sb)
        {
            double sum = 0;
            uint32_t count = 0;
            for (uint32_t r = m_rbgFirst; r < m_rbgEnd; ++r)
            {
                if (m_rbgSb[r] == sb)
                {
                    sum += inr[r];
                    ++count;
                }
            }
            const double in = count > 0 ? sum / count : noise;
            // unit noise: the report's snr is then 1 (total power over the noise)
            h.push_back(TrueChannel(i, sb).Scaled(std::sqrt(psd / in)));
        }
        NrCsiRsState::Held held;
        held.measSlot = n;
        held.readySlot = n + m_csiRsDelay;
        held.values =
            GetCsiReport()->Report(h, 1.0, nPrbSb, nSymb, m_dmrsRe, OverheadRe(DL, nSymb));
        held.w = GetCsiReport()->GetPrecoder(held.values.rank, held.values.pmi);
        m_csiRsUe[i].pending.push_back(held);
    }
}

void
NrCellMac::NoteCsiRs(uint32_t i, uint64_t n)
{
    m_csiRsUe.resize(m_ues.size());
    NrCsiRsState& s = m_csiRsUe[i];
    while (!s.pending.empty() && s.pending.front().readySlot <= n)
    {
        s.current = s.pending.front();
        s.valid = true;
        s.pending.pop_front();
    }
    if (!s.valid)
    {
        return;
    }
    Link& l = m_ues[i].link[DL];
    l.csiAge = double(n - s.current.measSlot);
    const uint32_t table = m_table == NrMcsTable::QAM64 ? 1 : 2;
    const double se = NrCsiReport::GetCqiEntry(table, s.current.values.widebandCqi).efficiency;
    // the per-layer SINR a CQI stands for: the Shannon SINR of its spectral efficiency
    l.estWidebandDb = 10.0 * std::log10(std::max(std::pow(2.0, se) - 1.0, 1e-30));
}

bool
NrCellMac::CsiReady(uint32_t i) const
{
    return !m_csiRs || GetCsiRsState(i).valid;
}

const NrComplexMatrix&
NrCellMac::CsiRsChannel(uint32_t i, uint32_t sb)
{
    // The gNB's picture of UE i from its report: one row per reported layer, the conjugate of
    // the PMI's (unit-norm) beam scaled so that the layer's SINR at power PSD / rank is the
    // Shannon SINR of the subband CQI's efficiency over the UE's noise.
    const NrCsiRsState& s = m_csiRsUe.at(i);
    const uint32_t table = m_table == NrMcsTable::QAM64 ? 1 : 2;
    const uint32_t rank = s.current.values.rank;
    const uint32_t cqi = sb < s.current.values.subbandCqi.size()
                             ? s.current.values.subbandCqi[sb]
                             : s.current.values.widebandCqi;
    const double gamma = std::pow(2.0, NrCsiReport::GetCqiEntry(table, cqi).efficiency) - 1.0;
    const double noise = m_channel->GetUeNoiseW(m_ues[i].id) /
                         (m_bandwidthHz / m_channel->GetNSubbands());
    const double a = std::sqrt(gamma * noise * rank / CarrierPsd(0, DL)) * std::sqrt(rank);
    const NrComplexMatrix& w = s.current.w;
    NrComplexMatrix& out = m_csiH[i][sb];
    out = NrComplexMatrix(rank, w.Rows());
    for (uint32_t l = 0; l < rank; ++l)
    {
        for (size_t t = 0; t < w.Rows(); ++t)
        {
            out(l, t) = a * std::conj(w(t, l));
        }
    }
    m_csiHOk[i][sb] = true;
    m_csiL[i][sb] = out;
    m_csiLOk[i][sb] = true;
    return out;
}

uint32_t
NrCellMac::AdaptedRank(uint32_t i, uint32_t vmax)
{
    if (m_csiRs)
    {
        // the reported RI (the report's MaxRank already holds MaxLayersPerUe and MaxLayers)
        const NrCsiRsState& s = GetCsiRsState(i);
        return s.valid ? std::min(vmax, s.current.values.rank) : 1;
    }
    if (!m_rankAdaptation || vmax <= 1 || !m_srs)
    {
        return vmax;
    }
    return SrsRank(i, vmax);
}

uint32_t
NrCellMac::SrsRank(uint32_t i, uint32_t vmax)
{
    const NrCsiSrs::Estimate& e = m_srs->Current(i, m_muN);
    if (!e.valid)
    {
        return 1;
    }
    m_csiRsUe.resize(m_ues.size());
    NrCsiRsState& s = m_csiRsUe[i];
    if (s.srsRankId == e.id + 1)
    {
        return std::min(vmax, s.srsRank);
    }
    // the eigen-modes of the estimate per subband, each layer at PSD / v (SU), over the
    // measured noise plus interference; the rank of the largest TBS of the CQI they support
    const uint32_t nSb = m_channel->GetNSubbands();
    std::vector<std::vector<double>> gain(nSb); // sigma_l^2 / (N + I) per subband and layer
    for (uint32_t sb = 0; sb < nSb; ++sb)
    {
        uint32_t r = m_rbgFirst;
        while (r + 1 < m_rbgEnd && m_rbgSb[r] != sb)
        {
            ++r;
        }
        const NrComplexMatrix modes = NrPrecoding::EigenLayerChannels(CsiChannel(i, sb), vmax);
        for (uint32_t l = 0; l < vmax; ++l)
        {
            gain[sb].push_back(modes.RowNorm2(l) / MeasuredInr(i, r));
        }
    }
    const double psd = CarrierPsd(0, DL);
    const uint32_t nSymb = 14;
    uint32_t best = 1;
    uint32_t bestTbs = 0;
    for (uint32_t v = 1; v <= vmax; ++v)
    {
        std::vector<double> sinr;
        for (const auto& g : gain)
        {
            for (uint32_t l = 0; l < v; ++l)
            {
                sinr.push_back(psd / v * g[l]);
            }
        }
        const uint32_t cqi =
            GetCsiReport()->SelectCqi(sinr, m_nPrb, nSymb, m_dmrsRe, OverheadRe(DL, nSymb), v);
        const uint32_t tbs = cqi == 0 ? 0 : CqiTbs(cqi, m_nPrb, nSymb, v).tbs;
        if (tbs > bestTbs)
        {
            best = v;
            bestTbs = tbs;
        }
    }
    s.srsRankId = e.id + 1;
    s.srsRank = best;
    return best;
}

int32_t
NrCellMac::CqiMcs(uint32_t cqi) const
{
    if (cqi == 0)
    {
        return -1;
    }
    const uint32_t table = m_table == NrMcsTable::QAM64 ? 1 : 2;
    const auto [t, mcs] = NrCsiReport::CqiToMcs(table, cqi);
    // CQI 1 (QPSK, 78/1024) is an MCS of qam64LowSE only; and the TB's error needs a BLER
    // curve: at least the table's lowest MCS with one (Sionna has none below QPSK 308/1024)
    return std::max(t == m_table ? int32_t(mcs) : 0, LowestCurveMcs());
}

int32_t
NrCellMac::LowestCurveMcs() const
{
    for (uint32_t m = 0; m < NrMcsTable::GetNumMcs(m_table); ++m)
    {
        if (m_bler->HasCurve(NrBlerModel::PDSCH, m_table, m))
        {
            return int32_t(m);
        }
    }
    return 0;
}

NrTbsInfo
NrCellMac::CqiTbs(uint32_t cqi, uint32_t nPrb, uint32_t nSymb, uint32_t layers) const
{
    const int32_t mcs = CqiMcs(cqi);
    return NrTbs::ComputeInfo(nPrb, uint32_t(std::max(mcs, 0)), m_table, nSymb, m_dmrsRe,
                              OverheadRe(DL, nSymb), layers);
}

const NrBlerModel::McsChoice&
NrCellMac::CsiRsChoice(uint32_t i, uint32_t nSymb, uint32_t nPrb, uint32_t layers)
{
    Link& l = m_ues[i].link[DL];
    const NrCsiRsState& s = GetCsiRsState(i);
    l.laChoice = NrBlerModel::McsChoice();
    const int32_t mcs = s.valid ? CqiMcs(s.current.values.widebandCqi) : -1;
    if (mcs < 0)
    {
        return l.laChoice;
    }
    // OLLA: its offset in dB taken as MCS steps (about 1 dB each in Tables 5.1.3.1-1/-2)
    const int32_t top = int32_t(NrMcsTable::GetNumMcs(m_table)) - 1;
    l.laChoice.mcs = std::clamp(mcs - int32_t(std::lround(l.ollaDb)), LowestCurveMcs(), top);
    l.laChoice.meetsTarget = true;
    l.laChoice.sinrEffDb = std::nan("");
    l.laChoice.tbs = NrTbs::ComputeInfo(nPrb, uint32_t(l.laChoice.mcs), m_table, nSymb,
                                        m_dmrsRe, OverheadRe(DL, nSymb), layers);
    l.laSinr.clear(); // SelectCached's cache no longer holds laChoice
    return l.laChoice;
}

double
NrCellMac::CsiRsNeed(uint32_t i, double need, uint32_t nSymb) const
{
    const NrCsiRsState& s = GetCsiRsState(i);
    if (!m_csiRs || need >= 1e17 || !s.valid || s.current.values.widebandCqi == 0)
    {
        return need;
    }
    // NewDataNeed's RBGs at the reported SINR -> bytes -> RBGs at the CQI's TBS
    const double bytes = need * BytesPerRbg(i, DL, nSymb);
    const double perRbg = CqiTbs(s.current.values.widebandCqi, m_rbgSize, nSymb,
                                 s.current.values.rank).tbs / 8.0;
    return std::ceil(bytes / std::max(perRbg, 1.0));
}

} // namespace ns3
