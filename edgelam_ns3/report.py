"""Plots and a Markdown report of a run directory: what ran, its headline figures, a figure for
each kind of data the run has, and the files it left.

Figures (each drawn when the run has its data):

- ``loss.png``: training loss and held-out loss against simulated time (training runs);
- ``rounds.png``: each round's latency breakdown (device compute, uplink, server compute,
  downlink: each the slowest device's time in that phase) as stacked bars, and the round's
  duration;
- ``timeline.png``: a Gantt chart of the compute jobs on each host (top) and of the messages
  on each link, from send to delivery (bottom), over the first rounds;
- ``latency.png``: the latency of every message, per link, against simulated time;
- ``radio_time.png`` and ``radio_cdf.png`` (the 6G radio): each UE's wideband DL SINR, MCS
  and MAC throughput at every link-state tap, and their CDFs;
- ``request_timeline.png`` (inference): one request's service calls on each host, from its
  arrival to its last token: its queue waits and its calls, colored by service (the request of
  median end-to-end latency).

:func:`plot_on_time_vs_load` draws the inference on-time ratio against load, one line per
policy, from a table of runs (a sweep).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

PHASES = (("device_compute_s", "device compute"), ("uplink_s", "uplink"),
          ("server_compute_s", "server compute"), ("downlink_s", "downlink"))
"""Columns of a round's latency breakdown in ``rounds.parquet``, and their labels."""
TIMELINE_ROUNDS = 3
"""Rounds shown in ``timeline.png`` (more would make millisecond jobs invisible)."""
MIN_BAR_PX = 2.0
"""Gantt bars shorter than this many pixels are drawn this wide, so that none vanishes."""
DPI = 120
"""Resolution of the saved figures, pixels per inch."""
GANTT_AXES = (0.12, 0.80)
"""Left and right edges of the timeline's axes, as fractions of the figure's width."""
UNIT_SUFFIXES = (("_bps", "bit/s"), ("_hz", "Hz"), ("_dbm", "dBm"), ("_db", "dB"),
                 ("_bytes", "B"), ("_kmh", "km/h"), ("_m", "m"), ("_s", "s"))
"""Config key suffixes and the unit they mean (for labels)."""


class ReportError(ValueError):
    """A run directory cannot be reported; the message is one line naming the file."""


# -- numbers with units -----------------------------------------------------------------------


def eng(value, unit: str = "", digits: int = 3) -> str:
    """``value`` with an SI prefix: ``eng(2e7, "Hz")`` is ``20 MHz``, ``eng(0.0042, "s")``
    ``4.2 ms``. dB, dBm and values without a unit get no prefix; seconds and metres none above
    1 (3600 s, 1000 km)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        return str(value)
    if unit in ("dB", "dBm", "") or value == 0:
        return f"{_num(value, digits)}{' ' + unit if unit else ''}"
    exp = min(max(int(math.floor(math.log10(abs(value)) / 3)), -3), 4)
    if unit in ("s", "m"):
        exp = min(exp, 0 if unit == "s" else 1)
    prefix = {-3: "n", -2: "µ", -1: "m", 0: "", 1: "k", 2: "M", 3: "G", 4: "T"}[exp]
    return f"{_num(value / 10 ** (3 * exp), digits)} {prefix}{unit}"


def _num(x, digits: int) -> str:
    """``digits`` significant digits, never in exponent notation (1234 stays 1234)."""
    return f"{x:.0f}" if abs(x) >= 10 ** digits else f"{x:.{digits}g}"


def setting(key: str, value) -> str:
    """A config setting for a label: ``radio.bandwidth_hz``, 2e7 -> ``bandwidth 20 MHz``."""
    name = key.split(".")[-1]
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix) and isinstance(value, (int, float)) \
                and not isinstance(value, bool):
            return f"{name[:-len(suffix)]} {eng(value, unit)}"
    return f"{name} {value}"


# -- reading a run ----------------------------------------------------------------------------


def load_summary(run_dir: str | Path) -> dict:
    """The run's ``summary.json``; :class:`ReportError` when missing or not JSON. A run whose
    launcher died (no summary.json) is read from the result its child left."""
    from .runner import RESULT_FILE

    path = Path(run_dir) / "summary.json"
    if not Path(run_dir).is_dir():
        raise ReportError(f"{run_dir}: no such directory")
    if not path.exists() and (Path(run_dir) / RESULT_FILE).exists():
        path = Path(run_dir) / RESULT_FILE
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReportError(f"{run_dir}: not a run directory (no summary.json)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON (line {exc.lineno} column {exc.colno}: "
                          f"{exc.msg})") from None
    if not isinstance(summary, dict):
        raise ReportError(f"{path}: not a JSON object")
    return summary


def read_tables(run_dir: str | Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Every ``traces/*.parquet`` table of a run, and one warning line per unreadable one."""
    tables, warnings = {}, []
    for path in sorted((Path(run_dir) / "traces").glob("*.parquet")):
        try:
            tables[path.stem] = pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            warnings.append(f"traces/{path.name}: unreadable ({why}); left out of the report")
    return tables, warnings


