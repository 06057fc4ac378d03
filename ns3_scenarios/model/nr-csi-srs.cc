/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-csi-srs.h"

#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

namespace ns3
{

NS_OBJECT_ENSURE_REGISTERED(NrCsiSrs);

TypeId
NrCsiSrs::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::NrCsiSrs")
            .SetParent<Object>()
            .SetGroupName("Edgelam")
            .AddConstructor<NrCsiSrs>()
            .AddAttribute("PeriodSlots",
                          "SRS period T_SRS of every UE, slots (TS 38.214 §6.2.1).",
                          UintegerValue(10),
                          MakeUintegerAccessor(&NrCsiSrs::m_period),
                          MakeUintegerChecker<uint32_t>(1, 2560))
            .AddAttribute("OffsetSlots",
                          "SRS slot offset T_offset of every UE, slots (< PeriodSlots).",
                          UintegerValue(3),
                          MakeUintegerAccessor(&NrCsiSrs::m_offset),
                          MakeUintegerChecker<uint32_t>(0, 2559))
            .AddAttribute("ProcessingDelaySlots",
                          "Slots from an SRS to the first slot whose scheduling uses its "
                          "estimate, slots.",
                          UintegerValue(2),
                          MakeUintegerAccessor(&NrCsiSrs::m_delay),
                          MakeUintegerChecker<uint32_t>(0, 1000));
    return tid;
}

NrCsiSrs::NrCsiSrs()
    : m_seed(CreateObject<UniformRandomVariable>())
{
}

NrCsiSrs::~NrCsiSrs() = default;

void
NrCsiSrs::DoDispose()
{
    m_ues.clear();
    Object::DoDispose();
}

uint32_t
NrCsiSrs::AddUe()
{
    m_ues.emplace_back();
    SetUeConfig(m_ues.size() - 1, m_period, m_offset, m_delay);
    return m_ues.size() - 1;
}

void
NrCsiSrs::SetUeConfig(uint32_t i, uint32_t period, uint32_t offset, uint32_t delay)
{
    if (period == 0 || offset >= period)
    {
        throw std::invalid_argument("SRS: period must be >= 1 slot and offset < period (got " +
                                    std::to_string(period) + ", " + std::to_string(offset) + ")");
    }
    Ue& u = m_ues.at(i);
    u.period = period;
    u.offset = offset;
    u.delay = delay;
}

bool
NrCsiSrs::IsOccasion(uint32_t i, uint64_t n) const
{
    const Ue& u = m_ues.at(i);
    return n >= u.offset && (n - u.offset) % u.period == 0;
}

void
NrCsiSrs::Measure(uint32_t i, uint64_t n, double timeS, const std::vector<Complex>& h,
                  double pathGainDb, double noiseVar)
{
    Ue& u = m_ues.at(i);
    Estimate e;
    e.valid = true;
    e.id = m_nextId++;
    e.slot = n;
    e.timeS = timeS;
    e.usableSlot = n + u.delay;
    e.pathGainDb = pathGainDb;
    e.h = h;
    if (m_pool.empty())
    {
        // CN(0, 1): real and imaginary parts N(0, 1/2), from a generator seeded by this
        // object's ns-3 stream
        std::mt19937_64 gen(m_seed->GetInteger(0, 0xFFFFFFFFu));
        std::normal_distribution<double> normal(0.0, std::sqrt(0.5));
        m_pool.resize(kPool);
        for (auto& c : m_pool)
        {
            const double re = normal(gen);
            c = Complex(re, normal(gen));
        }
    }
    // CN(0, sigma^2) per coefficient: the pool read on from o (contiguous: a strided read
    // misses the cache at every sample), rotated by phi
    const uint32_t o = m_seed->GetInteger(0, kPool - 1);
    const Complex rot = std::polar(std::sqrt(noiseVar), m_seed->GetValue(0.0, 2.0 * M_PI));
    double power = 0;
    uint32_t at = o;
    for (auto& c : e.h)
    {
        power += std::norm(c);
        c += rot * m_pool[at];
        at = (at + 1) & (kPool - 1);
    }
    power /= std::max<size_t>(1, h.size());
    e.sinrDb = 10.0 * std::log10(std::max(power, 1e-300) / std::max(noiseVar, 1e-300));
    u.pending.push_back(std::move(e));
}

const NrCsiSrs::Estimate&
NrCsiSrs::Current(uint32_t i, uint64_t n)
{
    Ue& u = m_ues.at(i);
    while (!u.pending.empty() && u.pending.front().usableSlot <= n)
    {
        u.current = std::move(u.pending.front());
        u.pending.pop_front();
    }
    if (u.external.valid && u.external.usableSlot <= n)
    {
        return u.external;
    }
    return u.current;
}

void
NrCsiSrs::SetExternal(uint32_t i, uint64_t n, double timeS, const std::vector<Complex>& h,
                      double pathGainDb)
{
    Ue& u = m_ues.at(i);
    Estimate e;
    e.valid = true;
    e.external = true;
    e.id = m_nextId++;
    e.slot = n;
    e.timeS = timeS;
    e.usableSlot = n;
    e.pathGainDb = pathGainDb;
    e.sinrDb = std::numeric_limits<double>::infinity();
    e.h = h;
    u.external = std::move(e);
}

void
NrCsiSrs::ClearExternal(uint32_t i)
{
    m_ues.at(i).external = Estimate();
}

uint32_t
NrCsiSrs::GetDelay(uint32_t i) const
{
    return m_ues.at(i).delay;
}

uint32_t
NrCsiSrs::GetPeriod(uint32_t i) const
{
    return m_ues.at(i).period;
}

uint32_t
NrCsiSrs::GetOffset(uint32_t i) const
{
    return m_ues.at(i).offset;
}

int64_t
NrCsiSrs::AssignStreams(int64_t stream)
{
    m_seed->SetStream(stream);
    return 1;
}

} // namespace ns3
