/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef NR_CSI_REPORT_H
#define NR_CSI_REPORT_H

#include "nr-bler-model.h"
#include "nr-complex-matrix.h"
#include "nr-mcs-table.h"

#include "ns3/object.h"
#include "ns3/ptr.h"

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * One entry of a 4-bit CQI table (TS 38.214 V17 Table 5.2.2.1-2 or -3).
 */
struct NrCqiEntry
{
    uint32_t qm{0};          //!< modulation order Q_m (0: CQI 0, out of range)
    double rateX1024{0};     //!< code rate x 1024
    double efficiency{0};    //!< spectral efficiency Q_m R as printed [bits per RE]
};

/**
 * \ingroup edgelam
 * A PMI of the Type I single-panel codebook, codebookMode 1 (TS 38.214 §5.2.2.2.1):
 * i1 = (i1,1, i1,2, i1,3) and i2. With 2 CSI-RS ports (Table 5.2.2.2.1-1) only i2 is used.
 */
struct NrPmi
{
    uint32_t i11{0}; //!< i_{1,1}: horizontal beam l, 0..N1 O1 - 1
    uint32_t i12{0}; //!< i_{1,2}: vertical beam m, 0..N2 O2 - 1 (0 if N2 = 1)
    uint32_t i13{0}; //!< i_{1,3}: (k1, k2) of the second layer (Table 5.2.2.2.1-3); 0 for 1 layer
    uint32_t i2{0};  //!< i_2: co-phasing n, 0..3 (1 layer) or 0..1 (2 layers); 0 single-pol.
};

/**
 * \ingroup edgelam
 * CSI report contents and the quantities they were chosen from.
 */
struct NrCsiReportValues
{
    uint32_t rank{1};                   //!< RI + 1 (number of layers)
    NrPmi pmi;                          //!< wideband PMI
    double capacity{0};                 //!< mean log2 det(I + snr W^H H^H H W) [bit/s/Hz]
    uint32_t widebandCqi{0};            //!< 4-bit wideband CQI (0: out of range)
    std::vector<uint32_t> subbandCqi;   //!< 4-bit CQI per subband
    std::vector<double> layerSinr;      //!< MMSE SINR per [subband][layer], row-major [-]
    uint32_t pmiIndex{0};               //!< position of pmi in GetCodebook(rank)
    uint32_t tbsBits{0};                //!< TBS of the wideband CQI's MCS with rank layers
};

/**
 * \ingroup edgelam
 * One UE's CSI-RS reports as NrCellMac holds them (CsiMode CsiRs), and its rank cache in
 * CsiMode Srs.
 */
struct NrCsiRsState
{
    /** A report and when it was measured and becomes usable. */
    struct Held
    {
        uint64_t measSlot{0};        //!< slot of the CSI-RS occasion measured
        uint64_t readySlot{0};       //!< first slot whose scheduling may use it
        NrCsiReportValues values;    //!< RI, PMI, CQI
        NrComplexMatrix w;           //!< the PMI's precoder [P x rank], Frobenius norm 1
    };
    std::deque<Held> pending;        //!< measured, not yet usable (by readySlot)
    Held current;                    //!< the latest usable report
    bool valid{false};               //!< current holds a report
    uint64_t srsRankId{0};           //!< Srs: estimate id + 1 whose rank srsRank holds
    uint32_t srsRank{1};             //!< Srs: rank chosen from that estimate
};