def redraw(run_dir: str | Path) -> tuple[Path, list[str]]:
    """Redraw a run's figures and ``report.md`` from its summary and traces; :return: the
    report's path and warnings (tables left out)."""
    from .runner import RESULT_FILE, json_safe
    from .traces import merge

    run_dir = Path(run_dir)
    summary = load_summary(run_dir)
    if (run_dir / "traces" / ".parts").is_dir():  # left by a run whose launcher died
        merge(run_dir / "traces")
    tables, warnings = read_tables(run_dir)
    summary["plots"] = plots(run_dir, tables)
    summary.pop("plots_skipped", None)
    if not (run_dir / "summary.json").exists():
        summary.setdefault("run_dir", str(run_dir))
        (run_dir / "summary.json").write_text(json.dumps(json_safe(summary), indent=2,
                                                         default=str) + "\n")
        (run_dir / RESULT_FILE).unlink()
        warnings.append("no summary.json (the launcher died): written from the child's result")
    return write_report(run_dir, summary), warnings


# -- figures ----------------------------------------------------------------------------------


def plots(run_dir: str | Path, tables: dict[str, pd.DataFrame]) -> list[str]:
    """Draw the figures the run's tables allow (see the module's docstring); :return: their
    file names. Figures of an earlier drawing that no longer apply are removed."""
    run_dir = Path(run_dir)
    drawers = {"loss.png": _plot_loss, "rounds.png": _plot_rounds,
               "timeline.png": _plot_timeline, "latency.png": _plot_latency,
               "radio_time.png": _plot_radio_time, "radio_cdf.png": _plot_radio_cdf,
               "request_timeline.png": _plot_request_timeline}
    made = []
    for name, draw in drawers.items():
        fig = draw(tables)
        if fig is None:
            (run_dir / name).unlink(missing_ok=True)
            continue
        fig.savefig(run_dir / name, dpi=DPI)
        plt.close(fig)
        made.append(name)
    return made


def _color(i: int, n: int):
    """Distinct colors: tab10 up to 10 series, tab20 beyond."""
    return plt.cm.tab10(i % 10) if n <= 10 else plt.cm.tab20(i % 20)


def _nonempty(tables: dict, name: str, *cols: str) -> pd.DataFrame | None:
    df = tables.get(name)
    if df is None or not len(df) or not set(cols) <= set(df.columns):
        return None
    return df


