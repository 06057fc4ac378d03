/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-radio-helper.h"

#include "ns3/boolean.h"
#include "ns3/constant-position-mobility-model.h"
#include "ns3/hexagonal-wraparound.h"
#include "ns3/nr-bandwidth.h"
#include "ns3/constant-velocity-mobility-model.h"
#include "ns3/double.h"
#include "ns3/internet-stack-helper.h"
#include "ns3/ipv4-address-helper.h"
#include "ns3/ipv4-static-routing-helper.h"
#include "ns3/ipv4.h"
#include "ns3/log.h"
#include "ns3/net-device-queue-interface.h"
#include "ns3/pointer.h"
#include "ns3/random-walk-2d-mobility-model.h"
#include "ns3/rectangle.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/traffic-control-helper.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("NrRadioHelper");
NS_OBJECT_ENSURE_REGISTERED(NrRadioHelper);

TypeId
NrRadioHelper::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::NrRadioHelper")
            .SetParent<Object>()
            .SetGroupName("Edgelam")
            .AddConstructor<NrRadioHelper>()
            .AddAttribute("Scenario",
                          "TR 38.901 §7.2 scenario given to the channel.",
                          StringValue("UMa"),
                          MakeStringAccessor(&NrRadioHelper::m_scenario),
                          MakeStringChecker())
            .AddAttribute("CarrierHz",
                          "Carrier frequency, Hz.",
                          DoubleValue(3.5e9),
                          MakeDoubleAccessor(&NrRadioHelper::m_carrierHz),
                          MakeDoubleChecker<double>(0.5e9, 100e9))
            .AddAttribute("BandwidthHz",
                          "Carrier bandwidth, Hz (also set on every cell).",
                          DoubleValue(100e6),
                          MakeDoubleAccessor(&NrRadioHelper::m_bandwidthHz),
                          MakeDoubleChecker<double>(1e6))
            .AddAttribute("Numerology",
                          "Numerology mu (TS 38.211 §4.2), set on every cell.",
                          UintegerValue(1),
                          MakeUintegerAccessor(&NrRadioHelper::m_numerology),
                          MakeUintegerChecker<uint32_t>(0, 4))
            .AddAttribute("NumSubbands",
                          "Channel subbands (0: one per RBG).",
                          UintegerValue(0),
                          MakeUintegerAccessor(&NrRadioHelper::m_nSubbands),
                          MakeUintegerChecker<uint32_t>())
            .AddAttribute("GnbTxPowerDbm",
                          "gNB transmit power over the carrier, dBm.",
                          DoubleValue(46.0),
                          MakeDoubleAccessor(&NrRadioHelper::m_gnbTxPowerDbm),
                          MakeDoubleChecker<double>())
            .AddAttribute("UeTxPowerDbm",
                          "UE transmit power, dBm (TS 38.101-1 §6.2.1 power class 3: 23 dBm).",
                          DoubleValue(23.0),
                          MakeDoubleAccessor(&NrRadioHelper::m_ueTxPowerDbm),
                          MakeDoubleChecker<double>())
            .AddAttribute("UeNoiseFigureDb",
                          "UE noise figure, dB (TR 38.802 Table A.2.1-1, TR 38.901 §7.8 "
                          "calibrations: 9 dB).",
                          DoubleValue(9.0),
                          MakeDoubleAccessor(&NrRadioHelper::m_ueNoiseFigureDb),
                          MakeDoubleChecker<double>())
            .AddAttribute("GnbArrayRows", "gNB antenna rows.", UintegerValue(8),
                          MakeUintegerAccessor(&NrRadioHelper::m_gnbRows),
                          MakeUintegerChecker<uint32_t>(1, 64))
            .AddAttribute("GnbArrayCols", "gNB antenna columns.", UintegerValue(8),
                          MakeUintegerAccessor(&NrRadioHelper::m_gnbCols),
                          MakeUintegerChecker<uint32_t>(1, 64))
            .AddAttribute("UeArrayRows", "UE antenna rows.", UintegerValue(1),
                          MakeUintegerAccessor(&NrRadioHelper::m_ueRows),
                          MakeUintegerChecker<uint32_t>(1, 8))
            .AddAttribute("UeArrayCols", "UE antenna columns.", UintegerValue(1),
                          MakeUintegerAccessor(&NrRadioHelper::m_ueCols),
                          MakeUintegerChecker<uint32_t>(1, 8))
            .AddAttribute("GnbHeightM",
                          "gNB height, m (TR 38.901 Table 7.2-1: UMa 25, UMi 10).",
                          DoubleValue(25.0),
                          MakeDoubleAccessor(&NrRadioHelper::m_gnbHeight),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("UeHeightM", "UE height, m (TR 38.901 Table 7.2-1: 1.5).",
                          DoubleValue(1.5),
                          MakeDoubleAccessor(&NrRadioHelper::m_ueHeight),
                          MakeDoubleChecker<double>(0.0))
            .AddAttribute("InterSiteDistanceM",
                          "Inter-site distance of the hexagonal layout, m (TR 38.901 "
                          "Table 7.2-1: UMa 500, UMi 200).",
                          DoubleValue(500.0),
                          MakeDoubleAccessor(&NrRadioHelper::m_isd),
                          MakeDoubleChecker<double>(1.0))
            .AddAttribute("UeDistanceM",
                          "Horizontal distance of every UE from its home gNB, m (negative: "
                          "dropped uniformly in the disc of radius ISD/2).",
                          DoubleValue(-1.0),
                          MakeDoubleAccessor(&NrRadioHelper::m_ueDistance),
                          MakeDoubleChecker<double>())
            .AddAttribute("MinUeDistanceM",
                          "Minimum horizontal UE-gNB distance of dropped UEs, m; negative: the "
                          "scenario's (TR 38.901 Tables 7.2-1, 7.2-2, 7.2-3: UMa 35, RMa 35, "
                          "UMi-StreetCanyon 10, InH 0).",
                          DoubleValue(-1.0),
                          MakeDoubleAccessor(&NrRadioHelper::m_minUeDistance),
                          MakeDoubleChecker<double>())
            .AddAttribute("UePositions",
                          "Explicit UE positions, m: \"x,y,z;x,y,z;...\" (z may be left out: "
                          "UeHeightM), one per UE in UE order; empty: UEs are dropped. A UE with "
                          "a given position moves from there as Mobility says.",
                          StringValue(""),
                          MakeStringAccessor(&NrRadioHelper::m_uePositions),
                          MakeStringChecker())
            .AddAttribute("SectorWidthDeg",
                          "Width of the sector around each gNB's panel bearing in which UEs are "
                          "dropped, degrees (120: one sector of a 3-sector site, TR 38.901 "
                          "§7.8; 360: all around); 3-sector sites drop UEs over their sector's "
                          "hexagonal cell instead, unless UeDistanceM is set.",
                          DoubleValue(120.0),
                          MakeDoubleAccessor(&NrRadioHelper::m_sectorWidthDeg),
                          MakeDoubleChecker<double>(1.0, 360.0))
            .AddAttribute("SectorsPerSite",
                          "Cells per site: 1 (each gNB a site of its own, its panel facing +x, "
                          "sites on a hexagonal lattice with neighbours at 0, 60, ... deg) or 3 "
                          "(gNB g is sector g mod 3 of site g / 3, panel bearings 30, 150, 270 "
                          "deg as ITU-R M.2412-0 and TR 36.814 draw them; sites on the lattice "
                          "with neighbours at 30, 90, ... deg, so that each sector's cell is a "
                          "hexagon of circumradius ISD/3 centred ISD/3 along its boresight).",
                          UintegerValue(1),
                          MakeUintegerAccessor(&NrRadioHelper::m_sectorsPerSite),
                          MakeUintegerChecker<uint32_t>(1, 3))
            .AddAttribute("Wraparound",
                          "Wrap the hexagonal layout around (HexagonalWraparound): every UE "
                          "sees every gNB at its closest image of the cluster's tiling. Needs "
                          "7 or 19 sites at their lattice positions.",
                          BooleanValue(false),
                          MakeBooleanAccessor(&NrRadioHelper::m_wraparound),
                          MakeBooleanChecker())
            .AddAttribute("Mobility",
                          "UE mobility: static, constant-velocity or random-walk.",
                          StringValue("static"),
                          MakeStringAccessor(&NrRadioHelper::m_mobility),
                          MakeStringChecker())
            .AddAttribute("UeSpeedKmh", "UE speed, km/h.", DoubleValue(0.0),
                          MakeDoubleAccessor(&NrRadioHelper::m_ueSpeedKmh),
                          MakeDoubleChecker<double>(0.0))
            .AddTraceSource("TbTrace",
                            "A transport block was transmitted in any cell.",
                            MakeTraceSourceAccessor(&NrRadioHelper::m_tbTrace),
                            "ns3::NrRadioHelper::TbTracedCallback");
    return tid;
}

