"""``edgelam compare RUN_DIR... --out DIR``: runs side by side in one report
(``compare.md``), for runs of the same or of different scenarios (a replay and the NR run it
replays, policies, radios):

- a summary table (scenario, radio, framework, policy, rounds, simulated and wall time, first
  and last loss and held-out loss, mean round latency and its breakdown);
- ``compare_loss.png``: loss (solid) and held-out loss (dashed) against simulated time;
- ``compare_rounds.png``: the mean per-round latency breakdown per run as stacked bars;
- ``compare_throughput_cdf.png``: per-UE throughput CDFs (DL and UL) over the link-state taps:
  the MAC throughput of a radio UE, or the delivered rate of a device's link to the gNB.

Drawing and number formatting are :mod:`edgelam_ns3.report`'s.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .report import DPI, PHASES, _cdf, _color, eng, load_summary, read_tables


class CompareError(ValueError):
    """Runs cannot be compared; the message is one line naming the run."""


def _labels(run_dirs: list[Path]) -> list[str]:
    """Short unique labels: the directory names (with their parents' where these repeat)."""
    names = [d.name for d in run_dirs]
    if len(set(names)) == len(names):
        return names
    return [f"{d.parent.name}/{d.name}" for d in run_dirs]


def ue_throughput(tables: dict) -> pd.DataFrame | None:
    """Per-UE throughput at each link-state tap: columns t_s, ue, dl_bps, ul_bps. A radio UE's
    MAC throughput; without a radio, the delivered rate of the device's link to the gNB over
    the period since the previous tap."""
    ls = tables.get("link_states")
    if ls is None or not len(ls):
        return None
    ue = ls[ls["kind"] == "ue"]
    if len(ue):
        return pd.DataFrame({"t_s": ue["t_s"], "ue": ue["dst"],
                             "dl_bps": ue["dl_throughput_bps"], "ul_bps": ue["ul_throughput_bps"]})
    links = ls[ls["kind"] == "link"]
    frames = []
    for d, (a, b) in (("dl", ("gnb", "ue")), ("ul", ("ue", "gnb"))):
        sel = links[links["src"].str.startswith(a) & links["dst"].str.startswith(b)]
        for (src, dst), df in sel.groupby(["src", "dst"]):
            df = df.sort_values("t_s")
            rate = df["delivered_bytes"].diff() * 8 / df["t_s"].diff()
            frames.append(pd.DataFrame({"t_s": df["t_s"], "ue": dst if d == "dl" else src,
                                        "dir": d, "bps": rate}).dropna())
    if not frames:
        return None
    long = pd.concat(frames)
    wide = long.pivot_table(index=["t_s", "ue"], columns="dir", values="bps").reset_index()
    return wide.rename(columns={"dl": "dl_bps", "ul": "ul_bps"})


def summary_table(labels: list[str], summaries: list[dict]) -> list[str]:
    """The Markdown summary table: one column per run."""
    rows = [("scenario", "scenario", None), ("radio", "radio", None),
            ("framework", "framework", None), ("policy", "policy", None),
            ("status", "status", None), ("rounds", "rounds", None),
            ("simulated time", "sim_time_s", "s"), ("wall time", "wall_time_s", "s"),
            ("loss first -> last", ("loss_first", "loss_last"), ""),
            ("held-out loss first -> last", ("eval_loss_first", "eval_loss_last"), ""),
            ("mean round latency", "mean_round_s", "s")]
    rows += [(f"mean {label}", ("round_breakdown_mean_s", col), "s") for col, label in PHASES]
    out = ["| | " + " | ".join(labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for title, key, unit in rows:
        cells = [_cell(s, key, unit) for s in summaries]
        out.append(f"| {title} | " + " | ".join(cells) + " |")
    return out


def _cell(s: dict, key, unit) -> str:
    if isinstance(key, tuple) and key[0] == "round_breakdown_mean_s":
        return eng((s.get(key[0]) or {}).get(key[1]), unit)
    if isinstance(key, tuple):
        a, b = s.get(key[0]), s.get(key[1])
        return "n/a" if a is None else f"{a:.3f} -> {b:.3f}"
    v = s.get(key)
    return ("n/a" if v is None else str(v)) if unit is None else eng(v, unit)


def _plot_loss(labels, tables):
    fig, ax = plt.subplots(figsize=(8, 4.5))
    drawn = False
    for k, (label, t) in enumerate(zip(labels, tables)):
        m = t.get("metrics")
        if m is None or not len(m):
            continue
        color = _color(k, len(labels))
        ax.plot(m["t_s"], m["loss"], color=color, marker=".", label=f"{label}: training")
        if "eval_loss" in m and m["eval_loss"].notna().any():
            ax.plot(m["t_s"], m["eval_loss"], color=color, ls="--", label=f"{label}: held-out")
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("simulated time [s]")
    ax.set_ylabel("loss [nat/token]")
    ax.set_title("Loss (solid) and held-out loss (dashed) against simulated time")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _plot_rounds(labels, summaries):
    means = [s.get("round_breakdown_mean_s") or {} for s in summaries]
    if not any(means):
        return None
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(labels) + 2), 4.5))
    bottom = np.zeros(len(labels))
    for i, (col, label) in enumerate(PHASES):
        v = np.array([1e3 * float(m.get(col) or 0.0) for m in means])
        ax.bar(labels, v, bottom=bottom, color=_color(i, len(PHASES)), label=label)
        bottom += v
    ax.set_ylabel("mean per-round time [ms]")
    ax.set_title("Per-round latency breakdown (mean over rounds; each phase: slowest device)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right", fontsize=8)
    fig.tight_layout()
    return fig


