/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "fixed-gain-nr-channel.h"

#include "ns3/boolean.h"
#include "ns3/double.h"
#include "ns3/uinteger.h"
#include "ns3/mobility-model.h"
#include "ns3/nstime.h"
#include "ns3/simulator.h"

#include <cmath>
#include <stdexcept>

namespace ns3
{

NS_OBJECT_ENSURE_REGISTERED(FixedGainNrChannel);

namespace
{
constexpr double kBoltzmann = 1.380649e-23; //!< J/K
constexpr double kT0 = 290.0;               //!< noise temperature, K
constexpr double kC = 299792458.0;          //!< speed of light, m/s
} // namespace

TypeId
FixedGainNrChannel::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::FixedGainNrChannel")
            .SetParent<NrChannel>()
            .SetGroupName("Edgelam")
            .AddConstructor<FixedGainNrChannel>()
            .AddAttribute("GnbNoiseFigure",
                          "Noise figure of the gNB receivers, dB (TS 38.104 §7.2: 5 dB is "
                          "typical of a wide-area BS).",
                          DoubleValue(5.0),
                          MakeDoubleAccessor(&FixedGainNrChannel::m_gnbNoiseFigureDb),
                          MakeDoubleChecker<double>())
            .AddAttribute("DefaultPathGainDb",
                          "Path gain of pairs without SetPathGainDb when FreeSpace is false, dB.",
                          DoubleValue(-80.0),
                          MakeDoubleAccessor(&FixedGainNrChannel::m_defaultPgDb),
                          MakeDoubleChecker<double>())
            .AddAttribute("FreeSpace",
                          "Pairs without SetPathGainDb get the free-space (Friis) path gain of "
                          "their 3D distance at the carrier frequency.",
                          BooleanValue(false),
                          MakeBooleanAccessor(&FixedGainNrChannel::m_freeSpace),
                          MakeBooleanChecker())
            .AddAttribute("UpdatePeriod",
                          "Period after which node positions are read again (0: once).",
                          TimeValue(Seconds(0)),
                          MakeTimeAccessor(&FixedGainNrChannel::m_updatePeriod),
                          MakeTimeChecker())
            .AddAttribute("FadingDopplerHz",
                          "Maximum Doppler f_D of i.i.d. Rayleigh fading with the Jakes "
                          "spectrum per antenna pair, Hz (0: the rank-1 LOS channel).",
                          DoubleValue(0.0),
                          MakeDoubleAccessor(&FixedGainNrChannel::m_dopplerHz),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("FadingSinusoids",
                          "Sinusoids M of the fading of each antenna pair.",
                          UintegerValue(32),
                          MakeUintegerAccessor(&FixedGainNrChannel::m_sinusoids),
                          MakeUintegerChecker<uint32_t>(1, 4096));
    return tid;
}

FixedGainNrChannel::FixedGainNrChannel()
    : m_fadingRng(CreateObject<UniformRandomVariable>())
{
}
FixedGainNrChannel::~FixedGainNrChannel() = default;

void
FixedGainNrChannel::Configure(const std::string& /*scenario*/,
                              double carrierHz,
                              double bandwidthHz,
                              uint32_t nSubbands)
{
    if (nSubbands < 1 || bandwidthHz <= 0 || carrierHz <= 0)
    {
        throw std::invalid_argument("FixedGainNrChannel: carrier, bandwidth > 0, nSubbands >= 1");
    }
    SetBand(carrierHz, bandwidthHz, nSubbands);
    m_fresh = false;
}

void
FixedGainNrChannel::DoAddGnb(uint32_t /*g*/)
{
    m_fresh = false;
}

void
FixedGainNrChannel::DoAddUe(uint32_t /*u*/)
{
    m_fresh = false;
}

std::vector<NrChannel::Complex>
FixedGainNrChannel::Steering(uint32_t rows, uint32_t cols, double bearing, double az, double incl)
{
    // Elements on a half-wavelength grid in the plane orthogonal to the bearing: column index
    // along the horizontal axis, row index along z.
    std::vector<Complex> a(rows * cols);
    const double norm = 1.0 / std::sqrt(static_cast<double>(rows * cols));
    const double sy = std::sin(incl) * std::sin(az - bearing);
    const double sz = std::cos(incl);
    for (uint32_t m = 0; m < rows; ++m)
    {
        for (uint32_t n = 0; n < cols; ++n)
        {
            const double phase = M_PI * (n * sy + m * sz);
            a[m * cols + n] = std::polar(norm, phase);
        }
    }
    return a;
}

std::vector<NrChannel::Complex>
FixedGainNrChannel::GetGnbSteeringVector(uint32_t g, double azimuth, double inclination) const
{
    const Terminal& t = GetGnb(g);
    return Steering(t.rows, t.cols, t.bearingRad, azimuth, inclination);
}

void
FixedGainNrChannel::InvalidateGains()
{
    std::fill(m_gainValid.begin(), m_gainValid.end(), false);
    std::fill(m_hValid.begin(), m_hValid.end(), false);
}

void
FixedGainNrChannel::Refresh()
{
    const Time now = Simulator::Now();
    if (m_dopplerHz > 0 && m_fresh && now != m_fadingTime)
    {
        InvalidateGains(); // the fading moved
        m_fadingTime = now;
    }
    if (m_fresh && (m_updatePeriod.IsZero() || now - m_lastUpdate < m_updatePeriod))
    {
        return;
    }
    m_fadingTime = now;
    const uint32_t nG = GetNGnbs();
    const uint32_t nU = GetNUes();
    const bool first = m_pgDb.size() != static_cast<size_t>(nG) * nU;
    const double bSb = GetSubbandWidth();
    if (first)
    {
        m_pgDb.assign(nG * nU, 0.0);
        m_aG.assign(nG * nU, {});
        m_aU.assign(nG * nU, {});
        m_gnbBeam.assign(nG * nU, {});
        m_beamSet.assign(nG * nU, false);
        m_h.assign(nG * nU, {});
        m_hValid.assign(nG * nU, false);
        m_gain.assign(static_cast<size_t>(nG) * nU * nU, {});
        m_gainValid.assign(static_cast<size_t>(nG) * nU * nU, false);
        m_ueBeam.resize(nU);
        for (uint32_t u = 0; u < nU; ++u)
        {
            const uint32_t n = GetNUeAntennas(u);
            if (m_ueBeam[u].size() != n)
            {
                m_ueBeam[u].assign(n, Complex(1.0 / std::sqrt(double(n)), 0.0));
            }
        }
    }
    m_gnbNoiseW.assign(nG, kBoltzmann * kT0 * bSb * std::pow(10.0, m_gnbNoiseFigureDb / 10.0));
    const double lambda = kC / GetCarrierHz();
    for (uint32_t g = 0; g < nG; ++g)
    {
        const Terminal& gnb = GetGnb(g);
        for (uint32_t u = 0; u < nU; ++u)
        {
            const Terminal& ue = GetUe(u);
            const Vector pg = GetGnbPositionSeenBy(g, u); // its wrapped image, if wrapped
            const Vector pu = ue.mobility->GetPosition();
            const Vector d = pu - pg;
            const double dist = std::max(1e-3, d.GetLength());
            const double az = std::atan2(d.y, d.x);
            const double incl = std::acos(std::clamp(d.z / dist, -1.0, 1.0));
            const uint32_t k = g * nU + u;
            auto it = m_fixedPg.find({g, u});
            if (it != m_fixedPg.end())
            {
                m_pgDb[k] = it->second;
            }
            else if (m_freeSpace)
            {
                m_pgDb[k] = 20.0 * std::log10(lambda / (4.0 * M_PI * dist));
            }
            else
            {
                m_pgDb[k] = m_defaultPgDb;
            }
            m_aG[k] = Steering(gnb.rows, gnb.cols, gnb.bearingRad, az, incl);
            m_aU[k] = Steering(ue.rows, ue.cols, 0.0, az + M_PI, M_PI - incl);
            if (!m_beamSet[k])
            {
                m_gnbBeam[k] = m_aG[k];
            }
        }
    }
    m_ueNoiseW.resize(nU);
    for (uint32_t u = 0; u < nU; ++u)
    {
        m_ueNoiseW[u] = kBoltzmann * kT0 * bSb * std::pow(10.0, GetUe(u).noiseFigureDb / 10.0);
    }
    InvalidateGains();
    m_lastUpdate = now;
    const bool notify = m_fresh;
    m_fresh = true;
    if (notify)
    {
        NotifyUpdated();
    }
}

const std::vector<NrChannel::Complex>&
FixedGainNrChannel::GetChannelMatrix(uint32_t g, uint32_t u)
{
    Refresh();
    const uint32_t nU = GetNUes();
    const uint32_t k = g * nU + u;
    if (!m_hValid[k] && m_dopplerHz > 0)
    {
        ComputeFading(k, g, u);
    }
    if (!m_hValid[k])
    {
        const auto& aU = m_aU[k];
        const auto& aG = m_aG[k];
        const double scale = std::sqrt(double(aU.size() * aG.size()));
        auto it = m_sbGain.find({g, u});
        auto& h = m_h[k];
        h.resize(aU.size() * aG.size() * GetNSubbands());
        for (size_t r = 0; r < aU.size(); ++r)
        {
            for (size_t t = 0; t < aG.size(); ++t)
            {
                const Complex v = scale * aU[r] * std::conj(aG[t]);
                for (uint32_t sb = 0; sb < GetNSubbands(); ++sb)
                {
                    const double s = it != m_sbGain.end() ? std::sqrt(it->second.at(sb)) : 1.0;
                    h[(r * aG.size() + t) * GetNSubbands() + sb] = v * s;
                }
            }
        }
        m_hValid[k] = true;
    }
    return m_h[k];
}

void
FixedGainNrChannel::ComputeFading(uint32_t k, uint32_t g, uint32_t u)
{
    const uint32_t nR = GetNUeAntennas(u);
    const uint32_t nT = GetNGnbAntennas(g);
    const uint32_t nSb = GetNSubbands();
    const uint32_t m = m_sinusoids;
    if (m_sos.size() != m_h.size())
    {
        m_sos.assign(m_h.size(), {});
    }
    auto& sos = m_sos[k];
    if (sos.empty())
    {
        sos.resize(size_t(nR) * nT * m * 2);
        for (auto& x : sos)
        {
            x = m_fadingRng->GetValue(0.0, 2.0 * M_PI);
        }
    }
    const double w = 2.0 * M_PI * m_dopplerHz * Simulator::Now().GetSeconds();
    auto it = m_sbGain.find({g, u});
    auto& h = m_h[k];
    h.resize(size_t(nR) * nT * nSb);
    for (size_t p = 0; p < size_t(nR) * nT; ++p)
    {
        Complex c(0, 0);
        for (uint32_t i = 0; i < m; ++i)
        {
            const double* am = &sos[(p * m + i) * 2];
            c += std::polar(1.0, w * std::cos(am[0]) + am[1]);
        }
        c /= std::sqrt(double(m));
        for (uint32_t sb = 0; sb < nSb; ++sb)
        {
            const double s = it != m_sbGain.end() ? std::sqrt(it->second.at(sb)) : 1.0;
            h[p * nSb + sb] = c * s;
        }
    }
    m_hValid[k] = true;
}

double
FixedGainNrChannel::GetPathGainDb(uint32_t g, uint32_t u)
{
    Refresh();
    return m_pgDb.at(g * GetNUes() + u);
}

bool
FixedGainNrChannel::IsLos(uint32_t /*g*/, uint32_t /*u*/)
{
    return true;
}

std::pair<double, double>
FixedGainNrChannel::GetLosAngles(uint32_t g, uint32_t u)
{
    const Vector d = GetUe(u).mobility->GetPosition() - GetGnbPositionSeenBy(g, u);
    const double dist = std::max(1e-3, d.GetLength());
    return {std::atan2(d.y, d.x), std::acos(std::clamp(d.z / dist, -1.0, 1.0))};
}

namespace
{
/// Throw std::invalid_argument unless w has n weights.
void
CheckBeamSize(const std::vector<NrChannel::Complex>& w, size_t n)
{
    if (w.size() != n)
    {
        throw std::invalid_argument("beam: one weight per antenna element expected (" +
                                    std::to_string(n) + "), got " + std::to_string(w.size()));
    }
}
} // namespace

void
FixedGainNrChannel::SetGnbBeam(uint32_t g, uint32_t u, const std::vector<Complex>& w)
{
    Refresh();
    const uint32_t k = g * GetNUes() + u;
    CheckBeamSize(w, GetNGnbAntennas(g));
    m_gnbBeam.at(k) = w;
    Normalise(m_gnbBeam[k]);
    m_beamSet[k] = true;
    InvalidateGains();
}

const std::vector<NrChannel::Complex>&
FixedGainNrChannel::GetGnbBeam(uint32_t g, uint32_t u) const
{
    return m_gnbBeam.at(g * GetNUes() + u);
}

void
FixedGainNrChannel::SetUeBeam(uint32_t u, const std::vector<Complex>& w)
{
    Refresh();
    CheckBeamSize(w, GetNUeAntennas(u));
    m_ueBeam.at(u) = w;
    Normalise(m_ueBeam[u]);
    InvalidateGains();
}

const std::vector<NrChannel::Complex>&
FixedGainNrChannel::GetUeBeam(uint32_t u) const
{
    return m_ueBeam.at(u);
}

const std::vector<double>&
FixedGainNrChannel::GetBeamGain(uint32_t g, uint32_t v, uint32_t u)
{
    Refresh();
    const uint32_t nU = GetNUes();
    const size_t idx = (static_cast<size_t>(g) * nU + v) * nU + u;
    if (m_gainValid[idx])
    {
        return m_gain[idx];
    }
    const uint32_t k = g * nU + u;
    if (m_dopplerHz > 0)
    {
        const auto& h = GetChannelMatrix(g, u);
        const auto& w = m_gnbBeam[g * nU + v];
        const auto& wu = m_ueBeam[u];
        const uint32_t nSb = GetNSubbands();
        std::vector<Complex> y(nSb);
        for (size_t r = 0; r < wu.size(); ++r)
        {
            for (size_t t = 0; t < w.size(); ++t)
            {
                const Complex c = std::conj(wu[r]) * w[t];
                for (uint32_t sb = 0; sb < nSb; ++sb)
                {
                    y[sb] += h[(r * w.size() + t) * nSb + sb] * c;
                }
            }
        }
        auto& out = m_gain[idx];
        out.resize(nSb);
        for (uint32_t sb = 0; sb < nSb; ++sb)
        {
            out[sb] = std::norm(y[sb]) * std::pow(10.0, m_pgDb[k] / 10.0);
        }
        m_gainValid[idx] = true;
        return out;
    }
    Complex tx(0, 0); // â_g(u)^H w_{g,v}
    const auto& aG = m_aG[k];
    const auto& w = m_gnbBeam[g * nU + v];
    for (size_t i = 0; i < aG.size(); ++i)
    {
        tx += std::conj(aG[i]) * w[i];
    }
    Complex rx(0, 0); // w_u^H â_u
    const auto& aU = m_aU[k];
    const auto& wu = m_ueBeam[u];
    for (size_t i = 0; i < aU.size(); ++i)
    {
        rx += std::conj(wu[i]) * aU[i];
    }
    const double g0 = std::norm(tx) * aG.size() * std::norm(rx) * aU.size() *
                      std::pow(10.0, m_pgDb[k] / 10.0);
    auto& out = m_gain[idx];
    out.assign(GetNSubbands(), g0);
    auto it = m_sbGain.find({g, u});
    if (it != m_sbGain.end())
    {
        for (uint32_t sb = 0; sb < GetNSubbands(); ++sb)
        {
            out[sb] *= it->second.at(sb);
        }
    }
    m_gainValid[idx] = true;
    return out;
}

double
FixedGainNrChannel::GetUeNoiseW(uint32_t u) const
{
    const_cast<FixedGainNrChannel*>(this)->Refresh();
    return m_ueNoiseW.at(u);
}

double
FixedGainNrChannel::GetGnbNoiseW(uint32_t g) const
{
    const_cast<FixedGainNrChannel*>(this)->Refresh();
    return m_gnbNoiseW.at(g);
}

int64_t
FixedGainNrChannel::AssignStreams(int64_t stream)
{
    m_fadingRng->SetStream(stream);
    return 1;
}

void
FixedGainNrChannel::SetPathGainDb(uint32_t g, uint32_t u, double db)
{
    m_fixedPg[{g, u}] = db;
    m_fresh = false;
}

void
FixedGainNrChannel::SetSubbandGain(uint32_t g, uint32_t u, const std::vector<double>& gain)
{
    if (gain.size() != GetNSubbands())
    {
        throw std::invalid_argument("SetSubbandGain: one gain per subband expected");
    }
    m_sbGain[{g, u}] = gain;
    m_fresh = false;
}

} // namespace ns3
