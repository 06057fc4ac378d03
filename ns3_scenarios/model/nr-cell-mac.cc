/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-cell-mac.h"

#include "nr-bandwidth.h"
#include "nr-tbs.h"

#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/log.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("NrCellMac");
NS_OBJECT_ENSURE_REGISTERED(NrCellMac);

namespace
{
/// Lowest SINR a power-limited UE is scheduled at per PRB in UL, dB. The lowest MCS with a
/// Sionna BLER curve (qam256 MCS 2, QPSK 308/1024; the tables have no MCS 0-1) reaches 10 %
/// BLER at about -2 dB; 2 dB of margin.
constexpr double kUlMinSinrDb = 0.0;
/// Backlog that stands for "full buffer", bytes.
constexpr uint64_t kFullBuffer = std::numeric_limits<uint64_t>::max() / 4;

/**
 * RBG size P of TS 38.214 V17 Table 5.1.2.2.1-1.
 * \param nPrb bandwidth-part size, PRBs
 * \param config 1 or 2
 * \return P
 */
uint32_t
RbgSize(uint32_t nPrb, uint32_t config)
{
    static const uint32_t c1[] = {2, 4, 8, 16};
    static const uint32_t c2[] = {4, 8, 16, 16};
    const uint32_t k = nPrb <= 36 ? 0 : nPrb <= 72 ? 1 : nPrb <= 144 ? 2 : 3;
    return config == 2 ? c2[k] : c1[k];
}
} // namespace

