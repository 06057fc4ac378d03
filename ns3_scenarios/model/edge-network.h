/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * EdgeNetwork: the wired part of an edge-AI co-simulation (devices, gNB, edge servers, cloud
 * joined by point-to-point links), with IPv4 routing and per-link state counters.
 */
#ifndef EDGE_NETWORK_H
#define EDGE_NETWORK_H

#include "ns3/data-rate.h"
#include "ns3/ipv4-address.h"
#include "ns3/ipv4.h"
#include "ns3/net-device-container.h"
#include "ns3/node-container.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/point-to-point-net-device.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ns3
{

class NrRadioHelper;
class TraceRateLink;
class TraceCell;

/**
 * \ingroup edgelam
 * Builds and owns the nodes and point-to-point links of a co-simulated edge network.
 *
 * Each undirected link i gives two directed links: 2i (a to b) and 2i+1 (b to a). Link-state
 * counters are kept per directed link in flat vectors that never change size after Finalize(),
 * so that a binding may expose them as arrays without copying.
 */
class EdgeNetwork : public Object
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();

    EdgeNetwork();
    ~EdgeNetwork() override;

    /**
     * Add a node.
     * \param name the node's name (unique)
     * \return the node index
     */
    uint32_t AddNode(const std::string& name);

    /**
     * Add a full-duplex point-to-point link.
     * \param a first node index
     * \param b second node index
     * \param rate line rate of each direction
     * \param delay one-way propagation delay
     * \param queuePackets drop-tail transmit queue of each direction, in packets
     * \param mtuBytes the devices' MTU, bytes (IP packets above it are fragmented)
     * \return the undirected link index
     */
    uint32_t AddLink(uint32_t a,
                     uint32_t b,
                     DataRate rate,
                     Time delay,
                     uint32_t queuePackets,
                     uint16_t mtuBytes = 1500);

    /**
     * Attach the devices (UEs) to gNBs through a 6G radio instead of point-to-point links.
     * Finalize() installs it between the wired addressing and the global routes, so packets
     * route across the radio, and starts its slot loop.
     * \param radio the configured radio (channel, BLER model and attributes set)
     * \param gnbs node indices of the gNBs
     * \param ues node indices of the UEs
     */
    void SetRadio(Ptr<NrRadioHelper> radio, const std::vector<uint32_t>& gnbs,
                  const std::vector<uint32_t>& ues);
    /** \return the radio, or null */
    Ptr<NrRadioHelper> GetRadio() const;

    /**
     * Install the IPv4 stack, give every link its own /30 subnet, install the radio (if any)
     * and compute global routes. No queue disc is installed: a link's queue is its device's
     * drop-tail queue.
     */
    void Finalize();

    /** \return the number of nodes */
    uint32_t GetNNodes() const;
    /** \return the number of directed links (twice the number of links) */
    uint32_t GetNDirectedLinks() const;
    /**
     * \param i node index
     * \return the ns-3 node
     */
    Ptr<Node> GetNode(uint32_t i) const;
    /**
     * \param i node index
     * \return an IPv4 address of node i, reachable from every other node
     */
    Ipv4Address GetAddress(uint32_t i) const;
    /**
     * \param l directed link index
     * \return the transmitting device of directed link l
     */
    Ptr<PointToPointNetDevice> GetTxDevice(uint32_t l) const;

    /**
     * Change the line rate of a directed link from now on.
     * \param l directed link index
     * \param rate the new rate
     */
    void SetLinkRate(uint32_t l, DataRate rate);

    /**
     * Drive a directed link's rate (and optionally delay and loss) by a trace from Finalize()
     * on (radio.mode trace: one per UE and direction). The link's rate counter follows it.
     * \param l directed link index
     * \param trace the trace-driven hop (series and attributes set)
     */
    void SetLinkTrace(uint32_t l, Ptr<TraceRateLink> trace);
    /**
     * Scale a trace-driven link's capacity from now on.
     * \param l directed link index (one with a trace)
     * \param share fraction of the trace's rate, >= 0
     */
    void SetLinkShare(uint32_t l, double share);
    /**
     * Make trace-driven links share one carrier (TraceCell: work-conserving, their shares
     * become weights among the links with data); SetLinkShare then sets a link's weight.
     * \param links directed link indices, each with a trace and in no other carrier
     */
    void ShareLinkTraces(const std::vector<uint32_t>& links);
    /**
     * \param l directed link index
     * \return the link's trace-driven hop, or null
     */
    Ptr<TraceRateLink> GetLinkTrace(uint32_t l) const;

    /** Update the queue-length counters to the current instant. */
    void RefreshLinkStates();

    /** \return source node index of each directed link */
    const std::vector<uint32_t>& GetLinkSrc() const;
    /** \return destination node index of each directed link */
    const std::vector<uint32_t>& GetLinkDst() const;
    /** \return line rate of each directed link, in bit/s */
    std::vector<double>& GetRateBps();
    /** \return bytes waiting in each directed link's transmit queue, as of the last refresh */
    std::vector<double>& GetQueueBytes();
    /** \return bytes delivered (received by the far end, link-layer size) per directed link */
    std::vector<double>& GetDeliveredBytes();
    /** \return packets dropped by each directed link's transmit queue */
    std::vector<double>& GetDroppedPackets();

  protected:
    void DoDispose() override;

  private:
    void RxOnLink(uint32_t l, Ptr<const Packet> p);
    void DropOnLink(uint32_t l, Ptr<const Packet> p);
    /**
     * Ipv4L3Protocol "Tx" on a node, fired just before the packet goes to the traffic-control
     * layer. With the queue disc removed (see Finalize), ns-3 3.37's TrafficControlLayer drops
     * a packet whose device queue is stopped (full) without a trace, and the device never sees
     * it; so a packet sent while its link's device queue is stopped is counted as dropped here.
     */
    void TxOnNode(uint32_t node, Ptr<const Packet> p, Ptr<Ipv4> ipv4, uint32_t iface);
    void ConnectDropTraces();
    void RateOnLink(uint32_t l, double rateBps);

    NodeContainer m_nodes;                                //!< all nodes, by index
    std::vector<std::string> m_names;                     //!< node names
    std::vector<Ptr<PointToPointNetDevice>> m_txDevices;  //!< transmitting device per directed link
    std::vector<uint32_t> m_src;                          //!< source node per directed link
    std::vector<uint32_t> m_dst;                          //!< destination node per directed link
    std::vector<double> m_rateBps;                        //!< line rate per directed link
    std::vector<double> m_queueBytes;                     //!< queue bytes per directed link
    std::vector<double> m_deliveredBytes;                 //!< delivered bytes per directed link
    std::vector<double> m_droppedPackets;                 //!< queue drops per directed link
    std::map<std::pair<uint32_t, uint32_t>, uint32_t> m_ifaceLink; //!< (node, IPv4 iface) -> link
    std::vector<Ipv4Address> m_nodeAddress;               //!< one address per node
    std::vector<Ptr<TraceRateLink>> m_traces;             //!< trace per directed link, or null
    std::vector<Ptr<TraceCell>> m_cells;                  //!< carrier per directed link, or null
    Ptr<NrRadioHelper> m_radio;                           //!< the radio, if any
    std::vector<uint32_t> m_radioGnbs;                    //!< gNB node indices
    std::vector<uint32_t> m_radioUes;                     //!< UE node indices
    bool m_finalized;                                     //!< Finalize() done
};

} // namespace ns3

#endif // EDGE_NETWORK_H
