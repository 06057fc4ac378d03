/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-mcs-table.h"

#include "nr-spec-tables.h"

#include <stdexcept>

namespace ns3
{

namespace
{

/**
 * \param table the MCS table
 * \param mcs the MCS index
 * \return the row; throws std::out_of_range if reserved or outside the table
 */
nrspec::McsRow
GetRow(NrMcsTable::Table table, uint32_t mcs)
{
    auto pick = [mcs, table](const auto& rows) {
        if (mcs >= rows.size())
        {
            throw std::out_of_range("MCS index " + std::to_string(mcs) +
                                    " is reserved or outside TS 38.214 Table 5.1.3.1-" +
                                    std::to_string(static_cast<uint32_t>(table)) +
                                    " (valid: 0.." + std::to_string(rows.size() - 1) + ")");
        }
        return rows[mcs];
    };
    switch (table)
    {
    case NrMcsTable::QAM64:
        return pick(nrspec::kMcsTable1);
    case NrMcsTable::QAM256:
        return pick(nrspec::kMcsTable2);
    case NrMcsTable::QAM64_LOW_SE:
        return pick(nrspec::kMcsTable3);
    case NrMcsTable::QAM1024:
        return pick(nrspec::kMcsTable4);
    }
    throw std::invalid_argument("MCS table must be 1..4 (TS 38.214 Tables 5.1.3.1-1..4)");
}

} // namespace

uint32_t
NrMcsTable::GetNumMcs(Table table)
{
    switch (table)
    {
    case QAM64:
        return nrspec::kMcsTable1.size();
    case QAM256:
        return nrspec::kMcsTable2.size();
    case QAM64_LOW_SE:
        return nrspec::kMcsTable3.size();
    case QAM1024:
        return nrspec::kMcsTable4.size();
    }
    throw std::invalid_argument("MCS table must be 1..4 (TS 38.214 Tables 5.1.3.1-1..4)");
}

NrMcs
NrMcsTable::Get(Table table, uint32_t mcs)
{
    const nrspec::McsRow row = GetRow(table, mcs);
    NrMcs out;
    out.qm = row.qm;
    out.rateX1024 = row.rateX2048 / 2.0;
    out.spectralEfficiency = row.qm * row.rateX2048 / 2048.0;
    return out;
}

double
NrMcsTable::GetMaxSpectralEfficiency(Table table)
{
    return Get(table, GetNumMcs(table) - 1).spectralEfficiency;
}

uint32_t
NrMcsTable::GetRateX2048(Table table, uint32_t mcs)
{
    return GetRow(table, mcs).rateX2048;
}

NrMcsTable::Table
NrMcsTable::FromString(const std::string& name)
{
    if (name == "qam64")
    {
        return QAM64;
    }
    if (name == "qam256")
    {
        return QAM256;
    }
    if (name == "qam64LowSE")
    {
        return QAM64_LOW_SE;
    }
    if (name == "qam1024")
    {
        return QAM1024;
    }
    throw std::invalid_argument("unknown MCS table '" + name +
                                "': TS 38.214 mcs-Table names are qam64, qam256, qam64LowSE, "
                                "qam1024");
}

NrMcsTable::Table
NrMcsTable::FromIndex(uint32_t table)
{
    if (table < 1 || table > 4)
    {
        throw std::invalid_argument("MCS table index must be 1..4 (TS 38.214 Tables "
                                    "5.1.3.1-1..4), got " +
                                    std::to_string(table));
    }
    return static_cast<Table>(table);
}

} // namespace ns3
