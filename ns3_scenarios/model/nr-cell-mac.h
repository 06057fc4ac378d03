/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * NrCellMac: the slot-level MAC/PHY abstraction of one NR cell (gNB): TDD, OFDMA scheduling over
 * resource-block groups, SINR, link adaptation, TBS, BLER, HARQ.
 */
#ifndef NR_CELL_MAC_H
#define NR_CELL_MAC_H

#include "nr-bler-model.h"
#include "nr-channel.h"
#include "nr-csi-report.h"
#include "nr-csi-srs.h"
#include "nr-harq-timing.h"
#include "nr-mac-stats.h"
#include "nr-mcs-table.h"
#include "nr-net-device.h"
#include "nr-precoding.h"
#include "nr-ul-power-control.h"

#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/random-variable-stream.h"
#include "ns3/traced-callback.h"

#include <cmath>
#include <string>
#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * One transport-block transmission, as the NrCellMac TbTrace reports it.
 */
struct NrTbTraceParams
{
    double timeS{0};     //!< slot start, s
    uint32_t cell{0};    //!< cell (gNB) index
    uint32_t ue{0};      //!< UE index (channel / global)
    uint32_t dir{0};     //!< 0 downlink, 1 uplink
    uint32_t mcs{0};     //!< MCS index
    uint32_t tbsBits{0}; //!< transport block size, bits
    uint32_t nPrb{0};    //!< PRBs of this transmission
    double sinrEffDb{0}; //!< EESM effective SINR after HARQ combining, dB
    bool success{false}; //!< decoded
    uint32_t harqRound{1}; //!< 1 for the first transmission, 2 for the first retransmission, ...
    uint64_t slot{0};      //!< slot number of the transmission
    uint64_t ackSlot{0};   //!< DL: slot of its HARQ-ACK on PUCCH; UL: slot the gNB has decoded
    uint32_t harqId{0};    //!< HARQ process
    double txPowerDbm{0};  //!< UL: PUSCH transmit power (DL: the gNB's carrier power), dBm
};

