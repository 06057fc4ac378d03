/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-radio-test-bed.h"

#include "ns3/cross-traffic-helper.h"
#include "ns3/inet-socket-address.h"
#include "ns3/simulator.h"

#include <algorithm>
#include <stdexcept>

namespace ns3
{

namespace
{
constexpr uint16_t kUdpPort = 9000; //!< first UDP port
constexpr uint16_t kTcpPort = 9500; //!< first TCP port
} // namespace

NrRadioTestBed::NrRadioTestBed(Ptr<NrRadioHelper> helper,
                               Ptr<NrChannel> channel,
                               uint32_t nCells,
                               uint32_t nUes,
                               int64_t stream)
    : m_helper(helper),
      m_channel(channel),
      m_bler(CreateObject<NrBlerModel>()),
      m_nCells(nCells),
      m_nUes(nUes),
      m_stream(stream)
{
    if (nCells == 0)
    {
        throw std::invalid_argument("n_cells must be >= 1");
    }
}

Ptr<NrBlerModel>
NrRadioTestBed::GetBlerModel() const
{
    return m_bler;
}

Ptr<FixedGainNrChannel>
NrRadioTestBed::GetFixedGainChannel() const
{
    auto c = DynamicCast<FixedGainNrChannel>(m_channel);
    if (!c)
    {
        throw std::invalid_argument("only the 'fixed' channel has settable gains");
    }
    return c;
}

void
NrRadioTestBed::RequireBuilt(bool built) const
{
    if (m_built != built)
    {
        throw std::logic_error(built ? "build() first" : "already built");
    }
}

void
NrRadioTestBed::Build(bool ipv4)
{
    RequireBuilt(false);
    m_bler->Finalize();
    m_helper->SetChannel(m_channel);
    m_helper->SetBlerModel(m_bler);
    m_helper->AssignStreams(m_stream);
    m_helper->Create(m_nCells, m_nUes);
    if (ipv4)
    {
        m_helper->InstallIpv4();
    }
    m_built = true;
}

NrRadioTestBed::Endpoints
NrRadioTestBed::GetEndpoints(uint32_t u, bool downlink) const
{
    const uint32_t g = m_helper->GetServingCell(u);
    Endpoints e;
    e.src = downlink ? m_helper->GetGnbNode(g) : m_helper->GetUeNode(u);
    e.dst = downlink ? m_helper->GetUeNode(u) : m_helper->GetGnbNode(g);
    e.to = downlink ? m_helper->GetUeAddress(u) : m_helper->GetGnbAddress(g);
    return e;
}

void
NrRadioTestBed::AddUdp(bool downlink, DataRate rate, uint32_t packetSize, Time start, Time stop)
{
    RequireBuilt(true);
    for (uint32_t u = 0; u < m_nUes; ++u)
    {
        const Endpoints e = GetEndpoints(u, downlink);
        const uint16_t port = downlink ? kUdpPort : static_cast<uint16_t>(kUdpPort + 1 + u);
        CrossTrafficHelper::InstallOnOff(e.src, InetSocketAddress(e.to, port), rate, 0.0, 0.0,
                                         packetSize, start, stop);
        m_sinks[downlink ? 0 : 1].push_back(
            CrossTrafficHelper::InstallSink(e.dst, port, "ns3::UdpSocketFactory"));
    }
    m_appStart = start.GetSeconds();
}

void
NrRadioTestBed::AddTcp(bool downlink, Time start, uint32_t bufferBytes, uint32_t segmentSize)
{
    RequireBuilt(true);
    for (uint32_t u = 0; u < m_nUes; ++u)
    {
        const Endpoints e = GetEndpoints(u, downlink);
        const uint16_t port = static_cast<uint16_t>(kTcpPort + u);
        CrossTrafficHelper::InstallBulkSend(e.src, InetSocketAddress(e.to, port), start,
                                            bufferBytes, segmentSize);
        m_sinks[downlink ? 0 : 1].push_back(
            CrossTrafficHelper::InstallSink(e.dst, port, "ns3::TcpSocketFactory"));
    }
    m_appStart = start.GetSeconds();
}

void
NrRadioTestBed::Start()
{
    RequireBuilt(true);
    m_helper->Start();
    m_start = Simulator::Now().GetSeconds();
}

void
NrRadioTestBed::EnableTbLog()
{
    RequireBuilt(true);
    m_helper->TraceConnectWithoutContext("TbTrace", MakeCallback(&NrRadioTestBed::OnTb, this));
}

void
NrRadioTestBed::OnTb(const NrTbTraceParams& p)
{
    m_tb.push_back(p);
}

const std::vector<NrTbTraceParams>&
NrRadioTestBed::GetTbLog() const
{
    return m_tb;
}

void
NrRadioTestBed::EnableRxLog()
{
    RequireBuilt(true);
    for (uint32_t u = 0; u < m_nUes; ++u)
    {
        m_helper->GetUeDevice(u)->TraceConnectWithoutContext(
            "MacRx",
            MakeCallback(&NrRadioTestBed::OnRx, this).Bind(u));
    }
}

void
NrRadioTestBed::OnRx(uint32_t u, Ptr<const Packet> p)
{
    m_rxUe.push_back(u);
    m_rxUid.push_back(p->GetUid());
}

const std::vector<int64_t>&
NrRadioTestBed::GetRxUes() const
{
    return m_rxUe;
}

const std::vector<int64_t>&
NrRadioTestBed::GetRxUids() const
{
    return m_rxUid;
}

double
NrRadioTestBed::GetElapsedS() const
{
    return std::max(1e-12, Simulator::Now().GetSeconds() - m_start);
}

double
NrRadioTestBed::GetAppElapsedS() const
{
    return std::max(1e-12, Simulator::Now().GetSeconds() - std::max(m_start, m_appStart));
}

NrRadioHelper::Columns
NrRadioTestBed::GetResults() const
{
    RequireBuilt(true);
    const double el = GetElapsedS();
    const double appEl = GetAppElapsedS();
    NrRadioHelper::Columns out = m_helper->GetMacStatsColumns();
    const char* names[2] = {"dl", "ul"};
    for (uint32_t d = 0; d < 2; ++d)
    {
        const auto dir = static_cast<NrCellMac::Direction>(d);
        const std::string p = names[d];
        std::vector<double> macBps(m_nUes), olla(m_nUes), queue(m_nUes), app(m_nUes),
            goodput(m_nUes);
        for (uint32_t u = 0; u < m_nUes; ++u)
        {
            auto cell = m_helper->GetCellMac(m_helper->GetServingCell(u));
            const uint32_t i = m_helper->GetIndexInCell(u);
            macBps[u] = m_helper->GetMacStats(u, dir).bytes * 8 / el;
            olla[u] = cell->GetOllaOffsetDb(i, dir);
            queue[u] = double(cell->GetQueuedBytes(i, dir));
            app[u] = u < m_sinks[d].size() ? double(m_sinks[d][u]->GetTotalRx()) : 0.0;
            goodput[u] = app[u] * 8 / appEl;
        }
        out.emplace_back(p + "_mac_bps", macBps);
        out.emplace_back(p + "_olla_db", olla);
        out.emplace_back(p + "_queue_bytes", queue);
        out.emplace_back(p + "_app_bytes", app);
        out.emplace_back(p + "_goodput_bps", goodput);
    }
    return out;
}

bool
NrRadioTestBed::IsBuilt() const
{
    return m_built;
}

Ptr<NrRadioHelper>
NrRadioTestBed::GetHelper() const
{
    return m_helper;
}

Ptr<NrChannel>
NrRadioTestBed::GetChannel() const
{
    return m_channel;
}

} // namespace ns3
