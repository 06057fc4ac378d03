/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-bler-model.h"

#include "ns3/double.h"
#include "ns3/log.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("NrBlerModel");
NS_OBJECT_ENSURE_REGISTERED(NrBlerModel);

namespace
{

/**
 * \param se spectral efficiency [bits per resource element]
 * \return the AWGN Shannon-capacity SINR 10 log10(2^se - 1) [dB]
 */
double
CapacitySinrDb(double se)
{
    return 10.0 * std::log10(std::pow(2.0, se) - 1.0);
}

} // namespace

TypeId
NrBlerModel::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::NrBlerModel")
            .SetParent<Object>()
            .SetGroupName("Edgelam")
            .AddConstructor<NrBlerModel>()
            .AddAttribute("TargetBler",
                          "Default transport-block error rate target of link adaptation [-] "
                          "(0.1, the CQI definition of TS 38.214 §5.2.2.1)",
                          DoubleValue(0.1),
                          MakeDoubleAccessor(&NrBlerModel::m_targetBler),
                          MakeDoubleChecker<double>(0.0, 1.0))
            .AddAttribute("MinBler",
                          "Floor of the code-block error rate where a curve is extended past "
                          "its last tabulated point [-]",
                          DoubleValue(1e-9),
                          MakeDoubleAccessor(&NrBlerModel::m_minBler),
                          MakeDoubleChecker<double>(1e-300, 1.0));
    return tid;
}

NrBlerModel::NrBlerModel()
    : m_targetBler(0.1),
      m_minBler(1e-9)
{
}

NrBlerModel::~NrBlerModel() = default;

void
NrBlerModel::AddCurve(Channel channel,
                      NrMcsTable::Table table,
                      uint32_t mcs,
                      const std::vector<double>& snrDb,
                      const std::vector<double>& cbSizes,
                      const std::vector<double>& bler)
{
    NrMcsTable::Get(table, mcs); // validates the MCS index
    if (channel != PDSCH && channel != PUSCH)
    {
        throw std::invalid_argument("channel must be 0 (PUSCH) or 1 (PDSCH), as Sionna's "
                                    "mcs_category");
    }
    if (snrDb.size() < 2 || cbSizes.empty() || bler.size() != snrDb.size() * cbSizes.size())
    {
        throw std::invalid_argument("a BLER table needs >= 2 SINR points, >= 1 code-block size "
                                    "and one BLER per (code-block size, SINR) pair");
    }
    for (size_t i = 1; i < snrDb.size(); ++i)
    {
        if (!(snrDb[i] > snrDb[i - 1]))
        {
            throw std::invalid_argument("BLER table SINR points must be strictly increasing");
        }
    }
    for (size_t i = 1; i < cbSizes.size(); ++i)
    {
        if (!(cbSizes[i] > cbSizes[i - 1]))
        {
            throw std::invalid_argument("BLER table code-block sizes must be strictly increasing");
        }
    }
    for (double b : bler)
    {
        if (!(b >= 0.0 && b <= 1.0))
        {
            throw std::invalid_argument("BLER table entries must be in [0, 1]");
        }
    }
    Curve c;
    c.snrDb = snrDb;
    c.cbs = cbSizes;
    c.bler = bler;
    m_curves[Key{channel, table, mcs}] = std::move(c);
    m_finalized = false;
}

void
NrBlerModel::SetEesmBetas(NrMcsTable::Table table, const std::vector<double>& betas)
{
    for (double b : betas)
    {
        if (!(b > 0.0) || !std::isfinite(b))
        {
            throw std::invalid_argument("EESM betas must be finite and > 0");
        }
    }
    m_betas[table] = betas;
}

