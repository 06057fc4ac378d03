"""Multi-user downlink precoding on a resource block group, from Python: the C++
``ns3::NrPrecoding`` (``ns3_scenarios/model/nr-precoding.h``).

- :func:`precoders`: MRT (matched filter), ZF and regularised ZF precoders from layer channels,
  each column of unit direction scaled to its layer's power (Sionna's
  ``sionna.phy.mimo.rzf_precoding_matrix`` / ``cbf_precoding_matrix`` times ``sqrt(p_l)``);
- :func:`layer_sinr`: the SINR of each layer with a linear MMSE receiver at its UE, from the
  true channels, with inter-user (co-scheduled layers) and optional inter-cell interference;
- :func:`eigen_layer_channels`: the layer channels of a UE with several antennas (its
  dominant eigen-modes), for several layers per UE;
- :func:`select_users`: semi-orthogonal user selection (Yoo & Goldsmith) on a scheduler
  weight, e.g. the proportional-fair 1 / average throughput.

Powers and noise are in W, channels include the large-scale gain; SINRs are linear.
These blocks are standalone: the C++ MAC (``NrCellMac``) does not call them yet.
"""

from __future__ import annotations

import numpy as np

from .. import _load_core

__all__ = ["precoders", "layer_sinr", "select_users", "eigen_layer_channels"]

_core = _load_core()


def precoders(h, scheme: str = "zf", total_power: float = 1.0, noise_var: float = 1.0,
              powers=None, alpha: float | None = None) -> np.ndarray:
    """Precoders of the layers whose channels are the rows of ``h``.

    :param h: layer channels [-], shape [layers, tx] or [rbg, layers, tx], complex
    :param scheme: ``"mrt"``, ``"zf"`` or ``"rzf"``
    :param total_power: P [W], split equally over the layers unless ``powers`` is given
    :param noise_var: sigma^2 per receive antenna [W] (RZF's default alpha = sigma^2 L / P)
    :param powers: power per layer [W], shape [layers]
    :param alpha: RZF regularisation (default sigma^2 L / P)
    :return: W, shape [tx, layers] (or [rbg, tx, layers]), complex128, ``|w_l|^2 = p_l``
    """
    p = None if powers is None else np.asarray(powers, dtype=float)
    return _core.nr_precoder(np.asarray(h, dtype=complex), scheme, total_power, noise_var, p,
                             alpha)


def layer_sinr(h, w, layer_ue, noise_var, interference=None) -> np.ndarray:
    """Linear SINR of each layer with an MMSE receiver at its UE: a^H R^-1 a, a = H_u w_l,
    R = sigma_u^2 I + Q_u + the other layers as seen by UE u.

    :param h: each UE's channel [rx, tx] (a list, or an array [ue, rx, tx]), complex
    :param w: precoders [tx, layers] with their powers
    :param layer_ue: UE index of each layer, shape [layers]
    :param noise_var: sigma_u^2 [W], one value or one per UE
    :param interference: inter-cell interference covariance [rx, rx] per UE [W], or None
    :return: SINR per layer [-], shape [layers]
    """
    hs = h if isinstance(h, (list, tuple)) else np.asarray(h, dtype=complex)
    return _core.nr_layer_sinr(hs, np.asarray(w, dtype=complex),
                               [int(u) for u in layer_ue],
                               np.atleast_1d(np.asarray(noise_var, dtype=float)), interference)


def select_users(h, weights, max_layers: int, epsilon: float = 0.4,
                 snr: float = 0.0) -> list[int]:
    """Semi-orthogonal user selection: greedily the user of largest
    ``weight * log2(1 + snr |g|^2)`` (``snr`` <= 0: ``weight * |g|^2``), g its channel's
    component orthogonal to those picked, keeping only candidates whose correlation with
    the last pick is below ``epsilon``.

    :param h: channels [users, tx], complex
    :param weights: scheduler weight per user (>= 0; 0 never picked)
    :param max_layers: most users picked
    :param epsilon: semi-orthogonality threshold in (0, 1]
    :param snr: per-layer SNR of the rate metric [-]
    :return: the users picked, in order
    """
    return _core.nr_select_users(np.asarray(h, dtype=complex),
                                 np.asarray(weights, dtype=float), int(max_layers),
                                 float(epsilon), float(snr))


def eigen_layer_channels(h, layers: int) -> np.ndarray:
    """Eigen-mode layer channels of one UE: rows u_l^H H for the ``layers`` dominant left
    singular vectors u_l of its channel, strongest first (norm = singular value).

    :param h: the UE's channel [rx, tx], complex
    :param layers: 1..rx
    :return: layer channels [layers, tx], complex128, to stack into :func:`precoders`' ``h``
    """
    return _core.nr_eigen_layer_channels(np.asarray(h, dtype=complex), int(layers))
