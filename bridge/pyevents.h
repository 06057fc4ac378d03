// SPDX-License-Identifier: GPL-2.0-only
// Python callbacks as ns-3 events, with the exception hand-off to Simulation.run().
#ifndef EDGELAM_BRIDGE_PYEVENTS_H
#define EDGELAM_BRIDGE_PYEVENTS_H

#include <pybind11/pybind11.h>

#include "ns3/event-impl.h"
#include "ns3/nstime.h"

namespace edgelam
{

/** Call a Python callable from inside Simulator::Run. If it raises, the exception is kept, the
 *  simulator is stopped, and Simulation.run() re-raises it (it must not unwind through ns-3's
 *  event loop, which would skip reference-count releases). */
void InvokePython(const pybind11::handle& fn);
void InvokePython(const pybind11::handle& fn, const pybind11::handle& arg);

/** Raise (in Python) the exception a callback left, if any, and clear it. */
void RethrowPending();

/** Whether a callback has raised since the last RethrowPending(). */
bool HasPending();

/** An ns-3 event that calls a Python callable with no arguments. */
class PyEvent : public ns3::EventImpl
{
  public:
    explicit PyEvent(pybind11::object fn);
    ~PyEvent() override;

  protected:
    void Notify() override;

  private:
    pybind11::object m_fn;
};

} // namespace edgelam

#endif