def _plot_loss(tables):
    m = _nonempty(tables, "metrics", "t_s", "loss")
    if m is None:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(m["t_s"], m["loss"], marker=".", label="training loss (mean over the round's batches)")
    if "eval_loss" in m and m["eval_loss"].notna().any():
        ax.plot(m["t_s"], m["eval_loss"], marker=".", label="held-out loss (after the round)")
    ax.set_xlabel("simulated time [s]")
    ax.set_ylabel("loss [nat/token]")
    ax.set_title("Loss against simulated time (one point per round)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _plot_rounds(tables):
    r = _nonempty(tables, "rounds", "round", "latency_s", *(c for c, _ in PHASES))
    if r is None:
        return None
    fig, ax = plt.subplots(figsize=(max(8.0, min(16.0, 0.25 * len(r) + 6)), 4))
    x = r["round"].to_numpy() + 1
    bottom = np.zeros(len(r))
    for col, label in PHASES:
        v = r[col].to_numpy() * 1e3
        ax.bar(x, v, bottom=bottom, label=label, width=0.8)
        bottom += v
    ax.plot(x, r["latency_s"] * 1e3, "k_", ms=14, mew=2, label="round duration")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("round")
    ax.set_ylabel("time [ms]")
    ax.set_title("Latency breakdown per round (each phase: its slowest device)", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    handles, labels = ax.get_legend_handles_labels()  # the stack's order, top first
    ax.legend(handles[::-1], labels[::-1], fontsize=8, loc="center left",
              bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def _window(tables) -> tuple[float, float, str]:
    """The span of the timeline: the first TIMELINE_ROUNDS rounds, or the whole run."""
    r = _nonempty(tables, "rounds", "t_start_s", "t_end_s")
    if r is not None and len(r) > TIMELINE_ROUNDS:
        return (float(r["t_start_s"].iloc[0]), float(r["t_end_s"].iloc[TIMELINE_ROUNDS - 1]),
                f"first {TIMELINE_ROUNDS} of {len(r)} rounds")
    c, m = tables["compute"], tables.get("messages")
    t1 = max([float(c["t_end_s"].max())] +
             ([float(m["t_delivered_s"].max())] if m is not None and len(m) else []))
    return 0.0, t1, "whole run"


def _gantt(ax, rows: dict[str, pd.DataFrame], start: str, end: str, color_by: str,
           min_w: float) -> None:
    """Bars from ``start`` to ``end`` on one row per key of ``rows``, colored by ``color_by``."""
    kinds = sorted({k for df in rows.values() for k in df[color_by]})
    colors = {k: _color(i, len(kinds)) for i, k in enumerate(kinds)}
    for i, (_, df) in enumerate(rows.items()):
        for kind, part in df.groupby(color_by):
            w = np.maximum((part[end] - part[start]).to_numpy(), min_w)
            ax.broken_barh(list(zip(part[start], w)), (i - 0.35, 0.7), color=colors[kind])
    ax.set_yticks(range(len(rows)), list(rows))
    ax.set_ylim(len(rows) - 0.5, -0.5)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[k]) for k in kinds]
    ax.legend(handles, kinds, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(alpha=0.3, axis="x")


def _plot_timeline(tables):
    c = _nonempty(tables, "compute", "device", "job", "t_start_s", "t_end_s")
    if c is None:
        return None
    t0, t1, what = _window(tables)
    m = _nonempty(tables, "messages", "src", "dst", "tag", "t_send_s", "t_delivered_s")
    panels = 2 if m is not None else 1
    fig, axes = plt.subplots(panels, 1, sharex=True, squeeze=False,
                             figsize=(10, 1.5 + 0.35 * (c["device"].nunique() +
                                                        (0 if m is None else 8))))
    axes = axes[:, 0]
    left, right = GANTT_AXES
    fig.subplots_adjust(left=left, right=right, top=0.93, bottom=0.1, hspace=0.3)
    min_w = (t1 - t0) / (fig.get_figwidth() * DPI * (right - left)) * MIN_BAR_PX
    c = c[(c["t_end_s"] > t0) & (c["t_start_s"] < t1)]
    _gantt(axes[0], {h: df for h, df in c.groupby("device")}, "t_start_s", "t_end_s", "job",
           min_w)
    axes[0].set_title(f"Compute jobs per host ({what}; bars under {MIN_BAR_PX:g} px drawn "
                      f"{MIN_BAR_PX:g} px wide)", fontsize=9)
    if m is not None:
        m = m[(m["t_delivered_s"] > t0) & (m["t_send_s"] < t1)]
        links = {f"{s}→{d}": df for (s, d), df in m.groupby(["src", "dst"])}
        _gantt(axes[1], links, "t_send_s", "t_delivered_s", "tag", min_w)
        axes[1].set_title("Messages per link, from send to delivery (bar length = latency)",
                          fontsize=9)
    axes[-1].set_xlim(t0, t1)
    axes[-1].set_xlabel("simulated time [s]")
    return fig


def _plot_latency(tables):
    m = _nonempty(tables, "messages", "src", "dst", "t_send_s", "t_delivered_s")
    if m is None:
        return None
    fig, ax = plt.subplots(figsize=(9, 4.5))
    groups = list(m.groupby(["src", "dst"]))
    for i, ((s, d), df) in enumerate(groups):
        ax.plot(df["t_delivered_s"], (df["t_delivered_s"] - df["t_send_s"]) * 1e3, "o",
                ms=3.5, color=_color(i, len(groups)), label=f"{s}→{d}")
    ax.set_xlabel("simulated time of delivery [s]")
    ax.set_ylabel("message latency, send to last byte [ms]")
    ax.set_title("Message latency per link")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=max(1, len(groups) // 12), loc="center left",
              bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


RADIO_PANELS = (("sinr_db", None, "DL wideband SINR [dB]"),
                ("mcs_dl", "mcs_ul", "MCS index (DL solid, UL dashed)"),
                ("dl_throughput_bps", "ul_throughput_bps",
                 "MAC throughput [Mbit/s] (DL solid, UL dashed)"))
"""The radio figures' panels: DL column, UL column (or None), axis label."""


def median_request(tables) -> int | None:
    """Id of the completed request of median end-to-end latency (None: no request)."""
    r = _nonempty(tables, "requests", "id", "e2e_s")
    if r is None or not r["e2e_s"].notna().any():
        return None
    r = r[r["e2e_s"].notna()].sort_values(["e2e_s", "id"])
    return int(r["id"].iloc[(len(r) - 1) // 2])


def _plot_request_timeline(tables):
    c = _nonempty(tables, "services", "req", "service", "host", "t_queued_s", "t_start_s",
                  "t_end_s")
    req = median_request(tables)
    if c is None or req is None:
        return None
    c = c[c["req"] == req]
    r = tables["requests"].set_index("id").loc[req]
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.5 * c["host"].nunique()))
    hosts = {h: c[c["host"] == h] for h in sorted(c["host"].unique())}
    span = max(r["t_last_token_s"] - r["t_arrival_s"], 1e-9)
    min_w = span / (fig.get_figwidth() * DPI * 0.7) * MIN_BAR_PX
    for i, df in enumerate(hosts.values()):
        w = (df["t_start_s"] - df["t_queued_s"]).to_numpy()
        ax.broken_barh(list(zip(df["t_queued_s"], w)), (i - 0.35, 0.7), color="0.85",
                       hatch="///", edgecolor="0.6", lw=0)
    _gantt(ax, hosts, "t_start_s", "t_end_s", "service", min_w)
    for t, style in ((r["t_arrival_s"], ":"), (r["t_first_token_s"], "--"),
                     (r["t_last_token_s"], "-")):
        ax.axvline(t, color="k", ls=style, lw=1)
    ax.set_xlabel("simulated time [s]")
    ax.set_title(f"request {req} ({int(r['prompt_tokens'])} prompt, {int(r['output_tokens'])} "
                 f"output tokens, from {r['ue']}): calls per host, queue waits hatched; lines: "
                 f"arrival (dotted), first (dashed) and last token (solid) at the UE; TTFT "
                 f"{eng(r['ttft_s'], 's')}, end to end {eng(r['e2e_s'], 's')}", fontsize=8)
    fig.tight_layout()
    return fig


def plot_on_time_vs_load(runs: pd.DataFrame, path: str | Path, load: str = "load") -> Path:
    """On-time ratio (and p95 TTFT) against ``load``, one line per ``policy``, from a table of
    runs with columns ``policy``, ``load`` and ``on_time_ratio`` (optionally ``ttft_p95_s``)."""
    panels = 2 if "ttft_p95_s" in runs else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 3.6), squeeze=False)
    policies = sorted(runs["policy"].unique())
    for i, pol in enumerate(policies):
        df = runs[runs["policy"] == pol].sort_values(load)
        axes[0, 0].plot(df[load], df["on_time_ratio"], "o-", color=_color(i, len(policies)),
                        label=pol)
        if panels == 2:
            axes[0, 1].plot(df[load], df["ttft_p95_s"], "o-", color=_color(i, len(policies)))
    axes[0, 0].set_ylabel("on-time ratio (TTFT and TPOT within SLO)")
    axes[0, 0].set_ylim(-0.02, 1.02)
    axes[0, 0].legend(title="placement")
    if panels == 2:
        axes[0, 1].set_ylabel("p95 TTFT [s]")
        axes[0, 1].set_yscale("log")
    for ax in axes[0]:
        ax.set_xlabel(f"{load} (x the trace's rate)" if load == "load" else load)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return Path(path)


def _ue_states(tables) -> pd.DataFrame | None:
    ls = _nonempty(tables, "link_states", "kind", "t_s", "dst",
                   *(c for dl, ul, _ in RADIO_PANELS for c in (dl, ul) if c))
    if ls is None:
        return None
    ue = ls[ls["kind"] == "ue"].copy()
    if not len(ue):
        return None
    for col in ("mcs_dl", "mcs_ul"):  # -1: nothing sent in the tap's period
        ue.loc[ue[col] < 0, col] = np.nan
    for col in ("dl_throughput_bps", "ul_throughput_bps"):
        ue[col] = ue[col] / 1e6
    return ue


def _radio_columns(ue: pd.DataFrame):
    """(panel, DL column, UL column or None if the UL carried nothing, label) per panel."""
    for i, (dl, ul, label) in enumerate(RADIO_PANELS):
        has_ul = ul is not None and ue[ul].fillna(0).abs().sum() > 0
        yield i, dl, (ul if has_ul else None), label if has_ul or ul is None \
            else label.replace("(DL solid, UL dashed)", "(DL)")


def _plot_radio_time(tables):
    ue = _ue_states(tables)
    if ue is None:
        return None
    names = sorted(ue["dst"].unique(), key=lambda n: int(n[2:]) if n[2:].isdigit() else n)
    fig, axes = plt.subplots(3, 1, sharex=True, figsize=(9, 8))
    for i, dl, ul, label in _radio_columns(ue):
        for k, name in enumerate(names):
            df = ue[ue["dst"] == name]
            color = _color(k, len(names))
            axes[i].plot(df["t_s"], df[dl], color=color, lw=1,
                         label=name if i == 0 else None)
            if ul:
                axes[i].plot(df["t_s"], df[ul], color=color, lw=1, ls="--")
        axes[i].set_ylabel(label, fontsize=8)
        axes[i].grid(alpha=0.3)
    axes[0].set_title("Radio link state per UE at each link-state tap")
    axes[0].legend(fontsize=7, ncol=max(1, len(names) // 12), loc="center left",
                   bbox_to_anchor=(1.01, 0.5))
    axes[-1].set_xlabel("simulated time [s]")
    fig.tight_layout()
    return fig


def _cdf(ax, values, **kw) -> None:
    v = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])
    if len(v):
        ax.step(v, np.arange(1, len(v) + 1) / len(v), where="post", **kw)


