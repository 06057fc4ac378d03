"""Compute-time model: how long a real PyTorch job takes on a simulated device.

A job runs for real (PyTorch, on this machine's CPU). Its cost is counted on the tensors it
touches, and its duration on a simulated device follows a roofline model::

    duration = max(FLOPs / (peak_flops * efficiency), bytes_moved / mem_bw_bytes_per_s)

The duration is charged on the simulator's clock; the wall-clock time of the real run is never
used, so the same configuration and seed give the same trace on any machine.

- :class:`DeviceProfile` and :data:`BUILTIN_PROFILES`: the hardware figures;
- :func:`measure`: run a job and count its FLOPs and bytes moved;
- :class:`CostCache` and :func:`cost_key`: counts reused per (job, modules, input shapes,
  dtypes, grad mode), so that a dense model with fixed shapes is counted once, not every round
  (``compute.accounting: cached``; ``exact`` counts every job);
- :func:`shapes_key` and :class:`RecordedCosts`: a recorded run's counts per (job, input
  shapes), charged without running anything (``compute.execution: recorded``, the torch-free
  timing replay of :mod:`edgelam_ns3.replay_timing`);
- :func:`duration_s`: the roofline duration;
- :class:`Device`: a compute host with a FIFO job queue on the simulated clock.

This module is standalone: it depends on torch only, imported when a job is first measured.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

if TYPE_CHECKING:
    import torch

__all__ = [
    "DeviceProfile",
    "BUILTIN_PROFILES",
    "get_profile",
    "JobCost",
    "measure",
    "ACCOUNTING_MODES",
    "CostCache",
    "cost_key",
    "shapes_key",
    "RecordedCosts",
    "MissingCost",
    "duration_s",
    "energy_j",
    "Scheduler",
    "Device",
]


def _check_positive(cls: str, field: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{cls}.{field} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{cls}.{field} must be finite and > 0, got {value!r}")


@dataclass(frozen=True)
class DeviceProfile:
    """Compute capability of one class of device.

    :param name: profile name, non-empty
    :param peak_flops: peak arithmetic throughput [FLOP/s] at the precision the jobs run in
        (FP32 for the built-ins, since the models run in float32)
    :param efficiency: sustained fraction of ``peak_flops`` [-], in (0, 1]
    :param mem_bw_bytes_per_s: peak memory bandwidth [bytes/s]
    :param power_w: average power drawn while busy [W], or `None` if unknown
    :param concurrency: number of jobs the device runs at the same time [-], >= 1; each runs at
        the full profile speed (e.g. independent accelerators, or a server's GPU count)
    :param memory_bytes: memory for weights and KV caches [bytes], or `None` if unknown (the
        inference framework needs it on the hosts it serves from)
    """

    name: str
    peak_flops: float
    efficiency: float
    mem_bw_bytes_per_s: float
    power_w: float | None = None
    concurrency: int = 1
    memory_bytes: float | None = None

    def __post_init__(self) -> None:
        cls = type(self).__name__
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"{cls}.name must be a non-empty string, got {self.name!r}")
        _check_positive(cls, "peak_flops", self.peak_flops)
        _check_positive(cls, "efficiency", self.efficiency)
        if self.efficiency > 1:
            raise ValueError(f"{cls}.efficiency is a fraction of peak and must be in (0, 1], got {self.efficiency!r}")
        _check_positive(cls, "mem_bw_bytes_per_s", self.mem_bw_bytes_per_s)
        if self.power_w is not None:
            _check_positive(cls, "power_w", self.power_w)
        if self.memory_bytes is not None:
            _check_positive(cls, "memory_bytes", self.memory_bytes)
        if isinstance(self.concurrency, bool) or not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ValueError(f"{cls}.concurrency must be an integer >= 1, got {self.concurrency!r}")

    @property
    def sustained_flops(self) -> float:
        """``peak_flops * efficiency`` [FLOP/s]."""
        return self.peak_flops * self.efficiency


# FP32 figures, since the simulated shards run in float32. Sustained efficiencies are
# assumptions: small-batch transformer training in eager mode reaches roughly 30-50 % of FP32
# peak on GPUs; mobile GPUs, with less mature kernels and thermal throttling, sit at the low end.
BUILTIN_PROFILES: dict[str, DeviceProfile] = {
    # Flagship smartphone SoC (Qualcomm Snapdragon 8 Gen 2, Adreno 740 GPU). Qualcomm does not
    # publish FP32 throughput; about 2 TFLOP/s FP32 is the commonly reported figure for the
    # Adreno 740. Memory: LPDDR5X at 8400 MT/s on a 64-bit bus = 8400e6 * 8 B = 67.2 GB/s
    # (Qualcomm Snapdragon 8 Gen 2 product brief). Power: about 5 W, a typical sustained
    # phone SoC budget before throttling (assumption). Memory: 12 GB, a common flagship
    # configuration of that SoC (assumption: shared with the OS and apps).
    "smartphone_soc": DeviceProfile(
        name="smartphone_soc",
        peak_flops=2.0e12,
        efficiency=0.3,
        mem_bw_bytes_per_s=67.2e9,
        power_w=5.0,
        memory_bytes=12e9,
    ),
    # NVIDIA Jetson AGX Orin 64GB: Ampere GPU, 5.3 TFLOP/s FP32 (CUDA cores); 256-bit LPDDR5,
    # 204.8 GB/s; module power 15-60 W, 60 W at MAXN (NVIDIA Jetson AGX Orin Series
    # Technical Brief and data sheet).
    "jetson_orin": DeviceProfile(
        name="jetson_orin",
        peak_flops=5.3e12,
        efficiency=0.4,
        mem_bw_bytes_per_s=204.8e9,
        power_w=60.0,
        memory_bytes=64e9,  # 64 GB LPDDR5, shared by CPU and GPU
    ),
    # Edge GPU server with one NVIDIA L4 (Ada): 30.3 TFLOP/s FP32, 24 GB GDDR6 at 300 GB/s,
    # 72 W max power (NVIDIA L4 Tensor Core GPU data sheet).
    "edge_gpu_server": DeviceProfile(
        name="edge_gpu_server",
        peak_flops=30.3e12,
        efficiency=0.45,
        mem_bw_bytes_per_s=300e9,
        power_w=72.0,
        memory_bytes=24e9,  # 24 GB GDDR6
    ),
    # Cloud GPU: NVIDIA H100 SXM5: 67 TFLOP/s FP32, 80 GB HBM3 at 3.35 TB/s, up to 700 W
    # (NVIDIA H100 Tensor Core GPU data sheet).
    "cloud_gpu": DeviceProfile(
        name="cloud_gpu",
        peak_flops=67e12,
        efficiency=0.5,
        mem_bw_bytes_per_s=3.35e12,
        power_w=700.0,
        memory_bytes=80e9,  # 80 GB HBM3
    ),
}
"""Built-in profiles by name: ``smartphone_soc``, ``jetson_orin``, ``edge_gpu_server``,
``cloud_gpu``. Users define their own with :class:`DeviceProfile`."""


def get_profile(name: str) -> DeviceProfile:
    """Look up a built-in profile by name.

    :raises ValueError: if ``name`` is not a built-in profile (the message lists them)
    """
    try:
        return BUILTIN_PROFILES[name]
    except KeyError:
        raise ValueError(
            f"unknown device profile {name!r}; built-in profiles are {sorted(BUILTIN_PROFILES)}"
        ) from None


# -- measuring a job -------------------------------------------------------------------------


@dataclass(frozen=True)
class JobCost:
    """A job's result and its counted cost.

    :ivar result: what the job's function returned
    :ivar flops: floating-point operations [FLOP], forward and (if the job calls it) backward
    :ivar bytes_moved: estimated memory traffic [bytes], see :func:`measure`
    """

    result: Any
    flops: int
    bytes_moved: int


# Operators whose output is uninitialised memory: they allocate but move no data.
_ALLOCATION_ONLY = frozenset(
    {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "empty_permuted"}
)
# Gathers that read only the selected rows of their first argument, not all of it.
_ROW_GATHERS = frozenset({"embedding", "index_select"})


def _footprint_bytes(t: torch.Tensor) -> int:
    """Bytes a kernel reads or writes for ``t``: its elements, counting broadcast
    (stride-0) dimensions once."""
    n = 1
    for size, stride in zip(t.shape, t.stride()):
        if stride != 0:
            n *= size
    return n * t.element_size()


def _tensors(tree: Any) -> list[torch.Tensor]:
    leaves, _ = _tree_flatten(tree)
    return [x for x in leaves if isinstance(x, _Tensor)]


_BYTE_COUNTER: type | None = None
_Tensor: type | None = None  # torch.Tensor and torch's tree_flatten, once torch is imported
_tree_flatten: Callable | None = None


def _byte_counter():
    """A new byte-counting dispatch mode (the class is built on first use: torch is imported
    only when a job is measured)."""
    global _BYTE_COUNTER, _Tensor, _tree_flatten
    if _BYTE_COUNTER is None:
        import torch
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils._pytree import tree_flatten

        _Tensor, _tree_flatten = torch.Tensor, tree_flatten

        class _ByteCounter(TorchDispatchMode):
            """Sums, over the ATen operators a job dispatches, the bytes each reads and
            writes."""

            def __init__(self) -> None:
                super().__init__()
                self.bytes_moved = 0

            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                name = func.overloadpacket.__name__
                if func.is_view or name in _ALLOCATION_ONLY:
                    return out  # aliases or fresh allocations: no data moved
                out_bytes = sum(_footprint_bytes(t) for t in _tensors(out))
                if name in _ROW_GATHERS:
                    # Reads the gathered rows (as many bytes as it writes) and the indices.
                    in_bytes = out_bytes + sum(_footprint_bytes(t)
                                               for t in _tensors((args[1:], kwargs)))
                else:
                    in_bytes = sum(_footprint_bytes(t) for t in _tensors((args, kwargs)))
                self.bytes_moved += in_bytes + out_bytes
                return out

        _BYTE_COUNTER = _ByteCounter
    return _BYTE_COUNTER()


def measure(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> JobCost:
    """Run ``fn(*args, **kwargs)`` for real and count its FLOPs and bytes moved.

    FLOPs: counted by :class:`torch.utils.flop_counter.FlopCounterMode` on the real tensors.
    It counts matrix-multiply-class operators (``mm``, ``bmm``, ``addmm``, convolutions,
    scaled-dot-product attention) in forward and backward, e.g. ``2*M*N*K`` for an
    ``[M, K] @ [K, N]`` product; element-wise operators count 0 FLOPs (their cost shows up in
    the memory term). Backward FLOPs are included if ``fn`` calls ``backward()``.

    Bytes moved: an estimate of memory traffic for unfused, eager execution. Every ATen operator
    the job dispatches is taken to read each of its tensor inputs once from memory and write each
    of its outputs once, with

    - views (``view``, ``t``, ``expand``, ``detach``, ...) and allocations (``empty*``) moving
      nothing;
    - broadcast (stride-0) dimensions counted once;
    - ``embedding`` / ``index_select`` reading only the gathered rows, not the whole table;
    - in-place operators counted as a read and a write of the mutated tensor.

    Parameters are counted each time an operator reads them (e.g. once in forward, again in
    backward). Caches, operator fusion and on-chip reuse across operators are ignored, so this
    is an upper bound on the traffic a fused implementation would need; for an isolated
    ``[M, K] @ [K, N]`` product it is exactly ``(M*K + K*N + M*N) * element_size``.

    :param fn: the job; runs once, on this machine
    :output cost: :class:`JobCost` with ``fn``'s result
    """
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as flop_counter, _byte_counter() as byte_counter:
        result = fn(*args, **kwargs)
    return JobCost(
        result=result,
        flops=int(flop_counter.get_total_flops()),
        bytes_moved=int(byte_counter.bytes_moved),
    )


# -- reusing counts ----------------------------------------------------------------------------

ACCOUNTING_MODES = ("cached", "exact")
"""``compute.accounting``: ``cached`` reuses a job's counts per :func:`cost_key`; ``exact``
counts every job with :func:`measure`."""


class _Uncacheable(Exception):
    """A key part opts out of caching (see :func:`cost_key`)."""


def _module_key(m) -> tuple:
    """A module's structure: its class, each submodule's class and training flag and hook
    counts, and each parameter's shape, dtype and ``requires_grad``. Two modules with the same
    structure run the same operators on inputs of the same shapes."""
    subs = []
    for sub in m.modules():
        if getattr(sub, "exact_cost", False):
            raise _Uncacheable(type(sub).__name__)
        subs.append((type(sub).__qualname__, sub.training, len(sub._forward_hooks),
                     len(sub._forward_pre_hooks), len(sub._backward_hooks),
                     len(getattr(sub, "_backward_pre_hooks", ()))))
    params = tuple((tuple(p.shape), str(p.dtype), p.requires_grad) for p in m.parameters())
    return ("module", type(m).__qualname__, tuple(subs), params)


def _key_part(x: Any) -> Any:
    import torch

    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, torch.Tensor):
        return ("tensor", tuple(x.shape), tuple(x.stride()), str(x.dtype), x.device.type,
                x.requires_grad, x.grad_fn is not None)
    if isinstance(x, torch.nn.Module):
        return _module_key(x)
    if isinstance(x, torch.optim.Optimizer):
        # the parameters it steps, and how many have state: the first step creates it
        groups = tuple(tuple((tuple(p.shape), str(p.dtype), p.grad is not None)
                             for p in g["params"]) for g in x.param_groups)
        return ("optimizer", type(x).__qualname__, groups, len(x.state))
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, tuple(_key_part(v) for v in x))
    if isinstance(x, dict):
        return ("dict", tuple((k, _key_part(v)) for k, v in x.items()))
    raise TypeError(f"cost_key: cannot key a {type(x).__name__}; give tensors, modules, "
                    "optimizers, numbers, strings, or lists/tuples/dicts of them")


def cost_key(*parts: Any) -> tuple | None:
    """The cache key of a job whose cost depends on ``parts``, with the grad mode now; `None`
    (count the job) if a part opts out.

    A job's FLOPs and bytes depend on the operators it runs and their operands' shapes, dtypes
    and strides. The key holds, per part: for a tensor its shape, strides, dtype, device,
    ``requires_grad`` and whether it has a graph; for a module its structure (classes,
    training flags, hook counts, parameter shapes, dtypes and ``requires_grad``: the same key
    for every device's copy of a model); for an optimizer its parameters' shapes, which have a
    gradient and how many have state. Give every tensor the job reads (inputs of variable
    length key by their shape) and everything whose state changes the operators it runs.

    Not safe to cache, so count every time: a job whose operators depend on the data (MoE
    routing, early exit, a ``.item()`` in a branch). A module opts out with a true
    ``exact_cost`` attribute (on the module or any submodule); a caller passes no key.
    """
    import torch

    try:
        return (torch.is_grad_enabled(), tuple(_key_part(p) for p in parts))
    except _Uncacheable:
        return None


class CostCache:
    """A job's counted FLOPs and bytes, reused for later jobs with the same label and
    :func:`cost_key`.

    An entry is used only after two consecutive counts under its key agreed; until then (and
    whenever a count disagrees with the previous one) the job is counted. So a cost that the
    key misses but that settles after a first call (e.g. an optimizer's lazily created state)
    is still charged exactly.

    :ivar counted: jobs counted with :func:`measure`; :ivar reused: jobs charged from the cache
    """

    CONFIRMATIONS = 2

    def __init__(self) -> None:
        self._entries: dict[tuple, tuple[int, int, int]] = {}  # key -> (flops, bytes, agreed)
        self.counted = 0
        self.reused = 0

    def measure(self, job: str, fn: Callable[[], Any], parts: tuple | None) -> JobCost:
        """Run ``fn()`` and return its cost: from the cache when ``(job, cost_key(*parts))``
        has a confirmed entry, else counted (:func:`measure`). ``parts`` None: counted."""
        key = None if parts is None else cost_key(*parts)
        if key is None:
            self.counted += 1
            return measure(fn)
        key = (job, key)
        entry = self._entries.get(key)
        if entry is not None and entry[2] >= self.CONFIRMATIONS:
            self.reused += 1
            return JobCost(result=fn(), flops=entry[0], bytes_moved=entry[1])
        self.counted += 1
        cost = measure(fn)
        same = entry is not None and entry[:2] == (cost.flops, cost.bytes_moved)
        self._entries[key] = (cost.flops, cost.bytes_moved, entry[2] + 1 if same else 1)
        return cost

    def stats(self) -> dict:
        """``{"counted": int, "reused": int, "keys": int}``."""
        return {"counted": self.counted, "reused": self.reused, "keys": len(self._entries)}


def shapes_key(parts: Any) -> str:
    """The shapes of the tensors among a job's key ``parts`` (:func:`cost_key`), in order, as
    text: ``"8x64;8x64x128"`` (a 0-d tensor is ``""``); other parts (modules, optimizers,
    numbers) are left out, since the scenario's config fixes them. Written to each job's row of
    ``compute.parquet`` (column ``shapes``) so that a replay can charge it
    (:class:`RecordedCosts`). Tensors are recognised by their ``shape`` attribute, so the torch-free
    replay keys its jobs with the same function on stand-ins."""
    out: list[str] = []

    def walk(x: Any) -> None:
        if isinstance(x, (list, tuple)):
            for v in x:
                walk(v)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif hasattr(x, "shape") and hasattr(x, "dtype") and not hasattr(x, "parameters"):
            out.append("x".join(str(int(d)) for d in x.shape))

    walk(parts)
    return ";".join(out)


class MissingCost(LookupError):
    """A job the record has no counts for; the message is one line naming the key."""


class RecordedCosts:
    """A recorded run's counted FLOPs and bytes per (job, :func:`shapes_key`), charged to the
    jobs of a replay in place of running them (``compute.execution: recorded``).

    A job is charged its key's repeated count (the last one the record holds for that job and
    shapes), plus, at a host's first job of that label, the record's first-call excess: what
    the record's first job of that label on that host (or, if it never ran it, on the first host
    that did) cost beyond its own key's repeated count. That is an optimizer creating its state
    in its first step, or anything else a job does once; a device's copy of a model costs the
    same on every device. A replay that runs the record's jobs in the record's order is
    charged exactly the record's counts.

    A job over n batches at once (shapes: n times one shape, e.g. split_fed_lora's server
    jobs over the scheduled devices' activations) that the record holds for other counts m:
    its FLOPs and bytes are affine in n (each operator's work grows with the batch, the
    weights are read once), so with two or more recorded m whose repeated counts lie exactly on
    one line, n is charged that line's value (reported once per key through ``log``).

    :param rows: the record's job rows (dicts with ``device``, ``job``, ``shapes``,
        ``flops``, ``bytes_moved``), in the order the jobs ran
    :param source: where the rows come from, for error messages
    :param log: called with a one-line note for each key charged by that affine rule
    :raises MissingCost: from :meth:`charge`, for a key the record does not hold nor give
        by the affine rule (e.g. a replay with another ``train.batch_size``); its message names
        the key
    """

    def __init__(self, rows, source: str = "the record", log: Callable[[str], Any] = print) \
            -> None:
        self.source, self._log = source, log
        self.derived: list[tuple[str, str]] = []
        self._last: dict[tuple[str, str], tuple[int, int]] = {}  # (job, shapes) -> repeated
        first: dict[tuple[str, str], tuple[str, tuple[int, int]]] = {}  # (job, host) -> 1st
        for r in rows:
            cost = (int(r["flops"]), int(r["bytes_moved"]))
            self._last[(r["job"], r["shapes"])] = cost
            first.setdefault((r["job"], r["device"]), (r["shapes"], cost))
        self._excess = {k: tuple(a - b for a, b in zip(c, self._last[(k[0], s)]))
                        for k, (s, c) in first.items()}
        self._started: set[tuple[str, str]] = set()  # (job, host) charged once already
        self.charged = 0

    def keys(self) -> list[tuple[str, str]]:
        """The (job, shapes) keys the record holds."""
        return sorted(self._last)

    def charge(self, host: str, job: str, shapes: str) -> tuple[int, int]:
        """(flops, bytes_moved) of the next job ``job`` with input ``shapes`` on ``host``."""
        cost = self._last.get((job, shapes)) or self._affine(job, shapes)
        if cost is None:
            have = sorted(s for j, s in self._last if j == job) or ["none"]
            raise MissingCost(f"compute.execution recorded: {self.source} has no job {job!r} "
                              f"with input shapes {shapes!r} (it holds {', '.join(have)}); "
                              "replay with the recorded shapes, or without --timing")
        self.charged += 1
        if (job, host) not in self._started:
            self._started.add((job, host))
            excess = self._excess.get((job, host)) or next(
                (e for (j, _), e in sorted(self._excess.items()) if j == job), (0, 0))
            cost = tuple(a + b for a, b in zip(cost, excess))
        return cost

    def _affine(self, job: str, shapes: str) -> tuple[int, int] | None:
        """The repeated count of ``(job, shapes)`` by the affine rule (see the class), kept as
        a key of its own; None where it does not apply."""
        unit, n = shapes.split(";")[0], shapes.count(";") + 1
        if not unit or shapes != ";".join([unit] * n):
            return None
        points = {s.count(";") + 1: c for (j, s), c in self._last.items()
                  if j == job and s == ";".join([unit] * (s.count(";") + 1))}
        if len(points) < 2:
            return None
        (m0, c0), (m1, c1) = sorted(points.items())[:2]
        slope = [(b - a) // (m1 - m0) for a, b in zip(c0, c1)]
        line = {m: tuple(a + k * (m - m0) for a, k in zip(c0, slope)) for m in [*points, n]}
        if any(line[m] != c for m, c in points.items()) or min(line[n]) < 0:
            return None
        self._last[(job, shapes)] = line[n]
        self.derived.append((job, shapes))
        self._log(f"edgelam: compute.execution recorded: {job} over {n} x {unit} charged "
                  f"{line[n][0]} FLOPs, {line[n][1]} bytes, affine in the batch count through "
                  f"the record's {sorted(points)} (not recorded itself)")
        return line[n]

    def stats(self) -> dict:
        """``{"charged": int, "keys": int, "derived": int}`` (keys: recorded ones; derived: by
        the affine rule)."""
        return {"charged": self.charged, "keys": len(self._last) - len(self.derived),
                "derived": len(self.derived)}


def duration_s(profile: DeviceProfile, flops: float, bytes_moved: float) -> float:
    """Roofline duration of a job on a device [s].

    ``max(flops / (peak_flops * efficiency), bytes_moved / mem_bw_bytes_per_s)``

    :param profile: the device
    :param flops: the job's floating-point operations [FLOP], >= 0
    :param bytes_moved: the job's memory traffic [bytes], >= 0
    """
    if flops < 0:
        raise ValueError(f"flops must be >= 0, got {flops!r}")
    if bytes_moved < 0:
        raise ValueError(f"bytes_moved must be >= 0, got {bytes_moved!r}")
    return max(flops / profile.sustained_flops, bytes_moved / profile.mem_bw_bytes_per_s)


def energy_j(profile: DeviceProfile, busy_s: float) -> float | None:
    """Energy of ``busy_s`` seconds of work [J]: ``power_w * busy_s``; `None` without ``power_w``."""
    return None if profile.power_w is None else profile.power_w * busy_s


# -- a device on the simulated clock ---------------------------------------------------------


class Scheduler(Protocol):
    """What :class:`Device` needs from the simulator."""

    @property
    def now(self) -> float:
        """Current simulated time [s]."""

    def schedule(self, delay_s: float, fn: Callable[[], Any]) -> Any:
        """Call ``fn()`` after ``delay_s`` simulated seconds."""


class Device:
    """One compute host (a phone, an edge server, ...) on the simulated clock.

    Jobs queue first-in first-out and at most ``profile.concurrency`` run at once. When a job
    starts, at simulated time ``t_start``, its function runs for real under :func:`measure`
    (or bare, charged cached counts: ``costs``);
    at ``t_start + duration_s(profile, flops, bytes_moved)`` the device calls ``on_job(record)``
    (if given), then ``on_done(result)``, then starts the next queued job. The wall clock is
    never read.

    :param name: device name, used in trace records
    :param profile: its :class:`DeviceProfile`
    :param sim: the simulator: ``sim.now`` [s] and ``sim.schedule(delay_s, fn)``
    :param on_job: optional trace sink, called once per finished job with a dict
        ``{"device": str, "job": str, "t_start_s": float, "t_end_s": float, "flops": int,
        "bytes_moved": int, "shapes": str}`` (``shapes``: :func:`shapes_key` of the job's key,
        ``""`` without one)
    :param costs: a :class:`CostCache` (shared by a run's devices) that charges a job with a
        key (:meth:`submit`) the counts of an earlier one; `None`: every job is counted. With
        ``execution="recorded"``: a :class:`RecordedCosts`
    :param execution: ``"real"``; ``"cost"`` (``compute.execution``): the jobs run on meta
        tensors, inside :func:`edgelam_ns3.torch_device.meta_scalars` (a read of a meta
        tensor's value is answered where the answer is known without data, else an error);
        ``"recorded"``: no job runs (``fn`` is not called, ``on_done`` gets `None`), each is
        charged from ``costs`` by its label and :func:`shapes_key`
    """

    def __init__(
        self,
        name: str,
        profile: DeviceProfile,
        sim: Scheduler,
        on_job: Callable[[dict[str, Any]], Any] | None = None,
        costs: CostCache | None = None,
        execution: str = "real",
    ) -> None:
        if not isinstance(profile, DeviceProfile):
            raise TypeError(f"profile must be a DeviceProfile, got {type(profile).__name__}")
        self.name = name
        self.profile = profile
        self._sim = sim
        self._on_job = on_job
        self._costs = costs
        self._cost_only = execution == "cost"
        self._recorded = execution == "recorded"
        if self._recorded and not isinstance(costs, RecordedCosts):
            raise TypeError("execution 'recorded' needs costs=RecordedCosts(...)")
        self._queue: deque[tuple[str, Callable[[], Any], Callable[[Any], Any], tuple | None]] \
            = deque()
        self._running = 0
        self._busy_s = 0.0

    @property
    def n_running(self) -> int:
        """Jobs running now."""
        return self._running

    @property
    def n_queued(self) -> int:
        """Jobs waiting for a free slot."""
        return len(self._queue)

    @property
    def busy_s(self) -> float:
        """Total duration of the jobs started so far [s] (summed over concurrent slots)."""
        return self._busy_s

    def submit(self, job: str, fn: Callable[[], Any], on_done: Callable[[Any], Any],
               key: tuple | None = None) -> None:
        """Queue a job; start it now if a slot is free.

        :param job: job label for the trace (e.g. ``"server_forward"``)
        :param fn: the computation, called with no arguments when the job starts
        :param on_done: called with ``fn``'s result when the job ends on the simulated clock
        :param key: what the job's cost depends on (tensors, modules, optimizers, numbers; see
            :func:`cost_key`), keyed when the job starts; with a :class:`CostCache`, a job of
            the same label and key is charged the counts of an earlier one. `None`: counted
        """
        self._queue.append((job, fn, on_done, key))
        self._pump()

    def _pump(self) -> None:
        while self._running < self.profile.concurrency and self._queue:
            self._start(*self._queue.popleft())

    def _start(self, job: str, fn: Callable[[], Any], on_done: Callable[[Any], Any],
               key: tuple | None) -> None:
        t_start = float(self._sim.now)
        self._running += 1  # taken before fn runs, so a re-entrant submit() queues behind it
        shapes = "" if key is None else shapes_key(key)
        try:
            if self._recorded:
                flops, nbytes = self._costs.charge(self.name, job, shapes)
                cost = JobCost(result=None, flops=flops, bytes_moved=nbytes)
            elif self._cost_only:
                from .torch_device import meta_scalars

                with meta_scalars():  # outside the counting modes: they count the reads
                    cost = self._count(job, fn, key)
            else:
                cost = self._count(job, fn, key)
        except BaseException:
            self._running -= 1
            raise
        duration = duration_s(self.profile, cost.flops, cost.bytes_moved)
        self._busy_s += duration
        record = {
            "device": self.name,
            "job": job,
            "t_start_s": t_start,
            "t_end_s": t_start + duration,  # replaced by the clock's own time at the end
            "flops": cost.flops,
            "bytes_moved": cost.bytes_moved,
            "shapes": shapes,
        }

        def finish() -> None:
            # The simulator may round the delay (ns-3 keeps integer nanoseconds): trace the
            # instant the job really ended on its clock.
            record["t_end_s"] = float(self._sim.now)
            try:
                if self._on_job is not None:
                    self._on_job(record)
                on_done(cost.result)
            finally:
                self._running -= 1
            self._pump()

        self._sim.schedule(duration, finish)

    def _count(self, job: str, fn: Callable[[], Any], key: tuple | None) -> JobCost:
        return measure(fn) if self._costs is None else self._costs.measure(job, fn, key)
