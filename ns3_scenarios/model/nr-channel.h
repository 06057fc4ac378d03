/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * NrChannel: the channel between gNBs and UEs as the MAC sees it, per subband, with beams.
 * An abstract interface: ThreeGppNrChannel implements it with TR 38.901 (ns-3's models);
 * FixedGainNrChannel (fixed per-pair gains) serves closed-form tests and baselines.
 */
#ifndef NR_CHANNEL_H
#define NR_CHANNEL_H

#include "hexagonal-wraparound.h"

#include "ns3/mobility-model.h"
#include "ns3/node.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/traced-callback.h"

#include <complex>
#include <string>
#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * The radio channel of a set of gNBs and UEs (nodes with a MobilityModel). This base class
 * holds what every implementation shares: the band and its subbands, the gNBs and UEs as added
 * (node, array shape, powers, noise figure) and the Updated trace; an implementation adds its
 * channel, path gain and beams (DoAddGnb / DoAddUe for its per-terminal state). The TR 38.901
 * implementation (ThreeGppNrChannel, V17.0.0 §7.5-7.6) computes them with ns-3's
 * ThreeGppChannelModel, ThreeGpp*PropagationLossModel and ThreeGpp*ChannelConditionModel for the
 * scenario, and UniformPlanarArray antennas with the 3GPP element pattern (ThreeGppAntennaModel,
 * TR 38.901 Table 7.3-1) at the gNB.
 *
 * The band [carrier - bandwidth/2, carrier + bandwidth/2] is cut into NumSubbands subbands of
 * equal width; channel matrices, gains and noise are given per subband (the MAC maps its RBs to
 * subbands). Channels are recomputed when UpdatePeriod has elapsed since the last computation
 * (0: once, at first use), lazily, at the first query after that; the Doppler phase of each
 * cluster advances with time between updates as in TR 38.901 §7.6.3.2 eq. 7.6-9.
 */
class NrChannel : public Object
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();
    ~NrChannel() override;

    /** Complex coefficients. */
    typedef std::complex<double> Complex;

    /**
     * Configure before adding nodes.
     * \param scenario "UMi-StreetCanyon", "UMa", "RMa" or "InH-OfficeMixed" (TR 38.901 §7.2)
     * \param carrierHz carrier frequency, Hz, 0.5e9 to 100e9
     * \param bandwidthHz occupied bandwidth, Hz
     * \param nSubbands number of subbands (frequency granularity of CSI and SINR), >= 1
     */
    virtual void Configure(const std::string& scenario, double carrierHz, double bandwidthHz,
                           uint32_t nSubbands) = 0;

    /**
     * Add a gNB (after Configure).
     * \param node a node with a MobilityModel
     * \param rows antenna rows of its uniform planar array (1 to 1024 elements in all)
     * \param cols antenna columns
     * \param txPowerDbm total transmit power over the whole bandwidth, dBm
     * \param bearingRad azimuth the array faces, rad
     * \return the gNB index; throws std::invalid_argument for a node without mobility or an
     *         array size out of range, std::logic_error before Configure
     */
    uint32_t AddGnb(Ptr<Node> node, uint32_t rows, uint32_t cols, double txPowerDbm,
                    double bearingRad);

    /**
     * Add a UE (after Configure).
     * \param node a node with a MobilityModel
     * \param rows antenna rows (1 to 64 elements in all)
     * \param cols antenna columns
     * \param txPowerDbm uplink transmit power, dBm
     * \param noiseFigureDb receiver noise figure, dB
     * \return the UE index; throws as AddGnb
     */
    uint32_t AddUe(Ptr<Node> node, uint32_t rows, uint32_t cols, double txPowerDbm,
                   double noiseFigureDb);

    /** \return number of gNBs */
    uint32_t GetNGnbs() const;
    /** \return number of UEs */
    uint32_t GetNUes() const;
    /** \return number of subbands */
    uint32_t GetNSubbands() const;
    /** \return subband width, Hz */
    double GetSubbandWidth() const;
    /** \param g gNB index \return its number of antenna elements */
    uint32_t GetNGnbAntennas(uint32_t g) const;
    /** \param u UE index \return its number of antenna elements */
    uint32_t GetNUeAntennas(uint32_t u) const;
    /** \return gNB g's transmit power, W (spread evenly over the bandwidth) */
    double GetGnbTxPowerW(uint32_t g) const;
    /** \return UE u's transmit power, W */
    double GetUeTxPowerW(uint32_t u) const;

    /**
     * The small-scale channel from gNB g to UE u now (large-scale loss excluded), per subband.
     * \return row-major [rx = UE antenna][tx = gNB antenna][subband]
     */
    virtual const std::vector<Complex>& GetChannelMatrix(uint32_t g, uint32_t u) = 0;

    /** \return path gain g->u now (minus path loss minus shadowing), dB (negative) */
    virtual double GetPathGainDb(uint32_t g, uint32_t u) = 0;
    /**
     * The coupling gain of g->u now: the path gain plus the mean power gain of the small-scale
     * channel over its antenna pairs and subbands, mean |H[r][t][sb]|^2 (the antenna element
     * patterns and the clusters, no beamforming): the wideband received power per antenna
     * pair over the transmit power, as RSRP measures it (TR 38.901 §7.8's coupling gain). UEs
     * attach to the gNB of the largest transmit power plus coupling gain.
     * \param g gNB index \param u UE index
     * \return the coupling gain, dB
     */
    double GetCouplingGainDb(uint32_t g, uint32_t u);
    /** \param g gNB index \param u UE index \return their horizontal distance now (to the
     *  gNB's position as u sees it, GetGnbPositionSeenBy), m */
    double GetDistance2dM(uint32_t g, uint32_t u) const;
    /** \param g gNB index \param u UE index \return their distance now (as GetDistance2dM), m */
    double GetDistance3dM(uint32_t g, uint32_t u) const;

    /**
     * Wrap the layout around (before the first channel query): from then on UE u sees gNB g at
     * the image of g's position closest to u (HexagonalWraparound::GetWrappedPosition), for
     * path loss, LOS state, angles and clusters alike. The gNBs must not move.
     * \param wrap the wrap-around of the gNBs' hexagonal cluster (null: none)
     */
    void SetWraparound(Ptr<HexagonalWraparound> wrap);
    /** \return the wrap-around in use (null: none) */
    Ptr<HexagonalWraparound> GetWraparound() const;
    /**
     * \param g gNB index \param u UE index
     * \return the image of g that u sees now: 0 its own position (always without wrap-around),
     *         1..6 a shifted copy (HexagonalWraparound::GetShifts)
     */
    uint32_t GetGnbImage(uint32_t g, uint32_t u) const;
    /** \param g gNB index \param u UE index \return g's position as u sees it now, m */
    Vector GetGnbPositionSeenBy(uint32_t g, uint32_t u) const;
    /** \param g gNB index \return the azimuth its panel faces (as added), rad */
    double GetGnbBearingRad(uint32_t g) const;
    /** \return whether g->u is line of sight now (TR 38.901 Table 7.4.2-1 condition) */
    virtual bool IsLos(uint32_t g, uint32_t u) = 0;
    /** \return the LOS direction from gNB g to UE u as (azimuth, inclination) in rad */
    virtual std::pair<double, double> GetLosAngles(uint32_t g, uint32_t u) = 0;

    /**
     * Set the beam gNB g uses toward UE u (transmit in DL, receive in UL), normalised inside.
     * \param w complex weights, one per gNB antenna element
     */
    virtual void SetGnbBeam(uint32_t g, uint32_t u, const std::vector<Complex>& w) = 0;
    /** \return gNB g's current beam toward UE u (default: LOS direction steering vector) */
    virtual const std::vector<Complex>& GetGnbBeam(uint32_t g, uint32_t u) const = 0;
    /** Set UE u's beam (receive in DL, transmit in UL), normalised inside. */
    virtual void SetUeBeam(uint32_t u, const std::vector<Complex>& w) = 0;
    /** \return UE u's current beam (default: uniform weights) */
    virtual const std::vector<Complex>& GetUeBeam(uint32_t u) const = 0;
    /** \return steering vector of gNB g's array toward (azimuth, inclination), unit norm */
    virtual std::vector<Complex> GetGnbSteeringVector(uint32_t g,
                                                      double azimuth,
                                                      double inclination) const = 0;

    /**
     * Beamformed power gain per subband (linear, path gain included) from gNB g, using its beam
     * toward UE v, at UE u with u's current beam:
     * |w_u^H H_{g,u}(sb) w_{g,v}|^2 * 10^(PathGainDb/10). Serving link: v == u; interference
     * from g's transmission to v: v != u. Cached until the channel or a beam changes.
     * \return one value per subband
     */
    virtual const std::vector<double>& GetBeamGain(uint32_t g, uint32_t v, uint32_t u) = 0;

    /** \return thermal noise power of one subband at UE u (kT B F), W */
    virtual double GetUeNoiseW(uint32_t u) const = 0;
    /** \return thermal noise power of one subband at gNB g (kT B F with the gNB noise figure), W */
    virtual double GetGnbNoiseW(uint32_t g) const = 0;

    /**
     * Assign fixed random streams to the channel, propagation and condition models.
     * \param stream first stream index
     * \return number of streams used
     */
    virtual int64_t AssignStreams(int64_t stream) = 0;

    /** TracedCallback signature: channels were recomputed at this instant. */
    typedef void (*UpdatedTracedCallback)(Time now);

  protected:
    void DoDispose() override;

    /** A gNB or UE as added: the set-up every implementation shares. */
    struct Terminal
    {
        Ptr<Node> node;              //!< the node
        Ptr<MobilityModel> mobility; //!< its mobility model
        uint32_t rows{1};            //!< array rows
        uint32_t cols{1};            //!< array columns
        double txPowerW{0};          //!< transmit power, W
        double bearingRad{0};        //!< azimuth the array faces, rad (UEs: 0)
        double noiseFigureDb{0};     //!< receiver noise figure, dB (UEs)
    };

    /**
     * Store the band (implementations call it from Configure, after checking it).
     * \param carrierHz carrier frequency, Hz
     * \param bandwidthHz bandwidth, Hz
     * \param nSubbands subbands (>= 1)
     */
    void SetBand(double carrierHz, double bandwidthHz, uint32_t nSubbands);
    /** \return the carrier frequency, Hz */
    double GetCarrierHz() const;
    /** \return the bandwidth, Hz */
    double GetBandwidthHz() const;
    /** \param g gNB index \return its terminal; throws std::out_of_range for no such gNB */
    const Terminal& GetGnb(uint32_t g) const;
    /** \param u UE index \return its terminal; throws std::out_of_range for no such UE */
    const Terminal& GetUe(uint32_t u) const;

    /** The implementation's part of AddGnb, after the terminal is stored. \param g its index */
    virtual void DoAddGnb(uint32_t g);
    /** The implementation's part of AddUe, after the terminal is stored. \param u its index */
    virtual void DoAddUe(uint32_t u);

    /** Fire the Updated trace (implementations call it after recomputing channels). */
    void NotifyUpdated();

    /**
     * Scale beam weights to unit norm.
     * \param w the weights; throws std::invalid_argument if their norm is zero
     */
    static void Normalise(std::vector<Complex>& w);
    /** \param dbm a power, dBm \return it in W */
    static double DbmToW(double dbm);

  private:
    /** \return a terminal of node (its mobility model may be null) with these array and power
     *  \param node the node \param rows rows \param cols columns \param txPowerDbm dBm */
    static Terminal MakeTerminal(Ptr<Node> node, uint32_t rows, uint32_t cols, double txPowerDbm);
    /**
     * Check a terminal and store it.
     * \param terminals where
     * \param what "AddGnb" or "AddUe", for the error messages
     * \param maxElements largest array
     * \param t the terminal
     * \return its index
     */
    uint32_t Add(std::vector<Terminal>& terminals, const std::string& what, uint32_t maxElements,
                 const Terminal& t);

    TracedCallback<Time> m_updatedTrace; //!< channels recomputed
    double m_carrierHz{0};               //!< carrier frequency, Hz
    double m_bandwidthHz{0};             //!< bandwidth, Hz
    uint32_t m_nSubbands{0};             //!< subbands (0: band not set yet)
    std::vector<Terminal> m_gnbs;        //!< gNBs as added
    std::vector<Terminal> m_ues;         //!< UEs as added
    Ptr<HexagonalWraparound> m_wrap;     //!< wrap-around (null: none)
};


} // namespace ns3

#endif // NR_CHANNEL_H
