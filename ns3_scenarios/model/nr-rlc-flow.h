/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * NrRlcFlow: one direction of one UE's radio bearer: a byte-stream transmit queue that the MAC
 * cuts into transport blocks, and in-order reassembly at the receiver (RLC UM-like).
 */
#ifndef NR_RLC_FLOW_H
#define NR_RLC_FLOW_H

#include "ns3/callback.h"
#include "ns3/packet.h"

#include <cstdint>
#include <deque>
#include <utility>

namespace ns3
{

/**
 * \ingroup edgelam
 * The packets (SDUs) of a flow are laid end to end in a byte stream: SDU k occupies stream
 * bytes [start_k, end_k). The MAC takes the next untransmitted bytes for each new transport
 * block (Segment()), so a TB carries a contiguous byte range and an SDU may span several TBs
 * (segmentation; with headers, Segment() charges the PDCP/RLC/MAC header bytes of each SDU
 * piece against the TB's capacity). At the receiver an SDU is complete
 * once all its bytes arrived (Arrived()); SDUs are delivered strictly in order: the head of
 * the stream is delivered while complete, dropped while lost, and delivery waits at the first
 * SDU that is neither (TS 38.322 UM with reassembly; no t-Reassembly timer is needed since a
 * TB ends either delivered or lost after its last HARQ transmission). A TB that exhausts
 * HARQ loses the SDUs it overlaps (Lost()); TCP above recovers.
 */
class NrRlcFlow
{
  public:
    /** Called for each SDU delivered in order: (packet, protocol number). */
    typedef Callback<void, Ptr<Packet>, uint16_t> DeliverCallback;

    /**
     * Append an SDU to the transmit queue.
     * \param p the packet
     * \param protocol its protocol number (EtherType)
     * \param limitBytes queue limit: the SDU is refused if the untransmitted bytes would exceed
     *        it (0: no limit)
     * \return false if refused (tail drop)
     */
    bool Enqueue(Ptr<Packet> p, uint16_t protocol, uint64_t limitBytes);

    /** \return bytes queued and not yet given to a transport block */
    uint64_t GetQueuedBytes() const
    {
        return m_tail - m_nextSend;
    }

    /** \return SDUs queued or in flight (not delivered nor dropped) */
    size_t GetNSdus() const
    {
        return m_sdus.size();
    }

    /** PDCP (12-bit SN, 2 B) plus RLC (12-bit SN, 2 B) header bytes of an SDU's first piece;
     *  a continued segment's RLC header (SN and 16-bit SO): the same 4 B. */
    static constexpr uint64_t kPieceHeaderBytes = 4;

    /**
     * Take up to maxBytes of untransmitted stream bytes for a transport block.
     * \param maxBytes TB payload capacity, bytes
     * \param headers charge the L2 headers: each SDU piece in the TB costs kPieceHeaderBytes
     *        plus a MAC subheader of 2 B (RLC PDU up to 255 B, 8-bit L) or 3 B (16-bit L)
     * \return the stream byte range [first, second) (empty if nothing is queued)
     */
    std::pair<uint64_t, uint64_t> Segment(uint64_t maxBytes, bool headers = false);

    /**
     * A TB carrying [a, b) was decoded: credit the bytes and deliver what is in order.
     * \param a first stream byte
     * \param b one past the last stream byte
     * \param deliver called for each SDU delivered
     * \return number of SDU bytes delivered
     */
    uint64_t Arrived(uint64_t a, uint64_t b, const DeliverCallback& deliver);

    /**
     * A TB carrying [a, b) failed its last HARQ transmission: the SDUs it overlaps are lost.
     * \param a first stream byte
     * \param b one past the last stream byte
     * \param deliver called for SDUs that become deliverable in order
     * \return number of SDUs lost
     */
    uint32_t Lost(uint64_t a, uint64_t b, const DeliverCallback& deliver);

    /** Drop everything queued or in flight. */
    void Clear();

  private:
    /** One SDU in the stream. */
    struct Sdu
    {
        Ptr<Packet> packet;   //!< the packet
        uint16_t protocol;    //!< protocol number
        uint64_t start;       //!< first stream byte
        uint64_t end;         //!< one past its last stream byte
        uint64_t missing;     //!< bytes not yet received
        bool lost;            //!< a TB carrying part of it was lost
    };

    /**
     * Index of the first SDU that ends after stream byte a.
     * \param a stream byte
     * \return the index in m_sdus
     */
    size_t FirstEndingAfter(uint64_t a) const;

    /**
     * Deliver / drop from the head while possible.
     * \param deliver delivery callback
     * \return SDU bytes delivered
     */
    uint64_t Drain(const DeliverCallback& deliver);

    std::deque<Sdu> m_sdus; //!< SDUs queued or in flight, by stream position
    uint64_t m_tail{0};     //!< stream end (next SDU's start)
    uint64_t m_nextSend{0}; //!< first untransmitted stream byte
};

} // namespace ns3

#endif // NR_RLC_FLOW_H
