// SPDX-License-Identifier: GPL-2.0-only
#include "edgelam-zmq-bridge.h"

#include "edgelam-zmq-wire.h"

#include "ns3/log.h"
#include "ns3/simulator.h"
#include "ns3/string.h"

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <zmq.hpp>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("EdgelamZmqBridge");
NS_OBJECT_ENSURE_REGISTERED(EdgelamZmqBridge);

using edgelamzmq::MsgType;
using edgelamzmq::WireReader;
using edgelamzmq::WireWriter;

namespace
{
/// Longest single blocking poll: the Python side's liveness is checked this often.
constexpr std::chrono::milliseconds kPollSlice{500};
} // namespace

TypeId
EdgelamZmqBridge::GetTypeId()
{
    static TypeId tid =
        TypeId("ns3::EdgelamZmqBridge")
            .SetParent<Object>()
            .SetGroupName("EdgelamZmq")
            .AddConstructor<EdgelamZmqBridge>()
            .AddAttribute("Endpoint",
                          "ZeroMQ endpoint the Python side bound (ipc://... or tcp://host:port); "
                          "edgelam passes it as --edgelam-endpoint",
                          StringValue(""),
                          MakeStringAccessor(&EdgelamZmqBridge::m_endpoint),
                          MakeStringChecker())
            .AddAttribute("Timeout",
                          "Longest wait for a message from the Python side, s (0: no limit; a "
                          "Python side on this host that exits is detected within 0.5 s anyway)",
                          TimeValue(Seconds(600)),
                          MakeTimeAccessor(&EdgelamZmqBridge::m_timeout),
                          MakeTimeChecker(Seconds(0)));
    return tid;
}

EdgelamZmqBridge::EdgelamZmqBridge()
{
    NS_LOG_FUNCTION(this);
}

EdgelamZmqBridge::~EdgelamZmqBridge() = default;

void
EdgelamZmqBridge::DoDispose()
{
    m_handlers.clear();
    m_linkStates = LinkStateCallback();
    if (m_sock)
    {
        m_sock->close();
        m_sock.reset();
    }
    m_ctx.reset();
    Object::DoDispose();
}

void
EdgelamZmqBridge::SetNodes(const std::vector<std::string>& names)
{
    m_nodes = names;
}

void
EdgelamZmqBridge::SetHandler(const std::string& name, CallHandler handler)
{
    m_handlers[name] = handler;
}

void
EdgelamZmqBridge::SetLinkStateCallback(LinkStateCallback cb)
{
    m_linkStates = cb;
}

void
EdgelamZmqBridge::Fail(const std::string& what) const
{
    std::cerr << "edgelam-zmq: " << what << std::endl;
    std::exit(1);
}

void
EdgelamZmqBridge::WaitFor(short events, const std::string& waitingFor)
{
    auto t0 = std::chrono::steady_clock::now();
    zmq::pollitem_t item{m_sock->handle(), 0, events, 0};
    while (zmq::poll(&item, 1, kPollSlice) == 0) // blocks: no busy spinning
    {
        if (m_peerPid > 0 && kill(static_cast<pid_t>(m_peerPid), 0) != 0 && errno == ESRCH)
        {
            Fail("the Python side (pid " + std::to_string(m_peerPid) + ") exited while ns-3 " +
                 "waited for " + waitingFor);
        }
        double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                            .count();
        if (m_timeout.IsStrictlyPositive() && waited > m_timeout.GetSeconds())
        {
            Fail("no message from the Python side at " + m_endpoint + " within " +
                 std::to_string(m_timeout.GetSeconds()) + " s while waiting for " + waitingFor);
        }
    }
}

void
EdgelamZmqBridge::SendBytes(const std::vector<uint8_t>& bytes)
{
    // a PAIR socket without its peer blocks in send: wait for room as for a message
    if (!m_sock->send(zmq::buffer(bytes), zmq::send_flags::dontwait))
    {
        WaitFor(ZMQ_POLLOUT, "room to send a message");
        (void)m_sock->send(zmq::buffer(bytes), zmq::send_flags::none);
    }
}

std::vector<uint8_t>
EdgelamZmqBridge::Receive(const char* waitingFor)
{
    WaitFor(ZMQ_POLLIN, waitingFor);
    zmq::message_t msg;
    (void)m_sock->recv(msg, zmq::recv_flags::none);
    const auto* p = static_cast<const uint8_t*>(msg.data());
    return std::vector<uint8_t>(p, p + msg.size());
}