/**
 * \ingroup edgelam
 * The MAC of one cell, slot by slot. A slot lasts 1 ms / 2^mu (TS 38.211 §4.3.2, 14 OFDM
 * symbols, normal cyclic prefix). The slot loop is driven from outside (NrRadioHelper) in two
 * phases per slot so that every cell's allocation is known before any SINR is computed:
 * Schedule(n) on all cells, then Transmit(n) on all cells.
 *
 * Resources: N_PRB = NrBandwidth::GetNumPrb(BandwidthHz, 15 kHz 2^mu) (TS 38.101-1 or -2
 * Table 5.3.2-1 of the carrier's FrequencyRange, or its formula); resource-block groups (RBGs)
 * of P PRBs, P from TS 38.214 Table 5.1.2.2.1-1 for the carrier's N_PRB as bandwidth part
 * (configuration 1: 2, 4, 8, 16 for up to 36, 72, 144, 275 PRBs; configuration 2: 4, 8, 16,
 * 16; beyond 275 PRBs, 16), the last RBG possibly smaller. The cell may be restricted to a
 * range of RBGs (SetRbgRange()) for frequency reuse.
 *
 * TDD: the pattern string (e.g. "DDDSU", or "D") repeats; D = 14 downlink symbols, U = 14
 * uplink, S = SpecialSlotDlSymbols downlink, then the guard, then SpecialSlotUlSymbols uplink.
 * All cells use the same pattern and slot boundaries (synchronised TDD); only same-direction
 * interference is modelled (no cross-link interference).
 *
 * Overhead (what is counted where): a transport block of a slot with N_symb data symbols is
 * sized by TS 38.214 §5.1.3.2 with N'_RE = 12 N_symb - N_DMRS^PRB - N_oh^PRB per PRB, where
 * N_DMRS^PRB = DmrsRePerPrb (DM-RS incl. CDM groups without data) and
 * N_oh^PRB = max(0, round(OH 12 N_symb) - N_DMRS^PRB), OH = DlOverhead or UlOverhead. So the
 * total share of a slot's REs not carrying data (DM-RS, PDCCH/CORESET, CSI-RS/TRS, SSB, PT-RS)
 * is OH, the overhead of the TS 38.306 §4.1.2 maximum-rate formula (0.14 FR1 DL, 0.18 FR2 DL,
 * 0.08 FR1 UL, 0.10 FR2 UL), with DM-RS a part of it. With the defaults (OH 0.14, 12 DM-RS
 * REs) a D slot has N'_RE = 144 (N_oh = 12), so the peak TBS rate equals the 38.306 rate
 * within TBS quantisation. With L2Headers, each SDU piece in a TB costs PDCP 2 B + RLC 2 B (4 B
 * on a continued segment) + a MAC subheader of 2 B (3 B above 255 B), and an UL TB with SrBsr
 * a 4-B long BSR (NrRlcFlow::Segment); without, headers are not counted.
 *
 * SINR per RBG (evaluated on the channel subband that holds the RBG's centre PRB):
 *  DL: S = PSD_g G(g,u,u), I = sum over other cells g' transmitting on the RBG in this slot to
 *  UE v' of PSD_g' G(g',v',u), N = UE noise PSD; PSD_g = P_g / (N_PRB 12 SCS) (power spread
 *  evenly over the carrier's PRBs). UL: S = PSD_u G(g,u,u), I = sum over UEs v' of other cells
 *  on the RBG of PSD_v' G(g,u,v') (reciprocity), N = gNB noise PSD; PSD_u = P_PUSCH / (M 12
 *  SCS) over the M PRBs of its allocation, P_PUSCH = P_u (the UE's full power) or, with
 *  UlPowerControl, TS 38.213 §7.1.1 min(P_CMAX, P_O + 10 log10(2^mu M) + alpha PL + f) with PL
 *  the gNB-measured path loss (nr-cell-mac-ul.cc). UL CSI is measured at the PSD of a
 *  full-carrier PUSCH (M = N_PRB); link adaptation scales it to the allocation's PSD.
 *
 * CSI (CsiMode): each slot in which a direction is active, every UE's per-RBG SINR is
 * measured under that slot's interference (true channel, true interference).
 *  - "Ideal": link adaptation and PF use the measurement of CsiDelaySlots active slots earlier
 *    (exact channel knowledge, aged by that delay).
 *  - "Srs": the gNB acts on its SRS estimate of each UE's channel (NrCsiSrs, TDD reciprocity):
 *    UE i sounds every SrsPeriodSlots slots at SrsOffsetSlots (only slots with UL symbols may
 *    hold an occasion), over the carrier at its full power, one symbol with comb SrsComb; the
 *    LS estimate per subband and gNB antenna averages the K = 12 N_PRB / (N_sb SrsComb) SRS
 *    REs of the subband, so its error variance is sigma^2 = N_0 / (K PSD_u PG) in units of the
 *    small-scale channel (noise-limited: no SRS interference, no pilot contamination). From
 *    SrsProcessingDelaySlots slots after the occasion the reported SINR of RBG r is
 *      PSD |w_u^H Ĥ(sb_r) w_g|^2 PG_srs / (N + I)_r,
 *    Ĥ, PG_srs the estimate and its path gain, w the beams in use now, (N + I)_r the
 *    interference plus noise of the measurement CsiDelaySlots active slots earlier (as a
 *    CSI-IM report gives it). The true channel at transmission decides the SINR and the TB
 *    error, so estimation error and CSI age cost throughput. SetExternalCsi replaces a UE's
 *    estimate (a predicted channel) from a given slot on.
 * UL buffers: the gNB knows them exactly, or with SrBsr only from BSRs: a UE with queued data,
 * no BSR-reported buffer left and no UL TB in flight sends an SR at its occasion (slot n with
 * n mod SrPeriodSlots = SrOffsetSlots), the gNB gives it one RBG in the first UL data slot at
 * least SrGrantDelaySlots later, and every UL TB carries a long BSR (TS 38.321 Table
 * 6.1.3.1-2, the level's upper bound) of what the UE still has queued; from its decoding on
 * the gNB schedules the reported bytes less what it granted since.
 *
 * Link adaptation: NrBlerModel::SelectMcs at TargetBler over the allocated RBGs' reported
 * SINRs less the outer-loop offset. OLLA (TS 38.214 leaves it to the implementation): after
 * each first transmission the offset rises by OllaStepDb on a NACK and falls by OllaStepDb
 * t / (1 - t) on an ACK, t = TargetBler, so that in steady state the first-transmission BLER is
 * t.
 *
 * TB errors: the TB's EESM effective SINR over its RBGs' actual SINRs (beta of its MCS), TBLER
 * from NrBlerModel, one uniform draw. HARQ (TS 38.321 §5.3.2, §5.4.2): HarqProcesses per UE
 * and direction; a TB keeps its process until its feedback, HarqFeedbackDelaySlots (K1) slots
 * after the transmission (DL with HarqTddTiming: the HARQ-ACK in the first slot carrying PUCCH
 * at least K1 after, NrHarqTiming, acted on from the next slot); a NACKed TB is retransmitted with the same MCS and TBS on as many
 * RBGs as before, ahead of new data, up to MaxTransmissions transmissions; Chase combining: the
 * effective SINR of the combined TB is the sum of the transmissions' linear effective SINRs. A
 * TB that fails its last transmission loses the packets it overlaps (see NrRlcFlow).
 *
 * Scheduling each slot and direction, over the cell's free RBGs, in steps (ScheduleDir):
 * (1) HARQ retransmissions (AllocateRetransmissions); (2) each UE with a resource share s > 0
 * (SetUeShare()) and data to send gets s of the RBGs on average, its guaranteed minimum
 * (credit-based: the credit grows by s N_RBG per slot in which it has data, each RBG costs 1;
 * AllocateNewDataShares); (3) every UE that still has data, with or without a share, competes
 * for the RBGs left (AllocateByScheduler), by "RR" (weighted round robin over RBGs: each RBG
 * goes to the UE with the least PRBs served / weight, its share's RBGs included, so the smaller
 * last RBG is shared fairly too and a share below a UE's fair part changes nothing) or "PF"
 * (each RBG to the UE with the highest weight x achievable rate / average throughput, the
 * achievable rate min(log2(1 + SINR), SE_max) from the reported SINR, SE_max the top spectral
 * efficiency of the configured MCS table (NrMcsTable::GetMaxSpectralEfficiency), the average an
 * exponential moving average over PfWindowSlots slots of all its bytes). Scheduling is
 * work-conserving: RBGs of a share whose UE has nothing to send, and RBGs no share reserves, go
 * to the other backlogged UEs; a UE without a share (0) is scheduled like any other. A UE gets
 * no more RBGs than its queue needs (estimate from its reported SINR), one TB per slot and
 * direction; (4) link adaptation and a new TB for each UE with new RBGs (FormTransportBlocks:
 * AdaptLink, FormTb).
 *
 * MU-MIMO and multiple layers in DL (MaxLayers L > 1, or precoders set from outside with
 * SetExternalPrecoders): each RBG carries up to L layers, one or more per co-scheduled UE, with
 * fully digital precoding over the gNB's N antennas (instead of its analog beam; the UE's
 * antennas are its receive ports, combined by a linear MMSE receiver). Per slot:
 * (1) retransmissions take their TB's layers on as many RBGs as before, lowest RBGs with room
 * first; (2) candidates are the UEs that can take new data (as step 2 above; resource shares are
 * not applied); each gets v = min(MaxLayersPerUe, its antennas, L) layers, its layer channels
 * the v dominant eigen-modes u_l^H H of its CSI channel (NrPrecoding::EigenLayerChannels; H
 * itself for one antenna); (3) on each RBG, semi-orthogonal user selection on the PF metric
 * (NrPrecoding::SelectUsers over the dominant layer channels, weight / average throughput,
 * retransmitting UEs first, epsilon SusEpsilon, snr P / (L N0)) picks the group, as many UEs as
 * have layers left; (4) precoders W = NrPrecoding::Compute(Precoder, stacked layer channels,
 * equal power PSD / L_r per layer over the L_r layers of the RBG) from the gNB's CSI: the SRS
 * estimate (CsiMode Srs) or the true channel of the CSI measurement CsiDelaySlots active slots
 * earlier (Ideal); (5) link adaptation per UE and TB (its v layers on its RBGs, TBS with v
 * layers) over the SINRs NrPrecoding::LayerSinr gives on the CSI channels, the measured noise
 * plus inter-cell interference (N + I)_r as white noise. At transmission the per-layer SINR is
 * NrPrecoding::LayerSinr on the true channels now, with the other co-scheduled layers as
 * interference and the other cells' transmissions on the RBG (their precoders, or their beam at
 * their PSD) as the covariance Q_u; EESM over the TB's layers and RBGs, HARQ per TB. Another
 * cell's single-layer UEs see an MU cell's layers through their own beams.
 */
