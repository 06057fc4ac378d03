/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * FixedGainNrChannel: an NrChannel with fixed, settable gains, for closed-form tests and as a
 * baseline next to the TR 38.901 channel (ThreeGppNrChannel).
 */
#ifndef FIXED_GAIN_NR_CHANNEL_H
#define FIXED_GAIN_NR_CHANNEL_H

#include "nr-channel.h"

#include "ns3/random-variable-stream.h"

#include <map>
#include <utility>
#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * A deterministic channel. Per (gNB g, UE u) pair:
 *  - path gain PG(g,u) [dB]: set by SetPathGainDb(); else, if the FreeSpace attribute is true,
 *    the free-space gain 20 log10(lambda / (4 pi d)) at the 3D distance d of the nodes' current
 *    positions (Friis); else DefaultPathGainDb;
 *  - a flat per-subband power gain profile s(g,u,sb) [-] (SetSubbandGain(), default 1);
 *  - a rank-1 line-of-sight small-scale channel H(sb) = sqrt(s) a_u a_g^H with unit-modulus
 *    entries, a_g the steering vector of g's uniform planar array toward the UE and a_u that of
 *    the UE's array toward g (elements spaced half a wavelength, isotropic elements, arrays in
 *    the plane orthogonal to their bearing azimuth; no 3GPP element pattern).
 *
 * Beam gain (NrChannel::GetBeamGain): |w_u^H H_{g,u}(sb) w_{g,v}|^2 10^(PG/10)
 *   = s(g,u,sb) N_u |w_u^H â_u|^2 N_g |â_g(u)^H w_{g,v}|^2 10^(PG/10)
 * with â the unit-norm steering vectors. With FadingDopplerHz f_D > 0 the small-scale channel is
 * instead i.i.d. Rayleigh per antenna pair with the Jakes (Clarke) Doppler spectrum, flat over
 * the band (one tap): H[r][t](time) = sqrt(s) M^-1/2 sum_m exp(j (2 pi f_D cos(a_m) time +
 * p_m)), M = FadingSinusoids, a_m and p_m uniform on [0, 2 pi) per (g, u, r, t), drawn once
 * (random-angle sum of sinusoids: E[H(time) H*(time - tau)] = J0(2 pi f_D tau) for any M);
 * it is evaluated at every query instant and the beam gain is |w_u^H H w_{g,v}|^2 10^(PG/10). Defaults: gNB beam toward u = â_g(u) (array gain N_g),
 * UE beam = uniform weights. Noise per subband: k T B_sb F (T = 290 K). Node positions are
 * read at the first query and again after UpdatePeriod (0: never again); with a wrap-around
 * (NrChannel::SetWraparound) distance and angles are those to the gNB's closest image.
 */
