// SPDX-License-Identifier: GPL-2.0-only
// CoSim: the one ns-3 simulation of this process, as Python drives it. Glue only: the network,
// transport and traffic models live in ns3_scenarios/.
#ifndef EDGELAM_BRIDGE_COSIM_H
#define EDGELAM_BRIDGE_COSIM_H

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "ns3/edge-network.h"
#include "ns3/nr-beam-manager.h"
#include "ns3/nr-bler-model.h"
#include "ns3/nr-radio-helper.h"
#include "ns3/message-transport.h"
#include "ns3/cross-traffic-helper.h"

#include <optional>
#include <vector>

namespace edgelam
{

class CoSim
{
  public:
    CoSim(uint32_t seed, uint32_t run);
    ~CoSim();
    CoSim(const CoSim&) = delete;
    CoSim& operator=(const CoSim&) = delete;

    // topology (before finalize)
    uint32_t AddNode(const std::string& name);
    uint32_t AddLink(uint32_t a,
                     uint32_t b,
                     double rateBps,
                     double delayS,
                     uint32_t queuePackets,
                     uint32_t mtuBytes);
    void Finalize(uint32_t tcpSegmentSize, uint32_t tcpBufBytes, uint32_t frameHeaderBytes);
    int64_t AddOnOff(uint32_t src, uint32_t dst, double rateBps, double meanOnS, double meanOffS,
                     uint32_t packetSize, double startS, int64_t stream, uint16_t port);
    uint64_t SinkRxBytes(uint32_t dst, uint16_t port) const;
    void AddReplay(uint32_t src, uint32_t dst, std::vector<double> times,
                   std::vector<double> bytes);

    // clock
    double Now() const;
    void Schedule(double delayS, pybind11::object fn);
    uint32_t Every(double periodS, pybind11::object fn, pybind11::object arg, bool refreshLinks);
    void Cancel(uint32_t every);
    void Run(std::optional<double> untilS);
    void Stop();
    void Destroy();

    // transport
    void SetDeliveryHandler(pybind11::object fn);
    uint64_t Send(uint32_t src, uint32_t dst, uint64_t bytes, bool udp);
    uint64_t InFlight() const;

    // link state
    void SetLinkRate(uint32_t l, double rateBps);
    // trace-driven links (radio.mode trace): the series before finalize, shares any time
    void SetLinkTrace(uint32_t l, std::vector<double> timesS, std::vector<double> ratesBps,
                      std::vector<double> delaysS, std::vector<double> losses, double baseDelayS,
                      double loopPeriodS, double minRateBps, int64_t stream,
                      double accessDelayS);
    void SetLinkShare(uint32_t l, double share);
    void ShareLinkTraces(const std::vector<uint32_t>& links);
    void RefreshLinks();
    ns3::Ptr<ns3::EdgeNetwork> Network() const;

    // 6G radio (before finalize): devices reach gNBs through it
    void SetRadio(const pybind11::dict& helperAttrs, const pybind11::dict& macAttrs,
                  const pybind11::dict& deviceAttrs, const pybind11::dict& channelAttrs,
                  const std::string& channel, const pybind11::dict& beamAttrs,
                  const std::vector<uint32_t>& gnbs, const std::vector<uint32_t>& ues,
                  int64_t stream);
    void AddBlerCurve(uint32_t channel, uint32_t table, uint32_t mcs, std::vector<double> snrDb,
                      std::vector<double> cbSizes, std::vector<double> bler);
    void SetEesmBetas(uint32_t table, std::vector<double> betas);
    ns3::Ptr<ns3::NrRadioHelper> Radio() const;
    ns3::Ptr<ns3::NrBeamManager> Beams() const;

    // a C++-owned buffer for benchmarks of state hand-off (valid until the next call)
    std::vector<double>& BenchBuffer();

  private:
    void OnDelivered(const ns3::MessageRecord& rec);
    void Tick(uint32_t id, double periodS, pybind11::object fn, pybind11::object arg, bool refresh);
    void RequireAlive() const;

    ns3::Ptr<ns3::EdgeNetwork> m_net;
    ns3::Ptr<ns3::MessageTransport> m_transport;
    ns3::CrossTrafficHelper m_cross;
    ns3::Ptr<ns3::NrRadioHelper> m_radio;
    ns3::Ptr<ns3::NrBlerModel> m_bler;
    ns3::Ptr<ns3::NrBeamManager> m_beams;
    pybind11::dict m_beamAttrs;
    pybind11::object m_deliveryHandler;
    std::vector<double> m_bench;
    std::vector<bool> m_everyActive;
    bool m_finalized{false};
    bool m_destroyed{false};
};

} // namespace edgelam

#endif