class NrCellMac : public Object
{
  public:
    /** Link direction. */
    enum Direction : uint32_t
    {
        DL = 0, //!< downlink
        UL = 1, //!< uplink
    };

    /** TracedCallback signature of CsiUpdated. \param ue the UE's channel index */
    typedef void (*CsiUpdatedTracedCallback)(uint32_t ue);
    /** TracedCallback signature of TbTrace. */
    typedef void (*TbTracedCallback)(const NrTbTraceParams& params);

    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();
    NrCellMac();
    ~NrCellMac() override;

    /**
     * Set up the cell (after its attributes are set, before UEs are added).
     * \param cell this cell's gNB index in the channel
     * \param gnbDevice the gNB's device
     * \param channel the radio channel
     * \param bler the BLER model (finalized, with curves for the MCS table)
     */
    void Setup(uint32_t cell,
               Ptr<NrNetDevice> gnbDevice,
               Ptr<NrChannel> channel,
               Ptr<NrBlerModel> bler);

    /**
     * Attach a UE.
     * \param ue the UE's index in the channel
     * \param ueDevice its device (attached to this cell's gNB device)
     * \return its index in this cell
     */
    uint32_t AddUe(uint32_t ue, Ptr<NrNetDevice> ueDevice);

    /** \param cells all cells of the band (this one included), for interference */
    void SetCells(const std::vector<Ptr<NrCellMac>>& cells);

    /** Phase 1 of slot n: HARQ feedback, scheduling, link adaptation. \param n slot number */
    void Schedule(uint64_t n);
    /** Phase 2 of slot n: SINR, TB errors, HARQ, delivery, CSI. \param n slot number */
    void Transmit(uint64_t n);

    /** \return the slot duration */
    Time GetSlotDuration() const;
    /** \return N_PRB of the carrier */
    uint32_t GetNPrb() const;
    /** \return number of RBGs */
    uint32_t GetNRbg() const;
    /** \return RBG size P, PRBs */
    uint32_t GetRbgSize() const;
    /** \return number of attached UEs */
    uint32_t GetNUes() const;
    /** \param i UE index in the cell \return its channel (global) index */
    uint32_t GetUeId(uint32_t i) const;
    /** \return the cell index */
    uint32_t GetCellId() const;

    /**
     * Scheduler weight of a UE, from now on.
     * \param i UE index in the cell
     * \param w weight (> 0)
     */
    void SetUeWeight(uint32_t i, double w);
    /**
     * Resource share of a UE, from now on: the fraction of the cell's RBGs it is guaranteed in
     * each direction while it has data (a minimum, not a cap: it also competes in RR/PF for the
     * RBGs the shares leave, and RBGs it does not need go to the other UEs).
     * \param i UE index in the cell
     * \param share fraction in (0, 1]; 0 or negative: no reservation (the UE is scheduled by
     *        RR/PF over the RBGs the shares leave, as with no share set)
     */
    void SetUeShare(uint32_t i, double share);
    /**
     * Restrict the cell to RBGs [first, first + n).
     * \param first first RBG
     * \param n number of RBGs
     */
    void SetRbgRange(uint32_t first, uint32_t n);

    /** \param i UE index \param dir direction \return the counters */
    const NrMacStats& GetStats(uint32_t i, Direction dir) const;
    /** \param i UE index \param dir direction \return bytes queued (untransmitted) */
    uint64_t GetQueuedBytes(uint32_t i, Direction dir);
    /** \param i UE index \param dir direction \return current OLLA offset, dB */
    double GetOllaOffsetDb(uint32_t i, Direction dir) const;
    /** \return slots simulated (Schedule calls) */
    uint64_t GetNSlots() const;

    /** \return whether the gNB acts on SRS estimates (CsiMode "Srs") */
    bool IsSrsCsi() const;
    /** \return the SRS CSI store (null in CsiMode "Ideal") */
    Ptr<NrCsiSrs> GetSrs() const;
    /** \return whether the gNB acts on CSI-RS reports (CsiMode "CsiRs") */
    bool IsCsiRsCsi() const;
    /** \param i UE index \return its CSI-RS reports (CsiMode CsiRs; an empty state else) */
    const NrCsiRsState& GetCsiRsState(uint32_t i) const;
    /** \return the UEs' report generator (the gNB array's single-polarised codebook) */
    Ptr<NrCsiReport> GetCsiReport();
    /**
     * \param i UE index
     * \return the CSI the gNB uses for UE i now (CsiMode "Srs"; valid false before the first
     *         usable estimate)
     */
    const NrCsiSrs::Estimate& GetCsiEstimate(uint32_t i);
    /**
     * Use h as UE i's CSI from slot n on (CsiMode "Srs"), until ClearExternalCsi.
     * \param i UE index \param n slot (a past slot means: from the next scheduling on)
     * \param h [rx][tx][sb], large-scale loss excluded \param pathGainDb its path gain, dB
     */
    void SetExternalCsi(uint32_t i, uint64_t n, const std::vector<NrChannel::Complex>& h,
                        double pathGainDb);
    /** Back to the gNB's own SRS estimates for UE i. \param i UE index */
    void ClearExternalCsi(uint32_t i);
    /**
     * \param i UE index \param dir direction
     * \return slots between the CSI used by the last scheduling of dir and that scheduling's
     *         slot (SRS: since the sounding; Ideal: since the SINR measurement); -1 before any
     */
    double GetCsiAgeSlots(uint32_t i, Direction dir) const;
    /**
     * \param i UE index \param dir direction
     * \return the wideband SINR the gNB believed in (the mean over the cell's RBGs of the
     *         reported SINR) at the last scheduling of dir, dB (NaN before any)
     */
    double GetEstimatedWidebandSinrDb(uint32_t i, Direction dir) const;
    /** \return whether DL uses the MU-MIMO path now (MaxLayers > 1 or external precoders) */
    bool IsMuDl() const;
    /**
     * Precoders and group chosen outside (e.g. a learned beamformer) from slot n on, instead of
     * SUS and the built-in precoders, until replaced or given back (ues empty).
     * \param n first slot (a past slot means: from the next scheduling on)
     * \param ues the co-scheduled UEs (indices in the cell), on every usable RBG
     * \param layerUe per layer, the position in ues of its UE
     * \param w per RBG (m_nRbg matrices) or wideband (one), each [N x layers]; column norms
     *        squared are shares of the gNB's power on the RBG (sum <= 1)
     */
    void SetExternalPrecoders(uint64_t n,
                              const std::vector<uint32_t>& ues,
                              const std::vector<uint32_t>& layerUe,
                              const std::vector<NrComplexMatrix>& w);
    /** \return whether external precoders are in use now */
    bool HasExternalPrecoders() const;

