#!/usr/bin/env python3
"""Sum rate against SNR of MRT, ZF, RZF, ZF-WF, WMMSE and the GNN beamformer (issue 11.6).

For each K x N configuration and channel source (i.i.d. Rayleigh; TR 38.901 UMi 3.5 GHz from
edgelam_ns3.datasets.csi, Sionna source, test drops never seen in training) it trains one GNN
over the SNR grid (unsupervised, negative sum rate, CPU), then reports on the test set: the mean
sum rate per method and SNR, the GNN's share of WMMSE and of the best classical value, the same
for the GNN followed by 3 WMMSE iterations ("gnn+wmmse3"), FLOPs and CPU time per decision at
--cost-snr-db, and the GNN trained at K applied to other UE counts.
Writes sum_rate.csv, cost.csv, generalisation.csv, summary.md and sum_rate_vs_snr.png to --out.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/beamforming_study.py --out runs/beamforming_study
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import torch

NOISE = 1.0
REFINE = 3  # WMMSE iterations after the GNN in the "gnn+wmmse3" variant
ARRAYS = {8: (2, 4), 16: (4, 4), 32: (4, 8), 64: (8, 8)}  # N -> gNB rows x cols (single pol.)


def _args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/beamforming_study"))
    p.add_argument("--configs", default="4x8,8x16,16x64", help="KxN list (N in %s)" % sorted(ARRAYS))
    p.add_argument("--sources", default="rayleigh,tr38901")
    p.add_argument("--snr-db", default="-10,0,10,20,30")
    p.add_argument("--cost-snr-db", type=float, default=10.0)
    p.add_argument("--cost-decisions", type=int, default=3, help="decisions timed per method")
    p.add_argument("--cost-repeats", type=int, default=5, help="timings per decision (median)")
    p.add_argument("--steps", type=int, default=600, help="GNN training steps per config")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=3, help="message passing layers per round")
    p.add_argument("--rounds", type=int, default=1, help="unrolled GNN rounds")
    p.add_argument("--train-drops", type=int, default=200, help="TR 38.901 drops for training")
    p.add_argument("--test-drops", type=int, default=32, help="TR 38.901 drops for testing")
    p.add_argument("--test-samples", type=int, default=512)
    p.add_argument("--generalise", default="0.5,1.5", help="test K as multiples of trained K")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="GNN weights: loaded if the file exists (one config only), else trained "
                   "as above and saved there")
    return p.parse_args(argv)


def _channels(source, k, n, a, split, n_ues=None):
    """Test or train channels [S, K, N] complex128 for one source."""
    from edgelam_ns3 import beamforming as bf

    if source == "rayleigh":
        seed = a.seed * 1000 + k * 10 + n + (0 if split == "train" else 500)
        size = 20000 if split == "train" else a.test_samples
        return bf.rayleigh(size, k, n, torch.Generator().manual_seed(seed))
    from edgelam_ns3.datasets import csi

    rows, cols = ARRAYS[n]
    drops = a.train_drops if split == "train" else a.test_drops
    seed = a.seed + (0 if split == "train" else 10_000)  # disjoint drops
    cfg = csi.preset("umi-3.5ghz-8x8", gnb_rows=rows, gnb_cols=cols, n_ues=n_ues or k,
                     n_drops=drops, seed=seed)
    h = bf.csi_samples(csi.generate(cfg).h)[:, :k]
    return h if split == "train" else h[: a.test_samples]


def _train(k, n, train_h, snrs, a):
    from edgelam_ns3 import beamforming as bf
    from edgelam_ns3.models.gnn_beamformer import GNNBeamformer

    torch.manual_seed(a.seed)
    model = GNNBeamformer(a.hidden, a.layers, a.rounds)
    if a.checkpoint is not None and a.checkpoint.exists():
        model.load_state_dict(torch.load(a.checkpoint))
        print(f"  loaded {a.checkpoint} (delete it to retrain)", flush=True)
        return model.eval()
    pool = train_h.to(torch.complex64)

    def draw(batch, gen):
        return pool[torch.randint(len(pool), (batch,), generator=gen)]

    t0 = time.perf_counter()
    rates = bf.train_gnn(model, draw, snrs, a.steps, batch=a.batch, seed=a.seed)
    print(f"  trained {k}x{n}: {a.steps} steps, {time.perf_counter() - t0:.0f} s, "
          f"batch rate {sum(rates[:20]) / 20:.2f} -> {sum(rates[-20:]) / 20:.2f}", flush=True)
    if a.checkpoint is not None:
        a.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), a.checkpoint)
    return model.eval()


def _gnn_rate(model, h, power, refine=0):
    """The GNN's sum rate; with ``refine`` > 0, after that many WMMSE iterations from its
    precoders ("gnn+wmmseT")."""
    from edgelam_ns3 import beamforming as bf

    with torch.no_grad():
        v = model(h.to(torch.complex64), power, NOISE).to(h.dtype)
    if refine:
        return bf.wmmse(h, power, NOISE, inits=(), v0=v, max_iter=refine, tol=0.0).rate
    return bf.sum_rate(h, v, NOISE)


def _evaluate(source, k, n, model, test_h, snrs, seed):
    from edgelam_ns3 import beamforming as bf

    rows = []
    for snr in snrs:
        power = 10 ** (snr / 10)
        rates = bf.classical_sum_rates(test_h, power, NOISE,
                                       generator=torch.Generator().manual_seed(seed))
        rates["gnn"] = _gnn_rate(model, test_h, power)
        rates[f"gnn+wmmse{REFINE}"] = _gnn_rate(model, test_h, power, REFINE)
        for method, r in rates.items():
            rows.append(dict(source=source, K=k, N=n, snr_db=snr, method=method,
                             sum_rate=float(r.mean()), sum_rate_std=float(r.std())))
    return rows


def _costs(source, k, n, model, test_h, snr, seed, n_decisions, repeats):
    from edgelam_ns3 import beamforming as bf

    power = 10 ** (snr / 10)
    gen = torch.Generator().manual_seed(seed)
    jobs = {name: (lambda h, fn=fn: fn(h, power, NOISE)) for name, fn in bf.PRECODERS.items()}
    jobs["wmmse"] = lambda h: bf.wmmse(h, power, NOISE, generator=gen)
    jobs["wmmse_rzf_init"] = lambda h: bf.wmmse(h, power, NOISE, inits=("rzf",))
    jobs["gnn"] = lambda h: model(h.to(torch.complex64), power, NOISE)
    jobs[f"gnn+wmmse{REFINE}"] = lambda h: _gnn_rate(model, h, power, REFINE)
    rows = []
    for name, job in jobs.items():
        costs = [bf.decision_cost(lambda i=i: job(test_h[i:i + 1]), repeats=repeats)
                 for i in range(n_decisions)]
        rows.append(dict(source=source, K=k, N=n, snr_db=snr, method=name,
                         flops=sum(c.flops for c in costs) / n_decisions,
                         counted_flops=sum(c.counted_flops for c in costs) / n_decisions,
                         time_ms=1e3 * sum(c.time_s for c in costs) / n_decisions))
    return rows


def _generalise(source, k, n, model, snr, a):
    from edgelam_ns3 import beamforming as bf

    rows = []
    power = 10 ** (snr / 10)
    for f in [float(x) for x in a.generalise.split(",") if x]:
        k2 = max(1, round(k * f))
        if k2 > n or k2 == k:
            continue
        h = _channels(source, k2, n, a, "test", n_ues=k2)
        w = bf.wmmse(h, power, NOISE, generator=torch.Generator().manual_seed(a.seed)).rate
        g = _gnn_rate(model, h, power)
        rows.append(dict(source=source, K_train=k, K_test=k2, N=n, snr_db=snr,
                         gnn=float(g.mean()), wmmse=float(w.mean()),
                         gnn_share_of_wmmse=float(g.mean() / w.mean())))
    return rows


def _md(df, index=False):
    """A pandas frame as a GitHub markdown table (numbers with 4 significant digits)."""
    df = df.reset_index() if index else df
    cells = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row]
             for row in df.itertuples(index=False)]
    head = [str(c) for c in df.columns]
    return "\n".join(["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
                     + ["| " + " | ".join(r) + " |" for r in cells])


def _summary(rates, costs, gen, command, snr):
    import pandas as pd

    df = pd.DataFrame(rates)
    piv = df.pivot_table(index=["source", "K", "N", "snr_db"], columns="method",
                         values="sum_rate").reset_index()
    classical = ["mrt", "zf", "rzf", "zf_wf", "wmmse"]
    piv["best_classical"] = piv[classical].max(axis=1)
    piv["gnn/wmmse"] = piv["gnn"] / piv["wmmse"]
    piv["gnn/best"] = piv["gnn"] / piv["best_classical"]
    piv[f"gnn+wmmse{REFINE}/best"] = piv[f"gnn+wmmse{REFINE}"] / piv["best_classical"]
    c = pd.DataFrame(costs)
    cp = c.pivot_table(index=["source", "K", "N"], columns="method", values="flops")
    cp["wmmse/gnn flops"] = cp["wmmse"] / cp["gnn"]
    tp = c.pivot_table(index=["source", "K", "N"], columns="method", values="time_ms")
    lines = [f"# Beamforming study\n\nCommand: `{command}`\n",
             "Sum rate [bit/s/Hz], mean over the test set (noise = 1, SNR = P / noise, unit-power "
             "channel entries):\n", _md(piv),
             f"\nFLOPs per decision at {snr:g} dB (real FLOPs; compute.measure plus complex "
             "products and linalg kernels):\n", _md(cp, index=True),
             f"\nCPU time per decision [ms] at {snr:g} dB (1 thread, median over repeats, "
             "mean over decisions; wall time on a shared machine):\n", _md(tp, index=True)]
    if gen:
        lines += ["\nGNN trained at K_train, tested at K_test (same N):\n",
                  _md(pd.DataFrame(gen))]
    return "\n".join(lines) + "\n", piv


def _plot(piv, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(piv.groupby(["source", "K", "N"]))
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.6), squeeze=False)
    for ax, ((source, k, n), g) in zip(axes[0], groups):
        for m, style in [("wmmse", "k-o"), ("gnn", "r--s"), ("rzf", "b-^"), ("zf_wf", "g-v"),
                         ("zf", "c:"), ("mrt", "m-.")]:
            ax.plot(g["snr_db"], g[m], style, label=m, ms=4)
        ax.set_title(f"{source}, K={k}, N={n}")
        ax.set_xlabel("SNR P/noise [dB]")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("sum rate [bit/s/Hz]")
    axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    import pandas as pd

    a = _args(argv)
    torch.set_num_threads(1)
    command = "scripts/beamforming_study.py " + shlex.join(argv if argv is not None
                                                           else sys.argv[1:])
    snrs = [float(s) for s in a.snr_db.split(",")]
    configs = [tuple(int(x) for x in c.split("x")) for c in a.configs.split(",")]
    bad = [c for c in configs if c[1] not in ARRAYS or c[0] > c[1]]
    if bad:
        raise SystemExit(f"--configs: {bad}: need K <= N and N in {sorted(ARRAYS)}")
    if a.checkpoint is not None and len(configs) * len(a.sources.split(",")) > 1:
        raise SystemExit("--checkpoint: holds one GNN; give one source and one config")
    a.out.mkdir(parents=True, exist_ok=True)
    rates, costs, gen = [], [], []
    for source in a.sources.split(","):
        for k, n in configs:
            print(f"{source} K={k} N={n}", flush=True)
            model = _train(k, n, _channels(source, k, n, a, "train"), snrs, a)
            test_h = _channels(source, k, n, a, "test")
            rates += _evaluate(source, k, n, model, test_h, snrs, a.seed)
            costs += _costs(source, k, n, model, test_h, a.cost_snr_db, a.seed,
                            a.cost_decisions, a.cost_repeats)
            gen += _generalise(source, k, n, model, a.cost_snr_db, a)
            pd.DataFrame(rates).to_csv(a.out / "sum_rate.csv", index=False)
    pd.DataFrame(costs).to_csv(a.out / "cost.csv", index=False)
    pd.DataFrame(gen).to_csv(a.out / "generalisation.csv", index=False)
    text, piv = _summary(rates, costs, gen, command, a.cost_snr_db)
    (a.out / "summary.md").write_text(text)
    _plot(piv, a.out / "sum_rate_vs_snr.png")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
