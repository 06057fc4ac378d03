/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "three-gpp-nr-channel.h"

#include "ns3/angles.h"
#include "ns3/boolean.h"
#include "ns3/constant-position-mobility-model.h"
#include "ns3/double.h"
#include "ns3/isotropic-antenna-model.h"
#include "ns3/log.h"
#include "ns3/object-factory.h"
#include "ns3/pointer.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/three-gpp-antenna-model.h"
#include "ns3/three-gpp-channel-model.h"
#include "ns3/uinteger.h"

#include <cmath>
#include <stdexcept>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("ThreeGppNrChannel");
NS_OBJECT_ENSURE_REGISTERED(ThreeGppNrChannel);

namespace
{
constexpr double kSpeedOfLight = 299792458.0; //!< m/s
constexpr double kDeg = M_PI / 180.0;

/** \return the unit vector of (azimuth, inclination), rad */
Vector
Direction(double az, double incl)
{
    return Vector(std::sin(incl) * std::cos(az), std::sin(incl) * std::sin(az), std::cos(incl));
}

double
Dot(const Vector& a, const Vector& b)
{
    return a.x * b.x + a.y * b.y + a.z * b.z;
}
} // namespace

TypeId
ThreeGppNrChannel::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::ThreeGppNrChannel")
            .SetParent<NrChannel>()
            .SetGroupName("Edgelam")
            .AddConstructor<ThreeGppNrChannel>()
            .AddAttribute("UpdatePeriod",
                          "Period of the channel (CSI) updates: every pair's per-subband response, "
                          "path gain and LOS angles are recomputed at the first query after each "
                          "multiple of it, with the cluster Doppler phases of TR 38.901 §7.6.3.2 "
                          "eq. 7.6-9 advanced to that instant. 0: computed once.",
                          TimeValue(Time(0)),
                          MakeTimeAccessor(&ThreeGppNrChannel::m_updatePeriod),
                          MakeTimeChecker())
            .AddAttribute("FadingUpdatePeriod",
                          "ThreeGppChannelModel::UpdatePeriod: period after which ns-3 draws a "
                          "new small-scale realization (new clusters, independent of the "
                          "previous ones: ns-3 3.37 has no spatial consistency, TR 38.901 "
                          "§7.6.3); 0: the realization is kept. Read at Configure.",
                          TimeValue(Time(0)),
                          MakeTimeAccessor(&ThreeGppNrChannel::m_fadingUpdatePeriod),
                          MakeTimeChecker())
            .AddAttribute("StaticUeFadingSpeedKmh",
                          "Speed whose Doppler the small-scale fading of a UE that does not move "
                          "follows, km/h: its clusters' phases rotate as if it moved at this "
                          "speed in a direction drawn once per UE (uniform in azimuth), while its "
                          "position, path loss, shadowing and LOS state stay those of the drop, "
                          "as in a TR 38.901 §7.8 calibration drop (UE speed 3 km/h, Table "
                          "7.8-2). 0: a static UE's channel stays frozen. Moving UEs use their "
                          "own velocity. The phases advance at each UpdatePeriod.",
                          DoubleValue(0.0),
                          MakeDoubleAccessor(&ThreeGppNrChannel::m_staticUeFadingSpeedKmh),
                          MakeDoubleChecker<double>(0.0, 500.0))
            .AddAttribute("ShadowingEnabled",
                          "Log-normal shadow fading of TR 38.901 Table 7.4.1-1 in the path gain. "
                          "Read at Configure.",
                          BooleanValue(true),
                          MakeBooleanAccessor(&ThreeGppNrChannel::m_shadowing),
                          MakeBooleanChecker())
            .AddAttribute("Condition",
                          "LOS condition: \"3gpp\" draws it per TR 38.901 Table 7.4.2-1 for the "
                          "scenario; \"los\" or \"nlos\" forces it. Read at Configure.",
                          StringValue("3gpp"),
                          MakeStringAccessor(&ThreeGppNrChannel::m_condition),
                          MakeStringChecker())
            .AddAttribute("GnbNoiseFigure",
                          "gNB receiver noise figure, dB (TR 38.802 Table A.2.1-1 uses 5 dB).",
                          DoubleValue(5.0),
                          MakeDoubleAccessor(&ThreeGppNrChannel::m_gnbNoiseFigureDb),
                          MakeDoubleChecker<double>(0.0, 30.0));
    return tid;
}

