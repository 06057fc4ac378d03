"""CSI-RS reports in the MAC (issue 10.1, radio.csi.mode csi-rs) and rank adaptation (10.2):
the MCS of each new DL TB is the CQI-mapped MCS (TS 38.214 Table 5.2.2.1-3 -> Table 5.1.3.1-2)
of the latest report whose delay has passed, with that report measured at the occasion the
period, offset and delay give in closed form; the PMI the UE reported in the MAC maximises the
capacity over the single-polarised Type I DFT codebook by brute force (numpy) on the true
channel the MAC measured; the layers follow the RI; in srs mode the rank is the argmax of the
TBS-level rate on the SRS estimate; config errors name the field.

Channel: the fixed-gain channel with i.i.d. Rayleigh fading per antenna pair (Jakes); one cell,
all-DL, full-buffer DL at the MAC, so the interference plus noise a report measures is the
thermal noise k T F."""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from edgelam_ns3 import _core, config
from edgelam_ns3.radio import phy
from edgelam_ns3.radio.phy_tables import feed_bler_curves
from edgelam_ns3.sim import Simulation
from edgelam_ns3.topology import network_spec

K_BOLTZMANN, T0 = 1.380649e-23, 290.0
N_PRB, SCS, SLOT = 273, 30e3, 0.0005  # 100 MHz at 30 kHz
# CQI table 2 -> I_MCS of Table 5.1.3.1-2 (qam256) with the same Q_m and rate, read off the
# tables by hand; CQI 1 (QPSK 78/1024) is only in qam64LowSE, and Sionna has no BLER curve for
# qam256 MCS 0-1 (QPSK 120, 193): CQI 1 and 2 are sent at MCS 2, the lowest with a curve
CQI2_MCS256 = {1: 2, 2: 2, 3: 3, 4: 5, 5: 7, 6: 9, 7: 11, 8: 13, 9: 15, 10: 17, 11: 19, 12: 21,
               13: 23, 14: 25, 15: 27}


def _spec(overrides: list[str], pg_db: float, doppler_hz: float, mode: str = "csi-rs"):
    cfg = config.load("radio-saturation", [
        "radio.n_ues=1", "radio.channel=fixed", "radio.beam_policy=los", "radio.tdd_pattern=D",
        f"radio.csi.mode={mode}", "radio.mimo.max_layers=2", "radio.mimo.max_layers_per_ue=2",
        "radio.ue_array=[1,2]", "radio.gnb_array=[4,2]", "radio.olla=false", *overrides])
    spec = network_spec(cfg)
    attrs = {**spec.radio.channel_attrs, "FreeSpace": "false",
             "DefaultPathGainDb": repr(pg_db), "FadingDopplerHz": repr(doppler_hz)}
    radio = dataclasses.replace(spec.radio, channel_attrs=attrs,
                                mac_attrs={**spec.radio.mac_attrs, "FullBufferDl": "true"})
    return cfg, dataclasses.replace(spec, radio=radio)


def _beam(n1, n2, l, m):
    o1, o2 = 4, 4
    return np.kron(np.exp(2j * np.pi * l * np.arange(n1) / (o1 * n1)),
                   np.exp(2j * np.pi * m * np.arange(n2) / (o2 * n2)))


def _codebook_4x2(rank):
    """{(i11, i12, i13, 0): W}: N1 4, N2 2, O1 = O2 = 4; rank 2 offsets (O1,0),(0,O2),(2 O1,0)
    (TS 38.214 Table 5.2.2.2.1-3, N1 > N2 > 1, i13 = 1..3), no co-phasing."""
    offsets = {0: (0, 0)} if rank == 1 else {1: (4, 0), 2: (0, 4), 3: (8, 0)}
    out = {}
    for l, m, (i13, (k1, k2)) in itertools.product(range(16), range(8), offsets.items()):
        cols = [_beam(4, 2, l, m)] + ([_beam(4, 2, l + k1, m + k2)] if rank == 2 else [])
        out[(l, m, i13, 0)] = np.stack(cols, axis=1) / np.sqrt(8 * rank)
    return out


