/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef NR_MCS_TABLE_H
#define NR_MCS_TABLE_H

#include <cstdint>
#include <string>

namespace ns3
{

/**
 * \ingroup edgelam
 * Modulation and coding scheme of one MCS index (TS 38.214 §5.1.3.1).
 */
struct NrMcs
{
    uint32_t qm{0};                    //!< modulation order Q_m [bits per symbol]
    double rateX1024{0};               //!< target code rate R x 1024
    double spectralEfficiency{0};      //!< Q_m x R [bits per resource element and layer]
};

/**
 * \ingroup edgelam
 * The PDSCH MCS index tables of TS 38.214 V17 §5.1.3.1 (also used for PUSCH without transform
 * precoding, §6.1.4.1). The table data live in nr-spec-tables.h.
 */
class NrMcsTable
{
  public:
    /** MCS table, numbered as in TS 38.214 and as the MCS table index of Sionna's sionna.sys. */
    enum Table : uint32_t
    {
        QAM64 = 1,        //!< Table 5.1.3.1-1 ("qam64"), I_MCS 0..28
        QAM256 = 2,       //!< Table 5.1.3.1-2 ("qam256"), I_MCS 0..27
        QAM64_LOW_SE = 3, //!< Table 5.1.3.1-3 ("qam64LowSE"), I_MCS 0..28
        QAM1024 = 4,      //!< Table 5.1.3.1-4 ("qam1024"), I_MCS 0..26
    };

    /**
     * \param table the MCS table
     * \return the number of usable (non-reserved) MCS indices, I_MCS = 0..n-1
     */
    static uint32_t GetNumMcs(Table table);

    /**
     * \param table the MCS table
     * \param mcs the MCS index I_MCS
     * \return Q_m, R x 1024 and spectral efficiency; throws std::out_of_range for a reserved or
     *         out-of-table index
     */
    static NrMcs Get(Table table, uint32_t mcs);

    /**
     * \param table the MCS table
     * \return the highest spectral efficiency Q_m x R of the table (its last index) [bits per
     *         resource element and layer], e.g. 8 x 948/1024 = 7.40625 for qam256
     */
    static double GetMaxSpectralEfficiency(Table table);

    /**
     * Exact target code rate R x 2048 as an integer (the half values of the 256-QAM and
     * 1024-QAM tables make R x 1024 non-integer), for exact TBS arithmetic.
     * \param table the MCS table
     * \param mcs the MCS index
     * \return 2 R x 1024
     */
    static uint32_t GetRateX2048(Table table, uint32_t mcs);

    /**
     * \param name "qam64", "qam256", "qam64LowSE" or "qam1024" (the RRC mcs-Table names)
     * \return the table; throws std::invalid_argument for another name
     */
    static Table FromString(const std::string& name);

    /**
     * \param table an MCS table number (1..4); throws std::invalid_argument otherwise
     * \return the table
     */
    static Table FromIndex(uint32_t table);
};

} // namespace ns3

#endif // NR_MCS_TABLE_H
