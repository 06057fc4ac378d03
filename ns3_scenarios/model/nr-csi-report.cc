/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-csi-report.h"

#include "nr-precoding.h"
#include "nr-tbs.h"

#include "ns3/double.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace ns3
{

NS_OBJECT_ENSURE_REGISTERED(NrCsiReport);

namespace
{

/// TS 38.214 V17 Table 5.2.2.1-2 (CQI table 1), CQI 1..15: Q_m, code rate x 1024, efficiency.
constexpr NrCqiEntry kCqiTable1[15] = {
    {2, 78, 0.1523},  {2, 120, 0.2344}, {2, 193, 0.3770}, {2, 308, 0.6016}, {2, 449, 0.8770},
    {2, 602, 1.1758}, {4, 378, 1.4766}, {4, 490, 1.9141}, {4, 616, 2.4063}, {6, 466, 2.7305},
    {6, 567, 3.3223}, {6, 666, 3.9023}, {6, 772, 4.5234}, {6, 873, 5.1152}, {6, 948, 5.5547}};

/// TS 38.214 V17 Table 5.2.2.1-3 (CQI table 2), CQI 1..15.
constexpr NrCqiEntry kCqiTable2[15] = {
    {2, 78, 0.1523},  {2, 193, 0.3770}, {2, 449, 0.8770}, {4, 378, 1.4766}, {4, 490, 1.9141},
    {4, 616, 2.4063}, {6, 466, 2.7305}, {6, 567, 3.3223}, {6, 666, 3.9023}, {6, 772, 4.5234},
    {6, 873, 5.1152}, {8, 711, 5.5547}, {8, 797, 6.2266}, {8, 885, 6.9141}, {8, 948, 7.4063}};

/// The MCS table whose entries a CQI table's follow (qam64 for table 1, qam256 for table 2).
NrMcsTable::Table
Companion(uint32_t cqiTable)
{
    return cqiTable == 1 ? NrMcsTable::QAM64 : NrMcsTable::QAM256;
}

/// Throw std::invalid_argument if the condition fails.
void
Require(bool ok, const std::string& message)
{
    if (!ok)
    {
        throw std::invalid_argument(message);
    }
}

} // namespace

TypeId
NrCsiReport::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::NrCsiReport")
            .SetParent<Object>()
            .SetGroupName("Edgelam")
            .AddConstructor<NrCsiReport>()
            .AddAttribute("N1",
                          "Ports per polarisation in the first dimension N1 (TS 38.214 Table "
                          "5.2.2.2.1-2) [-]",
                          UintegerValue(4),
                          MakeUintegerAccessor(&NrCsiReport::m_n1),
                          MakeUintegerChecker<uint32_t>(1, 16))
            .AddAttribute("N2",
                          "Ports per polarisation in the second dimension N2 [-]",
                          UintegerValue(2),
                          MakeUintegerAccessor(&NrCsiReport::m_n2),
                          MakeUintegerChecker<uint32_t>(1, 16))
            .AddAttribute("O1",
                          "DFT oversampling O1 in the first dimension [-]",
                          UintegerValue(4),
                          MakeUintegerAccessor(&NrCsiReport::m_o1),
                          MakeUintegerChecker<uint32_t>(1, 16))
            .AddAttribute("O2",
                          "DFT oversampling O2 in the second dimension (1 if N2 = 1) [-]",
                          UintegerValue(4),
                          MakeUintegerAccessor(&NrCsiReport::m_o2),
                          MakeUintegerChecker<uint32_t>(1, 16))
            .AddAttribute("Polarisations",
                          "CSI-RS port polarisations: 2 (TS 38.214 Type I, P = 2 N1 N2, "
                          "co-phasing) or 1 (single-polarised array, P = N1 N2, DFT beams "
                          "without co-phasing; not a TS 38.214 configuration) [-]",
                          UintegerValue(2),
                          MakeUintegerAccessor(&NrCsiReport::m_pol),
                          MakeUintegerChecker<uint32_t>(1, 2))
            .AddAttribute("MaxRank",
                          "Largest rank the UE reports, 1 or 2 (typeI-SinglePanel "
                          "ri-Restriction) [-]",
                          UintegerValue(2),
                          MakeUintegerAccessor(&NrCsiReport::m_maxRank),
                          MakeUintegerChecker<uint32_t>(1, 2))
            .AddAttribute("CqiTable",
                          "4-bit CQI table: 1 (TS 38.214 Table 5.2.2.1-2, 64QAM) or 2 "
                          "(Table 5.2.2.1-3, 256QAM)",
                          UintegerValue(2),
                          MakeUintegerAccessor(&NrCsiReport::m_cqiTable),
                          MakeUintegerChecker<uint32_t>(1, 2))
            .AddAttribute("TargetBler",
                          "Transport-block error rate a CQI must not exceed, 0.1 (TS 38.214 "
                          "§5.2.2.1) [-]",
                          DoubleValue(0.1),
                          MakeDoubleAccessor(&NrCsiReport::m_targetBler),
                          MakeDoubleChecker<double>(0.0, 1.0));
    return tid;
}

