#!/usr/bin/env python
"""Train a small scheduling agent on edgelam_ns3.gym and compare it with the random policy.

The environment is split-finetune (split federated LoRA, 8 phones, k = 3 per round) made small
(2-block 64-wide decoder, short sequences) with the ``ideal`` radio, whose per-device spectral
efficiencies (7 ... 0.5 bit/s/Hz) make the choice of devices matter. The agent is REINFORCE
with a per-device Gaussian policy over the action scores (one small network shared by the
devices, fed each device's observation: log full-band rate, observed rate, compute time,
participation), each round's decision credited with its own round's reward against a
moving-average baseline per round. The metric is the mean simulated round latency [s] over
evaluation episodes (the reward is minus it), for the trained agent (its mean action, and
actions sampled from it) and for uniformly random actions (k random devices, random shares).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/gym_train.py --episodes 40 --eval 4
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from edgelam_ns3.gym import EdgeLamEnv

SMALL = ["train.batch_size=2", "model.seq_len=16", "model.n_embd=64", "model.n_layer=2",
         "model.n_head=2", "radio.mode=ideal", "train.target_loss=null"]


def features(obs: dict) -> torch.Tensor:
    """Per-device features [n, 4]."""
    f = np.stack([np.log10(obs["rate_bps"] + 1.0) / 10.0,
                  np.log10(obs["observed_rate_bps"] + 1.0) / 10.0,
                  obs["compute_s"] * 10.0, obs["participation"]], axis=1)
    return torch.as_tensor(f, dtype=torch.float32)


class Policy(torch.nn.Module):
    def __init__(self, sigma: float = 0.2):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(),
                                       torch.nn.Linear(16, 1))
        self.sigma = sigma

    def dist(self, obs):
        mu = torch.sigmoid(self.net(features(obs)).squeeze(-1))
        return torch.distributions.Normal(mu, self.sigma)


def run_episode(env, seed, act):
    obs, _ = env.reset(seed=seed)
    latencies, logps, done = [], [], False
    while not done:
        a, logp = act(obs)
        obs, r, term, trunc, info = env.step(a)
        latencies.append(info.get("latency_s", -r))
        logps.append(logp)
        done = term or trunc
    return latencies, logps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=30, help="training episodes")
    p.add_argument("--eval", type=int, default=3, help="evaluation episodes per policy")
    p.add_argument("--rounds", type=int, default=10, help="rounds per episode")
    p.add_argument("--lr", type=float, default=0.03)
    p.add_argument("--json", help="write the figures here")
    a = p.parse_args()
    torch.manual_seed(0)
    env = EdgeLamEnv("split-finetune", SMALL + [f"train.steps={a.rounds}"])
    rng = np.random.default_rng(0)
    pol = Policy()
    opt = torch.optim.Adam(pol.parameters(), lr=a.lr)
    t0 = time.time()

    def sample(obs):
        d = pol.dist(obs)
        x = d.sample()
        return x.clamp(0, 1).numpy().astype(np.float32), d.log_prob(x).sum()

    baseline, curve = None, []
    for ep in range(a.episodes):
        lat, logps = run_episode(env, 1000 + ep, sample)
        # each round's decision is credited with its own round's reward (the rounds interact
        # only through the participation and compute estimates), against a per-round baseline
        rewards = -np.asarray(lat)
        adv = rewards - (rewards.mean() if baseline is None else baseline)
        baseline = rewards if baseline is None else 0.8 * baseline + 0.2 * rewards
        adv = torch.as_tensor(adv / (np.abs(adv).std() + 1e-9), dtype=torch.float32)
        loss = -(torch.stack(logps) * adv).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(float(np.mean(lat)))
        print(f"episode {ep + 1:3d}: mean round latency {np.mean(lat) * 1e3:8.2f} ms "
              f"(wall {time.time() - t0:6.1f} s)", flush=True)

    def mean_action(obs):
        with torch.no_grad():
            return pol.dist(obs).mean.numpy().astype(np.float32), torch.zeros(())

    def random_action(obs):
        return rng.random(env.n).astype(np.float32), torch.zeros(())

    res = {}
    def sampled_action(obs):
        with torch.no_grad():
            return sample(obs)

    for name, act in (("trained", mean_action), ("trained_sampled", sampled_action),
                      ("random", random_action)):
        lats = [np.mean(run_episode(env, 5000 + e, act)[0]) for e in range(a.eval)]
        res[name] = {"mean_round_latency_s": float(np.mean(lats)),
                     "std_over_episodes_s": float(np.std(lats))}
    env.close()
    res.update(episodes=a.episodes, rounds=a.rounds, learning_curve_s=curve,
               wall_s=time.time() - t0)
    for name in ("trained", "trained_sampled", "random"):
        r = res[name]
        print(f"{name:8s}: mean round latency {r['mean_round_latency_s'] * 1e3:8.2f} ms "
              f"(+- {r['std_over_episodes_s'] * 1e3:.2f} over {a.eval} episodes)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
