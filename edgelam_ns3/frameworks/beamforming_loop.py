"""Beamforming in the loop (issue 11.8; ``train.framework: beamforming``).

Every SRS period, half a slot before the slot that first uses the gNB's new SRS estimates, the
gNB sends its CSI of all its UEs to ``train.server`` as one message of the tensor's size
(complex64 [S, K, N]: per subband, which is an RBG of the MAC). The edge server computes
MU-MIMO precoders per RBG for one group of all K single-antenna UEs, as a job on its
profile, and sends them back (complex64 [S, N, K]); from the slot of their arrival they are the
cell's precoders (``Simulation.set_precoders(ues, w, at_time=arrival)``).

Methods (``beamforming.method``): ``builtin`` (the MAC's own SUS grouping and precoders,
``radio.mimo``; nothing sent), ``zf`` (zero forcing, equal power), ``wmmse`` (Shi et al.
2011, from ZF with water-filling and RZF, :func:`edgelam_ns3.beamforming.wmmse`) and ``gnn``
(:class:`~edgelam_ns3.models.gnn_beamformer.GNNBeamformer`, trained in the run on the edge
server, unsupervised on the negative sum rate of the channels it received during
``beamforming.warmup_s``; until then the gNB uses its own precoders).

The channel each method sees is the gNB's estimate with its path gain, over the noise per
resource element: ``h_k 10^(pg_k / 20) / sqrt(k T F_UE)`` at transmit PSD ``P / (N_PRB 12
SCS)``, so ``P`` and ``noise = 1`` are the per-RE power and noise the MAC uses. A job's time
is the edge profile's roofline time of its FLOPs: :class:`~edgelam_ns3.compute.Device` charges
what ``compute.measure`` counts, and the loop adds, before sending, the time of what it does
not count (the other 6 real FLOPs of each complex multiply-add and the dense linear algebra:
:func:`edgelam_ns3.beamforming.decision_cost`), so WMMSE's iterations cost it staleness.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..config import ScenarioConfig
from .channel_prediction import ChannelPredictionLoop

K_BOLTZMANN, T0 = 1.380649e-23, 290.0


def precoder_fn(method: str, model=None, max_iter: int = 100) -> Callable:
    """``f(h [S, K, N] complex128, power, noise) -> v [S, N, K]``, each at total power
    ``power``."""
    from .. import beamforming as bf

    if method == "zf":
        return lambda h, p, n: bf.zf(h, p, n)
    if method == "wmmse":
        return lambda h, p, n: bf.wmmse(h, p, n, inits=("zf_wf", "rzf"), max_iter=max_iter).v
    def gnn(h, p, n):
        import torch

        with torch.no_grad():
            return model(h, p, n)

    return gnn


class BeamformingLoop(ChannelPredictionLoop):
    """The gNB -> edge beamformer -> gNB loop of ``cfg.beamforming`` on ``sim``."""

    name = "beamforming"

    def __init__(self, cfg: ScenarioConfig, sim, on_job=None, on_round=None):
        from ..radio.phy import num_prb_table

        super().__init__(cfg, sim, on_job, on_round)
        r = cfg.radio
        scs = 15e3 * 2 ** r.numerology
        n_prb = num_prb_table(r.bandwidth_hz, scs)
        self.power = 10 ** ((r.gnb_tx_power_dbm - 30) / 10) / (n_prb * 12 * scs)  # W/Hz
        self.noise = K_BOLTZMANN * T0 * 10 ** (r.ue_noise_figure_db / 10)  # W/Hz
        self.model = None
        self.channels: list[np.ndarray] = []  # at the edge: [K, N] per sounding
        self.decide_s: list[float] = []
        self.sum_rate_est: list[float] = []
        self._extra: dict = {}

    @staticmethod
    def section(cfg: ScenarioConfig):
        return cfg.beamforming

    def start_line(self) -> str:
        p = self.p
        return (f"beamforming, method {p.method}, {len(self.ues)} UEs, on {self.host}, SRS "
                f"every {self.period} slots, measured {p.measure_from_s:g}-"
                f"{p.measure_from_s + p.measure_s:g} s")

    def start(self) -> None:
        self._schedule_sounding(0)
        p = self.p
        self.sim.schedule(p.measure_from_s, self._measure_start)
        self.sim.schedule(p.measure_from_s + p.measure_s, self._measure_end)

    def _measure_start(self) -> None:
        self.snap0 = (self.sim.now, self.sim.radio_ue_stats())

    # -- the gNB side ----------------------------------------------------------------------

    def _sounding(self, k: int) -> None:
        self._schedule_sounding(k + 1)
        if self.p.method == "builtin":
            return
        c = [self.sim.csi(ue) for ue in self.ues]
        if any(x["estimate"] is None for x in c):
            return
        h = np.stack([x["estimate"][0] * 10 ** (x["estimate_path_gain_db"] / 20)
                      for x in c]).transpose(2, 0, 1).astype(np.complex64)  # [S, K, N]
        t_srs = self.sim.now - c[0]["age_s"]
        self._event({"t_s": self.sim.now, "event": "sounding", "t_info_s": t_srs})
        gnb = self.gnb_of(self.ues[0])
        self.bytes["csi"] += h.nbytes
        self.sim.send(gnb, self.host, h.nbytes, lambda msg: self._at_edge_bf(h, t_srs, gnb),
                      tag="csi")

    def _apply(self, w: np.ndarray, t_srs: float) -> None:
        self.sim.set_precoders(self.ues, w, at_time=self.sim.now)
        self._event({"t_s": self.sim.now, "event": "precoders", "t_info_s": t_srs})

    # -- the edge server ---------------------------------------------------------------------

    def _at_edge_bf(self, h: np.ndarray, t_srs: float, gnb: str) -> None:
        import torch

        from ..beamforming import sum_rate

        self.channels.append(h)
        p, dev = self.p, self.devices[self.host]
        if p.method == "gnn" and self.model is None:
            if self.sim.now >= p.warmup_s and not self.training:
                self.training = True
                dev.submit("train_gnn", self._train_gnn, self._trained)
            return
        x = torch.from_numpy(h).to(torch.complex128) / np.sqrt(self.noise)  # [S, K, N]
        fn = precoder_fn(p.method, self.model, p.wmmse_max_iter)
        t0 = self.sim.now

        def done(v):
            v = v.detach()
            self.sum_rate_est.append(float(sum_rate(x, v, 1.0).mean()))
            w = v.numpy() / np.linalg.norm(v.numpy(), axis=(1, 2), keepdims=True)
            w = (w * (1 - 1e-6)).astype(np.complex64)  # per RBG sum |w_k|^2 <= 1 (power P)

            def send():
                self.decide_s.append(self.sim.now - t0)
                self.bytes["prediction"] += w.nbytes
                self.sim.send(self.host, gnb, w.nbytes, lambda msg: self._apply(w, t_srs),
                              tag="precoders")

            self.sim.schedule(self._uncounted_s(fn, x, dev.profile), send)

        dev.submit(f"precode_{p.method}", lambda: fn(x, self.power, 1.0), done)

    def _uncounted_s(self, fn, x, profile) -> float:
        """Roofline time of the FLOPs of ``fn(x)`` that ``compute.measure`` (what the Device
        charged) does not count; cached per method except for WMMSE, whose iterations vary."""
        from ..beamforming import decision_cost
        from ..compute import duration_s

        key = (self.p.method, tuple(x.shape))
        if key not in self._extra:
            cost = decision_cost(lambda: fn(x, self.power, 1.0), repeats=0)
            extra = max(cost.flops - cost.counted_flops, 0)
            if self.p.method == "wmmse":
                return duration_s(profile, extra, 0)
            self._extra[key] = extra
        return duration_s(profile, self._extra[key], 0)

    def _train_gnn(self):
        import torch

        from ..beamforming import train_gnn
        from ..models.gnn_beamformer import GNNBeamformer

        g = self.p.gnn
        torch.manual_seed(self.cfg.seed)
        model = GNNBeamformer(g.d_hidden, g.n_layers, g.n_rounds).double()
        data = torch.from_numpy(np.concatenate(self.channels)).to(torch.complex128)
        data = data / np.sqrt(self.noise)
        snr_db = 10 * np.log10(self.power)  # noise 1

        def channels(batch, gen):
            return data[torch.randint(len(data), (batch,), generator=gen)]

        rates = train_gnn(model, channels, [snr_db], g.train_steps, g.batch, g.lr,
                          seed=self.cfg.seed)
        return model, rates

    def _trained(self, result) -> None:
        self.model, rates = result
        self.fit = {"train_sum_rate_first": rates[0],
                    "train_sum_rate_last": float(np.mean(rates[-10:]))}
        self.ready_s = self.sim.now
        print(f"[sim {self.sim.now:9.4f} s] GNN trained on {self.host}: {self.fit}", flush=True)

    def summary(self) -> dict:
        """``beamforming``: the method, cell and per-UE DL figures over the window, Jain's
        fairness of the per-UE throughputs, the edge's estimated sum rate on the CSI it got
        [bit/s/Hz], bytes, decision times (arrival of the CSI to the send of the precoders)."""
        out = super().summary()["prediction"]
        out.pop("csi", None)
        out["method"] = self.p.method
        if self.result:
            thr = np.array([r["dl_throughput_bps"] for r in self.result])
            out["jain_fairness"] = float(thr.sum() ** 2 / (len(thr) * (thr ** 2).sum())) \
                if thr.any() else None
        if self.decide_s:
            out["decide_s"] = float(np.mean(self.decide_s))
            out["edge_sum_rate_bps_hz"] = float(np.mean(self.sum_rate_est))
        return {"beamforming": out}
