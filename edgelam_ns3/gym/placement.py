"""Service placement of microservice inference as a Gymnasium environment.

An episode is one placement decision (a contextual bandit): :meth:`PlacementEnv.reset` builds
the scenario (``train.framework: microservice_inference``) and shows the placement problem the
framework's own policies solve (:class:`edgelam_ns3.inference.placement.PlacementProblem`);
:meth:`PlacementEnv.step` puts each placed unit (the heavy services, block groups and LM head,
then any MoE experts; each router goes with its block group) on the host the action names,
serves the scenario's whole request window on ns-3's clock exactly as ``edgelam run`` does, and
ends the episode.

Action: ``MultiDiscrete([n_hosts] * n_units)``, a host index per unit (hosts in
``PlacementEnv.hosts`` order, units in ``PlacementEnv.units`` order).

Observation: a ``Dict`` of float32 arrays from the placement problem of the expected request at
the expected rate: ``t_compute_s`` [units, hosts] (seconds unit s on host h adds to a request),
``t_link_s`` [units - 1, hosts, hosts] (moving a unit's outputs between hosts, per request),
``t_entry_s`` and ``t_exit_s`` [hosts], ``mem_need_bytes`` [units], ``mem_cap_bytes`` [hosts]
and ``rate_per_s`` [1].

Reward (``reward=``): ``"on_time_ratio"``: the fraction of the window's requests served within
the SLO (``inference.slo``), as ``summary.json`` reports it; ``"mean_latency"``: minus the mean
end-to-end latency [s] of the window's requests, a request not served counting
``sim.max_time_s``. A placement whose weights and KV reserve do not fit a host's memory, or that
puts a unit where ``inference.placement`` does not allow it, serves nothing: the reward is the
floor (0, or minus ``sim.max_time_s``) and ``info["infeasible"]`` says why.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .. import config as config_mod

REWARDS = ("on_time_ratio", "mean_latency")


class _ProblemOnly(Exception):
    """Raised by a framework built only for its placement problem, before it places."""

    def __init__(self, problem):
        super().__init__("placement problem only")
        self.problem = problem


def _agent_framework(problem=None, assign: list[int] | None = None):
    """The microservice_inference framework with the agent in its policy's place: without
    ``assign`` it stops with :class:`_ProblemOnly` once its placement problem is known (so
    neither the scenario's own policy nor its memory check runs); with ``assign`` it places the
    units so, on ``problem`` (that same problem, not computed again)."""
    from ..inference.framework import MicroserviceInference

    class AgentPlaced(MicroserviceInference):
        def _problem(self):
            return super()._problem() if problem is None else problem

        def _place(self):
            if assign is None:
                raise _ProblemOnly(self.problem)
            return list(assign), False

    return AgentPlaced


class PlacementEnv(gym.Env):
    """Where each microservice of a served LAM runs (see the module).

    :param scenario: a built-in scenario name or a YAML path (``microservice_inference``)
    :param overrides: ``--set`` style overrides (``key=value``)
    :param reward: one of :data:`REWARDS`
    """

    metadata = {"render_modes": []}

    def __init__(self, scenario: str = "microservice-inference",
                 overrides: list[str] | tuple = (), reward: str = "on_time_ratio"):
        if reward not in REWARDS:
            raise ValueError(f"gym: reward must be one of {REWARDS}, not {reward!r}")
        self.cfg = config_mod.load(scenario, list(overrides))
        if self.cfg.train.framework != "microservice_inference":
            raise ValueError(f"gym PlacementEnv: train.framework "
                             f"{self.cfg.train.framework!r} places no services; use "
                             "microservice_inference")
        self.reward_kind = reward
        self._sim = None
        self.reset(seed=self.cfg.seed)  # the problem's shapes, for the spaces
        p = self.problem
        self.units, self.hosts = list(p.services), list(p.hosts)
        u, h = len(self.units), len(self.hosts)
        big = float(np.finfo(np.float32).max)

        def box(*shape):
            return spaces.Box(0.0, big, shape, np.float32)

        self.observation_space = spaces.Dict({
            "t_compute_s": box(u, h), "t_link_s": box(max(u - 1, 1), h, h),
            "t_entry_s": box(h), "t_exit_s": box(h), "mem_need_bytes": box(u),
            "mem_cap_bytes": box(h), "rate_per_s": box(1)})
        self.action_space = spaces.MultiDiscrete([h] * u)
        self.close()

    # -- episode ------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.close()
        self._cfg = self.cfg if seed is None else self.cfg.model_copy(update={"seed": int(seed)})
        self._start()
        try:
            _agent_framework()(self._cfg, self._sim)
        except _ProblemOnly as only:
            self.problem = only.problem
        return self._observe_problem(), {}

    def _start(self) -> None:
        from ..sim import Simulation
        from ..topology import network_spec
        from ..traffic import install_traffic

        cfg = self._cfg
        self._sim = Simulation(network_spec(cfg), seed=cfg.seed, run=cfg.run, bridge=cfg.bridge)
        install_traffic(cfg, self._sim)

    def step(self, action):
        if self._sim is None:
            raise RuntimeError("gym: call reset() before step() (or after an episode ended)")
        assign = [int(a) for a in np.asarray(action).reshape(len(self.units))]
        if min(assign) < 0 or max(assign) >= len(self.hosts):
            raise ValueError(f"gym: a host index is in [0, {len(self.hosts)}), not {assign}")
        floor = 0.0 if self.reward_kind == "on_time_ratio" else -self._cfg.sim.max_time_s
        why = self._not_allowed(assign)
        fw = None
        if why is None:
            try:
                fw = _agent_framework(self.problem, assign)(self._cfg, self._sim)
            except ValueError as exc:  # the weights and KV reserve exceed a host's memory
                why = str(exc)
        if fw is None:
            self.close()
            return self._observe_problem(), floor, True, False, {"infeasible": why}
        fw.start()
        self._sim.run(until_s=self._cfg.sim.max_time_s)
        rows = fw.rows
        n = len(fw.requests)
        if self.reward_kind == "on_time_ratio":
            reward = sum(r["on_time"] for r in rows) / n
        else:
            e2e = [r["e2e_s"] if np.isfinite(r["e2e_s"]) else self._cfg.sim.max_time_s
                   for r in rows]
            reward = -(sum(e2e) + (n - len(rows)) * self._cfg.sim.max_time_s) / n
        info = {"placement": dict(fw.where), "served": len(rows), "requests": n,
                "on_time": int(sum(r["on_time"] for r in rows)), "finished": fw.finished}
        obs = self._observe_problem()
        self.close()
        return obs, float(reward), True, False, info

    def _not_allowed(self, assign: list[int]) -> str | None:
        allowed = self.problem.allowed
        if allowed is None:
            return None
        for s, h in enumerate(assign):
            if not allowed[s, h]:
                return f"{self.units[s]} may not run on {self.hosts[h]} (inference.placement)"
        return None

    # -- observations -----------------------------------------------------------------------

    def _observe_problem(self) -> dict:
        p, f32 = self.problem, np.float32
        u, h = len(p.services), len(p.hosts)
        link = np.zeros((max(u - 1, 1), h, h), f32)  # MoE experts have no chain link
        chain = np.asarray(p.t_link, dtype=f32).reshape(-1, h, h)
        link[:len(chain)] = chain
        obs = {"t_compute_s": np.asarray(p.t_compute, dtype=f32).reshape(u, h),
               "t_link_s": link,
               "t_entry_s": np.asarray(p.t_entry, dtype=f32),
               "t_exit_s": np.asarray(p.t_exit, dtype=f32),
               "mem_need_bytes": np.asarray(p.mem_need, dtype=f32),
               "mem_cap_bytes": np.asarray(p.mem_cap, dtype=f32),
               "rate_per_s": np.array([p.rate_per_s], dtype=f32)}
        big = np.finfo(f32).max
        for v in obs.values():
            np.nan_to_num(v, copy=False, nan=0.0, posinf=big, neginf=0.0)
        return obs

    def close(self) -> None:
        if self._sim is not None:
            self._sim.close()
        self._sim = None
