"""Inference requests: from the Azure LLM inference trace 2023 or from a Poisson generator,
mapped onto the UEs that issue them.

Trace window and load scaling: the requests whose trace time (seconds since the trace's first
request) lies in ``[start_s, start_s + duration_s * rate_scale)`` arrive at
``(t - start_s) / rate_scale``: ``rate_scale`` 2 offers twice the trace's rate over the same
simulated ``duration_s``, with the trace's own prompt and output lengths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

TRACE_DIR = Path(__file__).resolve().parent / "azure_trace_2023"
"""The copy of the Azure trace shipped with the package (gzip; CC-BY 4.0, see its README.md)."""
TRACE_FILES = {"conversation": "AzureLLMInferenceTrace_conv.csv.gz",
               "coding": "AzureLLMInferenceTrace_code.csv.gz"}
TRACE_SHA256 = {"conversation": "2f1e5b666d4e3055fdbba98598ce2ec307767b9064e03e2fa46676dbcc7d0bf8",
                "coding": "54e9a6d2a4bd06ba1e060304b900abbc74cbea53de96506e60fe5bb4f2277fb6"}
"""SHA-256 of each decompressed CSV, as published with the upstream blobs."""


@dataclass(frozen=True)
class Request:
    """One inference request.

    :ivar id: request id, 0.. in arrival order
    :ivar ue: the UE that issues it
    :ivar t_arrival_s: simulated arrival at the UE [s]
    :ivar prompt_tokens: prompt (context) tokens [-], >= 1
    :ivar output_tokens: tokens to generate [-], >= 1
    """

    id: int
    ue: str
    t_arrival_s: float
    prompt_tokens: int
    output_tokens: int


def trace_path(name: str) -> Path:
    """The CSV of a trace by name (``conversation``, ``coding``) or a path to such a CSV."""
    if name in TRACE_FILES:
        return TRACE_DIR / TRACE_FILES[name]
    return Path(name)


def read_azure_trace(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read an Azure LLM inference trace: a name of :data:`TRACE_FILES` or a CSV path, columns
    ``TIMESTAMP,ContextTokens,GeneratedTokens``, rows in time order. Returns (seconds since the
    first row [float64], context tokens [int64], generated tokens [int64])."""
    import pandas as pd

    path = trace_path(str(path))
    if not path.is_file():
        raise FileNotFoundError(f"inference.source.trace: no trace file {path}")
    df = pd.read_csv(path)
    missing = {"TIMESTAMP", "ContextTokens", "GeneratedTokens"} - set(df.columns)
    if missing:
        raise ValueError(f"inference.source.trace: {path} lacks columns {sorted(missing)}")
    t = pd.to_datetime(df["TIMESTAMP"], format="%Y-%m-%d %H:%M:%S.%f")
    t_s = (t - t.iloc[0]).dt.total_seconds().to_numpy()
    return t_s, df["ContextTokens"].to_numpy(np.int64), df["GeneratedTokens"].to_numpy(np.int64)


def trace_window(t_s: np.ndarray, start_s: float, duration_s: float, rate_scale: float):
    """Indices of the trace rows in the window, and their simulated arrival times [s]."""
    idx = np.flatnonzero((t_s >= start_s) & (t_s < start_s + duration_s * rate_scale))
    return idx, (t_s[idx] - start_s) / rate_scale


def map_to_ues(n: int, ues: list[str], mapping: str, seed: int) -> list[str]:
    """The UE of each of ``n`` requests: ``round_robin`` or ``random`` (uniform, seeded)."""
    if mapping == "round_robin":
        return [ues[i % len(ues)] for i in range(n)]
    if mapping == "random":
        rng = np.random.default_rng(seed)
        return [ues[i] for i in rng.integers(0, len(ues), n)]
    raise ValueError(f"inference.source.ue_mapping: 'round_robin' or 'random', not {mapping!r}")


def trace_requests(path, start_s: float, duration_s: float, rate_scale: float, ues: list[str],
                   mapping: str = "round_robin", seed: int = 1) -> list[Request]:
    """The requests of a trace window (see the module docstring). Token counts of 0 in the
    trace are served as 1 (a request always has a prompt token and yields a token)."""
    t_s, ctx, gen = read_azure_trace(path)
    idx, arrival = trace_window(t_s, start_s, duration_s, rate_scale)
    owners = map_to_ues(len(idx), ues, mapping, seed)
    return [Request(i, owners[i], float(arrival[i]), max(int(ctx[j]), 1), max(int(gen[j]), 1))
            for i, j in enumerate(idx)]


def poisson_requests(rate_per_s: float, duration_s: float, prompt_tokens: int,
                     output_tokens: int, ues: list[str], mapping: str = "round_robin",
                     seed: int = 1) -> list[Request]:
    """Poisson arrivals of rate ``rate_per_s`` over ``[0, duration_s)``, every request with the
    same prompt and output lengths."""
    rng = np.random.default_rng(seed)
    times, t = [], rng.exponential(1 / rate_per_s)
    while t < duration_s:
        times.append(t)
        t += rng.exponential(1 / rate_per_s)
    owners = map_to_ues(len(times), ues, mapping, seed)
    return [Request(i, owners[i], float(t), prompt_tokens, output_tokens)
            for i, t in enumerate(times)]
