"""Per-request rows, the run's inference summary and the latency CDF plot."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def request_row(st, slo, rejected: bool = False) -> dict:
    """One row of ``requests.parquet``: times in simulated seconds; NaN where a rejected
    request (its KV cache fits no host) has none."""
    r, nan = st.r, float("nan")
    d = st.delivered
    t_first, t_last = (d[0], d[-1]) if d and not rejected else (nan, nan)
    ttft = t_first - r.t_arrival_s
    tpot = (t_last - t_first) / (len(d) - 1) if len(d) > 1 else 0.0 if d else nan
    on_time = (not rejected) and ttft <= slo.ttft_s and tpot <= slo.tpot_s
    return {"id": r.id, "ue": r.ue, "t_arrival_s": r.t_arrival_s,
            "prompt_tokens": r.prompt_tokens, "output_tokens": r.output_tokens,
            "embed_host": st.embed_host, "t_admitted_s": st.t_admitted_s,
            "t_first_token_s": t_first, "t_last_token_s": t_last, "ttft_s": ttft,
            "tpot_s": tpot, "e2e_s": t_last - r.t_arrival_s, "rejected": rejected,
            "on_time": bool(on_time)}


def _pct(x: np.ndarray) -> dict:
    x = x[np.isfinite(x)]
    if not len(x):
        return {"p50": None, "p95": None, "p99": None, "mean": None}
    p = np.percentile(x, [50, 95, 99])
    return {"p50": float(p[0]), "p95": float(p[1]), "p99": float(p[2]), "mean": float(x.mean())}


def summarise(fw) -> dict:
    """The inference entries of ``summary.json``: placement, latency percentiles, on-time
    ratio (on-time requests / requests in the window), goodput (on-time requests per second
    of arrivals), host utilisation and KV peak, bytes per directed link; writes
    ``latency_cdf.png`` next to ``traces/``."""
    rows, now = fw.rows, max(fw.sim.now, 1e-12)
    col = lambda k: np.array([r[k] for r in rows], dtype=float)  # noqa: E731
    n_on_time = sum(r["on_time"] for r in rows)
    st = fw.sim.link_states()
    links = {f"{a}->{b}": float(v) for a, b, v in zip(st.src, st.dst, st.delivered_bytes)}
    out = {"inference": {
        "policy": fw.ic.placement.policy, "mode": fw.model.mode,
        "placement": dict(fw.where), "load_cap_relaxed": fw.load_cap_relaxed,
        "requests": len(fw.requests), "completed": len(rows) - sum(r["rejected"] for r in rows),
        "rejected": sum(r["rejected"] for r in rows),
        "ttft_s": _pct(col("ttft_s")), "tpot_s": _pct(col("tpot_s")), "e2e_s": _pct(col("e2e_s")),
        "on_time_ratio": n_on_time / len(fw.requests),
        "goodput_rps": n_on_time / fw.ic.source.duration_s,
        "slo": {"ttft_s": fw.ic.slo.ttft_s, "tpot_s": fw.ic.slo.tpot_s},
        "host_utilisation": {h: s.busy_s / now for h, s in fw.servers.items()},
        "kv_peak_bytes": {h: kv.peak_bytes for h, kv in fw.kv.items()},
        "preemptions": {h: s.preemptions for h, s in fw.servers.items()},
        "bytes_per_link": links,
        "service_calls": len(fw.calls)}}
    if fw.tw is not None and rows:
        out["inference"]["latency_cdf"] = str(plot_cdfs({fw.ic.placement.policy: rows},
                                                        fw.tw.dir.parent / "latency_cdf.png"))
    return out


def plot_cdfs(runs: dict[str, list[dict]], path: Path) -> Path:
    """CDFs of TTFT, TPOT and end-to-end latency, one curve per run (e.g. per policy)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
    for ax, key in zip(axes, ("ttft_s", "tpot_s", "e2e_s")):
        for name, rows in runs.items():
            x = np.sort([r[key] for r in rows if math.isfinite(r[key])])
            if len(x):
                ax.plot(x, np.arange(1, len(x) + 1) / len(x), label=name)
        ax.set_xlabel(key.replace("_s", " [s]"))
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("CDF")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