def _plot_radio_cdf(tables):
    ue = _ue_states(tables)
    if ue is None:
        return None
    names = sorted(ue["dst"].unique(), key=lambda n: int(n[2:]) if n[2:].isdigit() else n)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    any_ul = False
    for i, dl, ul, label in _radio_columns(ue):
        any_ul = any_ul or ul is not None
        ax = axes[i]
        if len(names) <= 20:
            for k, name in enumerate(names):
                _cdf(ax, ue.loc[ue["dst"] == name, dl], color=_color(k, len(names)), lw=0.8,
                     label=name if i == 0 else None)
        _cdf(ax, ue[dl], color="k", lw=2, label="all UEs (DL)" if i == 0 else None)
        if ul:
            _cdf(ax, ue[ul], color="k", lw=2, ls="--", label="all UEs (UL)" if i == 1 else None)
        ax.set_xlabel(label, fontsize=8)
        ax.set_ylabel("CDF")
        ax.grid(alpha=0.3)
    fig.suptitle("CDFs of the radio link state over the link-state taps (thin: each UE; bold: "
                 f"all UEs{'; dashed: UL' if any_ul else ''})")
    fig.legend(fontsize=7, loc="center right")
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    return fig


# -- the report -------------------------------------------------------------------------------


def write_report(run_dir: str | Path, summary: dict) -> Path:
    """``report.md``: what ran, its headline figures, its figures, the files there are."""
    run_dir = Path(run_dir)
    lines = [f"# Run report: {summary.get('scenario', run_dir.name)}", ""]
    lines += _overview(summary)
    lines += _training(summary)
    lines += _inference(summary)
    lines += _radio(summary)
    lines += _messages(summary)
    if summary.get("plots"):
        lines += ["## Figures", ""] + [f"![{p}]({p})" for p in summary["plots"]] + [""]
    elif summary.get("plots_skipped"):
        lines += ["## Figures", "", f"Figures {summary['plots_skipped']}.", ""]
    lines.append(_files_line(run_dir))
    path = run_dir / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def _overview(s: dict) -> list[str]:
    lines = [f"- status: **{s.get('status')}**"]
    if s.get("error"):
        lines.append(f"- reason: `{s['error']}`")
    what = s.get("framework")
    if what and what != "none":
        what += f" (policy {s['policy']})" if s.get("policy") else ""
        lines.append(f"- framework: {what}")
    elif what == "none":
        lines.append("- framework: none (traffic only)")
    if s.get("radio"):
        lines.append(f"- radio: {s['radio']}")
    if s.get("execution"):
        lines.append(f"- execution: {s['execution']}")
    prov = s.get("provenance") or {}
    if prov:
        lines.append(f"- seed {prov.get('seed')}, run {prov.get('run')}; ns-3 {prov.get('ns3')}, "
                     f"torch {prov.get('torch')}, edgelam_ns3 {prov.get('edgelam_ns3')}")
    for key, label, unit in (("sim_time_s", "simulated time", "s"),
                             ("wall_time_s", "wall time of the simulation", "s"),
                             ("slots_simulated", "radio slots simulated", "")):
        if s.get(key) is not None:
            lines.append(f"- {label}: {eng(s[key], unit, 4)}")
    return lines + [""]


