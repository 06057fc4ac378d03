/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "trace-rate-link.h"

#include "ns3/abort.h"
#include "ns3/double.h"
#include "ns3/enum.h"
#include "ns3/log.h"
#include "ns3/packet.h"
#include "ns3/point-to-point-channel.h"
#include "ns3/simulator.h"
#include "ns3/trace-source-accessor.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("TraceRateLink");
NS_OBJECT_ENSURE_REGISTERED(TraceRateLink);

TypeId
TraceRateLink::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::TraceRateLink")
            .SetParent<Object>()
            .SetGroupName("Edgelam")
            .AddConstructor<TraceRateLink>()
            .AddAttribute("Share",
                          "Fraction of the trace's rate this direction is served at "
                          "(dimensionless, >= 0)",
                          DoubleValue(1.0),
                          MakeDoubleAccessor(&TraceRateLink::SetShare),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("MinRate",
                          "Floor of the service rate (a device cannot pause), bit/s",
                          DataRateValue(DataRate("1kbps")),
                          MakeDataRateAccessor(&TraceRateLink::m_minRate),
                          MakeDataRateChecker())
            .AddAttribute("BaseDelay",
                          "One-way delay added to each sample's extra delay, s",
                          TimeValue(Seconds(0)),
                          MakeTimeAccessor(&TraceRateLink::m_baseDelay),
                          MakeTimeChecker(Seconds(0)))
            .AddAttribute("LoopPeriod",
                          "Period after which the series restarts from its first sample "
                          "(0: the last sample holds), s",
                          TimeValue(Seconds(0)),
                          MakeTimeAccessor(&TraceRateLink::m_loopPeriod),
                          MakeTimeChecker(Seconds(0)))
            .AddAttribute("AccessDelay",
                          "Wait before the first packet of a burst (one that finds the "
                          "direction idle), as an NR uplink waits for its scheduling "
                          "request and grant before it sends; packets queued behind it follow "
                          "without it, s",
                          TimeValue(Seconds(0)),
                          MakeTimeAccessor(&TraceRateLink::m_accessDelay),
                          MakeTimeChecker(Seconds(0)))
            .AddTraceSource("Rate",
                            "The service rate changed, bit/s",
                            MakeTraceSourceAccessor(&TraceRateLink::m_rateTrace),
                            "ns3::TracedValueCallback::Double");
    return tid;
}

TraceRateLink::TraceRateLink()
    : m_share(1.0),
      m_current(0),
      m_rateBps(0.0),
      m_lastEnd(Seconds(-1))
{
}

TraceRateLink::~TraceRateLink() = default;

void
TraceRateLink::DoDispose()
{
    m_next.Cancel();
    m_tx = nullptr;
    m_loss = nullptr;
    Object::DoDispose();
}

void
TraceRateLink::SetTrace(const std::vector<double>& timesS,
                        const std::vector<double>& ratesBps,
                        const std::vector<double>& delaysS,
                        const std::vector<double>& losses)
{
    NS_ABORT_MSG_IF(timesS.empty() || timesS.size() != ratesBps.size(),
                    "TraceRateLink: one rate per sample, at least one sample");
    NS_ABORT_MSG_IF(timesS[0] != 0.0, "TraceRateLink: the first sample must be at 0 s");
    NS_ABORT_MSG_IF(!delaysS.empty() && delaysS.size() != timesS.size(),
                    "TraceRateLink: one delay per sample or none");
    NS_ABORT_MSG_IF(!losses.empty() && losses.size() != timesS.size(),
                    "TraceRateLink: one loss per sample or none");
    for (size_t k = 0; k < timesS.size(); ++k)
    {
        NS_ABORT_MSG_IF(k > 0 && !(timesS[k] > timesS[k - 1]),
                        "TraceRateLink: sample times must increase");
        NS_ABORT_MSG_IF(!(ratesBps[k] >= 0.0), "TraceRateLink: rates must be >= 0");
        NS_ABORT_MSG_IF(!delaysS.empty() && !(delaysS[k] >= 0.0),
                        "TraceRateLink: delays must be >= 0");
        NS_ABORT_MSG_IF(!losses.empty() && !(losses[k] >= 0.0 && losses[k] <= 1.0),
                        "TraceRateLink: losses must be in [0, 1]");
    }
    m_times = timesS;
    m_rates = ratesBps;
    m_delays = delaysS;
    m_losses = losses;
}

void
TraceRateLink::Install(Ptr<PointToPointNetDevice> tx, Ptr<PointToPointNetDevice> rx)
{
    m_tx = tx;
    // PhyTxBegin fires in PointToPointNetDevice::TransmitStart before the device reads its
    // DataRate for the packet's serialisation time, so the rate set here is this packet's.
    tx->TraceConnectWithoutContext("PhyTxBegin", MakeCallback(&TraceRateLink::PacketStarts, this));
    // At PhyTxEnd the device has not yet started its next queued packet: that one starts at
    // the same instant, so a burst is a chain of packets each starting when the last ended.
    tx->TraceConnectWithoutContext("PhyTxEnd", MakeCallback(&TraceRateLink::PacketEnds, this));
    if (!m_losses.empty())
    {
        m_loss = CreateObject<RateErrorModel>();
        m_loss->SetUnit(RateErrorModel::ERROR_UNIT_PACKET);
        m_loss->SetRate(m_losses[0]);
        rx->SetReceiveErrorModel(m_loss);
    }
}

