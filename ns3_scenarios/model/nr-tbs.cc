/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-tbs.h"

#include "nr-spec-tables.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ns3
{

namespace
{

/**
 * \param x a positive integer
 * \return floor(log2(x))
 */
int
FloorLog2(uint64_t x)
{
    int n = -1;
    while (x != 0)
    {
        x >>= 1;
        ++n;
    }
    return n;
}

/**
 * \param a numerator
 * \param b denominator (> 0)
 * \return ceil(a / b)
 */
uint64_t
CeilDiv(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

constexpr uint64_t kRateScale = 2048; //!< R is held as R x 2048

} // namespace

uint32_t
NrTbs::Compute(uint32_t nPrb,
               uint32_t mcs,
               NrMcsTable::Table table,
               uint32_t nSymb,
               uint32_t nDmrsRePerPrb,
               uint32_t nOhPerPrb,
               uint32_t layers)
{
    return ComputeInfo(nPrb, mcs, table, nSymb, nDmrsRePerPrb, nOhPerPrb, layers).tbs;
}

NrTbsInfo
NrTbs::ComputeInfo(uint32_t nPrb,
                   uint32_t mcs,
                   NrMcsTable::Table table,
                   uint32_t nSymb,
                   uint32_t nDmrsRePerPrb,
                   uint32_t nOhPerPrb,
                   uint32_t layers)
{
    if (nPrb == 0)
    {
        throw std::invalid_argument("TS 38.214 §5.1.3.2: n_PRB must be >= 1");
    }
    if (nSymb < 1 || nSymb > 14)
    {
        throw std::invalid_argument("TS 38.214 §5.1.3.2: N_symb^sh must be in 1..14, got " +
                                    std::to_string(nSymb));
    }
    // Step 1: N'_RE = N_sc^RB N_symb^sh - N_DMRS^PRB - N_oh^PRB, N_RE = min(156, N'_RE) n_PRB
    const int64_t nRePrime =
        12 * static_cast<int64_t>(nSymb) - static_cast<int64_t>(nDmrsRePerPrb) - nOhPerPrb;
    if (nRePrime <= 0)
    {
        throw std::invalid_argument("TS 38.214 §5.1.3.2: N'_RE = 12 N_symb - N_DMRS - N_oh "
                                    "must be positive");
    }
    const uint64_t nRe = static_cast<uint64_t>(std::min<int64_t>(156, nRePrime)) * nPrb;
    const NrMcs m = NrMcsTable::Get(table, mcs);
    return FromResourceElements(nRe, m.qm, NrMcsTable::GetRateX2048(table, mcs), layers);
}

NrTbsInfo
NrTbs::FromResourceElements(uint64_t nRe, uint32_t qm, uint32_t rateX2048, uint32_t layers)
{
    if (layers < 1 || layers > 4)
    {
        throw std::invalid_argument("TS 38.214 §5.1.3.2: a codeword has 1..4 layers, got " +
                                    std::to_string(layers));
    }
    if (nRe == 0 || qm == 0 || rateX2048 == 0)
    {
        throw std::invalid_argument("TS 38.214 §5.1.3.2: N_info = N_RE R Q_m v must be positive");
    }
    NrTbsInfo info;
    info.nRe = static_cast<uint32_t>(nRe);
    // Step 2: N_info = N_RE R Q_m v, held exactly as num / 2048
    const uint64_t num = nRe * qm * layers * rateX2048;
    info.nInfo = static_cast<double>(num) / kRateScale;

    if (num <= 3824 * kRateScale)
    {
        // Step 3: n = max(3, floor(log2 N_info) - 6), N'_info = max(24, 2^n floor(N_info / 2^n))
        const int n = std::max(3, FloorLog2(num) - 11 - 6);
        const uint64_t q = (num >> (11 + n)) << n;
        info.nInfoQuantized = static_cast<uint32_t>(std::max<uint64_t>(24, q));
        // the smallest TBS of Table 5.1.3.2-1 not less than N'_info
        const auto it = std::lower_bound(nrspec::kTbsTable.begin(),
                                         nrspec::kTbsTable.end(),
                                         info.nInfoQuantized);
        info.tbs = *it; // N'_info <= 3824 is the table's last entry
    }
    else
    {
        // Step 4: n = floor(log2(N_info - 24)) - 5,
        // N'_info = max(3840, 2^n round((N_info - 24) / 2^n)), ties rounded up
        const uint64_t x = num - 24 * kRateScale;
        const int n = FloorLog2(x) - 11 - 5;
        const uint64_t rounded = (x + (uint64_t{1} << (n + 10))) >> (n + 11);
        const uint64_t nq = std::max<uint64_t>(3840, rounded << n);
        info.nInfoQuantized = static_cast<uint32_t>(nq);
        uint64_t c = 1;
        if (rateX2048 <= kRateScale / 4) // R <= 1/4
        {
            c = CeilDiv(nq + 24, 3816);
        }
        else if (nq > 8424)
        {
            c = CeilDiv(nq + 24, 8424);
        }
        info.tbs = static_cast<uint32_t>(8 * c * CeilDiv(nq + 24, 8 * c) - 24);
    }
    Segment(info.tbs, rateX2048, info);
    return info;
}

void
NrTbs::Segment(uint32_t tbs, uint32_t rateX2048, NrTbsInfo& info)
{
    const uint64_t a = tbs;
    // TS 38.212 §7.2.2 base graph selection; 0.67 x 2048 = 1372.16
    const bool bg2 = a <= 292 || (a <= 3824 && rateX2048 * 100 <= 67 * kRateScale) ||
                     rateX2048 <= kRateScale / 4;
    info.ldpcBaseGraph = bg2 ? 2 : 1;
    info.tbCrcBits = a > 3824 ? 24 : 16; // TS 38.212 §7.2.1
    const uint64_t b = a + info.tbCrcBits;
    const uint64_t kcb = bg2 ? 3840 : 8448;
    if (b <= kcb)
    {
        info.numCodeBlocks = 1;
        info.cbCrcBits = 0;
    }
    else
    {
        info.cbCrcBits = 24;
        info.numCodeBlocks = static_cast<uint32_t>(CeilDiv(b, kcb - 24));
    }
    info.codeBlockSize = static_cast<uint32_t>(
        (b + uint64_t{info.numCodeBlocks} * info.cbCrcBits) / info.numCodeBlocks);
}

} // namespace ns3