    /** The DL co-scheduling of one RBG in the current slot (MU-MIMO path). */
    struct MuGroup
    {
        std::vector<uint32_t> ues;      //!< co-scheduled UEs (indices in the cell)
        std::vector<uint32_t> layerUe;  //!< per layer: position in ues of its UE
        uint32_t forcedUes{0};          //!< the first ues, retransmitting
        NrComplexMatrix w;              //!< precoders [N x layers], W/Hz per layer
        std::vector<double> estSinr;    //!< per layer, from the gNB's CSI [-]
        std::vector<double> sinr;       //!< per layer, true channel at transmission [-]
        std::vector<double> gainDb;     //!< per layer precoder gain, dB (see GetMuGroup)
        std::vector<NrComplexMatrix> h; //!< per UE the true channel used, sqrt(PG) H(sb)
        double noisePsd{0};             //!< noise PSD of the first UE, W/Hz
    };
    /**
     * \param r RBG
     * \return its group in the last scheduled slot (empty outside the MU path); gainDb of a
     *         layer l of UE u is 10 log10(||H_u w_l||^2 N / (||w_l||^2 ||H_u||_F^2)), the
     *         received power over that of one transmit antenna at the same power
     */
    const MuGroup& GetMuGroup(uint32_t r) const;

    /** \return the next slot number Schedule will see */
    uint64_t GetNextSlot() const;
    /** \return the start of the next slot (the current time before the first one) */
    Time GetNextSlotTime() const;

    /**
     * \param stream first stream index
     * \return number of streams used
     */
    int64_t AssignStreams(int64_t stream);
    /**
     * The streams of the SRS estimation noise (none in CsiMode Ideal), apart from
     * AssignStreams so that the CSI mode changes no other draw.
     * \param stream first stream index
     * \return number of streams used
     */
    int64_t AssignCsiStreams(int64_t stream);

  protected:
    void DoDispose() override;

  private:
    /** A HARQ process. */
    struct Harq
    {
        bool busy{false};       //!< holds a TB
        bool awaiting{false};   //!< feedback pending
        bool decoded{false};    //!< last transmission decoded
        bool needRetx{false};   //!< NACKed, waiting for a retransmission
        uint64_t readySlot{0};  //!< slot at which the feedback is known
        uint64_t a{0};          //!< first stream byte
        uint64_t b{0};          //!< one past the last stream byte
        uint32_t payload{0};    //!< payload bytes (padding excluded)
        uint32_t mcs{0};        //!< MCS
        uint32_t tbsBits{0};    //!< TBS, bits
        uint32_t nPrb{0};       //!< PRBs of the first transmission
        uint32_t nRbg{0};       //!< RBGs of the first transmission
        uint32_t cbSize{0};     //!< code-block size K', bits
        uint32_t nCb{1};        //!< code blocks
        uint32_t tx{0};         //!< transmissions so far
        uint32_t layers{1};     //!< MIMO layers of the TB
        double combSinr{0};     //!< combined linear effective SINR
        uint64_t ackSlot{0};    //!< slot of the last transmission's HARQ-ACK (trace)
        uint64_t bsrBytes{0};   //!< UL (SrBsr): the buffer its BSR reports, bytes
        uint64_t bsrSeq{0};     //!< UL (SrBsr): that BSR's number (0: none)
        uint64_t grantedAt{0};  //!< UL (SrBsr): Link::granted when it was formed
    };

    /** One UE in one direction. */
    struct Link
    {
        std::vector<Harq> harq;                    //!< HARQ processes
        std::vector<std::vector<double>> csiRing;  //!< measured per-RBG SINR, ring
        std::vector<std::vector<double>> inrRing;  //!< their noise + interference PSD (Srs)
        std::vector<uint64_t> csiSlot;             //!< their slots
        uint64_t csiCount{0};                      //!< measurements made
        std::vector<double> srsSinr;               //!< Srs: reported per-RBG SINR this slot
        bool srsReady{false};                      //!< Srs: srsSinr holds an estimate
        double csiAge{-1};                         //!< CSI age at the last scheduling, slots
        double estWidebandDb{NAN};                 //!< believed wideband SINR then, dB
        double ollaDb{0};                          //!< OLLA offset, dB
        double pfAvg{1};                           //!< PF average, bytes per slot
        double served{0};                          //!< RR: PRBs served / weight
        double credit{0};                          //!< share credit, RBGs
        // this slot
        std::vector<uint32_t> rbgs;                //!< allocated RBGs
        int32_t proc{-1};                          //!< HARQ process transmitting
        uint32_t slotBytes{0};                     //!< bytes scheduled this slot
        // link-adaptation cache
        std::vector<double> laSinr;                //!< last SelectMcs input
        uint32_t laNPrb{0};                        //!< its N_PRB
        uint32_t laNSymb{0};                       //!< its N_symb
        uint32_t laLayers{1};                      //!< its layers
        // MU-MIMO (DL)
        std::vector<std::vector<NrChannel::Complex>> hRing; //!< Ideal: channel per csiRing
        std::vector<double> pgRing;                //!< Ideal: its path gain, dB
        uint32_t muLayers{0};                      //!< layers this slot
        // UL realism (nr-cell-mac-ul.cc)
        double txPsd{0};                           //!< UL: this slot's PUSCH PSD, W/Hz
        double txPowerDbm{0};                      //!< UL: this slot's PUSCH power, dBm
        uint64_t bsrBelief{0};                     //!< SrBsr: buffer the gNB believes, bytes
        uint64_t granted{0};                       //!< SrBsr: bytes granted so far
        uint64_t bsrSeq{0};                        //!< SrBsr: BSRs the UE built
        uint64_t bsrSeqRx{0};                      //!< SrBsr: last BSR the gNB applied
        int64_t srGrantSlot{-1};                   //!< SrBsr: PUSCH slot of an SR grant
        NrBlerModel::McsChoice laChoice;           //!< its output
        NrMacStats stats;                          //!< counters
    };