NrRadioHelper::NrRadioHelper()
    : m_layoutRng(CreateObject<UniformRandomVariable>()),
      m_mobilityRng(CreateObject<UniformRandomVariable>())
{
    m_macFactory.SetTypeId(NrCellMac::GetTypeId());
    m_devFactory.SetTypeId(NrNetDevice::GetTypeId());
}

NrRadioHelper::~NrRadioHelper() = default;

void
NrRadioHelper::DoDispose()
{
    m_slotEvent.Cancel();
    m_cells.clear();
    m_gnbDevs.clear();
    m_ueDevs.clear();
    m_channel = nullptr;
    m_wrap = nullptr;
    m_bler = nullptr;
    m_gnbs = NodeContainer();
    m_ues = NodeContainer();
    Object::DoDispose();
}

void
NrRadioHelper::SetChannel(Ptr<NrChannel> ch)
{
    m_channel = ch;
}

Ptr<NrChannel>
NrRadioHelper::GetChannel() const
{
    return m_channel;
}

void
NrRadioHelper::SetBlerModel(Ptr<NrBlerModel> bler)
{
    m_bler = bler;
}

void
NrRadioHelper::SetMacAttribute(const std::string& name, const AttributeValue& value)
{
    m_macFactory.Set(name, value);
}

void
NrRadioHelper::SetDeviceAttribute(const std::string& name, const AttributeValue& value)
{
    m_devFactory.Set(name, value);
}