def _training(s: dict) -> list[str]:
    if not s.get("framework") or s.get("framework") == "none" or "inference" in s:
        return []
    lines = ["## Training", "", f"- rounds done: {s.get('steps')}"]
    for key, label in (("loss_first", "training loss, first round"),
                       ("loss_last", "training loss, last round"),
                       ("eval_loss_first", "held-out loss, first round"),
                       ("eval_loss_last", "held-out loss, last round")):
        if s.get(key) is not None:
            lines.append(f"- {label}: {s[key]:.4f} nat/token")
    if s.get("target_loss") is not None:
        t = s.get("time_to_target_s")
        lines.append(f"- held-out loss {s['target_loss']:g} reached at: "
                     f"{'not reached' if t is None else eng(t, 's', 4)}")
    if s.get("mean_round_s") is not None:
        lines.append(f"- mean round: {eng(s['mean_round_s'], 's')}")
    mean = s.get("round_breakdown_mean_s") or {}
    if mean:
        lines += ["", "| mean per round | " + " | ".join(label for _, label in PHASES) + " |",
                  "|---" * (len(PHASES) + 1) + "|",
                  f"| {eng(mean.get('latency_s'), 's')} | " +
                  " | ".join(eng(mean.get(c), "s") for c, _ in PHASES) + " |"]
    return lines + [""]


