#!/usr/bin/env python
"""Channel-prediction comparison on the LLM4CP preset (issue 11, items 1-4), CPU-sized.

Data: Sionna TR 38.901 UMa NLOS, 2.4 GHz, 32 gNB ports, 1 UE antenna, 48 subbands, 0.5 ms
pilots, UEs at 10..100 km/h; train, validation and test sets are disjoint drops. 16 past -> 4
future samples; the history carries pilot noise (10 dB, 20 dB, none), the future is the truth.

Predictors: outdated CSI; AR(p) least squares per window (order and ridge chosen on the
validation drops per SNR); Wiener (LMMSE from training statistics, fitted per SNR); GRU, LSTM and
a transformer from scratch; the LAM (GPT-2 backbone pretrained on the ns-3 channel of the
project, then LoRA + embedding + head fine-tuned on the Sionna training drops; LAM-fed: the same
fine-tuning by FedAvg over edge servers that each hold their own drops). All learned
models get the same data, steps, batch and learning-rate schedule, trained once over the mix of
the three pilot SNRs.

Writes to --out: table.md, nmse.csv (predictor, snr, speed, horizon step, NMSE dB),
summary.csv, nmse_vs_speed.png, and the data sets (npz). Run with OMP_NUM_THREADS=1.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch

from edgelam_ns3 import channel_prediction as cpr
from edgelam_ns3.datasets import csi
from edgelam_ns3.models import channel_predictors as cp

SNRS = (10.0, 20.0, None)
PAST, FUTURE = 16, 4


def snr_name(s):
    return "clean" if s is None else f"{s:g}dB"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="runs/channel-prediction-study")
    p.add_argument("--train-drops", type=int, default=16)
    p.add_argument("--val-drops", type=int, default=4)
    p.add_argument("--test-drops", type=int, default=12)
    p.add_argument("--n-ues", type=int, default=10)
    p.add_argument("--n-steps", type=int, default=40, help="samples per UE series")
    p.add_argument("--steps", type=int, default=600, help="training steps of every learned model")
    p.add_argument("--pretrain-steps", type=int, default=600, help="LAM backbone pretraining")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--width", type=int, default=64, help="hidden size of every learned model")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--edge-servers", type=int, default=3,
                   help="federated LAM fine-tuning over this many servers (1: skip)")
    p.add_argument("--fed-rounds", type=int, default=10)
    p.add_argument("--only-classical", action="store_true",
                   help="outdated, AR and Wiener only (no training)")
    args = p.parse_args(argv)
    if not 1 <= args.edge_servers <= args.train_drops:
        p.error("--edge-servers must be between 1 and --train-drops (each holds its own drops)")
    return args


def load_data(args, out: Path):
    """Sionna drops split train/val/test, and ns-3 drops for pretraining (cached as npz)."""
    n_sionna = args.train_drops + args.val_drops + args.test_drops
    sets = {"sionna": csi.preset("llm4cp", n_drops=n_sionna, n_ues=args.n_ues,
                                 n_steps=args.n_steps, seed=args.seed),
            "ns3": csi.preset("llm4cp-ns3", n_drops=args.train_drops, n_ues=args.n_ues,
                              n_steps=args.n_steps, seed=args.seed + 1000)}
    data = {}
    for name, cfg in sets.items():
        path = out / f"csi-{name}.npz"
        ds = csi.load(path) if path.exists() else None
        if ds is None or ds.config != cfg:
            t0 = time.time()
            ds = csi.generate(cfg)
            csi.save(ds, path)
            print(f"{name}: {list(ds.h.shape)} in {time.time() - t0:.0f} s", flush=True)
        data[name] = ds
    s = data["sionna"]
    a, b = args.train_drops, args.train_drops + args.val_drops
    split = {"train": s.select_drops(range(a)), "val": s.select_drops(range(a, b)),
             "test": s.select_drops(range(b, s.h.shape[0])), "pretrain": data["ns3"]}
    w = {k: csi.windows(v, PAST, FUTURE, stride=10 if k in ("train", "pretrain") else 20)
         for k, v in split.items()}
    return w


def noisy_sets(w, seed):
    """Fixed noisy histories of the val and test windows per SNR."""
    out = {}
    for k in ("val", "test", "train"):
        for i, s in enumerate(SNRS):
            rng = np.random.default_rng([seed, i, len(k)])
            out[k, s] = csi.add_pilot_noise(w[k][0], s, rng)
    return out


def classical(w, noisy):
    """Predictions of outdated, AR (tuned on val) and Wiener per SNR on the test windows."""
    preds, notes = {}, {}
    fut_val = w["val"][1]
    for s in SNRS:
        h = noisy["test", s]
        preds["outdated", s] = cp.predict_outdated(h, FUTURE)
        p, r, v = cpr.tune_ar(noisy["val", s], fut_val)
        notes[f"AR {snr_name(s)}"] = {"p": p, "ridge": r, "val_nmse_db": round(v, 2)}
        preds["AR", s] = cp.predict_ar(h, FUTURE, p, r)
        wf = cp.WienerPredictor().fit(noisy["train", s], w["train"][1])
        preds["Wiener", s] = wf.predict(h)
    return preds, notes


def learned_models(args):
    d = args.width
    torch.manual_seed(args.seed)
    return {"GRU": cp.RnnPredictor("gru", PAST, FUTURE, 48, hidden=d),
            "LSTM": cp.RnnPredictor("lstm", PAST, FUTURE, 48, hidden=d),
            "Transformer": cp.TransformerPredictor(PAST, FUTURE, 48, d=d, n_layers=2),
            "LAM": cp.LamPredictor(PAST, FUTURE, 48, n_embd=d, n_layer=4, n_head=4)}


def pretrain_lam(args, m, w, notes):
    pre = cpr.TrainConfig(steps=args.pretrain_steps, batch=args.batch, lr=1e-3, snrs_db=SNRS,
                          seed=args.seed + 1)
    print("LAM: pretraining on the ns-3 channel (all weights)", flush=True)
    lp = cpr.train(m, w["pretrain"][0], w["pretrain"][1], pre, log_every=100)
    notes["LAM pretrain final loss"] = round(float(np.mean(lp[-50:])), 4)
    cp.add_lora(m, r=8, alpha=16)


def federated_lam(args, lam, w, noisy, notes):
    """LoRA fine-tuning by FedAvg over --edge-servers servers, each holding the training windows
    of its own drops (cells), with the centralised run's total number of steps."""
    k = args.edge_servers
    drop = w["train"][3]
    shards = [(w["train"][0][drop % k == i], w["train"][1][drop % k == i]) for i in range(k)]
    local_steps = max(1, args.steps // (args.fed_rounds * k))
    local = cpr.TrainConfig(steps=local_steps, batch=args.batch, lr=1e-3, snrs_db=SNRS,
                            seed=args.seed + 7, schedule="constant")
    t0 = time.time()
    log = cpr.federated_finetune(lam, shards, args.fed_rounds, local)
    notes["LAM-fed"] = {"edge_servers": k, "rounds": args.fed_rounds, "local_steps": local_steps,
                        "bytes_per_round_up": log[0]["uplink_bytes"],
                        "wall_s": round(time.time() - t0, 1)}
    return {("LAM-fed", s): cp.predict_learned(lam, noisy["test", s]) for s in SNRS}


def train_learned(args, w, noisy, models):
    tc = cpr.TrainConfig(steps=args.steps, batch=args.batch, lr=1e-3, snrs_db=SNRS,
                         seed=args.seed)
    preds, notes = {}, {}
    for name, m in models.items():
        t0 = time.time()
        if name == "LAM":
            pretrain_lam(args, m, w, notes)
            fed_start = copy.deepcopy(m) if args.edge_servers > 1 else None
        print(f"{name}: training ({cp.n_parameters(m, True)} trainable)", flush=True)
        losses = cpr.train(m, w["train"][0], w["train"][1], tc, log_every=100)
        notes[f"{name} final loss"] = round(float(np.mean(losses[-50:])), 4)
        notes[f"{name} train wall s"] = round(time.time() - t0, 1)
        for s in SNRS:
            preds[name, s] = cp.predict_learned(m, noisy["test", s])
    if args.edge_servers > 1:
        preds.update(federated_lam(args, fed_start, w, noisy, notes))
    return preds, notes


def _wall_ms(fn, repeats=5):
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return float(np.median(walls)) * 1e3


def costs(models, w, ar_p):
    """Per predictor: parameters, FLOPs, roofline time on the edge GPU profile and wall time on
    this CPU (1 thread) of one prediction (one UE window, all ports). Classical FLOPs are
    analytic and their edge time compute-bound (FLOPs / sustained FLOP/s)."""
    from edgelam_ns3.compute import get_profile

    hist = w["test"][0][:1]
    e = hist.shape[2] * hist.shape[3]
    edge = get_profile("edge_gpu_server").sustained_flops
    wf = cp.WienerPredictor().fit(w["val"][0], w["val"][1])
    rows = {"outdated": (0, 0, lambda: cp.predict_outdated(hist, FUTURE)),
            "AR": (ar_p, cpr.ar_flops(PAST, FUTURE, ar_p, e),
                   lambda: cp.predict_ar(hist, FUTURE, ar_p)),
            "Wiener": (FUTURE * PAST, cpr.wiener_flops(PAST, FUTURE, e), lambda: wf.predict(hist))}
    out = {k: {"params": n, "flops": f, "edge_us": f / edge * 1e6, "cpu_ms": _wall_ms(fn)}
           for k, (n, f, fn) in rows.items()}
    one = torch.from_numpy(np.moveaxis(hist[0], 1, 0).copy()).to(torch.complex64)
    for name, m in models.items():
        c = cpr.cost_of(m, one)
        out[name] = {"params": c.params, "flops": c.flops, "edge_us": c.edge_s * 1e6,
                     "cpu_ms": c.wall_s * 1e3}
    return out


def tables(preds, w, cost):
    """Long table of NMSE per (predictor, snr, speed, step) and the summary rows."""
    import pandas as pd

    fut, speed = w["test"][1], w["test"][2]
    long, summ = [], []
    for (name, s), pr in preds.items():
        per = cpr.nmse_per_window(pr, fut)  # [N, F]
        for v in np.unique(speed):
            sel = speed == v
            for f in range(FUTURE):
                long.append({"predictor": name, "snr": snr_name(s), "speed_kmh": v,
                             "step": f + 1, "nmse_db": 10 * np.log10(per[sel, f].mean())})
        se = cpr.mrt_spectral_efficiency(pr, fut).mean()
        c = cost.get(name.replace("-fed", ""), {})
        summ.append({"predictor": name, "snr": snr_name(s),
                     "nmse_db": 10 * np.log10(per.mean()), "mrt_se": se, **c})
    ideal = cpr.mrt_spectral_efficiency(fut, fut).mean()
    return pd.DataFrame(long), pd.DataFrame(summ), ideal


def markdown(df, index=True) -> str:
    """A pipe table (pandas' to_markdown needs tabulate, which is not a dependency)."""
    df = df.reset_index() if index else df
    cols = [str(c) for c in df.columns]
    fmt = [lambda v: f"{v:.3g}" if isinstance(v, float) and abs(v) >= 1e4 else
           (f"{v:.2f}" if isinstance(v, float) else str(v))] * len(cols)
    rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in df.itertuples(index=False):
        rows.append("| " + " | ".join(f(v) for f, v in zip(fmt, r)) + " |")
    return "\n".join(rows)


def write_outputs(out, long, summ, ideal, notes, args):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    long.to_csv(out / "nmse.csv", index=False)
    summ.to_csv(out / "summary.csv", index=False)
    per_speed = long.groupby(["snr", "predictor", "speed_kmh"]).nmse_db.apply(
        lambda x: 10 * np.log10(np.mean(10 ** (x / 10)))).unstack("speed_kmh")
    per_step = long.groupby(["snr", "predictor", "step"]).nmse_db.apply(
        lambda x: 10 * np.log10(np.mean(10 ** (x / 10)))).unstack("step")
    with open(out / "table.md", "w") as f:
        f.write(f"# Channel prediction study\n\nCommand: `{' '.join(args._argv)}`\n\n")
        f.write("## NMSE (dB) per speed (km/h), mean over the 4 horizon steps\n\n")
        f.write(markdown(per_speed.round(1)) + "\n\n")
        f.write("## NMSE (dB) per horizon step (0.5 ms each), mean over speeds\n\n")
        f.write(markdown(per_step.round(1)) + "\n\n")
        f.write(f"## Summary (MRT SE at 0 dB per port; ideal CSI {ideal:.2f} bit/s/Hz)\n\n")
        f.write(markdown(summ.round(3), index=False) + "\n\n")
        f.write("## Notes\n\n```\n" + json.dumps(notes, indent=1, default=str) + "\n```\n")
    fig, axes = plt.subplots(1, 3, figsize=(14, 4), sharey=True)
    for ax, s in zip(axes, [snr_name(x) for x in SNRS]):
        for name, row in per_speed.loc[s].iterrows():
            ax.plot(row.index, row.values, marker="o", label=name)
        ax.set_title(f"pilot SNR {s}")
        ax.set_xlabel("UE speed [km/h]")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("NMSE [dB]")
    axes[-1].legend()
    fig.tight_layout()
    fig.savefig(out / "nmse_vs_speed.png", dpi=120)
    return per_speed


def main(argv=None):
    import sys

    args = parse_args(argv)
    args._argv = ["scripts/channel_prediction_study.py"] + list(argv or sys.argv[1:])
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    w = load_data(args, out)
    noisy = noisy_sets(w, args.seed)
    preds, notes = classical(w, noisy)
    print("classical done:", notes, flush=True)
    models = {} if args.only_classical else learned_models(args)
    if models:
        p2, n2 = train_learned(args, w, noisy, models)
        preds.update(p2)
        notes.update(n2)
    notes["test windows"] = int(len(w["test"][0]))
    notes["train windows"] = int(len(w["train"][0]))
    ar_p = notes[f"AR {snr_name(20.0)}"]["p"]
    long, summ, ideal = tables(preds, w, costs(models, w, ar_p))
    per_speed = write_outputs(out, long, summ, ideal, notes, args)
    print(per_speed.round(1).to_string())
    print(f"wrote {out}/table.md")


if __name__ == "__main__":
    main()
