#!/usr/bin/env python3
"""Beamforming in the loop (issue 11.8, 11.9): run the ``beamforming`` scenario once per
beamformer on the same seed and drop, then compare cell and per-UE downlink throughput, BLER,
Jain's fairness and the precoders' staleness.

Beamformers: ``builtin_zf`` and ``builtin_rzf`` (the MAC's own SUS grouping with
``radio.mimo.precoder`` zf / rzf from the gNB's CSI: nothing leaves the gNB) and ``zf``,
``wmmse``, ``gnn`` (``beamforming.method``: one group of all UEs, precoders computed on the edge
server from the CSI the gNB sent and applied from their arrival slot).

Staleness, per edge method, from ``traces/csi_events.parquet``: ``decide`` is the mean time
from the CSI's arrival at the edge to the precoders' send (the job on the edge profile plus
the roofline time of the FLOPs the counter misses), ``loop`` the mean time from the gNB's
read of its CSI to the precoders' arrival (CSI up, compute, precoders down), and ``age`` the
mean age of the SRS behind the precoders when they start to apply.

Writes ``OUT/<beamformer>/`` (each run's directory; one that already holds a ``summary.json``
is not rerun), ``OUT/results.json``, ``OUT/results.md`` and ``OUT/throughput_cdf.png`` (per-UE
DL throughput at every link-state tap in the window, one CDF per beamformer).

    python scripts/beamforming_loop.py --out runs/bf-loop [--set seed=2] [--only zf,gnn]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from channel_prediction_loop import plot_throughput_cdf

BEAMFORMERS = {
    "builtin_zf": ["beamforming.method=builtin", "radio.mimo.precoder=zf"],
    "builtin_rzf": ["beamforming.method=builtin", "radio.mimo.precoder=rzf"],
    "zf": ["beamforming.method=zf"],
    "wmmse": ["beamforming.method=wmmse"],
    "gnn": ["beamforming.method=gnn"],
}


def run_all(out: Path, names, overrides) -> dict:
    edgelam = Path(sys.executable).with_name("edgelam")
    summaries = {}
    for name in names:
        d = out / name
        if not (d / "summary.json").exists():
            cmd = [str(edgelam), "run", "beamforming", "--out", str(d), "--force"]
            for o in BEAMFORMERS[name] + overrides:
                cmd += ["--set", o]
            print(" ".join(cmd), flush=True)
            subprocess.run(cmd, check=True)
        summaries[name] = json.loads((d / "summary.json").read_text())["beamforming"]
    return summaries


def staleness(d: Path) -> dict:
    """Mean loop time (gNB's CSI read -> precoders applied) and mean SRS age at application
    [s], from the run's ``csi_events``; empty for ``builtin``."""
    f = d / "traces" / "csi_events.parquet"
    if not f.exists():
        return {}
    ev = pd.read_parquet(f)
    read = ev[ev.event == "sounding"].set_index("t_info_s").t_s
    app = ev[ev.event == "precoders"].drop_duplicates("t_info_s").set_index("t_info_s").t_s
    both = app.index.intersection(read.index)
    if not len(both):
        return {}
    return {"loop_s": float((app[both] - read[both]).mean()),
            "age_at_apply_s": float((app - app.index.to_numpy()).mean())}


def row(name: str, s: dict, st: dict) -> dict:
    thr = np.array([u["dl_throughput_bps"] for u in s["ues"]])
    p5, p50, p95 = np.percentile(thr, [5, 50, 95])
    return {"beamformer": name, "cell_dl_mbps": s["cell_dl_throughput_bps"] / 1e6,
            "ue_p5_mbps": p5 / 1e6, "ue_p50_mbps": p50 / 1e6, "ue_p95_mbps": p95 / 1e6,
            "jain": s.get("jain_fairness"), "mean_bler": s["mean_dl_bler"],
            "mean_sinr_eff_db": s["mean_dl_sinr_eff_db"],
            "edge_sum_rate_bps_hz": s.get("edge_sum_rate_bps_hz"),
            "decide_ms": 1e3 * s["decide_s"] if "decide_s" in s else None,
            "loop_ms": 1e3 * st["loop_s"] if st else None,
            "age_at_apply_ms": 1e3 * st["age_at_apply_s"] if st else None,
            "bytes": sum(s.get("bytes", {}).values()), "fit": s.get("fit")}


def markdown(rows: list[dict]) -> list[str]:
    cols = ["beamformer", "cell_dl_mbps", "ue_p5_mbps", "ue_p50_mbps", "ue_p95_mbps", "jain",
            "mean_bler", "mean_sinr_eff_db", "decide_ms", "loop_ms", "age_at_apply_ms"]

    def fmt(v):
        return "" if v is None else f"{v:.3g}" if isinstance(v, float) else str(v)

    return (["| " + " | ".join(cols) + " |", "|---" * len(cols) + "|"]
            + ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--only", default=",".join(BEAMFORMERS),
                    help=f"beamformers, comma-separated, of {list(BEAMFORMERS)}")
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    a = ap.parse_args()
    names = a.only.split(",")
    bad = [n for n in names if n not in BEAMFORMERS]
    if bad:
        raise SystemExit(f"--only: unknown {bad}; known: {list(BEAMFORMERS)}")
    a.out.mkdir(parents=True, exist_ok=True)
    summaries = run_all(a.out, names, a.overrides)
    import yaml
    cfg = yaml.safe_load((a.out / names[0] / "config.yaml").read_text())
    plot_throughput_cdf(a.out, names, cfg["beamforming"])
    rows = [row(n, s, staleness(a.out / n)) for n, s in summaries.items()]
    r, b = cfg["radio"], cfg["beamforming"]
    head = (f"{r['n_ues']} UEs at {r['ue_speed_kmh']} km/h, {r['scenario']} "
            f"{r['carrier_hz'] / 1e9:g} GHz, {r['bandwidth_hz'] / 1e6:g} MHz, gNB "
            f"{r['gnb_array'][0]}x{r['gnb_array'][1]}, SRS every {r['csi']['srs_period_slots']} "
            f"slots, measured {b['measure_from_s']}-{b['measure_from_s'] + b['measure_s']} s, "
            f"seed {cfg['seed']}")
    lines = markdown(rows)
    (a.out / "results.md").write_text("\n".join([head, ""] + lines) + "\n")
    (a.out / "results.json").write_text(json.dumps({"setup": head, "rows": rows}, indent=1))
    print(head)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
