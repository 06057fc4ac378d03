// SPDX-License-Identifier: GPL-2.0-only
#ifndef EDGELAM_ZMQ_BRIDGE_H
#define EDGELAM_ZMQ_BRIDGE_H

#include "ns3/callback.h"
#include "ns3/event-id.h"
#include "ns3/nstime.h"
#include "ns3/object.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace zmq
{
class context_t;
class socket_t;
} // namespace zmq

namespace ns3
{

/**
 * \ingroup edgelam-zmq
 * The ns-3 side of edgelam_ns3's out-of-process coupling (Python: bridge.transport zmq).
 *
 * A scenario declares its nodes, registers handlers for the calls Python makes (at least
 * "send": transmit a message through the scenario's network), reports each delivered message
 * with NotifyDelivered and, optionally, its link states; then calls Serve(). Serve connects
 * to the Python side at the Endpoint attribute and executes its commands (calls, timers,
 * periodic taps, Simulator::Run) until Python closes the session. Python's callbacks run while
 * this side waits in a blocking poll (no busy spinning). Wire format: bridge/zmq-wire-format.md.
 */
class EdgelamZmqBridge : public Object
{
  public:
    /// Per directed link counters handed to Python's link-state taps.
    struct LinkStates
    {
        std::vector<uint32_t> src;          //!< source node index
        std::vector<uint32_t> dst;          //!< destination node index
        std::vector<double> rateBps;        //!< line rate, bit/s
        std::vector<double> queueBytes;     //!< bytes in the transmit queue
        std::vector<double> deliveredBytes; //!< bytes delivered since the start
        std::vector<double> droppedPackets; //!< queue drops since the start
    };

    /// The arguments of a call from Python.
    struct CallArgs
    {
        std::vector<double> nums;      //!< numbers (indices, sizes, s, bit/s)
        std::vector<std::string> strs; //!< strings
    };

    /// A handler of a call: returns its result (numbers); throws std::exception on bad input.
    typedef Callback<std::vector<double>, const CallArgs&> CallHandler;
    /// Fills the link states (called before every tap and LINKS request).
    typedef Callback<void, LinkStates&> LinkStateCallback;

    static TypeId GetTypeId();

    EdgelamZmqBridge();
    ~EdgelamZmqBridge() override;

    /// Node names in index order (the indices "send" and NotifyDelivered use).
    void SetNodes(const std::vector<std::string>& names);
    /// Register the handler of the call `name` (e.g. "send": args src, dst, bytes, udp;
    /// result: the message id that NotifyDelivered will report).
    void SetHandler(const std::string& name, CallHandler handler);
    void SetLinkStateCallback(LinkStateCallback cb);

    /**
     * Report a delivered message to Python (blocks until its callbacks have run).
     * \param tSendS when Python sent it, s (times are seconds as doubles, as in the traces)
     * \param tFirstByteS when its first byte reached dst, s
     * \param tDeliveredS when its last byte reached dst (now), s
     */
    void NotifyDelivered(uint64_t id, uint32_t src, uint32_t dst, uint64_t bytes, bool udp,
                         double tSendS, double tFirstByteS, double tDeliveredS);

    /// Connect to Python and serve its commands until it closes the session; then
    /// Simulator::Destroy() has been called. Exits the process with a message naming the
    /// Python side if it dies or stays silent longer than the Timeout attribute.
    void Serve();

  protected:
    void DoDispose() override;

  private:
    void Connect();
    /// Block in a poll (slices of 0.5 s) until the socket is ready for `events`; exit if the
    /// Python side is gone or silent past Timeout.
    void WaitFor(short events, const std::string& waitingFor);
    std::vector<uint8_t> Receive(const char* waitingFor);
    void SendBytes(const std::vector<uint8_t>& bytes);
    /// Execute Python's commands until one that returns control (DONE, RUN or CLOSE).
    /// \return the type of that command
    uint8_t ServeCommands(const char* waitingFor);
    void Dispatch(const std::vector<uint8_t>& msg);
    void HandleCall(const std::vector<uint8_t>& msg);
    void Timer(uint64_t token);
    void Tick(uint64_t token, Time period, bool withLinks);
    void AppendLinkStates(std::vector<uint8_t>& out);
    void WaitForCallback(const std::vector<uint8_t>& event, const char* what);
    [[noreturn]] void Fail(const std::string& what) const;

    std::string m_endpoint;
    Time m_timeout;
    std::unique_ptr<zmq::context_t> m_ctx;
    std::unique_ptr<zmq::socket_t> m_sock;
    int64_t m_peerPid{0};
    std::vector<std::string> m_nodes;
    std::map<std::string, CallHandler> m_handlers;
    LinkStateCallback m_linkStates;
    std::map<uint64_t, EventId> m_every;
    bool m_running{false};
    bool m_closed{false};
    bool m_stopRequested{false};
    uint8_t m_lastControl{0};
};

} // namespace ns3

#endif