int64_t
TraceRateLink::AssignStreams(int64_t stream)
{
    return m_loss ? m_loss->AssignStreams(stream) : 0;
}

void
TraceRateLink::Start()
{
    NS_ABORT_MSG_IF(!m_tx || m_times.empty(), "TraceRateLink: Start before SetTrace/Install");
    NS_ABORT_MSG_IF(m_loopPeriod.IsStrictlyPositive() &&
                        m_loopPeriod <= Seconds(m_times.back()),
                    "TraceRateLink: LoopPeriod must exceed the last sample's time");
    m_cycleStart = Simulator::Now();
    Apply(0);
}

void
TraceRateLink::Apply(size_t k)
{
    m_current = k;
    ApplyRate();
    if (!m_delays.empty())
    {
        Ptr<Channel> ch = m_tx->GetChannel();
        ch->SetAttribute("Delay", TimeValue(m_baseDelay + Seconds(m_delays[k])));
    }
    if (m_loss)
    {
        m_loss->SetRate(m_losses[k]);
    }
    if (k + 1 < m_times.size())
    {
        Time at = m_cycleStart + Seconds(m_times[k + 1]);
        m_next = Simulator::Schedule(at - Simulator::Now(), &TraceRateLink::Apply, this, k + 1);
    }
    else if (m_loopPeriod.IsStrictlyPositive())
    {
        m_cycleStart += m_loopPeriod;
        m_next = Simulator::Schedule(m_cycleStart - Simulator::Now(), &TraceRateLink::Apply,
                                     this, size_t(0));
    }
}

void
TraceRateLink::ApplyRate()
{
    if (!m_tx || m_rates.empty())
    {
        return;
    }
    double rate = ServiceRate(m_current);
    m_tx->SetDataRate(DataRate(static_cast<uint64_t>(std::llround(rate))));
    m_rateBps = rate;
    m_rateTrace(rate);
}

void
TraceRateLink::SetShare(double share)
{
    NS_ABORT_MSG_IF(!(share >= 0.0), "TraceRateLink: share must be >= 0");
    m_share = share;
    ApplyRate();
}

double
TraceRateLink::ServiceRate(size_t k) const
{
    return std::max(m_share * m_rates[k], static_cast<double>(m_minRate.GetBitRate()));
}

Time
TraceRateLink::SerialisationTime(double from, double bits) const
{
    // Walk the series from the sample in force at `from` (from >= now; across loop restarts)
    // until the service rate's integral since `from` reaches the packet's bits.
    const double now = Simulator::Now().GetSeconds();
    double cycle = m_cycleStart.GetSeconds();
    const double loop = m_loopPeriod.GetSeconds();
    const double inf = std::numeric_limits<double>::infinity();
    size_t k = m_current;
    double t = from;
    for (size_t step = 0;; ++step)
    {
        double end = k + 1 < m_times.size() ? cycle + m_times[k + 1]
                     : loop > 0.0           ? cycle + loop
                                            : inf;
        NS_ABORT_MSG_IF(step > 100 * m_times.size() + 1000,
                        "TraceRateLink: the series never serves the packet (rate 0 with "
                        "MinRate 0)");
        if (end > t)
        {
            double rate = ServiceRate(k);
            if (rate > 0.0 && t + bits / rate <= end)
            {
                return Seconds(t + bits / rate - now);
            }
            NS_ABORT_MSG_IF(std::isinf(end), "TraceRateLink: the series never serves the "
                                             "packet (rate 0 with MinRate 0)");
            bits -= rate * (end - t);
            t = end;
        }
        if (k + 1 < m_times.size())
        {
            ++k;
        }
        else
        {
            k = 0;
            cycle += loop;
        }
    }
}

void
TraceRateLink::PacketStarts(Ptr<const Packet> packet)
{
    if (m_times.empty())
    {
        return; // no series yet: the device's own DataRate
    }
    double now = Simulator::Now().GetSeconds();
    // A packet that finds the direction idle (the last one ended before now) opens a burst.
    double wait = Simulator::Now() > m_lastEnd ? m_accessDelay.GetSeconds() : 0.0;
    double bits = 8.0 * packet->GetSize();
    double seconds = SerialisationTime(now + wait, bits).GetSeconds();
    // The device serialises at DataRate (integer bit/s): the rate that spends exactly this
    // time on the packet (rounded up so the packet never ends past the integral's time).
    auto bps = static_cast<uint64_t>(std::ceil(bits / std::max(seconds, 1e-12)));
    m_tx->SetDataRate(DataRate(std::max<uint64_t>(bps, 1)));
}

void
TraceRateLink::PacketEnds(Ptr<const Packet> /* packet */)
{
    m_lastEnd = Simulator::Now();
}

double
TraceRateLink::GetShare() const
{
    return m_share;
}

double
TraceRateLink::GetRateBps() const
{
    return m_rateBps;
}

} // namespace ns3