TypeId
NrCellMac::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::NrCellMac")
            .SetParent<Object>()
            .SetGroupName("Edgelam")
            .AddConstructor<NrCellMac>()
            .AddAttribute("Numerology",
                          "Numerology mu (TS 38.211 §4.2): SCS 15 kHz 2^mu, slot 1 ms / 2^mu.",
                          UintegerValue(1),
                          MakeUintegerAccessor(&NrCellMac::m_numerology),
                          MakeUintegerChecker<uint32_t>(0, 4))
            .AddAttribute("BandwidthHz",
                          "Carrier bandwidth, Hz (N_PRB by TS 38.101 Table 5.3.2-1 or formula).",
                          DoubleValue(100e6),
                          MakeDoubleAccessor(&NrCellMac::m_bandwidthHz),
                          MakeDoubleChecker<double>(1e6))
            .AddAttribute("FrequencyRange",
                          "Frequency range of the carrier, which picks the N_PRB table: 1 "
                          "(TS 38.101-1), 2 (TS 38.101-2), 0 (FR1's, then FR2's; carriers "
                          "outside both). NrRadioHelper sets it from its carrier.",
                          UintegerValue(0),
                          MakeUintegerAccessor(&NrCellMac::m_frequencyRange),
                          MakeUintegerChecker<uint32_t>(0, 2))
            .AddAttribute("TddPattern",
                          "TDD pattern of D, S, U slots, repeated (TS 38.213 §11.1); \"D\": "
                          "all downlink.",
                          StringValue("DDDSU"),
                          MakeStringAccessor(&NrCellMac::m_tddPattern),
                          MakeStringChecker())
            .AddAttribute("SpecialSlotDlSymbols",
                          "Downlink OFDM symbols of an S slot (then the guard, then the uplink "
                          "symbols), TS 38.213 §11.1.",
                          UintegerValue(10),
                          MakeUintegerAccessor(&NrCellMac::m_specialDlSymbols),
                          MakeUintegerChecker<uint32_t>(0, 14))
            .AddAttribute("SpecialSlotUlSymbols",
                          "Uplink OFDM symbols of an S slot.",
                          UintegerValue(2),
                          MakeUintegerAccessor(&NrCellMac::m_specialUlSymbols),
                          MakeUintegerChecker<uint32_t>(0, 14))
            .AddAttribute("DlOverhead",
                          "Share of a DL slot's REs carrying no data (DM-RS included): the OH of "
                          "TS 38.306 §4.1.2 (0.14 FR1, 0.18 FR2).",
                          DoubleValue(0.14),
                          MakeDoubleAccessor(&NrCellMac::m_dlOverhead),
                          MakeDoubleChecker<double>(0.0, 0.9))
            .AddAttribute("UlOverhead",
                          "Share of a UL slot's REs carrying no data (DM-RS included): the OH of "
                          "TS 38.306 §4.1.2 (0.08 FR1, 0.10 FR2).",
                          DoubleValue(0.08),
                          MakeDoubleAccessor(&NrCellMac::m_ulOverhead),
                          MakeDoubleChecker<double>(0.0, 0.9))
            .AddAttribute("DmrsRePerPrb",
                          "N_DMRS^PRB of TS 38.214 §5.1.3.2: DM-RS REs per PRB incl. CDM "
                          "groups without data (12: one front-loaded type-1 symbol).",
                          UintegerValue(12),
                          MakeUintegerAccessor(&NrCellMac::m_dmrsRe),
                          MakeUintegerChecker<uint32_t>(0, 48))
            .AddAttribute("McsTable",
                          "MCS table: qam64 (TS 38.214 Table 5.1.3.1-1), qam256 (-2), "
                          "qam64LowSE (-3), qam1024 (-4).",
                          StringValue("qam256"),
                          MakeStringAccessor(&NrCellMac::m_mcsTableName),
                          MakeStringChecker())
            .AddAttribute("RbgConfig",
                          "RBG size configuration 1 or 2 of TS 38.214 Table 5.1.2.2.1-1.",
                          UintegerValue(1),
                          MakeUintegerAccessor(&NrCellMac::m_rbgConfig),
                          MakeUintegerChecker<uint32_t>(1, 2))
            .AddAttribute("Scheduler",
                          "RR (weighted round robin over RBGs) or PF (proportional fair).",
                          StringValue("RR"),
                          MakeStringAccessor(&NrCellMac::m_scheduler),
                          MakeStringChecker())
            .AddAttribute("TargetBler",
                          "Link-adaptation target of the first-transmission TB error rate.",
                          DoubleValue(0.1),
                          MakeDoubleAccessor(&NrCellMac::m_targetBler),
                          MakeDoubleChecker<double>(1e-6, 0.9))
            .AddAttribute("Olla",
                          "Outer-loop link adaptation on the first-transmission ACK/NACKs.",
                          BooleanValue(false),
                          MakeBooleanAccessor(&NrCellMac::m_olla),
                          MakeBooleanChecker())
            .AddAttribute("OllaStepDb",
                          "OLLA offset increase on a NACK, dB (decrease on an ACK: step t/(1-t)).",
                          DoubleValue(0.5),
                          MakeDoubleAccessor(&NrCellMac::m_ollaStepDb),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("CsiDelaySlots",
                          "CSI reporting delay, in slots in which the direction is active.",
                          UintegerValue(2),
                          MakeUintegerAccessor(&NrCellMac::m_csiDelay),
                          MakeUintegerChecker<uint32_t>(0, 1000))
            .AddAttribute("CsiMode",
                          "What link adaptation and PF know of the channel: \"Ideal\" (the "
                          "true per-RBG SINR, CsiDelaySlots old) or \"Srs\" (the gNB's SRS "
                          "estimates, NrCsiSrs) or \"CsiRs\" (CSI-RS reports: CQI, RI, PMI).",
                          StringValue("Ideal"),
                          MakeStringAccessor(&NrCellMac::m_csiMode),
                          MakeStringChecker())
            .AddAttribute("SrsPeriodSlots",
                          "SRS period T_SRS of every UE, slots (CsiMode Srs; TS 38.214 §6.2.1).",
                          UintegerValue(10),
                          MakeUintegerAccessor(&NrCellMac::m_srsPeriod),
                          MakeUintegerChecker<uint32_t>(1, 2560))
            .AddAttribute("SrsOffsetSlots",
                          "SRS slot offset T_offset of every UE, slots (< SrsPeriodSlots; each "
                          "occasion must fall in a slot with UL symbols).",
                          UintegerValue(3),
                          MakeUintegerAccessor(&NrCellMac::m_srsOffset),
                          MakeUintegerChecker<uint32_t>(0, 2559))
            .AddAttribute("SrsProcessingDelaySlots",
                          "Slots from an SRS to the first scheduling that uses its estimate.",
                          UintegerValue(2),
                          MakeUintegerAccessor(&NrCellMac::m_srsDelay),
                          MakeUintegerChecker<uint32_t>(0, 1000))
            .AddAttribute("SrsComb",
                          "SRS transmission comb K_TC (TS 38.211 §6.4.1.4.2: 2, 4 or 8): one SRS "
                          "RE every K_TC subcarriers, which sets the REs the LS estimate averages.",
                          UintegerValue(2),
                          MakeUintegerAccessor(&NrCellMac::m_srsComb),
                          MakeUintegerChecker<uint32_t>(2, 8))
            .AddAttribute("HarqProcesses",
                          "HARQ processes per UE and direction (TS 38.321 §5.3.2: up to 16, "
                          "32 in Rel-17).",
                          UintegerValue(16),
                          MakeUintegerAccessor(&NrCellMac::m_harqProcesses),
                          MakeUintegerChecker<uint32_t>(1, 64))
            .AddAttribute("MaxTransmissions",
                          "Transmissions of a TB at most (first + retransmissions).",
                          UintegerValue(4),
                          MakeUintegerAccessor(&NrCellMac::m_maxTx),
                          MakeUintegerChecker<uint32_t>(1, 32))
            .AddAttribute("HarqFeedbackDelaySlots",
                          "Slots from a transmission to its HARQ feedback (K1, TS 38.213 §9.2.3).",
                          UintegerValue(2),
                          MakeUintegerAccessor(&NrCellMac::m_k1),
                          MakeUintegerChecker<uint32_t>(1, 64))
            .AddAttribute("PfWindowSlots",
                          "PF average-throughput window, slots.",
                          DoubleValue(100.0),
                          MakeDoubleAccessor(&NrCellMac::m_pfWindow),
                          MakeDoubleChecker<double>(1.0))
            .AddAttribute("FullBufferDl",
                          "Downlink full buffer at the MAC: every UE always has data; no "
                          "packets (decoded TB bytes are only counted).",
                          BooleanValue(false),
                          MakeBooleanAccessor(&NrCellMac::m_fullBufferDl),
                          MakeBooleanChecker())
            .AddAttribute("FullBufferUl",
                          "Uplink full buffer at the MAC.",
                          BooleanValue(false),
                          MakeBooleanAccessor(&NrCellMac::m_fullBufferUl),
                          MakeBooleanChecker())
            .AddAttribute("MaxLayers",
                          "DL MIMO layers per RBG L, across co-scheduled UEs and a UE's "
                          "eigen-modes (MU-MIMO path); 1: one UE per RBG through its analog "
                          "beam (the single-layer path).",
                          UintegerValue(1),
                          MakeUintegerAccessor(&NrCellMac::m_maxLayers),
                          MakeUintegerChecker<uint32_t>(1, 64))
            .AddAttribute("MaxLayersPerUe",
                          "DL layers of one UE at most (MU-MIMO path; also capped by its "
                          "antennas and MaxLayers).",
                          UintegerValue(1),
                          MakeUintegerAccessor(&NrCellMac::m_maxLayersPerUe),
                          MakeUintegerChecker<uint32_t>(1, 8))
            .AddAttribute("Precoder",
                          "Built-in DL precoder of the MU-MIMO path from the gNB's CSI: mrt, zf "
                          "or rzf (regularisation sigma^2 L / P).",
                          StringValue("zf"),
                          MakeStringAccessor(&NrCellMac::m_precoderName),
                          MakeStringChecker())
            .AddAttribute("SusEpsilon",
                          "Semi-orthogonality threshold of the user selection (MU-MIMO path): a "
                          "UE joins a group only if its channel's normalised correlation with "
                          "each chosen one is below this.",
                          DoubleValue(0.5),
                          MakeDoubleAccessor(&NrCellMac::m_susEpsilon),
                          MakeDoubleChecker<double>(1e-6, 1.0))
            .AddAttribute("UlPowerControl",
                          "PUSCH power by TS 38.213 §7.1.1, min(P_CMAX, P_O + 10 log10(2^mu "
                          "M_RB) + alpha PL + f) (NrUlPowerControl, PL the gNB-measured path "
                          "loss); false: every PUSCH at the UE's full transmit power.",
                          BooleanValue(false),
                          MakeBooleanAccessor(&NrCellMac::m_ulPcOn),
                          MakeBooleanChecker())
            .AddAttribute("UlP0Dbm",
                          "P_O_PUSCH = P_O_NOMINAL_PUSCH + P_O_UE_PUSCH, dBm (per 15 kHz RB).",
                          DoubleValue(-60.0),
                          MakeDoubleAccessor(&NrCellMac::m_ulP0Dbm),
                          MakeDoubleChecker<double>(-202.0, 24.0))
            .AddAttribute("UlAlpha",
                          "Fractional path-loss compensation alpha (0, 0.4 ... 1).",
                          DoubleValue(0.6),
                          MakeDoubleAccessor(&NrCellMac::m_ulAlpha),
                          MakeDoubleChecker<double>(0.0, 1.0))
            .AddAttribute("UlPcMaxDbm",
                          "Cap of P_CMAX, dBm: a UE's P_CMAX is the lower of this and its "
                          "transmit power in the channel (default: no cap below that).",
                          DoubleValue(1000.0),
                          MakeDoubleAccessor(&NrCellMac::m_ulPcMaxDbm),
                          MakeDoubleChecker<double>())
            .AddAttribute("UlTpc",
                          "Closed-loop TPC (accumulated, TS 38.213 Table 7.1.1-1): after each "
                          "PUSCH the gNB sends +3/+1/0/-1 dB toward UlTpcTargetSinrDb.",
                          BooleanValue(false),
                          MakeBooleanAccessor(&NrCellMac::m_ulTpc),
                          MakeBooleanChecker())
            .AddAttribute("UlTpcTargetSinrDb",
                          "Target effective PUSCH SINR of the closed-loop TPC, dB.",
                          DoubleValue(10.0),
                          MakeDoubleAccessor(&NrCellMac::m_ulTpcTargetDb),
                          MakeDoubleChecker<double>(-10.0, 40.0))
            .AddAttribute("SrBsr",
                          "UL scheduling from buffer status reports: a UE with new data sends "
                          "an SR at its next SR occasion, gets one RBG SrGrantDelaySlots later, "
                          "and every UL TB carries a long BSR (TS 38.321 Table 6.1.3.1-2); "
                          "false: the gNB knows UL buffers exactly.",
                          BooleanValue(false),
                          MakeBooleanAccessor(&NrCellMac::m_srBsr),
                          MakeBooleanChecker())
            .AddAttribute("SrPeriodSlots",
                          "SR period, slots (TS 38.331 SchedulingRequestResourceConfig).",
                          UintegerValue(10),
                          MakeUintegerAccessor(&NrCellMac::m_srPeriod),
                          MakeUintegerChecker<uint32_t>(1, 640))
            .AddAttribute("SrOffsetSlots",
                          "SR slot offset (< SrPeriodSlots; occasions in slots with UL symbols).",
                          UintegerValue(4),
                          MakeUintegerAccessor(&NrCellMac::m_srOffset),
                          MakeUintegerChecker<uint32_t>(0, 639))
            .AddAttribute("SrGrantDelaySlots",
                          "Slots from an SR to the PUSCH of its grant (gNB processing + K2); "
                          "the PUSCH is in the first slot with UL data symbols at or after.",
                          UintegerValue(3),
                          MakeUintegerAccessor(&NrCellMac::m_srGrantDelay),
                          MakeUintegerChecker<uint32_t>(1, 64))
            .AddAttribute("HarqTddTiming",
                          "DL HARQ-ACK in the first slot carrying PUCCH (U, or S with UL "
                          "symbols) at least HarqFeedbackDelaySlots after the data (NrHarqTiming), "
                          "known to the scheduler from the next slot; false (or a pattern "
                          "without such a slot): feedback HarqFeedbackDelaySlots after the data.",
                          BooleanValue(false),
                          MakeBooleanAccessor(&NrCellMac::m_harqTdd),
                          MakeBooleanChecker())
            .AddAttribute("L2Headers",
                          "Charge PDCP (2 B), RLC (2 B; 4 B on a continued segment) and MAC "
                          "subheader (2 B, 3 B above 255 B) bytes per SDU piece in a TB, and a "
                          "4-B long BSR per UL TB with SrBsr (full buffer: none).",
                          BooleanValue(false),
                          MakeBooleanAccessor(&NrCellMac::m_l2Headers),
                          MakeBooleanChecker())
            .AddTraceSource("TbTrace",
                            "A transport block was transmitted (per transmission).",
                            MakeTraceSourceAccessor(&NrCellMac::m_tbTrace),
                            "ns3::NrCellMac::TbTracedCallback")
            .AddTraceSource("CsiUpdated",
                            "CsiMode Srs: a new estimate (or external CSI) of a UE is in use "
                            "from this slot on, before the slot is scheduled.",
                            MakeTraceSourceAccessor(&NrCellMac::m_csiUpdated),
                            "ns3::NrCellMac::CsiUpdatedTracedCallback");
    static const TypeId kWithCsiRs = AddCsiRsAttributes(tid); // nr-cell-mac-csi.cc
    return tid;
}