ThreeGppNrChannel::ThreeGppNrChannel()
    : m_directionRng(CreateObject<UniformRandomVariable>())
{
}

ThreeGppNrChannel::~ThreeGppNrChannel() = default;

void
ThreeGppNrChannel::DoDispose()
{
    m_gnbArrays.clear();
    m_images.clear();
    m_imageArrays.clear();
    m_ues.clear();
    m_links.clear();
    m_gain.clear();
    m_channelModel = nullptr;
    m_lossModel = nullptr;
    m_conditionModel = nullptr;
    NrChannel::DoDispose();
}

void
ThreeGppNrChannel::Configure(const std::string& scenario, double carrierHz, double bandwidthHz,
                             uint32_t nSubbands)
{
    if (m_configured)
    {
        throw std::logic_error("ThreeGppNrChannel::Configure: already configured");
    }
    if (!(carrierHz >= 0.5e9 && carrierHz <= 100e9))
    {
        throw std::invalid_argument("carrier frequency must be in 0.5-100 GHz (TR 38.901 §7.1)");
    }
    if (!(bandwidthHz > 0 && bandwidthHz < carrierHz) || nSubbands == 0)
    {
        throw std::invalid_argument("bandwidth must be > 0 Hz (and below the carrier), "
                                    "number of subbands >= 1");
    }
    if (scenario == "UMa")
    {
        m_conditionModel = CreateObject<ThreeGppUmaChannelConditionModel>();
        m_lossModel = CreateObject<ThreeGppUmaPropagationLossModel>();
    }
    else if (scenario == "UMi-StreetCanyon")
    {
        m_conditionModel = CreateObject<ThreeGppUmiStreetCanyonChannelConditionModel>();
        m_lossModel = CreateObject<ThreeGppUmiStreetCanyonPropagationLossModel>();
    }
    else if (scenario == "RMa")
    {
        m_conditionModel = CreateObject<ThreeGppRmaChannelConditionModel>();
        m_lossModel = CreateObject<ThreeGppRmaPropagationLossModel>();
    }
    else if (scenario == "InH-OfficeMixed")
    {
        m_conditionModel = CreateObject<ThreeGppIndoorMixedOfficeChannelConditionModel>();
        m_lossModel = CreateObject<ThreeGppIndoorOfficePropagationLossModel>();
    }
    else if (scenario == "InH-OfficeOpen")
    {
        m_conditionModel = CreateObject<ThreeGppIndoorOpenOfficeChannelConditionModel>();
        m_lossModel = CreateObject<ThreeGppIndoorOfficePropagationLossModel>();
    }
    else
    {
        throw std::invalid_argument("scenario must be one of UMi-StreetCanyon, UMa, RMa, "
                                    "InH-OfficeMixed, InH-OfficeOpen (TR 38.901 §7.2), got '" +
                                    scenario + "'");
    }
    if (m_condition == "los")
    {
        m_conditionModel = CreateObject<AlwaysLosChannelConditionModel>();
    }
    else if (m_condition == "nlos")
    {
        m_conditionModel = CreateObject<NeverLosChannelConditionModel>();
    }
    else if (m_condition != "3gpp")
    {
        throw std::invalid_argument("Condition must be '3gpp', 'los' or 'nlos', got '" +
                                    m_condition + "'");
    }
    m_scenario = scenario;
    SetBand(carrierHz, bandwidthHz, nSubbands);
    m_subbandHz.resize(nSubbands);
    for (uint32_t sb = 0; sb < nSubbands; ++sb)
    {
        m_subbandHz[sb] = carrierHz - bandwidthHz / 2 + (sb + 0.5) * bandwidthHz / nSubbands;
    }

    m_lossModel->SetAttribute("Frequency", DoubleValue(carrierHz));
    m_lossModel->SetAttribute("ShadowingEnabled", BooleanValue(m_shadowing));
    m_lossModel->SetChannelConditionModel(m_conditionModel);

    m_channelModel = CreateObject<ThreeGppChannelModel>();
    m_channelModel->SetAttribute("Scenario", StringValue(scenario));
    m_channelModel->SetAttribute("Frequency", DoubleValue(carrierHz));
    m_channelModel->SetAttribute("UpdatePeriod", TimeValue(m_fadingUpdatePeriod));
    m_channelModel->SetChannelConditionModel(m_conditionModel);
    m_configured = true;
}

