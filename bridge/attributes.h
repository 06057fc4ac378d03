// SPDX-License-Identifier: GPL-2.0-only
// ns-3 attributes from Python dicts of strings, checked before ns-3 can abort on a bad value.
#ifndef EDGELAM_BRIDGE_ATTRIBUTES_H
#define EDGELAM_BRIDGE_ATTRIBUTES_H

#include <pybind11/pybind11.h>

#include "ns3/nr-channel.h"
#include "ns3/nr-radio-helper.h"
#include "ns3/object.h"

#include <string>

namespace edgelam
{

/** Set string-valued attributes on an object; ValueError naming the attribute if one fails. */
void SetAttrs(ns3::Ptr<ns3::Object> o, const pybind11::dict& attrs);

/** Check that every attribute exists on a TypeId and its value is valid (ObjectFactory::Set
 *  would abort the process otherwise); ValueError naming the attribute. */
void CheckAttrs(const std::string& tidName, const pybind11::dict& attrs);

/** An NrRadioHelper with its own, cell (NrCellMac) and device (NrNetDevice) attributes, all
 *  checked first. */
ns3::Ptr<ns3::NrRadioHelper> MakeRadioHelper(const pybind11::dict& helperAttrs,
                                             const pybind11::dict& macAttrs,
                                             const pybind11::dict& deviceAttrs);

/** A radio channel by kind ("3gpp": ThreeGppNrChannel, "fixed": FixedGainNrChannel) with its
 *  attributes. */
ns3::Ptr<ns3::NrChannel> MakeNrChannel(const std::string& kind,
                                       const pybind11::dict& channelAttrs);

} // namespace edgelam

#endif