NrCellMac::NrCellMac()
    : m_uniform(CreateObject<UniformRandomVariable>())
{
}

NrCellMac::~NrCellMac() = default;

void
NrCellMac::DoDispose()
{
    m_gnbDev = nullptr;
    m_channel = nullptr;
    m_bler = nullptr;
    m_srs = nullptr;
    m_cells.clear();
    m_ues.clear();
    Object::DoDispose();
}

void
NrCellMac::Setup(uint32_t cell,
                 Ptr<NrNetDevice> gnbDevice,
                 Ptr<NrChannel> channel,
                 Ptr<NrBlerModel> bler)
{
    m_cell = cell;
    m_gnbDev = gnbDevice;
    m_channel = channel;
    m_bler = bler;
    Configure();
}

void
NrCellMac::Configure()
{
    for (char c : m_tddPattern)
    {
        if (c != 'D' && c != 'U' && c != 'S')
        {
            throw std::invalid_argument("TddPattern: only D, S and U slots (TS 38.213 §11.1), "
                                        "got '" + m_tddPattern + "'");
        }
    }
    if (m_tddPattern.empty())
    {
        throw std::invalid_argument("TddPattern must not be empty");
    }
    if (m_specialDlSymbols + m_specialUlSymbols > 14)
    {
        throw std::invalid_argument("an S slot has 14 symbols: DL + UL symbols must be <= 14");
    }
    if (m_scheduler != "RR" && m_scheduler != "PF")
    {
        throw std::invalid_argument("Scheduler must be RR or PF, got '" + m_scheduler + "'");
    }
    m_pf = m_scheduler == "PF";
    m_table = NrMcsTable::FromString(m_mcsTableName);
    // the cap of the PF rate and bytes-per-RBG estimates: the configured table's top MCS
    m_maxSe = NrMcsTable::GetMaxSpectralEfficiency(m_table);
    m_scsHz = NrBandwidth::GetScsHz(m_numerology);
    m_slot = NanoSeconds(1000000 >> m_numerology);
    m_nPrb = NrBandwidth::GetNumPrb(m_bandwidthHz, m_scsHz, NrBandwidth::kDefaultGuardFraction,
                                    static_cast<NrBandwidth::FrequencyRange>(m_frequencyRange));
    if (m_nPrb == 0)
    {
        throw std::invalid_argument("no PRB fits the bandwidth at this numerology");
    }
    m_rbgSize = RbgSize(m_nPrb, m_rbgConfig);
    m_nRbg = (m_nPrb + m_rbgSize - 1) / m_rbgSize;
    m_rbgPrbs.assign(m_nRbg, m_rbgSize);
    m_rbgPrbs.back() = m_nPrb - (m_nRbg - 1) * m_rbgSize;
    const uint32_t nSb = m_channel ? m_channel->GetNSubbands() : 1;
    m_rbgSb.resize(m_nRbg);
    for (uint32_t r = 0; r < m_nRbg; ++r)
    {
        const double centre = r * m_rbgSize + 0.5 * m_rbgPrbs[r];
        m_rbgSb[r] = std::min(nSb - 1, static_cast<uint32_t>(centre * nSb / m_nPrb));
    }
    m_rbgFirst = 0;
    m_rbgEnd = m_nRbg;
    for (auto& o : m_owner)
    {
        o.assign(m_nRbg, -1);
    }
    for (auto& o : m_ownerLocal)
    {
        o.assign(m_nRbg, -1);
    }
    ConfigureCsi();
    ConfigureMu();
    ConfigureUl();
    m_configured = true;
}

void
NrCellMac::ConfigureCsi()
{
    if (m_csiMode != "Ideal" && m_csiMode != "Srs" && m_csiMode != "CsiRs")
    {
        throw std::invalid_argument("CsiMode must be Ideal, Srs or CsiRs, got '" + m_csiMode +
                                    "'");
    }
    if (ConfigureCsiRs())
    {
        return; // CSI-RS reports (nr-cell-mac-csi.cc)
    }
    if (m_csiMode == "Ideal")
    {
        m_srs = nullptr;
        return;
    }
    if (m_srsComb != 2 && m_srsComb != 4 && m_srsComb != 8)
    {
        throw std::invalid_argument("SrsComb must be 2, 4 or 8 (TS 38.211 §6.4.1.4.2)");
    }
    if (m_srsOffset >= m_srsPeriod)
    {
        throw std::invalid_argument("SrsOffsetSlots (" + std::to_string(m_srsOffset) +
                                    ") must be below SrsPeriodSlots (" +
                                    std::to_string(m_srsPeriod) + ")");
    }
    // every occasion offset + k period, over one repetition of the TDD pattern, needs UL symbols
    const size_t len = m_tddPattern.size();
    for (size_t k = 0; k < len; ++k)
    {
        const uint64_t n = m_srsOffset + k * uint64_t(m_srsPeriod);
        if (SymbolsIn(n, UL) == 0)
        {
            throw std::invalid_argument(
                "SRS occasion in slot " + std::to_string(n) + " (offset " +
                std::to_string(m_srsOffset) + " + k x period " + std::to_string(m_srsPeriod) +
                ") has no UL symbols in TDD pattern '" + m_tddPattern + "'");
        }
    }
    m_srs = CreateObjectWithAttributes<NrCsiSrs>(
        "PeriodSlots", UintegerValue(m_srsPeriod), "OffsetSlots", UintegerValue(m_srsOffset),
        "ProcessingDelaySlots", UintegerValue(m_srsDelay));
}

