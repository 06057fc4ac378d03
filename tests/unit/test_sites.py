# SPDX-License-Identifier: GPL-2.0-only
"""Three-sector sites and hexagonal wrap-around (NrRadioHelper SectorsPerSite / Wraparound,
ns3::HexagonalWraparound), checked against closed forms and Sionna SYS's HexGrid.

References: TR 38.901 V17 Table 7.3-1 (element pattern: 65 deg HPBW, 30 dB front-to-back,
8 dBi); the wrap-around of ITU-R M.2412-0 / TR 36.814 Annex A (a UE sees each site at its
closest image of the cluster's tiling); sionna.sys.HexGrid (same site lattice, same six image
shifts). Sector bearings 30/150/270 deg (M.2412 / TR 36.814 convention; Sionna's sectors face
60/180/300 deg, so only its sites and shifts are compared).
"""
import math

import numpy as np
import pytest

from edgelam_ns3 import _core

ISD = 500.0


def shifts(isd: float, rings: int) -> np.ndarray:
    """The 7 image shifts (s_0 = 0): rot(60 k) isd [(R + 1) e(30 deg) + R e(-30 deg)]."""
    e = lambda a: np.array([math.cos(math.radians(a)), math.sin(math.radians(a))])  # noqa: E731
    v = isd * ((rings + 1) * e(30) + rings * e(-30))
    out = [np.zeros(2)]
    for k in range(6):
        c, s = math.cos(k * math.pi / 3), math.sin(k * math.pi / 3)
        out.append(np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]]))
    return np.array(out)


def same_points(a: np.ndarray, b: np.ndarray, tol: float = 1e-6) -> bool:
    """Whether two point sets are equal up to order."""
    if len(a) != len(b):
        return False
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    return bool(np.all(d.min(axis=1) < tol) and np.all(d.min(axis=0) < tol))


def build(sim, n_cells, n_ues, helper, channel="fixed", channel_attrs=None):
    h = {"GnbArrayRows": "1", "GnbArrayCols": "1", "InterSiteDistanceM": repr(ISD)}
    h.update(helper)
    tb = _core.NrRadioTestBed(sim, n_cells, n_ues, helper=h, mac={"TddPattern": "D"},
                              channel_attrs=channel_attrs or {}, channel=channel, stream=4242)
    tb.build(ipv4=False)
    return tb


@pytest.mark.parametrize("rings", [1, 2])
def test_wraparound_shifts_and_sites_are_sionna_hexgrids(sim, rings):
    """Closed-form shifts equal sionna.sys.HexGrid's mirror displacements, and the 3-sector
    layout's sites (gNB 3 s) are HexGrid's cell centres."""
    import torch
    from sionna.sys import HexGrid

    grid = HexGrid(num_rings=rings, isd=ISD, precision="double")
    mirror = grid.mirror_cell_loc[0, :, :2].to(torch.float64).numpy()
    assert same_points(shifts(ISD, rings), mirror - mirror[0], tol=1e-3)
    n_sites = 3 * rings * (rings + 1) + 1
    tb = build(sim, 3 * n_sites, 1, {"SectorsPerSite": "3", "Wraparound": "true"})
    ours = np.array([tb.gnb_position(3 * s)[:2] for s in range(n_sites)])
    assert same_points(ours, grid.cell_loc[:, :2].to(torch.float64).numpy(), tol=1e-3)
    # the three sectors of a site share its position
    assert all(tb.gnb_position(3 * s + k) == tb.gnb_position(3 * s) for s in range(n_sites)
               for k in (1, 2))


def test_wraparound_distance_is_the_least_over_the_seven_images(sim):
    """7 sites x 3 sectors, 42 dropped UEs: every gNB-UE distance is min_k |p_u - q_g - s_k|
    and the position the UE sees is that image; every dropped UE lies in its sector's
    hexagonal cell (centre ISD/3 along the boresight, circumradius ISD/3), >= 35 m from it."""
    n_cells, n_ues = 21, 42
    tb = build(sim, n_cells, n_ues, {"SectorsPerSite": "3", "Wraparound": "true",
                                      "Scenario": "UMa"})
    s = shifts(ISD, 1)
    wrapped = 0
    for u in range(n_ues):
        p = np.array(tb.ue_position(u)[:2])
        for g in range(n_cells):
            q = np.array(tb.gnb_position(g)[:2])
            d = np.linalg.norm(p - q - s, axis=1)
            assert tb.distance_2d_m(g, u) == pytest.approx(d.min(), abs=1e-6)
            seen = np.array(tb.gnb_position_seen_by(g, u)[:2])
            assert seen == pytest.approx(q + s[int(np.argmin(d))], abs=1e-6)
            wrapped += int(np.argmin(d)) > 0
        home = u % n_cells
        b = math.radians(tb.gnb_bearing_deg(home))
        q = np.array(tb.gnb_position(home)[:2])
        centre = q + ISD / 3 * np.array([math.cos(b), math.sin(b)])
        assert np.linalg.norm(p - centre) <= ISD / 3 + 1e-9
        assert np.linalg.norm(p - q) >= 35.0 - 1e-9
    assert wrapped > 0  # some pairs do use an image


