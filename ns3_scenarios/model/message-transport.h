/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * MessageTransport: carries application messages of any size (activations, gradients, adapters)
 * between nodes of an EdgeNetwork over ns-3 TCP or UDP, and reports each message's delivery.
 */
#ifndef MESSAGE_TRANSPORT_H
#define MESSAGE_TRANSPORT_H

#include "edge-network.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/socket.h"
#include "ns3/traced-callback.h"

#include <deque>
#include <map>
#include <memory>
#include <unordered_map>

namespace ns3
{

/**
 * \ingroup edgelam
 * What happened to one application message. Times in seconds of simulated time.
 */
struct MessageRecord
{
    uint64_t id{0};          //!< message id, unique in the transport
    uint32_t src{0};         //!< source node index
    uint32_t dst{0};         //!< destination node index
    uint64_t bytes{0};       //!< application bytes (without framing)
    bool udp{false};         //!< carried over UDP (else TCP)
    double tSend{0};         //!< when the application handed it to the transport, s
    double tFirstByte{-1};   //!< when its first byte reached the destination, s
    double tDelivered{-1};   //!< when its last byte reached the destination, s
};

/**
 * \ingroup edgelam
 * Message transport over an EdgeNetwork.
 *
 * TCP: one persistent connection per ordered node pair, opened on the first message; messages
 * are written back to back into the byte stream, each preceded by a frame header of
 * FrameHeaderBytes (id and length, as a length-prefixed RPC framing would). The receiver knows
 * message boundaries by byte offset in the stream, so a message is delivered when the stream
 * has been received in order up to its last byte. Many messages may be queued on one
 * connection; they leave in the order sent (head-of-line blocking, as on one TCP connection).
 *
 * UDP: a message is cut into datagrams of at most UdpPayloadBytes; it is delivered when all
 * its datagrams have arrived, and never if one is lost (no retransmission).
 */
class MessageTransport : public Object
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();

    MessageTransport();
    ~MessageTransport() override;

    /**
     * TracedCallback signature for message delivery.
     * \param [in] record the delivered message
     */
    typedef void (*DeliveredTracedCallback)(const MessageRecord& record);

    /**
     * Attach to a finalized network.
     * \param net the network
     */
    void SetNetwork(Ptr<EdgeNetwork> net);

    /**
     * Send a message now.
     * \param src source node index
     * \param dst destination node index
     * \param bytes application bytes (at least 1)
     * \param udp carry over UDP instead of TCP
     * \return the message id
     */
    uint64_t Send(uint32_t src, uint32_t dst, uint64_t bytes, bool udp);

    /** \return the number of messages sent but not yet delivered */
    uint64_t GetNInFlight() const;

  protected:
    void DoDispose() override;

  private:
    /** A message on a TCP connection, as bookkept by both ends. */
    struct StreamMessage
    {
        MessageRecord record; //!< the record
        uint64_t start;       //!< stream offset of its first byte (frame header included)
        uint64_t end;         //!< stream offset one past its last byte
    };

    /** One persistent TCP connection src -> dst. */
    struct Flow
    {
        uint32_t src;                     //!< source node
        uint32_t dst;                     //!< destination node
        uint16_t port;                    //!< destination port
        Ptr<Socket> tx;                   //!< sender socket
        Ptr<Socket> listener;             //!< listening socket at dst
        Ptr<Socket> rx;                   //!< accepted socket at dst
        bool connected{false};            //!< handshake done
        uint64_t written{0};              //!< stream bytes handed to the sender socket
        uint64_t enqueued{0};             //!< stream bytes of all messages sent so far
        uint64_t received{0};             //!< stream bytes received in order at dst
        std::deque<StreamMessage> queue;  //!< messages not yet fully delivered, in stream order
    };

    /** One message in transit over UDP. */
    struct Datagrams
    {
        MessageRecord record; //!< the record
        uint32_t expected;    //!< number of datagrams
        uint32_t received;    //!< datagrams received so far
    };

    Flow* GetFlow(uint32_t src, uint32_t dst);
    void FillTx(Flow* flow);
    void Connect(Flow* flow);
    void ConnectionSucceeded(Flow* flow, Ptr<Socket> s);
    void ConnectionFailed(Flow* flow, Ptr<Socket> s);
    void TxSpace(Flow* flow, Ptr<Socket> s, uint32_t available);
    bool AcceptRequest(Ptr<Socket> s, const Address& from);
    void Accepted(Flow* flow, Ptr<Socket> s, const Address& from);
    void TcpReceive(Flow* flow, Ptr<Socket> s);
    Ptr<Socket> UdpSocketAt(uint32_t node);
    void UdpReceive(Ptr<Socket> s);

    Ptr<EdgeNetwork> m_net;                                       //!< the network
    uint32_t m_segmentSize;                                       //!< TCP MSS, bytes
    uint32_t m_sndBuf;                                            //!< TCP send buffer, bytes
    uint32_t m_rcvBuf;                                            //!< TCP receive buffer, bytes
    uint32_t m_frameHeader;                                       //!< framing per message, bytes
    uint32_t m_udpPayload;                                        //!< UDP payload per datagram
    uint16_t m_basePort;                                          //!< first TCP port used
    uint16_t m_udpPort;                                           //!< UDP port
    Time m_reconnectDelay;                                        //!< retry after a failed handshake
    uint64_t m_nextId;                                            //!< next message id
    uint64_t m_inFlight;                                          //!< sent, not delivered
    std::map<std::pair<uint32_t, uint32_t>, std::unique_ptr<Flow>> m_flows; //!< TCP flows
    std::map<uint32_t, Ptr<Socket>> m_udpSockets;                 //!< UDP socket per node
    std::unordered_map<uint64_t, Datagrams> m_udpInTransit;       //!< UDP messages in transit
    TracedCallback<const MessageRecord&> m_deliveredTrace;        //!< delivery trace
};

} // namespace ns3

#endif // MESSAGE_TRANSPORT_H
