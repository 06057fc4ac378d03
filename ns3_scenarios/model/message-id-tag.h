/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef MESSAGE_ID_TAG_H
#define MESSAGE_ID_TAG_H

#include "ns3/tag.h"

namespace ns3
{

/**
 * \ingroup edgelam
 * Packet tag naming the application message a UDP datagram is a fragment of. Tags cost no
 * bytes on the wire; the datagram's size is what the link carries.
 */
class MessageIdTag : public Tag
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();
    TypeId GetInstanceTypeId() const override;
    uint32_t GetSerializedSize() const override;
    void Serialize(TagBuffer i) const override;
    void Deserialize(TagBuffer i) override;
    void Print(std::ostream& os) const override;

    /** \param id the message id */
    void SetMessageId(uint64_t id);
    /** \return the message id */
    uint64_t GetMessageId() const;

  private:
    uint64_t m_id{0}; //!< message id
};

} // namespace ns3

#endif // MESSAGE_ID_TAG_H