def element_gain_db(phi_deg: float, theta_deg: float) -> float:
    """TR 38.901 Table 7.3-1: 8 dBi - min(12 (phi/65)^2 + 12 ((theta-90)/65)^2, 30)."""
    a_h = min(12 * (phi_deg / 65) ** 2, 30)
    a_v = min(12 * ((theta_deg - 90) / 65) ** 2, 30)
    return 8.0 - min(a_h + a_v, 30.0)


def test_sector_bearings_point_the_38901_element_pattern(sim):
    """Sectors face 30, 150, 270 deg; each element's gain toward (bearing + phi, theta) is
    Table 7.3-1's, e.g. -22 dBi 120 deg off the boresight (the 30 dB front-to-back cap)."""
    tb = build(sim, 3, 1, {"SectorsPerSite": "3"}, channel="3gpp")
    assert [tb.gnb_bearing_deg(g) for g in range(3)] == pytest.approx([30, 150, -90])
    for g in range(3):
        b = tb.gnb_bearing_deg(g)
        for phi, theta in ((0, 90), (40, 100), (-32.5, 90), (120, 90), (60, 75)):
            got = tb.gnb_element_gain_db(g, math.radians(b + phi), math.radians(theta))
            assert got == pytest.approx(element_gain_db(phi, theta), abs=1e-6), (g, phi, theta)


def test_ue_on_a_sector_boresight_is_served_by_that_sector(sim):
    """One 3-sector UMa site, LOS, no shadowing: UEs 100 m out along 30, 150 and 270 deg
    attach to sectors 0, 1 and 2 (the others see them 120 deg off their boresight)."""
    pos = ";".join(f"{100 * math.cos(math.radians(a))},{100 * math.sin(math.radians(a))}"
                   for a in (150, 30, 270))
    tb = build(sim, 3, 3, {"SectorsPerSite": "3", "UePositions": pos, "Scenario": "UMa"},
               channel="3gpp", channel_attrs={"Condition": "los", "ShadowingEnabled": "false"})
    assert [tb.serving_cell(u) for u in range(3)] == [1, 0, 2]


def test_sir_under_every_site_is_six_neighbours_at_isd_with_wraparound(sim):
    """7 one-sector sites, free space, a UE under each site: with wrap-around every site is
    the centre of its cluster, so each UE sees its own site at the height difference dh and
    six at sqrt(ISD^2 + dh^2): SIR = (ISD^2 + dh^2) / (6 dh^2), at the edge sites too."""
    dh = 25.0 - 1.5
    sites = [(0.0, 0.0)] + [(ISD * math.cos(math.radians(60 * k)),
                              ISD * math.sin(math.radians(60 * k))) for k in range(6)]
    pos = ";".join(f"{x},{y}" for x, y in sites)
    tb = build(sim, 7, 7, {"Wraparound": "true", "UePositions": pos, "GnbHeightM": "25"},
               channel_attrs={"FreeSpace": "true"})
    expected = 10 * math.log10((ISD ** 2 + dh ** 2) / (6 * dh ** 2))
    gnbs = np.array([tb.gnb_position(g)[:2] for g in range(7)])
    assert same_points(gnbs, np.array(sites))
    for u in range(7):
        own = int(np.argmin(np.linalg.norm(gnbs - np.array(sites[u]), axis=1)))
        rx = np.array([10 ** (tb.coupling_gain_db(g, u) / 10) for g in range(7)])
        assert tb.serving_cell(u) == own
        sir = 10 * math.log10(rx[own] / (rx.sum() - rx[own]))
        assert sir == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("radio, field", [
    ({"n_cells": 20, "sectors_per_site": 3}, "n_cells"),
    ({"n_cells": 12, "sectors_per_site": 3, "wraparound": True}, "wraparound"),
])
def test_bad_layout_keys_fail_with_one_line_naming_the_key(radio, field):
    from pydantic import ValidationError

    from edgelam_ns3.config import RadioConfig

    with pytest.raises(ValidationError) as e:
        RadioConfig(**radio)
    assert field + ":" in str(e.value)
