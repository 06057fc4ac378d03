# SPDX-License-Identifier: GPL-2.0-only
"""Shared test helpers, as fixtures: the TS 38.306 maximum data rate, the response of a
half-wavelength UPA, the loader of Sionna's BLER curves into a radio test bed, a CoSim, and
Python code run in a fresh interpreter.

Each closed form lives here once; tests take the fixture (e.g. ``def test_x(ts38306_rate_bps)``)
and call it.
"""
import math
import subprocess
import sys

import numpy as np
import pytest


def _ts38306_rate_bps(mu=1, n_prb=273, oh=0.14, qm=8, rmax=948 / 1024, layers=1, f=1.0):
    """TS 38.306 V17 §4.1.2 maximum data rate of one carrier [bit/s]:
    layers * Q_m * f * R_max * (N_PRB * 12 / T_s) * (1 - OH), T_s = 1e-3 / (14 * 2^mu).
    The defaults: 100 MHz at 30 kHz (273 PRBs), 256-QAM, one layer, FR1 DL overhead."""
    t_s = 1e-3 / (14 * 2**mu)
    return layers * qm * f * rmax * n_prb * 12 / t_s * (1 - oh)


def _upa_response(rows, cols, az, incl):
    """Response of a half-wavelength UPA facing +x (ns-3 UniformPlanarArray, bearing 0):
    element r*cols + c at (0, c/2, r/2) wavelengths; the phases of a plane wave leaving toward
    (azimuth, inclination) [rad]. Not normalised: |a|^2 = rows * cols."""
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    ph = 2 * np.pi * 0.5 * (c * math.sin(incl) * math.sin(az) + r * math.cos(incl))
    return np.exp(-1j * ph).reshape(-1)


def _load_bler(tb):
    """Feed Sionna's PDSCH curves (used for PDSCH and CP-OFDM PUSCH, as radio's BLER model)
    and its EESM betas into a radio test bed (anything with add_bler_curve / set_eesm_betas)."""
    from edgelam_ns3.radio.phy_tables import feed_bler_curves

    feed_bler_curves(tb.add_bler_curve, tb.set_eesm_betas)


@pytest.fixture(scope="session")
def ts38306_rate_bps():
    """The TS 38.306 §4.1.2 rate [bit/s] as a function (see ``_ts38306_rate_bps``)."""
    return _ts38306_rate_bps


@pytest.fixture(scope="session")
def upa_response():
    """The half-wavelength UPA response as a function (see ``_upa_response``)."""
    return _upa_response


@pytest.fixture(scope="session")
def load_bler():
    """The BLER-curve loader as a function (see ``_load_bler``)."""
    return _load_bler


@pytest.fixture
def sim():
    """The CoSim of this process (seed 1), destroyed after the test."""
    from edgelam_ns3 import _core

    s = _core.CoSim(1)
    yield s
    s.destroy()


def _fresh_python(code: str) -> str:
    """Run ``code`` with ``python -c`` in a new interpreter (what it imports is its own); assert
    it exits 0; :return: the last line it printed."""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def fresh_python():
    """``fresh_python(code)``: the last line ``code`` prints in a new interpreter (see
    ``_fresh_python``)."""
    return _fresh_python
