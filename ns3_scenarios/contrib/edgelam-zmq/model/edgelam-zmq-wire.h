// SPDX-License-Identifier: GPL-2.0-only
// The edgelam ZeroMQ wire format, version 1 (bridge/zmq-wire-format.md): one ZeroMQ frame per
// message, [u8 version][u8 type][body], fixed-size fields little-endian.
#ifndef EDGELAM_ZMQ_WIRE_H
#define EDGELAM_ZMQ_WIRE_H

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace ns3
{
namespace edgelamzmq
{

constexpr uint8_t kWireVersion = 1; //!< bumped on any incompatible change

/// Message types (bridge/zmq-wire-format.md): P = Python side, N = ns-3 side.
enum class MsgType : uint8_t
{
    HELLO = 1,        //!< N -> P: scenario, handler names, node names
    WELCOME = 2,      //!< P -> N: Python's pid (0: another host)
    CALL = 3,         //!< P -> N: handler name, f64 args, string args
    RESULT = 4,       //!< N -> P: f64 values (the reply to every P -> N command)
    ERROR = 5,        //!< either way: a message; after N -> P the command failed
    SCHEDULE = 6,     //!< P -> N: token, delay s
    EVERY = 7,        //!< P -> N: token, period s, with link states (u8)
    CANCEL = 8,       //!< P -> N: token of an EVERY
    RUN = 9,          //!< P -> N: until s (NaN: until no event is left)
    STOP = 10,        //!< P -> N: stop RUN after the current event
    LINKS = 11,       //!< P -> N: ask for the link states (reply LINK_STATES)
    CLOSE = 12,       //!< P -> N: destroy the simulation and exit (reply BYE)
    TIMER = 20,       //!< N -> P: now, token (a SCHEDULE fired)
    DELIVERED = 21,   //!< N -> P: now, one message delivery record
    TICK = 22,        //!< N -> P: now, token, link states if asked (an EVERY fired)
    RUN_DONE = 23,    //!< N -> P: now (RUN returned)
    LINK_STATES = 24, //!< N -> P: now, link states
    DONE = 25,        //!< P -> N: the callback of an event returned
    BYE = 26,         //!< N -> P: closed
};

/// Appends fields to a message.
class WireWriter
{
  public:
    WireWriter(MsgType type)
    {
        m_buf.push_back(kWireVersion);
        m_buf.push_back(static_cast<uint8_t>(type));
    }

    template <typename T>
    WireWriter& Put(T v)
    {
        static_assert(std::is_arithmetic_v<T>);
        const auto* p = reinterpret_cast<const uint8_t*>(&v); // x86-64, aarch64: little-endian
        m_buf.insert(m_buf.end(), p, p + sizeof(T));
        return *this;
    }

    WireWriter& PutString(const std::string& s)
    {
        Put<uint32_t>(s.size());
        m_buf.insert(m_buf.end(), s.begin(), s.end());
        return *this;
    }

    WireWriter& PutStrings(const std::vector<std::string>& v)
    {
        Put<uint32_t>(v.size());
        for (const auto& s : v)
        {
            PutString(s);
        }
        return *this;
    }

    template <typename T>
    WireWriter& PutArray(const std::vector<T>& v)
    {
        Put<uint32_t>(v.size());
        const auto* p = reinterpret_cast<const uint8_t*>(v.data());
        m_buf.insert(m_buf.end(), p, p + v.size() * sizeof(T));
        return *this;
    }

    const std::vector<uint8_t>& Bytes() const
    {
        return m_buf;
    }

  private:
    std::vector<uint8_t> m_buf;
};

/// Reads fields of a message; throws std::runtime_error on a short or malformed one.
class WireReader
{
  public:
    WireReader(const void* data, size_t size)
        : m_p(static_cast<const uint8_t*>(data)),
          m_end(m_p + size)
    {
        if (size < 2)
        {
            throw std::runtime_error("a message shorter than its 2-byte header");
        }
        if (m_p[0] != kWireVersion)
        {
            throw std::runtime_error("wire format version " + std::to_string(m_p[0]) +
                                     ", this side speaks " + std::to_string(kWireVersion));
        }
        m_type = static_cast<MsgType>(m_p[1]);
        m_p += 2;
    }

    MsgType Type() const
    {
        return m_type;
    }

    template <typename T>
    T Get()
    {
        Need(sizeof(T));
        T v;
        std::memcpy(&v, m_p, sizeof(T));
        m_p += sizeof(T);
        return v;
    }

    std::string GetString()
    {
        auto n = Get<uint32_t>();
        Need(n);
        std::string s(reinterpret_cast<const char*>(m_p), n);
        m_p += n;
        return s;
    }

    std::vector<std::string> GetStrings()
    {
        auto n = Get<uint32_t>();
        std::vector<std::string> v;
        for (uint32_t i = 0; i < n; ++i)
        {
            v.push_back(GetString());
        }
        return v;
    }

    template <typename T>
    std::vector<T> GetArray()
    {
        auto n = Get<uint32_t>();
        Need(static_cast<size_t>(n) * sizeof(T));
        std::vector<T> v(n);
        std::memcpy(v.data(), m_p, n * sizeof(T));
        m_p += n * sizeof(T);
        return v;
    }

  private:
    void Need(size_t n) const
    {
        if (static_cast<size_t>(m_end - m_p) < n)
        {
            throw std::runtime_error("a truncated message (type " +
                                     std::to_string(static_cast<int>(m_type)) + ")");
        }
    }

    const uint8_t* m_p;
    const uint8_t* m_end;
    MsgType m_type;
};

} // namespace edgelamzmq
} // namespace ns3

#endif
