"""Beamforming in the loop (issue 11.8): the gNB's CSI reaches the edge as a message of its
tensor's size, and the edge's precoders are the cell's precoders from their arrival slot on.
A pipeline check on a tiny cell (4 UEs, 4x4 array, 20 MHz), not the learned sum rate."""
from __future__ import annotations

import numpy as np

from edgelam_ns3 import config
from edgelam_ns3.frameworks.beamforming_loop import BeamformingLoop
from edgelam_ns3.sim import Simulation
from edgelam_ns3.topology import network_spec
from edgelam_ns3.traffic import install_traffic


def test_zf_precoders_from_the_edge_are_the_cells_precoders_from_their_arrival_slot():
    cfg = config.load("beamforming", ["beamforming.method=zf", "radio.n_ues=4",
                                      "beamforming.warmup_s=0.02", "beamforming.measure_from_s=0.04",
                                      "beamforming.measure_s=0.02"])
    seen, msgs = [], []
    with Simulation(network_spec(cfg), seed=1, on_message=msgs.append) as sim:
        install_traffic(cfg, sim)
        loop = BeamformingLoop(cfg, sim)
        apply = loop._apply

        def spy(w, t_srs):
            apply(w, t_srs)
            slot = int(np.ceil(sim.now / loop.slot_s - 1e-9))  # the arrival slot
            slot += slot % 5 == 4  # DDDSU: its U slot schedules no DL; look at the next one
            sim.schedule((slot + 0.5) * loop.slot_s - sim.now,
                         lambda: seen.append((w, sim.precoding(0))))

        loop._apply = spy
        loop.start()
        sim.run(until_s=1.0)
        assert loop.finished
    n_ant, n_ue = 16, 4
    csi = [m for m in msgs if m.tag == "csi"]
    pre = [m for m in msgs if m.tag == "precoders"]
    n_sb = csi[0].bytes // (n_ue * n_ant * 8)
    assert {m.bytes for m in csi} == {n_sb * n_ue * n_ant * 8} == {m.bytes for m in pre}
    used = 0
    for w, groups in seen:  # RBGs a slot does not need have no group
        for r, g in enumerate(groups):
            if not g["ues"]:
                continue
            used += 1
            assert g["ues"] == [0, 1, 2, 3]
            # W = w sqrt(PSD) on each RBG (the MAC scales the power shares)
            scale = np.linalg.norm(g["w"]) / np.linalg.norm(w[r])
            np.testing.assert_allclose(g["w"], w[r] * scale, rtol=1e-5, atol=1e-12 * scale)
    assert used > 0
