/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * NrRadioTestBed: a radio network (NrRadioHelper over an NrChannel) with full-buffer UDP or TCP
 * traffic per UE and its per-UE results; for tests, benchmarks and the Python bridge. The twin
 * of NrChannelTestBed one layer up.
 */
#ifndef NR_RADIO_TEST_BED_H
#define NR_RADIO_TEST_BED_H

#include "ns3/data-rate.h"
#include "ns3/fixed-gain-nr-channel.h"
#include "ns3/nr-bler-model.h"
#include "ns3/nr-radio-helper.h"
#include "ns3/packet-sink.h"
#include "ns3/packet.h"

#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * Usage: construct with a helper and a channel (attributes set, neither installed); add BLER
 * curves and EESM betas to GetBlerModel(); Build(); add traffic (AddUdp, AddTcp) and logs;
 * Start(); run the simulator; read GetResults(). Nodes live in ns-3's NodeList: create the
 * test bed while a simulation is alive and drop it before Simulator::Destroy.
 */
class NrRadioTestBed
{
  public:
    /**
     * \param helper the radio helper (attributes set)
     * \param channel the channel (attributes set, not configured)
     * \param nCells gNBs (>= 1)
     * \param nUes UEs
     * \param stream first random stream (NrRadioHelper::AssignStreams)
     */
    NrRadioTestBed(Ptr<NrRadioHelper> helper,
                   Ptr<NrChannel> channel,
                   uint32_t nCells,
                   uint32_t nUes,
                   int64_t stream);

    /** \return the BLER model: add curves and betas before Build() (it finalizes them) */
    Ptr<NrBlerModel> GetBlerModel() const;
    /** \return the channel as a FixedGainNrChannel; throws std::invalid_argument if it is not */
    Ptr<FixedGainNrChannel> GetFixedGainChannel() const;

    /**
     * Create the cells and UEs (NrRadioHelper::Create) with the channel and BLER model.
     * \param ipv4 also install IPv4 over the radio (needed for traffic)
     */
    void Build(bool ipv4);

    /**
     * UDP at a constant rate (CrossTrafficHelper on/off, always on) per UE from its gNB
     * (downlink, port 9000) or to it (uplink, port 9001 + UE index), a PacketSink at the far end.
     * \param downlink direction
     * \param rate bit rate per UE
     * \param packetSize UDP payload, bytes
     * \param start start instant
     * \param stop stop instant (not after start: never stops)
     */
    void AddUdp(bool downlink, DataRate rate, uint32_t packetSize, Time start, Time stop);
    /**
     * A TCP bulk transfer (CrossTrafficHelper::InstallBulkSend) per UE from its gNB (downlink)
     * or to it (uplink), port 9500 + UE index, a PacketSink at the far end.
     * \param downlink direction
     * \param start start instant
     * \param bufferBytes TCP send and receive buffers, bytes
     * \param segmentSize TCP segment size, bytes
     */
    void AddTcp(bool downlink, Time start, uint32_t bufferBytes, uint32_t segmentSize);

    /** Start the slot loop now. */
    void Start();

    /** Record every transport block from now on (GetTbLog). */
    void EnableTbLog();
    /** \return the transport blocks recorded */
    const std::vector<NrTbTraceParams>& GetTbLog() const;
    /** Record every packet passed up at a UE from now on (GetRxUes, GetRxUids). */
    void EnableRxLog();
    /** \return the UE of each packet passed up */
    const std::vector<int64_t>& GetRxUes() const;
    /** \return the uid of each packet passed up */
    const std::vector<int64_t>& GetRxUids() const;

    /**
     * Per-UE results now: NrRadioHelper::GetMacStatsColumns() and, per direction d (dl, ul),
     * d_mac_bps (MAC bytes over the time since Start()), d_olla_db, d_queue_bytes,
     * d_app_bytes (received by the UE's sink) and d_goodput_bps (over the time since the
     * latest traffic start).
     * \return the columns
     */
    NrRadioHelper::Columns GetResults() const;
    /** \return seconds since Start() (at least 1e-12) */
    double GetElapsedS() const;
    /** \return seconds since the latest traffic start, or Start() if later (at least 1e-12) */
    double GetAppElapsedS() const;

    /** \return whether Build() ran */
    bool IsBuilt() const;
    /** \return the radio helper */
    Ptr<NrRadioHelper> GetHelper() const;
    /** \return the channel */
    Ptr<NrChannel> GetChannel() const;

  private:
    /** The two ends of UE u's traffic in one direction. */
    struct Endpoints
    {
        Ptr<Node> src;   //!< source node
        Ptr<Node> dst;   //!< sink node
        Ipv4Address to;  //!< the sink's address
    };

    /** \return the ends of UE u's traffic \param u UE \param downlink direction */
    Endpoints GetEndpoints(uint32_t u, bool downlink) const;
    /** Throw std::logic_error unless Build() has (built) or has not (!built) run. */
    void RequireBuilt(bool built) const;
    /** TbTrace sink. */
    void OnTb(const NrTbTraceParams& p);
    /** MacRx sink of UE u. */
    void OnRx(uint32_t u, Ptr<const Packet> p);

    Ptr<NrRadioHelper> m_helper;             //!< the radio
    Ptr<NrChannel> m_channel;                //!< its channel
    Ptr<NrBlerModel> m_bler;                 //!< its BLER model
    uint32_t m_nCells;                       //!< gNBs
    uint32_t m_nUes;                         //!< UEs
    int64_t m_stream;                        //!< first random stream
    bool m_built{false};                     //!< Build() ran
    double m_start{0};                       //!< Start() instant, s
    double m_appStart{0};                    //!< latest traffic start, s
    std::vector<Ptr<PacketSink>> m_sinks[2]; //!< per direction, per UE
    std::vector<NrTbTraceParams> m_tb;       //!< TB log
    std::vector<int64_t> m_rxUe;             //!< rx log: UE
    std::vector<int64_t> m_rxUid;            //!< rx log: packet uid
};

} // namespace ns3

#endif // NR_RADIO_TEST_BED_H