void
ThreeGppNrChannel::RequireConfigured() const
{
    if (!m_configured)
    {
        throw std::logic_error("ThreeGppNrChannel: Configure() first");
    }
}

void
ThreeGppNrChannel::CheckGnb(uint32_t g) const
{
    GetGnb(g);
}

void
ThreeGppNrChannel::CheckUe(uint32_t u) const
{
    GetUe(u);
}

Ptr<UniformPlanarArray>
ThreeGppNrChannel::MakeGnbArray(uint32_t g) const
{
    const Terminal& t = GetGnb(g);
    return CreateObjectWithAttributes<UniformPlanarArray>(
        "NumRows", UintegerValue(t.rows),
        "NumColumns", UintegerValue(t.cols),
        "AntennaHorizontalSpacing", DoubleValue(0.5),
        "AntennaVerticalSpacing", DoubleValue(0.5),
        "BearingAngle", DoubleValue(t.bearingRad),
        "AntennaElement", PointerValue(CreateObject<ThreeGppAntennaModel>()));
}

void
ThreeGppNrChannel::DoAddGnb(uint32_t g)
{
    m_gnbArrays.push_back(MakeGnbArray(g));
    m_images.emplace_back(7);
    m_imageArrays.emplace_back(7);
    const Vector p = GetGnb(g).mobility->GetPosition();
    uint32_t site = g;
    for (uint32_t h = 0; h < g && site == g; ++h)
    {
        if (CalculateDistance(GetGnb(h).mobility->GetPosition(), p) < 1e-3)
        {
            site = m_siteOf[h]; // a sector of h's site
        }
    }
    m_siteOf.push_back(site);
    ResizeCaches();
}

ThreeGppNrChannel::GnbView
ThreeGppNrChannel::GnbSeenBy(uint32_t g, uint32_t u)
{
    const Terminal& site = GetGnb(m_siteOf[g]);
    const uint32_t k = GetGnbImage(g, u);
    if (k == 0)
    {
        return {site.node, site.mobility, m_gnbArrays[g]};
    }
    GnbView& image = m_images[m_siteOf[g]][k];
    if (!image.node)
    {
        // ns-3's channel, loss and condition models key their state on node ids (and the
        // channel matrix on array ids): the image is a node of its own
        image.node = CreateObject<Node>();
        auto m = CreateObject<ConstantPositionMobilityModel>();
        const Vector p = site.mobility->GetPosition();
        const Vector s = GetWraparound()->GetShifts()[k];
        m->SetPosition(Vector(p.x + s.x, p.y + s.y, p.z));
        image.node->AggregateObject(m);
        image.mobility = m;
    }
    Ptr<UniformPlanarArray>& array = m_imageArrays[g][k];
    if (!array)
    {
        array = MakeGnbArray(g);
    }
    return {image.node, image.mobility, array};
}

double
ThreeGppNrChannel::GetGnbElementGainDb(uint32_t g, double azimuth, double inclination) const
{
    CheckGnb(g);
    const auto f = m_gnbArrays[g]->GetElementFieldPattern(Angles(azimuth, inclination));
    return 10.0 * std::log10(f.first * f.first + f.second * f.second);
}

void
ThreeGppNrChannel::DoAddUe(uint32_t u)
{
    const Terminal& t = GetUe(u);
    UeState s;
    s.noiseW = DbmToW(-174.0 + 10 * std::log10(GetSubbandWidth()) + t.noiseFigureDb);
    s.array = CreateObjectWithAttributes<UniformPlanarArray>(
        "NumRows", UintegerValue(t.rows),
        "NumColumns", UintegerValue(t.cols),
        "AntennaHorizontalSpacing", DoubleValue(0.5),
        "AntennaVerticalSpacing", DoubleValue(0.5),
        "AntennaElement", PointerValue(CreateObject<IsotropicAntennaModel>()));
    s.beam.assign(t.rows * t.cols, Complex(1.0, 0.0));
    Normalise(s.beam);
    m_ues.push_back(s);
    ResizeCaches();
}