void
NrRadioHelper::Create(uint32_t nGnbs, uint32_t nUes)
{
    NodeContainer g;
    g.Create(nGnbs);
    NodeContainer u;
    u.Create(nUes);
    Install(g, u);
}


std::vector<Vector>
NrRadioHelper::ParsePositions(const std::string& text, double defaultZ)
{
    std::vector<Vector> out;
    std::stringstream all(text);
    std::string item;
    while (std::getline(all, item, ';'))
    {
        if (item.find_first_not_of(" \t") == std::string::npos)
        {
            continue;
        }
        std::stringstream one(item);
        std::string field;
        std::vector<double> xyz;
        while (std::getline(one, field, ','))
        {
            std::size_t used = 0;
            double v = 0;
            try
            {
                v = std::stod(field, &used);
            }
            catch (const std::exception&)
            {
                used = 0;
            }
            if (used == 0 || field.find_first_not_of(" \t", used) != std::string::npos)
            {
                throw std::invalid_argument("UePositions: '" + item + "' is not x,y or x,y,z");
            }
            xyz.push_back(v);
        }
        if (xyz.size() != 2 && xyz.size() != 3)
        {
            throw std::invalid_argument("UePositions: '" + item + "' is not x,y or x,y,z");
        }
        out.emplace_back(xyz[0], xyz[1], xyz.size() == 3 ? xyz[2] : defaultZ);
    }
    return out;
}

double
NrRadioHelper::GetMinUeDistanceM() const
{
    if (m_minUeDistance >= 0)
    {
        return m_minUeDistance;
    }
    // TR 38.901 V17 Table 7.2-1 (UMi, UMa), 7.2-2 (InH), 7.2-3 (RMa): min. BS-UT distance (2D)
    if (m_scenario == "UMa" || m_scenario == "RMa")
    {
        return 35.0;
    }
    if (m_scenario.rfind("UMi", 0) == 0)
    {
        return 10.0;
    }
    return 0.0;
}

Vector
NrRadioHelper::DropUe(uint32_t u)
{
    const uint32_t g = u % m_gnbs.GetN();
    const Vector home = m_gnbs.Get(g)->GetObject<MobilityModel>()->GetPosition();
    const double bearing = m_bearings[g];
    const double rMin = GetMinUeDistanceM();
    if (m_sectorsPerSite == 3 && m_ueDistance < 0)
    {
        return DropInSectorHexagon(home, bearing, rMin);
    }
    // within the sector the gNB's panel faces: a 3-sector site's 120 degrees by default; UEs
    // behind the panel would see its -30 dB front-to-back ratio (TR 38.901 Table 7.3-1)
    const double halfSector = 0.5 * m_sectorWidthDeg * M_PI / 180.0;
    const double az = bearing + m_layoutRng->GetValue(-halfSector, halfSector);
    double d = m_ueDistance;
    if (d < 0)
    {
        // uniform over the annulus [min, ISD/2]
        const double rMax = std::max(m_isd / 2.0, rMin);
        const double x = m_layoutRng->GetValue(0, 1);
        d = std::sqrt(rMin * rMin + x * (rMax * rMax - rMin * rMin));
    }
    return Vector(home.x + d * std::cos(az), home.y + d * std::sin(az), m_ueHeight);
}

