"""A scenario as a Gymnasium environment: RL on the per-round device scheduling and bandwidth
shares of the scheduling frameworks (``split_fed_lora``, ``fed_lora``).

The simulation runs in this process, on ns-3's clock, exactly as ``edgelam run`` runs it
(:func:`edgelam_ns3.scenario.start_framework`'s frameworks, the same network and jobs), but it
pauses at every decision point: the start of a round, where the framework asks its policy
(:mod:`edgelam_ns3.policies`) which devices take part and what share of the radio each gets.
:meth:`EdgeLamEnv.step` applies the agent's action as that decision, then runs the simulation
until the next decision point (or the end of the last round).

Action: ``Box(0, 1, (n_devices,))`` scores; the ``train.k`` devices of highest score (ties: the
lower index) take part, with radio shares proportional to their scores (equal if all are 0).

Observation: a ``Dict`` of float32 arrays, one value per device: ``rate_bps`` (full-band rate
the radio reports, as the policies see it), ``observed_rate_bps`` (rate the device's messages
actually got so far; 0 before any), ``compute_s`` (its compute time per round, smoothed),
``participation`` (fraction of the rounds it took part in), and with the NR radio its link
state ``sinr_db`` (wideband DL SINR of its last CSI report) and ``ul_queue_bytes``; plus
``round`` and ``t_s`` (simulated time). Arrays are built from the simulator's zero-copy views at
each decision point (a copy per step, since those views change as the simulation runs).

Reward (``reward=``): ``"round_latency"``: minus the round's duration [s]; ``"time_to_target"``:
minus the round's duration while the held-out loss is above ``train.target_loss``, the episode
ending (terminated) when it reaches it, so the return is minus the time to target. An episode
is ``train.steps`` rounds (terminated); a run stopped by ``sim.max_time_s`` is truncated.

ns-3's simulator is a process singleton: one environment per process at a time (``close``
ends its simulation; ``reset`` starts a new one). Episodes are reproducible: the same seed
gives the same observations and rewards (``reset(seed=s)`` sets the scenario's seed to s).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .. import config as config_mod
from ..policies import Decision

REWARDS = ("round_latency", "time_to_target")
SCHEDULING_FRAMEWORKS = ("split_fed_lora", "fed_lora")


class _AgentPolicy:
    """The framework's policy while an agent decides: returns the decision set by step()."""

    def __init__(self):
        self.decision: Decision | None = None
        self.state = None

    def select(self, r, state) -> Decision:
        self.state = state
        d, self.decision = self.decision, None
        if d is None:
            raise RuntimeError("gym: a round began without the agent's decision")
        return d