void
ThreeGppNrChannel::ResizeCaches()
{
    const uint32_t nG = GetNGnbs();
    const uint32_t nU = GetNUes();
    m_links.resize(nG);
    m_gain.resize(nG);
    for (uint32_t g = 0; g < nG; ++g)
    {
        m_links[g].resize(nU);
        m_gain[g].resize(nU);
        for (uint32_t v = 0; v < nU; ++v)
        {
            m_gain[g][v].resize(nU);
        }
    }
    m_dirty = true;
}

std::pair<uint32_t, uint32_t>
ThreeGppNrChannel::GetGnbArrayShape(uint32_t g) const
{
    const Terminal& t = GetGnb(g);
    return {t.rows, t.cols};
}

double
ThreeGppNrChannel::GetSubbandFrequency(uint32_t sb) const
{
    return m_subbandHz.at(sb);
}

uint64_t
ThreeGppNrChannel::GetNUpdates() const
{
    return m_nUpdates;
}

Ptr<ThreeGppChannelModel>
ThreeGppNrChannel::GetChannelModel() const
{
    return m_channelModel;
}

int64_t
ThreeGppNrChannel::CurrentEpoch() const
{
    if (m_updatePeriod.IsZero())
    {
        return 0;
    }
    return Simulator::Now().GetTimeStep() / m_updatePeriod.GetTimeStep();
}

void
ThreeGppNrChannel::MaybeUpdate()
{
    const int64_t epoch = CurrentEpoch();
    if (epoch == m_epoch && !m_dirty)
    {
        return;
    }
    Update();
}

void
ThreeGppNrChannel::Update()
{
    RequireConfigured();
    const int64_t epoch = CurrentEpoch();
    bool any = false;
    for (uint32_t g = 0; g < GetNGnbs(); ++g)
    {
        for (uint32_t u = 0; u < GetNUes(); ++u)
        {
            if (m_links[g][u].epoch != epoch)
            {
                ComputeLink(g, u);
                m_links[g][u].epoch = epoch;
                any = true;
            }
        }
    }
    m_epoch = epoch;
    m_dirty = false;
    if (any)
    {
        ++m_nUpdates;
        NotifyUpdated(); // listeners (beam policies) may query and set beams from here
    }
}