Vector
NrRadioHelper::DropInSectorHexagon(const Vector& site, double bearing, double rMin)
{
    // the sector's cell: a hexagon of circumradius R = ISD/3 centred R along the boresight,
    // one vertex at the site (vertices at bearing + 180 + 60 k deg, apothem R sqrt(3)/2);
    // uniform by rejection from its bounding square, at least rMin from the site
    const double r = m_isd / 3.0;
    const Vector c(site.x + r * std::cos(bearing), site.y + r * std::sin(bearing), 0);
    const double apothem = r * std::sqrt(3.0) / 2.0;
    for (int tries = 0; tries < 100000; ++tries)
    {
        const double x = m_layoutRng->GetValue(-r, r);
        const double y = m_layoutRng->GetValue(-r, r);
        bool inside = std::hypot(x + c.x - site.x, y + c.y - site.y) >= rMin;
        for (int k = 0; k < 6 && inside; ++k)
        {
            const double a = bearing + M_PI / 6 + k * M_PI / 3; // edge normals
            inside = x * std::cos(a) + y * std::sin(a) <= apothem;
        }
        if (inside)
        {
            return Vector(c.x + x, c.y + y, m_ueHeight);
        }
    }
    throw std::invalid_argument("MinUeDistanceM leaves no room in a sector of ISD " +
                                std::to_string(m_isd) + " m");
}

void
NrRadioHelper::PlaceAndAdd()
{
    const uint32_t nU = m_ues.GetN();
    const double extent = PlaceGnbs();
    const double speed = m_ueSpeedKmh / 3.6;
    if (m_mobility != "static" && m_mobility != "constant-velocity" &&
        m_mobility != "random-walk")
    {
        throw std::invalid_argument("Mobility must be static, constant-velocity or random-walk, "
                                    "got '" + m_mobility + "'");
    }
    const std::vector<Vector> given = ParsePositions(m_uePositions, m_ueHeight);
    if (!given.empty() && given.size() != nU)
    {
        throw std::invalid_argument("UePositions: " + std::to_string(given.size()) +
                                    " positions for " + std::to_string(nU) + " UEs");
    }
    for (uint32_t u = 0; u < nU; ++u)
    {
        Ptr<Node> n = m_ues.Get(u);
        if (n->GetObject<MobilityModel>())
        {
            continue;
        }
        const Vector pos = given.empty() ? DropUe(u) : given[u];
        const double dir = m_mobilityRng->GetValue(0, 2 * M_PI);
        if (m_mobility == "constant-velocity" && speed > 0)
        {
            auto m = CreateObject<ConstantVelocityMobilityModel>();
            m->SetPosition(pos);
            m->SetVelocity(Vector(speed * std::cos(dir), speed * std::sin(dir), 0));
            n->AggregateObject(m);
        }
        else if (m_mobility == "random-walk" && speed > 0)
        {
            auto m = CreateObject<RandomWalk2dMobilityModel>();
            m->SetAttribute("Bounds", RectangleValue(Rectangle(-extent, extent, -extent, extent)));
            m->SetAttribute("Mode", StringValue("Time"));
            m->SetAttribute("Time", TimeValue(Seconds(1.0)));
            m->SetAttribute("Speed", StringValue("ns3::ConstantRandomVariable[Constant=" +
                                                 std::to_string(speed) + "]"));
            m->SetPosition(pos);
            n->AggregateObject(m);
        }
        else
        {
            auto m = CreateObject<ConstantPositionMobilityModel>();
            m->SetPosition(pos);
            n->AggregateObject(m);
        }
    }
}

