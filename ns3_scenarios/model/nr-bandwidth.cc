/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-bandwidth.h"

#include "nr-spec-tables.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace ns3
{

namespace
{

/**
 * \param x a frequency [Hz]
 * \param unitHz the unit [Hz]
 * \param out x in the unit, if x is a whole number of units (to 1 Hz)
 * \return whether x is a whole number of units
 */
bool
WholeUnits(double x, double unitHz, uint32_t& out)
{
    const double units = std::round(x / unitHz);
    if (std::abs(units * unitHz - x) > 1.0 || units <= 0 || units > 1e6)
    {
        return false;
    }
    out = static_cast<uint32_t>(units);
    return true;
}

} // namespace

uint32_t
NrBandwidth::LookupNumPrb(double bandwidthHz, double scsHz)
{
    uint32_t bwMhz = 0;
    uint32_t scsKhz = 0;
    if (!WholeUnits(bandwidthHz, 1e6, bwMhz) || !WholeUnits(scsHz, 1e3, scsKhz))
    {
        return 0;
    }
    for (const auto& e : nrspec::kNrbFr1)
    {
        if (e.bandwidthMhz == bwMhz && e.scsKhz == scsKhz)
        {
            return e.nRb;
        }
    }
    for (const auto& e : nrspec::kNrbFr2)
    {
        if (e.bandwidthMhz == bwMhz && e.scsKhz == scsKhz)
        {
            return e.nRb;
        }
    }
    return 0;
}

uint32_t
NrBandwidth::GetNumPrb(double bandwidthHz, double scsHz, double guardFraction)
{
    if (!(bandwidthHz > 0) || !(scsHz > 0))
    {
        throw std::invalid_argument("channel bandwidth and subcarrier spacing must be > 0 Hz");
    }
    if (!(guardFraction >= 0 && guardFraction < 1))
    {
        throw std::invalid_argument("guard fraction must be in [0, 1)");
    }
    const uint32_t tabulated = LookupNumPrb(bandwidthHz, scsHz);
    if (tabulated > 0)
    {
        return tabulated;
    }
    // a tiny tolerance keeps exact quotients (e.g. 1 - g = 0.95) from flooring one PRB low
    return static_cast<uint32_t>(
        std::floor(bandwidthHz * (1.0 - guardFraction) / (12.0 * scsHz) + 1e-9));
}

double
NrBandwidth::GetScsHz(uint32_t numerology)
{
    if (numerology > 6)
    {
        throw std::invalid_argument("numerology mu must be 0..6 (TS 38.211 §4.2), got " +
                                    std::to_string(numerology));
    }
    return 15e3 * static_cast<double>(1u << numerology);
}

} // namespace ns3
