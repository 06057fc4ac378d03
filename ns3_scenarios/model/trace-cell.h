/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef TRACE_CELL_H
#define TRACE_CELL_H

#include "trace-rate-link.h"

#include "ns3/object.h"
#include "ns3/packet.h"
#include "ns3/point-to-point-net-device.h"

#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * Trace-driven hops that share one carrier (one direction of one cell), work-conserving as
 * the NR MAC is (what UEs without data leave goes to those with data; NrCellMac gives it by
 * its scheduler's metric, here in proportion to the weights). Each member has a weight (a
 * scheduling policy's share);
 * the members with data (a packet on the wire or queued) split the carrier in proportion to
 * their weights, so a UE alone with data is served at its whole trace rate, and a UE that
 * runs out of data leaves its part to the others. Each member's TraceRateLink share is set to
 * weight / (sum of the weights of the members with data) whenever a member gains or loses
 * data; like any share change it applies from the member's next packet.
 */
class TraceCell : public Object
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();

    TraceCell();
    ~TraceCell() override;

    /**
     * Add a hop of this carrier; its weight is the link's share now.
     * \param link the hop's series (installed on tx)
     * \param tx the device that serves it
     */
    void AddLink(Ptr<TraceRateLink> link, Ptr<PointToPointNetDevice> tx);

    /**
     * Set a member's weight (>= 0).
     * \param link the member
     * \param weight its weight
     */
    void SetWeight(Ptr<TraceRateLink> link, double weight);

    /**
     * \param link a trace-driven hop
     * \return whether it is a member
     */
    bool Has(Ptr<TraceRateLink> link) const;

  protected:
    void DoDispose() override;

  private:
    /** A hop of the carrier. */
    struct Member
    {
        Ptr<TraceRateLink> link;           //!< its series
        Ptr<PointToPointNetDevice> tx;     //!< its device
        double weight{0.0};                //!< its weight
        bool busy{false};                  //!< a packet on the wire or queued
    };

    void Enqueued(size_t i, Ptr<const Packet> packet);
    void TxEnded(size_t i, Ptr<const Packet> packet);
    void SetBusy(size_t i, bool busy);
    void Reshare();

    std::vector<Member> m_members; //!< the hops
};

} // namespace ns3

#endif // TRACE_CELL_H
