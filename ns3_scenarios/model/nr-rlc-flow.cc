/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-rlc-flow.h"

#include <algorithm>

namespace ns3
{

bool
NrRlcFlow::Enqueue(Ptr<Packet> p, uint16_t protocol, uint64_t limitBytes)
{
    const uint64_t size = p->GetSize();
    if (limitBytes > 0 && GetQueuedBytes() + size > limitBytes)
    {
        return false;
    }
    m_sdus.push_back(Sdu{p, protocol, m_tail, m_tail + size, size, false});
    m_tail += size;
    return true;
}

std::pair<uint64_t, uint64_t>
NrRlcFlow::Segment(uint64_t maxBytes, bool headers)
{
    const uint64_t a = m_nextSend;
    if (!headers)
    {
        const uint64_t b = std::min(m_tail, a + maxBytes);
        m_nextSend = b;
        return {a, b};
    }
    uint64_t room = maxBytes;
    uint64_t pos = a;
    for (size_t k = FirstEndingAfter(pos); k < m_sdus.size() && pos < m_tail; ++k)
    {
        // the rest of SDU k as one RLC PDU (headers + data) behind its MAC subheader
        const uint64_t pdu = kPieceHeaderBytes + (m_sdus[k].end - pos);
        const uint64_t whole = pdu + (pdu <= 255 ? 2 : 3);
        if (whole <= room)
        {
            room -= whole;
            pos = m_sdus[k].end;
            continue;
        }
        // a segment of what fits: 8-bit L if its PDU fits in 255 B, else 16-bit L
        const uint64_t sub = room >= 2 + 256 ? 3 : 2;
        if (room > sub + kPieceHeaderBytes)
        {
            pos += room - sub - kPieceHeaderBytes;
        }
        break;
    }
    m_nextSend = pos;
    return {a, pos};
}

size_t
NrRlcFlow::FirstEndingAfter(uint64_t a) const
{
    auto it = std::upper_bound(m_sdus.begin(), m_sdus.end(), a, [](uint64_t x, const Sdu& s) {
        return x < s.end;
    });
    return it - m_sdus.begin();
}

uint64_t
NrRlcFlow::Drain(const DeliverCallback& deliver)
{
    uint64_t bytes = 0;
    while (!m_sdus.empty() && m_sdus.front().end <= m_nextSend)
    {
        Sdu& s = m_sdus.front();
        if (s.lost)
        {
            m_sdus.pop_front();
            continue;
        }
        if (s.missing > 0)
        {
            break;
        }
        Ptr<Packet> p = s.packet;
        const uint16_t proto = s.protocol;
        bytes += s.end - s.start;
        m_sdus.pop_front();
        if (!deliver.IsNull())
        {
            deliver(p, proto);
        }
    }
    return bytes;
}

uint64_t
NrRlcFlow::Arrived(uint64_t a, uint64_t b, const DeliverCallback& deliver)
{
    for (size_t i = FirstEndingAfter(a); i < m_sdus.size() && m_sdus[i].start < b; ++i)
    {
        Sdu& s = m_sdus[i];
        const uint64_t overlap = std::min(b, s.end) - std::max(a, s.start);
        s.missing -= std::min(s.missing, overlap);
    }
    return Drain(deliver);
}

uint32_t
NrRlcFlow::Lost(uint64_t a, uint64_t b, const DeliverCallback& deliver)
{
    uint32_t n = 0;
    for (size_t i = FirstEndingAfter(a); i < m_sdus.size() && m_sdus[i].start < b; ++i)
    {
        if (!m_sdus[i].lost)
        {
            m_sdus[i].lost = true;
            ++n;
        }
    }
    Drain(deliver);
    return n;
}

void
NrRlcFlow::Clear()
{
    m_sdus.clear();
    m_nextSend = m_tail;
}

} // namespace ns3