double
NrRadioHelper::PlaceGnbs()
{
    const uint32_t nG = m_gnbs.GetN();
    const uint32_t nS = m_sectorsPerSite;
    if (nS != 1 && nS != 3)
    {
        throw std::invalid_argument("SectorsPerSite must be 1 or 3, got " + std::to_string(nS));
    }
    if (nG % nS != 0)
    {
        throw std::invalid_argument("SectorsPerSite: " + std::to_string(nG) + " gNBs are not " +
                                    std::to_string(nS) + " sectors per site");
    }
    const uint32_t nSites = nG / nS;
    const double orientation = nS == 3 ? M_PI / 6 : 0.0; // first neighbour's azimuth
    const auto sites =
        HexagonalWraparound::LatticeSites(nSites, m_isd, orientation, m_gnbHeight);
    m_bearings.assign(nG, 0.0);
    double extent = 0;
    for (uint32_t g = 0; g < nG; ++g)
    {
        Ptr<Node> n = m_gnbs.Get(g);
        if (!n->GetObject<MobilityModel>())
        {
            auto m = CreateObject<ConstantPositionMobilityModel>();
            m->SetPosition(sites[g / nS]);
            n->AggregateObject(m);
        }
        else if (m_wraparound)
        {
            const Vector p = n->GetObject<MobilityModel>()->GetPosition();
            const Vector q = sites[g / nS];
            if (std::hypot(p.x - q.x, p.y - q.y) > 1e-6)
            {
                throw std::invalid_argument("Wraparound: gNB " + std::to_string(g) +
                                            " is not at its hexagonal site");
            }
        }
        // 30, 150, 270 deg, given as an azimuth in [-180, 180) (UniformPlanarArray's range)
        const double bearingDeg = nS == 3 ? std::fmod(30.0 + 120.0 * (g % 3) + 180.0, 360.0) -
                                                180.0
                                          : 0.0;
        m_bearings[g] = bearingDeg * M_PI / 180.0;
        const Vector p = n->GetObject<MobilityModel>()->GetPosition();
        extent = std::max(extent, std::hypot(p.x, p.y));
    }
    if (m_wraparound)
    {
        if (nSites != HexagonalWraparound::SitesOfRings(1) &&
            nSites != HexagonalWraparound::SitesOfRings(2))
        {
            throw std::invalid_argument("Wraparound: needs 7 or 19 sites, got " +
                                        std::to_string(nSites));
        }
        m_wrap = CreateObjectWithAttributes<HexagonalWraparound>(
            "InterSiteDistanceM", DoubleValue(m_isd),
            "NumRings", UintegerValue(nSites == 7 ? 1 : 2),
            "LatticeOrientationDeg", DoubleValue(orientation * 180.0 / M_PI));
    }
    return extent + m_isd;
}

void
NrRadioHelper::Install(NodeContainer gnbs, NodeContainer ues)
{
    if (m_installed)
    {
        throw std::logic_error("NrRadioHelper::Install: already installed");
    }
    if (!m_channel || !m_bler)
    {
        throw std::logic_error("NrRadioHelper::Install: SetChannel and SetBlerModel first");
    }
    if (gnbs.GetN() == 0)
    {
        throw std::invalid_argument("NrRadioHelper::Install: at least one gNB");
    }
    m_gnbs = gnbs;
    m_ues = ues;
    PlaceAndAdd();
    m_macFactory.Set("Numerology", UintegerValue(m_numerology));
    m_macFactory.Set("BandwidthHz", DoubleValue(m_bandwidthHz));
    m_macFactory.Set("FrequencyRange",
                     UintegerValue(NrBandwidth::GetFrequencyRange(m_carrierHz)));
    // cells first (N_RBG decides the default subband count)
    for (uint32_t g = 0; g < gnbs.GetN(); ++g)
    {
        m_cells.push_back(m_macFactory.Create<NrCellMac>());
    }
    uint32_t nSb = m_nSubbands;
    if (nSb == 0)
    {
        // a temporary set-up without channel gives N_RBG
        auto probe = m_macFactory.Create<NrCellMac>();
        probe->Setup(0, CreateObject<NrNetDevice>(), nullptr, m_bler);
        nSb = probe->GetNRbg();
        probe->Dispose();
    }
    m_channel->Configure(m_scenario, m_carrierHz, m_bandwidthHz, nSb);
    m_channel->SetWraparound(m_wrap);
    for (uint32_t g = 0; g < gnbs.GetN(); ++g)
    {
        const uint32_t idx = m_channel->AddGnb(gnbs.Get(g), m_gnbRows, m_gnbCols,
                                               m_gnbTxPowerDbm, m_bearings[g]);
        NS_ABORT_MSG_IF(idx != g, "channel gNB index mismatch");
        auto dev = m_devFactory.Create<NrNetDevice>();
        dev->SetRole(NrNetDevice::GNB);
        dev->AggregateObject(CreateObject<NetDeviceQueueInterface>()); // for traffic control
        gnbs.Get(g)->AddDevice(dev);
        m_gnbDevs.push_back(dev);
        m_cells[g]->Setup(g, dev, m_channel, m_bler);
        m_cells[g]->TraceConnectWithoutContext("TbTrace",
                                               MakeCallback(&NrRadioHelper::OnTb, this));
    }
    for (auto& c : m_cells)
    {
        c->SetCells(m_cells);
    }
    for (uint32_t u = 0; u < ues.GetN(); ++u)
    {
        const uint32_t idx = m_channel->AddUe(ues.Get(u), m_ueRows, m_ueCols, m_ueTxPowerDbm,
                                              m_ueNoiseFigureDb);
        NS_ABORT_MSG_IF(idx != u, "channel UE index mismatch");
    }
    // fix the streams before the first channel query below (attachment by path gain draws the
    // LOS conditions, shadowing and clusters): else those draws take the process's automatic
    // streams, and a second simulation in the same process differs for the same seed
    AssignInstalledStreams();
    m_serving.resize(ues.GetN());
    m_indexInCell.resize(ues.GetN());
    for (uint32_t u = 0; u < ues.GetN(); ++u)
    {
        const uint32_t best = StrongestCell(u);
        auto dev = m_devFactory.Create<NrNetDevice>();
        dev->SetRole(NrNetDevice::UE);
        dev->AggregateObject(CreateObject<NetDeviceQueueInterface>());
        ues.Get(u)->AddDevice(dev);
        m_ueDevs.push_back(dev);
        m_serving[u] = best;
        m_indexInCell[u] = m_cells[best]->AddUe(u, dev);
    }
    m_state.assign(N_FIELDS, std::vector<double>(ues.GetN(), 0.0));
    for (auto& p : m_prev)
    {
        p.assign(ues.GetN(), NrMacStats());
    }
    m_ueAddr.assign(ues.GetN(), Ipv4Address());
    m_gnbAddr.assign(gnbs.GetN(), Ipv4Address());
    m_installed = true;
    RefreshLinkStates();
}

