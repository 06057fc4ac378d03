/*
 * SPDX-License-Identifier: GPL-2.0-only
 */
#ifndef NR_PRECODING_H
#define NR_PRECODING_H

#include "nr-complex-matrix.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ns3
{

/**
 * \ingroup edgelam
 * Multi-user downlink precoding on one resource block group (RBG), the per-layer SINR it gives
 * with an MMSE receiver, and semi-orthogonal user selection for co-scheduling.
 *
 * Model: y_u = H_u W x + n_u for UE u with M_u receive antennas, H_u [M_u x N] the channel from
 * the N transmit antennas (large-scale gain included, as the SINR needs it), W [N x L] the
 * precoders of the L co-scheduled layers (column l carries the power p_l of layer l:
 * ||w_l||^2 = p_l [W]), x unit-power symbols, n_u noise of power sigma_u^2 per antenna [W]
 * plus, optionally, inter-cell interference of covariance Q_u [W].
 *
 * Precoders are built from a layer channel matrix H [L x N] (row l: the channel h_l toward
 * the UE of layer l, e.g. a single-antenna UE's channel, or a UE's channel after its combiner)
 * as the columns of a direction matrix V, each normalised to unit norm and scaled to its
 * power (as Sionna's sionna.phy.mimo.rzf_precoding_matrix / cbf_precoding_matrix, times
 * sqrt(p_l)):
 *  - MRT (matched filter, conjugate beamforming): V = H^H;
 *  - ZF: V = H^H (H H^H)^-1 (L <= N, rows linearly independent);
 *  - RZF: V = H^H (H H^H + alpha I)^-1, alpha = sigma^2 L / P by default (P = sum_l p_l).
 * With ZF and a single-antenna UE per layer, the SINR of layer l is p_l / (sigma^2
 * [(H H^H)^-1]_ll).
 */
class NrPrecoding
{
  public:
    using Complex = NrComplexMatrix::Complex; //!< element type

    /** Precoder scheme. */
    enum Scheme : uint32_t
    {
        MRT = 0, //!< matched filter (maximum ratio transmission)
        ZF = 1,  //!< zero forcing
        RZF = 2, //!< regularised zero forcing
    };

    /**
     * \param name "mrt", "zf" or "rzf"
     * \return the scheme; throws std::invalid_argument for another name
     */
    static Scheme FromString(const std::string& name);

    /**
     * \param totalPower P [W], >= 0
     * \param layers L, >= 1
     * \return L powers P / L [W]
     */
    static std::vector<double> EqualPowers(double totalPower, size_t layers);

    /**
     * Precoders of the L layers whose channels are the rows of h.
     * \param scheme MRT, ZF or RZF
     * \param h layer channel matrix [L x N]
     * \param powers power p_l per layer [W], L values >= 0
     * \param noiseVar sigma^2 per receive antenna [W], > 0 (used by RZF's default alpha)
     * \param alpha RZF regularisation; negative: sigma^2 L / sum_l p_l
     * \return W [N x L], ||w_l||^2 = p_l (a zero direction, e.g. MRT for h_l = 0, stays zero);
     *         throws std::invalid_argument for inconsistent arguments or a rank-deficient ZF
     */
    static NrComplexMatrix Compute(Scheme scheme,
                                   const NrComplexMatrix& h,
                                   const std::vector<double>& powers,
                                   double noiseVar,
                                   double alpha = -1);

    /**
     * Eigen-mode layer channels of a UE with several receive antennas, for several layers per
     * UE: the rows u_l^H H_u for the dominant left singular vectors u_l of H_u (eigenvectors
     * of H_u H_u^H by power iteration with deflation, to a relative change below 1e-12 or
     * 2000 iterations), in decreasing order; ||row_l|| is the singular value s_l. Stacked with
     * other UEs' rows they are the h of Compute().
     * \param hu the UE's channel [M x N]
     * \param layers how many, 1..M
     * \return the layer channels [layers x N]
     */
    static NrComplexMatrix EigenLayerChannels(const NrComplexMatrix& hu, uint32_t layers);

    /**
     * Per-layer SINR with a linear MMSE receiver at each UE: for layer l of UE u, with
     * a = H_u w_l and R = sigma_u^2 I + Q_u + sum_{j != l} (H_u w_j)(H_u w_j)^H,
     * SINR_l = a^H R^-1 a (the SINR of the unbiased MMSE estimate). The other layers of
     * the same UE and the layers of co-scheduled UEs are interference alike.
     * \param ueChannels H_u per UE [M_u x N]
     * \param w precoders [N x L] (powers included)
     * \param layerUe the UE (index into ueChannels) of each layer, L values
     * \param noiseVar sigma_u^2 per UE [W], > 0
     * \param interference Q_u per UE [M_u x M_u] [W]; an empty vector, or an empty (0 x 0)
     *        matrix for a UE, means none
     * \return the linear SINR of each layer
     */
    static std::vector<double> LayerSinr(const std::vector<NrComplexMatrix>& ueChannels,
                                         const NrComplexMatrix& w,
                                         const std::vector<uint32_t>& layerUe,
                                         const std::vector<double>& noiseVar,
                                         const std::vector<NrComplexMatrix>& interference = {});

    /**
     * Semi-orthogonal user selection (T. Yoo and A. Goldsmith, IEEE JSAC 24(3), 2006, §III-B)
     * weighted by a scheduler metric: starting from all candidates, repeatedly pick the one
     * of largest metric_k = weight_k log2(1 + snr ||g_k||^2) (snr <= 0: weight_k ||g_k||^2),
     * where g_k is the component of h_k orthogonal to the channels picked so far, then keep
     * as candidates only those with |h_k g^H| / (||h_k|| ||g||) < epsilon to the one
     * picked; stop at maxLayers users or no candidate. With weight_k the proportional-fair
     * weight 1 / (average throughput of k), this is SUS on the PF metric.
     * \param h candidate channels [K x N], one row per user (or layer)
     * \param weights scheduler weight per user, K values >= 0 (0: never picked)
     * \param maxLayers most users picked, >= 1
     * \param epsilon semi-orthogonality threshold alpha of the paper, in (0, 1]
     * \param snr per-layer SNR for the rate metric [-]; <= 0 for the plain weighted norm
     * \return the rows picked, in the order picked
     */
    static std::vector<uint32_t> SelectUsers(const NrComplexMatrix& h,
                                             const std::vector<double>& weights,
                                             uint32_t maxLayers,
                                             double epsilon,
                                             double snr = 0);
};

} // namespace ns3

#endif // NR_PRECODING_H
