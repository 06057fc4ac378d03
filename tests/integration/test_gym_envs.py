"""edgelam_ns3.gym's beam-choice and service-placement environments (issue 14.3): the Gymnasium
API contract, reproducible episodes, and actions that are the decisions the radio and the
serving simulation then carry out."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from edgelam_ns3 import config, runner
from edgelam_ns3.gym import BeamEnv, PlacementEnv
from edgelam_ns3.gym.beams import grid_of_beams

BEAMS = ["radio.n_ues=2", "radio.gnb_array=[2,2]", "radio.bandwidth_hz=10e6",
         "radio.mimo.max_layers=2"]
PLACE = ["inference.model.n_layer=4", "inference.model.n_embd=256", "inference.model.n_head=4",
         "inference.model.vocab_size=1000", "inference.model.n_groups=2",
         "inference.source.duration_s=4", "radio.mode=ideal", "nodes.n_devices=2"]


# -- beams ------------------------------------------------------------------------------------


# One ns-3 simulation per process at a time: each test's environment is closed after it.
@pytest.fixture
def beams():
    env = BeamEnv("beamforming", BEAMS, steps=3)
    yield env
    env.close()


def test_grid_of_beams_is_the_orthonormal_2d_dft_of_the_array():
    b = grid_of_beams(2, 4)
    assert b.shape == (8, 8)
    np.testing.assert_allclose(b.conj() @ b.T, np.eye(8), atol=1e-12)
    assert grid_of_beams(2, 2, oversampling=4).shape == (64, 4)


def test_beam_env_passes_gymnasiums_env_checker(beams):
    check_env(beams, skip_render_check=True)


def test_beam_env_same_seed_gives_the_same_episode(beams):
    actions = [[0, 3], [1, 2], [2, 2]]

    def episode():
        obs, _ = beams.reset(seed=5)
        seen, ends = [obs], []
        for a in actions:
            obs, r, term, trunc, _ = beams.step(a)
            seen.append(obs)
            ends.append((r, term, trunc))
        return seen, ends

    (obs_a, ends_a), (obs_b, ends_b) = episode(), episode()
    assert [e[1] for e in ends_a] == [False, False, True]  # the third step ends the episode
    assert ends_a == ends_b
    for x, y in zip(obs_a, obs_b):
        assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)


def test_the_radio_transmits_on_the_beams_the_action_chose(beams):
    beams.reset(seed=2)
    action = [3, 0]
    beams.step(action)
    groups = [g for g in beams._sim.precoding(0) if len(g["ues"])]
    assert groups, "no MU-MIMO slot was scheduled"
    for g in groups:
        w = np.asarray(g["w"])  # [N, L] of this RBG's layers
        for layer, pos in enumerate(g["layer_ue"]):
            ue = g["ues"][pos]
            a = beams.beams[action[ue]]
            cos = abs(np.vdot(a, w[:, layer])) / np.linalg.norm(w[:, layer])
            assert cos == pytest.approx(1.0, abs=1e-5), (ue, layer)


def test_the_strongest_observed_beam_beats_the_weakest_on_the_true_channel():
    """One UE: the beam of largest gain on the gNB's estimate gives more received power
    (the MAC's precoder gain on the true channel) than the beam of least gain."""
    env = BeamEnv("beamforming", ["radio.n_ues=1", "radio.gnb_array=[2,4]",
                                  "radio.bandwidth_hz=10e6"], steps=2)
    try:
        gains = []
        for pick in (np.argmax, np.argmin):
            obs, _ = env.reset(seed=3)
            env.step([int(pick(obs["beam_gain_db"][0]))])
            g = [x["precoder_gain_db"][0] for x in env._sim.precoding(0) if len(x["ues"])]
            gains.append(np.mean(g))
        assert gains[0] > gains[1] + 3.0, gains
    finally:
        env.close()


def test_beam_env_rejects_a_scenario_it_cannot_steer():
    with pytest.raises(ValueError, match="radio.mode nr with radio.n_cells 1"):
        BeamEnv("beamforming", ["radio.n_cells=3"])
    with pytest.raises(ValueError, match="nothing is sent to the UEs"):
        BeamEnv("quickstart")
    with pytest.raises(ValueError, match="steps must be >= 1"):
        BeamEnv("beamforming", BEAMS, steps=0)


# -- placement ------------------------------------------------------------------------------


@pytest.fixture
def placement():
    env = PlacementEnv("microservice-inference", PLACE)
    yield env
    env.close()


def test_placement_env_passes_gymnasiums_env_checker(placement):
    check_env(placement, skip_render_check=True)


def test_the_ilp_placement_as_an_action_is_served_as_the_run_serves_it(placement, tmp_path):
    """The env's episode of the placement the ILP picks is the ``edgelam run`` of the
    scenario with policy ilp: the same units on the same hosts, the same on-time ratio."""
    obs, _ = placement.reset(seed=1)
    from edgelam_ns3.inference import placement as pl

    assign, _ = pl.solve_ilp(placement.problem)
    _, reward, terminated, truncated, info = placement.step(assign)
    assert terminated and not truncated and info["finished"]
    cfg = config.load("microservice-inference", PLACE + ["inference.placement.policy=ilp"])
    s = runner.launch(cfg, tmp_path / "run", quiet=True, plots=False, warm=True)
    assert s["status"] == "ok", s.get("error")
    assert info["placement"] == s["inference"]["placement"]
    assert reward == pytest.approx(s["inference"]["on_time_ratio"])
    assert info["requests"] == s["inference"]["requests"]


def test_a_placement_that_does_not_fit_serves_nothing_and_says_why():
    # edges of 15 MB: the embedding fits, no block group does; the cloud has 80 GB. The
    # scenario's own policy (everything on edge0) would not fit either: the env never runs it.
    env = PlacementEnv("microservice-inference", PLACE + [
        "profiles.tiny.peak_flops=1e14", "profiles.tiny.efficiency=0.5",
        "profiles.tiny.mem_bw_bytes_per_s=1e12", "profiles.tiny.memory_bytes=1.5e7",
        "nodes.edge_profile=tiny", "inference.placement.policy=monolithic"])
    try:
        env.reset(seed=1)
        edge0 = env.hosts.index("edge0")
        _, reward, terminated, _, info = env.step([edge0] * len(env.units))
        assert terminated and reward == 0.0
        assert "edge0" in info["infeasible"] and "exceed its memory" in info["infeasible"]
    finally:
        env.close()