void
EdgelamZmqBridge::Connect()
{
    if (m_endpoint.empty())
    {
        Fail("no endpoint: run this scenario from edgelam (bridge.transport zmq), which passes "
             "--edgelam-endpoint, or set the Endpoint attribute");
    }
    m_ctx = std::make_unique<zmq::context_t>(1);
    m_sock = std::make_unique<zmq::socket_t>(*m_ctx, zmq::socket_type::pair);
    m_sock->set(zmq::sockopt::linger, 0);
    m_sock->connect(m_endpoint);
    std::vector<std::string> handlers;
    for (const auto& h : m_handlers)
    {
        handlers.push_back(h.first);
    }
    SendBytes(WireWriter(MsgType::HELLO).PutStrings(handlers).PutStrings(m_nodes).Bytes());
    auto msg = Receive("its WELCOME");
    try
    {
        WireReader r(msg.data(), msg.size());
        if (r.Type() == MsgType::ERROR)
        {
            Fail("the Python side refused the session: " + r.GetString());
        }
        if (r.Type() != MsgType::WELCOME)
        {
            Fail("expected WELCOME, got message type " + std::to_string(msg[1]));
        }
        // the pid is watched only on this host (ipc); over tcp Python may run elsewhere
        auto pid = r.Get<int64_t>();
        m_peerPid = m_endpoint.rfind("ipc://", 0) == 0 ? pid : 0;
    }
    catch (const std::runtime_error& e)
    {
        Fail(std::string("bad WELCOME from the Python side: ") + e.what());
    }
}

void
EdgelamZmqBridge::Serve()
{
    Connect();
    while (!m_closed)
    {
        auto type = static_cast<MsgType>(ServeCommands("a command"));
        if (type == MsgType::RUN)
        {
            m_running = true;
            Simulator::Run();
            m_running = false;
            SendBytes(WireWriter(MsgType::RUN_DONE).Put(Simulator::Now().GetSeconds()).Bytes());
        }
        else if (type == MsgType::CLOSE)
        {
            m_closed = true;
            for (auto& e : m_every)
            {
                e.second.Cancel();
            }
            Simulator::Destroy();
            SendBytes(WireWriter(MsgType::BYE).Bytes());
        }
        else
        {
            Fail("DONE outside a callback (protocol error)");
        }
    }
}

uint8_t
EdgelamZmqBridge::ServeCommands(const char* waitingFor)
{
    for (;;)
    {
        auto msg = Receive(waitingFor);
        auto type = msg.size() >= 2 ? static_cast<MsgType>(msg[1]) : MsgType::ERROR;
        if (type == MsgType::DONE || type == MsgType::CLOSE)
        {
            return static_cast<uint8_t>(type);
        }
        if (type == MsgType::RUN && !m_running)
        {
            WireReader r(msg.data(), msg.size());
            double until = r.Get<double>();
            if (!std::isnan(until))
            {
                Simulator::Stop(Seconds(until) - Simulator::Now());
            }
            return static_cast<uint8_t>(type);
        }
        Dispatch(msg);
    }
}

void
EdgelamZmqBridge::Dispatch(const std::vector<uint8_t>& msg)
{
    try
    {
        WireReader r(msg.data(), msg.size());
        WireWriter ok(MsgType::RESULT);
        ok.PutArray(std::vector<double>());
        switch (r.Type())
        {
        case MsgType::CALL:
            HandleCall(msg);
            return;
        case MsgType::SCHEDULE: {
            auto token = r.Get<uint64_t>();
            Simulator::Schedule(Seconds(r.Get<double>()), &EdgelamZmqBridge::Timer, this, token);
            break;
        }
        case MsgType::EVERY: {
            auto token = r.Get<uint64_t>();
            Time period = Seconds(r.Get<double>());
            bool links = r.Get<uint8_t>() != 0;
            m_every[token] =
                Simulator::Schedule(period, &EdgelamZmqBridge::Tick, this, token, period, links);
            break;
        }
        case MsgType::CANCEL: {
            auto it = m_every.find(r.Get<uint64_t>());
            if (it != m_every.end())
            {
                it->second.Cancel();
                m_every.erase(it);
            }
            break;
        }
        case MsgType::STOP:
            Simulator::Stop();
            break;
        case MsgType::LINKS: {
            std::vector<uint8_t> out =
                WireWriter(MsgType::LINK_STATES).Put(Simulator::Now().GetSeconds()).Bytes();
            AppendLinkStates(out);
            SendBytes(out);
            return;
        }
        case MsgType::RUN:
            throw std::runtime_error("RUN inside a callback");
        default:
            throw std::runtime_error("unknown message type " + std::to_string(msg[1]));
        }
        SendBytes(ok.Bytes());
    }
    catch (const std::runtime_error& e)
    {
        SendBytes(WireWriter(MsgType::ERROR).PutString(e.what()).Bytes());
    }
}

