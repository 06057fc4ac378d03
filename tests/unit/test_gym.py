"""edgelam_ns3.gym: the Gymnasium API contract, reproducible episodes, actions as decisions."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from edgelam_ns3.gym import EdgeLamEnv

TINY = ["train.batch_size=2", "model.seq_len=16", "model.n_embd=32", "model.n_layer=2",
        "model.n_head=2", "radio.mode=ideal", "train.steps=3", "nodes.n_devices=4",
        "radio.ideal.spectral_efficiency_bps_hz=[6,3,1,0.5]"]


@pytest.fixture(scope="module")
def env():
    e = EdgeLamEnv("split-finetune", TINY)
    yield e
    e.close()


def _episode(env, seed, actions):
    obs, _ = env.reset(seed=seed)
    seen, rewards, done, k = [obs], [], False, 0
    while not done:
        obs, r, term, trunc, info = env.step(actions[k])
        seen.append(obs)
        rewards.append(r)
        done, k = term or trunc, k + 1
    return seen, rewards, info


def test_env_passes_gymnasiums_env_checker(env):
    check_env(env, skip_render_check=True)


def test_same_seed_gives_the_same_observations_and_rewards(env):
    actions = np.random.default_rng(0).random((3, 4)).astype(np.float32)
    a = _episode(env, 7, actions)
    b = _episode(env, 7, actions)
    assert a[1] == b[1] and len(a[1]) == 3  # one step per round, the last terminates
    for x, y in zip(a[0], b[0]):
        assert x.keys() == y.keys() and all(np.array_equal(x[k], y[k]) for k in x)


def test_an_action_schedules_the_k_best_scores_with_proportional_shares(env):
    d = env.decision([0.1, 0.8, 0.0, 0.4])
    assert d.scheduled == [0, 1, 3] and np.allclose(d.shares, [0.1 / 1.3, 0.8 / 1.3, 0.4 / 1.3])
    assert env.decision([0, 0, 0, 0]).shares == [1 / 3] * 3


def test_the_reward_is_minus_the_round_latency_the_trace_would_record(env):
    seen, rewards, info = _episode(env, 3, [[1, 1, 1, 0]] * 3)
    assert info["scheduled"] == "0,1,2" and rewards[-1] == pytest.approx(-info["latency_s"])
    # the round clock advances by the latencies
    assert seen[-1]["t_s"][0] == pytest.approx(-sum(rewards), rel=1e-6)


def test_a_framework_without_device_scheduling_is_rejected():
    with pytest.raises(ValueError, match="schedules no devices"):
        EdgeLamEnv("quickstart")
