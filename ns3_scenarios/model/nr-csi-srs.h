/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * NrCsiSrs: the channel of each UE as one gNB knows it from sounding reference signals (SRS,
 * TDD reciprocity): periodic noisy LS estimates, usable after a processing delay, or a channel
 * set from outside (a predictor) from a given slot on.
 */
#ifndef NR_CSI_SRS_H
#define NR_CSI_SRS_H

#include "ns3/object.h"
#include "ns3/random-variable-stream.h"

#include <complex>
#include <cstdint>
#include <deque>
#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * The gNB's SRS-based CSI of its UEs. UE i sounds in slot n when n >= OffsetSlots and
 * (n - OffsetSlots) mod PeriodSlots = 0 (TS 38.214 §6.2.1 periodic SRS, T_SRS and T_offset in
 * slots; per UE with SetUeConfig). The gNB's estimate of that occasion is the LS estimate
 *   Ĥ[r][t][sb] = H[r][t][sb] + e,  e ~ CN(0, sigma^2) i.i.d. per antenna pair and subband,
 * H the small-scale channel at the SRS instant (large-scale loss excluded, as
 * NrChannel::GetChannelMatrix), sigma^2 the noise of the LS estimate in those units (Measure's
 * argument: noise over received SRS energy per subband, see NrCellMac), so that its NMSE
 * E|Ĥ - H|^2 / E|H|^2 = 1 / SINR_srs. The estimate becomes usable ProcessingDelaySlots slots
 * after the occasion and stays the gNB's CSI until the next one is usable. A channel set with
 * SetExternal replaces it from its slot on, until ClearExternal.
 *
 * The noise samples come from a pool of kPool i.i.d. CN(0, 1) values drawn once (exact
 * Gaussians from this object's stream): estimate e uses pool[(o + k) mod kPool] e^{j phi}
 * for its k-th coefficient, o and phi drawn per estimate, so each coefficient is exactly
 * CN(0, sigma^2), the coefficients of an estimate are independent, and those of two estimates
 * uncorrelated (independent phases) though not independent where their pool ranges overlap
 * (drawing 2 x 1152 Gaussians per UE and SRS would cost more than the slot loop does).
 */
class NrCsiSrs : public Object
{
  public:
    typedef std::complex<double> Complex; //!< complex coefficient

    /** One UE's channel as the gNB holds it. */
    struct Estimate
    {
        bool valid{false};       //!< an estimate exists
        bool external{false};    //!< set from outside (SetExternal)
        uint64_t id{0};          //!< changes with every new estimate
        uint64_t slot{0};        //!< SRS slot (external: the slot it is used from)
        double timeS{0};         //!< instant of slot, s
        uint64_t usableSlot{0};  //!< first slot in which the gNB uses it
        double pathGainDb{0};    //!< path gain at the SRS instant, dB
        double sinrDb{0};        //!< SRS SINR of the estimate (mean |H|^2 / sigma^2), dB
        std::vector<Complex> h;  //!< [rx][tx][sb], large-scale loss excluded
    };

    /**
     * Register this type.
     * \return the TypeId
     */
    static TypeId GetTypeId();
    NrCsiSrs();
    ~NrCsiSrs() override;

    /** Add a UE with the attributes' period, offset and delay. \return its index */
    uint32_t AddUe();
    /**
     * \param i UE index
     * \param period SRS period, slots (>= 1)
     * \param offset slot offset (< period)
     * \param delay processing delay, slots
     */
    void SetUeConfig(uint32_t i, uint32_t period, uint32_t offset, uint32_t delay);
    /** \param i UE \param n slot \return whether UE i sounds in slot n */
    bool IsOccasion(uint32_t i, uint64_t n) const;
    /**
     * Record UE i's SRS of slot n.
     * \param i UE index
     * \param n slot
     * \param timeS its instant, s
     * \param h the true small-scale channel now, [rx][tx][sb]
     * \param pathGainDb path gain now, dB
     * \param noiseVar sigma^2, the LS estimate's error variance per coefficient in units of h
     */
    void Measure(uint32_t i, uint64_t n, double timeS, const std::vector<Complex>& h,
                 double pathGainDb, double noiseVar);
    /**
     * \param i UE index
     * \param n the current slot
     * \return the CSI the gNB uses in slot n (valid false before the first usable estimate)
     */
    const Estimate& Current(uint32_t i, uint64_t n);
    /**
     * Use h as UE i's CSI from slot n on (until ClearExternal or another SetExternal).
     * \param i UE index \param n slot \param timeS its instant, s \param h [rx][tx][sb]
     * \param pathGainDb its path gain, dB
     */
    void SetExternal(uint32_t i, uint64_t n, double timeS, const std::vector<Complex>& h,
                     double pathGainDb);
    /** Back to the SRS estimates for UE i. \param i UE index */
    void ClearExternal(uint32_t i);
    /** \param i UE \return its processing delay, slots */
    uint32_t GetDelay(uint32_t i) const;
    /** \param i UE \return its SRS period, slots */
    uint32_t GetPeriod(uint32_t i) const;
    /** \param i UE \return its SRS slot offset */
    uint32_t GetOffset(uint32_t i) const;

    /**
     * \param stream first stream index
     * \return streams used (1)
     */
    int64_t AssignStreams(int64_t stream);

  protected:
    void DoDispose() override;

  private:
    /** One UE's SRS configuration and estimates. */
    struct Ue
    {
        uint32_t period{10};            //!< T_SRS, slots
        uint32_t offset{0};             //!< T_offset, slots
        uint32_t delay{2};              //!< processing delay, slots
        Estimate current;               //!< in use
        std::deque<Estimate> pending;   //!< measured, not yet usable
        Estimate external;              //!< set from outside (valid: in force from its slot)
    };

    uint32_t m_period;                  //!< default period, slots
    uint32_t m_offset;                  //!< default offset, slots
    uint32_t m_delay;                   //!< default processing delay, slots
    std::vector<Ue> m_ues;              //!< per UE
    uint64_t m_nextId{1};               //!< next estimate id
    static constexpr uint32_t kPool = 1u << 16; //!< noise pool size (a power of two)
    std::vector<Complex> m_pool;        //!< CN(0, 1) samples, drawn at the first Measure
    Ptr<UniformRandomVariable> m_seed;  //!< seeds of the estimation noise
};

} // namespace ns3

#endif // NR_CSI_SRS_H