def _inference(s: dict) -> list[str]:
    inf = s.get("inference")
    if not inf:
        return []
    slo = inf.get("slo") or {}
    lines = ["## Inference", "",
             f"- placement {inf.get('policy')}: " + ", ".join(
                 f"{k} on {v}" for k, v in (inf.get("placement") or {}).items()),
             f"- requests {inf.get('requests')}: completed {inf.get('completed')}, rejected "
             f"{inf.get('rejected')}; on time {inf.get('on_time_ratio', 0):.3f} (TTFT <= "
             f"{eng(slo.get('ttft_s'), 's')}, TPOT <= {eng(slo.get('tpot_s'), 's')}), goodput "
             f"{inf.get('goodput_rps', 0):.3g} requests/s", "",
             "| latency | p50 | p95 | p99 | mean |", "|---|---|---|---|---|"]
    for key, label in (("ttft_s", "TTFT"), ("tpot_s", "TPOT"), ("e2e_s", "end to end")):
        q = inf.get(key) or {}
        lines.append(f"| {label} | " + " | ".join(eng(q.get(k), "s")
                                                 for k in ("p50", "p95", "p99", "mean")) + " |")
    util = inf.get("host_utilisation") or {}
    if util:
        lines += ["", "Host utilisation: " + ", ".join(f"{h} {u:.1%}" for h, u in util.items())]
    return lines + [""]


