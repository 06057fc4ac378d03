"""Assemble and run one scenario in this process, and summarise it.

:func:`run_scenario` builds the :class:`~edgelam_ns3.sim.Simulation` of the config's network,
installs its traffic (:mod:`edgelam_ns3.traffic`), wires the traces (:class:`Recorder`:
messages, compute jobs, rounds and metrics, link states, CSI), starts the framework (by name,
:mod:`edgelam_ns3.frameworks`), runs until it finishes or ``sim.max_time_s``, and returns the
run's summary. :mod:`edgelam_ns3.runner` calls it in a child process.
"""

from __future__ import annotations

import platform
import time
import uuid
from pathlib import Path

import numpy as np

from . import traces as traces_mod
from .config import ScenarioConfig
from . import frameworks
from .frameworks.round_log import rounds_summary
from .run_control import RunControl, signal_name

LINK_COLS = ("rate_bps", "queue_bytes", "delivered_bytes", "dropped_packets")
"""Columns of a wired link's row in ``link_states.parquet`` (NaN in a radio UE's row)."""
RADIO_COLS = ("sinr_db", "dl_sinr_eff_db", "mcs_dl", "mcs_ul", "bler_dl", "bler_ul",
              "dl_throughput_bps", "ul_throughput_bps", "dl_queue_bytes", "ul_queue_bytes",
              "harq_retx", "csi_age_s", "sinr_est_db", "srs_sinr_db", "dl_layers",
              "dl_co_scheduled", "precoder_gain_db", "dl_ri", "dl_cqi", "dl_pmi")
"""Columns of a radio UE's row in ``link_states.parquet`` (NaN in a wired link's row)."""
FULL_RATE_COLS = ("dl_full_rate_bps", "ul_full_rate_bps")
"""A radio UE's rate with the whole carrier (:class:`~edgelam_ns3.radio.trace.FullCarrierRate`)."""


class Recorder:
    """The run's trace sinks: messages, compute jobs, rounds and metrics, link states (wired
    links and radio UEs in one table), and each UE's channel matrices (``trace.csi``)."""

    def __init__(self, cfg: ScenarioConfig, trace_dir: Path):
        self.cfg = cfg
        self.tw = traces_mod.TraceWriter(trace_dir)
        self.servers = {cfg.train.server}
        self.bytes_by_tag: dict[str, int] = {}
        self.flow = {"up": 0, "down": 0}
        self.rows: list[dict] = []
        self.csi_t: list[float] = []
        self.csi_h: list[np.ndarray] = []
        self.csi_est: list[np.ndarray] = []
        self.csi_age: list[np.ndarray] = []
        self.gnb_names = cfg.gnb_names()
        self.sim = None
        if cfg.radio.mode == "nr":
            from .radio.trace import FullCarrierRate
            self.full_rate = FullCarrierRate(cfg.radio)
        self.t_wall0 = time.perf_counter()
        self.events = 0  # messages delivered, compute jobs and rounds finished: the progress

    def attach(self, sim) -> None:
        """Tap ``sim``'s link states every ``trace.link_state_period_s``."""
        self.sim = sim
        sim.every(self.cfg.trace.link_state_period_s, self.on_links)

    def on_message(self, m) -> None:
        self.events += 1
        tag = m.tag.split(":")[0]
        self.bytes_by_tag[tag] = self.bytes_by_tag.get(tag, 0) + m.bytes
        self.flow["up" if m.dst in self.servers else "down"] += m.bytes
        self.tw.append("messages", {
            "id": m.id, "src": m.src, "dst": m.dst, "bytes": m.bytes, "tag": m.tag,
            "protocol": m.protocol, "t_send_s": m.t_send_s, "t_first_byte_s": m.t_first_byte_s,
            "t_delivered_s": m.t_delivered_s})

    def on_job(self, rec: dict) -> None:
        self.events += 1
        self.tw.append("compute", dict(rec))

    def on_round(self, row: dict) -> None:
        self.events += 1
        self.rows.append(row)
        self.tw.append("metrics", {"step": row["round"], "t_s": row["t_end_s"],
                                   "loss": row["loss"], "eval_loss": row["eval_loss"]})
        self.tw.append("rounds", row)
        extra = f"  eval {row['eval_loss']:7.4f}"
        if "epsilon" in row:
            extra += f"  eps {row['epsilon']:.2f}"
        print(f"[sim {row['t_end_s']:9.4f} s] round {row['round'] + 1:4d}/{self.cfg.train.steps}  "
              f"loss {row['loss']:7.4f}{extra}  (wall {time.perf_counter() - self.t_wall0:6.1f} s)",
              flush=True)

    def on_links(self, st) -> None:
        nan = float("nan")
        if self.cfg.trace.csi and st.radio is not None:
            self.csi_t.append(st.t_s)
            c = [self.sim.csi(str(u)) for u in st.radio["ue"]]
            self.csi_h.append(np.stack([x["true"] for x in c]).astype(np.complex64))
            self.csi_est.append(np.stack([x["true"] if x["estimate"] is None else x["estimate"]
                                          for x in c]).astype(np.complex64))
            self.csi_age.append(np.array([x["age_s"] for x in c]))
        for i in range(len(st.src)):
            row = {"t_s": st.t_s, "kind": "link", "src": str(st.src[i]), "dst": str(st.dst[i])}
            row.update({c: float(getattr(st, c)[i]) for c in LINK_COLS})
            row.update({c: nan for c in RADIO_COLS + FULL_RATE_COLS})
            self.tw.append("link_states", row)
        if st.radio is not None:
            r = st.radio
            for u in range(len(r["ue"])):
                row = {"t_s": st.t_s, "kind": "ue",
                       "src": self.gnb_names[int(r["serving_cell"][u])], "dst": str(r["ue"][u])}
                row.update({c: nan for c in LINK_COLS})
                row.update({c: float(r[c][u]) for c in RADIO_COLS})
                for d in ("dl", "ul"):  # replayable as a trace (radio.trace)
                    row[f"{d}_full_rate_bps"] = self.full_rate(row["dst"], d, row[f"mcs_{d}"],
                                                               row[f"bler_{d}"])
                self.tw.append("link_states", row)

    def close(self, merge_parts: bool = True) -> None:
        self.tw.close(merge_parts)

    def write_csi(self, out: Path) -> dict:
        """Save the recorded channel matrices to ``traces/csi.npz``; :return: its summary
        entry (empty when none were recorded)."""
        if not self.csi_h:
            return {}
        np.savez(out / "traces" / "csi.npz", t_s=np.array(self.csi_t), h=np.stack(self.csi_h),
                 h_est=np.stack(self.csi_est), age_s=np.stack(self.csi_age),
                 ue=np.array([f"ue{u}" for u in range(self.cfg.n_ues())]))
        return {"csi_file": "traces/csi.npz"}


