"""Channel prediction in the loop (issue 11.7, 11.9): run the ``channel-prediction`` scenario
once per CSI mode (``prediction.csi`` aged, ar, lam, ideal), then compare cell and per-UE
downlink throughput, BLER and SINR, and say which share of the throughput lost between ideal
and aged CSI each predictor recovers: ``(T_pred - T_aged) / (T_ideal - T_aged)`` of the cell
throughput over the measurement window.

Writes ``OUT/<mode>/`` (each run's directory), ``OUT/results.json``, ``OUT/results.md``,
``OUT/throughput_cdf.png`` (per-UE DL throughput at every link-state tap in the window, one
CDF per mode) and ``OUT/csi_age.png`` (the age of the information behind the gNB's CSI over
time: the sounding instant for aged CSI, the predicted instant for predictions; negative:
ahead of time). A mode whose run directory already holds a ``summary.json`` is not rerun.

    python scripts/channel_prediction_loop.py --out runs/cp-loop [--set radio.ue_speed_kmh=30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

MODES = ("aged", "ar", "lam", "ideal")


def run_modes(out: Path, modes, overrides) -> dict:
    edgelam = Path(sys.executable).with_name("edgelam")
    summaries = {}
    for mode in modes:
        d = out / mode
        if not (d / "summary.json").exists():
            cmd = [str(edgelam), "run", "channel-prediction", "--out", str(d), "--force",
                   "--set", f"prediction.csi={mode}"]
            for o in overrides:
                cmd += ["--set", o]
            print(" ".join(cmd), flush=True)
            subprocess.run(cmd, check=True)
        summaries[mode] = json.loads((d / "summary.json").read_text())
    return summaries


def window_rates(d: Path, p: dict) -> np.ndarray:
    """Per-UE DL throughput at every link-state tap inside the measurement window."""
    ls = pd.read_parquet(d / "traces" / "link_states.parquet")
    t0, t1 = p["measure_from_s"], p["measure_from_s"] + p["measure_s"]
    ue = ls[(ls.kind == "ue") & (ls.t_s > t0) & (ls.t_s <= t1 + 1e-9)]
    return ue.dl_throughput_bps.to_numpy()


def age_timeline(d: Path, t_end: float, step: float = 0.0005):
    """Age of the information behind the gNB's CSI [s] on a grid, from ``csi_events``."""
    ev = pd.read_parquet(d / "traces" / "csi_events.parquet").sort_values("t_s")
    t = np.arange(ev.t_s.iloc[0], t_end, step)
    k = np.searchsorted(ev.t_s.to_numpy(), t, side="right") - 1
    return t, t - ev.t_info_s.to_numpy()[k]


def plot_throughput_cdf(out: Path, names, cfg: dict) -> None:
    """``out/throughput_cdf.png``: the CDF of the per-UE window rates of each run ``out/NAME``
    (also used by ``beamforming_loop.py``)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in names:
        r = np.sort(window_rates(out / name, cfg)) / 1e6
        ax.plot(r, np.arange(1, len(r) + 1) / len(r), label=name)
    ax.set_xlabel("per-UE DL throughput per 10 ms tap [Mbit/s]")
    ax.set_ylabel("CDF")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "throughput_cdf.png", dpi=120)
    plt.close(fig)


def plot(out: Path, summaries: dict, cfg: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot_throughput_cdf(out, summaries, cfg)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    t0 = cfg["measure_from_s"]
    for mode in summaries:
        if mode == "ideal" or not (out / mode / "traces" / "csi_events.parquet").exists():
            continue
        t, age = age_timeline(out / mode, t0 + 0.1)
        sel = t >= t0
        ax.step(t[sel] * 1e3, age[sel] * 1e3, where="post", label=mode)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("simulated time [ms]")
    ax.set_ylabel("age of the gNB's CSI [ms]")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "csi_age.png", dpi=120)
    plt.close(fig)


def table(summaries: dict) -> tuple[list[str], dict]:
    p = {m: s["prediction"] for m, s in summaries.items()}
    res = {m: {k: v.get(k) for k in ("cell_dl_throughput_bps", "mean_dl_bler",
                                      "mean_dl_sinr_eff_db", "nmse_csi_db", "nmse_aged_db",
                                      "ready_s", "fit", "bytes", "predict_to_send_s")}
           for m, v in p.items()}
    lines = ["| CSI | cell DL Mbit/s | mean BLER | mean eff. SINR dB | NMSE of gNB CSI dB | "
             "recovered share |", "|---|---|---|---|---|---|"]
    thr = {m: v["cell_dl_throughput_bps"] for m, v in res.items()}
    for m, v in res.items():
        share = ""
        if {"aged", "ideal"} <= set(thr) and m in ("ar", "lam"):
            gap = thr["ideal"] - thr["aged"]
            v["recovered_share"] = (thr[m] - thr["aged"]) / gap if gap else None
            share = f"{v['recovered_share']:.1%}" if gap else "n/a"
        nm = v.get("nmse_csi_db")
        lines.append(f"| {m} | {thr[m] / 1e6:.2f} | {v['mean_dl_bler']:.3f} | "
                     f"{v['mean_dl_sinr_eff_db']:.2f} | {'' if nm is None else f'{nm:.2f}'} | "
                     f"{share} |")
    return lines, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    summaries = run_modes(a.out, a.modes.split(","), a.overrides)
    import yaml
    cfg = yaml.safe_load((a.out / a.modes.split(",")[0] / "config.yaml").read_text())
    plot(a.out, summaries, cfg["prediction"])
    lines, res = table(summaries)
    r = cfg["radio"]
    head = (f"{r['n_ues']} UEs at {r['ue_speed_kmh']} km/h, {r['carrier_hz'] / 1e9:g} GHz, "
            f"SRS every {r['csi']['srs_period_slots']} slots, measured "
            f"{cfg['prediction']['measure_from_s']}-"
            f"{cfg['prediction']['measure_from_s'] + cfg['prediction']['measure_s']} s, "
            f"seed {cfg['seed']}")
    (a.out / "results.md").write_text("\n".join([head, ""] + lines) + "\n")
    (a.out / "results.json").write_text(json.dumps({"setup": head, "modes": res}, indent=1))
    print(head)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
