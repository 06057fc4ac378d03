"""Baseline: centralised fine-tuning at the edge server.

First every device uploads its raw local data (its corpus shard, one byte per token) to the
server, over the radio with equal shares; then the server alone fine-tunes the same model as
split federated LoRA (from the same base, embedding and head trainable, the first
``model.device_layers`` blocks frozen, the others frozen with LoRA adapters) on
batches of K x ``train.batch_size`` drawn from all devices' data, one server job per round. The
upload is round 0's uplink time; no data leave the server afterwards.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..config import ScenarioConfig
from ..datasets.text import local_data
from ..sim import Simulation
from .base import RoundFramework
from .centralized_rounds import CentralizedRounds
from .split_fed_lora import base_summary, build_split_lora


class Centralized(CentralizedRounds, RoundFramework):
    """Upload the data once, then train on the server for ``cfg.train.steps`` rounds (the
    rounds: :class:`~edgelam_ns3.frameworks.centralized_rounds.CentralizedRounds`)."""

    name = "centralized"

    def __init__(self, cfg: ScenarioConfig, sim: Simulation,
                 on_job: Callable[[dict], None] | None = None,
                 on_round: Callable[[dict], None] | None = None):
        super().__init__(cfg, sim, on_job, on_round)
        with self.building():
            self.model, _ = build_split_lora(cfg)
        self.place(self.model)
        self.model.parts["embed"].weight.requires_grad_(True)  # tied with the head
        params = [p for p in self.model.parameters() if p.requires_grad]  # + the adapters
        self.opt = torch.optim.Adam(params, lr=cfg.train.lr)
        self.batches = self.local_batches()
        self.shard_bytes = [int(s.numel()) for s in local_data(cfg)]  # 1 byte per token

    def summary(self) -> dict:
        """Entries of ``summary.json``: ``model_base``, the weights fine-tuning started from."""
        return base_summary(self.cfg)

    def evaluate(self) -> float:
        ids, labels = self.eval_batch
        with torch.no_grad():
            return self.value(self.model(ids, labels)[0])

    def _train_step_job(self):
        pairs = [next(b) for b in self.batches]  # drawn at the job's start: they key it

        def step():
            ids = torch.cat([p[0] for p in pairs])
            labels = torch.cat([p[1] for p in pairs])
            self.opt.zero_grad(set_to_none=True)
            loss = self.model(ids, labels)[0]
            loss.backward()
            self.opt.step()
            return self.value(loss.detach())

        return step, (self.model, self.opt, pairs)