uint32_t
NrCellMac::AddUe(uint32_t ue, Ptr<NrNetDevice> ueDevice)
{
    NS_ABORT_MSG_IF(!m_configured, "NrCellMac::AddUe before Setup");
    const uint32_t i = m_gnbDev->AttachUe(ueDevice);
    m_ues.emplace_back();
    Ue& u = m_ues.back();
    u.id = ue;
    u.dev = ueDevice;
    for (auto& l : u.link)
    {
        l.harq.resize(m_harqProcesses);
        l.csiRing.assign(m_csiDelay + 1, {});
        l.csiSlot.assign(m_csiDelay + 1, 0);
        if (m_srs || m_maxLayers > 1)
        {
            l.inrRing.assign(m_csiDelay + 1, {});
        }
    }
    u.link[DL].hRing.assign(m_csiDelay + 1, {});
    u.link[DL].pgRing.assign(m_csiDelay + 1, 0.0);
    if (m_srs)
    {
        m_srs->AddUe();
    }
    AddUeUl(m_ues.size() - 1);
    return i;
}

void
NrCellMac::SetCells(const std::vector<Ptr<NrCellMac>>& cells)
{
    m_cells = cells;
}

Time
NrCellMac::GetSlotDuration() const
{
    return m_slot;
}

uint32_t
NrCellMac::GetNPrb() const
{
    return m_nPrb;
}

uint32_t
NrCellMac::GetNRbg() const
{
    return m_nRbg;
}

uint32_t
NrCellMac::GetRbgSize() const
{
    return m_rbgSize;
}

uint32_t
NrCellMac::GetNUes() const
{
    return m_ues.size();
}

uint32_t
NrCellMac::GetUeId(uint32_t i) const
{
    return m_ues.at(i).id;
}

uint32_t
NrCellMac::GetCellId() const
{
    return m_cell;
}

void
NrCellMac::SetUeWeight(uint32_t i, double w)
{
    if (!(w > 0))
    {
        throw std::invalid_argument("scheduler weight must be > 0");
    }
    m_ues.at(i).weight = w;
}

void
NrCellMac::SetUeShare(uint32_t i, double share)
{
    if (!(share <= 1))
    {
        throw std::invalid_argument("resource share must be <= 1 (0 or negative: no "
                                    "reservation)");
    }
    if (share > 0 && m_maxLayers > 1)
    {
        throw std::invalid_argument("resource shares are not applied on the MU-MIMO path "
                                    "(MaxLayers > 1): UEs share RBGs by SUS on the PF metric");
    }
    Ue& u = m_ues.at(i);
    u.share = std::max(share, 0.0);
    for (uint32_t d = 0; d < 2; ++d)
    {
        // RR's count restarts with the new shares: what a UE got under the old ones does not
        // cost it its part of the leftover now
        u.link[d].credit = 0;
        u.link[d].served = m_vtime[d];
    }
}

void
NrCellMac::SetRbgRange(uint32_t first, uint32_t n)
{
    if (n == 0 || first + n > m_nRbg)
    {
        throw std::invalid_argument("RBG range outside the carrier's " + std::to_string(m_nRbg) +
                                    " RBGs");
    }
    m_rbgFirst = first;
    m_rbgEnd = first + n;
}

const NrMacStats&
NrCellMac::GetStats(uint32_t i, Direction dir) const
{
    return m_ues.at(i).link[dir].stats;
}

NrRlcFlow&
NrCellMac::Flow(uint32_t i, Direction dir)
{
    return dir == DL ? m_gnbDev->GetDlFlow(i) : m_ues[i].dev->GetUlFlow();
}

uint64_t
NrCellMac::GetQueuedBytes(uint32_t i, Direction dir)
{
    return Flow(i, dir).GetQueuedBytes();
}

double
NrCellMac::GetOllaOffsetDb(uint32_t i, Direction dir) const
{
    return m_ues.at(i).link[dir].ollaDb;
}

uint64_t
NrCellMac::GetNSlots() const
{
    return m_slots;
}

int64_t
NrCellMac::AssignStreams(int64_t stream)
{
    m_uniform->SetStream(stream);
    return 1;
}

int64_t
NrCellMac::AssignCsiStreams(int64_t stream)
{
    return m_srs ? m_srs->AssignStreams(stream) : 0;
}

uint32_t
NrCellMac::SymbolsIn(uint64_t n, Direction dir) const
{
    const char c = m_tddPattern[n % m_tddPattern.size()];
    if (c == 'D')
    {
        return dir == DL ? 14 : 0;
    }
    if (c == 'U')
    {
        return dir == UL ? 14 : 0;
    }
    return dir == DL ? m_specialDlSymbols : m_specialUlSymbols;
}

uint32_t
NrCellMac::OverheadRe(Direction dir, uint32_t nSymb) const
{
    const double oh = dir == DL ? m_dlOverhead : m_ulOverhead;
    const auto total = static_cast<int64_t>(std::lround(oh * 12.0 * nSymb));
    return static_cast<uint32_t>(std::max<int64_t>(0, total - m_dmrsRe));
}

uint64_t
NrCellMac::Backlog(uint32_t i, Direction dir)
{
    if ((dir == DL && m_fullBufferDl) || (dir == UL && m_fullBufferUl))
    {
        return kFullBuffer;
    }
    if (dir == UL && m_srBsr)
    {
        return m_ues[i].link[UL].bsrBelief; // what its BSRs told the gNB, less what it granted
    }
    return Flow(i, dir).GetQueuedBytes();
}

const std::vector<double>&
NrCellMac::Reported(uint32_t i, Direction dir) const
{
    const Link& l = m_ues[i].link[dir];
    if (m_srs)
    {
        return l.srsSinr; // UpdateSrsReport's, this slot
    }
    if (l.csiCount == 0)
    {
        return l.csiRing[0]; // empty
    }
    return l.csiRing[DelayedIndex(l)];
}

uint64_t
NrCellMac::DelayedIndex(const Link& l) const
{
    // the measurement made m_csiDelay active slots ago, or the oldest one there is
    const uint64_t last = l.csiCount - 1;
    const uint64_t idx = last >= m_csiDelay ? last - m_csiDelay : 0;
    return idx % l.csiRing.size();
}

double
NrCellMac::CarrierPsd(uint32_t i, Direction dir)
{
    if (dir == UL)
    {
        return UlPsd(i, m_nPrb);
    }
    return m_channel->GetGnbTxPowerW(m_cell) / (m_nPrb * 12.0 * m_scsHz);
}

void
NrCellMac::NoteCsi(uint32_t i, Direction dir, uint64_t n)
{
    if (dir == DL && m_csiRs)
    {
        return NoteCsiRs(i, n);
    }
    Link& l = m_ues[i].link[dir];
    if (l.csiCount == 0)
    {
        return;
    }
    const uint64_t at = DelayedIndex(l);
    if (!m_srs)
    {
        l.csiAge = double(n - l.csiSlot[at]);
    }
    else
    {
        const NrCsiSrs::Estimate& e = m_srs->Current(i, n);
        l.srsReady = e.valid;
        if (!e.valid)
        {
            return;
        }
        if (e.id != m_ues[i].notifiedId)
        {
            m_ues[i].notifiedId = e.id;
            m_csiUpdated(m_ues[i].id); // e.g. the Ideal beam policy re-steers from it now
        }
        const auto& gain = EstimatedGain(i, e);
        const double psd = CarrierPsd(i, dir);
        const auto& inr = l.inrRing[at];
        l.srsSinr.resize(m_nRbg);
        for (uint32_t r = 0; r < m_nRbg; ++r)
        {
            l.srsSinr[r] = psd * gain[m_rbgSb[r]] / inr[r];
        }
        l.csiAge = n >= e.slot ? double(n - e.slot) : 0.0;
    }
    const auto& rep = Reported(i, dir);
    double mean = 0;
    for (uint32_t r = m_rbgFirst; r < m_rbgEnd; ++r)
    {
        mean += rep[r];
    }
    mean /= (m_rbgEnd - m_rbgFirst);
    l.estWidebandDb = 10.0 * std::log10(std::max(mean, 1e-30));
}