NrCsiReport::NrCsiReport()
    : m_n1(4),
      m_n2(2),
      m_o1(4),
      m_o2(4),
      m_pol(2),
      m_maxRank(2),
      m_cqiTable(2),
      m_targetBler(0.1)
{
}

NrCsiReport::~NrCsiReport() = default;

NrCqiEntry
NrCsiReport::GetCqiEntry(uint32_t table, uint32_t cqi)
{
    if ((table != 1 && table != 2) || cqi > 15)
    {
        throw std::out_of_range("CQI table " + std::to_string(table) + " has no CQI " +
                                std::to_string(cqi) + " (tables 1, 2; CQI 0..15)");
    }
    if (cqi == 0)
    {
        return NrCqiEntry{};
    }
    return table == 1 ? kCqiTable1[cqi - 1] : kCqiTable2[cqi - 1];
}

std::pair<NrMcsTable::Table, uint32_t>
NrCsiReport::CqiToMcs(uint32_t table, uint32_t cqi)
{
    const NrCqiEntry e = GetCqiEntry(table, cqi);
    Require(cqi >= 1, "CQI 0 (out of range) has no MCS");
    for (auto t : {Companion(table), NrMcsTable::QAM64_LOW_SE})
    {
        for (uint32_t i = 0; i < NrMcsTable::GetNumMcs(t); ++i)
        {
            const NrMcs m = NrMcsTable::Get(t, i);
            if (m.qm == e.qm && m.rateX1024 == e.rateX1024)
            {
                return {t, i};
            }
        }
    }
    throw std::logic_error("no MCS has the modulation and rate of CQI " + std::to_string(cqi));
}

uint32_t
NrCsiReport::SubbandDifferentialCqi(uint32_t subbandCqi, uint32_t widebandCqi)
{
    const int offset = static_cast<int>(subbandCqi) - static_cast<int>(widebandCqi);
    if (offset <= -1)
    {
        return 3;
    }
    return offset >= 2 ? 2 : static_cast<uint32_t>(offset);
}

std::vector<NrComplexMatrix::Complex>
NrCsiReport::Vlm(uint32_t n1, uint32_t n2, uint32_t o1, uint32_t o2, uint32_t l, uint32_t m)
{
    std::vector<NrComplexMatrix::Complex> v(n1 * n2);
    const double twoPi = 2 * M_PI;
    for (uint32_t a = 0; a < n1; ++a)
    {
        for (uint32_t b = 0; b < n2; ++b)
        {
            // u_m = 1 when N2 = 1 (TS 38.214 §5.2.2.2.1)
            const double phase2 = n2 > 1 ? twoPi * m * b / (o2 * n2) : 0.0;
            v[a * n2 + b] = std::polar(1.0, twoPi * l * a / (o1 * n1) + phase2);
        }
    }
    return v;
}

uint32_t
NrCsiReport::GetNumPorts() const
{
    return m_pol * m_n1 * m_n2;
}

