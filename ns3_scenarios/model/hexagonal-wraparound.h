/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * HexagonalWraparound: the wrap-around of a hexagonal cluster of sites (1 centre site and its
 * rings) as ITU-R M.2412-0 and the 3GPP system-level evaluations (TR 36.814 Annex A, the
 * TR 38.901 §7.8 calibrations) use it, so that every UE sees every site at its closest wrapped
 * position and cells at the edge of the cluster see as much interference as the centre.
 *
 * ns-3 3.37 has no wrap-around model (ns-3 gained one only in a later release), so it is
 * written here; the lattice and the six image shifts are those of Sionna SYS's HexGrid
 * (sionna.sys.HexGrid, a test compares them).
 */
#ifndef HEXAGONAL_WRAPAROUND_H
#define HEXAGONAL_WRAPAROUND_H

#include "ns3/object.h"
#include "ns3/vector.h"

#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * A cluster of N = 3 R (R + 1) + 1 sites (R rings around the centre site: 7 or 19 sites) on a
 * hexagonal lattice of inter-site distance d, whose first neighbour lies at azimuth theta from
 * the centre (LatticeOrientationDeg). Copies of the cluster shifted by
 *   s_k = rot(60 k deg) d [(R + 1) e(theta) + R e(theta - 60 deg)],  k = 1..6
 * (e(a) the unit vector at azimuth a, |s_k| = d sqrt(N)) tile the plane (s_0 = 0: the cluster
 * itself). A UE at p sees site position q at its image q + s_k of least horizontal distance
 * |p - q - s_k|; heights are kept. With theta = 30 deg the lattice and shifts are those of
 * Sionna SYS's HexGrid (neighbours at 30 + 60 k deg).
 */
class HexagonalWraparound : public Object
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();
    HexagonalWraparound();
    ~HexagonalWraparound() override;

    /** \return the number of sites of the cluster (3 R (R + 1) + 1) */
    uint32_t GetNSites() const;
    /** \return the site positions of the cluster (height 0), m, ring by ring from the centre */
    std::vector<Vector> GetSitePositions() const;
    /** \return the 7 shifts s_0 = 0, s_1..s_6, m */
    std::vector<Vector> GetShifts() const;
    /**
     * \param site a site position, m
     * \param ue a UE position, m
     * \return k in 0..6 such that site + s_k is the image horizontally closest to ue (the
     *         lowest k among equally close images)
     */
    uint32_t GetImage(const Vector& site, const Vector& ue) const;
    /**
     * \param site a site position, m
     * \param ue a UE position, m
     * \return the closest image of site as seen from ue (site + s_k), m
     */
    Vector GetWrappedPosition(const Vector& site, const Vector& ue) const;
    /**
     * \param nRings R
     * \return the site count of R rings around a centre site, 3 R (R + 1) + 1
     */
    static uint32_t SitesOfRings(uint32_t nRings);
    /**
     * Sites of a hexagonal lattice nearest the origin, ring by ring (by distance, then azimuth
     * from -180 deg), the first n of them.
     * \param n sites
     * \param isd inter-site distance, m
     * \param orientationRad azimuth of the first neighbour of the origin, rad
     * \param z height, m
     * \return the positions
     */
    static std::vector<Vector> LatticeSites(uint32_t n, double isd, double orientationRad,
                                            double z);

  private:
    double m_isd;            //!< inter-site distance, m
    uint32_t m_nRings;       //!< rings around the centre site
    double m_orientationDeg; //!< azimuth of the first neighbour, degrees
};

} // namespace ns3

#endif // HEXAGONAL_WRAPAROUND_H
