#!/usr/bin/env python
"""Baselines on edgelam_ns3.gym's beam-choice and placement environments: what an agent has to
beat. A study whose figures are reported, not a test.

BeamEnv (the ``beamforming`` scenario: 8 UEs at 10 km/h, UMa, 3.5 GHz, 20 MHz, 4x4 gNB, full
buffer DL, a decision every 10 ms): per episode of ``--beam-steps`` decisions, the mean cell DL
throughput [Mbit/s] (the ``sum_rate`` reward) of

- ``random``: a uniformly random beam per UE;
- ``strongest``: each UE on the beam of largest gain on the gNB's CSI estimate (UEs may share);
- ``strongest_distinct``: the same, UEs taken from the strongest down, each on its best beam
  not yet taken (no two UEs on one beam).

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


def beam_study(episodes: int, steps: int, seed0: int) -> dict:
    env = BeamEnv("beamforming", steps=steps)
    rng = np.random.default_rng(seed0)
    policies = {"random": lambda obs: rng.integers(env.n_beams, size=env.n_ues).tolist(),
                "strongest": strongest, "strongest_distinct": strongest_distinct}
    out = {}
    try:
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
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--place-set", action="append", default=None, metavar="KEY=VALUE",
                    help="overrides of microservice-inference (default: "
                    + " ".join(PLACE_LOADED) + ")")
    ap.add_argument("--out", help="folder for results.json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    res = {"beams": beam_study(args.episodes, args.beam_steps, args.seed),
           "placement": placement_study(args.episodes, args.place_set or PLACE_LOADED,
                                        args.seed),
           "wall_s": None}
    res["wall_s"] = time.perf_counter() - t0
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "results.json").write_text(json.dumps(res, indent=2))
    print(f"wall {res['wall_s']:.0f} s")


if __name__ == "__main__":
    main()
