/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-channel.h"

#include "ns3/simulator.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ns3
{

NS_OBJECT_ENSURE_REGISTERED(NrChannel);

TypeId
NrChannel::GetTypeId()
{
    static TypeId tid = TypeId("ns3::NrChannel")
                            .SetParent<Object>()
                            .SetGroupName("Edgelam")
                            .AddTraceSource("Updated",
                                            "Channels were recomputed.",
                                            MakeTraceSourceAccessor(&NrChannel::m_updatedTrace),
                                            "ns3::NrChannel::UpdatedTracedCallback");
    return tid;
}

NrChannel::~NrChannel() = default;

void
NrChannel::DoDispose()
{
    m_gnbs.clear();
    m_ues.clear();
    m_wrap = nullptr;
    Object::DoDispose();
}

void
NrChannel::NotifyUpdated()
{
    m_updatedTrace(Simulator::Now());
}

double
NrChannel::GetCouplingGainDb(uint32_t g, uint32_t u)
{
    const double pg = GetPathGainDb(g, u);
    const auto& h = GetChannelMatrix(g, u);
    double sum = 0;
    for (const auto& x : h)
    {
        sum += std::norm(x);
    }
    return pg + 10.0 * std::log10(std::max(sum / std::max<size_t>(h.size(), 1), 1e-300));
}

double
NrChannel::GetDistance2dM(uint32_t g, uint32_t u) const
{
    const Vector a = GetGnbPositionSeenBy(g, u);
    const Vector b = GetUe(u).mobility->GetPosition();
    return std::hypot(a.x - b.x, a.y - b.y);
}

double
NrChannel::GetDistance3dM(uint32_t g, uint32_t u) const
{
    return CalculateDistance(GetGnbPositionSeenBy(g, u), GetUe(u).mobility->GetPosition());
}

void
NrChannel::SetWraparound(Ptr<HexagonalWraparound> wrap)
{
    m_wrap = wrap;
}

Ptr<HexagonalWraparound>
NrChannel::GetWraparound() const
{
    return m_wrap;
}

uint32_t
NrChannel::GetGnbImage(uint32_t g, uint32_t u) const
{
    const Vector site = GetGnb(g).mobility->GetPosition();
    const Vector ue = GetUe(u).mobility->GetPosition();
    return m_wrap ? m_wrap->GetImage(site, ue) : 0;
}

Vector
NrChannel::GetGnbPositionSeenBy(uint32_t g, uint32_t u) const
{
    const Vector site = GetGnb(g).mobility->GetPosition();
    if (!m_wrap)
    {
        GetUe(u);
        return site;
    }
    return m_wrap->GetWrappedPosition(site, GetUe(u).mobility->GetPosition());
}

double
NrChannel::GetGnbBearingRad(uint32_t g) const
{
    return GetGnb(g).bearingRad;
}

void
NrChannel::SetBand(double carrierHz, double bandwidthHz, uint32_t nSubbands)
{
    m_carrierHz = carrierHz;
    m_bandwidthHz = bandwidthHz;
    m_nSubbands = nSubbands;
}

double
NrChannel::GetCarrierHz() const
{
    return m_carrierHz;
}

double
NrChannel::GetBandwidthHz() const
{
    return m_bandwidthHz;
}

uint32_t
NrChannel::Add(std::vector<Terminal>& terminals,
               const std::string& what,
               uint32_t maxElements,
               const Terminal& t)
{
    if (m_nSubbands == 0)
    {
        throw std::logic_error(GetInstanceTypeId().GetName() + "::" + what +
                               ": Configure() first");
    }
    if (!t.mobility)
    {
        throw std::invalid_argument(what + ": the node has no MobilityModel");
    }
    if (t.rows == 0 || t.cols == 0 || t.rows * t.cols > maxElements)
    {
        throw std::invalid_argument(what + ": array of 1 to " + std::to_string(maxElements) +
                                    " elements");
    }
    terminals.push_back(t);
    return terminals.size() - 1;
}

NrChannel::Terminal
NrChannel::MakeTerminal(Ptr<Node> node, uint32_t rows, uint32_t cols, double txPowerDbm)
{
    Terminal t;
    t.node = node;
    t.mobility = node->GetObject<MobilityModel>();
    t.rows = rows;
    t.cols = cols;
    t.txPowerW = DbmToW(txPowerDbm);
    return t;
}

uint32_t
NrChannel::AddGnb(Ptr<Node> node, uint32_t rows, uint32_t cols, double txPowerDbm,
                  double bearingRad)
{
    Terminal t = MakeTerminal(node, rows, cols, txPowerDbm);
    t.bearingRad = bearingRad;
    const uint32_t g = Add(m_gnbs, "AddGnb", 1024, t);
    DoAddGnb(g);
    return g;
}

uint32_t
NrChannel::AddUe(Ptr<Node> node, uint32_t rows, uint32_t cols, double txPowerDbm,
                 double noiseFigureDb)
{
    Terminal t = MakeTerminal(node, rows, cols, txPowerDbm);
    t.noiseFigureDb = noiseFigureDb;
    const uint32_t u = Add(m_ues, "AddUe", 64, t);
    DoAddUe(u);
    return u;
}

void
NrChannel::DoAddGnb(uint32_t /*g*/)
{
}

void
NrChannel::DoAddUe(uint32_t /*u*/)
{
}

const NrChannel::Terminal&
NrChannel::GetGnb(uint32_t g) const
{
    if (g >= m_gnbs.size())
    {
        throw std::out_of_range("no gNB " + std::to_string(g));
    }
    return m_gnbs[g];
}

const NrChannel::Terminal&
NrChannel::GetUe(uint32_t u) const
{
    if (u >= m_ues.size())
    {
        throw std::out_of_range("no UE " + std::to_string(u));
    }
    return m_ues[u];
}

uint32_t
NrChannel::GetNGnbs() const
{
    return m_gnbs.size();
}

uint32_t
NrChannel::GetNUes() const
{
    return m_ues.size();
}

uint32_t
NrChannel::GetNSubbands() const
{
    return m_nSubbands;
}

double
NrChannel::GetSubbandWidth() const
{
    return m_bandwidthHz / m_nSubbands;
}

uint32_t
NrChannel::GetNGnbAntennas(uint32_t g) const
{
    const Terminal& t = GetGnb(g);
    return t.rows * t.cols;
}

uint32_t
NrChannel::GetNUeAntennas(uint32_t u) const
{
    const Terminal& t = GetUe(u);
    return t.rows * t.cols;
}

double
NrChannel::GetGnbTxPowerW(uint32_t g) const
{
    return GetGnb(g).txPowerW;
}

double
NrChannel::GetUeTxPowerW(uint32_t u) const
{
    return GetUe(u).txPowerW;
}

void
NrChannel::Normalise(std::vector<Complex>& w)
{
    double n2 = 0;
    for (const auto& x : w)
    {
        n2 += std::norm(x);
    }
    if (!(n2 > 0))
    {
        throw std::invalid_argument("a beam must have a nonzero norm");
    }
    const double inv = 1.0 / std::sqrt(n2);
    for (auto& x : w)
    {
        x *= inv;
    }
}

double
NrChannel::DbmToW(double dbm)
{
    return std::pow(10.0, (dbm - 30.0) / 10.0);
}

} // namespace ns3