const std::vector<double>&
NrCellMac::EstimatedGain(uint32_t i, const NrCsiSrs::Estimate& e)
{
    Ue& u = m_ues[i];
    const auto& wg = m_channel->GetGnbBeam(m_cell, u.id);
    const auto& wu = m_channel->GetUeBeam(u.id);
    if (u.estId == e.id && u.estGnbBeam == wg && u.estUeBeam == wu)
    {
        return u.estGain;
    }
    const uint32_t nSb = m_channel->GetNSubbands();
    const size_t nTx = wg.size();
    const size_t nRx = wu.size();
    const double pg = std::pow(10.0, e.pathGainDb / 10.0);
    u.estGain.assign(nSb, 0.0);
    std::vector<NrChannel::Complex> y(nSb); // w_u^H Ĥ w_g per subband
    for (size_t r = 0; r < nRx; ++r)
    {
        const NrChannel::Complex cu = std::conj(wu[r]);
        for (size_t t = 0; t < nTx; ++t)
        {
            const NrChannel::Complex c = cu * wg[t];
            const NrChannel::Complex* h = &e.h[(r * nTx + t) * nSb];
            for (uint32_t sb = 0; sb < nSb; ++sb)
            {
                y[sb] += h[sb] * c;
            }
        }
    }
    for (uint32_t sb = 0; sb < nSb; ++sb)
    {
        u.estGain[sb] = std::norm(y[sb]) * pg;
    }
    u.estId = e.id;
    u.estGnbBeam = wg;
    u.estUeBeam = wu;
    return u.estGain;
}

void
NrCellMac::Sound(uint64_t n)
{
    const double now = Simulator::Now().GetSeconds();
    const uint32_t nSb = m_channel->GetNSubbands();
    // K SRS REs per subband (comb K_TC over its PRBs, one symbol), noise PSD over the UE's PSD
    const double res = 12.0 * m_nPrb / (double(nSb) * m_srsComb);
    const double noisePsd = m_channel->GetGnbNoiseW(m_cell) / (m_bandwidthHz / nSb);
    for (uint32_t i = 0; i < m_ues.size(); ++i)
    {
        if (!m_srs->IsOccasion(i, n))
        {
            continue;
        }
        const uint32_t u = m_ues[i].id;
        const double pgDb = m_channel->GetPathGainDb(m_cell, u);
        const double pg = std::pow(10.0, pgDb / 10.0);
        const double sigma2 = noisePsd / (res * CarrierPsd(i, UL) * pg);
        m_srs->Measure(i, n, now, m_channel->GetChannelMatrix(m_cell, u), pgDb, sigma2);
    }
}

bool
NrCellMac::IsSrsCsi() const
{
    return m_srs != nullptr;
}

Ptr<NrCsiSrs>
NrCellMac::GetSrs() const
{
    return m_srs;
}

const NrCsiSrs::Estimate&
NrCellMac::GetCsiEstimate(uint32_t i)
{
    if (!m_srs)
    {
        throw std::logic_error("GetCsiEstimate: the cell's CsiMode is Ideal");
    }
    return m_srs->Current(i, m_nextSlot);
}

void
NrCellMac::SetExternalCsi(uint32_t i, uint64_t n, const std::vector<NrChannel::Complex>& h,
                          double pathGainDb)
{
    if (!m_srs)
    {
        throw std::logic_error("SetExternalCsi: the cell's CsiMode is Ideal");
    }
    const uint32_t u = m_ues.at(i).id;
    const size_t expect = size_t(m_channel->GetNUeAntennas(u)) *
                          m_channel->GetNGnbAntennas(m_cell) * m_channel->GetNSubbands();
    if (h.size() != expect)
    {
        throw std::invalid_argument("SetExternalCsi: " + std::to_string(expect) +
                                    " coefficients [rx][tx][sb] expected, got " +
                                    std::to_string(h.size()));
    }
    const uint64_t from = std::max(n, m_nextSlot);
    const double t = Simulator::Now().GetSeconds() +
                     (double(from) - double(m_nextSlot)) * m_slot.GetSeconds();
    m_srs->SetExternal(i, from, t, h, pathGainDb);
}

void
NrCellMac::ClearExternalCsi(uint32_t i)
{
    if (m_srs)
    {
        m_srs->ClearExternal(i);
    }
}

double
NrCellMac::GetCsiAgeSlots(uint32_t i, Direction dir) const
{
    return m_ues.at(i).link[dir].csiAge;
}

double
NrCellMac::GetEstimatedWidebandSinrDb(uint32_t i, Direction dir) const
{
    return m_ues.at(i).link[dir].estWidebandDb;
}

uint64_t
NrCellMac::GetNextSlot() const
{
    return m_nextSlot;
}

Time
NrCellMac::GetNextSlotTime() const
{
    return m_nextSlot == 0 ? Simulator::Now() : m_nextSlotTime;
}

double
NrCellMac::BytesPerRbg(uint32_t i, Direction dir, uint32_t nSymb) const
{
    const auto& rep = Reported(i, dir);
    double se = 0;
    if (!rep.empty())
    {
        double mean = 0;
        for (uint32_t r = m_rbgFirst; r < m_rbgEnd; ++r)
        {
            mean += rep[r];
        }
        mean /= (m_rbgEnd - m_rbgFirst);
        se = std::min(m_maxSe, std::log2(1.0 + mean));
    }
    const double oh = dir == DL ? m_dlOverhead : m_ulOverhead;
    return std::max(1.0, se * 12.0 * nSymb * (1.0 - oh) * m_rbgSize / 8.0);
}

double
NrCellMac::UlRbgCap(uint32_t i)
{
    // Power-limited PUSCH: at P_CMAX a UE spreads its power over its allocation, so the SINR
    // per PRB falls as the allocation grows. Give a UE at most the RBGs over which its SINR
    // stays at or above kUlMinSinrDb (about the working point of the lowest MCS), never fewer
    // than one. Its PSD over M PRBs is min(P_CMAX / (M 12 SCS), PSD over 1 PRB) (with power
    // control the open-loop power grows with M; without, PSD over 1 PRB = P / (12 SCS)); the
    // report was measured at the PSD of a full-carrier allocation.
    const auto& rep = Reported(i, UL);
    double mean = 0;
    for (uint32_t r = m_rbgFirst; r < m_rbgEnd; ++r)
    {
        mean += rep[r];
    }
    mean /= std::max(1u, m_rbgEnd - m_rbgFirst);
    const double minSinr = std::pow(10.0, kUlMinSinrDb / 10.0);
    const double need = minSinr * CarrierPsd(i, UL) / mean; // PSD that gives minSinr
    if (!(UlPsd(i, 1.0) >= need))
    {
        return 1.0;
    }
    const double maxPrb = UlPcMaxW(i) / (12.0 * m_scsHz * need);
    return std::max(1.0, std::floor(maxPrb / m_rbgSize));
}

double
NrCellMac::AllocatedPrbs(const std::vector<uint32_t>& rbgs) const
{
    double n = 0;
    for (uint32_t r : rbgs)
    {
        n += m_rbgPrbs[r];
    }
    return n;
}

