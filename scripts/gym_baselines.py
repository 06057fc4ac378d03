#!/usr/bin/env python
"""Baselines on edgelam_ns3.gym's beam-choice and placement environments: what an agent has to
beat. A study whose figures are reported, not a test.

BeamEnv (the ``beamforming`` scenario: 8 UEs at 10 km/h, UMa, 3.5 GHz, 20 MHz, 4x4 gNB, full
buffer DL, a decision every 10 ms): per episode of ``--beam-steps`` decisions, the mean cell DL
throughput [Mbit/s] (the ``sum_rate`` reward) of

- ``random``: a uniformly random beam per UE;
- ``strongest``: each UE on the beam of largest gain on the gNB's CSI estimate (UEs may share);
- ``strongest_distinct``: the same, UEs taken from the strongest down, each on its best beam
  not yet taken (no two UEs on one beam);
- ``trained_agent`` (with ``--train-episodes N``): a small REINFORCE agent trained for N
  episodes on other seeds, then taking the beam of highest score per UE.

PlacementEnv (``microservice-inference``, its GPT-2-medium-sized model in cost mode, with the
ideal radio and 4x the trace's request rate over 10 s: ``--place-set``): the on-time ratio of
random placements, of everything on edge0, and of the framework's ILP placement.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/gym_baselines.py --episodes 3 --out DIR
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from edgelam_ns3.gym import BeamEnv, PlacementEnv

PLACE_LOADED = ["radio.mode=ideal", "inference.source.rate_scale=4",
                "inference.source.duration_s=10"]


def strongest(obs) -> list[int]:
    return [int(b) for b in np.argmax(obs["beam_gain_db"], axis=1)]


def strongest_distinct(obs) -> list[int]:
    g = obs["beam_gain_db"]
    taken, out = set(), [0] * len(g)
    for ue in np.argsort(-g.max(axis=1), kind="stable"):
        order = [b for b in np.argsort(-g[ue], kind="stable") if b not in taken]
        out[ue] = int(order[0]) if order else int(np.argmax(g[ue]))
        taken.add(out[ue])
    return out


def beam_features(obs):
    """Per (UE, beam) features [n_ues, n_beams, 3]: the beam's gain on the UE's CSI relative to
    the UE's best beam [10 dB], whether it is the UE's best beam, and how many other UEs have
    it as their best."""
    import torch

    g = obs["beam_gain_db"].astype(np.float64)
    rel = (g - g.max(axis=1, keepdims=True)) / 10.0
    best = (g == g.max(axis=1, keepdims=True)).astype(np.float64)
    others = best.sum(axis=0, keepdims=True) - best
    return torch.as_tensor(np.stack([rel, best, others], axis=2), dtype=torch.float32)


def train_beam_agent(env, episodes: int, seed0: int):
    """REINFORCE: a small network scores each (UE, beam) from :func:`beam_features`; each UE
    samples its beam from the softmax of its scores; each decision is credited with the rest
    of the episode's reward against a moving-average baseline. :return: the greedy policy and
    the training curve (mean reward per episode)."""
    import torch

    torch.manual_seed(seed0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    baseline, curve = None, []
    for ep in range(episodes):
        obs, _ = env.reset(seed=10_000 + seed0 + ep)  # other seeds than the evaluation's
        logps, rewards, done = [], [], False
        while not done:
            dist = torch.distributions.Categorical(logits=net(beam_features(obs)).squeeze(-1))
            a = dist.sample()
            logps.append(dist.log_prob(a).sum())
            obs, r, term, trunc, _ = env.step(a.tolist())
            rewards.append(r)
            done = term or trunc
        returns = torch.tensor(np.cumsum(rewards[::-1])[::-1].copy(), dtype=torch.float32)
        baseline = returns if baseline is None else 0.8 * baseline + 0.2 * returns
        loss = -(torch.stack(logps) * (returns - baseline) / (returns.std() + 1e-6)).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        curve.append(float(np.mean(rewards)))
        print(f"beams  training episode {ep + 1:3d}: {curve[-1]:6.2f} Mbit/s", flush=True)

    def greedy(obs):
        with torch.no_grad():
            return net(beam_features(obs)).squeeze(-1).argmax(dim=1).tolist()

    return greedy, curve


def beam_study(episodes: int, steps: int, seed0: int, train_episodes: int = 0) -> dict:
    env = BeamEnv("beamforming", steps=steps)
    rng = np.random.default_rng(seed0)
    policies = {"random": lambda obs: rng.integers(env.n_beams, size=env.n_ues).tolist(),
                "strongest": strongest, "strongest_distinct": strongest_distinct}
    out = {}
    try:
        if train_episodes:
            policies["trained_agent"], out["training_curve_mbps"] = train_beam_agent(
                env, train_episodes, seed0)
        for name, act in policies.items():
            means = []
            for ep in range(episodes):
                obs, _ = env.reset(seed=seed0 + ep)
                rewards, done = [], False
                while not done:
                    obs, r, term, trunc, _ = env.step(act(obs))
                    rewards.append(r)
                    done = term or trunc
                means.append(float(np.mean(rewards)))
            out[name] = {"mean_mbps": float(np.mean(means)), "per_episode": means}
            print(f"beams  {name:20s} {out[name]['mean_mbps']:8.2f} Mbit/s "
                  f"(episodes: {', '.join(f'{m:.1f}' for m in means)})", flush=True)
    finally:
        env.close()
    return out


def placement_study(episodes: int, overrides: list[str], seed0: int) -> dict:
    from edgelam_ns3.inference import placement as pl

    env = PlacementEnv("microservice-inference", overrides)
    rng = np.random.default_rng(seed0)
    out = {}
    try:
        env.reset(seed=seed0)
        ilp, _ = pl.solve_ilp(env.problem)
        edge0 = [env.hosts.index("edge0")] * len(env.units)
        cases = {"ilp": lambda: ilp, "monolithic_edge0": lambda: edge0,
                 "random": lambda: rng.integers(len(env.hosts), size=len(env.units)).tolist()}
        for name, act in cases.items():
            n = episodes if name == "random" else 1
            rewards, infeasible = [], 0
            for _ in range(n):
                env.reset(seed=seed0)
                _, r, _, _, info = env.step(act())
                rewards.append(r)
                infeasible += "infeasible" in info
            out[name] = {"on_time_ratio": float(np.mean(rewards)), "episodes": n,
                         "infeasible": infeasible}
            print(f"place  {name:20s} on-time {out[name]['on_time_ratio']:.3f} "
                  f"({n} episode{'s' * (n > 1)}, {infeasible} infeasible)", flush=True)
    finally:
        env.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=3)
    ap.add_argument("--beam-steps", type=int, default=30)
    ap.add_argument("--train-episodes", type=int, default=0,
                    help="also train a small REINFORCE agent on BeamEnv for this many episodes "
                    "and evaluate it beside the baselines")
    ap.add_argument("--skip-placement", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--place-set", action="append", default=None, metavar="KEY=VALUE",
                    help="overrides of microservice-inference (default: "
                    + " ".join(PLACE_LOADED) + ")")
    ap.add_argument("--out", help="folder for results.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    res = {"beams": beam_study(args.episodes, args.beam_steps, args.seed, args.train_episodes),
           "placement": None if args.skip_placement else placement_study(
               args.episodes, args.place_set or PLACE_LOADED, args.seed),
           "wall_s": None}
    res["wall_s"] = time.perf_counter() - t0
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "results.json").write_text(json.dumps(res, indent=2))
    print(f"wall {res['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
