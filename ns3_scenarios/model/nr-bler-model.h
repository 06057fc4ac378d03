/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef NR_BLER_MODEL_H
#define NR_BLER_MODEL_H

#include "nr-mcs-table.h"
#include "nr-tbs.h"

#include "ns3/object.h"

#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * Link-to-system mapping of an NR transport block: SINR -> code-block error rate (CBLER) per
 * MCS and code-block size from AWGN SINR-vs-BLER tables, the exponential effective SINR mapping
 * (EESM) across the allocated resources, the transport-block error rate
 * TBLER = 1 - (1 - CBLER)^C over the C code blocks, and link adaptation.
 *
 * The tables are not part of this class: they are loaded at run time (by
 * edgelam_ns3.radio.phy_tables, from the installed Sionna 2.x package: sionna/sys/bler_tables/
 * {PDSCH,PUSCH}_table{n}.json and sionna/sys/esm_params/eesm_beta_table.json) through
 * AddCurve() and SetEesmBetas(), then Finalize() prepares them.
 *
 * Interpolation (as Sionna's PHYAbstraction with its default SplineGriddataInterpolation):
 * log10(BLER) is interpolated bilinearly in (code-block size, SINR dB); a zero table entry is
 * read as log10(BLER) = (smallest log10 of a non-zero entry of that MCS's table) - 2. Code-block
 * sizes outside the tabulated range use the nearest tabulated size (Sionna's clamp-to-edge;
 * larger LDPC code blocks have steeper waterfalls, so this is conservative above 2000 bits).
 * Below the lowest tabulated SINR a curve holds its first value. The model is continuous in SINR
 * and code-block size; Sionna looks values up on a 0.1 dB x 100 bit grid.
 *
 * Extension past the last point (where Sionna holds the last value, so that e.g. 256-QAM MCS 27
 * would keep CBLER ~0.15 at any SINR): for each code-block-size row, let (s_L, y_L) be its last
 * point (the last SINR point, or the first point of a final run of zero entries, which the
 * extension replaces), in SINR dB and y = log10(BLER).
 *  - Waterfall slope k [decades/dB]: the secant over the last decade, from where the row last
 *    crosses y_L + 1 down to (s_L, y_L). If the row drops less than a decade in all (its last
 *    point is above ~max/10, e.g. a waterfall just begun at the table's edge), k is the steeper
 *    of that row's own secant (over its whole drop) and the last-decade slope of the same
 *    code-block size of the nearest lower MCS of the same table that has a full decade (the
 *    "donor"); without a donor, the row's own secant (0 if it does not drop at all).
 *  - Start s_a of the extension: s_L, except for rows without a full decade, where s_a =
 *    max(s_L, C(m) + g): C(m) = 10 log10(2^SE - 1) is the Shannon-capacity SINR of the MCS's
 *    spectral efficiency SE = Q_m R, and g the donor's gap to capacity (the SINR at which the
 *    donor falls to that level, minus the donor's C). So a curve never falls faster than
 *    its lower neighbour, nor earlier than the donor's gap to capacity allows. The donor's gap
 *    is taken at level min(y_L, log10 0.9), where its waterfall has begun.
 *  - Beyond: y(s) = y_L for s_L < s <= s_a, y(s) = y_L + k (s - s_a) for s > s_a, floored at
 *    log10(MinBler). The result is continuous and non-increasing past the last point.
 */
class NrBlerModel : public Object
{
  public:
    /** Physical channel, numbered as Sionna's mcs_category. */
    enum Channel : uint32_t
    {
        PUSCH = 0, //!< uplink shared channel
        PDSCH = 1, //!< downlink shared channel
    };

    /** Outcome of SelectMcs(). */
    struct McsChoice
    {
        int32_t mcs{-1};          //!< chosen MCS index (-1: no curve for this table)
        bool meetsTarget{false};  //!< whether its TBLER is <= the target
        double sinrEffDb{0};      //!< EESM effective SINR with that MCS's beta [dB]
        double cbler{1};          //!< code-block error rate
        double tbler{1};          //!< transport-block error rate
        NrTbsInfo tbs;            //!< TBS and segmentation of the allocation at that MCS
    };

    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();

    NrBlerModel();
    ~NrBlerModel() override;

    /**
     * Add the SINR-vs-BLER curves of one MCS (replacing any earlier ones).
     * \param channel PDSCH or PUSCH
     * \param table MCS table
     * \param mcs MCS index
     * \param snrDb the tabulated SINR points [dB], strictly increasing, M >= 2 of them
     * \param cbSizes the tabulated code-block sizes [bits], strictly increasing, N >= 1
     * \param bler the AWGN BLER of a code block, row-major [N][M]: bler[i * M + j] for
     *        cbSizes[i], snrDb[j]; values in [0, 1]
     */
    void AddCurve(Channel channel,
                  NrMcsTable::Table table,
                  uint32_t mcs,
                  const std::vector<double>& snrDb,
                  const std::vector<double>& cbSizes,
                  const std::vector<double>& bler);

    /**
     * \param table MCS table
     * \param betas EESM beta per MCS index (index = I_MCS), > 0; in linear SINR units
     */
    void SetEesmBetas(NrMcsTable::Table table, const std::vector<double>& betas);

    /** Prepare the curves (zero handling and the extension past their last point). */
    void Finalize();

    /**
     * \param channel PDSCH or PUSCH
     * \param table MCS table
     * \param mcs MCS index
     * \return whether curves are loaded for this MCS
     */
    bool HasCurve(Channel channel, NrMcsTable::Table table, uint32_t mcs) const;

    /**
     * Code-block error rate.
     * \param channel PDSCH or PUSCH
     * \param table MCS table
     * \param mcs MCS index
     * \param cbSize code-block size K' [bits] (CRC included, as NrTbsInfo::codeBlockSize)
     * \param sinrDb (effective) SINR [dB]
     * \return CBLER in [MinBler, 1]; throws std::out_of_range if no curve is loaded
     */
    double GetCbler(Channel channel,
                    NrMcsTable::Table table,
                    uint32_t mcs,
                    double cbSize,
                    double sinrDb) const;

    /**
     * Transport-block error rate 1 - (1 - CBLER)^C, as Sionna's PHYAbstraction.
     * \param channel PDSCH or PUSCH
     * \param table MCS table
     * \param mcs MCS index
     * \param cbSize code-block size K' [bits]
     * \param numCodeBlocks C
     * \param sinrDb (effective) SINR [dB]
     * \return TBLER
     */
    double GetTbler(Channel channel,
                    NrMcsTable::Table table,
                    uint32_t mcs,
                    double cbSize,
                    uint32_t numCodeBlocks,
                    double sinrDb) const;

    /**
     * \param table MCS table
     * \param mcs MCS index
     * \return the EESM beta; throws std::out_of_range if none is loaded
     */
    double GetEesmBeta(NrMcsTable::Table table, uint32_t mcs) const;

    /**
     * EESM: SINR_eff = -beta ln( (1/|R|) sum_{r in R} exp(-SINR_r / beta) ) over the resources
     * R with SINR_r > 0 (Sionna's sionna.sys.EESM), evaluated as min + log-sum-exp so that it
     * neither under- nor overflows at high SINR. Unlike Sionna, the result is not clamped to
     * [-30, 30] dB, since the curves extend past their tables.
     * \param sinr linear SINR per resource (resource block, layer or element) [-]
     * \param n number of resources
     * \param beta EESM beta [-]
     * \return linear effective SINR; 0 if no resource has SINR > 0
     */
    static double Eesm(const double* sinr, size_t n, double beta);

    /**
     * \param sinr linear SINR per resource [-]
     * \param table MCS table
     * \param mcs MCS index (selects beta)
     * \return linear EESM effective SINR
     */
    double GetEffectiveSinr(const std::vector<double>& sinr,
                            NrMcsTable::Table table,
                            uint32_t mcs) const;

    /**
     * Link adaptation: the highest MCS whose transport block, sized for the allocation by
     * TS 38.214 §5.1.3.2, has TBLER <= target at the EESM effective SINR of that MCS. If none
     * meets the target, the lowest MCS with curves (meetsTarget = false).
     * \param channel PDSCH or PUSCH
     * \param table MCS table
     * \param sinr linear SINR per allocated resource [-]
     * \param nPrb allocated PRBs
     * \param nSymb allocated OFDM symbols (1..14)
     * \param nDmrsRePerPrb DM-RS REs per PRB (N_DMRS^PRB)
     * \param nOhPerPrb overhead N_oh^PRB
     * \param layers layers v
     * \param targetTbler the target; a negative value uses the TargetBler attribute
     * \return the choice
     */
    McsChoice SelectMcs(Channel channel,
                        NrMcsTable::Table table,
                        const std::vector<double>& sinr,
                        uint32_t nPrb,
                        uint32_t nSymb,
                        uint32_t nDmrsRePerPrb,
                        uint32_t nOhPerPrb,
                        uint32_t layers,
                        double targetTbler = -1) const;

  private:
    /** One code-block-size row of a curve, prepared by Finalize(). */
    struct Row
    {
        std::vector<double> y; //!< log10(BLER) per SINR point (zeros replaced)
        uint32_t last{0};      //!< index L of the last point
        double slope{0};       //!< extension slope k [decades/dB], <= 0
        double start{0};       //!< extension start s_a [dB]
        bool fullDecade{false}; //!< whether the row drops a full decade by its last point
    };

    /** The curves of one (channel, table, MCS). */
    struct Curve
    {
        std::vector<double> snrDb;  //!< SINR points [dB]
        std::vector<double> cbs;    //!< code-block sizes [bits]
        std::vector<double> bler;   //!< raw table [cbs][snr]
        std::vector<Row> rows;      //!< prepared rows
    };

    using Key = std::tuple<uint32_t, uint32_t, uint32_t>; //!< (channel, table, MCS)

    /**
     * \param curve the curve
     * \param row the row
     * \param s SINR [dB]
     * \return log10(BLER) of the row at s, before the MinBler floor
     */
    static double EvalRow(const Curve& curve, const Row& row, double s);

    /**
     * \param curve the curve
     * \param row the row
     * \param y a level log10(BLER)
     * \return the lowest SINR [dB] at which the row is at or below y
     */
    static double FirstSinrAtOrBelow(const Curve& curve, const Row& row, double y);

    /**
     * \param key curve key
     * \return the curve; throws std::out_of_range if absent
     */
    const Curve& GetCurve(const Key& key) const;

    std::map<Key, Curve> m_curves;                    //!< loaded curves
    std::map<uint32_t, std::vector<double>> m_betas;  //!< EESM betas per table
    bool m_finalized{false};                          //!< Finalize() ran after the last AddCurve()
    double m_targetBler;                              //!< default link-adaptation target
    double m_minBler;                                 //!< floor of the extension
};

} // namespace ns3

#endif // NR_BLER_MODEL_H