void
NrCsiReport::CheckConfig() const
{
    if (m_pol == 1)
    {
        Require(m_n1 > 1 || m_o1 == 1, "O1 must be 1 when N1 = 1 (single polarisation)");
        Require(m_n2 > 1 || m_o2 == 1, "O2 must be 1 when N2 = 1 (TS 38.214 Table 5.2.2.2.1-2)");
        return;
    }
    if (m_n1 == 1 && m_n2 == 1)
    {
        return; // 2 ports, Table 5.2.2.2.1-1
    }
    Require(m_n1 >= 2 && m_n1 >= m_n2,
            "N1 must be >= 2 and >= N2 (TS 38.214 Table 5.2.2.2.1-2), got N1 " +
                std::to_string(m_n1) + " N2 " + std::to_string(m_n2));
    Require(m_n2 > 1 || m_o2 == 1, "O2 must be 1 when N2 = 1 (TS 38.214 Table 5.2.2.2.1-2)");
}

std::pair<uint32_t, uint32_t>
NrCsiReport::K1K2(uint32_t i13) const
{
    // TS 38.214 Table 5.2.2.2.1-3
    if (m_pol == 1 && m_n1 < m_n2)
    {
        // single polarisation only: the table with the two dimensions swapped
        if (m_n1 == 1)
        {
            return {0, i13 * m_o2};
        }
        const uint32_t k[4][2] = {{0, 0}, {0, m_o2}, {m_o1, 0}, {0, 2 * m_o2}};
        return {k[i13][0], k[i13][1]};
    }
    if (m_n2 == 1)
    {
        return {i13 * m_o1, 0}; // N1 = 2: i13 0..1; N1 > 2: k1 = 0, O1, 2 O1, 3 O1
    }
    if (m_n1 == m_n2)
    {
        const uint32_t k[4][2] = {{0, 0}, {m_o1, 0}, {0, m_o2}, {m_o1, m_o2}};
        return {k[i13][0], k[i13][1]};
    }
    const uint32_t k[4][2] = {{0, 0}, {m_o1, 0}, {0, m_o2}, {2 * m_o1, 0}};
    return {k[i13][0], k[i13][1]};
}

std::vector<uint32_t>
NrCsiReport::I13Values(uint32_t rank) const
{
    if (rank == 1)
    {
        return {0};
    }
    if (m_pol == 2)
    {
        return m_n1 == 2 && m_n2 == 1 ? std::vector<uint32_t>{0, 1}
                                      : std::vector<uint32_t>{0, 1, 2, 3};
    }
    // single polarisation: the offsets of a second, orthogonal beam ((0, 0) repeats it; an
    // offset of N O in a dimension of N elements wraps onto the same beam)
    std::vector<uint32_t> out;
    for (uint32_t i13 = 1; i13 < 4; ++i13)
    {
        const auto [k1, k2] = K1K2(i13);
        if (k1 < m_n1 * m_o1 && k2 < m_n2 * m_o2 && (k1 % (m_n1 * m_o1) || k2 % (m_n2 * m_o2)))
        {
            out.push_back(i13);
        }
    }
    return out;
}

std::vector<NrPmi>
NrCsiReport::GetCodebook(uint32_t rank) const
{
    CheckConfig();
    Require(rank == 1 || rank == 2, "rank must be 1 or 2, got " + std::to_string(rank));
    Require(rank <= GetNumPorts(), "rank 2 needs at least 2 CSI-RS ports");
    std::vector<NrPmi> book;
    const uint32_t numI2 = m_pol == 1 ? 1 : (rank == 1 ? 4 : 2);
    if (GetNumPorts() == 2 && m_pol == 2)
    {
        for (uint32_t i2 = 0; i2 < numI2; ++i2)
        {
            book.push_back(NrPmi{0, 0, 0, i2});
        }
        return book;
    }
    const auto i13s = I13Values(rank);
    const uint32_t numI12 = m_n2 == 1 ? 1 : m_n2 * m_o2;
    for (uint32_t i11 = 0; i11 < m_n1 * m_o1; ++i11)
    {
        for (uint32_t i12 = 0; i12 < numI12; ++i12)
        {
            for (uint32_t i13 : i13s)
            {
                for (uint32_t i2 = 0; i2 < numI2; ++i2)
                {
                    book.push_back(NrPmi{i11, i12, i13, i2});
                }
            }
        }
    }
    return book;
}

