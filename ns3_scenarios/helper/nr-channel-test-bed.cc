/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-channel-test-bed.h"

#include "ns3/boolean.h"
#include "ns3/constant-position-mobility-model.h"
#include "ns3/constant-velocity-mobility-model.h"
#include "ns3/double.h"
#include "ns3/object-factory.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

#include <stdexcept>

namespace ns3
{

NrChannelTestBed::NrChannelTestBed(const std::string& scenario, double carrierHz,
                                   double bandwidthHz, uint32_t nSubbands, Time updatePeriod,
                                   bool shadowing, const std::string& condition,
                                   Time fadingUpdatePeriod)
{
    m_channel = CreateObjectWithAttributes<ThreeGppNrChannel>(
        "UpdatePeriod", TimeValue(updatePeriod),
        "FadingUpdatePeriod", TimeValue(fadingUpdatePeriod),
        "ShadowingEnabled", BooleanValue(shadowing),
        "Condition", StringValue(condition));
    m_channel->Configure(scenario, carrierHz, bandwidthHz, nSubbands);
}

uint32_t
NrChannelTestBed::AddGnb(const Vector& pos, uint32_t rows, uint32_t cols, double txPowerDbm,
                         double bearingRad)
{
    Ptr<Node> node = CreateObject<Node>();
    Ptr<ConstantPositionMobilityModel> mob = CreateObject<ConstantPositionMobilityModel>();
    mob->SetPosition(pos);
    node->AggregateObject(mob);
    const uint32_t g = m_channel->AddGnb(node, rows, cols, txPowerDbm, bearingRad);
    m_gnbNodes.Add(node);
    return g;
}

uint32_t
NrChannelTestBed::AddUe(const Vector& pos, const Vector& velocity, uint32_t rows, uint32_t cols,
                        double txPowerDbm, double noiseFigureDb)
{
    Ptr<Node> node = CreateObject<Node>();
    if (velocity.x != 0 || velocity.y != 0 || velocity.z != 0)
    {
        Ptr<ConstantVelocityMobilityModel> mob = CreateObject<ConstantVelocityMobilityModel>();
        mob->SetPosition(pos);
        mob->SetVelocity(velocity);
        node->AggregateObject(mob);
    }
    else
    {
        Ptr<ConstantPositionMobilityModel> mob = CreateObject<ConstantPositionMobilityModel>();
        mob->SetPosition(pos);
        node->AggregateObject(mob);
    }
    const uint32_t u = m_channel->AddUe(node, rows, cols, txPowerDbm, noiseFigureDb);
    m_ueNodes.Add(node);
    return u;
}

void
NrChannelTestBed::SetUePosition(uint32_t u, const Vector& pos)
{
    if (u >= m_ueNodes.GetN())
    {
        throw std::out_of_range("no UE " + std::to_string(u));
    }
    m_ueNodes.Get(u)->GetObject<MobilityModel>()->SetPosition(pos);
}

Vector
NrChannelTestBed::GetUePosition(uint32_t u) const
{
    if (u >= m_ueNodes.GetN())
    {
        throw std::out_of_range("no UE " + std::to_string(u));
    }
    return m_ueNodes.Get(u)->GetObject<MobilityModel>()->GetPosition();
}

int64_t
NrChannelTestBed::AssignStreams(int64_t stream)
{
    return m_channel->AssignStreams(stream);
}

Ptr<NrBeamManager>
NrChannelTestBed::InstallBeamManager(const std::string& policy, Time measurementPeriod,
                                     uint32_t oversampling)
{
    if (m_beams)
    {
        throw std::logic_error("a beam manager is already installed");
    }
    auto beams = CreateObjectWithAttributes<NrBeamManager>(
        "Policy", StringValue(policy),
        "MeasurementPeriod", TimeValue(measurementPeriod),
        "OversamplingH", UintegerValue(oversampling),
        "OversamplingV", UintegerValue(oversampling));
    beams->Install(m_channel);
    m_beams = beams;
    return m_beams;
}

Ptr<ThreeGppNrChannel>
NrChannelTestBed::GetChannel() const
{
    return m_channel;
}

Ptr<NrBeamManager>
NrChannelTestBed::GetBeamManager() const
{
    return m_beams;
}

} // namespace ns3
