"""Run one scenario into a run directory.

The parent (:func:`launch`) validates the config, writes ``config.yaml`` and runs the
simulation in a child process (``python -m edgelam_ns3.runner RUN_DIR``): ns-3's simulator is
a process singleton, and a fatal ns-3 error aborts the whole process, so the caller must not
share it. The child streams progress and writes traces incrementally; the parent tees the
child's output to ``stdout.log``, then merges the traces, draws the plots and writes
``summary.json`` and ``report.md`` — also when the child failed, so nothing written is lost.

A run directory holds: ``config.yaml`` (resolved), ``summary.json``, ``traces/*.parquet``,
``loss.png``, ``report.md``, ``stdout.log``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path

from . import config as config_mod
from . import traces as traces_mod

RESULT_FILE = ".child_result.json"


def default_run_dir(cfg: config_mod.ScenarioConfig) -> Path:
    """``runs/<name>-<UTC time>`` under the current directory."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return Path("runs") / f"{cfg.name}-{stamp}-{uuid.uuid4().hex[:4]}"


def launch(cfg: config_mod.ScenarioConfig, out_dir: str | Path | None = None,
           quiet: bool = False) -> dict:
    """Run ``cfg`` in a child process; return the summary (``summary["status"]`` is "ok" or
    "failed")."""
    out = Path(out_dir) if out_dir else default_run_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(config_mod.to_yaml(cfg))
    (out / RESULT_FILE).unlink(missing_ok=True)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(cfg.sim.torch_threads))
    env.setdefault("MKL_NUM_THREADS", str(cfg.sim.torch_threads))
    t0 = time.perf_counter()
    with (out / "stdout.log").open("w") as log:
        with subprocess.Popen([sys.executable, "-u", "-m", "edgelam_ns3.runner", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env) as proc:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                if not quiet:
                    sys.stdout.write(line)
                    sys.stdout.flush()
            rc = proc.wait()
    wall = time.perf_counter() - t0
    result_path = out / RESULT_FILE
    summary = json.loads(result_path.read_text()) if result_path.exists() else {}
    result_path.unlink(missing_ok=True)
    tables = traces_mod.merge(out / "traces") if (out / "traces").exists() else {}
    if rc != 0 or summary.get("status") != "ok":
        tail = (out / "stdout.log").read_text().strip().splitlines()[-5:]
        summary.update(status="failed", exit_code=rc,
                       error=summary.get("error") or (tail[-1] if tail else f"exit code {rc}"))
    summary["wall_time_s"] = summary.get("wall_time_s", wall)
    summary["launcher_wall_time_s"] = wall
    summary["run_dir"] = str(out)
    from . import report
    try:
        summary["plots"] = report.plots(out, tables)
    except Exception as exc:  # a plot must not lose the run's results
        summary["plots_error"] = f"{type(exc).__name__}: {exc}"
    (out / "summary.json").write_text(json.dumps(_json_safe(summary), indent=2, default=str) + "\n")
    report.write_report(out, summary)
    return summary


def _json_safe(obj):
    """NaN and infinities as null: summary.json stays standard JSON."""
    import math

    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _provenance(cfg) -> dict:
    import torch

    from . import __version__, _load_core

    return {
        "edgelam_ns3": __version__,
        "ns3": _load_core().NS3_VERSION,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "seed": cfg.seed,
        "run": cfg.run,
        "run_id": uuid.uuid4().hex,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def framework_class(name: str):
    """The framework class registered under ``train.framework``."""
    from .frameworks.centralized import Centralized
    from .frameworks.fed_lora import FedLoRA
    from .frameworks.looped_tp import LoopedTP
    from .frameworks.split_fed_lora import SplitFedLoRA
    from .frameworks.split_learning import SplitLearning

    return {"split_learning": SplitLearning, "split_fed_lora": SplitFedLoRA, "fed_lora": FedLoRA,
            "centralized": Centralized, "looped_tp": LoopedTP}[name]


BREAKDOWN = ("latency_s", "device_compute_s", "uplink_s", "server_compute_s", "downlink_s")


def run_in_process(cfg: config_mod.ScenarioConfig, out: Path) -> dict:
    """Run the scenario in this process (the child's job); returns the summary."""
    import torch

    from .sim import Simulation
    from .topology import network_spec

    torch.set_num_threads(cfg.sim.torch_threads)
    torch.manual_seed(cfg.seed)
    tw = traces_mod.TraceWriter(out / "traces")
    summary = {"scenario": cfg.name, "radio": cfg.radio.mode, "framework": cfg.train.framework,
               "policy": cfg.train.policy, "provenance": _provenance(cfg)}
    bytes_by_tag: dict[str, int] = {}
    servers = {cfg.train.server}
    flow = {"up": 0, "down": 0}

    def on_message(m):
        tag = m.tag.split(":")[0]
        bytes_by_tag[tag] = bytes_by_tag.get(tag, 0) + m.bytes
        flow["up" if m.dst in servers else "down"] += m.bytes
        tw.append("messages", {"id": m.id, "src": m.src, "dst": m.dst, "bytes": m.bytes,
                               "tag": m.tag, "protocol": m.protocol, "t_send_s": m.t_send_s,
                               "t_first_byte_s": m.t_first_byte_s,
                               "t_delivered_s": m.t_delivered_s})

    def on_job(rec):
        tw.append("compute", dict(rec))

    rows: list[dict] = []
    t_wall0 = time.perf_counter()
    target = cfg.train.target_loss
    time_to_target = None

    def on_round(row):
        nonlocal time_to_target
        rows.append(row)
        t = row["t_end_s"]
        metric = {"step": row["round"], "t_s": t, "loss": row["loss"]}
        if "eval_loss" in row:
            metric["eval_loss"] = row["eval_loss"]
        tw.append("metrics", metric)
        if len(row) > 5:
            tw.append("rounds", row)
        watched = row.get("eval_loss", row["loss"])
        if target is not None and time_to_target is None and watched <= target:
            time_to_target = t
        extra = f"  eval {row['eval_loss']:7.4f}" if "eval_loss" in row else ""
        if "epsilon" in row:
            extra += f"  eps {row['epsilon']:.2f}"
        print(f"[sim {t:9.4f} s] round {row['round'] + 1:4d}/{cfg.train.steps}  "
              f"loss {row['loss']:7.4f}{extra}  (wall {time.perf_counter() - t_wall0:6.1f} s)",
              flush=True)

    gnb_names = cfg.gnb_names()
    nan = float("nan")
    link_cols = ("rate_bps", "queue_bytes", "delivered_bytes", "dropped_packets")
    radio_cols = ("sinr_db", "dl_sinr_eff_db", "mcs_dl", "mcs_ul", "bler_dl", "bler_ul",
                  "dl_throughput_bps", "ul_throughput_bps", "dl_queue_bytes", "ul_queue_bytes",
                  "harq_retx")

    csi_t: list[float] = []
    csi_h: list = []

    def on_links(st):
        if cfg.trace.csi and st.radio is not None:
            import numpy as np

            csi_t.append(st.t_s)
            csi_h.append(np.stack([sim.csi(str(u)) for u in st.radio["ue"]]).astype(np.complex64))
        # one schema for both kinds of row: wired links ("link") and radio UEs ("ue")
        for i in range(len(st.src)):
            row = {"t_s": st.t_s, "kind": "link", "src": str(st.src[i]), "dst": str(st.dst[i])}
            row.update({c: float(getattr(st, c)[i]) for c in link_cols})
            row.update({c: nan for c in radio_cols})
            tw.append("link_states", row)
        if st.radio is not None:
            r = st.radio
            for u in range(len(r["ue"])):
                row = {"t_s": st.t_s, "kind": "ue", "src": gnb_names[int(r["serving_cell"][u])],
                       "dst": str(r["ue"][u])}
                row.update({c: nan for c in link_cols})
                row.update({c: float(r[c][u]) for c in radio_cols})
                tw.append("link_states", row)

    with Simulation(network_spec(cfg), seed=cfg.seed, run=cfg.run, on_message=on_message) as sim:
        flows = install_traffic(cfg, sim)
        sim.every(cfg.trace.link_state_period_s, on_links)
        if cfg.train.framework == "none":
            framework = TrafficOnly(cfg, sim)
            print(f"edgelam: {cfg.name}: traffic only, {cfg.n_ues()} UEs, radio "
                  f"{cfg.radio.mode}, {cfg.traffic.duration_s} s", flush=True)
        else:
            framework = framework_class(cfg.train.framework)(cfg, sim, on_job=on_job,
                                                             on_round=on_round)
            print(f"edgelam: {cfg.name}: {cfg.train.framework} (policy {cfg.train.policy}), "
                  f"{cfg.nodes.n_devices} devices, server {cfg.train.server}, radio "
                  f"{cfg.radio.mode}, {cfg.train.steps} rounds", flush=True)
        framework.start()
        try:
            sim.run(until_s=cfg.sim.max_time_s)
        finally:
            tw.close()
        if sim.has_radio:
            summary.update(radio_summary(cfg, sim))
        if csi_h:
            import numpy as np

            np.savez(out / "traces" / "csi.npz", t_s=np.array(csi_t), h=np.stack(csi_h),
                     ue=np.array([f"ue{u}" for u in range(cfg.n_ues())]))
            summary["csi_file"] = "traces/csi.npz"
        if flows:
            summary.update(traffic_summary(cfg, sim, flows, summary))
        n = len(rows)
        summary.update(
            status="ok" if framework.finished else "incomplete",
            sim_time_s=sim.now,
            steps=n,
            rounds=n,
            loss_first=rows[0]["loss"] if rows else None,
            loss_last=rows[-1]["loss"] if rows else None,
            time_to_target_s=time_to_target,
            target_loss=target,
            bytes_sent=sim.bytes_sent,
            bytes_up=flow["up"],
            bytes_down=flow["down"],
            bytes_by_tag=bytes_by_tag,
            mean_round_s=(sim.now / n) if n else None,
        )
        if rows and "eval_loss" in rows[0]:
            summary["eval_loss_first"] = rows[0]["eval_loss"]
            summary["eval_loss_last"] = rows[-1]["eval_loss"]
        if rows and "epsilon" in rows[-1]:
            summary["dp"] = {"epsilon": rows[-1]["epsilon"], "delta": cfg.train.dp.delta,
                             "noise_multiplier": cfg.train.dp.noise_multiplier}
        if rows and "device_compute_s" in rows[0]:
            summary["round_breakdown_mean_s"] = {
                k: sum(r[k] for r in rows) / n for k in BREAKDOWN}
            summary["bytes_per_round"] = {"up": flow["up"] / n, "down": flow["down"] / n}
        if hasattr(framework, "participation"):
            summary["participation"] = (framework.participation / max(n, 1)).tolist()
    if not framework.finished:
        summary["error"] = (f"stopped at sim.max_time_s={cfg.sim.max_time_s} s after "
                            f"{len(rows)} of {cfg.train.steps} rounds")
    summary["wall_time_s"] = time.perf_counter() - t_wall0
    return summary


class TrafficOnly:
    """No training: the scenario's traffic runs for ``traffic.duration_s``."""

    def __init__(self, cfg, sim):
        self.cfg, self.sim, self.finished, self.round = cfg, sim, False, 0

    def start(self):
        def stop():
            self.finished = True
            self.sim.stop()

        self.sim.schedule(self.cfg.traffic.start_s + self.cfg.traffic.duration_s, stop)


DL_PORT, UL_PORT = 30000, 40000


def install_traffic(cfg, sim) -> list[tuple[str, str, str, int]]:
    """Full-buffer UDP flows of ``traffic``: (direction, src, dst, port) each."""
    t = cfg.traffic
    if not (t.full_buffer_dl or t.full_buffer_ul):
        return []
    rate = t.rate_bps or (cfg.radio.bandwidth_hz * 7.4 * 1.2 if cfg.radio.mode == "nr"
                          else max(cfg.radio.ideal.full_band_rates(cfg.nodes.n_devices)) * 1.2)
    flows = []
    for u in range(cfg.n_ues()):
        ue = f"ue{u}"
        if t.full_buffer_dl:
            sim.add_udp_flow(t.source, ue, rate, t.packet_bytes, t.start_s, DL_PORT + u)
            flows.append(("dl", t.source, ue, DL_PORT + u))
        if t.full_buffer_ul:
            sim.add_udp_flow(ue, t.source, rate, t.packet_bytes, t.start_s, UL_PORT + u)
            flows.append(("ul", ue, t.source, UL_PORT + u))
    return flows


def traffic_summary(cfg, sim, flows, summary) -> dict:
    """Goodput of the traffic flows: per cell (sum) and per UE, in the summary's ``cell`` and
    ``ues`` entries."""
    elapsed = max(sim.now - cfg.traffic.start_s, 1e-12)
    cell = summary.setdefault("cell", {})
    ues = summary.setdefault("ues", {})
    for d in ("dl", "ul"):
        cell[f"{d}_goodput_bps"] = 0.0
    cells: dict[str, dict] = {}
    for d, src, dst, port in flows:
        gp = sim.udp_rx_bytes(dst, port) * 8 / elapsed
        ue = dst if d == "dl" else src
        ues.setdefault(ue, {})[f"{d}_goodput_bps"] = gp
        cell[f"{d}_goodput_bps"] += gp  # with several cells: the network's total
        serving = ues[ue].get("serving_cell")
        if serving is not None:
            per = cells.setdefault(serving, {"dl_goodput_bps": 0.0, "ul_goodput_bps": 0.0})
            per[f"{d}_goodput_bps"] += gp
    out = {"cell": cell, "ues": ues}
    if len(cells) > 1:
        out["cells"] = cells
    return out


def radio_summary(cfg, sim) -> dict:
    """The radio's figures: slots simulated, and per UE its serving cell, mean effective SINR
    and MCS of first transmissions, their BLER, and MAC throughput, per direction."""
    import math

    st = sim.radio_ue_stats()
    elapsed = max(sim.now, 1e-12)
    ues = {}
    cell = {"dl_mac_bps": 0.0, "ul_mac_bps": 0.0}
    gnbs = cfg.gnb_names()
    for u in range(len(st["serving_cell"])):
        e = {"serving_cell": gnbs[int(st["serving_cell"][u])]}
        for d in ("dl", "ul"):
            n = st[f"{d}_tb_first"][u]
            e[f"{d}_mean_sinr_db"] = st[f"{d}_sum_sinr_eff_db"][u] / n if n else math.nan
            e[f"{d}_mean_mcs"] = st[f"{d}_sum_mcs"][u] / n if n else math.nan
            e[f"{d}_bler"] = st[f"{d}_tb_first_err"][u] / n if n else math.nan
            e[f"{d}_mac_bps"] = st[f"{d}_mac_bytes"][u] * 8 / elapsed
            e[f"{d}_harq_retx"] = int(st[f"{d}_retx"][u])
            e[f"{d}_tb_lost"] = int(st[f"{d}_tb_lost"][u])
            cell[f"{d}_mac_bps"] += e[f"{d}_mac_bps"]
        ues[f"ue{u}"] = e
    return {"slots_simulated": sim.radio_slots(), "ues": ues, "cell": cell}


def _child(out: Path) -> int:
    import yaml

    result = out / RESULT_FILE
    try:
        cfg = config_mod.from_dict(yaml.safe_load((out / "config.yaml").read_text()))
        summary = run_in_process(cfg, out)
        if summary["status"] == "incomplete":
            summary["status"] = "ok"  # ran to its time limit: a result, with the reason noted
            summary["incomplete"] = True
    except BaseException as exc:
        import traceback

        traceback.print_exc()
        result.write_text(json.dumps({"status": "failed",
                                      "error": f"{type(exc).__name__}: {exc}"}))
        return 1
    result.write_text(json.dumps(summary, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(_child(Path(sys.argv[1])))
