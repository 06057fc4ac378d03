"""Sweep specs and their designs: which points a sweep runs.

A spec (``edgelam sweep SPEC.yaml``) is a YAML mapping::

    scenario: split-finetune        # a built-in name, or a scenario YAML (relative to the spec)
    set: {train.steps: 20}          # overrides of every point (or a list of "key=value")
    design:
      grid: {train.policy: [all, lyapunov], radio.gnb_array: [[4, 4], [8, 8]]}  # cross product
      zip: {radio.bandwidth_hz: [20e6, 100e6], radio.n_ues: [2, 4]}  # walked together; or a list
      random:                       # n samples, drawn with numpy from the given seed
        n: 6
        seed: 0
        params:
          train.lr: {loguniform: [1.0e-4, 1.0e-2]}
          radio.ue_distance_m: {uniform: [10, 200]}
          train.policy: {choice: [all, random]}
          nodes.n_devices: {int: [2, 8]}   # both ends included
      seeds: [1, 2, 3]              # replicates (the config's ``seed``); or n_seeds: 3 (1, 2, 3)
    engine: {workers: 2, point_timeout_s: 600}   # see edgelam_ns3.sweep_engines.EngineSpec
    out: runs/my-sweep              # optional; default runs/sweep-<spec file name>

The blocks (grid, each zip group, random, seeds) are crossed with one another; a key may be
swept by one block only. Every point is resolved and validated by :mod:`edgelam_ns3.config`
before anything runs. A point is identified by :func:`point_id`, the hash of its resolved
config, so that a rerun can tell which points already ran.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import config as config_mod
from .sweep_engines import EngineSpec

DISTRIBUTIONS = ("uniform", "loguniform", "int", "choice")
SPEC_KEYS = ("scenario", "set", "design", "engine", "out")
DESIGN_KEYS = ("grid", "zip", "random", "seeds", "n_seeds")


class SpecError(config_mod.ConfigError):
    """A sweep spec that cannot be expanded; the message is one line naming the key."""


@dataclass
class Spec:
    """A sweep: the base scenario, its overrides, the design and the engine."""

    scenario: str
    overrides: list[str] = field(default_factory=list)
    grid: dict[str, list] = field(default_factory=dict)
    zips: list[dict[str, list]] = field(default_factory=list)
    random: dict | None = None  # {"n": int, "seed": int, "params": {key: (dist, args)}}
    seeds: list[int] | None = None
    engine: EngineSpec = field(default_factory=EngineSpec)
    out: str | None = None
    name: str = "sweep"

    def keys(self) -> list[str]:
        """The swept keys in column order (``seed`` last when replicates are asked for)."""
        keys = list(self.grid)
        for group in self.zips:
            keys += list(group)
        keys += list((self.random or {}).get("params", {}))
        return keys + (["seed"] if self.seeds else [])


@dataclass
class Point:
    """One point of a sweep: its swept values and its resolved, validated config."""

    index: int
    values: dict[str, Any]
    config_json: str  # the resolved config as JSON (model_dump order)
    id: str
    config: Any = field(default=None, repr=False, compare=False)  # the validated ScenarioConfig

    @property
    def slug(self) -> str:
        """The values as a short path component: ``policy=all-bandwidth_hz=2e+07``."""
        text = "-".join(f"{k.split('.')[-1]}={_short(v)}" for k, v in self.values.items())
        return re.sub(r"[^A-Za-z0-9_.=+-]", "_", text)[:80] or "base"

    @property
    def run_name(self) -> str:
        """The point's run directory under ``OUT/runs/``: ``<slug>-<id>``."""
        return f"{self.slug}-{self.id}"


def _short(v) -> str:
    """A value in a label: ``0.001``, ``4x4`` for ``[4, 4]``."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list) and all(isinstance(x, (int, float, str)) for x in v):
        return "x".join(_short(x) for x in v)
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def config_json(cfg: config_mod.ScenarioConfig) -> str:
    """A resolved config as JSON text, its fields in schema order (YAML reads it too)."""
    return json.dumps(cfg.model_dump(mode="json"))


def point_id(config_text: str) -> str:
    """16 hex digits of the SHA-256 of a point's resolved config (:func:`config_json`)."""
    return hashlib.sha256(config_text.encode()).hexdigest()[:16]


# -- reading a spec -----------------------------------------------------------------------------


def is_spec_file(target: str) -> bool:
    """Whether ``target`` is a sweep spec: a YAML file whose mapping has a ``scenario`` key (a
    scenario config has none)."""
    p = Path(target)
    if p.suffix not in (".yaml", ".yml") or not p.is_file():
        return False
    try:
        raw = yaml.safe_load(p.read_text())
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return False
    return isinstance(raw, dict) and "scenario" in raw


