/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "message-id-tag.h"

namespace ns3
{

NS_OBJECT_ENSURE_REGISTERED(MessageIdTag);

TypeId
MessageIdTag::GetTypeId()
{
    static TypeId tid = TypeId("ns3::MessageIdTag")
                            .SetParent<Tag>()
                            .SetGroupName("Edgelam")
                            .AddConstructor<MessageIdTag>();
    return tid;
}

TypeId
MessageIdTag::GetInstanceTypeId() const
{
    return GetTypeId();
}

uint32_t
MessageIdTag::GetSerializedSize() const
{
    return sizeof(uint64_t);
}

void
MessageIdTag::Serialize(TagBuffer i) const
{
    i.WriteU64(m_id);
}

void
MessageIdTag::Deserialize(TagBuffer i)
{
    m_id = i.ReadU64();
}

void
MessageIdTag::Print(std::ostream& os) const
{
    os << "MessageId=" << m_id;
}

void
MessageIdTag::SetMessageId(uint64_t id)
{
    m_id = id;
}

uint64_t
MessageIdTag::GetMessageId() const
{
    return m_id;
}

} // namespace ns3
