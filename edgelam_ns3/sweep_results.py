"""A sweep directory's results: its plan, the table of points, the aggregate and the figures.

``OUT/plan.json``: the sweep's points (id, index, swept values, run directory) and swept keys.
``OUT/sweep.parquet``: one row per point that ran: ``point_id``, ``index``, the swept values
(list values as JSON text, e.g. ``"[4, 4]"``), ``status``, ``error``, ``run_dir`` and every
number of the point's ``summary.json`` (nested ones as ``cell.dl_goodput_bps``). It is rewritten
whole after every point (a temporary file renamed over it), so a killed sweep leaves every point
that finished. ``OUT/aggregate.parquet`` and ``.csv``: per setting of the swept keys other than
``seed`` and ``run`` (the replicates), for every figure of the points with status ``ok``: n,
mean, standard deviation and the 95 % confidence interval of the mean (Student's t with n - 1
degrees of freedom).

A point is ``done`` (status ok, or incomplete: the framework did not finish in
``sim.max_time_s``, which a rerun would repeat), ``failed`` (failed, timeout) or ``pending``
(not run yet, or interrupted).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

DONE = ("ok", "incomplete")
FAILED = ("failed", "timeout")
REPLICATES = ("seed", "run")
"""Swept keys that make replicates: the aggregate is over them."""
META = ("point_id", "index", "status", "error", "run_dir", *REPLICATES)
"""Columns that are not figures."""
SKIPPED = ("provenance", "plots", "run_dir", "exit_code", "status", "error", "signal")
"""Summary entries that are not figures of the point."""
CONFIDENCE = 0.95


class SweepDirError(ValueError):
    """A sweep directory cannot be read or used; the message is one line naming it."""


def encode(value):
    """A swept value as a table cell: lists and mappings as JSON text."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def state(status: str | None) -> str:
    """``done``, ``failed`` or ``pending`` for a row's status (None: no row)."""
    return "done" if status in DONE else "failed" if status in FAILED else "pending"


# -- plan and table -----------------------------------------------------------------------------


def write_plan(out: Path, scenario: str, keys: list[str], points) -> None:
    plan = {"scenario": scenario, "keys": keys,
            "points": [{"id": p.id, "index": p.index, "values": p.values,
                        "run_dir": str(out / "runs" / p.run_name)} for p in points]}
    _atomic_write(out / "plan.json", lambda tmp: tmp.write_text(json.dumps(plan, indent=1)))


def read_plan(out: str | Path) -> dict:
    path = Path(out) / "plan.json"
    if not Path(out).is_dir():
        raise SweepDirError(f"{out}: no such directory")
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SweepDirError(f"{out}: not a sweep directory (no plan.json)") from None
    except (OSError, ValueError) as exc:
        raise SweepDirError(f"{path}: cannot read ({exc})") from None


def read_rows(out: str | Path) -> dict[str, dict]:
    """The table's rows by point id (empty when no point ran yet)."""
    import pandas as pd

    path = Path(out) / "sweep.parquet"
    if not path.exists():
        return {}
    try:
        records = pd.read_parquet(path).to_dict("records")
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
        raise SweepDirError(f"{path}: cannot read ({exc})") from None
    return {r["point_id"]: {k: _none_for_nan(v) for k, v in r.items()} for r in records}


def _none_for_nan(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def write_rows(out: Path, rows: list[dict]) -> None:
    """``sweep.parquet`` from ``rows`` (sorted by index), atomically."""
    frame = table_frame(rows)
    _atomic_write(out / "sweep.parquet", lambda tmp: frame.to_parquet(tmp, index=False))


def table_frame(rows: list[dict]):
    """The rows as a DataFrame; a column holding values of several types becomes text."""
    import pandas as pd

    frame = pd.DataFrame(sorted(rows, key=lambda r: r["index"]))
    for col in frame.columns:
        kinds = {type(v) for v in frame[col] if v is not None and not _is_nan(v)}
        if frame[col].dtype == object and len(kinds) > 1:
            frame[col] = [None if v is None else str(v) for v in frame[col]]
    return frame


def _is_nan(v) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def row_of(point, summary: dict, run_dir: str) -> dict:
    """A point's table row from its run's summary."""
    row = {"point_id": point.id, "index": point.index}
    row.update({k: encode(v) for k, v in point.values.items()})
    row.update(status=summary.get("status"), error=summary.get("error"), run_dir=run_dir)
    row.update(flatten(summary))
    return row


def flatten(summary: dict, prefix: str = "") -> dict:
    """Every number of a summary (not booleans), nested mappings as ``a.b``."""
    out = {}
    for key, value in summary.items():
        if not prefix and key in SKIPPED:
            continue
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"{prefix}{key}"] = float(value)
    return out