void
ThreeGppNrChannel::ComputeLink(uint32_t g, uint32_t u)
{
    const GnbView gnb = GnbSeenBy(g, u);
    const Terminal& ue = GetUe(u);
    const Ptr<UniformPlanarArray>& gnbArray = gnb.array;
    const Ptr<UniformPlanarArray>& ueArray = m_ues[u].array;
    Link& L = m_links[g][u];

    Ptr<ChannelCondition> cond = m_conditionModel->GetChannelCondition(gnb.mobility, ue.mobility);
    L.los = cond->IsLos();
    const uint8_t imageBit = 1u << GetGnbImage(g, u);
    if (!(L.shadowingDrawn & imageBit))
    {
        // ns-3 3.37's ThreeGppPropagationLossModel::GetShadowing stores the pair's position
        // vector only from its second call on (the first stores (0, 0, 0)), so its second call
        // would correlate with a "displacement" of the whole distance and draw the shadowing
        // afresh. This first call takes that draw; the value kept is the second, a N(0, sigma^2)
        // draw, which later calls correlate per TR 38.901 §7.4.4 (exp(-displacement / d_cor))
        // as the UE moves and keep unchanged while it does not.
        m_lossModel->CalcRxPower(0.0, gnb.mobility, ue.mobility);
        L.shadowingDrawn |= imageBit;
    }
    L.pathGainDb = m_lossModel->CalcRxPower(0.0, gnb.mobility, ue.mobility);
    Angles los(ue.mobility->GetPosition(), gnb.mobility->GetPosition());
    L.losAngles = {los.GetAzimuth(), los.GetInclination()};

    auto m = m_channelModel->GetChannel(gnb.mobility, ue.mobility, gnbArray, ueArray);
    auto p = m_channelModel->GetParams(gnb.mobility, ue.mobility);
    // H_n is generated as [u-node antenna][s-node antenna][cluster]; we want [UE][gNB].
    const bool reverse = m->IsReverse(gnbArray->GetId(), ueArray->GetId());
    const bool paramsReverse = p->m_nodeIds.first != gnb.node->GetId();
    const uint32_t nRx = ue.rows * ue.cols;
    const uint32_t nTx = GetNGnbAntennas(g);
    const uint32_t nCl = std::min<size_t>(m->m_channel[0][0].size(), p->m_delay.size());
    const uint32_t nSb = GetNSubbands();

    // Per-cluster Doppler phase (as ThreeGppSpectrumPropagationLossModel::CalcBeamformingGain,
    // with t counted from the realization's generation) times the delay phase per subband.
    const double t = (Simulator::Now() - m->m_generatedTime).GetSeconds();
    const double factor = 2 * M_PI * t * GetCarrierHz() / kSpeedOfLight;
    const Vector vUe = FadingVelocity(u);
    const Vector vGnb = gnb.mobility->GetVelocity();
    const auto& ang = p->m_angle;
    const uint8_t iAoa = paramsReverse ? MatrixBasedChannelModel::AOD_INDEX
                                       : MatrixBasedChannelModel::AOA_INDEX;
    const uint8_t iZoa = paramsReverse ? MatrixBasedChannelModel::ZOD_INDEX
                                       : MatrixBasedChannelModel::ZOA_INDEX;
    const uint8_t iAod = paramsReverse ? MatrixBasedChannelModel::AOA_INDEX
                                       : MatrixBasedChannelModel::AOD_INDEX;
    const uint8_t iZod = paramsReverse ? MatrixBasedChannelModel::ZOA_INDEX
                                       : MatrixBasedChannelModel::ZOD_INDEX;
    std::vector<Complex> e(nCl * nSb);
    for (uint32_t n = 0; n < nCl; ++n)
    {
        const Vector rRx = Direction(ang[iAoa][n] * kDeg, ang[iZoa][n] * kDeg);
        const Vector rTx = Direction(ang[iAod][n] * kDeg, ang[iZod][n] * kDeg);
        const double alphaD = (n < p->m_alpha.size() && n < p->m_D.size())
                                  ? 2 * p->m_alpha[n] * p->m_D[n]
                                  : 0.0;
        const double doppler = factor * (Dot(rRx, vUe) + Dot(rTx, vGnb) + alphaD);
        for (uint32_t sb = 0; sb < nSb; ++sb)
        {
            const double phase = doppler - 2 * M_PI * m_subbandHz[sb] * p->m_delay[n];
            e[n * nSb + sb] = std::polar(1.0, phase);
        }
    }

    L.h.assign(nRx * nTx * nSb, Complex(0, 0));
    for (uint32_t r = 0; r < nRx; ++r)
    {
        for (uint32_t s = 0; s < nTx; ++s)
        {
            const auto& hn = reverse ? m->m_channel[s][r] : m->m_channel[r][s];
            Complex* out = &L.h[(r * nTx + s) * nSb];
            for (uint32_t n = 0; n < nCl; ++n)
            {
                const Complex c = hn[n];
                const Complex* en = &e[n * nSb];
                for (uint32_t sb = 0; sb < nSb; ++sb)
                {
                    out[sb] += c * en[sb];
                }
            }
        }
    }
    L.combinedValid = false;
    for (uint32_t v = 0; v < GetNUes(); ++v)
    {
        m_gain[g][v][u].valid = false;
    }
    if (L.beamDefault)
    {
        L.gnbBeam = GetGnbSteeringVector(g, L.losAngles.first, L.losAngles.second);
        InvalidateGnbBeam(g, u);
    }
}

Vector
ThreeGppNrChannel::FadingVelocity(uint32_t u)
{
    const Vector v = GetUe(u).mobility->GetVelocity();
    if (v.GetLength() > 0 || m_staticUeFadingSpeedKmh <= 0)
    {
        return v;
    }
    UeState& s = m_ues[u];
    if (!s.fadingDirectionDrawn)
    {
        // drawn at the first channel computation, after AssignStreams fixed the stream
        s.fadingAzimuthRad = m_directionRng->GetValue(0, 2 * M_PI);
        s.fadingDirectionDrawn = true;
    }
    const double speed = m_staticUeFadingSpeedKmh / 3.6;
    return Vector(speed * std::cos(s.fadingAzimuthRad), speed * std::sin(s.fadingAzimuthRad), 0);
}

