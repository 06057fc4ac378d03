// SPDX-License-Identifier: GPL-2.0-only
#include "attributes.h"

#include "ns3/object-factory.h"
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

ns3::Ptr<ns3::NrRadioHelper>
MakeRadioHelper(const py::dict& helperAttrs, const py::dict& macAttrs, const py::dict& deviceAttrs)
{
    auto radio = ns3::CreateObject<ns3::NrRadioHelper>();
    SetAttrs(radio, helperAttrs);
    CheckAttrs("ns3::NrCellMac", macAttrs);
    CheckAttrs("ns3::NrNetDevice", deviceAttrs);
    for (const auto& kv : macAttrs)
    {
        radio->SetMacAttribute(py::str(kv.first), ns3::StringValue(py::str(kv.second)));
    }
    for (const auto& kv : deviceAttrs)
    {
        radio->SetDeviceAttribute(py::str(kv.first), ns3::StringValue(py::str(kv.second)));
    }
    return radio;
}

ns3::Ptr<ns3::NrChannel>
MakeNrChannel(const std::string& kind, const py::dict& channelAttrs)
{
    std::string tid;
    if (kind == "3gpp")
    {
        tid = "ns3::ThreeGppNrChannel";
    }
    else if (kind == "fixed")
    {
        tid = "ns3::FixedGainNrChannel";
    }
    else
    {
        throw py::value_error("radio channel must be '3gpp' or 'fixed', got '" + kind + "'");
    }
    ns3::ObjectFactory f;
    f.SetTypeId(tid);
    auto ch = f.Create<ns3::NrChannel>();
    SetAttrs(ch, channelAttrs);
    return ch;
}

} // namespace edgelam