/**
 * \ingroup edgelam
 * What a UE reports from CSI-RS (TS 38.214 V17 §5.2.2): the Type I single-panel codebook
 * (§5.2.2.2.1, codebookMode 1, 1 and 2 layers; N1 N2 O1 O2 as Table 5.2.2.2.1-2, or 2 ports
 * per Table 5.2.2.2.1-1), the PMI and RI that maximise the mutual information
 * log2 det(I + snr W^H H^H H W) averaged over the subbands (a wideband PMI: i1 and i2 common
 * to all subbands), and the 4-bit CQI (Tables 5.2.2.1-2 and -3, wideband and per subband): the
 * highest CQI whose transport block, with that CQI's modulation and code rate, in the CSI
 * reference resource, has TBLER <= TargetBler at the layers' MMSE SINRs under the reported
 * precoder (§5.2.2.1), by the project's NrBlerModel (EESM over the subbands and layers).
 *
 * Ports: port p of the P = 2 N1 N2 CSI-RS ports is column p of the channel H [rx x P]; the
 * first N1 N2 ports are one polarisation, the next N1 N2 the other, and within a polarisation
 * port n1 N2 + n2 is the element (n1, n2) (the order of v_{l,m}).
 *
 * Single polarisation (Polarisations 1; NOT a TS 38.214 port configuration): ns-3 3.37's
 * PhasedArrayModel has no dual-polarised elements, and the project's gNB arrays are
 * single-polarised, so the MAC uses this variant: P = N1 N2 ports (element (n1, n2) = port
 * n1 N2 + n2), the Type I codebook's oversampled 2D DFT beams without the co-phasing term
 * phi_n: rank 1 W = v_{l,m} / sqrt(P) (i2 = 0 only); rank 2 W = [v_{l,m}, v_{l+k1,m+k2}] /
 * sqrt(2 P), two orthogonal DFT beams, (k1, k2) the non-zero offsets of Table 5.2.2.2.1-3
 * (i_{1,3} >= 1; (0, 0) would repeat the beam). Any N1, N2 (O1 = 1 if N1 = 1, O2 = 1 if
 * N2 = 1); where N1 < N2 the offsets are the table's with the two dimensions swapped, and
 * offsets that would wrap onto the same beam (N1 or N2 too small) are left out.
 *
 * RI (Report): for each rank 1..min(MaxRank, rx, P) its capacity-maximising PMI and wideband
 * CQI; the rank of the largest TBS-level rate (TBS of the CQI's MCS with that many layers over
 * the report's PRBs), the lower rank on a tie.
 *
 * CQI to BLER: each CQI's (Q_m, R) is the (Q_m, R) of an MCS index of TS 38.214 Table
 * 5.1.3.1-x (CQI table 1 in the qam64 table, table 2 in the qam256 table, CQI 1 (QPSK, 78) in
 * qam64LowSE); the transport block is sized with that MCS, and that MCS's curve gives the BLER.
 * Sionna's tables have no curve for the lowest QPSK rates (qam64 MCS 0-2, qam256 MCS 0-1,
 * qam64LowSE MCS 0-8): such a CQI uses the curve of the lowest MCS of the same Q_m that has
 * one in the companion table (qam64 or qam256), shifted by the difference of their Shannon
 * SINRs 10 log10(2^SE - 1) (the same gap to capacity), with that MCS's EESM beta. Where the
 * BLER model has no EESM beta for the curve's MCS, the beta of the companion table's MCS of
 * the same Q_m and nearest rate is used.
 */