    /** One attached UE. */
    struct Ue
    {
        uint32_t id{0};            //!< channel index
        Ptr<NrNetDevice> dev;      //!< its device
        double weight{1};          //!< scheduler weight
        double share{0};           //!< guaranteed resource share (0: no reservation)
        Link link[2];              //!< DL, UL
        uint64_t estId{0};         //!< Srs: estimate whose gains estGain holds
        uint64_t notifiedId{0};    //!< Srs: last estimate CsiUpdated announced
        std::vector<NrChannel::Complex> estGnbBeam; //!< Srs: gNB beam of estGain
        std::vector<NrChannel::Complex> estUeBeam;  //!< Srs: UE beam of estGain
        std::vector<double> estGain; //!< Srs: |w_u^H Ĥ w_g|^2 PG per subband
        Ptr<NrUlPowerControl> pc;  //!< UlPowerControl: its PUSCH power control
    };

    /** Compute numerology-derived quantities. */
    void Configure();
    /**
     * \param n slot number
     * \param dir direction
     * \return data symbols of that direction in slot n (0: inactive)
     */
    uint32_t SymbolsIn(uint64_t n, Direction dir) const;
    /** \param dir direction \param nSymb data symbols \return N_oh^PRB */
    uint32_t OverheadRe(Direction dir, uint32_t nSymb) const;
    /** \return the most RBGs UE i may get in UL before its power per PRB is too thin */
    double UlRbgCap(uint32_t i);
    /** \return PRBs in a set of RBGs */
    double AllocatedPrbs(const std::vector<uint32_t>& rbgs) const;
    /**
     * Per-RBG SINR of UE i under the current slot's allocations.
     * \param i UE index
     * \param dir direction
     * \param rbgs the RBGs (nullptr: all)
     * \param out output, one per RBG of rbgs (or per RBG)
     */
    void ComputeSinr(uint32_t i, Direction dir, const std::vector<uint32_t>* rbgs,
                     std::vector<double>& out, std::vector<double>* inr = nullptr);
    /** \return the transmit PSD of direction dir over the whole carrier (UL: the PUSCH PSD
     *  of a full-carrier allocation), W/Hz \param i UE */
    double CarrierPsd(uint32_t i, Direction dir);
    /** Srs: sound the UEs whose SRS occasion slot n is. \param n slot */
    void Sound(uint64_t n);
    /** The CSI UE i's scheduling in slot n uses: its age, the believed wideband SINR and, in
     *  Srs, the reported per-RBG SINR from the estimate. \param i UE \param dir direction
     *  \param n slot */
    void NoteCsi(uint32_t i, Direction dir, uint64_t n);
    /** \return the ring index of the measurement CsiDelaySlots active slots ago \param l link */
    uint64_t DelayedIndex(const Link& l) const;
    /** Srs: the estimated beamformed gain per subband of UE i (cached). \param i UE
     *  \param e its estimate \return the gains */
    const std::vector<double>& EstimatedGain(uint32_t i, const NrCsiSrs::Estimate& e);
    /** Check the CSI attributes (Srs occasions in UL slots). */
    void ConfigureCsi();
    /** Process HARQ feedback due at slot n. \param n slot \param dir direction */
    void ProcessFeedback(uint64_t n, Direction dir);

    /** One slot's allocation in one direction, as it passes through the scheduling steps. */
    struct Allocation
    {
        Direction dir;     //!< direction
        uint32_t nSymb;    //!< data symbols of the slot
        uint32_t nextFree; //!< lowest RBG that may still be free
        uint32_t freeLeft; //!< RBGs still free
    };

    /**
     * Schedule direction dir in slot n, in steps: AllocateRetransmissions,
     * AllocateNewDataShares, AllocateByScheduler, FormTransportBlocks.
     * \param n slot \param dir direction \param nSymb data symbols
     */
    void ScheduleDir(uint64_t n, Direction dir, uint32_t nSymb);
    /** Give UE i up to k free RBGs, lowest first. \param a the allocation \param i UE
     *  \param k RBGs */
    void TakeRbgs(Allocation& a, uint32_t i, uint32_t k);
    /** Step 1: each UE's oldest NACKed TB, on as many RBGs as its first transmission, ahead of
     *  new data (UEs in rotating order). \param a the allocation */
    void AllocateRetransmissions(Allocation& a);
    /**
     * Step 2: the UEs that can take new data (no retransmission now, a free HARQ process, data,
     * CSI), in rotating order: a UE with a resource share gets its credit's RBGs now; every UE
     * that needs more becomes a candidate of step 3 (m_cand, m_candNeed).
     * \param a the allocation
     */
    void AllocateNewDataShares(Allocation& a);
    /** \return the RBGs UE i could use for new data now (0: not a candidate) \param i UE
     *  \param dir direction \param nSymb data symbols */
    double NewDataNeed(uint32_t i, Direction dir, uint32_t nSymb);
    /** Step 3: the free RBGs, one by one, to the candidate of the highest RR or PF metric.
     *  \param a the allocation */
    void AllocateByScheduler(Allocation& a);
    /** \return the RR or PF metric of candidate c on RBG r (higher wins) \param c candidate
     *  \param r RBG \param dir direction */
    double SchedulerMetric(size_t c, uint32_t r, Direction dir) const;
    /** Step 4: link adaptation and a new TB for each UE with new RBGs. \param a the allocation */
    void FormTransportBlocks(const Allocation& a);
    /**
     * Link adaptation of UE i over its RBGs (NrBlerModel::SelectMcs over the reported SINRs
     * less the OLLA offset, cached while its input is unchanged).
     * \param i UE \param dir direction \param nSymb data symbols \param nPrb allocated PRBs
     * \return the choice
     */
    const NrBlerModel::McsChoice& AdaptLink(uint32_t i, Direction dir, uint32_t nSymb,
                                            uint32_t nPrb);
    /** Put a new TB of UE i in a free HARQ process. \param i UE \param dir direction
     *  \param choice its MCS and TBS \param nPrb its PRBs */
    void FormTb(uint32_t i, Direction dir, const NrBlerModel::McsChoice& choice, uint32_t nPrb);
    /** Give back the RBGs of UE i. \param i UE \param dir direction */
    void ReleaseRbgs(uint32_t i, Direction dir);
    /** \param i UE \param dir direction \return the reported per-RBG SINR (may be empty) */
    const std::vector<double>& Reported(uint32_t i, Direction dir) const;
    /** \param i UE \param dir direction \return backlog bytes (huge in full-buffer mode) */
    uint64_t Backlog(uint32_t i, Direction dir);
    /** \param i UE \param dir direction \param nSymb symbols \return est. bytes per RBG */
    double BytesPerRbg(uint32_t i, Direction dir, uint32_t nSymb) const;
    /** Deliver a decoded TB's bytes. */
    void Deliver(uint32_t i, uint32_t dir, uint64_t a, uint64_t b);
    /**
     * The end of a TB's transmission in Transmit: counters, the OLLA step on a first
     * transmission, delivery of a decoded TB's bytes, the TB trace.
     * \param i UE \param dir direction \param n slot \param fullBuffer no bytes to deliver
     * \param sinrDb combined effective SINR, dB \param ok decoded
     */
    void CountTb(uint32_t i, Direction dir, uint64_t n, bool fullBuffer, double sinrDb, bool ok);
    /** Pass an SDU up at the receiver. */
    void PassUp(uint32_t i, uint32_t dir, Ptr<Packet> p, uint16_t protocol);
    /** \return the flow of UE i in direction dir */
    NrRlcFlow& Flow(uint32_t i, Direction dir);

