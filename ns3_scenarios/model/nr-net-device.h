/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * NrNetDevice: the NetDevice of a gNB or a UE on the NR radio, so that IPv4/TCP/UDP run over it.
 */
#ifndef NR_NET_DEVICE_H
#define NR_NET_DEVICE_H

#include "nr-rlc-flow.h"

#include "ns3/channel.h"
#include "ns3/ipv4-address.h"
#include "ns3/mac48-address.h"
#include "ns3/net-device.h"
#include "ns3/traced-callback.h"

#include <map>
#include <vector>

namespace ns3
{

class NrNetDevice;

/**
 * \ingroup edgelam
 * The devices of one cell (its gNB first, then its UEs), as an ns-3 Channel, so that code
 * that walks channels (e.g. global routing) sees the cell as one broadcast link.
 */
class NrCellChannel : public Channel
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();
    /** \param d a device of the cell */
    void Add(Ptr<NetDevice> d);
    std::size_t GetNDevices() const override;
    Ptr<NetDevice> GetDevice(std::size_t i) const override;

  protected:
    void DoDispose() override;

  private:
    std::vector<Ptr<NetDevice>> m_devices; //!< gNB, then UEs
};

/**
 * \ingroup edgelam
 * A gNB's or a UE's radio NetDevice. It holds the transmit queues; the cell's NrCellMac pulls
 * bytes from them slot by slot and hands decoded SDUs to the peer device (Receive()).
 *
 * - gNB role: one downlink flow per attached UE. A packet goes to the UE whose MAC address is
 *   the destination, or, for IPv4 sent to the broadcast address (this device needs no ARP, so
 *   IPv4 sends every packet to GetBroadcast()), to the UE that owns the destination IPv4
 *   address (SetUeIpv4()). Broadcast/multicast IPv4 and packets for unknown UEs are dropped
 *   (MacTxDrop).
 * - UE role: one uplink flow toward the serving gNB; every packet goes there.
 *
 * Addressing: Mac48Address; NeedsArp() false; IsBroadcast() true (the cell is a broadcast
 * link for routing); IsPointToPoint() false; no SendFrom.
 */
class NrNetDevice : public NetDevice
{
  public:
    /** Role of the device. */
    enum Role
    {
        GNB, //!< base station
        UE,  //!< user equipment
    };

    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();
    NrNetDevice();
    ~NrNetDevice() override;

    /** \param role GNB or UE (before use) */
    void SetRole(Role role);
    /** \return the role */
    Role GetRole() const;

    /**
     * gNB role: attach a UE device (sets the UE's serving gNB too).
     * \param ue the UE's device
     * \return the UE's index in this cell
     */
    uint32_t AttachUe(Ptr<NrNetDevice> ue);
    /** \return number of attached UEs (gNB role) */
    uint32_t GetNUes() const;
    /** \param i UE index in the cell \return its device */
    Ptr<NrNetDevice> GetUeDevice(uint32_t i) const;
    /**
     * gNB role: route IPv4 destination addr to UE i of the cell.
     * \param i UE index in the cell
     * \param addr the UE's IPv4 address
     */
    void SetUeIpv4(uint32_t i, Ipv4Address addr);
    /** \param i UE index in the cell \return its downlink flow */
    NrRlcFlow& GetDlFlow(uint32_t i);

    /** \return the serving gNB's device (UE role) */
    Ptr<NrNetDevice> GetGnbDevice() const;
    /** \return this UE's index in its cell (UE role) */
    uint32_t GetIndexInCell() const;
    /** \return the uplink flow (UE role) */
    NrRlcFlow& GetUlFlow();

    /** \return the transmit queue limit, bytes (0: none) */
    uint64_t GetQueueLimitBytes() const;

    /**
     * The MAC delivers a decoded SDU to this device.
     * \param p the packet
     * \param protocol its protocol number
     * \param from the transmitting device's address
     */
    void Receive(Ptr<Packet> p, uint16_t protocol, const Address& from);

    /** \return the cell channel of this device */
    Ptr<NrCellChannel> GetCellChannel() const;
    /** \param ch the cell channel (set by AttachUe on both ends) */
    void SetCellChannel(Ptr<NrCellChannel> ch);

    // NetDevice
    void SetIfIndex(const uint32_t index) override;
    uint32_t GetIfIndex() const override;
    Ptr<Channel> GetChannel() const override;
    void SetAddress(Address address) override;
    Address GetAddress() const override;
    bool SetMtu(const uint16_t mtu) override;
    uint16_t GetMtu() const override;
    bool IsLinkUp() const override;
    void AddLinkChangeCallback(Callback<void> callback) override;
    bool IsBroadcast() const override;
    Address GetBroadcast() const override;
    bool IsMulticast() const override;
    Address GetMulticast(Ipv4Address multicastGroup) const override;
    Address GetMulticast(Ipv6Address addr) const override;
    bool IsBridge() const override;
    bool IsPointToPoint() const override;
    bool Send(Ptr<Packet> packet, const Address& dest, uint16_t protocolNumber) override;
    bool SendFrom(Ptr<Packet> packet,
                  const Address& source,
                  const Address& dest,
                  uint16_t protocolNumber) override;
    Ptr<Node> GetNode() const override;
    void SetNode(Ptr<Node> node) override;
    bool NeedsArp() const override;
    void SetReceiveCallback(NetDevice::ReceiveCallback cb) override;
    void SetPromiscReceiveCallback(PromiscReceiveCallback cb) override;
    bool SupportsSendFrom() const override;

  protected:
    void DoDispose() override;

  private:
    Role m_role{UE};                          //!< role
    Ptr<Node> m_node;                         //!< node
    uint32_t m_ifIndex{0};                    //!< interface index
    Mac48Address m_address;                   //!< MAC address
    uint16_t m_mtu;                           //!< MTU, bytes
    uint64_t m_queueLimit;                    //!< transmit queue limit per flow, bytes
    Ptr<NrCellChannel> m_channel;             //!< the cell as a channel
    NetDevice::ReceiveCallback m_rxCallback;  //!< receive callback
    PromiscReceiveCallback m_promiscCallback; //!< promiscuous receive callback
    std::vector<Ptr<NrNetDevice>> m_ues;      //!< attached UEs (gNB role)
    std::vector<NrRlcFlow> m_dlFlows;         //!< DL flow per UE (gNB role)
    std::map<Ipv4Address, uint32_t> m_ipToUe; //!< IPv4 -> UE index (gNB role)
    Ptr<NrNetDevice> m_gnb;                   //!< serving gNB (UE role)
    uint32_t m_indexInCell{0};                //!< index in the cell (UE role)
    NrRlcFlow m_ulFlow;                       //!< UL flow (UE role)
    TracedCallback<Ptr<const Packet>> m_macTxTrace;     //!< packet queued
    TracedCallback<Ptr<const Packet>> m_macTxDropTrace; //!< packet refused
    TracedCallback<Ptr<const Packet>> m_macRxTrace;     //!< packet delivered up
};

} // namespace ns3

#endif // NR_NET_DEVICE_H
