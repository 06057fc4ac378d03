"""U-shaped split learning of a GPT-style model over the simulated network.

Each of K devices holds the token embedding and the LM head (tied, as in GPT-2) and its own
local data; the edge server holds the transformer blocks. One round, for every device d in
parallel, on the simulated clock:

1. d embeds a local batch (compute on d) and sends the activations h0 up;
2. the server runs the blocks (compute on the server) and sends hL down;
3. d runs the head, the loss and the head's backward (compute on d), sends dL/dhL up;
4. the server back-propagates through the blocks (compute on the server), sends dL/dh0 down;
5. d back-propagates through the embedding and updates its parameters (compute on d).

The labels never leave the device. The server accumulates the blocks' gradients of all K
devices and takes one optimizer step when the round is complete (synchronous, as SplitFed);
forward requests of the next round wait for that step. Every tensor crossing the cut is sent
as a message of its real size (``numel * element_size``) through ns-3, and every computation
is charged on its host's clock by :mod:`edgelam_ns3.compute`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from ..compute import Device
from ..config import ScenarioConfig
from ..datasets.text import device_batches
from ..models.split_gpt import (SplitGPT, device_backward_embed, device_backward_head,
                                device_forward, gpt2_config, server_forward,
                                tensor_nbytes)
from ..sim import Simulation
from ..topology import profile


@dataclass
class RoundStats:
    """Per-round bookkeeping (simulated seconds)."""

    t_start_s: float
    losses: dict[str, float] = field(default_factory=dict)
    finished: set[int] = field(default_factory=set)
    t_end_s: float | None = None


def build_models(cfg: ScenarioConfig) -> tuple[SplitGPT, list[SplitGPT]]:
    """The server's model and one model per device, all from the same random initialisation
    (seeded by ``cfg.seed``). The server uses only the decoder, devices only embed and head."""
    from transformers import GPT2LMHeadModel

    torch.manual_seed(cfg.seed)
    m = cfg.model
    lm = GPT2LMHeadModel(gpt2_config(n_positions=max(m.seq_len, 8), n_embd=m.n_embd,
                                     n_layer=m.n_layer, n_head=m.n_head))
    server = SplitGPT.from_lm(lm)
    devices = [SplitGPT.from_lm(lm) for _ in range(cfg.nodes.n_devices)]
    return server, devices


class SplitLearning:
    """Runs ``cfg.train.steps`` rounds of split learning on ``sim``.

    :param cfg: the scenario
    :param sim: the simulation (its nodes include ue0.., gnb, the server)
    :param on_job: trace sink for finished compute jobs
    :param on_round: called with the round's row (``round``, ``t_end_s``, ``loss``) when a round
        ends
    """

    def __init__(self, cfg: ScenarioConfig, sim: Simulation,
                 on_job: Callable[[dict], None] | None = None,
                 on_round: Callable[[dict], None] | None = None):
        self.cfg = cfg
        self.sim = sim
        self.on_round = on_round
        self.server_name = cfg.train.server
        self.device_names = [f"ue{i}" for i in range(cfg.nodes.n_devices)]
        self.server_model, self.device_models = build_models(cfg)
        self.server_opt = torch.optim.Adam(self.server_model.server_part().parameters(),
                                           lr=cfg.train.lr)
        self.device_opts = [torch.optim.Adam(m.device_part().parameters(), lr=cfg.train.lr)
                            for m in self.device_models]
        # the whole corpus: this framework reports training loss only, no held-out evaluation
        self.batches = device_batches(cfg, held_out=False)
        self.hosts = {name: Device(name, profile(cfg, name), sim, on_job)
                      for name in self.device_names + [self.server_name]}
        self.round = 0
        self.rounds: list[RoundStats] = []
        self._server_done: set[int] = set()
        self._server_grads: dict[int, list] = {}
        self._waiting_forward: list[Callable[[], None]] = []
        self._server_stepping = False
        self.finished = False

    # -- driver -----------------------------------------------------------------------------

    def start(self) -> None:
        """Begin round 0 on every device at the current instant."""
        self._begin_round()

    def _begin_round(self) -> None:
        self.rounds.append(RoundStats(t_start_s=self.sim.now))
        self._server_done = set()
        for d in range(len(self.device_names)):
            self._device_step(d)

    # -- one device's step, as a chain of jobs and messages ---------------------------------

    def _device_step(self, d: int) -> None:
        name, srv = self.device_names[d], self.server_name
        model, opt = self.device_models[d], self.device_opts[d]
        input_ids, labels = next(self.batches[d])

        def embed():
            opt.zero_grad(set_to_none=True)
            return device_forward(model, input_ids)

        def after_embed(res):
            dctx, h0 = res
            self.sim.send(name, srv, tensor_nbytes(h0),
                          lambda msg: self._server_forward(d, dctx, labels, h0), tag="act_up")

        self.hosts[name].submit("device_embed", embed, after_embed)

    def _server_forward(self, d, dctx, labels, h0) -> None:
        if self._server_stepping:  # the round's update is not applied yet
            self._waiting_forward.append(lambda: self._server_forward(d, dctx, labels, h0))
            return
        name, srv = self.device_names[d], self.server_name

        def after_forward(res):
            sctx, hL = res
            self.sim.send(srv, name, tensor_nbytes(hL),
                          lambda msg: self._device_head(d, dctx, labels, sctx, hL),
                          tag="act_down")

        self.hosts[srv].submit("server_forward",
                               lambda: server_forward(self.server_model, h0), after_forward)

    def _device_head(self, d, dctx, labels, sctx, hL) -> None:
        name, srv = self.device_names[d], self.server_name

        def after_head(res):
            loss, g_hL = res
            self.rounds[-1].losses[name] = float(loss)
            self.sim.send(name, srv, tensor_nbytes(g_hL),
                          lambda msg: self._server_backward(d, dctx, sctx, g_hL), tag="grad_up")

        self.hosts[name].submit("device_head",
                                lambda: device_backward_head(self.device_models[d], hL, labels),
                                after_head)

    def _server_backward(self, d, dctx, sctx, g_hL) -> None:
        name, srv = self.device_names[d], self.server_name

        def backward():
            # The blocks' gradients of each device are kept apart and summed in device order at
            # the step (not accumulated in arrival order): floating-point sums depend on their
            # order, and the learning trajectory must not depend on which message came first.
            params = [p for p in self.server_model.server_part().parameters() if p.requires_grad]
            grads = torch.autograd.grad(sctx.hL, [sctx.h0_in, *params], grad_outputs=g_hL,
                                        allow_unused=True)
            self._server_grads[d] = [None if g is None else g.detach() for g in grads[1:]]
            return grads[0].detach().clone().contiguous()

        def after_backward(g_h0):
            self._server_done.add(d)
            if len(self._server_done) == len(self.device_names):
                self._server_step()
            self.sim.send(srv, name, tensor_nbytes(g_h0),
                          lambda msg: self._device_update(d, dctx, g_h0), tag="grad_down")

        self.hosts[srv].submit("server_backward", backward, after_backward)

    def _server_step(self) -> None:
        """One optimizer step on the blocks' gradients accumulated over the round."""
        self._server_stepping = True

        def step():
            params = [p for p in self.server_model.server_part().parameters() if p.requires_grad]
            for k, p in enumerate(params):
                parts = [self._server_grads[d][k] for d in sorted(self._server_grads)
                         if self._server_grads[d][k] is not None]
                p.grad = None
                for g in parts:
                    p.grad = g.clone() if p.grad is None else p.grad + g
            self._server_grads = {}
            self.server_opt.step()
            self.server_opt.zero_grad(set_to_none=True)

        def after_step(_):
            self._server_stepping = False
            waiting, self._waiting_forward = self._waiting_forward, []
            for fn in waiting:
                fn()

        self.hosts[self.server_name].submit("server_optimizer_step", step, after_step)

    def _device_update(self, d, dctx, g_h0) -> None:
        name = self.device_names[d]

        def update():
            device_backward_embed(dctx, g_h0)
            self.device_opts[d].step()

        self.hosts[name].submit("device_update", update, lambda _: self._device_finished(d))

    def _device_finished(self, d: int) -> None:
        stats = self.rounds[-1]
        stats.finished.add(d)
        if len(stats.finished) < len(self.device_names):
            return
        stats.t_end_s = self.sim.now
        loss = sum(stats.losses.values()) / len(stats.losses)
        if self.on_round is not None:
            self.on_round({"round": self.round, "t_start_s": stats.t_start_s,
                           "t_end_s": self.sim.now, "latency_s": self.sim.now - stats.t_start_s,
                           "loss": loss})
        self.round += 1
        if self.round >= self.cfg.train.steps:
            self.finished = True
            self.sim.stop()
        else:
            self._begin_round()