class FixedGainNrChannel : public NrChannel
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();

    FixedGainNrChannel();
    ~FixedGainNrChannel() override;

    void Configure(const std::string& scenario,
                   double carrierHz,
                   double bandwidthHz,
                   uint32_t nSubbands) override;
    const std::vector<Complex>& GetChannelMatrix(uint32_t g, uint32_t u) override;
    double GetPathGainDb(uint32_t g, uint32_t u) override;
    bool IsLos(uint32_t g, uint32_t u) override;
    std::pair<double, double> GetLosAngles(uint32_t g, uint32_t u) override;
    void SetGnbBeam(uint32_t g, uint32_t u, const std::vector<Complex>& w) override;
    const std::vector<Complex>& GetGnbBeam(uint32_t g, uint32_t u) const override;
    void SetUeBeam(uint32_t u, const std::vector<Complex>& w) override;
    const std::vector<Complex>& GetUeBeam(uint32_t u) const override;
    std::vector<Complex> GetGnbSteeringVector(uint32_t g,
                                              double azimuth,
                                              double inclination) const override;
    const std::vector<double>& GetBeamGain(uint32_t g, uint32_t v, uint32_t u) override;
    double GetUeNoiseW(uint32_t u) const override;
    double GetGnbNoiseW(uint32_t g) const override;
    int64_t AssignStreams(int64_t stream) override;

    /**
     * Fix the path gain of a pair (overrides FreeSpace / DefaultPathGainDb).
     * \param g gNB index
     * \param u UE index
     * \param db path gain, dB (negative for a loss)
     */
    void SetPathGainDb(uint32_t g, uint32_t u, double db);
    /**
     * Set the flat per-subband power gain profile of a pair.
     * \param g gNB index
     * \param u UE index
     * \param gain one linear power gain per subband [-]
     */
    void SetSubbandGain(uint32_t g, uint32_t u, const std::vector<double>& gain);

  protected:
    /** Geometry and caches are recomputed at the next query. \param g gNB index */
    void DoAddGnb(uint32_t g) override;
    /** Geometry and caches are recomputed at the next query. \param u UE index */
    void DoAddUe(uint32_t u) override;

  private:
    /** Recompute geometry (positions, steering vectors) if due. */
    void Refresh();
    /** Drop cached beam gains. */
    void InvalidateGains();
    /** \return pair k's fading channel now ([rx][tx][sb]) \param k g * nUe + u */
    void ComputeFading(uint32_t k, uint32_t g, uint32_t u);
    /**
     * \param rows array rows
     * \param cols array columns
     * \param bearing azimuth the array faces, rad
     * \param az azimuth, rad
     * \param incl inclination from the zenith, rad
     * \return unit-norm steering vector
     */
    static std::vector<Complex> Steering(uint32_t rows,
                                         uint32_t cols,
                                         double bearing,
                                         double az,
                                         double incl);

    std::map<std::pair<uint32_t, uint32_t>, double> m_fixedPg; //!< SetPathGainDb values
    std::map<std::pair<uint32_t, uint32_t>, std::vector<double>> m_sbGain; //!< profiles
    std::vector<double> m_pgDb;                     //!< path gain [g * nUe + u], dB
    std::vector<std::vector<Complex>> m_aG;         //!< â_g(u) [g * nUe + u]
    std::vector<std::vector<Complex>> m_aU;         //!< â_u(g) [g * nUe + u]
    std::vector<std::vector<Complex>> m_gnbBeam;    //!< w_{g,u} [g * nUe + u]
    std::vector<std::vector<Complex>> m_ueBeam;     //!< w_u
    std::vector<std::vector<Complex>> m_h;          //!< channel matrices [g * nUe + u]
    std::vector<std::vector<double>> m_gain;        //!< beam gains [(g * nUe + v) * nUe + u]
    std::vector<bool> m_gainValid;                  //!< cache flags of m_gain
    std::vector<bool> m_hValid;                     //!< cache flags of m_h
    std::vector<bool> m_beamSet;                    //!< gNB beam set explicitly [g * nUe + u]
    std::vector<double> m_gnbNoiseW;                //!< noise per subband per gNB, W
    std::vector<double> m_ueNoiseW;                 //!< noise per subband per UE, W
    double m_gnbNoiseFigureDb;                      //!< gNB noise figure, dB
    double m_defaultPgDb;                           //!< default path gain, dB
    bool m_freeSpace;                               //!< free-space path gain by distance
    Time m_updatePeriod;                            //!< geometry refresh period
    Time m_lastUpdate;                              //!< last geometry refresh
    bool m_fresh{false};                            //!< geometry computed at least once
    double m_dopplerHz;                             //!< Jakes fading Doppler, Hz (0: none)
    uint32_t m_sinusoids;                           //!< sinusoids per antenna pair
    Ptr<UniformRandomVariable> m_fadingRng;         //!< angles and phases of the fading
    std::vector<std::vector<double>> m_sos;         //!< per pair: (a_m, p_m) per antenna pair
    Time m_fadingTime{Seconds(-1)};                 //!< instant the caches hold
};

} // namespace ns3

#endif // FIXED_GAIN_NR_CHANNEL_H