uint32_t
NrCsiReport::GetPmiIndex(uint32_t rank, const NrPmi& pmi) const
{
    const auto i13s = I13Values(rank);
    const uint32_t numI2 = m_pol == 1 ? 1 : (rank == 1 ? 4 : 2);
    const uint32_t numI12 = m_n2 == 1 ? 1 : m_n2 * m_o2;
    const auto pos = std::find(i13s.begin(), i13s.end(), pmi.i13) - i13s.begin();
    if (GetNumPorts() == 2 && m_pol == 2)
    {
        return pmi.i2;
    }
    return ((pmi.i11 * numI12 + pmi.i12) * i13s.size() + pos) * numI2 + pmi.i2;
}

NrComplexMatrix
NrCsiReport::GetPrecoder(uint32_t rank, const NrPmi& pmi) const
{
    CheckConfig();
    Require(rank == 1 || rank == 2, "rank must be 1 or 2, got " + std::to_string(rank));
    using C = NrComplexMatrix::Complex;
    const C phi = std::polar(1.0, M_PI * pmi.i2 / 2); // phi_n = e^{j pi n / 2}
    if (m_pol == 1)
    {
        // single polarisation (see the class doc): DFT beams, no co-phasing
        const uint32_t p = m_n1 * m_n2;
        Require(rank <= p, "rank 2 needs at least 2 CSI-RS ports");
        NrComplexMatrix w(p, rank);
        const double scale = 1.0 / std::sqrt(static_cast<double>(p * rank));
        const auto v = Vlm(m_n1, m_n2, m_o1, m_o2, pmi.i11, pmi.i12);
        const auto [k1, k2] = rank == 2 ? K1K2(pmi.i13) : std::pair<uint32_t, uint32_t>{0, 0};
        const auto v2 = Vlm(m_n1, m_n2, m_o1, m_o2, pmi.i11 + k1, pmi.i12 + k2);
        for (uint32_t q = 0; q < p; ++q)
        {
            w(q, 0) = v[q] * scale;
            if (rank == 2)
            {
                w(q, 1) = v2[q] * scale;
            }
        }
        return w;
    }
    if (GetNumPorts() == 2)
    {
        // Table 5.2.2.2.1-1
        if (rank == 1)
        {
            const double r2 = 1 / std::sqrt(2.0);
            return NrComplexMatrix::FromRowMajor(2, 1, {C(r2), phi * r2});
        }
        const C j = pmi.i2 == 0 ? C(1) : C(0, 1);
        return NrComplexMatrix::FromRowMajor(2, 2, {0.5, 0.5, 0.5 * j, -0.5 * j});
    }
    const uint32_t half = m_n1 * m_n2;
    const auto v = Vlm(m_n1, m_n2, m_o1, m_o2, pmi.i11, pmi.i12);
    NrComplexMatrix w(2 * half, rank);
    // Table 5.2.2.2.1-5 (1 layer): [v; phi v] / sqrt(P); -6 (2 layers): [v v'; phi v, -phi v']
    // / sqrt(2 P)
    const double scale = 1.0 / std::sqrt(static_cast<double>(2 * half * rank));
    for (uint32_t p = 0; p < half; ++p)
    {
        w(p, 0) = v[p] * scale;
        w(half + p, 0) = phi * v[p] * scale;
    }
    if (rank == 2)
    {
        const auto [k1, k2] = K1K2(pmi.i13);
        const auto v2 = Vlm(m_n1, m_n2, m_o1, m_o2, pmi.i11 + k1, pmi.i12 + k2);
        for (uint32_t p = 0; p < half; ++p)
        {
            w(p, 1) = v2[p] * scale;
            w(half + p, 1) = -phi * v2[p] * scale;
        }
    }
    return w;
}

double
NrCsiReport::Capacity(const std::vector<NrComplexMatrix>& h, const NrComplexMatrix& w, double snr)
{
    Require(!h.empty(), "no subband channel given");
    double sum = 0;
    for (const auto& hs : h)
    {
        const NrComplexMatrix hw = hs * w;
        const NrComplexMatrix gram =
            NrComplexMatrix::Identity(w.Cols()) + (hw.Hermitian() * hw).Scaled(snr);
        sum += std::log2(std::abs(gram.Determinant()));
    }
    return sum / static_cast<double>(h.size());
}

