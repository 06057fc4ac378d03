"""Full-parameter training by looped tensor parallelism (the paper's second training framework).

A looped transformer (one block's weights reused over ``train.looped.n_loops`` loops) has its
attention and MLP weight matrices partitioned across the K devices, Megatron-style (column-wise,
then row-wise). For every loop and sub-layer the edge server sends the normalised hidden state
to all devices, each device computes its partial product, the partials go up, and the server
sums them and applies the residual; the backward pass mirrors this. Every weight, on the devices
and on the server, is trained. Each step trains on one device's local batch, the devices taking
turns: that device first sends the batch's token ids and labels up to the server (which embeds
the tokens and computes the loss), so every input the server uses crosses the network. The
model code and the exact exchange are in :mod:`edgelam_ns3.models.looped_tp`; this module runs
each call on its host at its simulated instant and sends each exchanged tensor as a message of
its real size.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..config import ScenarioConfig
from ..models.looped_tp import (LoopedConfig, LoopedTPStep, LoopedTransformer, ServerPart,
                                merge, partition)
from ..models.split_gpt import tensor_nbytes
from ..sim import Simulation
from .base import Barrier, RoundFramework
from .round_log import RoundLog


class LoopedTP(RoundFramework):
    """Runs ``cfg.train.steps`` full-parameter training steps with looped tensor parallelism."""

    name = "looped_tp"

    def __init__(self, cfg: ScenarioConfig, sim: Simulation,
                 on_job: Callable[[dict], None] | None = None,
                 on_round: Callable[[dict], None] | None = None):
        super().__init__(cfg, sim, on_job, on_round)
        n = cfg.nodes.n_devices
        m, lt = cfg.model, cfg.train.looped
        self.config = LoopedConfig(vocab_size=m.vocab_size, n_positions=max(m.seq_len, 8),
                                   d_model=m.n_embd, n_heads=m.n_head, d_ff=lt.d_ff,
                                   n_loops=lt.n_loops)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            mono = LoopedTransformer(self.config)
        self.server_part = ServerPart.from_model(mono)
        self.shards = partition(mono, n)
        self.place(self.server_part, *self.shards)
        self.server_opt = torch.optim.Adam(self.server_part.parameters(), lr=cfg.train.lr)
        self.device_opts = [torch.optim.Adam(s.parameters(), lr=cfg.train.lr) for s in self.shards]
        self.batches = self.local_batches()

    def evaluate(self) -> float:
        """Held-out loss of the model the parts make up (measured, not charged)."""
        ids, labels = self.eval_batch
        with torch.no_grad():
            return self.value(merge(self.server_part, self.shards)(ids, labels)[0])

    # -- one step -----------------------------------------------------------------------------

    def start(self) -> None:
        n = len(self.devices)
        self.radio.set_shares(list(range(n)), [1.0 / n] * n)
        self._begin_round()

    def _server(self, job: str, fn, then, *key) -> None:
        """A server job; its cost key: the server part, the step's batch (the shapes of every
        activation the step keeps) and ``key`` (the job's own inputs)."""
        self.hosts[self.srv].submit(job, fn, then, key=(self.server_part, self.ids, *key))

    def _device(self, k: int, job: str, fn, then, *key) -> None:
        self.hosts[self.devices[k]].submit(job, fn, then,
                                           key=(self.shards[k], self.ids, *key))

    def _broadcast(self, t: torch.Tensor, phase: str, on_device) -> None:
        for k, dev in enumerate(self.devices):
            self.send_message(self.srv, dev, tensor_nbytes(t), phase, False,
                              lambda msg, k=k: on_device(k))

    def _upload(self, k: int, t: torch.Tensor, phase: str, barrier: Barrier) -> None:
        self.send_message(self.devices[k], self.srv, tensor_nbytes(t), phase, True,
                          lambda msg: barrier.arrive(k, t))

    def _begin_round(self) -> None:
        n = len(self.devices)
        self.log = RoundLog(self.round, self.sim.now, list(range(n)), [1.0 / n] * n)
        self.step = LoopedTPStep(self.server_part, self.shards)
        self.stages = self.step.stages()
        k = self.round % n  # the device whose local batch this step trains on
        ids, labels = next(self.batches[k])
        self.send_message(self.devices[k], self.srv, tensor_nbytes(ids) + tensor_nbytes(labels),
                          "tp_batch_up", True, lambda msg: self._embed(ids, labels))

    def _embed(self, ids: torch.Tensor, labels: torch.Tensor) -> None:
        """Server, once the batch arrived: start the step with the token embedding."""
        self.ids, self.labels = ids, labels

        def embed():
            self.server_opt.zero_grad(set_to_none=True)
            for o in self.device_opts:
                o.zero_grad(set_to_none=True)
            self.step.server_embed(ids)

        self._server("server_embed", embed, lambda _: self._forward(0), self.server_opt,
                     *self.device_opts)

    def _forward(self, s: int) -> None:
        if s == len(self.stages):
            self._server("server_loss", lambda: self.step.server_loss(self.labels),
                         self._loss_done, self.labels)
            return
        loop, sub = self.stages[s]
        st = f"fwd.l{loop}.{sub}"  # phase names carry the stage: the breakdown sums stages

        def after_pre(h):
            barrier = Barrier(range(len(self.devices)), lambda ps: self._server(
                f"server_aggregate:{st}", lambda: self.step.server_aggregate(loop, sub, ps),
                lambda _: self._forward(s + 1), ps))
            self._broadcast(h, f"tp_act_down:{st}", lambda k: self._device(
                k, f"device_partial:{st}", lambda: self.step.device_forward(k, loop, sub, h),
                lambda p: self._upload(k, p, f"tp_partial_up:{st}", barrier), h))

        self._server(f"server_pre:{st}", lambda: self.step.server_pre(loop, sub), after_pre)

    def _loss_done(self, res) -> None:
        loss, _ = res
        self.log.losses.append(self.value(loss))
        self._backward(len(self.stages) - 1)

    def _backward(self, s: int) -> None:
        if s < 0:
            self._update()
            return
        loop, sub = self.stages[s]
        st = f"bwd.l{loop}.{sub}"

        def after_grad(g):
            barrier = Barrier(range(len(self.devices)), lambda gs: self._server(
                f"server_backward:{st}", lambda: self.step.server_backward(loop, sub, gs),
                lambda _: self._backward(s - 1), gs))
            self._broadcast(g, f"tp_grad_down:{st}", lambda k: self._device(
                k, f"device_backward:{st}", lambda: self.step.device_backward(k, loop, sub, g),
                lambda gh: self._upload(k, gh, f"tp_grad_up:{st}", barrier), g))

        self._server(f"server_grad_partial:{st}",
                     lambda: self.step.server_grad_partial(loop, sub), after_grad)

    def _update(self) -> None:
        done = Barrier(["server"] + list(range(len(self.devices))), lambda _: self._end_round())
        self._server("server_optimizer_step", self.server_opt.step,
                     lambda _: done.arrive("server"), self.server_opt)
        for k in range(len(self.devices)):
            self._device(k, "device_optimizer_step", self.device_opts[k].step,
                         lambda _, k=k: done.arrive(k), self.device_opts[k])
