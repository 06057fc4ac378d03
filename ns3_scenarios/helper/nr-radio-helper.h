/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * NrRadioHelper: builds and owns an NR-like radio network (gNBs, UEs, mobility, channel, cell
 * MACs, devices, IPv4) and runs its slot loop; per-UE link states for Python.
 */
#ifndef NR_RADIO_HELPER_H
#define NR_RADIO_HELPER_H

#include "ns3/ipv4-address.h"
#include "ns3/net-device-container.h"
#include "ns3/node-container.h"
#include "ns3/nr-bler-model.h"
#include "ns3/nr-cell-mac.h"
#include "ns3/hexagonal-wraparound.h"
#include "ns3/nr-channel.h"
#include "ns3/nr-mac-stats.h"
#include "ns3/nr-net-device.h"
#include "ns3/object-factory.h"
#include "ns3/random-variable-stream.h"
#include "ns3/traced-callback.h"

#include <string>
#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * Builds the radio part of an edge network and runs it. Usage:
 *  1. SetChannel() (ThreeGppNrChannel or FixedGainNrChannel), SetBlerModel(), attributes of
 *     this helper, SetMacAttribute() / SetDeviceAttribute() for the cells and devices;
 *  2. Install(gnbs, ues): the nodes may come from elsewhere (e.g. an EdgeNetwork that also
 *     links the gNB nodes to edge servers); nodes without a MobilityModel get one here
 *     (gNBs: hexagonal layout, site 0 at the origin, rings of InterSiteDistanceM, one or
 *     three cells per site (SectorsPerSite; bearings 30, 150, 270 deg), optionally wrapped
 *     around (Wraparound: 7 or 19 sites); UEs: at
 *     UePositions if given, else at UeDistanceM from their home gNB (UE u's home is gNB u mod
 *     n_gNB) at a uniform random azimuth in its sector, or, when UeDistanceM < 0, uniform over
 *     the disc of radius ISD/2 around it within the sector (3-sector sites: over the sector's
 *     hexagonal cell), at least MinUeDistanceM away (the scenario's TR
 *     38.901 minimum by default); Mobility static, constant-velocity (UeSpeedKmh, uniform random
 *     direction) or random-walk (RandomWalk2dMobilityModel, UeSpeedKmh, direction redrawn every
 *     second, bounded by the layout)). Every UE attaches to the gNB of largest transmit power
 *     plus coupling gain (NrChannel::GetCouplingGainDb: path gain with shadowing, antenna
 *     patterns and clusters; an RSRP), computed on the channel the MAC then uses (the
 *     shadowing of each pair is drawn once, see ThreeGppNrChannel); there is no handover;
 *  3. InstallIpv4(): IPv4 stack where missing, one /24 per cell from Ipv4Base (gNB .1), no
 *     queue disc (the devices' queues are the radio buffers), each UE's default route via its
 *     gNB; the gNB forwards between the radio and its other interfaces;
 *  4. Start(): the slot loop (one event per slot for all cells: Schedule on every cell, then
 *     Transmit on every cell), until the simulation stops.
 *
 * Link states: per UE, flat arrays that never change size after Install() (zero-copy for
 * Python), updated by RefreshLinkStates(): the values since the previous refresh.
 */
class NrRadioHelper : public Object
{
  public:
    /** Link-state fields, each an array over UEs. */
    enum Field : uint32_t
    {
        SERVING_CELL = 0,  //!< serving gNB index
        SINR_DB,           //!< wideband DL SINR of the last CSI measurement, dB
        MCS_DL,            //!< MCS of the last DL first transmission (-1: none yet)
        MCS_UL,            //!< MCS of the last UL first transmission (-1: none yet)
        BLER_DL,           //!< DL first-transmission BLER over the period (NaN: no TB)
        BLER_UL,           //!< UL first-transmission BLER over the period (NaN: no TB)
        DL_BYTES,          //!< DL payload bytes decoded in the period
        UL_BYTES,          //!< UL payload bytes decoded in the period
        DL_THROUGHPUT_BPS, //!< DL_BYTES * 8 / period, bit/s
        UL_THROUGHPUT_BPS, //!< UL_BYTES * 8 / period, bit/s
        DL_QUEUE_BYTES,    //!< DL bytes queued now
        UL_QUEUE_BYTES,    //!< UL bytes queued now
        HARQ_RETX,         //!< HARQ retransmissions (DL + UL) in the period
        DL_SINR_EFF_DB,    //!< effective SINR of the last DL first transmission, dB
        CSI_AGE_S,         //!< age of the DL CSI the last DL scheduling used, s (NaN: none)
        SINR_EST_DB,       //!< wideband DL SINR the gNB believed then (reported), dB
        SRS_SINR_DB,       //!< SINR of the SRS estimate in use, dB (NaN: CsiMode Ideal)
        DL_LAYERS,         //!< mean DL layers (rank) per transmission in the period (NaN: none)
        DL_CO_SCHEDULED,   //!< mean UEs on its DL RBGs, itself included, in the period
        PRECODER_GAIN_DB,  //!< mean DL precoder gain in the period, dB (NaN: single-layer path)
        DL_RI,             //!< CsiRs: the RI of the report in use; Srs: the rank from the
                           //!< estimate (rank adaptation, > 1 layer possible); else NaN
        DL_CQI,            //!< CsiRs: its wideband 4-bit CQI (NaN: none)
        DL_PMI,            //!< CsiRs: its PMI's index in the codebook of its rank (NaN: none)
        N_FIELDS           //!< number of fields
    };

    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();
    NrRadioHelper();
    ~NrRadioHelper() override;

    /** \param ch the channel (not yet configured; the helper configures it) */
    void SetChannel(Ptr<NrChannel> ch);
    /** \return the channel */
    Ptr<NrChannel> GetChannel() const;
    /** \param bler the BLER model (finalized) */
    void SetBlerModel(Ptr<NrBlerModel> bler);
    /**
     * \param name an NrCellMac attribute
     * \param value its value for all cells
     */
    void SetMacAttribute(const std::string& name, const AttributeValue& value);
    /**
     * \param name an NrNetDevice attribute
     * \param value its value for all devices
     */
    void SetDeviceAttribute(const std::string& name, const AttributeValue& value);

    /**
     * Create nodes for n gNBs and m UEs and install on them.
     * \param nGnbs gNBs
     * \param nUes UEs
     */
    void Create(uint32_t nGnbs, uint32_t nUes);
    /**
     * Install the radio on existing nodes.
     * \param gnbs gNB nodes
     * \param ues UE nodes
     */
    void Install(NodeContainer gnbs, NodeContainer ues);
    /**
     * IPv4 over the radio (after Install).
     * \param base network base, one /24 per cell (cell c: base + c * 256)
     */
    void InstallIpv4(Ipv4Address base = Ipv4Address("10.200.0.0"));
    /** Start the slot loop now. */
    void Start();

    /** \return gNB count */
    uint32_t GetNGnbs() const;
    /** \return UE count */
    uint32_t GetNUes() const;
    /** \param g gNB index \return its node */
    Ptr<Node> GetGnbNode(uint32_t g) const;
    /** \param u UE index \return its node */
    Ptr<Node> GetUeNode(uint32_t u) const;
    /** \param g gNB index \return its radio device */
    Ptr<NrNetDevice> GetGnbDevice(uint32_t g) const;
    /** \param u UE index \return its radio device */
    Ptr<NrNetDevice> GetUeDevice(uint32_t u) const;
    /** \param g gNB index \return its cell MAC */
    Ptr<NrCellMac> GetCellMac(uint32_t g) const;
    /** \param u UE index \return serving gNB index */
    uint32_t GetServingCell(uint32_t u) const;
    /** \param u UE index \return index in its cell */
    uint32_t GetIndexInCell(uint32_t u) const;
    /** \param u UE index \return its IPv4 address (after InstallIpv4) */
    Ipv4Address GetUeAddress(uint32_t u) const;
    /** \param g gNB index \return its radio interface's IPv4 address */
    Ipv4Address GetGnbAddress(uint32_t g) const;
    /** \param u UE index \param dir direction \return its MAC counters since the start */
    const NrMacStats& GetMacStats(uint32_t u, NrCellMac::Direction dir) const;
    /** Named per-UE columns, each a value per UE. */
    typedef std::vector<std::pair<std::string, std::vector<double>>> Columns;
    /**
     * The MAC statistics of every UE since the start, by name: serving_cell, then for d in
     * (dl, ul) each name n of NrMacStats::GetNamedValues() as "d_n" (e.g. dl_bler).
     * \return the columns
     */
    Columns GetMacStatsColumns() const;
    /** \return slots simulated */
    uint64_t GetNSlots() const;
    /** \return slot duration */
    Time GetSlotDuration() const;

    /** \param u UE \param w scheduler weight (> 0), from now on */
    void SetUeWeight(uint32_t u, double w);
    /**
     * \param u UE
     * \param share fraction of its cell's RBGs guaranteed to it while it has data, from now on
     *        (NrCellMac::SetUeShare: a minimum; 0 or negative: no reservation)
     */
    void SetUeShare(uint32_t u, double share);
    /** \return the minimum UE-gNB distance of dropped UEs in effect, m */
    double GetMinUeDistanceM() const;

    /**
     * The gNB's CSI of UE u as a beam policy uses it (NrBeamManager::SetCsiSource).
     * \param g gNB index \param u UE index
     * \return its SRS estimate in use, [rx][tx][sb], or null (g does not serve u, CsiMode
     *         Ideal, or no usable estimate yet)
     */
    const std::vector<NrChannel::Complex>* GetCsiMatrix(uint32_t g, uint32_t u);

    /** Update the link-state arrays: values since the previous refresh. */
    void RefreshLinkStates();
    /** \param f field \return its array over UEs (fixed size after Install) */
    std::vector<double>& GetLinkState(Field f);
    /** \param f field \return its name (e.g. "sinr_db") */
    static std::string GetFieldName(Field f);

    /// Streams reserved by AssignStreams(): layout, mobility, cells, random walks, channel.
    static constexpr int64_t kStreams = 100000;

    /**
     * Fix the random streams: layout and UE directions (call before Install() for them to
     * apply), cells' TB error draws, random walks, then the channel (from stream + 2 on).
     * \param stream first stream index
     * \return streams reserved (kStreams)
     */
    int64_t AssignStreams(int64_t stream);

    /** TracedCallback signature of TbTrace (as NrCellMac's). */
    typedef void (*TbTracedCallback)(const NrTbTraceParams& params);

  protected:
    void DoDispose() override;

  private:
    /** Place nodes without mobility, add them to the channel. */
    void PlaceAndAdd();
    /**
     * Place the gNBs without mobility on the hexagonal sites (SectorsPerSite per site), set
     * their bearings and the wrap-around; throws std::invalid_argument for a gNB count that
     * is not whole sites or a wrap-around of other than 7 or 19 sites.
     * \return the layout's extent from the origin, m (bounds of random walks)
     */
    double PlaceGnbs();
    /** \return a dropped position of UE u (UeDistanceM, sector, MinUeDistanceM) \param u UE */
    Vector DropUe(uint32_t u);
    /**
     * \param site the site, m \param bearing the sector's boresight, rad
     * \param rMin least distance from the site, m
     * \return a point uniform in the sector's hexagonal cell (circumradius ISD/3, centred ISD/3
     *         along the boresight), at least rMin from the site, at UE height
     */
    Vector DropInSectorHexagon(const Vector& site, double bearing, double rMin);
    /** \return the gNB of largest transmit power plus coupling gain for UE u \param u UE */
    uint32_t StrongestCell(uint32_t u);
    /**
     * \param text "x,y,z;x,y;..." (UePositions)
     * \param defaultZ z of the entries without one, m
     * \return the positions; throws std::invalid_argument naming a malformed entry
     */
    static std::vector<Vector> ParsePositions(const std::string& text, double defaultZ);
    /** Assign the streams of the cells, random walks and channel. */
    void AssignInstalledStreams();
    /** One slot of all cells. */
    void Slot();
    /** Forward a cell's TB trace. */
    void OnTb(const NrTbTraceParams& p);

    // attributes
    std::string m_scenario;   //!< TR 38.901 scenario
    double m_carrierHz;       //!< carrier, Hz
    double m_bandwidthHz;     //!< bandwidth, Hz
    uint32_t m_numerology;    //!< mu
    uint32_t m_nSubbands;     //!< subbands (0: one per RBG)
    double m_gnbTxPowerDbm;   //!< gNB power, dBm
    double m_ueTxPowerDbm;    //!< UE power, dBm
    double m_ueNoiseFigureDb; //!< UE noise figure, dB
    uint32_t m_gnbRows;       //!< gNB array rows
    uint32_t m_gnbCols;       //!< gNB array columns
    uint32_t m_ueRows;        //!< UE array rows
    uint32_t m_ueCols;        //!< UE array columns
    double m_gnbHeight;       //!< gNB height, m
    double m_ueHeight;        //!< UE height, m
    double m_isd;             //!< inter-site distance, m
    double m_ueDistance;      //!< UE distance, m (negative: dropped)
    double m_minUeDistance;   //!< minimum UE distance (dropped), m (negative: scenario's)
    std::string m_uePositions; //!< explicit UE positions ("x,y,z;...")
    double m_sectorWidthDeg;  //!< sector in which UEs are dropped, degrees
    uint32_t m_sectorsPerSite; //!< cells per site (1 or 3)
    bool m_wraparound;        //!< wrap the hexagonal layout around
    std::string m_mobility;   //!< static, constant-velocity, random-walk
    double m_ueSpeedKmh;      //!< UE speed, km/h

    Ptr<NrChannel> m_channel;                  //!< channel
    Ptr<HexagonalWraparound> m_wrap;           //!< wrap-around (null: none)
    std::vector<double> m_bearings;            //!< panel bearing per gNB, rad
    Ptr<NrBlerModel> m_bler;                   //!< BLER model
    ObjectFactory m_macFactory;                //!< cells
    ObjectFactory m_devFactory;                //!< devices
    NodeContainer m_gnbs;                      //!< gNB nodes
    NodeContainer m_ues;                       //!< UE nodes
    std::vector<Ptr<NrNetDevice>> m_gnbDevs;   //!< gNB devices
    std::vector<Ptr<NrNetDevice>> m_ueDevs;    //!< UE devices
    std::vector<Ptr<NrCellMac>> m_cells;       //!< cells
    std::vector<uint32_t> m_serving;           //!< serving cell per UE
    std::vector<uint32_t> m_indexInCell;       //!< index in the cell per UE
    std::vector<Ipv4Address> m_ueAddr;         //!< UE addresses
    std::vector<Ipv4Address> m_gnbAddr;        //!< gNB radio addresses
    std::vector<std::vector<double>> m_state;  //!< link-state arrays
    std::vector<NrMacStats> m_prev[2];         //!< stats at the previous refresh
    Time m_lastRefresh;                        //!< time of the previous refresh
    Ptr<UniformRandomVariable> m_layoutRng;    //!< UE drops
    Ptr<UniformRandomVariable> m_mobilityRng;  //!< UE directions
    int64_t m_streamBase{-1};                  //!< AssignStreams() base (-1: none)
    uint64_t m_slot{0};                        //!< next slot number
    EventId m_slotEvent;                       //!< next slot event
    bool m_installed{false};                   //!< Install() ran
    TracedCallback<const NrTbTraceParams&> m_tbTrace; //!< all cells' TBs
};

} // namespace ns3

#endif // NR_RADIO_HELPER_H