void
EdgelamZmqBridge::HandleCall(const std::vector<uint8_t>& msg)
{
    WireReader r(msg.data(), msg.size());
    auto name = r.GetString();
    CallArgs args;
    args.nums = r.GetArray<double>();
    args.strs = r.GetStrings();
    auto it = m_handlers.find(name);
    if (it == m_handlers.end())
    {
        std::string known;
        for (const auto& h : m_handlers)
        {
            known += (known.empty() ? "" : ", ") + h.first;
        }
        throw std::runtime_error("this scenario has no handler '" + name + "' (it has: " + known +
                                 ")");
    }
    std::vector<double> result;
    try
    {
        result = it->second(args);
    }
    catch (const std::exception& e)
    {
        throw std::runtime_error(name + ": " + e.what());
    }
    SendBytes(WireWriter(MsgType::RESULT).PutArray(result).Bytes());
}

void
EdgelamZmqBridge::WaitForCallback(const std::vector<uint8_t>& event, const char* what)
{
    SendBytes(event);
    if (static_cast<MsgType>(ServeCommands(what)) != MsgType::DONE)
    {
        Fail(std::string("the Python side closed the session inside ") + what);
    }
}

void
EdgelamZmqBridge::Timer(uint64_t token)
{
    WaitForCallback(
        WireWriter(MsgType::TIMER).Put(Simulator::Now().GetSeconds()).Put(token).Bytes(),
        "a timer callback");
}

void
EdgelamZmqBridge::Tick(uint64_t token, Time period, bool withLinks)
{
    auto out = WireWriter(MsgType::TICK)
                   .Put(Simulator::Now().GetSeconds())
                   .Put(token)
                   .Put<uint8_t>(withLinks)
                   .Bytes();
    if (withLinks)
    {
        AppendLinkStates(out);
    }
    WaitForCallback(out, "a periodic callback");
    // rescheduled after the callback (a CANCEL in it ends the tap), as the in-process bridge
    // does: events the callback scheduled for the same instant keep their order
    auto it = m_every.find(token);
    if (it != m_every.end())
    {
        it->second =
            Simulator::Schedule(period, &EdgelamZmqBridge::Tick, this, token, period, withLinks);
    }
}

void
EdgelamZmqBridge::AppendLinkStates(std::vector<uint8_t>& out)
{
    LinkStates s;
    if (!m_linkStates.IsNull())
    {
        m_linkStates(s);
    }
    WireWriter w(MsgType::LINK_STATES);
    w.PutArray(s.src).PutArray(s.dst).PutArray(s.rateBps).PutArray(s.queueBytes);
    w.PutArray(s.deliveredBytes).PutArray(s.droppedPackets);
    out.insert(out.end(), w.Bytes().begin() + 2, w.Bytes().end()); // the body only
}

void
EdgelamZmqBridge::NotifyDelivered(uint64_t id, uint32_t src, uint32_t dst, uint64_t bytes,
                                  bool udp, double tSendS, double tFirstByteS,
                                  double tDeliveredS)
{
    if (!m_sock || m_closed)
    {
        return;
    }
    WaitForCallback(WireWriter(MsgType::DELIVERED)
                        .Put(Simulator::Now().GetSeconds())
                        .Put(id)
                        .Put(src)
                        .Put(dst)
                        .Put(bytes)
                        .Put<uint8_t>(udp)
                        .Put(tSendS)
                        .Put(tFirstByteS)
                        .Put(tDeliveredS)
                        .Bytes(),
                    "a delivery callback");
}

} // namespace ns3