NrCsiReportValues
NrCsiReport::SelectPmi(const std::vector<NrComplexMatrix>& h, double snr, uint32_t rank) const
{
    Require(!h.empty(), "no subband channel given");
    for (const auto& hs : h)
    {
        Require(hs.Cols() == GetNumPorts(),
                "the channel has " + std::to_string(hs.Cols()) + " ports, the codebook " +
                    std::to_string(GetNumPorts()) + " (2 N1 N2)");
    }
    Require(rank <= h[0].Rows(), "rank " + std::to_string(rank) + " exceeds the receive antennas");
    if (m_pol == 1)
    {
        return SelectPmiSinglePol(h, snr, rank);
    }
    NrCsiReportValues best;
    best.rank = rank;
    best.capacity = -std::numeric_limits<double>::infinity();
    for (const auto& pmi : GetCodebook(rank))
    {
        const double c = Capacity(h, GetPrecoder(rank, pmi), snr);
        if (c > best.capacity)
        {
            best.capacity = c;
            best.pmi = pmi;
        }
    }
    best.pmiIndex = GetPmiIndex(rank, best.pmi);
    return best;
}

std::vector<NrComplexMatrix::Complex>
NrCsiReport::BeamResponses(const std::vector<NrComplexMatrix>& h) const
{
    using C = NrComplexMatrix::Complex;
    const uint32_t nl = m_n1 * m_o1;
    const uint32_t nm = m_n2 == 1 ? 1 : m_n2 * m_o2;
    const size_t rx = h[0].Rows();
    // y[(s nl + l) nm + m] = H_s v_{l,m} [rx], every beam once, as a separable 2D DFT:
    // z[a][m] = sum_b H(a N2 + b) e^{j 2 pi m b / (O2 N2)}, y[l][m] = sum_a z[a][m] e^{j 2 pi l
    // a / (O1 N1)} (u_m = 1 when N2 = 1, as Vlm)
    std::vector<C> e1(nl * m_n1);
    std::vector<C> e2(nm * m_n2, C(1));
    for (uint32_t l = 0; l < nl; ++l)
    {
        for (uint32_t a = 0; a < m_n1; ++a)
        {
            e1[l * m_n1 + a] = std::polar(1.0, 2 * M_PI * l * a / double(m_o1 * m_n1));
        }
    }
    for (uint32_t m = 0; m < nm && m_n2 > 1; ++m)
    {
        for (uint32_t b = 0; b < m_n2; ++b)
        {
            e2[m * m_n2 + b] = std::polar(1.0, 2 * M_PI * m * b / double(m_o2 * m_n2));
        }
    }
    std::vector<C> y(h.size() * nl * nm * rx); // flat: [s][l][m][r]
    std::vector<C> z(m_n1 * nm);
    for (size_t s = 0; s < h.size(); ++s)
    {
        for (size_t r = 0; r < rx; ++r)
        {
            std::fill(z.begin(), z.end(), C(0));
            for (uint32_t a = 0; a < m_n1; ++a)
            {
                for (uint32_t m = 0; m < nm; ++m)
                {
                    for (uint32_t b = 0; b < m_n2; ++b)
                    {
                        z[a * nm + m] += h[s](r, a * m_n2 + b) * e2[m * m_n2 + b];
                    }
                }
            }
            for (uint32_t l = 0; l < nl; ++l)
            {
                for (uint32_t m = 0; m < nm; ++m)
                {
                    C acc = 0;
                    for (uint32_t a = 0; a < m_n1; ++a)
                    {
                        acc += z[a * nm + m] * e1[l * m_n1 + a];
                    }
                    y[((s * nl + l) * nm + m) * rx + r] = acc;
                }
            }
        }
    }
    return y;
}

