"""Collaborative fine-tuning: split federated LoRA (the paper's first training framework).

Each device holds the bottom of the model (token and positional embeddings and the first
``model.device_layers`` blocks, frozen), the task module (LM head) and its local data; the edge
server holds the other transformer blocks, frozen, with LoRA adapters (peft). The frozen
weights are the pretrained base by default (``model.base``, :mod:`edgelam_ns3.pretrained`). The
device trains its (tied) token embedding and head. One round:

1. the policy (``train.policy``) picks the devices and their radio shares, which the radio
   applies from that instant;
2. each scheduled device runs its bottom on a local batch and sends the activations up;
3. when all have arrived, the server runs the decoder forward over all their batches at once
   and sends each device its output;
4. each device runs its head and loss, back-propagates through the head and sends the
   gradient up;
5. when all have arrived, the server back-propagates through the decoder once, aggregates the
   adapters' gradients over the devices, updates the adapters, and sends each device the
   gradient for its activations. With ``train.dp.enabled`` the same single backward yields each
   device's adapter gradient (Opacus's per-sample hooks), which is clipped, summed and noised
   once (DP-FedAvg style); each device's ε is accounted from the rounds it took part in
   (:class:`~edgelam_ns3.privacy.DeviceAccountant`). ε covers the adapter updates only: the
   activations and head gradients a device sends are not noised (see
   :mod:`edgelam_ns3.privacy`);
6. each device back-propagates through its bottom and updates its embedding and head.

Every tensor crossing the cut is a message of its real size through ns-3; every computation is
charged on its host. The round's latency breakdown goes to ``rounds.parquet``.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch

from ..config import ScenarioConfig
from ..models.lora_split import (adapter_parameters, enable_per_sample_grads, gpt2_lora_config,
                                 make_split_lora, server_backward_many, server_forward_many)
from ..models.split_gpt import (device_backward_embed, device_backward_head, device_forward,
                                gpt2_config, tensor_nbytes)
from ..privacy import DeviceAccountant, private_sum
from ..sim import Simulation
from .base import Barrier, RoundFramework
from .policy_rounds import PolicyRounds


RANDOM_POLICIES = ("random",)
"""Policies that pick each device at random with a known rate (k / N): the only ones whose DP
accounting may use amplification by subsampling."""


def model_config(cfg: ScenarioConfig):
    """The GPT-2 config of a scenario's model."""
    m = cfg.model
    return gpt2_config(vocab_size=m.vocab_size, n_positions=max(m.seq_len, 8), n_embd=m.n_embd,
                       n_layer=m.n_layer, n_head=m.n_head)


def lora_config(cfg: ScenarioConfig):
    """The peft LoraConfig of a scenario."""
    lo = cfg.train.lora
    return gpt2_lora_config(r=lo.r, alpha=lo.alpha, dropout=lo.dropout,
                            target_modules=tuple(lo.target_modules))


def build_split_lora(cfg: ScenarioConfig):
    """The server model (frozen decoder with adapters) and the device template of a scenario:
    cut after ``model.device_layers`` blocks, from the base ``model.base`` selects (the shipped
    pretrained base, or random weights seeded by ``cfg.seed``)."""
    from ..pretrained import load_base, resolve_base

    base = load_base() if resolve_base(cfg.model) == "pretrained" else None
    return make_split_lora(model_config(cfg), lora_config(cfg), cfg.seed,
                           cfg.model.device_layers, base)


def base_summary(cfg: ScenarioConfig) -> dict:
    """``summary.json``'s ``model_base``: the weights fine-tuning started from, with their
    provenance (:func:`edgelam_ns3.pretrained.provenance`)."""
    from ..pretrained import provenance

    return {"model_base": provenance(cfg.model, cfg.seed)}


