"""Channel prediction in the loop (issue 11.7; ``train.framework: channel_prediction``).

Every SRS period the serving gNB reads its new SRS estimate of each UE (``Simulation.csi``)
half a slot before the slot that first uses it, and, in modes ``ar`` and ``lam``, sends the
estimates of all its UEs to the predictor on ``train.server`` as one message whose size is
the tensor's (complex64 [n_ue, rx_ant, tx_ant, subband]). The edge server keeps the last
``prediction.history`` estimates per UE; once its predictor is ready it predicts the channel
one SRS period after the newest sounding (a job on its compute profile, charged by
:class:`~edgelam_ns3.compute.Device`), and sends the prediction back (again the tensor's
bytes). At its arrival the gNB's CSI of each UE is replaced by the prediction from the next
slot on (``Simulation.set_csi(at_time=arrival)``), until the next SRS estimate is read (the
gNB returns to its own estimate, ``set_csi(ue, None)``) and the next prediction arrives.

The predictors are fitted in the run on the estimates the edge server received during
``prediction.warmup_s``: AR(p) picks its order (``prediction.ar_orders``) by the NMSE of
one-step predictions of those windows; the LAM (GPT-2 from a config, no download) is trained
on them (all its parameters, ``prediction.lam``). The training jobs are charged on the edge
server too. Modes ``aged`` (the gNB's own estimates) and ``ideal`` (a genie: the true channel
set half a slot before each slot) send nothing.

Outputs: ``summary.json``'s ``prediction`` (per-UE and cell DL throughput, BLER, effective
SINR and MCS over ``[measure_from_s, measure_from_s + measure_s)``, the NMSE of the gNB's CSI
against the true channel, sampled every slot of the window, bytes, job times) and the
trace tables ``csi_events`` (each
sounding read, prediction applied and NMSE sample) and ``prediction_ues`` (the per-UE
results).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..config import ScenarioConfig

__all__ = ["ChannelPredictionLoop", "windows", "nmse_db_of"]


def windows(series: np.ndarray, past: int, future: int = 1):
    """Training windows of a received history ``series`` [T, U, M, S] (T soundings, U UEs):
    histories [N, past, M, S] and futures [N, future, M, S], N = U (T - past - future + 1)."""
    t = series.shape[0]
    idx = range(past, t - future + 1)
    hist = np.concatenate([np.moveaxis(series[i - past:i], 1, 0) for i in idx])
    fut = np.concatenate([np.moveaxis(series[i:i + future], 1, 0) for i in idx])
    return hist, fut


def nmse_db_of(est: np.ndarray, true: np.ndarray) -> float:
    """NMSE of one UE's CSI ``est`` against ``true`` (any equal shapes), dB."""
    return float(10 * np.log10(np.sum(np.abs(est - true) ** 2) / np.sum(np.abs(true) ** 2)))


class _Predictor:
    """A fitted predictor on the edge server: ``self(hist)`` maps histories [U, P, M, S]
    complex64 (torch) to one-step predictions [U, M, S]."""

    def __init__(self, kind: str, model):
        self.kind, self.model = kind, model

    def __call__(self, hist):
        import torch

        with torch.no_grad():
            u, p, m, s = hist.shape
            if self.kind == "ar":
                return self.model(hist.reshape(u, p, m * s))[:, 0].reshape(u, m, s)
            x = hist.permute(0, 2, 1, 3).reshape(u * m, p, s)
            return self.model(x)[:, 0].reshape(u, m, s)


def fit_ar(series: np.ndarray, cfg) -> tuple[_Predictor, dict]:
    """The AR order of least one-step NMSE on the warm-up windows of ``series``."""
    import torch

    from ..models.channel_predictors import ArPredictor

    hist, fut = windows(series, cfg.history)
    n, p, m, s = hist.shape
    h = torch.from_numpy(hist.reshape(n, p, m * s))
    best = None
    for order in cfg.ar_orders:
        pred = ArPredictor(order)(h).numpy().reshape(n, 1, m, s)
        err = np.sum(np.abs(pred - fut) ** 2) / np.sum(np.abs(fut) ** 2)
        if best is None or err < best[1]:
            best = (order, err)
    return _Predictor("ar", ArPredictor(best[0])), {"ar_order": best[0],
                                                   "fit_nmse_db": float(10 * np.log10(best[1]))}


