"""Where a run's PyTorch tensors live: ``sim.torch_device`` and ``compute.execution``.

- ``sim.torch_device: cpu | cuda | auto``: the torch device of the model shards, their
  optimisers' state and the batches (``auto``: ``cuda`` when torch sees a GPU, else ``cpu``).
  Simulated time is charged from the device profiles (:mod:`edgelam_ns3.compute`), never from
  the wall clock, so the device changes how fast a run goes, not its traces.
- ``compute.execution: cost``: the shards live on torch's ``meta`` device (shapes and dtypes,
  no data), so each job runs only as far as its FLOP and byte counts need: the timing of a run
  without its numbers (losses NaN). See :func:`resolve` and :func:`meta_scalars`.

Torch is imported when a function here is called, not when this module is imported.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any

TORCH_DEVICES = ("cpu", "cuda", "auto")
"""``sim.torch_device`` values."""
EXECUTION_MODES = ("real", "cost")
"""``compute.execution`` values: ``real`` runs every job on real tensors; ``cost`` runs them on
meta tensors (FLOPs and bytes from shapes; no losses)."""


def resolve(name: str, execution: str = "real"):
    """The :class:`torch.device` of a run: ``meta`` under ``compute.execution: cost``, else
    ``sim.torch_device`` (``auto``: ``cuda`` if available, else ``cpu``).

    :raises ValueError: ``cuda`` without a GPU torch can use (one line, naming the key)
    """
    import torch

    if execution == "cost":
        return torch.device("meta")
    if name not in TORCH_DEVICES:
        raise ValueError(f"sim.torch_device: {name!r} is not one of {', '.join(TORCH_DEVICES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        raise ValueError(f"sim.torch_device: cuda, but torch {torch.__version__} ({build}) sees "
                         "no CUDA GPU; use cpu or auto")
    return torch.device(name)


def move_module(module, device):
    """Move ``module``'s parameters and buffers to ``device`` in place, keeping tied parameters
    tied (``Module.to`` makes a new Parameter per owner when the tensor type changes, e.g. to
    ``meta``, which would untie GPT-2's head from its embedding).

    :output module: the same module
    """
    owners: dict[int, list[tuple[Any, str]]] = {}
    for mod in module.modules():
        for name, p in mod._parameters.items():
            if p is not None:
                owners.setdefault(id(p), []).append((mod, name))
    module.to(device)
    for group in owners.values():
        first = getattr(group[0][0], group[0][1])
        for mod, name in group[1:]:
            if getattr(mod, name) is not first:
                setattr(mod, name, first)
    return module


def to_device(tree: Any, device) -> Any:
    """Tensors of a tuple/list/dict tree moved to ``device`` (other leaves as they are), unseen
    by the dispatch modes active (the counters): where torch keeps a batch is not work of the
    simulated device that holds it, so it is not charged."""
    import torch
    from torch.utils._python_dispatch import _disable_current_modes

    with _disable_current_modes():
        return _to_device(tree, device)


def _to_device(tree: Any, device) -> Any:
    import torch

    if isinstance(tree, torch.Tensor):
        return tree.to(device)
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to_device(x, device) for x in tree)
    if isinstance(tree, dict):
        return {k: _to_device(v, device) for k, v in tree.items()}
    return tree


def value(t) -> float:
    """A scalar tensor's value as a float; NaN for a meta tensor (``compute.execution: cost``
    computes no numbers). Inside a job the read is dispatched (and counted) as on a real
    tensor."""
    if not getattr(t, "is_meta", False):
        return float(t)
    from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

    if _META_SCALARS is not None and any(isinstance(m, _META_SCALARS)
                                         for m in _get_current_dispatch_mode_stack()):
        return float(t)  # answered by _KNOWN_READS, below the counters
    with meta_scalars():
        return float(t)


# -- reading values of meta tensors --------------------------------------------------------------

_KNOWN_READS = {
    # transformers checks whether position_ids pack several sequences in a row (a data-dependent
    # branch on every GPT-2 forward). The frameworks never pass position_ids: GPT-2 makes them
    # arange(T) per row, which packs nothing, so the check's answer is known: "not packed".
    ("transformers.masking_utils", "find_packed_sequence_indices"): True,
    # a loss read with value(): no number without data
    (__name__, "value"): float("nan"),
}
"""(module, function) whose read of a meta tensor's value has an answer known without the data,
and that answer."""

_META_SCALARS: type | None = None


def _known_read():
    f = sys._getframe(2)
    while f is not None:
        key = (f.f_globals.get("__name__"), f.f_code.co_name)
        if key in _KNOWN_READS:
            return _KNOWN_READS[key]
        f = f.f_back
    raise RuntimeError("compute.execution: cost: a job reads a tensor's value (data-dependent "
                       "control flow), which meta tensors do not have; run it with "
                       "compute.execution: real")


@contextmanager
def meta_scalars():
    """While inside, a read of a meta tensor's value (``.item()``, ``bool(t)``) returns the
    answer known for the reads in :data:`_KNOWN_READS` and raises RuntimeError for any other.
    Enter it outside the counting modes, so that they count the read as on real tensors."""
    global _META_SCALARS
    if _META_SCALARS is None:
        import torch
        from torch.utils._python_dispatch import TorchDispatchMode

        scalar = torch.ops.aten._local_scalar_dense.default

        class _MetaScalars(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                if func is scalar and args[0].is_meta:
                    return _known_read()
                return func(*args, **(kwargs or {}))

        _META_SCALARS = _MetaScalars
    with _META_SCALARS():
        yield