void
NrBlerModel::Finalize()
{
    // std::map iterates by (channel, table, MCS): each donor (a lower MCS) is prepared first
    for (auto& [key, curve] : m_curves)
    {
        const auto [channel, table, mcs] = key;
        const size_t m = curve.snrDb.size();
        const size_t n = curve.cbs.size();
        double minLog = std::numeric_limits<double>::infinity();
        for (double b : curve.bler)
        {
            if (b > 0)
            {
                minLog = std::min(minLog, std::log10(b));
            }
        }
        // Sionna's convention for a zero entry; an all-zero table sits at the floor
        const double zeroLog = std::isfinite(minLog) ? minLog - 2.0 : std::log10(m_minBler);
        curve.rows.assign(n, Row{});
        for (size_t i = 0; i < n; ++i)
        {
            Row& row = curve.rows[i];
            const double* b = &curve.bler[i * m];
            row.y.resize(m);
            for (size_t j = 0; j < m; ++j)
            {
                row.y[j] = b[j] > 0 ? std::log10(b[j]) : zeroLog;
            }
            // L: the last point, or the first of a final run of zeros
            size_t last = m - 1;
            while (last > 0 && b[last] == 0 && b[last - 1] == 0)
            {
                --last;
            }
            row.last = static_cast<uint32_t>(last);
            const double yL = row.y[last];
            const double sL = curve.snrDb[last];
            double yMax = yL;
            for (size_t j = 0; j <= last; ++j)
            {
                yMax = std::max(yMax, row.y[j]);
            }
            const double drop = yMax - yL;
            double ownSlope = 0;
            if (drop > 0)
            {
                // secant from where the row last crosses y_L + min(1, drop) down to (s_L, y_L)
                const double yRef = yL + std::min(1.0, drop);
                size_t j = last;
                while (j > 0 && row.y[j - 1] < yRef)
                {
                    --j;
                }
                // row.y[j - 1] >= yRef > row.y[j]
                double sRef = curve.snrDb[0];
                if (j > 0)
                {
                    const double y0 = row.y[j - 1];
                    const double y1 = row.y[j];
                    const double s0 = curve.snrDb[j - 1];
                    const double s1 = curve.snrDb[j];
                    sRef = s0 + (y0 - yRef) / (y0 - y1) * (s1 - s0);
                }
                ownSlope = sL > sRef ? (yL - yRef) / (sL - sRef) : 0;
            }
            row.fullDecade = drop >= 1.0;
            row.slope = ownSlope;
            row.start = sL;
            if (row.fullDecade)
            {
                continue;
            }
            // a donor: the nearest lower MCS with a full decade at this code-block size
            for (int32_t dm = static_cast<int32_t>(mcs) - 1; dm >= 0; --dm)
            {
                auto it = m_curves.find(Key{channel, table, static_cast<uint32_t>(dm)});
                if (it == m_curves.end() || it->second.rows.empty())
                {
                    continue;
                }
                const Curve& donor = it->second;
                auto c = std::find(donor.cbs.begin(), donor.cbs.end(), curve.cbs[i]);
                if (c == donor.cbs.end())
                {
                    continue;
                }
                const Row& drow = donor.rows[c - donor.cbs.begin()];
                if (!drow.fullDecade)
                {
                    continue;
                }
                const auto t = static_cast<NrMcsTable::Table>(table);
                // the donor's gap to capacity where its waterfall has begun (BLER <= 0.9)
                const double donorSe =
                    NrMcsTable::Get(t, static_cast<uint32_t>(dm)).spectralEfficiency;
                const double gap =
                    FirstSinrAtOrBelow(donor, drow, std::min(yL, std::log10(0.9))) -
                    CapacitySinrDb(donorSe);
                row.slope = std::min(ownSlope, drow.slope);
                row.start =
                    std::max(sL, CapacitySinrDb(NrMcsTable::Get(t, mcs).spectralEfficiency) + gap);
                NS_LOG_LOGIC("channel " << channel << " table " << table << " MCS " << mcs
                                        << " CBS " << curve.cbs[i] << ": donor MCS " << dm
                                        << ", slope " << row.slope << " dec/dB from "
                                        << row.start << " dB");
                break;
            }
        }
    }
    m_finalized = true;
}

double
NrBlerModel::EvalRow(const Curve& curve, const Row& row, double s)
{
    const auto& x = curve.snrDb;
    if (s <= x[0])
    {
        return row.y[0];
    }
    const double sL = x[row.last];
    if (s <= sL)
    {
        const size_t j = std::upper_bound(x.begin(), x.begin() + row.last + 1, s) - x.begin();
        // x[j - 1] <= s < x[j] (or s == x[L])
        if (j > row.last)
        {
            return row.y[row.last];
        }
        const double w = (s - x[j - 1]) / (x[j] - x[j - 1]);
        return (1 - w) * row.y[j - 1] + w * row.y[j];
    }
    if (s <= row.start)
    {
        return row.y[row.last];
    }
    return row.y[row.last] + row.slope * (s - row.start);
}

double
NrBlerModel::FirstSinrAtOrBelow(const Curve& curve, const Row& row, double y)
{
    const auto& x = curve.snrDb;
    if (row.y[0] <= y)
    {
        return x[0];
    }
    for (size_t j = 1; j <= row.last; ++j)
    {
        if (row.y[j] <= y)
        {
            const double y0 = row.y[j - 1];
            return x[j - 1] + (y0 - y) / (y0 - row.y[j]) * (x[j] - x[j - 1]);
        }
    }
    if (row.slope < 0)
    {
        return row.start + (y - row.y[row.last]) / row.slope;
    }
    return std::numeric_limits<double>::infinity();
}

const NrBlerModel::Curve&
NrBlerModel::GetCurve(const Key& key) const
{
    if (!m_finalized)
    {
        throw std::logic_error("NrBlerModel: call Finalize() after loading curves");
    }
    auto it = m_curves.find(key);
    if (it == m_curves.end())
    {
        throw std::out_of_range("no BLER curve for channel " + std::to_string(std::get<0>(key)) +
                                " (0 PUSCH, 1 PDSCH), MCS table " +
                                std::to_string(std::get<1>(key)) + ", MCS " +
                                std::to_string(std::get<2>(key)));
    }
    return it->second;
}

