// SPDX-License-Identifier: GPL-2.0-only
#include "pyevents.h"

#include "ns3/simulator.h"

#include <memory>

namespace py = pybind11;

namespace edgelam
{

namespace
{
std::unique_ptr<py::error_already_set> g_pending; //!< exception raised by a callback
} // namespace

void
InvokePython(const py::handle& fn)
{
    if (g_pending)
    {
        return;
    }
    try
    {
        fn();
    }
    catch (py::error_already_set& e)
    {
        g_pending = std::make_unique<py::error_already_set>(std::move(e));
        ns3::Simulator::Stop();
    }
}

void
InvokePython(const py::handle& fn, const py::handle& arg)
{
    if (g_pending)
    {
        return;
    }
    try
    {
        fn(arg);
    }
    catch (py::error_already_set& e)
    {
        g_pending = std::make_unique<py::error_already_set>(std::move(e));
        ns3::Simulator::Stop();
    }
}

bool
HasPending()
{
    return static_cast<bool>(g_pending);
}

void
RethrowPending()
{
    if (g_pending)
    {
        std::unique_ptr<py::error_already_set> e = std::move(g_pending);
        throw *e;
    }
}

PyEvent::PyEvent(py::object fn)
    : m_fn(std::move(fn))
{
}

PyEvent::~PyEvent()
{
    // Events are destroyed inside Simulator::Run or Destroy, with the GIL held (single thread).
    m_fn = py::object();
}

void
PyEvent::Notify()
{
    InvokePython(m_fn);
}

} // namespace edgelam
