/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * NrBeamManager: the beam policies of the gNBs toward their UEs.
 */
#ifndef NR_BEAM_MANAGER_H
#define NR_BEAM_MANAGER_H

#include "three-gpp-nr-channel.h"

#include "ns3/callback.h"
#include "ns3/event-id.h"
#include "ns3/nstime.h"
#include "ns3/object.h"
#include "ns3/traced-callback.h"

#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * Sets, for each UE u, the beam of its serving gNB toward it (ThreeGppNrChannel::SetGnbBeam)
 * by a policy (attribute Policy):
 * - "DftCodebook": SSB-like beam management. Every MeasurementPeriod the serving gNB sweeps an
 *   oversampled 2-D DFT codebook of its rows x cols array (OversamplingH x cols columns times
 *   OversamplingV x rows rows of beams; codeword k = kV * (OversamplingH * cols) + kH has
 *   weights exp(j 2 pi (c kH / (OversamplingH cols) + r kV / (OversamplingV rows))) / sqrt(N)
 *   on element r * cols + c) and keeps the codeword with the largest beamformed gain summed
 *   over subbands, measured with the UE's current beam. The UE beam is left as it is.
 * - "LosDirection": steer to the LOS direction from the positions, at each channel update
 *   (UEs with more than one element steer toward the gNB too).
 * - "Ideal": the dominant eigenvector of sum_sb H^H H (the dominant right singular vector over
 *   the band), at each channel update; power iteration started from the best DFT codeword, so
 *   it is never worse than any codeword. UEs with more than one element combine with the
 *   dominant eigenvector of sum_sb (H v)(H v)^H.
 * With a CSI source (SetCsiSource: the gNB's SRS estimates, NrCellMac CsiMode Srs), "Ideal"
 * computes the eigenvector from the gNB's estimate instead of the true channel, at each channel
 * update and whenever a new estimate is in use (OnCsiUpdated); the DFT sweep (SSB-like, a UE
 * measurement) and LosDirection (geometry) are unchanged.
 * Beams set from outside (SetBeam, SetCodeword) pause the policy for that UE until Resume.
 * The serving gNB of a UE is the one with the largest path gain at each channel update, unless
 * set with SetServingGnb.
 */
class NrBeamManager : public Object
{
  public:
    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();
    NrBeamManager();
    ~NrBeamManager() override;

    typedef std::complex<double> Complex; //!< complex weight

    /**
     * Attach to a channel whose gNBs and UEs are all added, apply the policy now and follow
     * the channel's updates (and, for DftCodebook, sweep every MeasurementPeriod from now).
     * \param channel the channel
     */
    void Install(Ptr<ThreeGppNrChannel> channel);

    /** \param u UE index \param g its serving gNB from now on (no longer the strongest) */
    void SetServingGnb(uint32_t u, uint32_t g);
    /** \return UE u's serving gNB */
    uint32_t GetServingGnb(uint32_t u) const;

    /** Set the serving gNB's beam toward u (normalised) and pause the policy for u. */
    void SetBeam(uint32_t u, const std::vector<Complex>& w);
    /** Use codeword k of the serving gNB's DFT codebook for u and pause the policy for u. */
    void SetCodeword(uint32_t u, uint32_t k);
    /** Resume the policy for u and apply it now. */
    void Resume(uint32_t u);
    /** \return whether the policy is paused for u */
    bool IsPaused(uint32_t u) const;
    /** \return the codeword index now used for u, -1 if its beam is not a codeword */
    int64_t GetCodewordIndex(uint32_t u) const;

    /** \return number of codewords of gNB g's DFT codebook */
    uint32_t GetNCodewords(uint32_t g) const;
    /** \return codeword k of gNB g's DFT codebook, unit norm */
    std::vector<Complex> GetCodeword(uint32_t g, uint32_t k) const;
    /**
     * \return the beamformed gain, summed over subbands, of every codeword of gNB g's codebook
     *         at UE u (with u's current beam), path gain excluded: the SSB-like measurement
     */
    std::vector<double> MeasureCodebook(uint32_t g, uint32_t u);

    /** Apply the policy now to every UE that is not paused. */
    void ApplyAll();

    /** Where the gNB's CSI of (g, u) comes from: [rx][tx][sb], or null for the true channel. */
    typedef Callback<const std::vector<Complex>*, uint32_t, uint32_t> CsiSource;
    /** \param source the gNB's CSI used by the Ideal policy (null callback: the true channel) */
    void SetCsiSource(CsiSource source);
    /** A new CSI of UE u is in use: the Ideal policy recomputes its beam. \param u UE index */
    void OnCsiUpdated(uint32_t u);

    /**
     * TracedCallback signature for a beam change.
     * \param g gNB index \param u UE index \param codeword codeword index or -1
     */
    typedef void (*BeamChangedTracedCallback)(uint32_t g, uint32_t u, int64_t codeword);

  protected:
    void DoDispose() override;

  private:
    enum Policy
    {
        DFT_CODEBOOK,
        LOS_DIRECTION,
        IDEAL,
    };

    void CheckUe(uint32_t u) const;
    void OnChannelUpdated(Time now);
    void Sweep();
    void Apply(uint32_t u);
    void UpdateServing();
    void ApplyIdeal(uint32_t g, uint32_t u);
    void SetGnbBeam(uint32_t g, uint32_t u, const std::vector<Complex>& w, int64_t codeword);

    std::string m_policyName;
    Policy m_policy{DFT_CODEBOOK};
    Time m_measurementPeriod;
    uint32_t m_overH;
    uint32_t m_overV;
    uint32_t m_maxIterations;

    Ptr<ThreeGppNrChannel> m_channel;
    CsiSource m_csiSource;
    std::vector<uint32_t> m_serving;
    std::vector<bool> m_servingFixed;
    std::vector<bool> m_paused;
    std::vector<int64_t> m_codeword;
    EventId m_sweepEvent;
    bool m_applying{false};
    TracedCallback<uint32_t, uint32_t, int64_t> m_beamChanged;
};

} // namespace ns3

#endif // NR_BEAM_MANAGER_H
