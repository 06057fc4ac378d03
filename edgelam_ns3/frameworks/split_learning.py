"""U-shaped split learning of a GPT-style model over the simulated network.

Each of K devices holds the token embedding, the first ``model.device_layers`` transformer
blocks, the LM head (tied to the embedding, as in GPT-2) and its own local data; the edge
server holds the other blocks. One round, for every device d in parallel, on the simulated
clock:

1. d embeds a local batch through its blocks (compute on d) and sends the activations h0 up;
2. the server runs its blocks (compute on the server) and sends hL down;
3. d runs the head, the loss and the head's backward (compute on d), sends dL/dhL up;
4. the server back-propagates through its blocks (compute on the server), sends dL/dh0 down;
5. d back-propagates through its blocks and the embedding and updates its parameters
   (compute on d).

The labels never leave the device. The server accumulates the blocks' gradients of all K
devices and takes one optimizer step when the round is complete (synchronous, as SplitFed);
forward requests of the next round wait for that step. Every tensor crossing the cut is sent
as a message of its real size (``numel * element_size``) through ns-3, and every computation
is charged on its host's clock by :mod:`edgelam_ns3.compute`. The radio is not reserved
(no shares: the MAC scheduler shares the cell). The round's latency breakdown and the held-out
loss go to ``rounds.parquet``.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..config import ScenarioConfig
from ..models.split_gpt import (SplitGPT, device_backward_embed, device_backward_head,
                                device_forward, gpt2_config, server_forward,
                                tensor_nbytes)
from ..sim import Simulation
from .base import Barrier, RoundFramework
from .round_log import RoundLog


def build_models(cfg: ScenarioConfig) -> tuple[SplitGPT, list[SplitGPT]]:
    """The server's model and one model per device, all from the same random initialisation
    (seeded by ``cfg.seed``), cut after ``model.device_layers`` blocks. The server uses only
    its blocks, the devices only theirs (embedding, their blocks, head)."""
    from transformers import GPT2LMHeadModel

    torch.manual_seed(cfg.seed)
    m = cfg.model
    lm = GPT2LMHeadModel(gpt2_config(vocab_size=m.vocab_size, n_positions=max(m.seq_len, 8),
                                     n_embd=m.n_embd, n_layer=m.n_layer, n_head=m.n_head))
    server = SplitGPT.from_lm(lm, m.device_layers)
    devices = [SplitGPT.from_lm(lm, m.device_layers) for _ in range(cfg.nodes.n_devices)]
    return server, devices


class SplitLearning(RoundFramework):
    """Runs ``cfg.train.steps`` rounds of split learning on ``sim``.

    :param cfg: the scenario
    :param sim: the simulation (its nodes include ue0.., gnb, the server)
    :param on_job: trace sink for finished compute jobs
    :param on_round: called with the round's row (dict) when a round ends
    """

    name = "split_learning"

    def __init__(self, cfg: ScenarioConfig, sim: Simulation,
                 on_job: Callable[[dict], None] | None = None,
                 on_round: Callable[[dict], None] | None = None):
        super().__init__(cfg, sim, on_job, on_round)
        with self.building():
            self.server_model, self.device_models = build_models(cfg)
        self.place(self.server_model, *self.device_models)
        self.server_opt = torch.optim.Adam(self.server_model.server_part().parameters(),
                                           lr=cfg.train.lr)
        self.device_opts = [torch.optim.Adam(m.device_part().parameters(), lr=cfg.train.lr)
                            for m in self.device_models]
        self.batches = self.local_batches()
        self._server_grads: dict[int, list] = {}
        self._waiting_forward: list[Callable[[], None]] = []
        self._server_stepping = False

    def evaluate(self) -> float:
        """Mean held-out loss over the devices' models (each device's embedding and head with
        the server's blocks); measured, not charged to simulated time."""
        ids, labels = self.eval_batch
        with torch.no_grad():
            h = [self.server_model.decode(m.embed(ids)) for m in self.device_models]
            losses = [self.value(m.head_loss(hL, labels)[0])
                      for m, hL in zip(self.device_models, h)]
        return sum(losses) / len(losses)

    def _begin_round(self) -> None:
        n = len(self.devices)
        self.log = RoundLog(self.round, self.sim.now, list(range(n)))
        self._server_done = Barrier(range(n), lambda _: self._server_step())
        self._device_done = Barrier(range(n), lambda _: self._end_round())
        for d in range(n):
            self._device_step(d)

    # -- one device's step, as a chain of jobs and messages ---------------------------------

    def _exchange(self, d: int, t: torch.Tensor, phase: str, up: bool, then) -> None:
        """Send tensor ``t`` between device ``d`` and the server (``up``: to the server) as a
        message of its size; call ``then()`` on delivery."""
        src, dst = (self.devices[d], self.srv) if up else (self.srv, self.devices[d])
        self.send_message(src, dst, tensor_nbytes(t), phase, up, lambda msg: then())

    def _device_step(self, d: int) -> None:
        model, opt = self.device_models[d], self.device_opts[d]
        input_ids, labels = next(self.batches[d])

        def embed():
            opt.zero_grad(set_to_none=True)
            return device_forward(model, input_ids)

        def after_embed(res):
            dctx, h0 = res
            self._exchange(d, h0, "act_up", True, lambda: self._server_forward(d, dctx, labels, h0))

        self.hosts[self.devices[d]].submit("device_embed", embed, after_embed,
                                           key=(model, opt, input_ids))

    def _server_forward(self, d, dctx, labels, h0) -> None:
        if self._server_stepping:  # the round's update is not applied yet
            self._waiting_forward.append(lambda: self._server_forward(d, dctx, labels, h0))
            return

        def after_forward(res):
            sctx, hL = res
            self._exchange(d, hL, "act_down", False,
                           lambda: self._device_head(d, dctx, labels, sctx, hL))

        self.hosts[self.srv].submit("server_forward",
                                    lambda: server_forward(self.server_model, h0), after_forward,
                                    key=(self.server_model, h0))

    def _device_head(self, d, dctx, labels, sctx, hL) -> None:
        def after_head(res):
            loss, g_hL = res
            self.log.losses.append(self.value(loss))
            self._exchange(d, g_hL, "grad_up", True,
                           lambda: self._server_backward(d, dctx, sctx, g_hL))

        self.hosts[self.devices[d]].submit(
            "device_head", lambda: device_backward_head(self.device_models[d], hL, labels),
            after_head, key=(self.device_models[d], hL, labels))

    def _server_backward(self, d, dctx, sctx, g_hL) -> None:
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
            self._server_done.arrive(d)
            self._exchange(d, g_h0, "grad_down", False, lambda: self._device_update(d, dctx, g_h0))

        self.hosts[self.srv].submit("server_backward", backward, after_backward,
                                    key=(self.server_model, sctx.h0_in, g_hL))

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

        grads = [[g is None for g in gs] for gs in self._server_grads.values()]
        self.hosts[self.srv].submit("server_optimizer_step", step, after_step,
                                    key=(self.server_model, self.server_opt, grads))

    def _device_update(self, d, dctx, g_h0) -> None:
        def update():
            device_backward_embed(dctx, g_h0)
            self.device_opts[d].step()

        done = self._device_done
        self.hosts[self.devices[d]].submit("device_update", update, lambda _: done.arrive(d),
                                           key=(self.device_models[d], self.device_opts[d],
                                                dctx.h0, g_h0))