bool
NrBlerModel::HasCurve(Channel channel, NrMcsTable::Table table, uint32_t mcs) const
{
    return m_curves.count(Key{channel, table, mcs}) > 0;
}

double
NrBlerModel::GetCbler(Channel channel,
                      NrMcsTable::Table table,
                      uint32_t mcs,
                      double cbSize,
                      double sinrDb) const
{
    const Curve& c = GetCurve(Key{channel, table, mcs});
    double y;
    if (cbSize <= c.cbs.front())
    {
        y = EvalRow(c, c.rows.front(), sinrDb);
    }
    else if (cbSize >= c.cbs.back())
    {
        y = EvalRow(c, c.rows.back(), sinrDb);
    }
    else
    {
        const size_t i = std::upper_bound(c.cbs.begin(), c.cbs.end(), cbSize) - c.cbs.begin();
        const double w = (cbSize - c.cbs[i - 1]) / (c.cbs[i] - c.cbs[i - 1]);
        y = (1 - w) * EvalRow(c, c.rows[i - 1], sinrDb) + w * EvalRow(c, c.rows[i], sinrDb);
    }
    y = std::max(y, std::log10(m_minBler));
    return std::min(1.0, std::pow(10.0, y));
}

double
NrBlerModel::GetTbler(Channel channel,
                      NrMcsTable::Table table,
                      uint32_t mcs,
                      double cbSize,
                      uint32_t numCodeBlocks,
                      double sinrDb) const
{
    const double cbler = GetCbler(channel, table, mcs, cbSize, sinrDb);
    if (cbler >= 1.0)
    {
        return 1.0;
    }
    return -std::expm1(static_cast<double>(numCodeBlocks) * std::log1p(-cbler));
}

double
NrBlerModel::GetEesmBeta(NrMcsTable::Table table, uint32_t mcs) const
{
    auto it = m_betas.find(table);
    if (it == m_betas.end() || mcs >= it->second.size())
    {
        throw std::out_of_range("no EESM beta for MCS table " + std::to_string(table) +
                                ", MCS " + std::to_string(mcs) +
                                " (Sionna's default beta table covers MCS tables 1 and 2)");
    }
    return it->second[mcs];
}

double
NrBlerModel::Eesm(const double* sinr, size_t n, double beta)
{
    double lo = std::numeric_limits<double>::infinity();
    size_t used = 0;
    for (size_t i = 0; i < n; ++i)
    {
        if (sinr[i] > 0)
        {
            lo = std::min(lo, sinr[i]);
            ++used;
        }
    }
    if (used == 0)
    {
        return 0.0;
    }
    double sum = 0;
    for (size_t i = 0; i < n; ++i)
    {
        if (sinr[i] > 0)
        {
            sum += std::exp(-(sinr[i] - lo) / beta);
        }
    }
    return lo - beta * std::log(sum / static_cast<double>(used));
}

double
NrBlerModel::GetEffectiveSinr(const std::vector<double>& sinr,
                              NrMcsTable::Table table,
                              uint32_t mcs) const
{
    return Eesm(sinr.data(), sinr.size(), GetEesmBeta(table, mcs));
}

NrBlerModel::McsChoice
NrBlerModel::SelectMcs(Channel channel,
                       NrMcsTable::Table table,
                       const std::vector<double>& sinr,
                       uint32_t nPrb,
                       uint32_t nSymb,
                       uint32_t nDmrsRePerPrb,
                       uint32_t nOhPerPrb,
                       uint32_t layers,
                       double targetTbler) const
{
    const double target = targetTbler < 0 ? m_targetBler : targetTbler;
    McsChoice lowest;
    for (int32_t mcs = static_cast<int32_t>(NrMcsTable::GetNumMcs(table)) - 1; mcs >= 0; --mcs)
    {
        const auto m = static_cast<uint32_t>(mcs);
        if (!HasCurve(channel, table, m))
        {
            continue;
        }
        McsChoice c;
        c.mcs = mcs;
        const double eff = GetEffectiveSinr(sinr, table, m);
        c.sinrEffDb = eff > 0 ? 10.0 * std::log10(eff) : -std::numeric_limits<double>::infinity();
        c.tbs = NrTbs::ComputeInfo(nPrb, m, table, nSymb, nDmrsRePerPrb, nOhPerPrb, layers);
        c.cbler = eff > 0 ? GetCbler(channel, table, m, c.tbs.codeBlockSize, c.sinrEffDb) : 1.0;
        c.tbler = c.cbler >= 1.0
                      ? 1.0
                      : -std::expm1(c.tbs.numCodeBlocks * std::log1p(-c.cbler));
        c.meetsTarget = c.tbler <= target;
        if (c.meetsTarget)
        {
            return c;
        }
        lowest = c;
    }
    return lowest;
}

} // namespace ns3
