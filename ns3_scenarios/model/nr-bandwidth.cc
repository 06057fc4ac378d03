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

NrBandwidth::FrequencyRange
NrBandwidth::GetFrequencyRange(double carrierHz)
{
    if (carrierHz >= 410e6 && carrierHz <= 7.125e9)
    {
        return FR1;
    }
    if (carrierHz >= 24.25e9 && carrierHz <= 71e9)
    {
        return FR2;
    }
    return ANY_FR;
}

std::vector<uint32_t>
NrBandwidth::GetDataScsKhz(double carrierHz)
{
    switch (GetFrequencyRange(carrierHz))
    {
    case FR1:
        return {15, 30, 60};
    case FR2:
        return carrierHz <= 52.6e9 ? std::vector<uint32_t>{60, 120}
                                   : std::vector<uint32_t>{120, 480, 960};
    default:
        return carrierHz < 24.25e9 ? std::vector<uint32_t>{15, 30, 60, 120}
                                   : std::vector<uint32_t>{120, 480, 960};
    }
}

uint32_t
NrBandwidth::LookupNumPrb(double bandwidthHz, double scsHz, FrequencyRange fr)
{
    uint32_t bwMhz = 0;
    uint32_t scsKhz = 0;
    if (!WholeUnits(bandwidthHz, 1e6, bwMhz) || !WholeUnits(scsHz, 1e3, scsKhz))
    {
        return 0;
    }
    if (fr != FR2)
    {
        for (const auto& e : nrspec::kNrbFr1)
        {
            if (e.bandwidthMhz == bwMhz && e.scsKhz == scsKhz)
            {
                return e.nRb;
            }
        }
    }
    if (fr != FR1)
    {
        for (const auto& e : nrspec::kNrbFr2)
        {
            if (e.bandwidthMhz == bwMhz && e.scsKhz == scsKhz)
            {
                return e.nRb;
            }
        }
    }
    return 0;
}

uint32_t
NrBandwidth::GetNumPrb(double bandwidthHz, double scsHz, double guardFraction, FrequencyRange fr)
{
    if (!(bandwidthHz > 0) || !(scsHz > 0))
    {
        throw std::invalid_argument("channel bandwidth and subcarrier spacing must be > 0 Hz");
    }
    if (!(guardFraction >= 0 && guardFraction < 1))
    {
        throw std::invalid_argument("guard fraction must be in [0, 1)");
    }
    const uint32_t tabulated = LookupNumPrb(bandwidthHz, scsHz, fr);
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
