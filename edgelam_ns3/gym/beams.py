"""Beam choice on the live NR radio as a Gymnasium environment.

Every decision period (``period_s``, default the SRS period) the agent picks, for each UE of the
cell, one beam of the gNB's grid of beams: the rank-1 beams of TS 38.214's Type I single-panel
codebook, single-polarised as the MAC's own CSI-RS codebook (``ns3::NrCsiReport``; N1 x N2 the
gNB array's rows x columns, oversampling ``oversampling`` in both), so with O = 1 the N1 N2
orthogonal 2D DFT beams. All UEs are then co-scheduled (MU-MIMO, one layer each, the gNB's
power split equally) on their beams from the next slot until the next decision
(``Simulation.set_precoders``): UEs on the same or neighbouring beams interfere. The gNB's MAC
picks each UE's MCS from its CSI through those beams; the true channel decides what is decoded.

Action: ``MultiDiscrete([n_beams] * n_ues)``, a beam index per UE.

Observation: a ``Dict`` of float32 arrays: ``beam_gain_db`` [n_ues, n_beams] (each beam's gain
on the gNB's current CSI estimate of each UE, path gain included: 10 log10 of the mean over
subbands of |h a_b|^2, what the gNB could know), ``throughput_bps`` [n_ues] (each UE's DL MAC
throughput over the last period: bytes of decoded TBs), ``sinr_db`` [n_ues] (each UE's wideband
DL SINR of its last CSI measurement) and ``t_s`` [1].

Reward (``reward=``): ``"sum_rate"``: the cell's DL MAC throughput over the period [Mbit/s];
``"proportional_fair"``: the sum over UEs of log(1 + throughput / 1 Mbit/s). An episode is
``steps`` decisions from ``start_s`` (default: the traffic's start, or the first instant every
UE has a CSI estimate), then terminated.

The scenario must have the NR radio with one cell, single-antenna UEs and traffic to the UEs
(e.g. the built-in ``beamforming``, which has full-buffer downlink); its ``train`` framework is
not started: the agent is the beamformer.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .. import config as config_mod

REWARDS = ("sum_rate", "proportional_fair")
FLOOR_DB = -300.0  # a beam gain of exactly zero, as a finite float32


def grid_of_beams(rows: int, cols: int, oversampling: int = 1) -> np.ndarray:
    """The rank-1 beams of the single-polarised Type I codebook of a ``rows`` x ``cols`` gNB
    array (``ns3::NrCsiReport``, N1 = rows, N2 = cols, O1 = O2 = ``oversampling``, or 1 for a
    dimension of one element), unit norm: complex128 [n_beams, rows * cols]."""
    from .. import _load_core

    o1 = oversampling if rows > 1 else 1
    o2 = oversampling if cols > 1 else 1
    report = _load_core().NrCsiReport(n1=rows, n2=cols, o1=o1, o2=o2, max_rank=1,
                                      polarisations=1)
    beams = np.stack([np.asarray(report.precoder(1, pmi))[:, 0] for pmi in report.codebook(1)])
    return beams / np.linalg.norm(beams, axis=1, keepdims=True)


class BeamEnv(gym.Env):
    """Beam choice of a cell's UEs (see the module).

    :param scenario: a built-in scenario name or a YAML path
    :param overrides: ``--set`` style overrides (``key=value``)
    :param reward: one of :data:`REWARDS`
    :param steps: decisions per episode (>= 1)
    :param period_s: simulated seconds between decisions (default: the SRS period)
    :param start_s: the first decision (default: see the module)
    :param oversampling: the codebook's O1 = O2 (1: N1 N2 orthogonal beams)
    """

    metadata = {"render_modes": []}

    def __init__(self, scenario: str = "beamforming", overrides: list[str] | tuple = (),
                 reward: str = "sum_rate", steps: int = 50, period_s: float | None = None,
                 start_s: float | None = None, oversampling: int = 1):
        if reward not in REWARDS:
            raise ValueError(f"gym: reward must be one of {REWARDS}, not {reward!r}")
        if int(steps) < 1:
            raise ValueError(f"gym: steps must be >= 1, not {steps}")
        self.cfg = config_mod.load(scenario, list(overrides))
        r = self.cfg.radio
        if r.mode != "nr" or r.n_cells != 1 or list(r.ue_array) != [1, 1]:
            raise ValueError("gym BeamEnv: needs radio.mode nr with radio.n_cells 1 and "
                             "single-antenna UEs (radio.ue_array [1, 1])")
        if not self.cfg.traffic.full_buffer_dl:  # the scenario's framework is not started
            raise ValueError("gym BeamEnv: nothing is sent to the UEs; set "
                             "traffic.full_buffer_dl true")
        slot_s = 1e-3 / 2 ** r.numerology
        self.period_s = float(period_s) if period_s is not None else r.csi.srs_period_slots * slot_s
        if not self.period_s > 0:
            raise ValueError(f"gym: period_s must be > 0, not {period_s}")
        self.start_s = start_s
        self.reward_kind, self.steps = reward, int(steps)
        self.beams = grid_of_beams(r.gnb_array[0], r.gnb_array[1], int(oversampling))
        self.n_ues, self.n_beams = self.cfg.n_ues(), len(self.beams)
        self.ues = [f"ue{i}" for i in range(self.n_ues)]
        big = float(np.finfo(np.float32).max)
        self.observation_space = spaces.Dict({
            "beam_gain_db": spaces.Box(FLOOR_DB, big, (self.n_ues, self.n_beams), np.float32),
            "throughput_bps": spaces.Box(0.0, big, (self.n_ues,), np.float32),
            "sinr_db": spaces.Box(-big, big, (self.n_ues,), np.float32),
            "t_s": spaces.Box(0.0, big, (1,), np.float32)})
        self.action_space = spaces.MultiDiscrete([self.n_beams] * self.n_ues)
        self._sim = None

    # -- episode ------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.close()
        cfg = self.cfg if seed is None else self.cfg.model_copy(update={"seed": int(seed)})
        from ..sim import Simulation
        from ..topology import network_spec
        from ..traffic import install_traffic

        self._sim = Simulation(network_spec(cfg), seed=cfg.seed, run=cfg.run, bridge=cfg.bridge)
        install_traffic(cfg, self._sim)
        t = self.start_s if self.start_s is not None else cfg.traffic.start_s
        self._sim.run(until_s=t)
        for _ in range(100):
            if all(self._sim.csi(ue)["estimate"] is not None for ue in self.ues):
                break
            t += self.period_s  # no SRS estimate yet: wait for one
            self._sim.run(until_s=t)
        else:
            raise RuntimeError(f"gym BeamEnv: no CSI estimate of every UE by {t:g} s")
        self._t, self._step = t, 0
        stats = self._sim.radio_ue_stats()
        self._bytes = self._dl_bytes(stats)
        self._thr = np.zeros(self.n_ues)
        return self._observe(stats), {}

    def step(self, action):
        if self._sim is None or self._step >= self.steps:
            raise RuntimeError("gym: call reset() before step() (or after an episode ended)")
        self._sim.set_precoders(self.ues, self.precoders(action), at_time=self._sim.now)
        self._t += self.period_s
        self._sim.run(until_s=self._t)
        stats = self._sim.radio_ue_stats()  # read once for the reward and the observation
        now = self._dl_bytes(stats)
        self._thr = (now - self._bytes) * 8 / self.period_s
        self._bytes = now
        self._step += 1
        mbps = self._thr / 1e6
        reward = float(mbps.sum()) if self.reward_kind == "sum_rate" \
            else float(np.log1p(mbps).sum())
        info = {"throughput_bps": self._thr.copy(), "step": self._step}
        return self._observe(stats), reward, self._step >= self.steps, False, info

    def precoders(self, action) -> np.ndarray:
        """The cell's precoders [N, n_ues] of an action: UE k's beam in column k, each at
        1 / n_ues of the gNB's power."""
        a = np.asarray(action, dtype=np.int64).reshape(self.n_ues)
        if a.min() < 0 or a.max() >= self.n_beams:
            raise ValueError(f"gym: a beam index is in [0, {self.n_beams}), not {a.tolist()}")
        w = self.beams[a].T / np.sqrt(self.n_ues) * (1 - 1e-6)  # sum of |w_k|^2 <= 1
        return w.astype(np.complex64)

    # -- observations -----------------------------------------------------------------------

    def _dl_bytes(self, stats: dict) -> np.ndarray:
        return stats["dl_mac_bytes"][:self.n_ues].astype(np.float64)

    def beam_gains_db(self) -> np.ndarray:
        """[n_ues, n_beams]: each beam's gain on the gNB's CSI estimate of each UE (see the
        module)."""
        out = np.empty((self.n_ues, self.n_beams))
        for k, ue in enumerate(self.ues):
            c = self._sim.csi(ue)
            h = c["estimate"][0].T  # [subband, N] of its one receive antenna
            gain = np.mean(np.abs(h @ self.beams.T) ** 2, axis=0)  # [n_beams]
            with np.errstate(divide="ignore"):
                out[k] = 10 * np.log10(gain) + c["estimate_path_gain_db"]
        return np.maximum(out, FLOOR_DB)

    def _observe(self, stats: dict) -> dict:
        """The observation now; ``stats``: :meth:`Simulation.radio_ue_stats` now."""
        f32 = np.float32
        sinr = np.nan_to_num(stats["dl_wideband_sinr_db"][:self.n_ues], nan=0.0)
        return {"beam_gain_db": self.beam_gains_db().astype(f32),
                "throughput_bps": self._thr.astype(f32),
                "sinr_db": sinr.astype(f32),
                "t_s": np.array([self._sim.now], dtype=f32)}

    def close(self) -> None:
        if self._sim is not None:
            self._sim.close()
        self._sim = None