def _capacity(h, w):
    return np.mean([np.log2(np.real(np.linalg.det(
        np.eye(w.shape[1]) + (hs @ w).conj().T @ (hs @ w)))) for hs in h])


def _psd(cfg):
    return 10 ** ((cfg.radio.gnb_tx_power_dbm - 30) / 10) / (N_PRB * 12 * SCS)


def _noise(cfg):
    return K_BOLTZMANN * T0 * 10 ** (cfg.radio.ue_noise_figure_db / 10)


def test_mcs_of_each_new_tb_is_the_cqi_mcs_of_the_report_that_arrived_by_then():
    """Period 5, offset 1, delay 3 slots, fading at 30 Hz (the CQI moves): in every slot n with
    a new TB, the report in use was measured at the last occasion o = 1 + 5k with o + 3 <= n,
    its age is n - o, and the TB's MCS is CQI2_MCS256[its wideband CQI]; the layers are its RI."""
    cfg, spec = _spec(["radio.csi.csi_rs_period_slots=5", "radio.csi.csi_rs_offset_slots=1",
                       "radio.csi.report_delay_slots=3"], pg_db=-112.0, doppler_hz=30.0)
    seen = []
    with Simulation(spec, seed=2) as sim:
        def tap(n):
            first = sim.radio_ue_stats()["dl_tb_first"][0]
            radio = sim.link_states().radio
            seen.append((n, first, sim.csi("ue0")["report"], radio["mcs_dl"][0],
                         radio["csi_age_s"][0], radio["dl_ri"][0], radio["dl_cqi"][0]))

        for n in range(10, 400):
            sim.schedule((n + 0.5) * SLOT, tap, n)
        sim.run(until_s=0.2)
    checked, cqis = 0, set()
    for (n0, first0, *_), (n, first, rep, mcs, age_s, ri, cqi) in zip(seen, seen[1:]):
        o = 1 + 5 * ((n - 3 - 1) // 5)
        assert (rep["meas_slot"], rep["ready_slot"]) == (o, o + 3), n
        assert age_s == pytest.approx((n - o) * SLOT)
        assert (ri, cqi) == (rep["rank"], rep["wideband_cqi"])
        if first > first0:  # a new TB in slot n
            assert mcs == CQI2_MCS256[rep["wideband_cqi"]], n
            checked += 1
            cqis.add(rep["wideband_cqi"])
    assert checked > 300 and len(cqis) >= 3


def test_mac_pmi_maximises_capacity_and_layers_follow_the_ri():
    """Static channel (Doppler 1e-6 Hz), 2 UE antennas, 4 x 2 gNB: the report the MAC made
    (delay 2) carries the PMI of the largest capacity over the rank's codebook (numpy brute
    force on sqrt(PG) H(sb) sqrt(PSD / N0), the channel Simulation.csi gives), the RI of the
    standalone report on the same channel, and every TB has RI layers. Two path gains: one
    where the RI is 1, one where it is 2."""
    ranks = set()
    for pg_db in (-127.0, -95.0):
        cfg, spec = _spec(["radio.csi.report_delay_slots=2"], pg_db=pg_db, doppler_hz=1e-6)
        with Simulation(spec, seed=1) as sim:
            sim.run(until_s=0.03)
            c = sim.csi("ue0")
            st = sim.radio_ue_stats()
            radio = sim.link_states().radio
            with pytest.raises(ValueError, match="CSI-RS reports, not an SRS estimate"):
                sim.set_csi("ue0", c["true"])
        assert c["mode"] == "csi-rs" and c["estimate"] is None
        rep = c["report"]
        scale = np.sqrt(10 ** (c["path_gain_db"] / 10) * _psd(cfg) / _noise(cfg))
        h = np.moveaxis(c["true"], 2, 0) * scale  # [sb, rx, tx]
        caps = {p: _capacity(h, w) for p, w in _codebook_4x2(rep["rank"]).items()}
        assert caps[rep["pmi"]] == pytest.approx(max(caps.values()), rel=1e-6)
        np.testing.assert_allclose(rep["precoder"], _codebook_4x2(rep["rank"])[rep["pmi"]],
                                   atol=1e-12)
        ref = _core.NrCsiReport(n1=4, n2=2, o1=4, o2=4, polarisations=1)
        feed_bler_curves(ref.add_curve, ref.set_eesm_betas)
        ref.finalize()
        # reference resource as the MAC's: a D slot, 14 symbols, 12 DM-RS, N_oh 12
        alone = ref.report(h, 1.0, n_prb_per_subband=N_PRB // h.shape[0], n_symb=14,
                           n_dmrs_per_prb=12, n_oh_per_prb=12)
        assert (rep["rank"], rep["wideband_cqi"]) == (alone["rank"], alone["wideband_cqi"])
        assert st["dl_mean_layers"][0] == rep["rank"] == radio["dl_ri"][0]
        assert radio["dl_pmi"][0] == ref.pmi_index(rep["rank"], rep["pmi"])
        ranks.add(rep["rank"])
    assert ranks == {1, 2}


@pytest.mark.parametrize("pg_db", [-136.0, -95.0])
def test_srs_rank_is_the_argmax_of_the_tbs_rate_on_the_estimate(pg_db):
    """srs mode, 2 UE antennas: the layers of the TBs are the v in {1, 2} whose CQI (SU
    eigen-beamforming on the SRS estimate, PSD / v per layer over k T F, CQI at <= 10 % TBLER)
    has the larger TBS; rank fixed keeps 2 layers."""
    over = ["radio.tdd_pattern=DDDSU", "radio.csi.srs_period_slots=5"]
    cfg, spec = _spec(over, pg_db=pg_db, doppler_hz=1e-6, mode="srs")
    with Simulation(spec, seed=1) as sim:
        sim.run(until_s=0.03)
        c = sim.csi("ue0")
        st = sim.radio_ue_stats()
    ref = _core.NrCsiReport(n1=4, n2=2, o1=4, o2=4, polarisations=1)
    feed_bler_curves(ref.add_curve, ref.set_eesm_betas)
    ref.finalize()
    h = np.moveaxis(c["estimate"], 2, 0) * np.sqrt(10 ** (c["estimate_path_gain_db"] / 10))
    sv2 = np.linalg.svd(h, compute_uv=False) ** 2  # [sb, 2], descending
    tbs = {}
    for v in (1, 2):
        sinr = (_psd(cfg) / v * sv2[:, :v] / _noise(cfg)).ravel()
        cqi = ref.select_cqi(sinr, N_PRB, n_symb=14, n_dmrs_per_prb=12, n_oh_per_prb=12,
                             layers=v)
        tbs[v] = 0 if cqi == 0 else phy.tbs_info(N_PRB, CQI2_MCS256[cqi], 2, 14, 12, 12,
                                                 v)["tbs"]
    expect = max(tbs, key=lambda v: (tbs[v], -v))
    assert st["dl_mean_layers"][0] == expect, tbs
    if pg_db < -120:
        assert expect == 1
        cfg, spec = _spec([*over, "radio.csi.rank=fixed"], pg_db=pg_db, doppler_hz=1e-6,
                          mode="srs")
        with Simulation(spec, seed=1) as sim:
            sim.run(until_s=0.03)
            assert sim.radio_ue_stats()["dl_mean_layers"][0] == 2


@pytest.mark.parametrize("overrides,match", [
    (["radio.scheduler=rr", "radio.mimo.max_layers=1"], "needs radio.scheduler pf"),
    (["radio.tdd_pattern=DDDSU", "radio.csi.csi_rs_period_slots=5",
      "radio.csi.csi_rs_offset_slots=4"], "radio.csi.csi_rs_offset_slots"),
    (["radio.csi.csi_rs_period_slots=5", "radio.csi.csi_rs_offset_slots=5"],
     "must be below"),
    (["radio.csi.rank=fixed"], "radio.csi.rank"),
])
def test_csi_rs_config_errors_name_the_field(overrides, match):
    with pytest.raises(ValueError, match=match):
        config.load("radio-saturation", ["radio.csi.mode=csi-rs", *overrides])
