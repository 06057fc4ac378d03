"""Plots and a short Markdown report of a run directory."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def plots(run_dir: Path, tables: dict[str, Path], summary: dict | None = None) -> list[str]:
    """Draw the run's figures; returns their file names."""
    run_dir = Path(run_dir)
    made = []
    if "metrics" in tables:
        m = pd.read_parquet(tables["metrics"])
        if len(m):
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.plot(m["t_s"], m["loss"], marker=".")
            ax.set_xlabel("simulated time [s]")
            ax.set_ylabel("training loss [nat/token]")
            ax.set_title("loss against simulated time")
            ax.grid(alpha=0.3)
            fig.tight_layout()
            fig.savefig(run_dir / "loss.png", dpi=120)
            plt.close(fig)
            made.append("loss.png")
    if "compute" in tables and "messages" in tables:
        c = pd.read_parquet(tables["compute"])
        msgs = pd.read_parquet(tables["messages"])
        if len(c):
            fig, ax = plt.subplots(figsize=(8, 4))
            hosts = sorted(set(c["device"]))
            for i, h in enumerate(hosts):
                jobs = c[c["device"] == h]
                ax.broken_barh(list(zip(jobs["t_start_s"], jobs["t_end_s"] - jobs["t_start_s"])),
                               (i - 0.3, 0.6), color="tab:blue")
            ax.set_yticks(range(len(hosts)), hosts)
            if len(msgs):
                ax2 = ax.twinx()
                ax2.plot(msgs["t_delivered_s"], (msgs["t_delivered_s"] - msgs["t_send_s"]) * 1e3,
                         ".", color="tab:orange", ms=3)
                ax2.set_ylabel("message latency [ms]", color="tab:orange")
            ax.set_xlabel("simulated time [s]")
            ax.set_title("compute on each host (bars) and message latency (dots)")
            fig.tight_layout()
            fig.savefig(run_dir / "timeline.png", dpi=120)
            plt.close(fig)
            made.append("timeline.png")
    return made


def write_report(run_dir: Path, summary: dict) -> Path:
    """``report.md``: what ran, the headline numbers, where the data are."""
    run_dir = Path(run_dir)
    lines = [f"# Run report: {summary.get('scenario', run_dir.name)}", ""]
    lines.append(f"- status: **{summary.get('status')}**")
    if summary.get("error"):
        lines.append(f"- error: `{summary['error']}`")
    for key in ("framework", "radio", "steps", "sim_time_s", "wall_time_s", "loss_first",
                "loss_last", "time_to_target_s", "bytes_sent", "mean_round_s"):
        if key in summary:
            v = summary[key]
            lines.append(f"- {key}: {v:.6g}" if isinstance(v, float) else f"- {key}: {v}")
    if summary.get("bytes_by_tag"):
        lines.append("")
        lines.append("| message tag | bytes |")
        lines.append("|---|---|")
        for tag, b in summary["bytes_by_tag"].items():
            lines.append(f"| {tag} | {b} |")
    lines.append("")
    for p in summary.get("plots", []):
        lines.append(f"![{p}]({p})")
    lines += ["", "Files: `config.yaml` (resolved config), `summary.json`, `traces/*.parquet` "
              "(messages, compute, metrics, link_states), `stdout.log`."]
    path = run_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
