/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-mac-stats.h"

#include <limits>

namespace ns3
{

namespace
{
constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
} // namespace

double
NrMacStats::GetBler() const
{
    return tbFirst ? double(tbFirstErr) / tbFirst : kNan;
}

double
NrMacStats::GetBlerAll() const
{
    return tbTx ? double(tbErr) / tbTx : kNan;
}

double
NrMacStats::GetMeanMcs() const
{
    return tbFirst ? sumMcs / tbFirst : kNan;
}

double
NrMacStats::GetMeanSinrDb() const
{
    return tbFirst ? sumSinrEffDb / tbFirst : kNan;
}

double
NrMacStats::GetMeanRbg() const
{
    return tbTx ? sumRbg / tbTx : 0.0;
}

double
NrMacStats::GetMeanLayers() const
{
    return tbTx ? sumLayers / tbTx : kNan;
}

double
NrMacStats::GetMeanCoScheduled() const
{
    return tbTx ? sumCoUes / tbTx : kNan;
}

double
NrMacStats::GetMeanPrecoderGainDb() const
{
    return precTx > 0 ? sumPrecGainDb / precTx : kNan;
}

NrMacStats
NrMacStats::Since(const NrMacStats& earlier) const
{
    NrMacStats d = *this;
    d.tbFirst -= earlier.tbFirst;
    d.tbFirstErr -= earlier.tbFirstErr;
    d.tbTx -= earlier.tbTx;
    d.tbErr -= earlier.tbErr;
    d.retx -= earlier.retx;
    d.tbLost -= earlier.tbLost;
    d.bytes -= earlier.bytes;
    d.sumSinrEffDb -= earlier.sumSinrEffDb;
    d.sumMcs -= earlier.sumMcs;
    d.sumRbg -= earlier.sumRbg;
    d.sumLayers -= earlier.sumLayers;
    d.sumCoUes -= earlier.sumCoUes;
    d.sumPrecGainDb -= earlier.sumPrecGainDb;
    d.precTx -= earlier.precTx;
    return d;
}

std::vector<std::pair<std::string, double>>
NrMacStats::GetNamedValues() const
{
    return {
        {"tb_first", double(tbFirst)},
        {"tb_first_err", double(tbFirstErr)},
        {"tb_tx", double(tbTx)},
        {"tb_err", double(tbErr)},
        {"retx", double(retx)},
        {"tb_lost", double(tbLost)},
        {"mac_bytes", bytes},
        {"sum_sinr_eff_db", sumSinrEffDb},
        {"sum_mcs", sumMcs},
        {"wideband_sinr_db", widebandSinrDb},
        {"bler", GetBler()},
        {"bler_all", GetBlerAll()},
        {"mean_mcs", GetMeanMcs()},
        {"mean_sinr_db", GetMeanSinrDb()},
        {"mean_rbg", GetMeanRbg()},
        {"mean_layers", GetMeanLayers()},
        {"mean_co_scheduled", GetMeanCoScheduled()},
        {"mean_precoder_gain_db", GetMeanPrecoderGainDb()},
    };
}

} // namespace ns3
