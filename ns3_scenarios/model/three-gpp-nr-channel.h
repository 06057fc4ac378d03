/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * ThreeGppNrChannel: the NrChannel of TR 38.901, computed with ns-3's own models.
 */
#ifndef THREE_GPP_NR_CHANNEL_H
#define THREE_GPP_NR_CHANNEL_H

#include "nr-channel.h"

#include "ns3/channel-condition-model.h"
#include "ns3/mobility-model.h"
#include "ns3/random-variable-stream.h"
#include "ns3/three-gpp-propagation-loss-model.h"
#include "ns3/uniform-planar-array.h"

namespace ns3
{

// Not included here: ns-3's three-gpp-channel-model.h includes C's <complex.h>, whose macro I
// would leak into every user of this header (it breaks pybind11, for one).
class ThreeGppChannelModel;

/**
 * \ingroup edgelam
 * TR 38.901 (V17.0.0) channel between gNBs and UEs.
 *
 * Models, per scenario ("UMi-StreetCanyon", "UMa", "RMa", "InH-OfficeMixed", "InH-OfficeOpen"):
 * - small scale: ns-3's ThreeGppChannelModel (§7.5 fast fading, clusters with delays, angles
 *   and Doppler terms), with a UniformPlanarArray at both ends: ThreeGppAntennaModel elements
 *   (Table 7.3-1, 8 dBi) at the gNB, IsotropicAntennaModel elements at the UE, spacing 0.5 λ;
 * - large scale: the matching ThreeGpp*PropagationLossModel (Table 7.4.1-1 path loss and
 *   log-normal shadowing), with the ThreeGpp*ChannelConditionModel (Table 7.4.2-1) shared by
 *   both, or a forced condition (attribute Condition).
 *
 * Per (gNB g, UE u) pair, the frequency response per subband sb is (TR 38.901 eq. 7.5-22/28
 * taken to the frequency domain, as ThreeGppSpectrumPropagationLossModel::CalcBeamformingGain)
 *   H[r][t][sb] = sum_n H_n[r][t] exp(-j 2 pi f_sb tau_n) exp(j 2 pi f_c t/c (r_rx,n.v_u +
 *                 r_tx,n.v_g + 2 alpha_n D_n)),
 * f_sb the centre frequency of subband sb, tau_n the cluster delays, t the time since ns-3
 * generated the realization. The response is cached and recomputed for every pair at the
 * first query after each multiple of UpdatePeriod (0: once). What evolves in ns-3 3.37: the
 * clusters (powers, delays, angles) of a realization stay fixed, only the Doppler phases rotate,
 * with the UE's velocity, or for a UE that does not move with StaticUeFadingSpeedKmh in a
 * direction drawn per UE (a calibration drop's pedestrian, TR 38.901 Table 7.8-2: 3 km/h; 0:
 * the static UE's channel is frozen). ns-3 draws a new realization every FadingUpdatePeriod
 * (0: never), independent of the previous one (3.37 has no spatial consistency, TR 38.901
 * §7.6.3), so the channel jumps then. A moving UE's LOS state is the one drawn at the start.
 *
 * Sectors: gNBs added at the same position (the sectors of a site) are one site to ns-3's
 * models: they share the first one's node, hence its LOS states, shadowing and large-scale
 * and cluster parameters toward each UE (TR 38.901 §7.8 / TR 36.814 Table A.2.1.1-2:
 * shadowing fully correlated between the sectors of a site), and differ by their arrays
 * (bearing).
 * Wrap-around (NrChannel::SetWraparound): UE u meets gNB g at g's image closest to u; ns-3's
 * models see that image as a node of its own (a ConstantPositionMobilityModel at the shifted
 * position, created at its first use, one per site and image, with a copy of g's array), so a
 * pair whose image changes (a moving UE) gets that image's clusters, LOS state and shadowing.
 *
 * Shadowing (TR 38.901 Table 7.4.1-1) is drawn once per (gNB, UE) pair, at its first
 * computation, and correlated as the UE moves per §7.4.4 (ns-3's exp(-displacement / d_cor));
 * ComputeLink works around ns-3 3.37's GetShadowing, whose second call draws it anew.
 *
 * Beams: w_g,u (gNB g toward UE u) is applied as H w, the UE beam w_u as w_u^H H. The default
 * gNB beam follows the LOS direction (re-steered at each update) until SetGnbBeam is called;
 * the default UE beam is uniform. Beamformed gains are cached per (g, v, u) and only the
 * entries that use a changed channel or beam are recomputed.
 *
 * Noise per subband: -174 dBm/Hz + 10 log10(bandwidth / NumSubbands) + NF (gNB NF: attribute
 * GnbNoiseFigure, 5 dB; UE NF given to AddUe, NrRadioHelper's default 9 dB: TR 38.802 Table
 * A.2.1-1 and TR 38.901 §7.8 use 5 dB and 9 dB).
 * Transmit powers are given to AddGnb/AddUe: the project's defaults are 43 dBm in total over
 * the band for a UMa gNB and 23 dBm for a UE (power class 3, TS 38.101-1 §6.2.1).
 */
class ThreeGppNrChannel : public NrChannel
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();
    ThreeGppNrChannel();
    ~ThreeGppNrChannel() override;