void
NrCellMac::ComputeSinr(uint32_t i,
                       Direction dir,
                       const std::vector<uint32_t>* rbgs,
                       std::vector<double>& out,
                       std::vector<double>* inr)
{
    const uint32_t u = m_ues[i].id;
    const double rbHz = 12.0 * m_scsHz;
    const double bSb = m_bandwidthHz / m_channel->GetNSubbands();
    double psd;
    double noise;
    if (dir == DL)
    {
        psd = m_channel->GetGnbTxPowerW(m_cell) / (m_nPrb * rbHz);
        noise = m_channel->GetUeNoiseW(u) / bSb;
    }
    else
    {
        // the PUSCH PSD of this slot's allocation (SetUlPower: full power, or TS 38.213 §7.1.1
        // power control); a CSI (SRS-like) measurement is at the PSD of a full-carrier
        // allocation, which AdaptLink scales to the allocation's.
        psd = rbgs ? m_ues[i].link[UL].txPsd : CarrierPsd(i, UL);
        noise = m_channel->GetGnbNoiseW(m_cell) / bSb;
    }
    const std::vector<double>& gain = m_channel->GetBeamGain(m_cell, u, u);
    const size_t n = rbgs ? rbgs->size() : m_nRbg;
    out.resize(n);
    if (inr)
    {
        inr->resize(n);
    }
    // signal and noise first (gain may be invalidated by later channel calls)
    for (size_t k = 0; k < n; ++k)
    {
        const uint32_t r = rbgs ? (*rbgs)[k] : static_cast<uint32_t>(k);
        out[k] = psd * gain[m_rbgSb[r]];
    }
    for (size_t k = 0; k < n; ++k)
    {
        const uint32_t r = rbgs ? (*rbgs)[k] : static_cast<uint32_t>(k);
        double interf = 0;
        for (const auto& other : m_cells)
        {
            if (other == this)
            {
                continue;
            }
            const int32_t v = other->m_owner[dir][r];
            if (v < 0)
            {
                continue;
            }
            if (dir == DL && other->m_muSlot)
            {
                interf += other->MuInterferencePsd(r, u, m_channel->GetUeBeam(u));
            }
            else if (dir == DL)
            {
                const double p = other->m_channel->GetGnbTxPowerW(other->m_cell) /
                                 (other->m_nPrb * rbHz);
                interf += p * m_channel->GetBeamGain(other->m_cell, v, u)[m_rbgSb[r]];
            }
            else
            {
                // the interfering UE's PUSCH PSD in its own cell this slot
                const int32_t k = other->m_ownerLocal[dir][r];
                const double p = other->m_ues[k].link[UL].txPsd;
                interf += p * m_channel->GetBeamGain(m_cell, u, v)[m_rbgSb[r]];
            }
        }
        out[k] /= (noise + interf);
        if (inr)
        {
            (*inr)[k] = noise + interf;
        }
    }
}

void
NrCellMac::ProcessFeedback(uint64_t n, Direction dir)
{
    for (uint32_t i = 0; i < m_ues.size(); ++i)
    {
        Link& l = m_ues[i].link[dir];
        for (auto& h : l.harq)
        {
            if (!h.busy || !h.awaiting || h.readySlot > n)
            {
                continue;
            }
            h.awaiting = false;
            if (h.decoded)
            {
                h.busy = false;
            }
            else if (h.tx >= m_maxTx)
            {
                ++l.stats.tbLost;
                h.busy = false;
                if (h.b > h.a)
                {
                    Flow(i, dir).Lost(
                        h.a, h.b, MakeCallback(&NrCellMac::PassUp, this).Bind(i, uint32_t(dir)));
                }
            }
            else
            {
                h.needRetx = true;
            }
        }
    }
}

void
NrCellMac::Schedule(uint64_t n)
{
    ++m_slots;
    while (!m_extPending.empty() && n >= m_extPending.front().from)
    {
        m_ext = m_extPending.front(); // from this slot on (given back if its group is empty)
        m_extPending.erase(m_extPending.begin());
    }
    m_muSlot = IsMuDl();
    m_muN = n;
    if (!m_muSlot && !m_mu.empty() && !m_mu[m_rbgFirst].w.Data().empty())
    {
        ResetMu(); // back on the single-layer path: no stale groups
    }
    ProcessSr(n);
    for (uint32_t d = 0; d < 2; ++d)
    {
        const auto dir = static_cast<Direction>(d);
        std::fill(m_owner[d].begin(), m_owner[d].end(), -1);
        std::fill(m_ownerLocal[d].begin(), m_ownerLocal[d].end(), -1);
        for (auto& u : m_ues)
        {
            u.link[d].rbgs.clear();
            u.link[d].proc = -1;
            u.link[d].slotBytes = 0;
        }
        uint32_t nSymb = SymbolsIn(n, dir);
        if (nSymb > 0 && 12 * nSymb <= m_dmrsRe + OverheadRe(dir, nSymb))
        {
            nSymb = 0; // no RE left for data
        }
        m_activeSymb[d] = nSymb;
        ProcessFeedback(n, dir);
        if (nSymb > 0 && !m_ues.empty())
        {
            for (uint32_t i = 0; i < m_ues.size(); ++i)
            {
                NoteCsi(i, dir, n);
            }
            if (dir == DL && m_muSlot)
            {
                ScheduleMu(n, nSymb);
            }
            else
            {
                ScheduleDir(n, dir, nSymb);
            }
        }
    }
    ++m_rrStart;
    m_nextSlot = n + 1;
    m_nextSlotTime = Simulator::Now() + m_slot;
}

void
NrCellMac::ScheduleDir(uint64_t n, Direction dir, uint32_t nSymb)
{
    Allocation a{dir, nSymb, m_rbgFirst, m_rbgEnd - m_rbgFirst};
    AllocateRetransmissions(a);
    if (dir == UL)
    {
        AllocateSrGrants(a, n);
    }
    AllocateNewDataShares(a);
    AllocateByScheduler(a);
    FormTransportBlocks(a);
    if (dir == UL)
    {
        for (uint32_t i = 0; i < m_ues.size(); ++i)
        {
            Link& l = m_ues[i].link[UL];
            l.txPsd = 0;
            if (l.proc >= 0)
            {
                SetUlPower(i, AllocatedPrbs(l.rbgs)); // closes its TPC occasion
            }
        }
    }
}

void
NrCellMac::TakeRbgs(Allocation& a, uint32_t i, uint32_t k)
{
    auto& owner = m_owner[a.dir];
    Link& l = m_ues[i].link[a.dir];
    while (k > 0 && a.nextFree < m_rbgEnd)
    {
        if (owner[a.nextFree] < 0)
        {
            owner[a.nextFree] = m_ues[i].id;
            m_ownerLocal[a.dir][a.nextFree] = i;
            l.rbgs.push_back(a.nextFree);
            --k;
            --a.freeLeft;
        }
        ++a.nextFree;
    }
}

int32_t
NrCellMac::OldestNack(const Link& l)
{
    int32_t best = -1;
    for (uint32_t p = 0; p < l.harq.size(); ++p)
    {
        const Harq& h = l.harq[p];
        if (h.busy && h.needRetx && (best < 0 || h.readySlot < l.harq[best].readySlot))
        {
            best = p;
        }
    }
    return best;
}

void
NrCellMac::AllocateRetransmissions(Allocation& a)
{
    const uint32_t nUe = m_ues.size();
    for (uint32_t k = 0; k < nUe && a.freeLeft > 0; ++k)
    {
        const uint32_t i = (k + m_rrStart) % nUe;
        Link& l = m_ues[i].link[a.dir];
        const int32_t best = OldestNack(l);
        if (best < 0 || l.harq[best].nRbg > a.freeLeft)
        {
            continue;
        }
        l.harq[best].needRetx = false;
        l.proc = best;
        TakeRbgs(a, i, l.harq[best].nRbg);
    }
}

