/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * Small table header: the 3GPP NR tables that the PHY abstraction needs as plain data.
 * Values are transcribed from the cited specifications (Rel-17 versions); the tests in
 * tests/unit/test_nr_phy.py hold them against Sionna 2.x, the ns-3 suites of ns3_scenarios/test/
 * against rows as printed and TBS cases worked by hand.
 */
#ifndef NR_SPEC_TABLES_H
#define NR_SPEC_TABLES_H

#include <array>
#include <cstdint>

namespace ns3
{
namespace nrspec
{

/**
 * One row of a TS 38.214 MCS table: modulation order Q_m (bits per symbol) and target code
 * rate R x 1024 stored doubled (2 R x 1024), so that the half values of the 256-QAM and
 * 1024-QAM tables (682.5, 916.5, 805.5, 900.5) are exact integers. Q_m = 0 marks a reserved
 * index.
 */
struct McsRow
{
    uint8_t qm;          //!< modulation order Q_m
    uint16_t rateX2048;  //!< target code rate R x 1024, times 2
};

/// TS 38.214 V17 Table 5.1.3.1-1: MCS index table 1 for PDSCH ("qam64"), I_MCS 0..28.
constexpr std::array<McsRow, 29> kMcsTable1{{
    {2, 240},  {2, 314},  {2, 386},  {2, 502},  {2, 616},  {2, 758},  {2, 898},  {2, 1052},
    {2, 1204}, {2, 1358}, {4, 680},  {4, 756},  {4, 868},  {4, 980},  {4, 1106}, {4, 1232},
    {4, 1316}, {6, 876},  {6, 932},  {6, 1034}, {6, 1134}, {6, 1232}, {6, 1332}, {6, 1438},
    {6, 1544}, {6, 1644}, {6, 1746}, {6, 1820}, {6, 1896},
}};

/// TS 38.214 V17 Table 5.1.3.1-2: MCS index table 2 for PDSCH ("qam256"), I_MCS 0..27.
constexpr std::array<McsRow, 28> kMcsTable2{{
    {2, 240},  {2, 386},  {2, 616},  {2, 898},  {2, 1204}, {4, 756},  {4, 868},
    {4, 980},  {4, 1106}, {4, 1232}, {4, 1316}, {6, 932},  {6, 1034}, {6, 1134},
    {6, 1232}, {6, 1332}, {6, 1438}, {6, 1544}, {6, 1644}, {6, 1746}, {8, 1365},
    {8, 1422}, {8, 1508}, {8, 1594}, {8, 1682}, {8, 1770}, {8, 1833}, {8, 1896},
}};

/// TS 38.214 V17 Table 5.1.3.1-3: MCS index table 3 for PDSCH ("qam64LowSE"), I_MCS 0..28.
constexpr std::array<McsRow, 29> kMcsTable3{{
    {2, 60},   {2, 80},   {2, 100},  {2, 128},  {2, 156},  {2, 198},  {2, 240},  {2, 314},
    {2, 386},  {2, 502},  {2, 616},  {2, 758},  {2, 898},  {2, 1052}, {2, 1204}, {4, 680},
    {4, 756},  {4, 868},  {4, 980},  {4, 1106}, {4, 1232}, {6, 876},  {6, 932},  {6, 1034},
    {6, 1134}, {6, 1232}, {6, 1332}, {6, 1438}, {6, 1544},
}};

/// TS 38.214 V17 Table 5.1.3.1-4: MCS index table 4 for PDSCH ("qam1024"), I_MCS 0..26.
constexpr std::array<McsRow, 27> kMcsTable4{{
    {2, 240},   {2, 386},   {2, 898},   {4, 756},   {4, 980},   {4, 1232},  {6, 932},
    {6, 1034},  {6, 1134},  {6, 1232},  {6, 1332},  {6, 1438},  {6, 1544},  {6, 1644},
    {6, 1746},  {8, 1365},  {8, 1422},  {8, 1508},  {8, 1594},  {8, 1682},  {8, 1770},
    {8, 1833},  {8, 1896},  {10, 1611}, {10, 1706}, {10, 1801}, {10, 1896},
}};

/// TS 38.214 V17 Table 5.1.3.2-1: TBS for N_info <= 3824 (ascending).
constexpr std::array<uint16_t, 93> kTbsTable{{
    24,   32,   40,   48,   56,   64,   72,   80,   88,   96,   104,  112,  120,  128,
    136,  144,  152,  160,  168,  176,  184,  192,  208,  224,  240,  256,  272,  288,
    304,  320,  336,  352,  368,  384,  408,  432,  456,  480,  504,  528,  552,  576,
    608,  640,  672,  704,  736,  768,  808,  848,  888,  928,  984,  1032, 1064, 1128,
    1160, 1192, 1224, 1256, 1288, 1320, 1352, 1416, 1480, 1544, 1608, 1672, 1736, 1800,
    1864, 1928, 2024, 2088, 2152, 2216, 2280, 2408, 2472, 2536, 2600, 2664, 2728, 2792,
    2856, 2976, 3104, 3240, 3368, 3496, 3624, 3752, 3824,
}};

/**
 * One entry of a maximum transmission bandwidth configuration table: channel bandwidth in MHz,
 * subcarrier spacing in kHz and N_RB.
 */
struct NrbEntry
{
    uint16_t bandwidthMhz; //!< channel bandwidth [MHz]
    uint16_t scsKhz;       //!< subcarrier spacing [kHz]
    uint16_t nRb;          //!< maximum transmission bandwidth configuration N_RB
};

/// TS 38.101-1 V17 Table 5.3.2-1 (FR1, 410 MHz - 7.125 GHz); "N/A" entries are omitted.
constexpr std::array<NrbEntry, 39> kNrbFr1{{
    {5, 15, 25},    {10, 15, 52},   {15, 15, 79},   {20, 15, 106},  {25, 15, 133},
    {30, 15, 160},  {35, 15, 188},  {40, 15, 216},  {45, 15, 242},  {50, 15, 270},
    {5, 30, 11},    {10, 30, 24},   {15, 30, 38},   {20, 30, 51},   {25, 30, 65},
    {30, 30, 78},   {35, 30, 92},   {40, 30, 106},  {45, 30, 119},  {50, 30, 133},
    {60, 30, 162},  {70, 30, 189},  {80, 30, 217},  {90, 30, 245},  {100, 30, 273},
    {10, 60, 11},   {15, 60, 18},   {20, 60, 24},   {25, 60, 31},   {30, 60, 38},
    {35, 60, 44},   {40, 60, 51},   {45, 60, 58},   {50, 60, 65},   {60, 60, 79},
    {70, 60, 93},   {80, 60, 107},  {90, 60, 121},  {100, 60, 135},
}};

/// TS 38.101-2 V17 Table 5.3.2-1 (FR2-1 and FR2-2, 24.25 - 71 GHz); "N/A" entries omitted.
constexpr std::array<NrbEntry, 14> kNrbFr2{{
    {50, 60, 66},
    {100, 60, 132},
    {200, 60, 264},
    {50, 120, 32},
    {100, 120, 66},
    {200, 120, 132},
    {400, 120, 264},
    {400, 480, 66},
    {800, 480, 124},
    {1600, 480, 248},
    {400, 960, 33},
    {800, 960, 62},
    {1600, 960, 124},
    {2000, 960, 148},
}};

} // namespace nrspec
} // namespace ns3

#endif // NR_SPEC_TABLES_H