    // UL realism (nr-cell-mac-ul.cc)
    /** Check the UL attributes; the HARQ timing and power-control set-up. */
    void ConfigureUl();
    /** Set up UE i's power control (UlPowerControl). \param i UE */
    void AddUeUl(uint32_t i);
    /** \return UE i's P_CMAX, W \param i UE */
    double UlPcMaxW(uint32_t i) const;
    /** \return PL, the path loss UE i's power control compensates (gNB-measured), dB
     *  \param i UE */
    double UlPathLossDb(uint32_t i);
    /** \return UE i's PUSCH PSD over nPrb PRBs at its next occasion (not closing it), W/Hz
     *  \param i UE \param nPrb PRBs */
    double UlPsd(uint32_t i, double nPrb);
    /** The PUSCH power of UE i's allocation this slot (closes the TPC occasion): txPsd,
     *  txPowerDbm. \param i UE \param nPrb PRBs */
    void SetUlPower(uint32_t i, double nPrb);
    /** UlTpc: the TPC command of UE i after a PUSCH at effective SINR sinrDb.
     *  \param i UE \param sinrDb dB */
    void SendTpc(uint32_t i, double sinrDb);
    /** \return the slot of the HARQ-ACK of a DL TB sent in slot n (TDD-aware) \param n slot */
    uint64_t DlAckSlot(uint64_t n) const;
    /** \return the first slot >= n with UL data symbols \param n slot */
    uint64_t NextUlSlot(uint64_t n) const;
    /** SrBsr: the SRs of slot n and their grants. \param n slot */
    void ProcessSr(uint64_t n);
    /** SrBsr: the SR grants due now, one RBG each. \param a the allocation \param n slot */
    void AllocateSrGrants(Allocation& a, uint64_t n);
    /** SrBsr: the BSR a new UL TB of UE i carries, and the grant it uses.
     *  \param i UE \param h its HARQ process \param cap bytes the grant carries */
    void BuildBsr(uint32_t i, Harq& h, uint64_t cap);
    /** SrBsr: the gNB decoded h: apply its BSR. \param i UE \param h the process */
    void ReceiveBsr(uint32_t i, const Harq& h);
    /** \return the upper bound of the TS 38.321 Table 6.1.3.1-2 level that holds b bytes
     *  \param b buffer size */
    static uint64_t BsrLevel(uint64_t b);
    /** \return MAC CE bytes of a new UL TB (a long BSR with SrBsr and L2Headers) */
    uint64_t UlMacCeBytes() const;

    // MU-MIMO path (nr-cell-mac-mu.cc)
    /** Check the MIMO attributes. */
    void ConfigureMu();
    /** \return the HARQ process of l's oldest NACKed TB, or -1 \param l link */
    static int32_t OldestNack(const Link& l);
    /** Schedule DL slot n on the MU-MIMO path. \param n slot \param nSymb data symbols */
    void ScheduleMu(uint64_t n, uint32_t nSymb);
    /** Clear the groups and the per-slot channel caches. */
    void ResetMu();
    /** \return UE i's CSI channel sqrt(PG) Ĥ(sb) [M x N] (cached per slot) \param i UE
     *  \param sb subband */
    const NrComplexMatrix& CsiChannel(uint32_t i, uint32_t sb);
    /** \return UE i's layer channels from its CSI [v x N] (cached per slot) \param i UE
     *  \param sb subband */
    const NrComplexMatrix& CsiLayers(uint32_t i, uint32_t sb);
    /** \return UE i's true channel now sqrt(PG) H(sb) [M x N] \param i UE \param sb subband */
    NrComplexMatrix TrueChannel(uint32_t i, uint32_t sb) const;
    /** \return AdaptedRank of min(MaxLayersPerUe, antennas, MaxLayers) for UE i \param i UE */
    uint32_t UeLayers(uint32_t i);
    /** \return layers already in group g \param g group */
    uint32_t GroupLayers(const MuGroup& g) const;
    /** Add v layers of UE i to RBG r's group. \param r RBG \param i UE \param v layers */
    void JoinGroup(uint32_t r, uint32_t i, uint32_t v);
    /** Step 1: retransmissions on the RBGs with room. \param n slot */
    void MuRetransmissions(uint64_t n);
    /** Step 2: the new-data candidates (m_cand, m_candNeed in RBGs). \param nSymb symbols */
    void MuCandidates(uint32_t nSymb);
    /** Step 3: SUS on the PF metric on each RBG. */
    void MuSelectUsers();
    /** The external group on every usable RBG (from SetExternalPrecoders). \param nSymb
     *  data symbols */
    void MuExternalGroup(uint32_t nSymb);
    /** The external precoders' columns of the UEs on RBG r, scaled to the PSD.
     *  \param r RBG \param psd the gNB's PSD, W/Hz */
    void ExternalColumns(uint32_t r, double psd);
    /** Step 4: precoders of RBG r and the estimated SINRs. \param r RBG */
    void MuPrecode(uint32_t r);
    /** \return UE i's noise plus inter-cell interference PSD on RBG r as measured (W/Hz)
     *  \param i UE \param r RBG */
    double MeasuredInr(uint32_t i, uint32_t r) const;
    /** Step 5: link adaptation and TBs. \param nSymb data symbols */
    void MuFormTransportBlocks(uint32_t nSymb);
    /** Stop UE i's layers (no TB): zero power. \param i UE */
    void MuDrop(uint32_t i);
    /** Link adaptation over m_scratch with `layers` layers. \param i UE \param dir direction
     *  \param nSymb symbols \param nPrb PRBs \param layers layers \return the choice */
    const NrBlerModel::McsChoice& SelectCached(uint32_t i, Direction dir, uint32_t nSymb,
                                               uint32_t nPrb, uint32_t layers);
    /** Transmission: the true per-layer SINRs of every group. */
    void MuTrueSinr();
    /** \return inter-cell interference covariance at UE i on RBG r [M x M] \param i UE
     *  \param r RBG \param m UE antennas */
    NrComplexMatrix InterCellCov(uint32_t i, uint32_t r, uint32_t m) const;
    /** \return this cell's transmissions on RBG r at UE u through its beam wu, W/Hz
     *  (MU path) \param r RBG \param u UE (channel index) \param wu its beam */
    double MuInterferencePsd(uint32_t r, uint32_t u,
                             const std::vector<NrChannel::Complex>& wu) const;
    /** The SINRs of UE i's layers on its RBGs into out. \param i UE \param out SINRs
     *  \param est estimated (true: at transmission) */
    void GatherMuSinr(uint32_t i, std::vector<double>& out, bool est) const;
    /** Ideal CSI: keep UE i's channel of the measurement at ring index at. \param i UE
     *  \param at ring index */
    void RecordCsiChannel(uint32_t i, uint64_t at);
    /** Count the MU-MIMO link-state figures of UE i's transmission. \param i UE
     *  \param s its counters */
    void CountMu(uint32_t i, NrMacStats& s) const;