def load_spec(path: str | Path) -> Spec:
    """Read and check a spec file; :class:`SpecError` names the bad key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"sweep spec {path}: not valid YAML ({exc.__class__.__name__})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"sweep spec {path}: cannot read ({exc})") from None
    if not isinstance(raw, dict):
        raise SpecError(f"sweep spec {path}: the top level must be a mapping")
    return spec_from_dict(config_mod.numbers_from_yaml(raw), base_dir=path.parent,
                          name=path.stem, where=f"sweep spec {path}")


def spec_from_dict(raw: dict, base_dir: Path | None = None, name: str = "sweep",
                   where: str = "sweep spec") -> Spec:
    """A :class:`Spec` from its YAML mapping (see the module's docstring)."""
    _no_unknown(raw, SPEC_KEYS, where, "")
    if not isinstance(raw.get("scenario"), str):
        raise SpecError(f"{where}: scenario: a built-in scenario name or a YAML path is required")
    scenario = raw["scenario"]
    if base_dir is not None and (base_dir / scenario).is_file():
        scenario = str(base_dir / scenario)
    design = raw.get("design") or {}
    if not isinstance(design, dict):
        raise SpecError(f"{where}: design: must be a mapping of {', '.join(DESIGN_KEYS)}")
    _no_unknown(design, DESIGN_KEYS, where, "design.")
    if not isinstance(raw.get("engine") or {}, dict):
        raise SpecError(f"{where}: engine: must be a mapping (workers, dask, jobqueue, ...)")
    try:
        engine = EngineSpec.from_dict(raw.get("engine") or {})
    except ValueError as exc:
        raise SpecError(f"{where}: engine.{exc}") from None
    spec = Spec(scenario=scenario, overrides=_overrides(raw.get("set"), where),
                grid=_value_lists(design.get("grid") or {}, f"{where}: design.grid"),
                zips=_zips(design.get("zip"), where),
                random=_random(design.get("random"), where),
                seeds=_seeds(design, where), engine=engine, out=raw.get("out"), name=name)
    check_keys(spec, where)
    return spec


def _no_unknown(raw: dict, known: tuple[str, ...], where: str, prefix: str) -> None:
    for key in raw:
        if key not in known:
            raise SpecError(f"{where}: unknown key '{prefix}{key}' (known: {', '.join(known)})")


def _overrides(raw, where: str) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, dict):
        return [f"{k}={json.dumps(v)}" for k, v in raw.items()]
    if isinstance(raw, list) and all(isinstance(x, str) and "=" in x for x in raw):
        return list(raw)
    raise SpecError(f"{where}: set: a mapping of key: value, or a list of 'key=value'")


def _value_lists(raw, where: str) -> dict[str, list]:
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: must be a mapping of key: [values]")
    for key, values in raw.items():
        if not isinstance(values, list) or not values:
            raise SpecError(f"{where}.{key}: a non-empty list of values is required "
                            "(a list value is itself a list: [[4, 4], [8, 8]])")
    return {str(k): v for k, v in raw.items()}


def _zips(raw, where: str) -> list[dict[str, list]]:
    if raw is None:
        return []
    groups = raw if isinstance(raw, list) else [raw]
    out = []
    for i, group in enumerate(groups):
        here = f"{where}: design.zip" + (f"[{i}]" if isinstance(raw, list) else "")
        group = _value_lists(group, here)
        lengths = {k: len(v) for k, v in group.items()}
        if len(set(lengths.values())) > 1:
            raise SpecError(f"{here}: lists of different lengths "
                            f"({', '.join(f'{k}: {n}' for k, n in lengths.items())})")
        out.append(group)
    return out


def _random(raw, where: str) -> dict | None:
    if raw is None:
        return None
    here = f"{where}: design.random"
    if not isinstance(raw, dict):
        raise SpecError(f"{here}: a mapping with n, seed and params")
    _no_unknown(raw, ("n", "seed", "params"), where, "design.random.")
    n, seed = raw.get("n"), raw.get("seed", 0)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise SpecError(f"{here}.n: the number of samples, an integer >= 1")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise SpecError(f"{here}.seed: an integer")
    params = raw.get("params")
    if not isinstance(params, dict) or not params:
        raise SpecError(f"{here}.params: a mapping of key: {{distribution: arguments}}")
    return {"n": n, "seed": seed,
            "params": {str(k): _distribution(v, f"{here}.params.{k}") for k, v in params.items()}}


def _distribution(raw, here: str) -> tuple[str, list]:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise SpecError(f"{here}: one of {{{': ..., '.join(DISTRIBUTIONS)}: ...}}")
    (dist, args), = raw.items()
    if dist not in DISTRIBUTIONS:
        raise SpecError(f"{here}: unknown distribution '{dist}' (known: {', '.join(DISTRIBUTIONS)})")
    if dist == "choice":
        if not isinstance(args, list) or not args:
            raise SpecError(f"{here}.choice: a non-empty list of values")
        return dist, args
    if (not isinstance(args, list) or len(args) != 2
            or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)):
        raise SpecError(f"{here}.{dist}: [low, high], two numbers")
    lo, hi = args
    if not lo <= hi or (dist == "loguniform" and lo <= 0) or \
            (dist == "int" and not all(float(a).is_integer() for a in args)):
        need = {"loguniform": "0 < low <= high", "int": "integers low <= high"}
        raise SpecError(f"{here}.{dist}: [low, high] needs {need.get(dist, 'low <= high')}")
    return dist, [lo, hi]


