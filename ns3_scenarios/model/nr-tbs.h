/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef NR_TBS_H
#define NR_TBS_H

#include "nr-mcs-table.h"

#include <cstdint>

namespace ns3
{

/**
 * \ingroup edgelam
 * A transport block's size and its segmentation into LDPC code blocks.
 */
struct NrTbsInfo
{
    uint32_t tbs{0};            //!< transport block size A [bits] (TS 38.214 §5.1.3.2)
    uint32_t nRe{0};            //!< N_RE = min(156, N'_RE) x n_PRB [resource elements]
    double nInfo{0};            //!< unquantized N_info = N_RE R Q_m v [bits]
    uint32_t nInfoQuantized{0}; //!< N'_info [bits]
    uint32_t numCodeBlocks{0};  //!< C (TS 38.212 §5.2.2)
    uint32_t codeBlockSize{0};  //!< K' = (A + L_TB) / C + L_CB [bits], CRC bits included
    uint32_t tbCrcBits{0};      //!< L_TB: 24 if A > 3824, else 16 (TS 38.212 §7.2.1)
    uint32_t cbCrcBits{0};      //!< L_CB: 24 if C > 1, else 0
    uint32_t ldpcBaseGraph{0};  //!< LDPC base graph, 1 or 2 (TS 38.212 §7.2.2)
};

/**
 * \ingroup edgelam
 * Transport block size determination of TS 38.214 V17 §5.1.3.2 (PDSCH; PUSCH §6.1.4.2 without
 * transform precoding is identical), with the code-block segmentation of TS 38.212 V17 §5.2.2.
 * All arithmetic is exact integer arithmetic (N_info is held as N_RE Q_m v (2048 R) / 2048).
 */
class NrTbs
{
  public:
    /**
     * Transport block size.
     * \param nPrb number of allocated PRBs n_PRB (>= 1)
     * \param mcs MCS index I_MCS
     * \param table MCS table (TS 38.214 Table 5.1.3.1-x)
     * \param nSymb number of allocated OFDM symbols in the slot N_symb^sh (1..14)
     * \param nDmrsRePerPrb DM-RS resource elements per PRB over the allocated symbols,
     *        N_DMRS^PRB, including the overhead of DM-RS CDM groups without data (e.g. 12 for
     *        one front-loaded type-1 DM-RS symbol with two CDM groups without data)
     * \param nOhPerPrb overhead N_oh^PRB configured by xOverhead: 0, 6, 12 or 18 REs per PRB
     * \param layers number of layers v of the codeword (1..4)
     * \return TBS [bits]; throws std::invalid_argument for arguments the clause does not define
     */
    static uint32_t Compute(uint32_t nPrb,
                            uint32_t mcs,
                            NrMcsTable::Table table,
                            uint32_t nSymb,
                            uint32_t nDmrsRePerPrb,
                            uint32_t nOhPerPrb = 0,
                            uint32_t layers = 1);

    /**
     * As Compute(), with the intermediate quantities and the code-block segmentation.
     * \copydetails Compute
     */
    static NrTbsInfo ComputeInfo(uint32_t nPrb,
                                 uint32_t mcs,
                                 NrMcsTable::Table table,
                                 uint32_t nSymb,
                                 uint32_t nDmrsRePerPrb,
                                 uint32_t nOhPerPrb = 0,
                                 uint32_t layers = 1);

    /**
     * TBS from a number of resource elements, Q_m, 2048 R and layers (steps 2-4 of
     * §5.1.3.2), for callers that count resource elements themselves.
     * \param nRe N_RE, the resource elements available for the transport block
     * \param qm modulation order Q_m
     * \param rateX2048 target code rate R x 2048 (exact integer)
     * \param layers number of layers v
     * \return the TBS with segmentation
     */
    static NrTbsInfo FromResourceElements(uint64_t nRe,
                                          uint32_t qm,
                                          uint32_t rateX2048,
                                          uint32_t layers);

    /**
     * Code-block segmentation of TS 38.212 V17 §5.2.2 with the LDPC base graph selection of
     * §7.2.2: BG2 if A <= 292, or A <= 3824 and R <= 0.67, or R <= 0.25; else BG1. K_cb is 8448
     * (BG1) or 3840 (BG2); with B = A + L_TB, C = 1 if B <= K_cb, else ceil(B / (K_cb - 24)).
     * For transport blocks sized by §5.1.3.2 this gives the C of that clause.
     * \param tbs transport block size A [bits]
     * \param rateX2048 target code rate R x 2048
     * \param info output: numCodeBlocks, codeBlockSize, tbCrcBits, cbCrcBits, ldpcBaseGraph
     */
    static void Segment(uint32_t tbs, uint32_t rateX2048, NrTbsInfo& info);
};

} // namespace ns3

#endif // NR_TBS_H
