/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-beam-manager.h"

#include "ns3/log.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <cmath>
#include <stdexcept>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("NrBeamManager");
NS_OBJECT_ENSURE_REGISTERED(NrBeamManager);

namespace
{
typedef std::complex<double> Complex;

/**
 * Sum over the rows m of M (row-major [nRows][rows * cols]) of |m . w_k|^2 for every codeword
 * w_k of the oversampled 2-D DFT codebook, computed separably (columns, then rows).
 */
std::vector<double>
CodebookGains(const std::vector<Complex>& M, uint32_t nRows, uint32_t rows, uint32_t cols,
              uint32_t overH, uint32_t overV)
{
    const uint32_t k1n = overH * cols;
    const uint32_t k2n = overV * rows;
    const uint32_t nTx = rows * cols;
    std::vector<Complex> tw1(k1n * cols);
    for (uint32_t k1 = 0; k1 < k1n; ++k1)
    {
        for (uint32_t c = 0; c < cols; ++c)
        {
            tw1[k1 * cols + c] = std::polar(1.0, 2 * M_PI * double(c * k1 % k1n) / k1n);
        }
    }
    std::vector<Complex> tw2(k2n * rows);
    for (uint32_t k2 = 0; k2 < k2n; ++k2)
    {
        for (uint32_t r = 0; r < rows; ++r)
        {
            tw2[k2 * rows + r] = std::polar(1.0, 2 * M_PI * double(r * k2 % k2n) / k2n);
        }
    }
    std::vector<double> gains(k1n * k2n, 0.0);
    std::vector<Complex> d(rows * k1n);
    for (uint32_t i = 0; i < nRows; ++i)
    {
        const Complex* m = &M[i * nTx];
        for (uint32_t r = 0; r < rows; ++r)
        {
            for (uint32_t k1 = 0; k1 < k1n; ++k1)
            {
                Complex acc(0, 0);
                const Complex* t = &tw1[k1 * cols];
                const Complex* mr = &m[r * cols];
                for (uint32_t c = 0; c < cols; ++c)
                {
                    acc += mr[c] * t[c];
                }
                d[r * k1n + k1] = acc;
            }
        }
        for (uint32_t k2 = 0; k2 < k2n; ++k2)
        {
            const Complex* t = &tw2[k2 * rows];
            for (uint32_t k1 = 0; k1 < k1n; ++k1)
            {
                Complex acc(0, 0);
                for (uint32_t r = 0; r < rows; ++r)
                {
                    acc += d[r * k1n + k1] * t[r];
                }
                gains[k2 * k1n + k1] += std::norm(acc) / nTx;
            }
        }
    }
    return gains;
}

void
Normalise(std::vector<Complex>& x)
{
    double n2 = 0;
    for (const auto& v : x)
    {
        n2 += std::norm(v);
    }
    const double inv = n2 > 0 ? 1.0 / std::sqrt(n2) : 0.0;
    for (auto& v : x)
    {
        v *= inv;
    }
}

/**
 * Dominant eigenvector of the Hermitian PSD matrix R = M^H M (M row-major [nRows][n], R never
 * formed: each step costs 2 nRows n) by power iteration from x (unit norm); the Rayleigh
 * quotient ||M x||^2 never decreases along the iteration.
 */
void
PowerIteration(const std::vector<Complex>& M, uint32_t nRows, uint32_t n, std::vector<Complex>& x,
               uint32_t maxIter)
{
    std::vector<Complex> mx(nRows);
    std::vector<Complex> y(n);
    double q = -1;
    for (uint32_t it = 0; it < maxIter; ++it)
    {
        double qNew = 0;
        for (uint32_t i = 0; i < nRows; ++i)
        {
            Complex acc(0, 0);
            const Complex* m = &M[i * n];
            for (uint32_t j = 0; j < n; ++j)
            {
                acc += m[j] * x[j];
            }
            mx[i] = acc;
            qNew += std::norm(acc);
        }
        std::fill(y.begin(), y.end(), Complex(0, 0));
        for (uint32_t i = 0; i < nRows; ++i)
        {
            const Complex* m = &M[i * n];
            const Complex a = mx[i];
            for (uint32_t j = 0; j < n; ++j)
            {
                y[j] += std::conj(m[j]) * a;
            }
        }
        if (!(qNew > 0))
        {
            return; // x is in the null space (a zero channel): keep it
        }
        Normalise(y);
        x = y;
        if (q > 0 && std::abs(qNew - q) <= 1e-12 * qNew)
        {
            return;
        }
        q = qNew;
    }
}
} // namespace