double
NrCellMac::NewDataNeed(uint32_t i, Direction dir, uint32_t nSymb)
{
    const Link& l = m_ues[i].link[dir];
    if (l.proc >= 0 || l.csiCount == 0 || (m_srs && !l.srsReady))
    {
        return 0;
    }
    bool freeProc = false;
    for (const auto& h : l.harq)
    {
        if (!h.busy)
        {
            freeProc = true;
            break;
        }
    }
    const uint64_t backlog = freeProc ? Backlog(i, dir) : 0;
    if (backlog == 0)
    {
        return 0;
    }
    double need = backlog >= kFullBuffer ? 1e18 : std::ceil(backlog / BytesPerRbg(i, dir, nSymb));
    if (dir == UL)
    {
        need = std::min(need, UlRbgCap(i));
    }
    return need;
}

void
NrCellMac::AllocateNewDataShares(Allocation& a)
{
    m_cand.clear();
    m_candNeed.clear();
    const uint32_t nUe = m_ues.size();
    const double nUsable = m_rbgEnd - m_rbgFirst;
    for (uint32_t k = 0; k < nUe; ++k)
    {
        const uint32_t i = (k + m_rrStart) % nUe; // no UE is always served last
        double need = NewDataNeed(i, a.dir, a.nSymb);
        if (need <= 0)
        {
            continue; // no backlog: a share it does not use stays free for the others
        }
        Ue& u = m_ues[i];
        Link& l = u.link[a.dir];
        if (!m_pf)
        {
            // weighted round robin: a UE that was idle rejoins at the virtual time of the
            // others, so it does not catch up on what it did not ask for
            l.served = std::max(l.served, m_vtime[a.dir]);
        }
        if (u.share > 0)
        {
            // the guaranteed minimum; credit left over (RBGs taken by retransmissions,
            // rounding) carries over for at most one slot's worth of RBGs
            l.credit = std::min(l.credit + u.share * nUsable, u.share * nUsable + nUsable);
            const auto n = static_cast<uint32_t>(
                std::min({std::floor(l.credit + 1e-9), need, double(a.freeLeft)}));
            if (n > 0)
            {
                const size_t before = l.rbgs.size();
                TakeRbgs(a, i, n);
                const auto got = static_cast<uint32_t>(l.rbgs.size() - before);
                l.credit -= got;
                need -= got;
                for (size_t q = before; q < l.rbgs.size(); ++q)
                {
                    l.served += m_rbgPrbs[l.rbgs[q]] / u.weight; // RR counts what it got
                }
            }
        }
        if (need >= 1)
        {
            m_cand.push_back(i); // competes for the RBGs the shares leave (work-conserving)
            m_candNeed.push_back(need);
        }
    }
}

double
NrCellMac::SchedulerMetric(size_t c, uint32_t r, Direction dir) const
{
    const Ue& u = m_ues[m_cand[c]];
    const Link& l = u.link[dir];
    if (m_pf)
    {
        const auto& rep = Reported(m_cand[c], dir);
        const double rate = std::min(m_maxSe, std::log2(1.0 + rep[r]));
        return u.weight * rate / std::max(l.pfAvg, 1e-9);
    }
    return -(l.served + m_rbgPrbs[r] / u.weight);
}

void
NrCellMac::AllocateByScheduler(Allocation& a)
{
    if (m_cand.empty() || a.freeLeft == 0)
    {
        return;
    }
    const size_t nc = m_cand.size();
    for (uint32_t r = m_rbgFirst; r < m_rbgEnd; ++r)
    {
        if (m_owner[a.dir][r] >= 0)
        {
            continue;
        }
        int32_t best = -1;
        double bestMetric = 0;
        for (size_t c0 = 0; c0 < nc; ++c0)
        {
            const size_t c = (c0 + m_rrStart) % nc;
            if (m_candNeed[c] < 1)
            {
                continue;
            }
            const double metric = SchedulerMetric(c, r, a.dir);
            if (best < 0 || metric > bestMetric)
            {
                best = static_cast<int32_t>(c);
                bestMetric = metric;
            }
        }
        if (best < 0)
        {
            break;
        }
        const uint32_t i = m_cand[best];
        Link& l = m_ues[i].link[a.dir];
        m_owner[a.dir][r] = m_ues[i].id;
        m_ownerLocal[a.dir][r] = i;
        l.rbgs.push_back(r);
        l.served += m_rbgPrbs[r] / m_ues[i].weight;
        m_candNeed[best] -= 1;
    }
    if (!m_pf)
    {
        double v = std::numeric_limits<double>::infinity();
        for (size_t c = 0; c < nc; ++c)
        {
            v = std::min(v, m_ues[m_cand[c]].link[a.dir].served);
        }
        m_vtime[a.dir] = v;
    }
}

const NrBlerModel::McsChoice&
NrCellMac::AdaptLink(uint32_t i, Direction dir, uint32_t nSymb, uint32_t nPrb)
{
    Link& l = m_ues[i].link[dir];
    const auto& rep = Reported(i, dir);
    // UL: the report is measured at the PSD of a full-carrier PUSCH; the allocation's PSD
    // differs (P_CMAX concentrated on fewer PRBs; with power control, the same PSD until
    // P_CMAX caps it)
    const double concentration = dir == UL ? UlPsd(i, nPrb) / CarrierPsd(i, UL) : 1.0;
    const double olla = std::pow(10.0, -l.ollaDb / 10.0) * concentration;
    m_scratch.resize(l.rbgs.size());
    for (size_t k = 0; k < l.rbgs.size(); ++k)
    {
        m_scratch[k] = rep[l.rbgs[k]] * olla;
    }
    return SelectCached(i, dir, nSymb, nPrb, 1);
}

const NrBlerModel::McsChoice&
NrCellMac::SelectCached(uint32_t i, Direction dir, uint32_t nSymb, uint32_t nPrb,
                        uint32_t layers)
{
    Link& l = m_ues[i].link[dir];
    if (!(l.laNPrb == nPrb && l.laNSymb == nSymb && l.laLayers == layers &&
          l.laSinr == m_scratch))
    {
        const NrBlerModel::Channel phy = dir == DL ? NrBlerModel::PDSCH : NrBlerModel::PUSCH;
        l.laChoice = m_bler->SelectMcs(phy, m_table, m_scratch, nPrb, nSymb, m_dmrsRe,
                                       OverheadRe(dir, nSymb), layers, m_targetBler);
        l.laSinr = m_scratch;
        l.laNPrb = nPrb;
        l.laNSymb = nSymb;
        l.laLayers = layers;
    }
    return l.laChoice;
}

void
NrCellMac::ReleaseRbgs(uint32_t i, Direction dir)
{
    Link& l = m_ues[i].link[dir];
    for (uint32_t r : l.rbgs)
    {
        m_owner[dir][r] = -1;
        m_ownerLocal[dir][r] = -1;
    }
    l.rbgs.clear();
}

void
NrCellMac::FormTb(uint32_t i, Direction dir, const NrBlerModel::McsChoice& choice, uint32_t nPrb)
{
    Link& l = m_ues[i].link[dir];
    int32_t p = -1;
    for (uint32_t q = 0; q < l.harq.size(); ++q)
    {
        if (!l.harq[q].busy)
        {
            p = q;
            break;
        }
    }
    Harq& h = l.harq[p];
    h = Harq();
    h.busy = true;
    h.mcs = choice.mcs;
    h.tbsBits = choice.tbs.tbs;
    h.nPrb = nPrb;
    h.nRbg = l.rbgs.size();
    h.cbSize = choice.tbs.codeBlockSize;
    h.nCb = std::max(1u, choice.tbs.numCodeBlocks);
    h.layers = dir == DL && m_muSlot ? l.muLayers : 1;
    const uint64_t cap = h.tbsBits / 8;
    if ((dir == DL && m_fullBufferDl) || (dir == UL && m_fullBufferUl))
    {
        h.payload = cap;
    }
    else
    {
        const uint64_t ce = dir == UL ? UlMacCeBytes() : 0;
        auto range = Flow(i, dir).Segment(cap > ce ? cap - ce : 0, m_l2Headers);
        h.a = range.first;
        h.b = range.second;
        h.payload = h.b - h.a;
        if (dir == UL && m_srBsr)
        {
            BuildBsr(i, h, cap);
        }
    }
    l.proc = p;
    l.slotBytes = h.payload;
}

