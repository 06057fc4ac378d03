#!/usr/bin/env python3
"""Channel prediction in the loop over UE speeds and seeds (issue 11.7): runs
``scripts/channel_prediction_loop.py`` (aged, ar, lam, ideal CSI) once per (speed, seed) into
``OUT/v<speed>_s<seed>/`` (a finished mode is not rerun), then tabulates per speed and CSI mode
the cell DL throughput and the share of the ideal-vs-aged loss each predictor recovers,
``(T_pred - T_aged) / (T_ideal - T_aged)`` per seed, as mean, sample standard deviation and
range over the seeds. Writes ``OUT/sweep.md``, ``OUT/sweep.json`` and ``OUT/recovered_share.png``.

    OMP_NUM_THREADS=1 python scripts/channel_prediction_sweep.py --out runs/cp-sweep \\
        --speeds 30,60,120 --seeds 1,2,3 --workers 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

LOOP = Path(__file__).with_name("channel_prediction_loop.py")


def run_one(out: Path, speed: str, seed: str) -> Path:
    d = out / f"v{speed}_s{seed}"
    if not (d / "results.json").exists():
        cmd = [sys.executable, str(LOOP), "--out", str(d), "--set",
               f"radio.ue_speed_kmh={speed}", "--set", f"seed={seed}"]
        print(" ".join(cmd), flush=True)
        with open(out / f"v{speed}_s{seed}.log", "w") as log:
            subprocess.run(cmd, check=True, stdout=log, stderr=subprocess.STDOUT)
    return d


def _stats(x: list[float]) -> dict:
    a = np.asarray(x, dtype=float)
    return {"mean": float(a.mean()), "std": float(a.std(ddof=1)) if len(a) > 1 else 0.0,
            "min": float(a.min()), "max": float(a.max()), "n": len(a)}


def aggregate(out: Path, speeds, seeds) -> dict:
    """Per speed and mode: throughput [Mbit/s], NMSE [dB] and (ar, lam) recovered share, over
    the seeds whose four runs finished."""
    res = {}
    for v in speeds:
        per = {}
        for s in seeds:
            f = out / f"v{v}_s{s}" / "results.json"
            if f.exists():
                per[s] = json.loads(f.read_text())["modes"]
        if not per:
            continue
        row = {}
        for m in ("aged", "ar", "lam", "ideal"):
            runs = [p[m] for p in per.values() if m in p]
            row[m] = {"thr_mbps": _stats([r["cell_dl_throughput_bps"] / 1e6 for r in runs]),
                      "nmse_db": _stats([r["nmse_csi_db"] for r in runs])}
            shares = [r["recovered_share"] for r in runs if r.get("recovered_share") is not None]
            if shares:
                row[m]["recovered_share"] = _stats(shares)
                row[m]["recovered_share_per_seed"] = {
                    s: p[m]["recovered_share"] for s, p in per.items() if m in p}
        row["seeds"] = list(per)
        res[v] = row
    return res


def markdown(res: dict) -> list[str]:
    lines = ["| km/h | seeds | aged Mbit/s | AR Mbit/s | LAM Mbit/s | ideal Mbit/s | "
             "AR recovered | LAM recovered | AR - LAM share per seed |",
             "|---|---|---|---|---|---|---|---|---|"]

    def thr(r):
        t = r["thr_mbps"]
        return f"{t['mean']:.2f} ± {t['std']:.2f}"

    def share(r):
        s = r.get("recovered_share")
        return "" if s is None else (f"{100 * s['mean']:.1f} ± {100 * s['std']:.1f} % "
                                     f"[{100 * s['min']:.1f}, {100 * s['max']:.1f}]")

    for v, r in res.items():
        a, l = r["ar"].get("recovered_share_per_seed", {}), r["lam"].get(
            "recovered_share_per_seed", {})
        diff = ", ".join(f"{100 * (a[s] - l[s]):+.1f}" for s in a if s in l)
        lines.append(f"| {v} | {len(r['seeds'])} | {thr(r['aged'])} | {thr(r['ar'])} | "
                     f"{thr(r['lam'])} | {thr(r['ideal'])} | {share(r['ar'])} | "
                     f"{share(r['lam'])} | {diff} |")
    return lines


def plot(out: Path, res: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for i, m in enumerate(("ar", "lam")):
        v = [float(k) for k in res if "recovered_share" in res[k][m]]
        s = [res[k][m]["recovered_share"] for k in res if "recovered_share" in res[k][m]]
        ax.errorbar(np.array(v) + (i - 0.5) * 2, [100 * x["mean"] for x in s],
                    yerr=[100 * x["std"] for x in s], fmt="o-", capsize=3, label=m)
    ax.set_xlabel("UE speed [km/h]")
    ax.set_ylabel("recovered share of ideal - aged [%]")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "recovered_share.png", dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--speeds", default="30,60,120")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--workers", type=int, default=1, choices=(1, 2))
    ap.add_argument("--no-run", action="store_true", help="only aggregate what has finished")
    a = ap.parse_args()
    speeds, seeds = a.speeds.split(","), a.seeds.split(",")
    a.out.mkdir(parents=True, exist_ok=True)
    if not a.no_run:
        jobs = [(v, s) for s in seeds for v in speeds]
        with ThreadPoolExecutor(a.workers) as ex:
            list(ex.map(lambda j: run_one(a.out, *j), jobs))
    res = aggregate(a.out, speeds, seeds)
    lines = markdown(res)
    (a.out / "sweep.md").write_text("\n".join(lines) + "\n")
    (a.out / "sweep.json").write_text(json.dumps(res, indent=1))
    if res:
        plot(a.out, res)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