TypeId
NrBeamManager::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::NrBeamManager")
            .SetParent<Object>()
            .SetGroupName("Edgelam")
            .AddConstructor<NrBeamManager>()
            .AddAttribute("Policy",
                          "Beam policy: \"DftCodebook\" (SSB-like sweep of an oversampled DFT "
                          "codebook, TS 38.214 §5.2.2.2.1-style beams), \"LosDirection\" or "
                          "\"Ideal\" (dominant eigenvector of the channel). Read at Install.",
                          StringValue("DftCodebook"),
                          MakeStringAccessor(&NrBeamManager::m_policyName),
                          MakeStringChecker())
            .AddAttribute("MeasurementPeriod",
                          "Period of the DftCodebook beam sweep (the SSB burst periodicity, "
                          "TS 38.213 §4.1: 20 ms assumed at initial access).",
                          TimeValue(MilliSeconds(20)),
                          MakeTimeAccessor(&NrBeamManager::m_measurementPeriod),
                          MakeTimeChecker(MicroSeconds(125)))
            .AddAttribute("OversamplingH",
                          "DFT codebook oversampling along the array columns (O1).",
                          UintegerValue(2),
                          MakeUintegerAccessor(&NrBeamManager::m_overH),
                          MakeUintegerChecker<uint32_t>(1, 16))
            .AddAttribute("OversamplingV",
                          "DFT codebook oversampling along the array rows (O2).",
                          UintegerValue(2),
                          MakeUintegerAccessor(&NrBeamManager::m_overV),
                          MakeUintegerChecker<uint32_t>(1, 16))
            .AddAttribute("MaxIterations",
                          "Power iterations of the Ideal policy (stops earlier at convergence).",
                          UintegerValue(100),
                          MakeUintegerAccessor(&NrBeamManager::m_maxIterations),
                          MakeUintegerChecker<uint32_t>(1))
            .AddTraceSource("BeamChanged",
                            "A gNB beam toward a UE was set (by the policy or from outside).",
                            MakeTraceSourceAccessor(&NrBeamManager::m_beamChanged),
                            "ns3::NrBeamManager::BeamChangedTracedCallback");
    return tid;
}

NrBeamManager::NrBeamManager() = default;

NrBeamManager::~NrBeamManager() = default;

void
NrBeamManager::DoDispose()
{
    m_sweepEvent.Cancel();
    m_channel = nullptr;
    Object::DoDispose();
}

void
NrBeamManager::Install(Ptr<ThreeGppNrChannel> channel)
{
    if (m_channel)
    {
        throw std::logic_error("NrBeamManager::Install: already installed");
    }
    if (m_policyName == "DftCodebook")
    {
        m_policy = DFT_CODEBOOK;
    }
    else if (m_policyName == "LosDirection")
    {
        m_policy = LOS_DIRECTION;
    }
    else if (m_policyName == "Ideal")
    {
        m_policy = IDEAL;
    }
    else
    {
        throw std::invalid_argument("beam policy must be DftCodebook, LosDirection or Ideal, "
                                    "got '" + m_policyName + "'");
    }
    m_channel = channel;
    const uint32_t nU = channel->GetNUes();
    m_serving.assign(nU, 0);
    m_servingFixed.assign(nU, false);
    m_paused.assign(nU, false);
    m_codeword.assign(nU, -1);
    m_channel->TraceConnectWithoutContext("Updated",
                                          MakeCallback(&NrBeamManager::OnChannelUpdated, this));
    m_channel->Update();
    UpdateServing();
    ApplyAll();
    if (m_policy == DFT_CODEBOOK)
    {
        m_sweepEvent = Simulator::Schedule(m_measurementPeriod, &NrBeamManager::Sweep, this);
    }
}

void
NrBeamManager::CheckUe(uint32_t u) const
{
    if (!m_channel)
    {
        throw std::logic_error("NrBeamManager: Install() first");
    }
    if (u >= m_serving.size())
    {
        throw std::out_of_range("no UE " + std::to_string(u) + " in the beam manager");
    }
}