def status_counts(out: str | Path) -> dict:
    """``{"done": [...], "failed": [...], "pending": [...]}``: the plan's points by state, each
    ``(plan point, row or None)``."""
    plan, rows = read_plan(out), read_rows(out)
    states: dict[str, list] = {"done": [], "failed": [], "pending": []}
    for p in plan["points"]:
        row = rows.get(p["id"])
        states[state(row and row["status"])].append((p, row))
    return states


# -- aggregate over replicates ------------------------------------------------------------------


def figures(frame, keys: list[str]) -> list[str]:
    """The table's figure columns: numeric, neither a swept key nor bookkeeping."""
    import pandas as pd

    return [c for c in frame.columns if c not in META and c not in keys
            and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]


def aggregate(frame, keys: list[str], confidence: float = CONFIDENCE):
    """Per setting of ``keys`` other than ``seed`` and ``run``, for each figure, over the points with status
    ``ok``: ``n``, ``mean``, ``std`` (n - 1), ``ci_low``, ``ci_high``: the mean -/+
    t(1 - (1 - confidence) / 2, n - 1) std / sqrt(n) (NaN for n < 2). One row per (setting,
    figure)."""
    import pandas as pd
    # Student's t quantile from scipy.special: scipy.stats' t.ppf is the same function, but
    # importing scipy.stats costs ~2.5 s of CPU per sweep, scipy.special ~0.5 s.
    from scipy.special import stdtrit

    by = [k for k in keys if k not in REPLICATES]
    ok = frame[frame["status"] == "ok"]
    cols = figures(frame, keys)
    groups = ok.groupby(by, dropna=False, sort=False) if by else [((), ok)]
    out = []
    for setting, sub in groups:
        setting = setting if isinstance(setting, tuple) else (setting,)
        for fig in cols:
            x = sub[fig].dropna().astype(float)
            n = len(x)
            mean = float(x.mean()) if n else math.nan
            std = float(x.std(ddof=1)) if n > 1 else math.nan
            half = float(stdtrit(n - 1, 0.5 + confidence / 2) * std / math.sqrt(n)) \
                if n > 1 else math.nan
            out.append({**dict(zip(by, setting)), "figure": fig, "n": n, "mean": mean,
                        "std": std, "ci_low": mean - half, "ci_high": mean + half})
    return pd.DataFrame(out, columns=[*by, "figure", "n", "mean", "std", "ci_low", "ci_high"])


def write_aggregate(out: Path, keys: list[str]) -> Path | None:
    """``aggregate.parquet`` and ``aggregate.csv`` from ``sweep.parquet`` (None: no point ran)."""
    rows = read_rows(out)
    if not rows:
        return None
    agg = aggregate(table_frame(list(rows.values())), keys)
    _atomic_write(out / "aggregate.parquet", lambda tmp: agg.to_parquet(tmp, index=False))
    _atomic_write(out / "aggregate.csv", lambda tmp: agg.to_csv(tmp, index=False))
    return out / "aggregate.parquet"


# -- figures ------------------------------------------------------------------------------------


def unit_of(name: str) -> str:
    """The unit a key or figure name states: ``radio.bandwidth_hz`` Hz, ``bytes_up`` B,
    ``cell.dl_goodput_bps`` bit/s, ``loss_last`` none."""
    from .report import UNIT_SUFFIXES

    last = name.split(".")[-1]
    if last.startswith("bytes"):
        return "B"
    return next((unit for suffix, unit in UNIT_SUFFIXES if last.endswith(suffix)), "")


def _axis(axis, name: str, what: str) -> None:
    from matplotlib.ticker import EngFormatter

    unit = unit_of(name)
    if unit not in ("", "dB", "dBm"):
        axis.set_major_formatter(EngFormatter(unit=unit))
    axis.set_label_text(what + (f" [{unit}]" if unit in ("dB", "dBm") else ""))


def plot(out: str | Path, x: str, y: str, hue: str | None = None,
         dest: str | Path | None = None) -> Path:
    """``y`` (a figure) against ``x`` (a swept key), one line per value of ``hue`` and of the
    other swept keys, at the mean over replicates with 95 % confidence bars; axes with
    engineering units. Written to ``dest`` (default ``OUT/<y>-vs-<x>.png``)."""
    import matplotlib.pyplot as plt

    out = Path(out)
    fig = plot_figure(out, x, y, hue)
    dest = Path(dest) if dest else out / re.sub(r"[^A-Za-z0-9_.=+-]", "_", f"{y}-vs-{x}.png")
    fig.savefig(dest, dpi=120)
    plt.close(fig)
    return dest


