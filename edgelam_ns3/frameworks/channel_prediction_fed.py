"""Fine-tuning the channel predictor's LoRA adapters across edge servers on the simulated
network (issue 11.5), for :mod:`edgelam_ns3.frameworks.channel_prediction`.

The server (``train.server``) holds the LAM it trained on its own UEs' CSI; LoRA adapters are
added (peft, B = 0) and only they train. Each edge server holds the SRS windows of its own
UEs.

- ``federated`` (FedAvg): each round the server sends the global adapters to every other edge
  server (the first round also the frozen base weights), each edge server (the server too, on
  its own shard) trains ``local_steps`` steps of SGD on its windows, sends its adapters back,
  and the server averages them weighted by window counts
  (:func:`edgelam_ns3.models.lora_split.fedavg`). The arithmetic is that of
  :func:`edgelam_ns3.channel_prediction.federated_finetune` (same seeds), so the two give the
  same adapters; here every transfer is a message and every training a job on its host.
- ``centralized``: every other edge server uploads its windows (complex64 history and future
  tensors), and the server trains ``rounds x local_steps`` steps on the pooled windows.

Either way the server then sends the final adapters (and the base, where it has not yet) to
every edge server, which predicts for its UEs from their arrival. Each round, upload and
transfer is a row of the ``finetune`` trace table.
"""

from __future__ import annotations

import copy
from typing import Callable

import numpy as np


def _train_cfg(fed, steps: int, seed: int):
    from ..channel_prediction import TrainConfig

    return TrainConfig(steps=steps, batch=None, lr=fed.lr, snrs_db=(None,), seed=seed,
                       optimizer="sgd", schedule="constant")


class AdapterFinetune:
    """One fine-tuning of ``model``'s LoRA adapters across ``devices`` (edge name ->
    :class:`~edgelam_ns3.compute.Device`) on ``sim``; ``shards``: edge name -> (hist, fut)
    windows it holds. Calls ``on_ready(edge, model)`` when an edge server has the final
    model, ``on_row(dict)`` for each trace row."""

    def __init__(self, sim, devices: dict, server: str, shards: dict, model, fed, seed: int,
                 on_ready: Callable, on_row: Callable):
        from ..models.channel_predictors import add_lora
        from ..models.lora_split import state_dict_nbytes
        from ..channel_prediction import trainable_state

        self.sim, self.devices, self.server, self.fed = sim, devices, server, fed
        self.edges = list(devices)
        self.shards, self.seed, self.on_ready, self.on_row = shards, seed, on_ready, on_row
        for p in model.parameters():
            p.requires_grad_(False)
        self.model = add_lora(model, r=fed.lora_r)  # only the adapters train
        self.glob = trainable_state(self.model)
        self.adapter_bytes = state_dict_nbytes(self.glob)
        self.base_bytes = sum(p.numel() * p.element_size() for p in self.model.parameters()
                              if not p.requires_grad)
        self.has_base = {server}
        self.round = 0
        self.bytes = 0
        self.t_start = sim.now
        self.t_end: float | None = None

    def _send(self, src: str, dst: str, nbytes: int, tag: str, then: Callable) -> None:
        self.bytes += nbytes
        t0 = self.sim.now

        def delivered(msg):
            self.on_row({"round": self.round, "event": tag, "src": src, "dst": dst,
                         "bytes": nbytes, "t_start_s": t0, "t_end_s": self.sim.now})
            then()

        self.sim.send(src, dst, nbytes, delivered, tag=tag)

    def _down_bytes(self, edge: str) -> tuple[int, str]:
        """Adapters, plus the frozen base the first time an edge server gets the model."""
        if edge in self.has_base:
            return self.adapter_bytes, "adapters"
        self.has_base.add(edge)
        return self.adapter_bytes + self.base_bytes, "base+adapters"

    def start(self) -> None:
        if self.fed.mode == "federated":
            self._round()
        else:
            self._pooled = {self.server: self.shards[self.server]}
            for e in self.edges:
                if e != self.server:
                    h, f = self.shards[e]
                    self._send(e, self.server, h.nbytes + f.nbytes, "csi_windows",
                               lambda e=e: self._uploaded(e))

    # -- federated ----------------------------------------------------------------------------

    def _round(self) -> None:
        from .base import Barrier

        t0 = self.sim.now
        barrier = Barrier(self.edges, lambda states: self._average(states, t0))
        for k, e in enumerate(self.edges):
            if e == self.server:
                self._local(k, e, barrier)
            else:
                nbytes, tag = self._down_bytes(e)
                self._send(self.server, e, nbytes, tag, lambda k=k, e=e: self._local(k, e, barrier))

    def _local(self, k: int, edge: str, barrier) -> None:
        from ..channel_prediction import load_trainable_state, train, trainable_state

        glob, r = self.glob, self.round
        h, f = self.shards[edge]

        def job():
            load_trainable_state(self.model, glob)
            train(self.model, h, f, _train_cfg(self.fed, self.fed.local_steps,
                                               self.seed + 1000 * r + k))
            return trainable_state(self.model)

        def done(state):
            if edge == self.server:
                barrier.arrive(edge, state)
            else:
                self._send(edge, self.server, self.adapter_bytes, "adapters",
                           lambda: barrier.arrive(edge, state))

        self.devices[edge].submit(f"finetune_r{r}", job, done)

    def _average(self, states: list, t0: float) -> None:
        from ..models.lora_split import fedavg

        self.glob = fedavg(states, [len(self.shards[e][0]) for e in self.edges])
        self.on_row({"round": self.round, "event": "fedavg", "src": self.server,
                     "dst": self.server, "bytes": 0, "t_start_s": t0, "t_end_s": self.sim.now})
        self.round += 1
        if self.round < self.fed.rounds:
            self._round()
        else:
            self._finish()

    # -- centralised -----------------------------------------------------------------------

    def _uploaded(self, edge: str) -> None:
        self._pooled[edge] = self.shards[edge]
        if len(self._pooled) < len(self.edges):
            return
        from ..channel_prediction import train, trainable_state

        hist = np.concatenate([self._pooled[e][0] for e in self.edges])
        fut = np.concatenate([self._pooled[e][1] for e in self.edges])

        def job():
            train(self.model, hist, fut, _train_cfg(self.fed, self.fed.rounds * self.fed.local_steps,
                                                    self.seed))
            return trainable_state(self.model)

        def done(state):
            self.glob = state
            self._finish()

        self.devices[self.server].submit("finetune_pooled", job, done)

    # -- the final model to every edge server ------------------------------------------------

    def _finish(self) -> None:
        from ..channel_prediction import load_trainable_state

        load_trainable_state(self.model, self.glob)
        self.t_end = self.sim.now
        for e in self.edges:
            model = copy.deepcopy(self.model)
            if e == self.server:
                self.on_ready(e, model)
            else:
                nbytes, tag = self._down_bytes(e)
                self._send(self.server, e, nbytes, f"final_{tag}",
                           lambda e=e, model=model: self.on_ready(e, model))

    def summary(self) -> dict:
        return {"mode": self.fed.mode, "rounds": self.fed.rounds, "bytes": self.bytes,
                "adapter_bytes": self.adapter_bytes, "base_bytes": self.base_bytes,
                "t_start_s": self.t_start, "t_end_s": self.t_end,
                "duration_s": None if self.t_end is None else self.t_end - self.t_start}