    void Configure(const std::string& scenario, double carrierHz, double bandwidthHz,
                   uint32_t nSubbands) override;
    const std::vector<Complex>& GetChannelMatrix(uint32_t g, uint32_t u) override;
    double GetPathGainDb(uint32_t g, uint32_t u) override;
    bool IsLos(uint32_t g, uint32_t u) override;
    std::pair<double, double> GetLosAngles(uint32_t g, uint32_t u) override;
    void SetGnbBeam(uint32_t g, uint32_t u, const std::vector<Complex>& w) override;
    const std::vector<Complex>& GetGnbBeam(uint32_t g, uint32_t u) const override;
    void SetUeBeam(uint32_t u, const std::vector<Complex>& w) override;
    const std::vector<Complex>& GetUeBeam(uint32_t u) const override;
    std::vector<Complex> GetGnbSteeringVector(uint32_t g, double azimuth,
                                              double inclination) const override;
    const std::vector<double>& GetBeamGain(uint32_t g, uint32_t v, uint32_t u) override;
    double GetUeNoiseW(uint32_t u) const override;
    double GetGnbNoiseW(uint32_t g) const override;
    int64_t AssignStreams(int64_t stream) override;

    // Beyond the NrChannel interface.

    /** Give gNB g's beam toward UE u back to the default (LOS steering, followed on updates). */
    void ResetGnbBeam(uint32_t g, uint32_t u);
    /** \return whether gNB g's beam toward UE u is the default LOS-following one */
    bool IsGnbBeamDefault(uint32_t g, uint32_t u) const;
    /**
     * \return UE u's receive steering (combining) vector toward (azimuth, inclination), rad,
     *         unit norm, to be used as SetUeBeam's w
     */
    std::vector<Complex> GetUeSteeringVector(uint32_t u, double azimuth, double inclination) const;
    /**
     * The channel combined with UE u's beam, w_u^H H, per subband: row-major [subband][tx].
     * Beam policies use it (gain of a gNB beam w on subband sb: |sum_t c[sb][t] w[t]|^2).
     */
    const std::vector<Complex>& GetCombinedChannel(uint32_t g, uint32_t u);
    /** \return centre frequency of subband sb, Hz */
    double GetSubbandFrequency(uint32_t sb) const;
    /** \return gNB g's array rows and columns */
    std::pair<uint32_t, uint32_t> GetGnbArrayShape(uint32_t g) const;
    /**
     * \param g gNB index \param azimuth azimuth, rad \param inclination inclination, rad
     * \return the power gain of one element of g's array toward that direction (global
     *         coordinates: the TR 38.901 Table 7.3-1 pattern turned to g's bearing), dBi
     */
    double GetGnbElementGainDb(uint32_t g, double azimuth, double inclination) const;
    /** \return number of channel updates so far (each fires the Updated trace) */
    uint64_t GetNUpdates() const;
    /** Recompute now the pairs whose cached channel is stale (queries do it lazily). */
    void Update();
    /** \return the ns-3 channel model in use (after Configure) */
    Ptr<ThreeGppChannelModel> GetChannelModel() const;

  protected:
    void DoDispose() override;
    /** The gNB's array: 3GPP elements (TR 38.901 Table 7.3-1), its bearing. \param g index */
    void DoAddGnb(uint32_t g) override;
    /** The UE's array (isotropic elements), uniform beam and noise. \param u index */
    void DoAddUe(uint32_t u) override;

