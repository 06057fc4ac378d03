"""CSI time series per UE from a TR 38.901 channel, for channel prediction and beamforming.

Two independent sources draw the same kind of data:

- ``"sionna"``: Sionna 2.x's system-level TR 38.901 models (``sionna.phy.channel.tr38901.UMa`` /
  ``UMi``, PanelArray antennas, 38.901 V19.2 tables), the CIR turned into a frequency response
  at the subband centres with ``sionna.phy.channel.cir_to_ofdm_channel``. Doppler per ray.
- ``"ns3"``: the project's own radio channel (ns-3 3.37's ThreeGppChannelModel through
  ``_core.NrChannelTestBed``), sampled every ``sample_period_s`` by running the simulation clock
  with the fading updated at that period. ns-3 3.37 keeps a moving UE's clusters fixed and
  rotates their Doppler phases (one Doppler term per cluster), and its UPA is single-polarised:
  ``gnb_polarization="dual"`` is refused for this source.

Layout of a :class:`CsiDataset` (all arrays numpy)::

    h           [n_drops, n_ues, n_steps, n_rx, n_tx, n_subbands] complex64, normalised
    gain_db     [n_drops, n_ues] float64   the power the normalisation removed, dB
    speed_kmh   [n_drops, n_ues] float64   UE speed (constant along the series)
    ue_position [n_drops, n_ues, 3] float64  position at t = 0, m (gNB at the origin)

Normalisation: each UE's series is divided by the root of its mean power over time, antennas and
subbands, so ``mean(|h[d, u]|^2) == 1`` for every (drop, UE); the true channel is
``h[d, u] * 10 ** (gain_db[d, u] / 20)`` (path loss and shadowing included; for ns-3 the
small-scale matrix times its path gain). A drop is one independent placement of ``n_ues`` UEs
around one gNB (new large-scale and small-scale parameters); UEs of one drop share the gNB and
the draw, so a multi-user beamformer can take ``h[d, :, t]`` with ``gain_db[d]``.

Speeds: UE ``u`` of drop ``d`` moves at ``speeds_kmh[(d * n_ues + u) % len(speeds_kmh)]`` in a
uniformly random horizontal direction. Every draw is fixed by ``seed``: the same config gives the
same arrays, bit for bit, on the same machine. Each drop draws from its own seed, derived from
(``seed``, drop index), so drops of different seeds never coincide and a dataset's first k drops
do not depend on ``n_drops``.

Prediction windows (:func:`windows`) flatten rx and tx into ``n_ports = n_rx * n_tx``; pilot noise
(:func:`add_pilot_noise`) is complex Gaussian at a given SNR per entry relative to each series'
mean power. Predictors see the noisy history and are scored against the noise-free future.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["CsiConfig", "CsiDataset", "PRESETS", "preset", "generate", "windows",
           "add_pilot_noise", "save", "load"]

C = 299792458.0
SOURCES = ("sionna", "ns3")
SCENARIOS = ("UMa", "UMi")
CONDITIONS = ("nlos", "los")


@dataclass(frozen=True)
class CsiConfig:
    """What to draw. Units in the names; validated on construction (ValueError names the field)."""

    source: str = "sionna"
    """'sionna' (Sionna 2.x TR 38.901) or 'ns3' (the project's ns-3 ThreeGppChannelModel)."""
    scenario: str = "UMa"
    """TR 38.901 scenario: 'UMa' or 'UMi' (UMi-Street Canyon)."""
    condition: str = "nlos"
    """Link state forced on every UE: 'nlos' or 'los'."""
    carrier_hz: float = 2.4e9
    subband_spacing_hz: float = 180e3
    """Distance between subband centres; the band is n_subbands * subband_spacing_hz wide."""
    n_subbands: int = 48
    gnb_rows: int = 4
    gnb_cols: int = 4
    gnb_polarization: str = "dual"
    """'single' (vertical) or 'dual' (cross-polarised +-45 deg: 2 ports per element)."""
    ue_rows: int = 1
    ue_cols: int = 1
    n_steps: int = 20
    """Samples per UE series (16 past + 4 future for one LLM4CP window)."""
    sample_period_s: float = 0.5e-3
    """Pilot period between samples."""
    speeds_kmh: tuple[float, ...] = (10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0)
    n_drops: int = 10
    n_ues: int = 10
    seed: int = 1
    min_distance_m: float = 50.0
    max_distance_m: float = 400.0
    gnb_height_m: float = 25.0
    ue_height_m: float = 1.5

    def __post_init__(self):
        object.__setattr__(self, "speeds_kmh", tuple(float(s) for s in self.speeds_kmh))
        _check(self.source in SOURCES, "source", f"must be one of {SOURCES}")
        _check(self.scenario in SCENARIOS, "scenario", f"must be one of {SCENARIOS}")
        _check(self.condition in CONDITIONS, "condition", f"must be one of {CONDITIONS}")
        _check(0.5e9 <= self.carrier_hz <= 100e9, "carrier_hz", "TR 38.901 covers 0.5-100 GHz")
        _check(self.gnb_polarization in ("single", "dual"), "gnb_polarization",
               "must be 'single' or 'dual'")
        _check(not (self.source == "ns3" and self.gnb_polarization == "dual"), "gnb_polarization",
               "ns-3 3.37's UniformPlanarArray is single-polarised; use source='sionna' or "
               "'single' (e.g. gnb_rows=4, gnb_cols=8 for 32 ports)")
        for name in ("n_subbands", "gnb_rows", "gnb_cols", "ue_rows", "ue_cols", "n_steps",
                     "n_drops", "n_ues"):
            _check(int(getattr(self, name)) >= 1, name, "must be >= 1")
        for name in ("subband_spacing_hz", "sample_period_s", "gnb_height_m", "ue_height_m"):
            _check(getattr(self, name) > 0, name, "must be > 0")
        _check(len(self.speeds_kmh) > 0 and min(self.speeds_kmh) >= 0, "speeds_kmh",
               "must be a non-empty list of speeds >= 0")
        _check(0 < self.min_distance_m < self.max_distance_m, "min_distance_m",
               "must satisfy 0 < min_distance_m < max_distance_m")
        _check(self.seed >= 0, "seed", "must be >= 0")

    @property
    def n_tx(self) -> int:
        """gNB ports: rows * cols * (2 if dual-polarised)."""
        return self.gnb_rows * self.gnb_cols * (2 if self.gnb_polarization == "dual" else 1)

    @property
    def n_rx(self) -> int:
        return self.ue_rows * self.ue_cols

    def replace(self, **kw) -> "CsiConfig":
        return dataclasses.replace(self, **kw)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["speeds_kmh"] = list(self.speeds_kmh)
        return d


def _check(ok: bool, name: str, rule: str):
    if not ok:
        raise ValueError(f"csi: {name}: {rule}")


PRESETS: dict[str, CsiConfig] = {
    "llm4cp": CsiConfig(),
    "llm4cp-ns3": CsiConfig(source="ns3", gnb_rows=4, gnb_cols=8, gnb_polarization="single"),
    "umi-3.5ghz-8x8": CsiConfig(scenario="UMi", carrier_hz=3.5e9, subband_spacing_hz=360e3,
                                n_subbands=16, gnb_rows=8, gnb_cols=8, gnb_polarization="single",
                                n_steps=1, speeds_kmh=(3.0,), n_ues=16, gnb_height_m=10.0,
                                min_distance_m=20.0, max_distance_m=200.0),
}
"""Named configs. 'llm4cp': LLM4CP's setup (UMa NLOS, 2.4 GHz, 4x4 dual-polarised gNB = 32
ports, one UE antenna, 48 subbands of 180 kHz, 0.5 ms pilots, 16 + 4 samples, 10-100 km/h).
'llm4cp-ns3': the same on the ns-3 channel with a 4x8 single-polarised UPA (32 ports).
'umi-3.5ghz-8x8': one snapshot of 16 UEs per drop, 8x8 gNB, UMi 3.5 GHz (beamforming)."""


def preset(name: str, **overrides) -> CsiConfig:
    """A preset with fields replaced, e.g. ``preset("llm4cp", n_drops=4, seed=7)``."""
    if name not in PRESETS:
        raise ValueError(f"csi: preset: unknown {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name].replace(**overrides)


@dataclass
class CsiDataset:
    """Channel series with their config (see the module docstring for shapes and units)."""

    config: CsiConfig
    h: np.ndarray
    gain_db: np.ndarray
    speed_kmh: np.ndarray
    ue_position: np.ndarray
    meta: dict = field(default_factory=dict)

    def select_drops(self, drops) -> "CsiDataset":
        """The dataset restricted to the given drop indices (e.g. a train/test split by drop)."""
        idx = np.asarray(drops, dtype=int)
        return CsiDataset(self.config, self.h[idx], self.gain_db[idx], self.speed_kmh[idx],
                          self.ue_position[idx], dict(self.meta))


def _drop_seed(cfg: CsiConfig, drop: int) -> int:
    """A 31-bit seed for one drop, from (seed, drop): drops never repeat across seeds."""
    return int(np.random.SeedSequence([cfg.seed, drop]).generate_state(1)[0] >> 1) + 1


def _layout(cfg: CsiConfig, drop: int):
    """One drop's UE positions [U, 3] (uniform in the annulus, azimuth within +-60 deg of the
    gNB's boresight +x), velocities [U, 3] m/s and speeds [U] km/h."""
    rng = np.random.default_rng(_drop_seed(cfg, drop))
    u_ = cfg.n_ues
    r = np.sqrt(rng.uniform(cfg.min_distance_m**2, cfg.max_distance_m**2, u_))
    az = rng.uniform(-math.pi / 3, math.pi / 3, u_)
    pos = np.stack([r * np.cos(az), r * np.sin(az), np.full(u_, cfg.ue_height_m)], -1)
    speed = np.asarray(cfg.speeds_kmh)[(drop * u_ + np.arange(u_)) % len(cfg.speeds_kmh)]
    th = rng.uniform(0, 2 * math.pi, u_)
    vel = np.stack([np.cos(th), np.sin(th), np.zeros_like(th)], -1) * (speed / 3.6)[:, None]
    return pos, vel, speed


def _normalise(h: np.ndarray, gain_lin: np.ndarray):
    """Per-(drop, UE) unit mean power; returns (h_norm complex64, gain_db)."""
    p = np.mean(np.abs(h) ** 2, axis=(2, 3, 4, 5))
    hn = h / np.sqrt(p)[..., None, None, None, None]
    return hn.astype(np.complex64), 10 * np.log10(p * gain_lin)


def _sionna_model(cfg: CsiConfig):
    from sionna.phy.channel.tr38901 import UMa, UMi, PanelArray

    fc = cfg.carrier_hz
    bs = PanelArray(num_rows_per_panel=cfg.gnb_rows, num_cols_per_panel=cfg.gnb_cols,
                    polarization=cfg.gnb_polarization,
                    polarization_type="cross" if cfg.gnb_polarization == "dual" else "V",
                    antenna_pattern="38.901", carrier_frequency=fc, precision="double")
    ut = PanelArray(num_rows_per_panel=cfg.ue_rows, num_cols_per_panel=cfg.ue_cols,
                    polarization="single", polarization_type="V", antenna_pattern="omni",
                    carrier_frequency=fc, precision="double")
    return (UMa if cfg.scenario == "UMa" else UMi)(
        fc, "low", ut, bs, "downlink", enable_pathloss=True, enable_shadow_fading=True,
        precision="double")


def _sionna_drop(cfg: CsiConfig, model, pos, vel, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One drop from Sionna: [U, T, R, A, S] (path loss and shadowing included) and ones [U]."""
    import torch
    from sionna.phy import config as sn_config
    from sionna.phy.channel import cir_to_ofdm_channel, subcarrier_frequencies

    old_seed, old_state = sn_config.seed, torch.random.get_rng_state()
    sn_config.seed = seed  # Sionna draws from its global generators; restored below
    try:
        f64 = torch.float64
        u_ = len(pos)
        model.set_topology(
            ut_loc=torch.tensor(pos[None], dtype=f64),
            bs_loc=torch.tensor([[[0.0, 0.0, cfg.gnb_height_m]]], dtype=f64),
            ut_orientations=torch.zeros(1, u_, 3, dtype=f64),
            bs_orientations=torch.zeros(1, 1, 3, dtype=f64),
            ut_velocities=torch.tensor(vel[None], dtype=f64),
            in_state=torch.zeros(1, u_, dtype=torch.bool), los=cfg.condition == "los")
        a, tau = model(num_time_samples=cfg.n_steps,
                       sampling_frequency=1.0 / cfg.sample_period_s)
        f = subcarrier_frequencies(cfg.n_subbands, cfg.subband_spacing_hz, precision="double")
        hf = cir_to_ofdm_channel(f, a, tau)  # [1, U, R, 1, A, T, S]
    finally:
        sn_config.seed = old_seed
        torch.random.set_rng_state(old_state)
    h = hf[0, :, :, 0].permute(0, 3, 1, 2, 4).numpy()  # [U, T, R, A, S]
    return h, np.ones(len(pos))


def _ns3_drop(cfg: CsiConfig, pos, vel, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One drop on the ns-3 channel: [U, T, R, A, S] and the linear path gains [U]."""
    from edgelam_ns3 import _core

    sim = _core.CoSim(seed)
    try:
        scen = "UMa" if cfg.scenario == "UMa" else "UMi-StreetCanyon"
        tb = _core.NrChannelTestBed(sim, scen, cfg.carrier_hz,
                                    cfg.n_subbands * cfg.subband_spacing_hz, cfg.n_subbands,
                                    update_period_s=cfg.sample_period_s, shadowing=True,
                                    condition=cfg.condition)
        tb.add_gnb((0.0, 0.0, cfg.gnb_height_m), cfg.gnb_rows, cfg.gnb_cols)
        for p, v in zip(pos, vel):
            tb.add_ue(tuple(p), velocity=tuple(v), rows=cfg.ue_rows, cols=cfg.ue_cols)
        tb.assign_streams(1000)
        n_ue = len(pos)
        out = []
        for t in range(cfg.n_steps):
            if t:  # just after the t-th fading update
                sim.run(until_s=t * cfg.sample_period_s + 1e-3 * cfg.sample_period_s)
            out.append([tb.channel_matrix(0, u) for u in range(n_ue)])
        pg = np.array([10 ** (tb.path_gain_db(0, u) / 10) for u in range(n_ue)])
    finally:
        sim.destroy()
    return np.transpose(np.array(out), (1, 0, 2, 3, 4)), pg


def generate(cfg: CsiConfig) -> CsiDataset:
    """Draw the dataset of ``cfg`` (see the module docstring). Each drop has its own seed,
    derived from (``cfg.seed``, drop index): the first k drops are the same whatever
    ``n_drops``. ns-3 runs one CoSim per drop in this process, so call it where no other CoSim
    is alive."""
    model = _sionna_model(cfg) if cfg.source == "sionna" else None
    hs, gains, speeds, positions = [], [], [], []
    for d in range(cfg.n_drops):
        pos, vel, speed = _layout(cfg, d)
        if model is not None:
            h, g = _sionna_drop(cfg, model, pos, vel, _drop_seed(cfg, d))
        else:
            h, g = _ns3_drop(cfg, pos, vel, _drop_seed(cfg, d))
        hn, gain_db = _normalise(h[None], g[None])
        hs.append(hn[0])
        gains.append(gain_db[0])
        speeds.append(speed)
        positions.append(pos)
    meta = {"config": cfg.to_dict(), "normalisation": "unit mean power per (drop, ue)",
            "layout": "h[drop, ue, step, rx, tx, subband]"}
    return CsiDataset(cfg, np.stack(hs), np.stack(gains), np.stack(speeds), np.stack(positions),
                      meta)


def windows(ds: CsiDataset, past: int = 16, future: int = 4, stride: int | None = None):
    """Cut every UE series into (past, future) windows.

    :output hist: [N, past, n_ports, n_subbands] complex64, n_ports = n_rx * n_tx (noise-free)
    :output fut: [N, future, n_ports, n_subbands] complex64
    :output speed_kmh: [N] float64
    :output drop: [N] int, the drop each window comes from
    """
    t = ds.h.shape[2]
    if past < 1 or future < 1 or past + future > t:
        raise ValueError(f"csi: windows: past + future = {past + future} must be within the "
                         f"{t} steps of a series (and both >= 1)")
    stride = stride or (past + future)
    starts = range(0, t - past - future + 1, stride)
    d_, u_, _, r, a, s = ds.h.shape
    x = ds.h.reshape(d_, u_, t, r * a, s)
    w = np.stack([x[:, :, k:k + past + future] for k in starts], 2)  # [D, U, K, P+F, M, S]
    k = w.shape[2]
    w = w.reshape(d_ * u_ * k, past + future, r * a, s)
    speed = np.repeat(ds.speed_kmh.reshape(-1), k)
    drop = np.repeat(np.repeat(np.arange(d_), u_), k)
    return w[:, :past], w[:, past:], speed, drop


def add_pilot_noise(h: np.ndarray, snr_db: float | None, rng: np.random.Generator):
    """``h`` plus complex Gaussian noise at ``snr_db`` per entry, relative to the mean power of
    each series (all axes but the first). ``snr_db=None`` returns ``h`` unchanged (noise-free)."""
    if snr_db is None:
        return h
    p = np.mean(np.abs(h) ** 2, axis=tuple(range(1, h.ndim)), keepdims=True)
    sigma = np.sqrt(p / 10 ** (snr_db / 10) / 2)
    n = rng.standard_normal(h.shape) + 1j * rng.standard_normal(h.shape)
    return (h + sigma * n).astype(h.dtype)


def save(ds: CsiDataset, path: str | Path) -> Path:
    """Write ``ds`` by the suffix of ``path``: ``.parquet`` (:func:`save_parquet`), otherwise
    a compressed npz (arrays plus the config and metadata as JSON)."""
    path = Path(path)
    if path.suffix == ".parquet":
        return save_parquet(ds, path)
    np.savez_compressed(path, h=ds.h, gain_db=ds.gain_db, speed_kmh=ds.speed_kmh,
                        ue_position=ds.ue_position, meta=np.array(json.dumps(ds.meta)))
    return path


def save_parquet(ds: CsiDataset, path: str | Path) -> Path:
    """Write ``ds`` as one Parquet table, a row per (drop, UE, step): ``drop``, ``ue``,
    ``step``, ``t_s`` (step x sampling period), ``speed_kmh``, ``gain_db``, ``x_m``, ``y_m``,
    ``z_m`` (position at t = 0) and ``h_re``, ``h_im`` (float32 lists of the [rx, tx, subband]
    channel, C order); the metadata (config, layout, shape) is the schema's ``edgelam_csi``
    JSON."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    d, u, t = ds.h.shape[:3]
    flat = ds.h.reshape(d * u * t, -1)
    idx = np.indices((d, u, t)).reshape(3, -1)
    pos = ds.ue_position[idx[0], idx[1]]
    cols = {"drop": idx[0], "ue": idx[1], "step": idx[2],
            "t_s": idx[2] * ds.config.sample_period_s,
            "speed_kmh": ds.speed_kmh[idx[0], idx[1]], "gain_db": ds.gain_db[idx[0], idx[1]],
            "x_m": pos[:, 0], "y_m": pos[:, 1], "z_m": pos[:, 2]}
    table = pa.table({k: pa.array(v) for k, v in cols.items()})
    n = flat.shape[1]
    for name, part in (("h_re", flat.real), ("h_im", flat.imag)):
        values = pa.array(np.ascontiguousarray(part, dtype=np.float32).ravel())
        table = table.append_column(name, pa.FixedSizeListArray.from_arrays(values, n))
    meta = {**ds.meta, "shape": list(ds.h.shape)}
    table = table.replace_schema_metadata({"edgelam_csi": json.dumps(meta)})
    pq.write_table(table, path)
    return Path(path)


def load(path: str | Path) -> CsiDataset:
    """Read a file written by :func:`save` (npz or Parquet)."""
    if Path(path).suffix == ".parquet":
        return _load_parquet(path)
    with np.load(path) as z:
        meta = json.loads(str(z["meta"]))
        cfg = CsiConfig(**meta["config"])
        return CsiDataset(cfg, z["h"], z["gain_db"], z["speed_kmh"], z["ue_position"], meta)


def _load_parquet(path: str | Path) -> CsiDataset:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"edgelam_csi"])
    shape = meta.pop("shape")
    d, u, t = shape[:3]

    def col(name):
        return table.column(name).to_numpy()

    def lists(name):
        return np.asarray(table.column(name).combine_chunks().flatten(), dtype=np.float32)

    h = (lists("h_re") + 1j * lists("h_im")).astype(np.complex64).reshape(shape)
    first = np.arange(d * u) * t  # the step-0 row of each (drop, ue)
    pos = np.stack([col(c)[first] for c in ("x_m", "y_m", "z_m")], -1).reshape(d, u, 3)
    return CsiDataset(CsiConfig(**meta["config"]), h, col("gain_db")[first].reshape(d, u),
                      col("speed_kmh")[first].reshape(d, u), pos, meta)