    // CSI-RS reports and rank adaptation (nr-cell-mac-csi.cc)
    /** \param tid NrCellMac's TypeId \return it with the CSI-RS attributes */
    static TypeId AddCsiRsAttributes(TypeId tid);
    /** Build the report generator; check CsiMode CsiRs. \return whether CsiMode is CsiRs */
    bool ConfigureCsiRs();
    /** CsiRs: the reports of the UEs whose CSI-RS occasion slot n is. \param n slot */
    void CsiRsMeasure(uint64_t n);
    /** CsiRs: the report in use for UE i's scheduling in slot n. \param i UE \param n slot */
    void NoteCsiRs(uint32_t i, uint64_t n);
    /** \return false while UE i has no usable CSI-RS report (CsiRs) \param i UE */
    bool CsiReady(uint32_t i) const;
    /** \return UE i's channel as its report shows it [rank x N] \param i UE \param sb subband */
    const NrComplexMatrix& CsiRsChannel(uint32_t i, uint32_t sb);
    /** \return UE i's DL layers (RI, SRS rank or vmax) \param i UE \param vmax the cap */
    uint32_t AdaptedRank(uint32_t i, uint32_t vmax);
    /** \return the rank of the largest TBS-level rate on UE i's SRS estimate \param i UE
     *  \param vmax the cap */
    uint32_t SrsRank(uint32_t i, uint32_t vmax);
    /** \return the MCS of a CQI in the cell's table, at least LowestCurveMcs (-1: CQI 0)
     *  \param cqi CQI */
    int32_t CqiMcs(uint32_t cqi) const;
    /** \return the lowest MCS of the cell's table with a PDSCH BLER curve */
    int32_t LowestCurveMcs() const;
    /** \return the TBS at a CQI's MCS \param cqi CQI \param nPrb PRBs \param nSymb symbols
     *  \param layers layers */
    NrTbsInfo CqiTbs(uint32_t cqi, uint32_t nPrb, uint32_t nSymb, uint32_t layers) const;
    /** CsiRs link adaptation: the wideband CQI's MCS less OLLA. \param i UE \param nSymb
     *  symbols \param nPrb PRBs \param layers layers \return the choice */
    const NrBlerModel::McsChoice& CsiRsChoice(uint32_t i, uint32_t nSymb, uint32_t nPrb,
                                              uint32_t layers);
    /** \return NewDataNeed's RBGs re-estimated at the reported CQI (CsiRs) \param i UE
     *  \param need RBGs \param nSymb symbols */
    double CsiRsNeed(uint32_t i, double need, uint32_t nSymb) const;