class NrCsiReport : public Object
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();

    NrCsiReport();
    ~NrCsiReport() override;

    /**
     * \param table CQI table 1 (Table 5.2.2.1-2, up to 64QAM) or 2 (Table 5.2.2.1-3, 256QAM)
     * \param cqi 0..15
     * \return the entry (CQI 0: all zero); throws std::out_of_range otherwise
     */
    static NrCqiEntry GetCqiEntry(uint32_t table, uint32_t cqi);

    /**
     * \param table CQI table 1 or 2
     * \param cqi 1..15
     * \return the MCS table and index with the same Q_m and code rate
     */
    static std::pair<NrMcsTable::Table, uint32_t> CqiToMcs(uint32_t table, uint32_t cqi);

    /**
     * Differential subband CQI of TS 38.214 Table 5.2.2.1-1.
     * \param subbandCqi the subband's 4-bit CQI
     * \param widebandCqi the wideband CQI
     * \return the 2-bit value: offset 0 -> 0, 1 -> 1, >= 2 -> 2, <= -1 -> 3
     */
    static uint32_t SubbandDifferentialCqi(uint32_t subbandCqi, uint32_t widebandCqi);

    /**
     * v_{l,m} of TS 38.214 §5.2.2.2.1 (not normalised: |v|^2 = N1 N2).
     * \param n1 N1
     * \param n2 N2
     * \param o1 O1
     * \param o2 O2
     * \param l beam index l
     * \param m beam index m
     * \return the N1 N2 values
     */
    static std::vector<NrComplexMatrix::Complex>
    Vlm(uint32_t n1, uint32_t n2, uint32_t o1, uint32_t o2, uint32_t l, uint32_t m);

    /** \return the number of CSI-RS ports (2 N1 N2, or N1 N2 with Polarisations 1) */
    uint32_t GetNumPorts() const;

    /**
     * \param rank 1 or 2
     * \param pmi a PMI of GetCodebook(rank)
     * \return its position in GetCodebook(rank)
     */
    uint32_t GetPmiIndex(uint32_t rank, const NrPmi& pmi) const;

    /**
     * \param rank 1 or 2
     * \return every PMI of the codebook for that rank
     */
    std::vector<NrPmi> GetCodebook(uint32_t rank) const;

    /**
     * \param rank 1 or 2
     * \param pmi a PMI of GetCodebook(rank)
     * \return W [P x rank], Frobenius norm 1, as TS 38.214 Table 5.2.2.2.1-1 / -5 / -6
     */
    NrComplexMatrix GetPrecoder(uint32_t rank, const NrPmi& pmi) const;

    /**
     * \param h channel per subband [rx x P]
     * \param w precoder [P x v]
     * \param snr total transmit power over noise per receive antenna [-]
     * \return the mean over subbands of log2 det(I + snr W^H H^H H W) [bit/s/Hz]
     */
    static double Capacity(const std::vector<NrComplexMatrix>& h,
                           const NrComplexMatrix& w,
                           double snr);

    /**
     * The PMI of a rank that maximises Capacity() over the codebook (brute force).
     * \param h channel per subband [rx x P]
     * \param snr [-]
     * \param rank 1 or 2, <= rx
     * \return rank, PMI and capacity (no CQI)
     */
    NrCsiReportValues SelectPmi(const std::vector<NrComplexMatrix>& h,
                                double snr,
                                uint32_t rank) const;

    /**
     * RI and PMI: the rank (1..min(MaxRank, rx)) and PMI of largest capacity; a higher rank
     * only where its capacity is strictly larger.
     * \param h channel per subband [rx x P]
     * \param snr [-]
     * \return rank, PMI and capacity
     */
    NrCsiReportValues SelectRiPmi(const std::vector<NrComplexMatrix>& h, double snr) const;

    /**
     * \param bler the BLER model (curves loaded, finalized)
     */
    void SetBlerModel(Ptr<NrBlerModel> bler);

    /**
     * TBLER of a CQI's transport block.
     * \param cqi 1..15
     * \param sinr linear SINR per resource (subband x layer)
     * \param nPrb PRBs of the CSI reference resource
     * \param nSymb OFDM symbols for PDSCH (12: 14 less 2 for control, TS 38.214 §5.2.2.5)
     * \param nDmrs DM-RS REs per PRB
     * \param nOh overhead REs per PRB
     * \param layers layers v
     * \return TBLER (needs SetBlerModel)
     */
    double GetCqiTbler(uint32_t cqi,
                       const std::vector<double>& sinr,
                       uint32_t nPrb,
                       uint32_t nSymb,
                       uint32_t nDmrs,
                       uint32_t nOh,
                       uint32_t layers) const;

    /**
     * The highest CQI whose GetCqiTbler() is <= TargetBler; 0 if none.
     * (arguments as GetCqiTbler)
     * \param sinr linear SINR per resource
     * \param nPrb PRBs
     * \param nSymb symbols
     * \param nDmrs DM-RS REs per PRB
     * \param nOh overhead REs per PRB
     * \param layers layers
     * \return the CQI
     */
    uint32_t SelectCqi(const std::vector<double>& sinr,
                       uint32_t nPrb,
                       uint32_t nSymb,
                       uint32_t nDmrs,
                       uint32_t nOh,
                       uint32_t layers) const;

    /**
     * A full report: for each rank 1..min(MaxRank, rx, P) the PMI of SelectPmi, the layers'
     * MMSE SINR per subband under that precoder at the given SNR and the wideband CQI over all
     * subbands and layers; RI = the rank of the largest TBS of its CQI's MCS with RI layers
     * over the report's PRBs (the lower on a tie); CQI per subband at that rank.
     * \param h channel per subband [rx x P]
     * \param snr total transmit power over noise per receive antenna [-]
     * \param nPrbPerSubband PRBs of each subband
     * \param nSymb PDSCH symbols of the reference resource
     * \param nDmrs DM-RS REs per PRB
     * \param nOh overhead REs per PRB
     * \return the report
     */
    NrCsiReportValues Report(const std::vector<NrComplexMatrix>& h,
                             double snr,
                             uint32_t nPrbPerSubband,
                             uint32_t nSymb,
                             uint32_t nDmrs,
                             uint32_t nOh) const;

  private:
    /** The BLER curve that judges a CQI. */
    struct CurveRef
    {
        NrMcsTable::Table table; //!< MCS table of the curve
        uint32_t mcs;            //!< MCS index of the curve
        double shiftDb;          //!< added to the effective SINR before the look-up [dB]
    };

    /**
     * \param cqi 1..15 of m_cqiTable
     * \return the curve (see the class doc for CQIs without a curve of their own)
     */
    CurveRef GetCqiCurve(uint32_t cqi) const;

    /** Throws std::invalid_argument naming the attribute if N1 N2 O1 O2 are not a codebook. */
    void CheckConfig() const;

    /** \return the i_{1,3} values of a rank (single-pol: those of distinct beams) */
    std::vector<uint32_t> I13Values(uint32_t rank) const;

    /**
     * Single polarisation: H_s v_{l,m} for every beam and subband (a separable 2D DFT).
     * \param h channel per subband [rx x N1 N2]
     * \return flat [subband][l][m][rx]
     */
    std::vector<NrComplexMatrix::Complex> BeamResponses(
        const std::vector<NrComplexMatrix>& h) const;

    /** Single polarisation: SelectPmi over the DFT beams' responses H_s v (computed once). */
    NrCsiReportValues SelectPmiSinglePol(const std::vector<NrComplexMatrix>& h,
                                         double snr,
                                         uint32_t rank) const;

    /**
     * \param i13 i_{1,3}
     * \return (k1, k2) of Table 5.2.2.2.1-3
     */
    std::pair<uint32_t, uint32_t> K1K2(uint32_t i13) const;

    /**
     * \param cqi 1..15 of m_cqiTable
     * \param table MCS table of the CQI
     * \param mcs MCS index of the CQI
     * \return the EESM beta for that MCS (see the class doc for qam64LowSE)
     */
    double CqiBeta(uint32_t cqi, NrMcsTable::Table table, uint32_t mcs) const;

    uint32_t m_n1;         //!< N1
    uint32_t m_n2;         //!< N2
    uint32_t m_o1;         //!< O1
    uint32_t m_o2;         //!< O2
    uint32_t m_pol;        //!< polarisations 1 or 2
    uint32_t m_maxRank;    //!< largest rank reported
    uint32_t m_cqiTable;   //!< CQI table 1 or 2
    double m_targetBler;   //!< CQI's TBLER target
    Ptr<NrBlerModel> m_bler; //!< BLER model
};

} // namespace ns3

#endif // NR_CSI_REPORT_H