NrCsiReportValues
NrCsiReport::SelectPmiSinglePol(const std::vector<NrComplexMatrix>& h,
                                double snr,
                                uint32_t rank) const
{
    using C = NrComplexMatrix::Complex;
    const auto book = GetCodebook(rank);
    const uint32_t nl = m_n1 * m_o1;
    const uint32_t nm = m_n2 == 1 ? 1 : m_n2 * m_o2;
    const size_t rx = h[0].Rows();
    const size_t p = m_n1 * m_n2;
    const std::vector<C> y = BeamResponses(h); // [s][l][m][r]
    const double c = snr / static_cast<double>(p * rank); // W = [v ...] / sqrt(P rank)
    NrCsiReportValues best;
    best.rank = rank;
    best.capacity = -std::numeric_limits<double>::infinity();
    for (const auto& pmi : book)
    {
        const auto [k1, k2] = rank == 2 ? K1K2(pmi.i13) : std::pair<uint32_t, uint32_t>{0, 0};
        const uint32_t l2 = (pmi.i11 + k1) % nl;
        const uint32_t m2 = (pmi.i12 + k2) % nm;
        double sum = 0;
        for (size_t s = 0; s < h.size(); ++s)
        {
            const C* a = &y[((s * nl + pmi.i11) * nm + pmi.i12) * rx];
            double aa = 0;
            for (size_t r = 0; r < rx; ++r)
            {
                aa += std::norm(a[r]);
            }
            if (rank == 1)
            {
                sum += std::log2(1 + c * aa);
                continue;
            }
            const C* b = &y[((s * nl + l2) * nm + m2) * rx];
            double bb = 0;
            C ab = 0;
            for (size_t r = 0; r < rx; ++r)
            {
                bb += std::norm(b[r]);
                ab += std::conj(a[r]) * b[r];
            }
            // det [[1 + c aa, c ab], [c ab*, 1 + c bb]]
            sum += std::log2((1 + c * aa) * (1 + c * bb) - c * c * std::norm(ab));
        }
        const double cap = sum / static_cast<double>(h.size());
        if (cap > best.capacity)
        {
            best.capacity = cap;
            best.pmi = pmi;
        }
    }
    best.pmiIndex = GetPmiIndex(rank, best.pmi);
    return best;
}

NrCsiReportValues
NrCsiReport::SelectRiPmi(const std::vector<NrComplexMatrix>& h, double snr) const
{
    Require(!h.empty(), "no subband channel given");
    NrCsiReportValues best = SelectPmi(h, snr, 1);
    const uint32_t maxRank = std::min<uint32_t>({m_maxRank, uint32_t(h[0].Rows()), GetNumPorts()});
    for (uint32_t r = 2; r <= maxRank; ++r)
    {
        const NrCsiReportValues c = SelectPmi(h, snr, r);
        if (c.capacity > best.capacity)
        {
            best = c;
        }
    }
    return best;
}

void
NrCsiReport::SetBlerModel(Ptr<NrBlerModel> bler)
{
    m_bler = bler;
}

double
NrCsiReport::CqiBeta(uint32_t cqi, NrMcsTable::Table table, uint32_t mcs) const
{
    try
    {
        return m_bler->GetEesmBeta(table, mcs);
    }
    catch (const std::out_of_range&)
    {
        const NrCqiEntry e = GetCqiEntry(m_cqiTable, cqi);
        const auto companion = Companion(m_cqiTable);
        uint32_t nearest = 0;
        double gap = std::numeric_limits<double>::infinity();
        for (uint32_t i = 0; i < NrMcsTable::GetNumMcs(companion); ++i)
        {
            const NrMcs m = NrMcsTable::Get(companion, i);
            if (m.qm == e.qm && std::abs(m.rateX1024 - e.rateX1024) < gap)
            {
                gap = std::abs(m.rateX1024 - e.rateX1024);
                nearest = i;
            }
        }
        return m_bler->GetEesmBeta(companion, nearest);
    }
}

NrCsiReport::CurveRef
NrCsiReport::GetCqiCurve(uint32_t cqi) const
{
    Require(m_bler != nullptr, "the CSI report has no BLER model (SetBlerModel)");
    const auto [table, mcs] = CqiToMcs(m_cqiTable, cqi);
    if (m_bler->HasCurve(NrBlerModel::PDSCH, table, mcs))
    {
        return CurveRef{table, mcs, 0.0};
    }
    const NrCqiEntry e = GetCqiEntry(m_cqiTable, cqi);
    const auto companion = Companion(m_cqiTable);
    const auto capacityDb = [](double se) { return 10 * std::log10(std::pow(2.0, se) - 1); };
    for (uint32_t i = 0; i < NrMcsTable::GetNumMcs(companion); ++i)
    {
        const NrMcs m = NrMcsTable::Get(companion, i);
        if (m.qm == e.qm && m_bler->HasCurve(NrBlerModel::PDSCH, companion, i))
        {
            const double se = e.qm * e.rateX1024 / 1024.0;
            return CurveRef{companion, i, capacityDb(m.spectralEfficiency) - capacityDb(se)};
        }
    }
    throw std::out_of_range("no BLER curve of Q_m " + std::to_string(e.qm) + " for CQI " +
                            std::to_string(cqi));
}

