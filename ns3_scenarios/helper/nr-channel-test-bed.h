/*
 * SPDX-License-Identifier: GPL-2.0-only
 *
 * NrChannelTestBed: gNB and UE nodes at given positions around a ThreeGppNrChannel, with an
 * optional NrBeamManager; for tests, notebooks and the Python bridge.
 */
#ifndef NR_CHANNEL_TEST_BED_H
#define NR_CHANNEL_TEST_BED_H

#include "ns3/node-container.h"
#include "ns3/nr-beam-manager.h"
#include "ns3/three-gpp-nr-channel.h"
#include "ns3/vector.h"

#include <string>

namespace ns3
{

/**
 * \ingroup edgelam
 * Owns the nodes (ConstantPositionMobilityModel, or ConstantVelocityMobilityModel for a UE
 * with a nonzero velocity) and the channel. Nodes live in ns-3's NodeList: create the test bed
 * while a simulation is alive and drop it before Simulator::Destroy.
 */
class NrChannelTestBed
{
  public:
    /**
     * \param scenario TR 38.901 scenario (see ThreeGppNrChannel::Configure)
     * \param carrierHz carrier, Hz
     * \param bandwidthHz bandwidth, Hz
     * \param nSubbands subbands
     * \param updatePeriod ThreeGppNrChannel::UpdatePeriod
     * \param shadowing ThreeGppNrChannel::ShadowingEnabled
     * \param condition ThreeGppNrChannel::Condition ("3gpp", "los", "nlos")
     * \param fadingUpdatePeriod ThreeGppNrChannel::FadingUpdatePeriod
     */
    NrChannelTestBed(const std::string& scenario, double carrierHz, double bandwidthHz,
                     uint32_t nSubbands, Time updatePeriod, bool shadowing,
                     const std::string& condition, Time fadingUpdatePeriod);

    /** Add a gNB at pos (m); see NrChannel::AddGnb. \return its index */
    uint32_t AddGnb(const Vector& pos, uint32_t rows, uint32_t cols, double txPowerDbm,
                    double bearingRad);
    /** Add a UE at pos (m) moving at velocity (m/s); see NrChannel::AddUe. \return its index */
    uint32_t AddUe(const Vector& pos, const Vector& velocity, uint32_t rows, uint32_t cols,
                   double txPowerDbm, double noiseFigureDb);
    /** Move UE u (and keep its velocity). */
    void SetUePosition(uint32_t u, const Vector& pos);
    /** \return UE u's position now, m */
    Vector GetUePosition(uint32_t u) const;

    /** Fix the random streams of the channel. \return number of streams used */
    int64_t AssignStreams(int64_t stream);

    /**
     * Create and install a beam manager (after all nodes are added).
     * \param policy NrBeamManager::Policy
     * \param measurementPeriod NrBeamManager::MeasurementPeriod
     * \param oversampling NrBeamManager::OversamplingH and OversamplingV
     * \return the manager
     */
    Ptr<NrBeamManager> InstallBeamManager(const std::string& policy, Time measurementPeriod,
                                          uint32_t oversampling);

    /** \return the channel */
    Ptr<ThreeGppNrChannel> GetChannel() const;
    /** \return the beam manager, or null */
    Ptr<NrBeamManager> GetBeamManager() const;

  private:
    Ptr<ThreeGppNrChannel> m_channel;
    Ptr<NrBeamManager> m_beams;
    NodeContainer m_gnbNodes;
    NodeContainer m_ueNodes;
};

} // namespace ns3

#endif // NR_CHANNEL_TEST_BED_H