const ThreeGppNrChannel::Link&
ThreeGppNrChannel::CurrentLink(uint32_t g, uint32_t u)
{
    CheckGnb(g);
    CheckUe(u);
    MaybeUpdate();
    return m_links[g][u];
}

const std::vector<NrChannel::Complex>&
ThreeGppNrChannel::GetChannelMatrix(uint32_t g, uint32_t u)
{
    return CurrentLink(g, u).h;
}

double
ThreeGppNrChannel::GetPathGainDb(uint32_t g, uint32_t u)
{
    return CurrentLink(g, u).pathGainDb;
}

bool
ThreeGppNrChannel::IsLos(uint32_t g, uint32_t u)
{
    return CurrentLink(g, u).los;
}

std::pair<double, double>
ThreeGppNrChannel::GetLosAngles(uint32_t g, uint32_t u)
{
    return CurrentLink(g, u).losAngles;
}

void
ThreeGppNrChannel::InvalidateGnbBeam(uint32_t g, uint32_t v)
{
    for (auto& entry : m_gain[g][v])
    {
        entry.valid = false;
    }
}

void
ThreeGppNrChannel::SetGnbBeam(uint32_t g, uint32_t u, const std::vector<Complex>& w)
{
    CheckGnb(g);
    CheckUe(u);
    if (w.size() != GetNGnbAntennas(g))
    {
        throw std::invalid_argument("SetGnbBeam: one weight per gNB antenna element");
    }
    MaybeUpdate(); // so that a pending default re-steer does not overwrite this beam
    Link& L = m_links[g][u];
    L.gnbBeam = w;
    Normalise(L.gnbBeam);
    L.beamDefault = false;
    InvalidateGnbBeam(g, u);
}

void
ThreeGppNrChannel::ResetGnbBeam(uint32_t g, uint32_t u)
{
    CheckGnb(g);
    CheckUe(u);
    Link& L = m_links[g][u];
    L.beamDefault = true;
    Angles los(GetUe(u).mobility->GetPosition(), GetGnbPositionSeenBy(g, u));
    L.gnbBeam = GetGnbSteeringVector(g, los.GetAzimuth(), los.GetInclination());
    InvalidateGnbBeam(g, u);
}

bool
ThreeGppNrChannel::IsGnbBeamDefault(uint32_t g, uint32_t u) const
{
    CheckGnb(g);
    CheckUe(u);
    return m_links[g][u].beamDefault;
}

const std::vector<NrChannel::Complex>&
ThreeGppNrChannel::GetGnbBeam(uint32_t g, uint32_t u) const
{
    CheckGnb(g);
    CheckUe(u);
    const Link& L = m_links[g][u];
    if (L.gnbBeam.empty())
    {
        // not computed yet: the default, toward the current LOS direction
        Angles los(GetUe(u).mobility->GetPosition(), GetGnbPositionSeenBy(g, u));
        const_cast<Link&>(L).gnbBeam =
            GetGnbSteeringVector(g, los.GetAzimuth(), los.GetInclination());
    }
    return L.gnbBeam;
}

void
ThreeGppNrChannel::SetUeBeam(uint32_t u, const std::vector<Complex>& w)
{
    CheckUe(u);
    if (w.size() != GetNUeAntennas(u))
    {
        throw std::invalid_argument("SetUeBeam: one weight per UE antenna element");
    }
    m_ues[u].beam = w;
    Normalise(m_ues[u].beam);
    for (uint32_t g = 0; g < GetNGnbs(); ++g)
    {
        m_links[g][u].combinedValid = false;
        for (uint32_t v = 0; v < GetNUes(); ++v)
        {
            m_gain[g][v][u].valid = false;
        }
    }
}

const std::vector<NrChannel::Complex>&
ThreeGppNrChannel::GetUeBeam(uint32_t u) const
{
    CheckUe(u);
    return m_ues[u].beam;
}