def train_lam(series: np.ndarray, cfg, seed: int) -> tuple[_Predictor, dict]:
    """Build the LAM from its config and train all its parameters on the warm-up windows."""
    import torch

    from ..channel_prediction import TrainConfig, train
    from ..models.channel_predictors import LamPredictor

    hist, fut = windows(series, cfg.history)
    torch.manual_seed(seed)
    lam = cfg.lam
    model = LamPredictor(cfg.history, 1, hist.shape[-1], lam.n_embd, lam.n_layer, lam.n_head)
    losses = train(model, hist, fut, TrainConfig(steps=lam.train_steps, batch=lam.batch,
                                                 lr=lam.lr, snrs_db=(None,), seed=seed))
    return _Predictor("lam", model), {"train_loss_first": losses[0],
                                      "train_loss_last": float(np.mean(losses[-10:]))}


class ChannelPredictionLoop:
    """The gNB -> edge predictor -> gNB loop of ``cfg.prediction`` on ``sim`` (see the module
    docstring). Finishes at the end of the measurement window."""

    name = "channel_prediction"

    def __init__(self, cfg: ScenarioConfig, sim, on_job: Callable[[dict], None] | None = None,
                 on_round: Callable[[dict], None] | None = None):
        from ..compute import CostCache, Device
        from ..topology import profile

        self.cfg, self.sim, self.p = cfg, sim, self.section(cfg)
        self.mode = getattr(self.p, "csi", None) or self.p.method  # what the rows are of
        self.ues = [f"ue{u}" for u in range(cfg.n_ues())]
        self.host = cfg.train.server
        fed = getattr(self.p, "federated", None) is not None and self.p.federated.mode != "none"
        edges = [f"edge{u % cfg.nodes.n_edge}" for u in range(len(self.ues))] if fed \
            else [self.host] * len(self.ues)
        self.groups = {e: [u for u, x in enumerate(edges) if x == e] for e in dict.fromkeys(edges)}
        costs = CostCache() if cfg.compute.accounting == "cached" else None
        self.devices = {e: Device(e, profile(cfg, e), sim, on_job, costs)
                        for e in {self.host, *self.groups}}
        r = cfg.radio
        self.slot_s = 1e-3 / 2 ** r.numerology
        self.period = r.csi.srs_period_slots
        self.first_usable = r.csi.offset(r.tdd_pattern) + r.csi.processing_delay_slots
        self.series: dict[str, list[np.ndarray]] = {e: [] for e in self.groups}  # [U_e, M, S]
        self.predictor: dict[str, _Predictor] = {}
        self.finetune = None
        self.fit: dict = {}
        self.ready_s: float | None = None
        self.training = False
        self.external = False
        self.tw = None
        self.events: list[dict] = []
        self.nmse: dict[str, list[float]] = {"csi": [], "aged": []}
        self.bytes = {"csi": 0, "prediction": 0}
        self.predict_s: list[float] = []
        self.snap0 = self.result = self.last_est = None
        self.finished = False

    @staticmethod
    def section(cfg: ScenarioConfig):
        """The config section this framework reads."""
        return cfg.prediction

    # -- wiring -------------------------------------------------------------------------------

    def attach_recorder(self, rec) -> None:
        """Write the ``csi_events`` and ``prediction_ues`` tables with the run's writer."""
        self.tw = rec.tw

    def _event(self, row: dict) -> None:
        if self.tw is not None:
            self.tw.append("csi_events", {"csi": self.mode, **row})

    def start_line(self) -> str:
        p = self.p
        return (f"channel_prediction, CSI {p.csi}, {len(self.ues)} UEs, predictor on "
                f"{self.host}, SRS every {self.period} slots, measured "
                f"{p.measure_from_s:g}-{p.measure_from_s + p.measure_s:g} s")

    def start(self) -> None:
        self._schedule_sounding(0)
        p = self.p
        self.sim.schedule(p.measure_from_s, self._measure_start)
        self.sim.schedule(p.measure_from_s + p.measure_s, self._measure_end)
        if p.csi == "ideal":
            self.sim.schedule(self.slot_s / 2, self._genie)

    def gnb_of(self, ue: str) -> str:
        names = self.cfg.gnb_names()
        return names[int(self.sim.radio_ue_stats()["serving_cell"][int(ue[2:])])]

    # -- the gNB side ----------------------------------------------------------------------

    def _schedule_sounding(self, k: int) -> None:
        """Read the k-th SRS estimates half a slot before the slot that first uses them."""
        t = (self.first_usable + k * self.period - 0.5) * self.slot_s
        self.sim.schedule(max(t - self.sim.now, 0.0), self._sounding, k)

    def _sounding(self, k: int) -> None:
        self._schedule_sounding(k + 1)
        if self.external:  # back to the gNB's own, fresh estimate until a prediction arrives
            for ue in self.ues:
                self.sim.set_csi(ue, None)
            self.external = False
        c = [self.sim.csi(ue) for ue in self.ues]
        if any(x["estimate"] is None for x in c):
            return
        est = np.stack([x["estimate"].reshape(-1, x["estimate"].shape[-1]) for x in c])
        est = est.astype(np.complex64)  # [U, M, S]
        t_srs = self.sim.now - c[0]["age_s"]
        target = t_srs + self.period * self.slot_s
        self.last_est = est
        self._event({"t_s": self.sim.now, "event": "sounding", "t_info_s": t_srs})
        if self.p.csi in ("ar", "lam"):
            gnb = self.gnb_of(self.ues[0])
            for edge, idx in self.groups.items():
                part = est[idx]
                self.bytes["csi"] += part.nbytes
                self.sim.send(gnb, edge, part.nbytes,
                              lambda msg, e=edge, x=part: self._at_edge(e, x, target, gnb),
                              tag="csi")

    def _score(self) -> None:
        """Every slot of the measurement window, half a slot in: the NMSE of the CSI the next
        slot uses, and of the newest SRS estimate (aged CSI), against the true channel now."""
        if self.result is not None:
            return
        self.sim.schedule(self.slot_s, self._score)
        for u, ue in enumerate(self.ues):
            c = self.sim.csi(ue)
            true = c["true"].reshape(self.last_est[u].shape)
            self.nmse["csi"].append(nmse_db_of(c["estimate"].reshape(true.shape), true))
            self.nmse["aged"].append(nmse_db_of(self.last_est[u], true))

    def _apply(self, edge: str, pred: np.ndarray, target: float) -> None:
        for u, p in zip(self.groups[edge], pred):
            ue = self.ues[u]
            self.sim.set_csi(ue, p.reshape(self.sim.csi(ue)["true"].shape), at_time=self.sim.now)
        self.external = True
        self._event({"t_s": self.sim.now, "event": "prediction", "t_info_s": target})

    def _genie(self) -> None:
        for ue in self.ues:
            self.sim.set_csi(ue, self.sim.csi(ue)["true"], at_time=self.sim.now)
        self.sim.schedule(self.slot_s, self._genie)

    # -- the edge server ---------------------------------------------------------------------

    def _at_edge(self, edge: str, est: np.ndarray, target: float, gnb: str) -> None:
        self.series[edge].append(est)
        p = self.p
        if edge not in self.predictor:
            if edge == self.host and self.sim.now >= p.warmup_s and not self.training:
                self.training = True
                self.devices[edge].submit(f"fit_{p.csi}", self._fit, self._fitted)
            return
        if len(self.series[edge]) < p.history:
            return
        import torch

        hist = torch.from_numpy(np.stack(self.series[edge][-p.history:], axis=1))  # [U,P,M,S]
        t0 = self.sim.now

        def done(pred):
            self.predict_s.append(self.sim.now - t0)
            out = pred.numpy()
            self.bytes["prediction"] += out.nbytes
            self.sim.send(edge, gnb, out.nbytes, lambda msg: self._apply(edge, out, target),
                          tag="prediction")

        self.devices[edge].submit(f"predict_{p.csi}", lambda: self.predictor[edge](hist), done,
                                  key=(p.csi, tuple(hist.shape)))

    def _fit(self):
        series = np.stack(self.series[self.host])
        if self.p.csi == "ar":
            return fit_ar(series, self.p)
        return train_lam(series, self.p, self.cfg.seed)

    def _fitted(self, result) -> None:
        predictor, self.fit = result
        print(f"[sim {self.sim.now:9.4f} s] {self.p.csi} predictor trained on {self.host}: "
              f"{self.fit}", flush=True)
        if self.p.federated.mode == "none":
            self._ready(self.host, predictor)
            return
        from .channel_prediction_fed import AdapterFinetune

        n = min(len(x) for x in self.series.values())  # soundings every edge server has
        shards = {e: windows(np.stack(self.series[e][:n]), self.p.history) for e in self.groups}
        self.finetune = AdapterFinetune(
            self.sim, {e: self.devices[e] for e in self.groups}, self.host, shards,
            predictor.model, self.p.federated, self.cfg.seed,
            lambda e, m: self._ready(e, _Predictor("lam", m)),
            lambda row: self.tw is not None and self.tw.append("finetune", row))
        self.finetune.start()

    def _ready(self, edge: str, predictor: _Predictor) -> None:
        self.predictor[edge] = predictor
        self.ready_s = self.sim.now
        if self.finetune is not None:
            print(f"[sim {self.sim.now:9.4f} s] {edge} has the fine-tuned predictor", flush=True)

    # -- measurement --------------------------------------------------------------------------

    def _measure_start(self) -> None:
        self.snap0 = (self.sim.now, self.sim.radio_ue_stats())
        slot = np.floor(self.sim.now / self.slot_s + 1e-9)
        self.sim.schedule((slot + 1.5) * self.slot_s - self.sim.now, self._score)

    def _measure_end(self) -> None:
        t0, s0 = self.snap0
        s1, dt = self.sim.radio_ue_stats(), self.sim.now - t0
        d = {k: np.asarray(s1[k], float) - np.asarray(s0[k], float)
             for k in ("dl_mac_bytes", "dl_tb_first", "dl_tb_first_err", "dl_sum_sinr_eff_db",
                       "dl_sum_mcs")}
        n = np.maximum(d["dl_tb_first"], 1)
        rows = [{"csi": self.mode, "ue": ue, "dl_throughput_bps": d["dl_mac_bytes"][u] * 8 / dt,
                 "dl_bler": d["dl_tb_first_err"][u] / n[u],
                 "dl_sinr_eff_db": d["dl_sum_sinr_eff_db"][u] / n[u],
                 "dl_mcs": d["dl_sum_mcs"][u] / n[u], "dl_tb_first": int(d["dl_tb_first"][u])}
                for u, ue in enumerate(self.ues)]
        if self.tw is not None:
            for row in rows:
                self.tw.append("prediction_ues", row)
        self.result = rows
        self.finished = True
        self.sim.stop()

    def summary(self) -> dict:
        """``prediction``: the CSI mode, cell and per-UE DL figures over the window, the NMSE
        of the gNB's CSI in use (and of the newest SRS estimate) against the truth, every slot
        of the window, bytes and job times."""
        out = {"csi": self.mode, "ready_s": self.ready_s, "fit": self.fit,
               "bytes": dict(self.bytes)}
        if self.finetune is not None:
            out["finetune"] = self.finetune.summary()
        if self.result:
            thr = np.array([r["dl_throughput_bps"] for r in self.result])
            out.update(cell_dl_throughput_bps=float(thr.sum()),
                       mean_dl_bler=float(np.mean([r["dl_bler"] for r in self.result])),
                       mean_dl_sinr_eff_db=float(np.mean([r["dl_sinr_eff_db"]
                                                          for r in self.result])),
                       ues=self.result)
        for k, v in self.nmse.items():
            if v:
                out[f"nmse_{k}_db"] = float(10 * np.log10(np.mean(10 ** (np.array(v) / 10))))
        if self.predict_s:
            out["predict_to_send_s"] = float(np.mean(self.predict_s))
        return {"prediction": out}
