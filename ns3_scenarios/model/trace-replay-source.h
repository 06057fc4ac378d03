/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef TRACE_REPLAY_SOURCE_H
#define TRACE_REPLAY_SOURCE_H

#include "ns3/address.h"
#include "ns3/application.h"
#include "ns3/event-id.h"
#include "ns3/socket.h"

#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * Replays a traffic trace: at each listed instant, sends the listed number of bytes as UDP
 * datagrams of at most PacketSize bytes to a remote address. Used for background (cross)
 * traffic on backhaul links from measured byte counts.
 */
class TraceReplaySource : public Application
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();

    TraceReplaySource();
    ~TraceReplaySource() override;

    /**
     * Set the trace.
     * \param times send instants, seconds after the application starts, non-decreasing
     * \param bytes bytes to send at each instant
     */
    void SetTrace(const std::vector<double>& times, const std::vector<double>& bytes);

    /** \param remote where to send */
    void SetRemote(const Address& remote);

  protected:
    void DoDispose() override;

  private:
    void StartApplication() override;
    void StopApplication() override;
    void SendNext();

    Ptr<Socket> m_socket;        //!< UDP socket
    Address m_remote;            //!< destination
    uint32_t m_packetSize;       //!< max datagram payload, bytes
    std::vector<double> m_times; //!< send instants, s
    std::vector<double> m_bytes; //!< bytes per instant
    size_t m_next;               //!< next trace entry
    EventId m_event;             //!< next send
};

} // namespace ns3

#endif // TRACE_REPLAY_SOURCE_H
