/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "hexagonal-wraparound.h"

#include "ns3/double.h"
#include "ns3/uinteger.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ns3
{

NS_OBJECT_ENSURE_REGISTERED(HexagonalWraparound);

TypeId
HexagonalWraparound::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::HexagonalWraparound")
            .SetParent<Object>()
            .SetGroupName("Edgelam")
            .AddConstructor<HexagonalWraparound>()
            .AddAttribute("InterSiteDistanceM",
                          "Inter-site distance of the lattice, m.",
                          DoubleValue(500.0),
                          MakeDoubleAccessor(&HexagonalWraparound::m_isd),
                          MakeDoubleChecker<double>(1.0))
            .AddAttribute("NumRings",
                          "Rings of sites around the centre site: 1 (7 sites) or 2 (19 sites).",
                          UintegerValue(2),
                          MakeUintegerAccessor(&HexagonalWraparound::m_nRings),
                          MakeUintegerChecker<uint32_t>(1, 2))
            .AddAttribute("LatticeOrientationDeg",
                          "Azimuth of the centre site's first neighbour, degrees (30: the "
                          "lattice of 3-sector sites with boresights 30/150/270 deg and of "
                          "Sionna SYS's HexGrid; 0: neighbours at 0, 60, ... deg).",
                          DoubleValue(30.0),
                          MakeDoubleAccessor(&HexagonalWraparound::m_orientationDeg),
                          MakeDoubleChecker<double>(-360.0, 360.0));
    return tid;
}

HexagonalWraparound::HexagonalWraparound() = default;

HexagonalWraparound::~HexagonalWraparound() = default;

uint32_t
HexagonalWraparound::SitesOfRings(uint32_t nRings)
{
    return 3 * nRings * (nRings + 1) + 1;
}

uint32_t
HexagonalWraparound::GetNSites() const
{
    return SitesOfRings(m_nRings);
}

std::vector<Vector>
HexagonalWraparound::LatticeSites(uint32_t n, double isd, double orientationRad, double z)
{
    std::vector<Vector> sites;
    const int rings = 1 + static_cast<int>(std::ceil(std::sqrt(n / 3.0)));
    const double c = std::cos(orientationRad);
    const double s = std::sin(orientationRad);
    for (int q = -rings; q <= rings; ++q)
    {
        for (int r = -rings; r <= rings; ++r)
        {
            const double x = isd * (q + 0.5 * r);
            const double y = isd * (std::sqrt(3.0) / 2.0) * r;
            sites.emplace_back(c * x - s * y, s * x + c * y, z);
        }
    }
    std::stable_sort(sites.begin(), sites.end(), [](const Vector& a, const Vector& b) {
        const double da = std::round(std::hypot(a.x, a.y) * 1e3);
        const double db = std::round(std::hypot(b.x, b.y) * 1e3);
        if (da != db)
        {
            return da < db;
        }
        return std::atan2(a.y, a.x) < std::atan2(b.y, b.x);
    });
    sites.resize(n);
    return sites;
}

std::vector<Vector>
HexagonalWraparound::GetSitePositions() const
{
    return LatticeSites(GetNSites(), m_isd, m_orientationDeg * M_PI / 180.0, 0.0);
}

std::vector<Vector>
HexagonalWraparound::GetShifts() const
{
    const double theta = m_orientationDeg * M_PI / 180.0;
    const double r = m_nRings;
    // d [(R + 1) e(theta) + R e(theta - 60 deg)]
    const double x = m_isd * ((r + 1) * std::cos(theta) + r * std::cos(theta - M_PI / 3));
    const double y = m_isd * ((r + 1) * std::sin(theta) + r * std::sin(theta - M_PI / 3));
    std::vector<Vector> shifts{Vector(0, 0, 0)};
    for (int k = 0; k < 6; ++k)
    {
        const double a = k * M_PI / 3;
        shifts.emplace_back(std::cos(a) * x - std::sin(a) * y, std::sin(a) * x + std::cos(a) * y,
                            0.0);
    }
    return shifts;
}

uint32_t
HexagonalWraparound::GetImage(const Vector& site, const Vector& ue) const
{
    const auto shifts = GetShifts();
    uint32_t best = 0;
    double bestD = std::numeric_limits<double>::infinity();
    for (uint32_t k = 0; k < shifts.size(); ++k)
    {
        // 1 mm tolerance: a UE equally far from two images keeps the lower k
        const double d = std::hypot(ue.x - site.x - shifts[k].x, ue.y - site.y - shifts[k].y);
        if (d < bestD - 1e-3)
        {
            bestD = d;
            best = k;
        }
    }
    return best;
}

Vector
HexagonalWraparound::GetWrappedPosition(const Vector& site, const Vector& ue) const
{
    const Vector s = GetShifts()[GetImage(site, ue)];
    return Vector(site.x + s.x, site.y + s.y, site.z);
}

} // namespace ns3