class EdgeLamEnv(gym.Env):
    """A scheduling framework's scenario as a Gymnasium environment (see the module).

    :param scenario: a built-in scenario name or a YAML path (its framework must schedule
        devices: ``split_fed_lora`` or ``fed_lora``)
    :param overrides: ``--set`` style overrides (``key=value``)
    :param reward: one of :data:`REWARDS`
    """

    metadata = {"render_modes": []}

    def __init__(self, scenario: str = "split-finetune", overrides: list[str] | tuple = (),
                 reward: str = "round_latency"):
        if reward not in REWARDS:
            raise ValueError(f"gym: reward must be one of {REWARDS}, not {reward!r}")
        self.cfg = config_mod.load(scenario, list(overrides))
        if self.cfg.train.framework not in SCHEDULING_FRAMEWORKS:
            raise ValueError(f"gym: train.framework {self.cfg.train.framework!r} schedules no "
                             f"devices; use one of {SCHEDULING_FRAMEWORKS}")
        if reward == "time_to_target" and self.cfg.train.target_loss is None:
            raise ValueError("gym: reward time_to_target needs train.target_loss")
        self.reward_kind = reward
        self.n = self.cfg.nodes.n_devices
        self.k = min(self.cfg.train.k, self.n)
        self.nr = self.cfg.radio.mode == "nr"
        big = float(np.finfo(np.float32).max)  # unbounded, as a finite float32
        box = spaces.Box(0.0, big, (self.n,), np.float32)
        obs = {"rate_bps": box, "observed_rate_bps": box, "compute_s": box,
               "participation": spaces.Box(0.0, 1.0, (self.n,), np.float32),
               "round": spaces.Box(0.0, big, (1,), np.float32),
               "t_s": spaces.Box(0.0, big, (1,), np.float32)}
        if self.nr:
            obs["sinr_db"] = spaces.Box(-big, big, (self.n,), np.float32)
            obs["ul_queue_bytes"] = box
        self.observation_space = spaces.Dict(obs)
        self.action_space = spaces.Box(0.0, 1.0, (self.n,), np.float32)
        self._sim = self._fw = None
        self._tmp = None

    # -- episode ------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._close_sim()
        cfg = self.cfg if seed is None else self.cfg.model_copy(update={"seed": int(seed)})
        self._start(cfg)
        return self._observe(), {}

    def _start(self, cfg) -> None:
        import torch

        from ..frameworks import framework_class
        from ..sim import Simulation
        from ..topology import network_spec
        from ..traffic import install_traffic

        torch.set_num_threads(cfg.sim.torch_threads)
        torch.manual_seed(cfg.seed)
        self._sim = Simulation(network_spec(cfg), seed=cfg.seed, run=cfg.run, bridge=cfg.bridge)
        install_traffic(cfg, self._sim)
        self._rows: list[dict] = []
        self._fw = framework_class(cfg.train.framework)(cfg, self._sim,
                                                        on_round=self._rows.append)
        self._agent = _AgentPolicy()
        self._fw.policy = self._agent
        self._pending = False
        begin = self._fw._begin_round

        def pause_at_decision():  # run until here, then hand the decision to the agent
            self._pending = True
            self._begin = begin
            self._sim.stop()

        self._fw._begin_round = pause_at_decision
        self._fw.start()  # the first round's decision point, at t = 0
        self._target = cfg.train.target_loss

    def step(self, action):
        if self._fw is None or not self._pending:
            raise RuntimeError("gym: call reset() before step() (or after an episode ended)")
        self._agent.decision = self.decision(action)
        self._pending = False
        n_rows = len(self._rows)
        self._begin()
        self._sim.run(until_s=self.cfg.sim.max_time_s)
        if len(self._rows) == n_rows:  # no round ended: the time limit
            return self._observe(), 0.0, False, True, {}
        row = self._rows[-1]
        latency = row["t_end_s"] - row["t_start_s"]
        reached = self._target is not None and row["eval_loss"] <= self._target
        terminated = self._fw.finished or (self.reward_kind == "time_to_target" and reached)
        reward = -latency
        info = {"round": row["round"], "latency_s": latency, "eval_loss": row["eval_loss"],
                "loss": row["loss"], "scheduled": row["scheduled"], "target_reached": reached}
        return self._observe(), float(reward), bool(terminated), False, info

    def decision(self, action) -> Decision:
        """The scheduling decision of an action (see the module)."""
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(self.n), 0.0, 1.0)
        chosen = sorted(np.argsort(-a, kind="stable")[:self.k].tolist())
        w = a[chosen]
        shares = (w / w.sum()) if w.sum() > 0 else np.full(len(chosen), 1.0 / len(chosen))
        return Decision(chosen, [float(s) for s in shares])

    # -- observations -----------------------------------------------------------------------

    def _observe(self) -> dict:
        fw, n = self._fw, self.n
        f32 = np.float32
        obs = {"rate_bps": fw.radio.full_band_rate_bps()[:n].astype(f32),
               "observed_rate_bps": self._observed_rates(),
               "compute_s": np.asarray(fw.compute_est, dtype=f32).copy(),
               "participation": (fw.participation / max(fw.round, 1)).astype(f32),
               "round": np.array([fw.round], dtype=f32),
               "t_s": np.array([self._sim.now], dtype=f32)}
        if self.nr:
            r = self._sim.link_states().radio  # zero-copy views, read now
            obs["sinr_db"] = np.nan_to_num(np.asarray(r["sinr_db"][:n], dtype=f32))
            obs["ul_queue_bytes"] = np.asarray(r["ul_queue_bytes"][:n], dtype=f32)
        for key, v in obs.items():  # NaN before a first measurement
            np.nan_to_num(v, copy=False, nan=0.0, posinf=np.finfo(f32).max,
                          neginf=-np.finfo(f32).max)
            if key != "sinr_db":
                np.maximum(v, 0, out=v)
        return obs

    def _observed_rates(self) -> np.ndarray:
        est = getattr(self._fw, "observed", None)
        if est is None:
            return np.zeros(self.n, np.float32)
        return np.asarray(est.estimate(np.zeros(self.n)), dtype=np.float32)

    # -- end ------------------------------------------------------------------------------------

    def _close_sim(self) -> None:
        if self._sim is not None:
            self._sim.close()
        self._sim = self._fw = None

    def close(self) -> None:
        self._close_sim()


def make_env(scenario: str = "split-finetune", overrides=(), reward: str = "round_latency") \
        -> EdgeLamEnv:
    """:class:`EdgeLamEnv` (for ``gymnasium.make``-free use)."""
    return EdgeLamEnv(scenario, overrides, reward)