void
NrBeamManager::UpdateServing()
{
    for (uint32_t u = 0; u < m_serving.size(); ++u)
    {
        if (m_servingFixed[u])
        {
            continue;
        }
        uint32_t best = 0;
        double bestDb = -1e300;
        for (uint32_t g = 0; g < m_channel->GetNGnbs(); ++g)
        {
            const double pg = m_channel->GetPathGainDb(g, u);
            if (pg > bestDb)
            {
                bestDb = pg;
                best = g;
            }
        }
        m_serving[u] = best;
    }
}

void
NrBeamManager::SetServingGnb(uint32_t u, uint32_t g)
{
    CheckUe(u);
    if (g >= m_channel->GetNGnbs())
    {
        throw std::out_of_range("no gNB " + std::to_string(g));
    }
    m_serving[u] = g;
    m_servingFixed[u] = true;
    if (!m_paused[u])
    {
        Apply(u);
    }
}

uint32_t
NrBeamManager::GetServingGnb(uint32_t u) const
{
    CheckUe(u);
    return m_serving[u];
}

void
NrBeamManager::SetGnbBeam(uint32_t g, uint32_t u, const std::vector<Complex>& w, int64_t codeword)
{
    m_channel->SetGnbBeam(g, u, w);
    m_codeword[u] = codeword;
    m_beamChanged(g, u, codeword);
}

void
NrBeamManager::SetBeam(uint32_t u, const std::vector<Complex>& w)
{
    CheckUe(u);
    m_paused[u] = true;
    SetGnbBeam(m_serving[u], u, w, -1);
}

void
NrBeamManager::SetCodeword(uint32_t u, uint32_t k)
{
    CheckUe(u);
    const uint32_t g = m_serving[u];
    if (k >= GetNCodewords(g))
    {
        throw std::out_of_range("codeword index beyond the codebook of gNB " +
                                std::to_string(g));
    }
    m_paused[u] = true;
    SetGnbBeam(g, u, GetCodeword(g, k), k);
}

void
NrBeamManager::Resume(uint32_t u)
{
    CheckUe(u);
    m_paused[u] = false;
    Apply(u);
}

bool
NrBeamManager::IsPaused(uint32_t u) const
{
    CheckUe(u);
    return m_paused[u];
}

int64_t
NrBeamManager::GetCodewordIndex(uint32_t u) const
{
    CheckUe(u);
    return m_codeword[u];
}

uint32_t
NrBeamManager::GetNCodewords(uint32_t g) const
{
    const auto shape = m_channel->GetGnbArrayShape(g);
    return m_overV * shape.first * m_overH * shape.second;
}

std::vector<Complex>
NrBeamManager::GetCodeword(uint32_t g, uint32_t k) const
{
    const auto shape = m_channel->GetGnbArrayShape(g);
    const uint32_t rows = shape.first;
    const uint32_t cols = shape.second;
    const uint32_t k1n = m_overH * cols;
    const uint32_t k2n = m_overV * rows;
    if (k >= k1n * k2n)
    {
        throw std::out_of_range("codeword index beyond the codebook");
    }
    const uint32_t k1 = k % k1n;
    const uint32_t k2 = k / k1n;
    std::vector<Complex> w(rows * cols);
    const double a = 1.0 / std::sqrt(double(rows * cols));
    for (uint32_t r = 0; r < rows; ++r)
    {
        for (uint32_t c = 0; c < cols; ++c)
        {
            const double ph = 2 * M_PI * (double(c * k1 % k1n) / k1n + double(r * k2 % k2n) / k2n);
            w[r * cols + c] = std::polar(a, ph);
        }
    }
    return w;
}

std::vector<double>
NrBeamManager::MeasureCodebook(uint32_t g, uint32_t u)
{
    const auto shape = m_channel->GetGnbArrayShape(g);
    const auto& c = m_channel->GetCombinedChannel(g, u);
    return CodebookGains(c, m_channel->GetNSubbands(), shape.first, shape.second, m_overH,
                         m_overV);
}

void
NrBeamManager::ApplyAll()
{
    for (uint32_t u = 0; u < m_serving.size(); ++u)
    {
        if (!m_paused[u])
        {
            Apply(u);
        }
    }
}