def _radio(s: dict) -> list[str]:
    ues = s.get("ues") or {}
    if not ues:
        return []
    cols = [("serving_cell", "cell", None), ("dl_mean_sinr_db", "DL SINR", "dB"),
            ("dl_mean_mcs", "DL MCS", ""), ("dl_bler", "DL BLER", ""),
            ("dl_mac_bps", "DL MAC", "bit/s"), ("dl_goodput_bps", "DL goodput", "bit/s"),
            ("ul_mean_sinr_db", "UL SINR", "dB"), ("ul_mean_mcs", "UL MCS", ""),
            ("ul_bler", "UL BLER", ""), ("ul_mac_bps", "UL MAC", "bit/s"),
            ("ul_goodput_bps", "UL goodput", "bit/s")]
    cols = [c for c in cols if any(u.get(c[0]) is not None for u in ues.values())]
    lines = ["## Radio", "", "Per UE (SINR and MCS: means over first transmissions; BLER: "
             "their block error rate; MAC throughput: averaged over the simulated time; "
             "goodput: over the time since the traffic started):", "",
             "| UE | " + " | ".join(label for _, label, _ in cols) + " |",
             "|---" * (len(cols) + 1) + "|"]
    for name, u in ues.items():
        cells = [str(u.get(k)) if unit is None else eng(u.get(k), unit) for k, _, unit in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cell = s.get("cell") or {}
    if cell:
        lines += ["", "Cell (sum over UEs): " + ", ".join(
            f"{k.replace('_bps', '').replace('_', ' ')} {eng(v, 'bit/s')}"
            for k, v in cell.items())]
    return lines + [""]


def _messages(s: dict) -> list[str]:
    tags = s.get("bytes_by_tag") or {}
    if not tags:
        return []
    lines = ["## Messages", "", "| message tag | bytes |", "|---|---|"]
    lines += [f"| {tag} | {eng(b, 'B')} |" for tag, b in tags.items()]
    return lines + [""]


def _files_line(run_dir: Path) -> str:
    """The files the run directory holds, with the rows of each trace table."""
    import pyarrow.parquet as pq

    top = [p for p in ("config.yaml", "summary.json", "stdout.log") if (run_dir / p).exists()]
    traces = []
    for p in sorted((run_dir / "traces").glob("*")):
        if p.suffix == ".parquet":
            try:
                traces.append(f"`traces/{p.name}` ({pq.ParquetFile(p).metadata.num_rows} rows)")
            except Exception:  # noqa: BLE001
                traces.append(f"`traces/{p.name}` (unreadable)")
        elif p.is_file():
            traces.append(f"`traces/{p.name}`")
    pngs = sorted(p.name for p in run_dir.glob("*.png"))
    items = [f"`{p}`" for p in top] + traces + [f"`{p}`" for p in pngs]
    return "Files: " + (", ".join(items) if items else "none") + "."