def _seeds(design: dict, where: str) -> list[int] | None:
    seeds, n_seeds = design.get("seeds"), design.get("n_seeds")
    if seeds is not None and n_seeds is not None:
        raise SpecError(f"{where}: design.seeds and design.n_seeds: give one of them")
    if n_seeds is not None:
        if not isinstance(n_seeds, int) or isinstance(n_seeds, bool) or n_seeds < 1:
            raise SpecError(f"{where}: design.n_seeds: an integer >= 1")
        return list(range(1, n_seeds + 1))
    if seeds is None:
        return None
    if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in seeds)):
        raise SpecError(f"{where}: design.seeds: a list of distinct integers >= 1")
    return seeds


def check_keys(spec: Spec, where: str = "sweep spec") -> None:
    """A key may be swept by one block only (and ``seed`` not beside replicates)."""
    seen: dict[str, str] = {}
    blocks = [("grid", spec.grid)] + [(f"zip[{i}]", z) for i, z in enumerate(spec.zips)]
    blocks.append(("random", (spec.random or {}).get("params", {})))
    blocks.append(("seeds", {"seed": spec.seeds} if spec.seeds else {}))
    for block, keys in blocks:
        for key in keys:
            if key in seen:
                raise SpecError(f"{where}: design: '{key}' is swept by both {seen[key]} and "
                                f"{block}")
            seen[key] = block


# -- expanding a design -------------------------------------------------------------------------


def sample_random(random: dict) -> list[dict[str, Any]]:
    """The ``n`` samples of a random block, drawn with ``numpy.random.default_rng(seed)``, key by
    key in the order given (so the same block always gives the same points)."""
    import numpy as np

    rng = np.random.default_rng(random["seed"])
    n = random["n"]
    columns = {}
    for key, (dist, args) in random["params"].items():
        if dist == "uniform":
            columns[key] = [float(x) for x in rng.uniform(args[0], args[1], n)]
        elif dist == "loguniform":
            draws = rng.uniform(math.log(args[0]), math.log(args[1]), n)
            columns[key] = [float(math.exp(x)) for x in draws]
        elif dist == "int":
            columns[key] = [int(x) for x in rng.integers(int(args[0]), int(args[1]) + 1, n)]
        else:  # choice
            columns[key] = [args[int(i)] for i in rng.integers(0, len(args), n)]
    return [{k: columns[k][i] for k in columns} for i in range(n)]


def design_values(spec: Spec) -> list[dict[str, Any]]:
    """Every point's swept values: grid x zip groups x random samples x seeds."""
    blocks: list[list[dict]] = []
    if spec.grid:
        keys = list(spec.grid)
        blocks.append([dict(zip(keys, vs)) for vs in itertools.product(*spec.grid.values())])
    for group in spec.zips:
        keys = list(group)
        blocks.append([dict(zip(keys, vs)) for vs in zip(*group.values())])
    if spec.random:
        blocks.append(sample_random(spec.random))
    if spec.seeds:
        blocks.append([{"seed": s} for s in spec.seeds])
    return [{k: v for part in combo for k, v in part.items()}
            for combo in itertools.product(*blocks)]


def expand(spec: Spec) -> tuple[list[Point], int]:
    """The spec's points, each resolved and validated (all before anything runs); points whose
    resolved configs are identical are kept once. :return: (points, duplicates dropped).
    Raises :class:`config.ConfigError` naming the point and the key."""
    path = config_mod.scenario_path(spec.scenario)
    config_mod.load(spec.scenario, spec.overrides)  # the base alone: its errors name no point
    raw = yaml.safe_load(path.read_text())
    points: list[Point] = []
    seen: set[str] = set()
    design = design_values(spec)
    for values in design:
        sets = [f"{k}={json.dumps(v)}" for k, v in values.items()]
        try:
            cfg = config_mod.from_dict(raw, list(spec.overrides) + sets)
        except config_mod.ConfigError as exc:
            label = ", ".join(f"{k}={_short(v)}" for k, v in values.items())
            raise config_mod.ConfigError(f"sweep point {len(points) + 1} ({label}): {exc}") \
                from None
        text = config_json(cfg)
        pid = point_id(text)
        if pid in seen:
            continue
        seen.add(pid)
        points.append(Point(len(points), values, text, pid, cfg))
    return points, len(design) - len(points)