uint32_t
NrRadioHelper::StrongestCell(uint32_t u)
{
    uint32_t best = 0;
    double bestDbm = -std::numeric_limits<double>::infinity();
    for (uint32_t g = 0; g < m_gnbs.GetN(); ++g)
    {
        const double dbm = 10.0 * std::log10(m_channel->GetGnbTxPowerW(g) * 1e3) +
                           m_channel->GetCouplingGainDb(g, u);
        if (dbm > bestDbm)
        {
            bestDbm = dbm;
            best = g;
        }
    }
    return best;
}

void
NrRadioHelper::InstallIpv4(Ipv4Address base)
{
    if (!m_installed)
    {
        throw std::logic_error("NrRadioHelper::InstallIpv4 before Install");
    }
    InternetStackHelper stack;
    for (uint32_t i = 0; i < m_gnbs.GetN(); ++i)
    {
        if (!m_gnbs.Get(i)->GetObject<Ipv4>())
        {
            stack.Install(m_gnbs.Get(i));
        }
    }
    for (uint32_t i = 0; i < m_ues.GetN(); ++i)
    {
        if (!m_ues.Get(i)->GetObject<Ipv4>())
        {
            stack.Install(m_ues.Get(i));
        }
    }
    Ipv4AddressHelper addr;
    addr.SetBase(base, Ipv4Mask("255.255.255.0"));
    TrafficControlHelper tch;
    Ipv4StaticRoutingHelper srh;
    for (uint32_t g = 0; g < m_gnbs.GetN(); ++g)
    {
        NetDeviceContainer devs(m_gnbDevs[g]);
        std::vector<uint32_t> members;
        for (uint32_t u = 0; u < m_ues.GetN(); ++u)
        {
            if (m_serving[u] == g)
            {
                devs.Add(m_ueDevs[u]);
                members.push_back(u);
            }
        }
        Ipv4InterfaceContainer ifs = addr.Assign(devs);
        tch.Uninstall(devs);
        m_gnbAddr[g] = ifs.GetAddress(0);
        for (size_t k = 0; k < members.size(); ++k)
        {
            const uint32_t u = members[k];
            m_ueAddr[u] = ifs.GetAddress(k + 1);
            m_gnbDevs[g]->SetUeIpv4(m_indexInCell[u], m_ueAddr[u]);
            Ptr<Ipv4> ipv4 = m_ues.Get(u)->GetObject<Ipv4>();
            const int32_t ifIndex = ipv4->GetInterfaceForDevice(m_ueDevs[u]);
            srh.GetStaticRouting(ipv4)->SetDefaultRoute(m_gnbAddr[g], ifIndex);
        }
        addr.NewNetwork();
    }
}

void
NrRadioHelper::Start()
{
    if (!m_installed)
    {
        throw std::logic_error("NrRadioHelper::Start before Install");
    }
    m_slotEvent.Cancel();
    m_lastRefresh = Simulator::Now();
    m_slotEvent = Simulator::ScheduleNow(&NrRadioHelper::Slot, this);
}

void
NrRadioHelper::Slot()
{
    for (auto& c : m_cells)
    {
        c->Schedule(m_slot);
    }
    for (auto& c : m_cells)
    {
        c->Transmit(m_slot);
    }
    ++m_slot;
    m_slotEvent = Simulator::Schedule(m_cells[0]->GetSlotDuration(), &NrRadioHelper::Slot, this);
}

