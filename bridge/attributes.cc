// SPDX-License-Identifier: GPL-2.0-only
#include "attributes.h"

#include "ns3/string.h"

namespace py = pybind11;

namespace edgelam
{

void
SetAttrs(ns3::Ptr<ns3::Object> o, const py::dict& attrs)
{
    for (const auto& kv : attrs)
    {
        const auto name = py::str(kv.first).cast<std::string>();
        const auto value = py::str(kv.second).cast<std::string>();
        if (!o->SetAttributeFailSafe(name, ns3::StringValue(value)))
        {
            throw py::value_error("cannot set attribute " + name + "=" + value + " on " +
                                  o->GetInstanceTypeId().GetName());
        }
    }
}

void
CheckAttrs(const std::string& tidName, const py::dict& attrs)
{
    const auto tid = ns3::TypeId::LookupByName(tidName);
    for (const auto& kv : attrs)
    {
        const auto name = py::str(kv.first).cast<std::string>();
        ns3::TypeId::AttributeInformation info;
        if (!tid.LookupAttributeByName(name, &info))
        {
            throw py::value_error(tidName + " has no attribute '" + name + "'");
        }
        const auto value = py::str(kv.second).cast<std::string>();
        auto v = info.checker->CreateValidValue(ns3::StringValue(value));
        if (!v)
        {
            throw py::value_error("invalid value " + name + "=" + value + " for " + tidName);
        }
    }
}

} // namespace edgelam