    // attributes
    uint32_t m_numerology;            //!< mu
    double m_bandwidthHz;             //!< carrier bandwidth, Hz
    uint32_t m_frequencyRange;        //!< NrBandwidth::FrequencyRange of the carrier
    std::string m_tddPattern;         //!< TDD pattern
    uint32_t m_specialDlSymbols;      //!< DL symbols of an S slot
    uint32_t m_specialUlSymbols;      //!< UL symbols of an S slot
    double m_dlOverhead;              //!< OH of DL slots
    double m_ulOverhead;              //!< OH of UL slots
    uint32_t m_dmrsRe;                //!< N_DMRS^PRB
    std::string m_mcsTableName;       //!< MCS table name
    uint32_t m_rbgConfig;             //!< RBG configuration 1 or 2
    std::string m_scheduler;          //!< "RR" or "PF"
    double m_targetBler;              //!< link-adaptation target
    bool m_olla;                      //!< OLLA on
    double m_ollaStepDb;              //!< OLLA step on NACK, dB
    uint32_t m_csiDelay;              //!< CSI delay, active slots
    std::string m_csiMode;            //!< "Ideal" or "Srs"
    uint32_t m_srsPeriod;             //!< SRS period, slots
    uint32_t m_srsOffset;             //!< SRS slot offset
    uint32_t m_srsDelay;              //!< SRS processing delay, slots
    uint32_t m_srsComb;               //!< SRS comb size K_TC
    uint32_t m_harqProcesses;         //!< processes per UE and direction
    uint32_t m_maxTx;                 //!< max transmissions per TB
    uint32_t m_k1;                    //!< feedback delay, slots
    double m_pfWindow;                //!< PF averaging window, slots
    bool m_fullBufferDl;              //!< DL full buffer (no packets)
    bool m_fullBufferUl;              //!< UL full buffer (no packets)
    uint32_t m_maxLayers;             //!< L, DL layers per RBG
    uint32_t m_maxLayersPerUe;        //!< DL layers per UE at most
    std::string m_precoderName;       //!< "mrt", "zf" or "rzf"
    double m_susEpsilon;              //!< SUS semi-orthogonality threshold
    uint32_t m_csiRsPeriod{10};       //!< CSI-RS period, slots
    uint32_t m_csiRsOffset{0};        //!< CSI-RS slot offset
    uint32_t m_csiRsDelay{4};         //!< CSI report delay, slots
    uint32_t m_csiRsN1{0};            //!< codebook N1 (gNB array rows)
    uint32_t m_csiRsN2{0};            //!< codebook N2 (gNB array columns)
    bool m_rankAdaptation{true};      //!< Srs: rank from the estimate
    bool m_csiRs{false};              //!< CsiMode CsiRs
    Ptr<NrCsiReport> m_csiReport;     //!< report generator (also Srs ranks' CQI)
    std::vector<NrCsiRsState> m_csiRsUe; //!< per UE: CSI-RS reports, SRS rank
    bool m_ulPcOn;                    //!< UL power control (TS 38.213 §7.1.1)
    double m_ulP0Dbm;                 //!< P_O_PUSCH, dBm
    double m_ulAlpha;                 //!< alpha
    double m_ulPcMaxDbm;              //!< cap of P_CMAX below the UE's power, dBm
    bool m_ulTpc;                     //!< closed-loop TPC
    double m_ulTpcTargetDb;           //!< TPC target PUSCH SINR, dB
    bool m_srBsr;                     //!< SR/BSR instead of known UL buffers
    uint32_t m_srPeriod;              //!< SR period, slots
    uint32_t m_srOffset;              //!< SR offset, slots
    uint32_t m_srGrantDelay;          //!< SR to its PUSCH, slots
    bool m_harqTdd;                   //!< HARQ-ACK at the first PUCCH slot >= K1
    bool m_l2Headers;                 //!< PDCP/RLC/MAC headers charged

    // set-up
    uint32_t m_cell{0};                       //!< cell index
    Ptr<NrNetDevice> m_gnbDev;                //!< gNB device
    Ptr<NrChannel> m_channel;                 //!< channel
    Ptr<NrBlerModel> m_bler;                  //!< BLER model
    std::vector<Ptr<NrCellMac>> m_cells;      //!< all cells
    Ptr<UniformRandomVariable> m_uniform;     //!< TB error draws
    Ptr<NrCsiSrs> m_srs;                      //!< SRS CSI (CsiMode Srs), else null
    Ptr<NrHarqTiming> m_harqTiming;           //!< HarqTddTiming with a PUCCH slot, else null
    TracedCallback<const NrTbTraceParams&> m_tbTrace; //!< per-TB trace
    TracedCallback<uint32_t> m_csiUpdated;    //!< Srs: a UE's new CSI is in use

    // derived
    bool m_configured{false};          //!< Configure() ran
    NrMcsTable::Table m_table{NrMcsTable::QAM256}; //!< MCS table
    double m_maxSe{0};                 //!< top spectral efficiency of m_table, bit/RE
    NrPrecoding::Scheme m_precoder{NrPrecoding::ZF}; //!< built-in precoder
    Time m_slot;                       //!< slot duration
    uint32_t m_nPrb{0};                //!< N_PRB
    uint32_t m_rbgSize{0};             //!< P
    uint32_t m_nRbg{0};                //!< RBGs
    uint32_t m_rbgFirst{0};            //!< first usable RBG
    uint32_t m_rbgEnd{0};              //!< one past the last usable RBG
    std::vector<uint32_t> m_rbgPrbs;   //!< PRBs per RBG
    std::vector<uint32_t> m_rbgSb;     //!< subband per RBG
    double m_scsHz{0};                 //!< subcarrier spacing, Hz
    bool m_pf{false};                  //!< PF scheduler
    std::vector<Ue> m_ues;             //!< attached UEs
    std::vector<int32_t> m_owner[2];   //!< per RBG: UE channel index transmitting, or -1
    std::vector<int32_t> m_ownerLocal[2]; //!< per RBG: UE index in the cell, or -1
    uint32_t m_activeSymb[2]{0, 0};    //!< data symbols this slot per direction
    uint64_t m_slots{0};               //!< slots scheduled
    uint64_t m_nextSlot{0};            //!< slot number after the last Schedule
    Time m_nextSlotTime;               //!< its start (zero before the first)
    uint32_t m_rrStart{0};             //!< tie-break rotation
    double m_vtime[2]{0, 0};           //!< RR virtual time per direction
    std::vector<double> m_scratch;     //!< scratch SINR vector
    std::vector<uint32_t> m_cand;      //!< scratch candidate list
    std::vector<double> m_candNeed;    //!< scratch: RBGs a candidate may still take
    // MU-MIMO
    /** Precoders set from outside. */
    struct External
    {
        bool set{false};                    //!< holds a setting
        uint64_t from{0};                   //!< first slot
        std::vector<uint32_t> ues;          //!< group (empty: give control back)
        std::vector<uint32_t> layerUe;      //!< per layer: position in ues
        std::vector<NrComplexMatrix> w;     //!< per RBG or one, [N x layers], power shares
    };
    bool m_muSlot{false};                   //!< this slot's DL is on the MU path
    uint64_t m_muN{0};                      //!< the slot being scheduled
    External m_ext;                         //!< in use
    std::vector<External> m_extPending;     //!< waiting for their slots, by slot
    std::vector<MuGroup> m_mu;              //!< per RBG
    std::vector<std::vector<NrComplexMatrix>> m_csiH;   //!< per UE and subband, this slot
    std::vector<std::vector<NrComplexMatrix>> m_csiL;   //!< their layer channels
    std::vector<std::vector<bool>> m_csiHOk;            //!< m_csiH cached
    std::vector<std::vector<bool>> m_csiLOk;            //!< m_csiL cached
};

} // namespace ns3

#endif // NR_CELL_MAC_H