std::vector<NrChannel::Complex>
ThreeGppNrChannel::GetGnbSteeringVector(uint32_t g, double azimuth, double inclination) const
{
    CheckGnb(g);
    // ns-3's array response: H_n carries exp(+j 2 pi r.d) for element location d (in
    // wavelengths); the transmit weights that add up coherently are its conjugate, which is
    // PhasedArrayModel::GetSteeringVector, normalised.
    auto w = m_gnbArrays[g]->GetSteeringVector(Angles(azimuth, inclination));
    std::vector<Complex> out(w.begin(), w.end());
    Normalise(out);
    return out;
}

std::vector<NrChannel::Complex>
ThreeGppNrChannel::GetUeSteeringVector(uint32_t u, double azimuth, double inclination) const
{
    CheckUe(u);
    // combining w^H H is coherent for w = the array response, the conjugate of ns-3's
    // steering vector (ns-3's GetBeamformingVector)
    auto a = m_ues[u].array->GetSteeringVector(Angles(azimuth, inclination));
    std::vector<Complex> out(a.size());
    for (size_t i = 0; i < a.size(); ++i)
    {
        out[i] = std::conj(a[i]);
    }
    Normalise(out);
    return out;
}

const std::vector<NrChannel::Complex>&
ThreeGppNrChannel::GetCombinedChannel(uint32_t g, uint32_t u)
{
    CheckGnb(g);
    CheckUe(u);
    MaybeUpdate();
    Link& L = m_links[g][u];
    if (!L.combinedValid)
    {
        const uint32_t nRx = GetNUeAntennas(u);
        const uint32_t nTx = GetNGnbAntennas(g);
        const uint32_t nSb = GetNSubbands();
        const auto& wu = m_ues[u].beam;
        L.combined.assign(nSb * nTx, Complex(0, 0));
        for (uint32_t r = 0; r < nRx; ++r)
        {
            const Complex cw = std::conj(wu[r]);
            for (uint32_t s = 0; s < nTx; ++s)
            {
                const Complex* h = &L.h[(r * nTx + s) * nSb];
                for (uint32_t sb = 0; sb < nSb; ++sb)
                {
                    L.combined[sb * nTx + s] += cw * h[sb];
                }
            }
        }
        L.combinedValid = true;
    }
    return L.combined;
}

const std::vector<double>&
ThreeGppNrChannel::GetBeamGain(uint32_t g, uint32_t v, uint32_t u)
{
    CheckGnb(g);
    CheckUe(v);
    CheckUe(u);
    MaybeUpdate();
    GainEntry& entry = m_gain[g][v][u];
    if (entry.valid)
    {
        return entry.gain;
    }
    const auto& c = GetCombinedChannel(g, u);
    const auto& w = GetGnbBeam(g, v);
    const uint32_t nTx = w.size();
    const double pg = std::pow(10.0, m_links[g][u].pathGainDb / 10.0);
    const uint32_t nSb = GetNSubbands();
    entry.gain.resize(nSb);
    for (uint32_t sb = 0; sb < nSb; ++sb)
    {
        Complex y(0, 0);
        const Complex* row = &c[sb * nTx];
        for (uint32_t s = 0; s < nTx; ++s)
        {
            y += row[s] * w[s];
        }
        entry.gain[sb] = std::norm(y) * pg;
    }
    entry.valid = true;
    return entry.gain;
}

double
ThreeGppNrChannel::GetUeNoiseW(uint32_t u) const
{
    CheckUe(u);
    return m_ues[u].noiseW;
}

double
ThreeGppNrChannel::GetGnbNoiseW(uint32_t g) const
{
    CheckGnb(g);
    RequireConfigured();
    return DbmToW(-174.0 + 10 * std::log10(GetSubbandWidth()) + m_gnbNoiseFigureDb);
}

int64_t
ThreeGppNrChannel::AssignStreams(int64_t stream)
{
    RequireConfigured();
    int64_t n = 0;
    n += m_channelModel->AssignStreams(stream + n);
    n += m_lossModel->AssignStreams(stream + n);
    n += m_conditionModel->AssignStreams(stream + n);
    m_directionRng->SetStream(stream + n);
    return n + 1;
}

} // namespace ns3