void
NrCellMac::FormTransportBlocks(const Allocation& a)
{
    for (uint32_t i = 0; i < m_ues.size(); ++i)
    {
        const Link& l = m_ues[i].link[a.dir];
        if (l.proc >= 0 || l.rbgs.empty())
        {
            continue;
        }
        const auto nPrb = static_cast<uint32_t>(AllocatedPrbs(l.rbgs));
        const auto& choice = AdaptLink(i, a.dir, a.nSymb, nPrb);
        if (choice.mcs < 0)
        {
            ReleaseRbgs(i, a.dir);
            continue;
        }
        FormTb(i, a.dir, choice, nPrb);
    }
}

void
NrCellMac::Transmit(uint64_t n)
{
    if (m_srs)
    {
        Sound(n);
    }
    CsiRsMeasure(n);
    for (uint32_t d = 0; d < 2; ++d)
    {
        const auto dir = static_cast<Direction>(d);
        if (m_activeSymb[d] == 0)
        {
            continue;
        }
        const NrBlerModel::Channel phy = dir == DL ? NrBlerModel::PDSCH : NrBlerModel::PUSCH;
        const bool fullBuffer = dir == DL ? m_fullBufferDl : m_fullBufferUl;
        if (dir == DL && m_muSlot)
        {
            MuTrueSinr();
        }
        for (uint32_t i = 0; i < m_ues.size(); ++i)
        {
            Ue& u = m_ues[i];
            Link& l = u.link[d];
            // CSI measurement under this slot's interference
            {
                const uint64_t at = l.csiCount % l.csiRing.size();
                auto& slot = l.csiRing[at];
                ComputeSinr(i, dir, nullptr, slot, l.inrRing.empty() ? nullptr : &l.inrRing[at]);
                l.csiSlot[at] = n;
                const bool mu = m_maxLayers > 1 || m_ext.set || !m_extPending.empty();
                if (dir == DL && !m_srs && mu)
                {
                    RecordCsiChannel(i, at);
                }
                ++l.csiCount;
                double mean = 0;
                for (uint32_t r = m_rbgFirst; r < m_rbgEnd; ++r)
                {
                    mean += slot[r];
                }
                mean /= (m_rbgEnd - m_rbgFirst);
                l.stats.widebandSinrDb = 10.0 * std::log10(std::max(mean, 1e-30));
            }
            if (m_pf)
            {
                l.pfAvg += (l.slotBytes - l.pfAvg) / m_pfWindow;
            }
            if (l.proc < 0)
            {
                continue;
            }
            Harq& h = l.harq[l.proc];
            if (dir == DL && m_muSlot)
            {
                GatherMuSinr(i, m_scratch, false);
                CountMu(i, l.stats);
            }
            else
            {
                ComputeSinr(i, dir, &l.rbgs, m_scratch);
                l.stats.sumLayers += 1;
                l.stats.sumCoUes += 1;
            }
            const double beta = m_bler->GetEesmBeta(m_table, h.mcs);
            const double eff = NrBlerModel::Eesm(m_scratch.data(), m_scratch.size(), beta);
            h.combSinr += eff;
            ++h.tx;
            const double sinrDb = 10.0 * std::log10(std::max(h.combSinr, 1e-30));
            const double tbler = m_bler->GetTbler(phy, m_table, h.mcs, h.cbSize, h.nCb, sinrDb);
            const bool ok = m_uniform->GetValue() >= tbler;
            h.decoded = ok;
            h.awaiting = true;
            if (dir == DL && m_harqTiming)
            {
                // the ACK/NACK on PUCCH in its slot, acted on from the next slot
                h.ackSlot = DlAckSlot(n);
                h.readySlot = h.ackSlot + 1;
            }
            else
            {
                h.readySlot = n + m_k1;
                h.ackSlot = h.readySlot;
            }
            if (dir == UL)
            {
                SendTpc(i, 10.0 * std::log10(std::max(eff, 1e-30)));
                if (ok && m_srBsr)
                {
                    ReceiveBsr(i, h);
                }
            }
            CountTb(i, dir, n, fullBuffer, sinrDb, ok);
        }
    }
}

void
NrCellMac::CountTb(uint32_t i, Direction dir, uint64_t n, bool fullBuffer, double sinrDb, bool ok)
{
    // a transmitted TB's counters, OLLA step, delivery and trace (the HARQ process of link l)
    const uint32_t d = dir;
    Ue& u = m_ues[i];
    Link& l = u.link[d];
    Harq& h = l.harq[l.proc];
    NrMacStats& s = l.stats;
    ++s.tbTx;
    s.sumRbg += l.rbgs.size();
    if (!ok)
    {
        ++s.tbErr;
    }
    if (h.tx == 1)
    {
        ++s.tbFirst;
        s.sumMcs += h.mcs;
        s.sumSinrEffDb += sinrDb;
        s.lastMcs = h.mcs;
        s.lastSinrEffDb = sinrDb;
        if (!ok)
        {
            ++s.tbFirstErr;
        }
        if (m_olla)
        {
            l.ollaDb += ok ? -m_ollaStepDb * m_targetBler / (1.0 - m_targetBler)
                           : m_ollaStepDb;
            l.ollaDb = std::clamp(l.ollaDb, -20.0, 30.0);
        }
    }
    else
    {
        ++s.retx;
    }
    if (ok)
    {
        s.bytes += h.payload;
        if (!fullBuffer && h.b > h.a)
        {
            Simulator::Schedule(m_slot, &NrCellMac::Deliver, this, i, d, h.a, h.b);
        }
    }
    if (!m_tbTrace.IsEmpty())
    {
        NrTbTraceParams t;
        t.timeS = Simulator::Now().GetSeconds();
        t.cell = m_cell;
        t.ue = u.id;
        t.dir = d;
        t.mcs = h.mcs;
        t.tbsBits = h.tbsBits;
        t.nPrb = 0;
        for (uint32_t r : l.rbgs)
        {
            t.nPrb += m_rbgPrbs[r];
        }
        t.sinrEffDb = sinrDb;
        t.success = ok;
        t.harqRound = h.tx;
        t.slot = n;
        t.ackSlot = h.ackSlot;
        t.harqId = l.proc;
        t.txPowerDbm = dir == UL ? l.txPowerDbm
                                 : 10.0 * std::log10(m_channel->GetGnbTxPowerW(m_cell)) +
                                       30.0;
        m_tbTrace(t);
    }
}

void
NrCellMac::Deliver(uint32_t i, uint32_t dir, uint64_t a, uint64_t b)
{
    Flow(i, static_cast<Direction>(dir))
        .Arrived(a, b, MakeCallback(&NrCellMac::PassUp, this).Bind(i, dir));
}

void
NrCellMac::PassUp(uint32_t i, uint32_t dir, Ptr<Packet> p, uint16_t protocol)
{
    if (dir == DL)
    {
        m_ues[i].dev->Receive(p, protocol, m_gnbDev->GetAddress());
    }
    else
    {
        m_gnbDev->Receive(p, protocol, m_ues[i].dev->GetAddress());
    }
}

} // namespace ns3