def provenance(cfg: ScenarioConfig) -> dict:
    """What makes the run reproducible: versions, seed and run number, a run id, the start."""
    from importlib import metadata

    from . import __version__, _load_core

    return {
        "edgelam_ns3": __version__,
        "ns3": _load_core().NS3_VERSION,
        "torch": metadata.version("torch"),  # without importing it (traffic-only runs)
        "python": platform.python_version(),
        "seed": cfg.seed,
        "run": cfg.run,
        "run_id": uuid.uuid4().hex,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def start_framework(cfg: ScenarioConfig, sim, rec: Recorder):
    """Create the scenario's framework (or the traffic-only run), say what runs, start it."""
    if cfg.train.framework == "none":
        from .traffic import TrafficOnly

        framework = TrafficOnly(cfg, sim)
        print(f"edgelam: {cfg.name}: traffic only, {cfg.n_ues()} UEs, radio "
              f"{cfg.radio.mode}, {cfg.traffic.duration_s} s", flush=True)
    else:
        from .frameworks import framework_class

        if cfg.compute.execution == "recorded":  # the torch-free timing replay
            from .replay_timing import TIMING_FRAMEWORKS
            cls = TIMING_FRAMEWORKS[cfg.train.framework]
        else:
            cls = framework_class(cfg.train.framework)
        framework = cls(cfg, sim, on_job=rec.on_job, on_round=rec.on_round)
        if hasattr(framework, "attach_recorder"):  # writes its own tables (inference)
            framework.attach_recorder(rec)
        policy = f" (policy {cfg.train.policy})" if cfg.train.policy else ""
        line = framework.start_line() if hasattr(framework, "start_line") else (
            f"{cfg.train.framework}{policy}, {cfg.nodes.n_devices} devices, server "
            f"{cfg.train.server}, radio {cfg.radio.mode}, {cfg.train.steps} rounds")
        print(f"edgelam: {cfg.name}: {line}", flush=True)
    framework.start()
    return framework


def run_scenario(cfg: ScenarioConfig, out: Path, control: RunControl | None = None,
                 merge_traces: bool = True) -> dict:
    """Run the scenario in this process, traces under ``out/traces``; ``control`` (signals, the
    stall watchdog) may end it early. :return: the summary: ``status`` "ok", "incomplete" (the
    framework did not finish: ``sim.max_time_s`` reached, or stalled for ``sim.stall_stop_s``)
    or "interrupted" (a signal), with the reason in ``error``. ``merge_traces`` False leaves
    the trace parts for the caller to merge (:func:`edgelam_ns3.traces.merge`; the launcher
    does, so its child never imports pyarrow)."""
    from .arq import MessageLost
    from .radio.summary import RateWindow, radio_summary, traffic_summary
    from .sim import Simulation
    from .topology import network_spec
    from .traffic import install_traffic

    if cfg.train.framework != "none" and cfg.compute.execution != "recorded":
        import torch  # a traffic-only run or a recorded timing replay never imports torch

        torch.set_num_threads(cfg.sim.torch_threads)
        torch.manual_seed(cfg.seed)
    rec = Recorder(cfg, out / "traces")
    summary = {"scenario": cfg.name, "radio": cfg.radio.mode, "framework": cfg.train.framework,
               "policy": cfg.train.policy, "provenance": provenance(cfg)}
    with Simulation(network_spec(cfg), seed=cfg.seed, run=cfg.run, bridge=cfg.bridge,
                    on_message=rec.on_message) as sim:
        flows = install_traffic(cfg, sim)
        window = RateWindow(cfg, sim, flows)  # of every rate in the summary
        rec.attach(sim)
        framework = start_framework(cfg, sim, rec)
        control = control or RunControl()
        control.attach(sim, None if cfg.train.framework == "none" else lambda: rec.events,
                       check_period(cfg))
        lost = None
        try:
            if control.signum is None:
                sim.run(until_s=cfg.sim.max_time_s)
        except MessageLost as exc:  # every copy of a UDP message dropped: the run cannot go on
            lost = f"MessageLost: {exc}"
        finally:
            control.detach()
            rec.close(merge_traces)
        if sim.has_radio:
            _merge(summary, radio_summary(cfg, sim, window))
        summary.update(rec.write_csi(out))
        if flows:
            serving = {ue: e["serving_cell"] for ue, e in summary.get("ues", {}).items()}
            _merge(summary, traffic_summary(cfg, sim, flows, window, serving))
        summary.update(_run_figures(cfg, sim, framework, rec))
    if not framework.finished:
        summary["status"], summary["error"] = unfinished(cfg, control, len(rec.rows),
                                                         summary["sim_time_s"])
    if lost:
        summary["status"], summary["error"] = "failed", lost
    summary["wall_time_s"] = time.perf_counter() - rec.t_wall0
    return summary


def check_period(cfg: ScenarioConfig) -> float:
    """Simulated seconds between two checks of the stall watchdog: a tenth of its shortest
    limit (at most 1 s)."""
    limits = [x for x in (cfg.sim.stall_warn_s, cfg.sim.stall_stop_s) if x]
    return min(limits + [10.0]) / 10


def unfinished(cfg: ScenarioConfig, control: RunControl, rounds: int, t_s: float) \
        -> tuple[str, str]:
    """The status and reason of a run whose framework did not finish."""
    done = (f" after {rounds} of {cfg.train.steps} rounds"
            if cfg.train.framework in frameworks.ROUND_BASED else "")
    if control.signum is not None:
        return "interrupted", (f"interrupted by {signal_name(control.signum)} at simulated "
                               f"t={t_s:.4g} s{done}")
    if control.stalled:
        return "incomplete", f"{control.stalled}{done}"
    return "incomplete", f"stopped at sim.max_time_s={cfg.sim.max_time_s:g} s{done}"


def _run_figures(cfg: ScenarioConfig, sim, framework, rec: Recorder) -> dict:
    """Status, simulated time, bytes, the training figures of the rounds, and the framework's
    own entries (its ``summary()``)."""
    rows, n = rec.rows, len(rec.rows)
    out = dict(status="ok" if framework.finished else "incomplete", sim_time_s=sim.now,
               steps=n, rounds=n, bytes_sent=sim.bytes_sent, bytes_up=rec.flow["up"],
               bytes_down=rec.flow["down"], bytes_by_tag=rec.bytes_by_tag,
               mean_round_s=(sim.now / n) if n else None)
    out.update(rounds_summary(rows, cfg.train.target_loss))
    if rows:
        out["bytes_per_round"] = {"up": rec.flow["up"] / n, "down": rec.flow["down"] / n}
    if cfg.transport.protocol == "udp":
        out["udp"] = sim.udp_stats()  # retransmissions and acknowledgements (edgelam_ns3.arq)
    if hasattr(framework, "participation"):
        out["participation"] = (framework.participation / max(n, 1)).tolist()
    out.update(framework.summary())
    if cfg.compute.execution == "cost":
        out["execution"] = ("cost: timing only (the jobs ran on meta tensors: compute charges "
                            "and timing as a real run, losses not computed, NaN)")
    elif cfg.compute.execution == "recorded":
        out["execution"] = ("recorded: timing only (no job ran: each was charged the FLOPs "
                            f"and bytes {cfg.compute.record} recorded for its job and input "
                            "shapes; losses not computed, NaN)")
    if getattr(framework, "costs", None) is not None:  # compute.accounting: cached
        out["accounting"] = framework.costs.stats()
    return out


def _merge(summary: dict, part: dict) -> None:
    """Add ``part`` to ``summary``, merging the entries both have (per-UE and per-cell
    figures of the radio and of the traffic)."""
    for k, v in part.items():
        if isinstance(v, dict) and isinstance(summary.get(k), dict):
            _merge(summary[k], v)
        else:
            summary[k] = v