double
NrCsiReport::GetCqiTbler(uint32_t cqi,
                         const std::vector<double>& sinr,
                         uint32_t nPrb,
                         uint32_t nSymb,
                         uint32_t nDmrs,
                         uint32_t nOh,
                         uint32_t layers) const
{
    const auto [table, mcs] = CqiToMcs(m_cqiTable, cqi);
    const CurveRef curve = GetCqiCurve(cqi);
    const NrTbsInfo tbs = NrTbs::ComputeInfo(nPrb, mcs, table, nSymb, nDmrs, nOh, layers);
    const double beta = CqiBeta(cqi, curve.table, curve.mcs);
    const double eff = NrBlerModel::Eesm(sinr.data(), sinr.size(), beta);
    if (eff <= 0)
    {
        return 1.0;
    }
    return m_bler->GetTbler(NrBlerModel::PDSCH,
                            curve.table,
                            curve.mcs,
                            tbs.codeBlockSize,
                            tbs.numCodeBlocks,
                            10 * std::log10(eff) + curve.shiftDb);
}

uint32_t
NrCsiReport::SelectCqi(const std::vector<double>& sinr,
                       uint32_t nPrb,
                       uint32_t nSymb,
                       uint32_t nDmrs,
                       uint32_t nOh,
                       uint32_t layers) const
{
    for (uint32_t cqi = 15; cqi >= 1; --cqi)
    {
        if (GetCqiTbler(cqi, sinr, nPrb, nSymb, nDmrs, nOh, layers) <= m_targetBler)
        {
            return cqi;
        }
    }
    return 0;
}

NrCsiReportValues
NrCsiReport::Report(const std::vector<NrComplexMatrix>& h,
                    double snr,
                    uint32_t nPrbPerSubband,
                    uint32_t nSymb,
                    uint32_t nDmrs,
                    uint32_t nOh) const
{
    Require(!h.empty(), "no subband channel given");
    const auto nPrb = static_cast<uint32_t>(nPrbPerSubband * h.size());
    const uint32_t maxRank = std::min<uint32_t>({m_maxRank, uint32_t(h[0].Rows()), GetNumPorts()});
    NrCsiReportValues best;
    for (uint32_t rank = 1; rank <= maxRank; ++rank)
    {
        NrCsiReportValues r = SelectPmi(h, snr, rank);
        // unit noise, the precoder's total power snr
        const NrComplexMatrix w = GetPrecoder(r.rank, r.pmi).Scaled(std::sqrt(snr));
        const std::vector<uint32_t> layerUe(r.rank, 0);
        for (const auto& hs : h)
        {
            const auto s = NrPrecoding::LayerSinr({hs}, w, layerUe, {1.0});
            r.layerSinr.insert(r.layerSinr.end(), s.begin(), s.end());
        }
        r.widebandCqi = SelectCqi(r.layerSinr, nPrb, nSymb, nDmrs, nOh, r.rank);
        if (r.widebandCqi > 0)
        {
            const auto [table, mcs] = CqiToMcs(m_cqiTable, r.widebandCqi);
            r.tbsBits = NrTbs::ComputeInfo(nPrb, mcs, table, nSymb, nDmrs, nOh, r.rank).tbs;
        }
        if (rank == 1 || r.tbsBits > best.tbsBits)
        {
            best = r;
        }
    }
    for (size_t s = 0; s < h.size(); ++s)
    {
        const std::vector<double> sb(best.layerSinr.begin() + s * best.rank,
                                     best.layerSinr.begin() + (s + 1) * best.rank);
        best.subbandCqi.push_back(SelectCqi(sb, nPrbPerSubband, nSymb, nDmrs, nOh, best.rank));
    }
    return best;
}

} // namespace ns3