  private:
    /** What this channel keeps per UE besides NrChannel's Terminal. */
    struct UeState
    {
        Ptr<UniformPlanarArray> array; //!< antenna array
        double noiseW{0};              //!< noise per subband, W
        std::vector<Complex> beam;     //!< combining weights
        double fadingAzimuthRad{0};    //!< direction of a static UE's fading Doppler, rad
        bool fadingDirectionDrawn{false}; //!< fadingAzimuthRad drawn
    };

    struct Link
    {
        std::vector<Complex> h;        //!< [rx][tx][sb]
        std::vector<Complex> combined; //!< w_u^H H: [sb][tx]
        bool combinedValid{false};
        double pathGainDb{0};
        bool los{false};
        std::pair<double, double> losAngles{0, 0};
        int64_t epoch{-1};
        std::vector<Complex> gnbBeam;
        bool beamDefault{true};
        uint8_t shadowingDrawn{0}; //!< bit k: ns-3's first (discarded) shadowing call was made
                                   //!< for the gNB's image k
    };

    struct GainEntry
    {
        std::vector<double> gain;
        bool valid{false};
    };

    void RequireConfigured() const;
    /** Throw std::out_of_range unless gNB g exists. \param g index */
    void CheckGnb(uint32_t g) const;
    /** Throw std::out_of_range unless UE u exists. \param u index */
    void CheckUe(uint32_t u) const;
    int64_t CurrentEpoch() const;
    void MaybeUpdate();
    /** \return the (g, u) link, recomputed first if stale; throws for no such gNB or UE */
    const Link& CurrentLink(uint32_t g, uint32_t u);
    void ComputeLink(uint32_t g, uint32_t u);
    /** \return the velocity whose Doppler UE u's fading follows (StaticUeFadingSpeedKmh for a
     *  UE that does not move), m/s \param u UE index */
    Vector FadingVelocity(uint32_t u);
    void InvalidateGnbBeam(uint32_t g, uint32_t v);
    /** \return gNB g's array as added, facing its bearing \param g index */
    Ptr<UniformPlanarArray> MakeGnbArray(uint32_t g) const;

    /** gNB g as UE u meets it: itself, or its wrapped image (a node of its own). */
    struct GnbView
    {
        Ptr<Node> node;                //!< the node ns-3's models key on
        Ptr<MobilityModel> mobility;   //!< its position
        Ptr<UniformPlanarArray> array; //!< its array
    };
    /** \return gNB g as UE u sees it now (NrChannel::GetGnbImage), images made at first use */
    GnbView GnbSeenBy(uint32_t g, uint32_t u);
    void ResizeCaches();

    // attributes
    Time m_updatePeriod;
    Time m_fadingUpdatePeriod;
    double m_staticUeFadingSpeedKmh;
    bool m_shadowing;
    double m_gnbNoiseFigureDb;
    std::string m_condition;

    // configuration
    bool m_configured{false};
    std::string m_scenario;
    std::vector<double> m_subbandHz;
    Ptr<ThreeGppChannelModel> m_channelModel;
    Ptr<ThreeGppPropagationLossModel> m_lossModel;
    Ptr<ChannelConditionModel> m_conditionModel;
    Ptr<UniformRandomVariable> m_directionRng; //!< static UEs' fading directions

    std::vector<Ptr<UniformPlanarArray>> m_gnbArrays; //!< per gNB
    std::vector<uint32_t> m_siteOf;                   //!< per gNB: first gNB at its position
    std::vector<std::vector<GnbView>> m_images;       //!< [site gNB][k]: images (k >= 1)
    std::vector<std::vector<Ptr<UniformPlanarArray>>> m_imageArrays; //!< [g][k] (k >= 1)
    std::vector<UeState> m_ues;                       //!< per UE
    std::vector<std::vector<Link>> m_links;                  //!< [g][u]
    std::vector<std::vector<std::vector<GainEntry>>> m_gain; //!< [g][v][u]
    int64_t m_epoch{-1};
    bool m_dirty{true};
    uint64_t m_nUpdates{0};
};

} // namespace ns3

#endif // THREE_GPP_NR_CHANNEL_H