void
NrBeamManager::Apply(uint32_t u)
{
    const uint32_t g = m_serving[u];
    switch (m_policy)
    {
    case DFT_CODEBOOK: {
        const auto gains = MeasureCodebook(g, u);
        uint32_t best = 0;
        for (uint32_t k = 1; k < gains.size(); ++k)
        {
            if (gains[k] > gains[best])
            {
                best = k;
            }
        }
        if (m_codeword[u] != int64_t(best) || m_channel->IsGnbBeamDefault(g, u))
        {
            SetGnbBeam(g, u, GetCodeword(g, best), best);
        }
        break;
    }
    case LOS_DIRECTION: {
        const auto a = m_channel->GetLosAngles(g, u);
        SetGnbBeam(g, u, m_channel->GetGnbSteeringVector(g, a.first, a.second), -1);
        if (m_channel->GetNUeAntennas(u) > 1)
        {
            // arrival direction at the UE: the opposite of the departure direction
            m_channel->SetUeBeam(
                u,
                m_channel->GetUeSteeringVector(u, a.first + M_PI, M_PI - a.second));
        }
        break;
    }
    case IDEAL:
        ApplyIdeal(g, u);
        break;
    }
}

void
NrBeamManager::SetCsiSource(CsiSource source)
{
    m_csiSource = source;
}

void
NrBeamManager::OnCsiUpdated(uint32_t u)
{
    CheckUe(u);
    if (m_policy == IDEAL && !m_paused[u])
    {
        Apply(u);
    }
}

void
NrBeamManager::ApplyIdeal(uint32_t g, uint32_t u)
{
    const auto shape = m_channel->GetGnbArrayShape(g);
    const uint32_t nTx = m_channel->GetNGnbAntennas(g);
    const uint32_t nRx = m_channel->GetNUeAntennas(u);
    const uint32_t nSb = m_channel->GetNSubbands();
    const std::vector<Complex>* csi = m_csiSource.IsNull() ? nullptr : m_csiSource(g, u);
    const auto& h = csi ? *csi : m_channel->GetChannelMatrix(g, u); // [r][t][sb]
    // rows m = H_sb[r][:], for every (sb, r)
    std::vector<Complex> M(nSb * nRx * nTx);
    for (uint32_t r = 0; r < nRx; ++r)
    {
        for (uint32_t t = 0; t < nTx; ++t)
        {
            for (uint32_t sb = 0; sb < nSb; ++sb)
            {
                M[(sb * nRx + r) * nTx + t] = h[(r * nTx + t) * nSb + sb];
            }
        }
    }
    const auto gains =
        CodebookGains(M, nSb * nRx, shape.first, shape.second, m_overH, m_overV);
    uint32_t best = 0;
    for (uint32_t k = 1; k < gains.size(); ++k)
    {
        if (gains[k] > gains[best])
        {
            best = k;
        }
    }
    std::vector<Complex> v = GetCodeword(g, best);
    PowerIteration(M, nSb * nRx, nTx, v, m_maxIterations); // of R = sum_sb H^H H
    SetGnbBeam(g, u, v, -1);
    if (nRx > 1)
    {
        // receive combining: dominant eigenvector of sum_sb (H v)(H v)^H = Y^H Y, where row sb
        // of Y is (H_sb v)^H
        std::vector<Complex> Y(nSb * nRx);
        for (uint32_t sb = 0; sb < nSb; ++sb)
        {
            for (uint32_t r = 0; r < nRx; ++r)
            {
                Complex acc(0, 0);
                const Complex* m = &M[(sb * nRx + r) * nTx];
                for (uint32_t t = 0; t < nTx; ++t)
                {
                    acc += m[t] * v[t];
                }
                Y[sb * nRx + r] = std::conj(acc);
            }
        }
        std::vector<Complex> w = m_channel->GetUeBeam(u);
        PowerIteration(Y, nSb, nRx, w, m_maxIterations);
        m_channel->SetUeBeam(u, w);
    }
}

void
NrBeamManager::OnChannelUpdated(Time now)
{
    if (m_applying)
    {
        return;
    }
    m_applying = true;
    UpdateServing();
    if (m_policy != DFT_CODEBOOK)
    {
        ApplyAll(); // the codebook policy waits for its next sweep
    }
    m_applying = false;
}

void
NrBeamManager::Sweep()
{
    ApplyAll();
    m_sweepEvent = Simulator::Schedule(m_measurementPeriod, &NrBeamManager::Sweep, this);
}

} // namespace ns3