def _plot_throughput(labels, tables):
    tps = [ue_throughput(t) for t in tables]
    if all(tp is None for tp in tps):
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for k, (label, tp) in enumerate(zip(labels, tps)):
        if tp is None:
            continue
        color = _color(k, len(labels))
        for ax, col in zip(axes, ("dl_bps", "ul_bps")):
            for j, (ue, df) in enumerate(tp.groupby("ue")):
                _cdf(ax, df[col].to_numpy() / 1e6, color=color, lw=0.8, alpha=0.8,
                     label=label if j == 0 else None)
    for ax, d in zip(axes, ("DL", "UL")):
        ax.set_xlabel(f"{d} throughput per UE and link-state tap [Mbit/s]")
        ax.set_ylabel("CDF")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle("Per-UE throughput CDFs (one line per UE, one colour per run)")
    fig.tight_layout()
    return fig


def compare(run_dirs: list[str | Path], out: str | Path) -> Path:
    """Write ``compare.md`` and its figures into ``out``; :return: the report's path. Raises
    :class:`CompareError` (one line) for fewer than two runs or a directory that is not a
    run (:func:`~edgelam_ns3.report.load_summary`)."""
    from .report import ReportError

    dirs = [Path(d) for d in run_dirs]
    if len(dirs) < 2:
        raise CompareError("compare: give at least two run directories")
    try:
        summaries = [load_summary(d) for d in dirs]
    except ReportError as exc:
        raise CompareError(f"compare: {exc}") from None
    tables = [read_tables(d)[0] for d in dirs]
    labels = _labels(dirs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    for name, fig in (("compare_loss.png", _plot_loss(labels, tables)),
                      ("compare_rounds.png", _plot_rounds(labels, summaries)),
                      ("compare_throughput_cdf.png", _plot_throughput(labels, tables))):
        if fig is not None:
            fig.savefig(out / name, dpi=DPI)
            plt.close(fig)
            figures.append(name)
    lines = ["# Runs compared", ""]
    lines += [f"- {label}: `{d}`" for label, d in zip(labels, dirs)] + [""]
    lines += summary_table(labels, summaries) + [""]
    lines += [f"![{f}]({f})" for f in figures]
    path = out / "compare.md"
    path.write_text("\n".join(lines) + "\n")
    return path