class SplitFedLoRA(PolicyRounds, RoundFramework):
    """Runs ``cfg.train.steps`` rounds of split federated LoRA fine-tuning on ``sim``.

    :param on_job: trace sink for compute jobs
    :param on_round: called with the round's row (dict) when a round ends
    """

    name = "split_fed_lora"

    def __init__(self, cfg: ScenarioConfig, sim: Simulation,
                 on_job: Callable[[dict], None] | None = None,
                 on_round: Callable[[dict], None] | None = None):
        super().__init__(cfg, sim, on_job, on_round)
        n = cfg.nodes.n_devices
        with self.building():
            self.server_model, template = build_split_lora(cfg)
        self.device_models = [copy.deepcopy(template) for _ in range(n)]
        self.place(self.server_model, *self.device_models)
        self.adapters = adapter_parameters(self.server_model)
        self.server_opt = torch.optim.Adam(self.adapters, lr=cfg.train.lr)
        self.device_opts = [torch.optim.Adam([p for p in m.parameters() if p.requires_grad],
                                             lr=cfg.train.lr) for m in self.device_models]
        self.batches = self.local_batches()
        t = cfg.train
        self._init_policy()
        self.dp = t.dp if t.dp.enabled else None
        self.noise_gen = (torch.Generator(self.torch_device).manual_seed(cfg.seed + 7)
                          if cfg.train.dp.enabled else None)
        self.accountant = None
        if self.dp:
            # per-device gradients from the one backward (Opacus's per-sample hooks)
            enable_per_sample_grads(self.server_model)
            # amplification by subsampling only where the choice is random at a known rate
            rate = min(t.k, n) / n if t.policy in RANDOM_POLICIES else None
            self.accountant = DeviceAccountant(n, self.dp.noise_multiplier, self.dp.delta, rate)

    # -- bookkeeping ------------------------------------------------------------------------

    def send(self, src: str, dst: str, t: torch.Tensor, phase: str, up: bool, then) -> None:
        """Send tensor ``t`` as a message of its size; call ``then()`` on delivery."""
        self._send_bytes(src, dst, tensor_nbytes(t), phase, up, then)

    def evaluate(self) -> float:
        """Mean held-out loss over the devices' models (each device's embedding and head with
        the server's adapted decoder); measured, not charged to simulated time."""
        ids, labels = self.eval_batch
        with torch.no_grad():
            losses = []
            for m in self.device_models:
                h = self.server_model.decode(m.embed(ids))
                losses.append(self.value(m.head_loss(h, labels)[0]))
        return sum(losses) / len(losses)

    # -- one round ----------------------------------------------------------------------------

    def _begin_round(self) -> None:
        self._plan_round()
        self.ctx = {}
        up = Barrier(self.scheduled, self._server_forward)
        for i in self.scheduled:
            self._device_embed(i, up)

    def _device_embed(self, i: int, barrier: Barrier) -> None:
        model, opt = self.device_models[i], self.device_opts[i]
        input_ids, labels = next(self.batches[i])

        def embed():
            opt.zero_grad(set_to_none=True)
            return device_forward(model, input_ids)

        def done(res):
            dctx, h0 = res
            self.ctx[i] = {"dctx": dctx, "labels": labels}
            self.send(self.devices[i], self.srv, h0, "act_up", True,
                      lambda: barrier.arrive(i, h0))

        self.hosts[self.devices[i]].submit("device_embed", embed, done,
                                           key=(model, opt, input_ids))

    def _server_forward(self, h0s: list) -> None:
        def forward():
            return server_forward_many(self.server_model, h0s)

        def done(res):
            sctx, hLs = res
            self.sctx = sctx
            back = Barrier(self.scheduled, self._server_backward)
            for i, hL in zip(self.scheduled, hLs):
                self.send(self.srv, self.devices[i], hL, "act_down", False,
                          lambda i=i, hL=hL: self._device_head(i, hL, back))

        self.hosts[self.srv].submit("server_forward", forward, done,
                                    key=(self.server_model, h0s))

    def _device_head(self, i: int, hL, barrier: Barrier) -> None:
        def head():
            return device_backward_head(self.device_models[i], hL, self.ctx[i]["labels"])

        def done(res):
            loss, g = res
            self.log.losses.append(self.value(loss))
            self.send(self.devices[i], self.srv, g, "grad_up", True, lambda: barrier.arrive(i, g))

        self.hosts[self.devices[i]].submit("device_head", head, done,
                                           key=(self.device_models[i], hL,
                                                self.ctx[i]["labels"]))

    def _server_backward(self, grads: list) -> None:
        def backward():
            self.server_opt.zero_grad(set_to_none=True)
            if self.dp is None:
                g_h0, _ = server_backward_many(self.sctx, grads)
            else:
                g_h0, per_dev = server_backward_many(self.sctx, grads, self.adapters)
                noised = private_sum(per_dev, self.dp.max_norm, self.dp.noise_multiplier,
                                     self.noise_gen)
                for p, g in zip(self.adapters, noised):
                    p.grad = g
            n = len(grads)
            for p in self.adapters:  # the aggregate is the mean of the devices' gradients
                if p.grad is not None:
                    p.grad /= n
            self.server_opt.step()
            return g_h0

        def done(g_h0s):
            if self.accountant is not None:
                self.accountant.step(self.scheduled)
            fin = Barrier(self.scheduled, lambda _: self._end_round())
            for i, g in zip(self.scheduled, g_h0s):
                self.send(self.srv, self.devices[i], g, "grad_down", False,
                          lambda i=i, g=g: self._device_update(i, g, fin))

        # DP clips each device's gradient by its norm: count it every time (no key)
        key = None if self.dp else (self.server_model, self.server_opt, grads)
        self.hosts[self.srv].submit("server_backward", backward, done, key=key)

    def _device_update(self, i: int, g_h0, barrier: Barrier) -> None:
        def update():
            device_backward_embed(self.ctx[i]["dctx"], g_h0)
            self.device_opts[i].step()

        self.hosts[self.devices[i]].submit("device_update", update,
                                           lambda _: barrier.arrive(i),
                                           key=(self.device_models[i], self.device_opts[i],
                                                self.ctx[i]["dctx"].h0, g_h0))

    def _round_extra(self) -> dict:
        self._update_compute_estimate()
        return self.accountant.row() if self.accountant is not None else {}

    def summary(self) -> dict:
        """Entries of the run's ``summary.json``: ``model_base`` (the weights fine-tuning started
        from) and, when DP is on, ``dp`` (each device's ε, the worst, what it covers; see
        :mod:`edgelam_ns3.privacy`)."""
        out = base_summary(self.cfg)
        if self.accountant is not None:
            out["dp"] = {**self.accountant.summary(), "max_norm": self.dp.max_norm}
        return out
