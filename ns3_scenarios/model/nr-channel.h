/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * NrChannel: the channel between gNBs and UEs as the MAC sees it, per subband, with beams.
 * An abstract interface: ThreeGppNrChannel implements it with TR 38.901 (ns-3's models);
 * FixedGainNrChannel (fixed per-pair gains) serves closed-form tests and baselines.
 */
#ifndef NR_CHANNEL_H
#define NR_CHANNEL_H

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
 * The radio channel of a set of gNBs and UEs (nodes with a MobilityModel). The TR 38.901
 * implementation (ThreeGppNrChannel) works
 * (V17.0.0 §7.5-7.6), computed with ns-3's ThreeGppChannelModel, ThreeGpp*PropagationLossModel
 * and ThreeGpp*ChannelConditionModel for the scenario, and UniformPlanarArray antennas with the
 * 3GPP element pattern (ThreeGppAntennaModel, TR 38.901 Table 7.3-1) at the gNB.
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
     * Add a gNB.
     * \param node a node with a MobilityModel
     * \param rows antenna rows of its uniform planar array (3GPP element pattern)
     * \param cols antenna columns
     * \param txPowerDbm total transmit power over the whole bandwidth, dBm
     * \param bearingRad azimuth the array faces, rad
     * \return the gNB index
     */
    virtual uint32_t AddGnb(Ptr<Node> node, uint32_t rows, uint32_t cols, double txPowerDbm,
                    double bearingRad) = 0;

    /**
     * Add a UE.
     * \param node a node with a MobilityModel
     * \param rows antenna rows (isotropic elements)
     * \param cols antenna columns
     * \param txPowerDbm uplink transmit power, dBm
     * \param noiseFigureDb receiver noise figure, dB
     * \return the UE index
     */
    virtual uint32_t AddUe(Ptr<Node> node, uint32_t rows, uint32_t cols, double txPowerDbm,
                   double noiseFigureDb) = 0;

    /** \return number of gNBs */
    virtual uint32_t GetNGnbs() const = 0;
    /** \return number of UEs */
    virtual uint32_t GetNUes() const = 0;
    /** \return number of subbands */
    virtual uint32_t GetNSubbands() const = 0;
    /** \param g gNB index \return its number of antenna elements */
    virtual uint32_t GetNGnbAntennas(uint32_t g) const = 0;
    /** \param u UE index \return its number of antenna elements */
    virtual uint32_t GetNUeAntennas(uint32_t u) const = 0;

    /**
     * The small-scale channel from gNB g to UE u now (large-scale loss excluded), per subband.
     * \return row-major [rx = UE antenna][tx = gNB antenna][subband]
     */
    virtual const std::vector<Complex>& GetChannelMatrix(uint32_t g, uint32_t u) = 0;

    /** \return path gain g->u now (minus path loss minus shadowing), dB (negative) */
    virtual double GetPathGainDb(uint32_t g, uint32_t u) = 0;
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
    virtual std::vector<Complex> GetGnbSteeringVector(uint32_t g, double azimuth, double inclination) const = 0;

    /**
     * Beamformed power gain per subband (linear, path gain included) from gNB g, using its beam
     * toward UE v, at UE u with u's current beam:
     * |w_u^H H_{g,u}(sb) w_{g,v}|^2 * 10^(PathGainDb/10). Serving link: v == u; interference
     * from g's transmission to v: v != u. Cached until the channel or a beam changes.
     * \return one value per subband
     */
    virtual const std::vector<double>& GetBeamGain(uint32_t g, uint32_t v, uint32_t u) = 0;

    /** \return gNB g's transmit power, W (spread evenly over the bandwidth) */
    virtual double GetGnbTxPowerW(uint32_t g) const = 0;
    /** \return UE u's transmit power, W */
    virtual double GetUeTxPowerW(uint32_t u) const = 0;
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
    /** Fire the Updated trace (implementations call it after recomputing channels). */
    void NotifyUpdated();

  private:
    TracedCallback<Time> m_updatedTrace; //!< channels recomputed
};

} // namespace ns3

#endif // NR_CHANNEL_H