void
NrRadioHelper::OnTb(const NrTbTraceParams& p)
{
    m_tbTrace(p);
}

uint32_t
NrRadioHelper::GetNGnbs() const
{
    return m_gnbs.GetN();
}

uint32_t
NrRadioHelper::GetNUes() const
{
    return m_ues.GetN();
}

Ptr<Node>
NrRadioHelper::GetGnbNode(uint32_t g) const
{
    return m_gnbs.Get(g);
}

Ptr<Node>
NrRadioHelper::GetUeNode(uint32_t u) const
{
    return m_ues.Get(u);
}

Ptr<NrNetDevice>
NrRadioHelper::GetGnbDevice(uint32_t g) const
{
    return m_gnbDevs.at(g);
}

Ptr<NrNetDevice>
NrRadioHelper::GetUeDevice(uint32_t u) const
{
    return m_ueDevs.at(u);
}

Ptr<NrCellMac>
NrRadioHelper::GetCellMac(uint32_t g) const
{
    return m_cells.at(g);
}

uint32_t
NrRadioHelper::GetServingCell(uint32_t u) const
{
    return m_serving.at(u);
}

uint32_t
NrRadioHelper::GetIndexInCell(uint32_t u) const
{
    return m_indexInCell.at(u);
}

Ipv4Address
NrRadioHelper::GetUeAddress(uint32_t u) const
{
    return m_ueAddr.at(u);
}

Ipv4Address
NrRadioHelper::GetGnbAddress(uint32_t g) const
{
    return m_gnbAddr.at(g);
}

uint64_t
NrRadioHelper::GetNSlots() const
{
    return m_slot;
}

Time
NrRadioHelper::GetSlotDuration() const
{
    return m_cells.at(0)->GetSlotDuration();
}

void
NrRadioHelper::SetUeWeight(uint32_t u, double w)
{
    m_cells.at(m_serving.at(u))->SetUeWeight(m_indexInCell[u], w);
}

void
NrRadioHelper::SetUeShare(uint32_t u, double share)
{
    m_cells.at(m_serving.at(u))->SetUeShare(m_indexInCell[u], share);
}

std::vector<double>&
NrRadioHelper::GetLinkState(Field f)
{
    return m_state.at(f);
}

std::string
NrRadioHelper::GetFieldName(Field f)
{
    static const char* names[] = {"serving_cell",      "sinr_db",           "mcs_dl",
                                  "mcs_ul",            "bler_dl",           "bler_ul",
                                  "dl_bytes",          "ul_bytes",          "dl_throughput_bps",
                                  "ul_throughput_bps", "dl_queue_bytes",    "ul_queue_bytes",
                                  "harq_retx",         "dl_sinr_eff_db",    "csi_age_s",
                                  "sinr_est_db",       "srs_sinr_db",       "dl_layers",
                                  "dl_co_scheduled",   "precoder_gain_db",  "dl_ri",
                                  "dl_cqi",            "dl_pmi"};
    static_assert(sizeof(names) / sizeof(names[0]) == N_FIELDS, "one name per field");
    return names[f];
}

const NrMacStats&
NrRadioHelper::GetMacStats(uint32_t u, NrCellMac::Direction dir) const
{
    return m_cells.at(m_serving.at(u))->GetStats(m_indexInCell[u], dir);
}

NrRadioHelper::Columns
NrRadioHelper::GetMacStatsColumns() const
{
    const uint32_t n = m_ues.GetN();
    Columns out;
    out.emplace_back("serving_cell", std::vector<double>(m_serving.begin(), m_serving.end()));
    const char* dirs[2] = {"dl_", "ul_"};
    for (uint32_t d = 0; d < 2; ++d)
    {
        const size_t first = out.size();
        for (uint32_t u = 0; u < n; ++u)
        {
            const auto values = GetMacStats(u, static_cast<NrCellMac::Direction>(d))
                                    .GetNamedValues();
            for (size_t k = 0; k < values.size(); ++k)
            {
                if (u == 0)
                {
                    out.emplace_back(dirs[d] + values[k].first, std::vector<double>(n));
                }
                out[first + k].second[u] = values[k].second;
            }
        }
    }
    return out;
}

const std::vector<NrChannel::Complex>*
NrRadioHelper::GetCsiMatrix(uint32_t g, uint32_t u)
{
    if (u >= m_serving.size() || m_serving[u] != g || !m_cells[g]->IsSrsCsi())
    {
        return nullptr;
    }
    const auto& e = m_cells[g]->GetCsiEstimate(m_indexInCell[u]);
    return e.valid ? &e.h : nullptr;
}

