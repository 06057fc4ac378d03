/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#include "nr-precoding.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace ns3
{

namespace
{

/// Throw std::invalid_argument with the message if the condition fails.
void
Require(bool ok, const std::string& message)
{
    if (!ok)
    {
        throw std::invalid_argument(message);
    }
}

/**
 * \param v direction matrix [N x L]
 * \param powers p_l [W]
 * \return v with column l scaled to norm sqrt(p_l) (zero columns stay zero)
 */
NrComplexMatrix
NormaliseColumns(NrComplexMatrix v, const std::vector<double>& powers)
{
    for (size_t l = 0; l < v.Cols(); ++l)
    {
        const double norm2 = v.ColumnNorm2(l);
        const double scale = norm2 > 0 ? std::sqrt(powers[l] / norm2) : 0.0;
        for (size_t n = 0; n < v.Rows(); ++n)
        {
            v(n, l) *= scale;
        }
    }
    return v;
}

/**
 * \param h [L x N]
 * \param alpha regularisation >= 0
 * \return H^H (H H^H + alpha I)^-1
 */
NrComplexMatrix
RegularisedInverse(const NrComplexMatrix& h, double alpha)
{
    const NrComplexMatrix hh = h.Hermitian();
    const NrComplexMatrix gram = h * hh + NrComplexMatrix::Identity(h.Rows()).Scaled(alpha);
    // (H H^H + alpha I) is Hermitian, so H^H G^-1 = (G^-1 H)^H
    return gram.Solve(h).Hermitian();
}

} // namespace

NrPrecoding::Scheme
NrPrecoding::FromString(const std::string& name)
{
    if (name == "mrt")
    {
        return MRT;
    }
    if (name == "zf")
    {
        return ZF;
    }
    if (name == "rzf")
    {
        return RZF;
    }
    throw std::invalid_argument("precoder '" + name + "' is not one of mrt, zf, rzf");
}

std::vector<double>
NrPrecoding::EqualPowers(double totalPower, size_t layers)
{
    Require(totalPower >= 0, "total power must be >= 0 W");
    Require(layers >= 1, "at least one layer is needed");
    return std::vector<double>(layers, totalPower / static_cast<double>(layers));
}

NrComplexMatrix
NrPrecoding::Compute(Scheme scheme,
                     const NrComplexMatrix& h,
                     const std::vector<double>& powers,
                     double noiseVar,
                     double alpha)
{
    const size_t layers = h.Rows();
    Require(layers >= 1 && h.Cols() >= 1, "the layer channel matrix is empty");
    Require(powers.size() == layers,
            "powers has " + std::to_string(powers.size()) + " values for " +
                std::to_string(layers) + " layers");
    for (double p : powers)
    {
        Require(p >= 0 && std::isfinite(p), "layer powers must be finite and >= 0 W");
    }
    Require(noiseVar > 0, "noise variance must be > 0 W");
    switch (scheme)
    {
    case MRT:
        return NormaliseColumns(h.Hermitian(), powers);
    case ZF:
        Require(layers <= h.Cols(),
                "ZF needs at most as many layers (" + std::to_string(layers) +
                    ") as transmit antennas (" + std::to_string(h.Cols()) + ")");
        try
        {
            return NormaliseColumns(RegularisedInverse(h, 0.0), powers);
        }
        catch (const std::runtime_error&)
        {
            throw std::invalid_argument("ZF needs linearly independent layer channels (H H^H "
                                        "is singular)");
        }
    case RZF: {
        const double total = std::accumulate(powers.begin(), powers.end(), 0.0);
        if (alpha < 0)
        {
            Require(total > 0, "RZF's default alpha sigma^2 L / P needs a total power P > 0");
            alpha = noiseVar * static_cast<double>(layers) / total;
        }
        return NormaliseColumns(RegularisedInverse(h, alpha), powers);
    }
    }
    throw std::invalid_argument("unknown precoder scheme " + std::to_string(scheme));
}

NrComplexMatrix
NrPrecoding::EigenLayerChannels(const NrComplexMatrix& hu, uint32_t layers)
{
    const size_t m = hu.Rows();
    Require(layers >= 1 && layers <= m, "layers must be in 1.." + std::to_string(m) +
                                            " (the UE's receive antennas)");
    const NrComplexMatrix a = hu * hu.Hermitian(); // [M x M], Hermitian
    std::vector<NrComplexMatrix> found;
    NrComplexMatrix rows(layers, hu.Cols());
    for (uint32_t l = 0; l < layers; ++l)
    {
        // start: e_l plus a small constant (not orthogonal to the dominant eigenvector in
        // practice); each product is made orthogonal to the vectors already found
        NrComplexMatrix v(m, 1, Complex(1e-3));
        v(l % m, 0) = 1.0;
        for (int it = 0; it < 2000; ++it)
        {
            NrComplexMatrix next = a * v;
            for (const auto& u : found)
            {
                next = next + u.Scaled(-(u.Hermitian() * next)(0, 0));
            }
            const double norm = std::sqrt(next.ColumnNorm2(0));
            if (norm == 0)
            {
                v = NrComplexMatrix(m, 1); // rank exhausted: the row stays zero
                break;
            }
            next = next.Scaled(1.0 / norm);
            const Complex overlap = (v.Hermitian() * next)(0, 0);
            v = next;
            if (1.0 - std::abs(overlap) < 1e-12 && it > 2)
            {
                break;
            }
        }
        found.push_back(v);
        const NrComplexMatrix row = v.Hermitian() * hu; // u_l^H H_u
        for (size_t n = 0; n < hu.Cols(); ++n)
        {
            rows(l, n) = row(0, n);
        }
    }
    return rows;
}

std::vector<double>
NrPrecoding::LayerSinr(const std::vector<NrComplexMatrix>& ueChannels,
                       const NrComplexMatrix& w,
                       const std::vector<uint32_t>& layerUe,
                       const std::vector<double>& noiseVar,
                       const std::vector<NrComplexMatrix>& interference)
{
    const size_t nUe = ueChannels.size();
    Require(layerUe.size() == w.Cols(),
            "layer_ue has " + std::to_string(layerUe.size()) + " entries for " +
                std::to_string(w.Cols()) + " precoder columns");
    Require(noiseVar.size() == nUe, "noise_var needs one value per UE");
    Require(interference.empty() || interference.size() == nUe,
            "interference needs one covariance per UE (or none)");
    std::vector<double> sinr(w.Cols(), 0.0);
    for (size_t u = 0; u < nUe; ++u)
    {
        const NrComplexMatrix& hu = ueChannels[u];
        Require(hu.Cols() == w.Rows(), "UE " + std::to_string(u) + "'s channel has " +
                                           std::to_string(hu.Cols()) + " transmit antennas, "
                                           "the precoders " + std::to_string(w.Rows()));
        Require(noiseVar[u] > 0, "noise variance of UE " + std::to_string(u) + " must be > 0");
        const NrComplexMatrix hw = hu * w; // [M_u x L]
        const size_t m = hu.Rows();
        NrComplexMatrix base = NrComplexMatrix::Identity(m).Scaled(noiseVar[u]);
        if (!interference.empty() && interference[u].Rows() > 0)
        {
            Require(interference[u].Rows() == m && interference[u].Cols() == m,
                    "UE " + std::to_string(u) + "'s interference covariance must be " +
                        std::to_string(m) + "x" + std::to_string(m));
            base = base + interference[u];
        }
        const NrComplexMatrix all = base + hw * hw.Hermitian();
        for (size_t l = 0; l < w.Cols(); ++l)
        {
            Require(layerUe[l] < nUe, "layer " + std::to_string(l) + " names UE " +
                                          std::to_string(layerUe[l]) + " of " +
                                          std::to_string(nUe));
            if (layerUe[l] != u)
            {
                continue;
            }
            const NrComplexMatrix a = hw.Column(l);
            const NrComplexMatrix r = all + (a * a.Hermitian()).Scaled(-1.0);
            sinr[l] = std::max(0.0, (a.Hermitian() * r.Solve(a))(0, 0).real());
        }
    }
    return sinr;
}

std::vector<uint32_t>
NrPrecoding::SelectUsers(const NrComplexMatrix& h,
                         const std::vector<double>& weights,
                         uint32_t maxLayers,
                         double epsilon,
                         double snr)
{
    const size_t k = h.Rows();
    Require(weights.size() == k, "weights needs one value per user (row of h)");
    Require(maxLayers >= 1, "max_layers must be >= 1");
    Require(epsilon > 0 && epsilon <= 1, "epsilon must be in (0, 1]");
    std::vector<uint32_t> candidates;
    for (uint32_t i = 0; i < k; ++i)
    {
        Require(weights[i] >= 0, "weights must be >= 0");
        if (weights[i] > 0 && h.RowNorm2(i) > 0)
        {
            candidates.push_back(i);
        }
    }
    // raw loops over the row-major data: this runs per RBG and slot in the MAC
    const size_t n = h.Cols();
    const Complex* d = h.Data().data();
    auto dot = [n](const Complex* a, const Complex* b) { // a b^H, in real arithmetic
        const auto* x = reinterpret_cast<const double*>(a); // std::complex is double[2]
        const auto* y = reinterpret_cast<const double*>(b);
        double re = 0;
        double im = 0;
        for (size_t t = 0; t < 2 * n; t += 2)
        {
            re += x[t] * y[t] + x[t + 1] * y[t + 1];
            im += x[t + 1] * y[t] - x[t] * y[t + 1];
        }
        return Complex(re, im);
    };
    // g_c = h_c - sum over picked q of (h_c g_q^H / |g_q|^2) g_q, kept per candidate and
    // updated once per pick (the same sum as recomputing it)
    std::vector<std::vector<Complex>> g(k);
    std::vector<double> n2(k, 0.0);
    for (uint32_t c : candidates)
    {
        g[c].assign(d + c * n, d + (c + 1) * n);
        n2[c] = h.RowNorm2(c);
    }
    std::vector<uint32_t> picked;
    while (!candidates.empty() && picked.size() < maxLayers)
    {
        double best = -1;
        uint32_t bestUser = 0;
        for (uint32_t c : candidates)
        {
            const double metric =
                snr > 0 ? weights[c] * std::log2(1.0 + snr * n2[c]) : weights[c] * n2[c];
            if (metric > best)
            {
                best = metric;
                bestUser = c;
            }
        }
        const double bestN2 = n2[bestUser];
        if (bestN2 <= 0)
        {
            break; // every candidate lies in the span of those picked
        }
        picked.push_back(bestUser);
        const std::vector<Complex> gb = g[bestUser];
        const auto* bd = reinterpret_cast<const double*>(gb.data());
        std::vector<uint32_t> next;
        for (uint32_t c : candidates)
        {
            const Complex hg = dot(d + c * n, gb.data());
            const double corr = std::abs(hg) / std::sqrt(h.RowNorm2(c) * bestN2);
            if (c == bestUser || corr >= epsilon)
            {
                continue;
            }
            const Complex proj = hg / bestN2;
            const double pr = proj.real();
            const double pi = proj.imag();
            auto* gd = reinterpret_cast<double*>(g[c].data());
            for (size_t t = 0; t < 2 * n; t += 2)
            {
                gd[t] -= pr * bd[t] - pi * bd[t + 1];
                gd[t + 1] -= pr * bd[t + 1] + pi * bd[t];
            }
            n2[c] = dot(g[c].data(), g[c].data()).real();
            next.push_back(c);
        }
        candidates.swap(next);
    }
    return picked;
}

} // namespace ns3