def plot_figure(out: str | Path, x: str, y: str, hue: str | None = None):
    """The figure of :func:`plot`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    keys, frame = read_plan(out)["keys"], _frame_of(Path(out))
    _check_names(out, frame, keys, x, y, hue)
    agg = aggregate(frame, keys)
    agg = agg[agg["figure"] == y]
    series = [k for k in keys if k != x and k not in REPLICATES]
    if hue in series:
        series.remove(hue)
        series.insert(0, hue)
    numeric = pd.api.types.is_numeric_dtype(agg[x]) and not pd.api.types.is_bool_dtype(agg[x])
    ticks = {v: i for i, v in enumerate(dict.fromkeys(agg[x]))}
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for label, sub in (agg.groupby(series, dropna=False, sort=False) if series else [((), agg)]):
        label = label if isinstance(label, tuple) else (label,)
        sub = sub.sort_values(x) if numeric else sub
        xs = sub[x].astype(float) if numeric else sub[x].map(ticks)
        err = [(sub["mean"] - sub["ci_low"]).fillna(0), (sub["ci_high"] - sub["mean"]).fillna(0)]
        ax.errorbar(xs, sub["mean"], yerr=err, marker="o", capsize=3,
                    label=", ".join(_setting(k, v) for k, v in zip(series, label)) or None)
    if not numeric:
        ax.set_xticks(list(ticks.values()), [str(v) for v in ticks])
    _axis(ax.xaxis, x, x) if numeric else ax.set_xlabel(x)
    n = int(agg["n"].max()) if len(agg) else 0
    _axis(ax.yaxis, y, y)
    ax.set_title(f"mean over seeds (n <= {n}); bars: 95 % confidence interval", fontsize=9)
    if series:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _frame_of(out: Path):
    rows = read_rows(out)
    if not rows:
        raise SweepDirError(f"{out}: no point has run yet (sweep.parquet is missing)")
    return table_frame(list(rows.values()))


def _check_names(out, frame, keys, x, y, hue) -> None:
    swept = ", ".join(keys) or "none"
    for opt, name in (("--x", x), ("--hue", hue)):
        if name is not None and name not in keys:
            raise SweepDirError(f"{opt} {name}: not a swept key of {out} (swept: {swept})")
    figs = figures(frame, keys)
    if y not in figs:
        near = [f for f in figs if y.lower() in f.lower()][:8] or figs[:8]
        raise SweepDirError(f"--y {y}: not a figure of {out} (e.g. {', '.join(near)})")


def _setting(key: str, value) -> str:
    from .report import setting

    return setting(key, value)


def sweep_figure(rows: list[dict], keys: list[str]):
    """Loss against simulated time, one curve per point: the held-out loss where the
    framework measured it, else the training loss (the axis says which). None when no point
    has a loss."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, ax = plt.subplots(figsize=(8, 4.5))
    drawn = set()
    for row in rows:
        path = Path(row["run_dir"]) / "traces" / "metrics.parquet"
        if not path.exists():
            continue
        m = pd.read_parquet(path)
        held_out = "eval_loss" in m and m["eval_loss"].notna().any()
        col = "eval_loss" if held_out else "loss"
        drawn.add("held-out loss" if held_out else "training loss")
        ax.plot(m["t_s"], m[col], marker=".", ls="-" if held_out else "--",
                label=_label(row, keys) + ("" if row.get("status") == "ok"
                                           else f" ({row.get('status')})"))
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("simulated time [s]")
    ax.set_ylabel(" / ".join(sorted(drawn)) + " [nat/token]")
    if len(drawn) > 1:
        ax.set_title("solid: held-out loss; dashed: training loss (no held-out evaluation)",
                     fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def plot_sweep(out: Path, rows: list[dict], keys: list[str]) -> Path | None:
    """:func:`sweep_figure` written to ``OUT/loss_vs_time.png`` (removed when no loss)."""
    import matplotlib.pyplot as plt

    fig = sweep_figure(rows, keys)
    dest = out / "loss_vs_time.png"
    if fig is None:
        dest.unlink(missing_ok=True)
        return None
    fig.savefig(dest, dpi=120)
    plt.close(fig)
    return dest


def _label(row: dict, keys: list[str]) -> str:
    """A point's swept values with units: ``bandwidth 20 MHz, policy lyapunov``."""
    return ", ".join(_setting(k, row[k]) for k in keys)


def table(rows: list[dict], keys: list[str]) -> str:
    """A Markdown table of the sweep's headline figures, with units."""
    from .report import eng

    cols = [(k, k, None) for k in keys] + [
        ("status", "status", None), ("time_to_target_s", "time to target", "s"),
        ("loss_last", "loss (last)", ""), ("eval_loss_last", "held-out loss (last)", ""),
        ("mean_round_s", "mean round", "s"), ("bytes_up", "bytes up", "B"),
        ("bytes_down", "bytes down", "B")]
    lines = ["| " + " | ".join(label for _, label, _ in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for key, _, unit in cols:
            v = r.get(key)
            if unit is None:
                cells.append(_label(r, [key]).split(" ", 1)[1] if key in keys else str(v))
            else:
                cells.append(eng(v, unit, 4) if v is not None else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