void
NrRadioHelper::RefreshLinkStates()
{
    const double period = (Simulator::Now() - m_lastRefresh).GetSeconds();
    for (uint32_t u = 0; u < m_ues.GetN(); ++u)
    {
        const uint32_t i = m_indexInCell[u];
        const auto& cell = m_cells[m_serving[u]];
        const auto& dl = GetMacStats(u, NrCellMac::DL);
        const auto& ul = GetMacStats(u, NrCellMac::UL);
        const NrMacStats pdl = dl.Since(m_prev[0][u]);
        const NrMacStats pul = ul.Since(m_prev[1][u]);
        m_state[SERVING_CELL][u] = m_serving[u];
        m_state[SINR_DB][u] = dl.widebandSinrDb;
        m_state[MCS_DL][u] = dl.lastMcs;
        m_state[MCS_UL][u] = ul.lastMcs;
        m_state[BLER_DL][u] = pdl.GetBler();
        m_state[BLER_UL][u] = pul.GetBler();
        m_state[DL_BYTES][u] = pdl.bytes;
        m_state[UL_BYTES][u] = pul.bytes;
        m_state[DL_THROUGHPUT_BPS][u] = period > 0 ? m_state[DL_BYTES][u] * 8 / period : 0;
        m_state[UL_THROUGHPUT_BPS][u] = period > 0 ? m_state[UL_BYTES][u] * 8 / period : 0;
        m_state[DL_QUEUE_BYTES][u] = double(cell->GetQueuedBytes(i, NrCellMac::DL));
        m_state[UL_QUEUE_BYTES][u] = double(cell->GetQueuedBytes(i, NrCellMac::UL));
        m_state[HARQ_RETX][u] = double(pdl.retx + pul.retx);
        m_state[DL_SINR_EFF_DB][u] = dl.lastSinrEffDb;
        const double age = cell->GetCsiAgeSlots(i, NrCellMac::DL);
        m_state[CSI_AGE_S][u] =
            age < 0 ? std::nan("") : age * cell->GetSlotDuration().GetSeconds();
        m_state[SINR_EST_DB][u] = cell->GetEstimatedWidebandSinrDb(i, NrCellMac::DL);
        m_state[SRS_SINR_DB][u] = std::nan("");
        if (cell->IsSrsCsi())
        {
            const auto& e = cell->GetCsiEstimate(i);
            if (e.valid)
            {
                m_state[SRS_SINR_DB][u] = e.sinrDb;
            }
        }
        m_state[DL_LAYERS][u] = pdl.GetMeanLayers();
        m_state[DL_CO_SCHEDULED][u] = pdl.GetMeanCoScheduled();
        m_state[PRECODER_GAIN_DB][u] = pdl.GetMeanPrecoderGainDb();
        const NrCsiRsState& rs = cell->GetCsiRsState(i); // CsiMode CsiRs
        m_state[DL_RI][u] = rs.valid ? rs.current.values.rank
                                     : (rs.srsRankId > 0 ? rs.srsRank : std::nan(""));
        m_state[DL_CQI][u] = rs.valid ? rs.current.values.widebandCqi : std::nan("");
        m_state[DL_PMI][u] = rs.valid ? rs.current.values.pmiIndex : std::nan("");
        m_prev[0][u] = dl;
        m_prev[1][u] = ul;
    }
    m_lastRefresh = Simulator::Now();
}

int64_t
NrRadioHelper::AssignStreams(int64_t stream)
{
    // layout and mobility draws happen in Install(): their streams are fixed now; the cells,
    // the random walks and the channel get theirs now if installed, else at Install()
    m_streamBase = stream;
    m_layoutRng->SetStream(stream);
    m_mobilityRng->SetStream(stream + 1);
    if (m_installed)
    {
        AssignInstalledStreams();
    }
    return kStreams;
}

void
NrRadioHelper::AssignInstalledStreams()
{
    if (m_streamBase < 0)
    {
        return;
    }
    int64_t s = m_streamBase + 2;
    for (auto& c : m_cells)
    {
        s += c->AssignStreams(s);
    }
    for (uint32_t u = 0; u < m_ues.GetN(); ++u)
    {
        auto rw = m_ues.Get(u)->GetObject<RandomWalk2dMobilityModel>();
        if (rw)
        {
            s += rw->AssignStreams(s);
        }
    }
    if (m_channel)
    {
        // the SRS noise streams after every other one: the CSI mode changes no other draw
        const int64_t used = m_channel->AssignStreams(s);
        int64_t c = s + std::max<int64_t>(used, 0) + 1000;
        for (auto& cell : m_cells)
        {
            c += cell->AssignCsiStreams(c);
        }
    }
}

} // namespace ns3
