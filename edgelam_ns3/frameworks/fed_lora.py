"""Baseline: federated LoRA (FedAvg of adapters), the whole model on every device.

Each round the policy picks devices and radio shares; the server sends the global adapters to
each scheduled device; the device trains the whole model (its embedding and head, the frozen
decoder with the adapters) for ``train.local_steps`` steps on local data, and sends its adapters
back with the number of samples (sequences) it trained on; the server averages them, each
weighted by its samples over the round's total (FedAvg, McMahan et al., 2017), into the new
global adapters. The embedding and head stay on each device (as in split federated LoRA, so the
two compare on the same trainable parts). Bytes per round, per scheduled device: the adapters
down, the adapters and the sample count (8 bytes) up.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch

from ..config import ScenarioConfig
from ..models.lora_split import (adapter_state_dict, fedavg, load_adapter_state_dict,
                                 state_dict_nbytes)
from ..sim import Simulation
from .base import RoundFramework
from .fed_lora_rounds import SAMPLE_COUNT_BYTES, FedLoRARounds  # noqa: F401 - the upload's size
from .split_fed_lora import base_summary, build_split_lora


class FedLoRA(FedLoRARounds, RoundFramework):
    """Runs ``cfg.train.steps`` rounds of FedAvg over LoRA adapters on ``sim`` (the round:
    :class:`~edgelam_ns3.frameworks.fed_lora_rounds.FedLoRARounds`)."""

    name = "fed_lora"

    def __init__(self, cfg: ScenarioConfig, sim: Simulation,
                 on_job: Callable[[dict], None] | None = None,
                 on_round: Callable[[dict], None] | None = None):
        super().__init__(cfg, sim, on_job, on_round)
        n = cfg.nodes.n_devices
        with self.building():
            self.global_model, _ = build_split_lora(cfg)
        self.place(self.global_model)
        self.device_models = []
        self.device_opts = []
        for _ in range(n):
            m = copy.deepcopy(self.global_model)
            m.parts["embed"].weight.requires_grad_(True)  # tied with the head
            self.device_models.append(m)
            params = [p for p in m.parameters() if p.requires_grad]  # embedding/head, adapters
            self.device_opts.append(torch.optim.Adam(params, lr=cfg.train.lr))
        self.batches = self.local_batches()
        self._init_policy()
        self.adapter_bytes = state_dict_nbytes(adapter_state_dict(self.global_model))

    def summary(self) -> dict:
        """Entries of ``summary.json``: ``model_base``, the weights fine-tuning started from."""
        return base_summary(self.cfg)

    def evaluate(self) -> float:
        """Mean held-out loss over the devices' models with the global adapters."""
        ids, labels = self.eval_batch
        state = adapter_state_dict(self.global_model)
        losses = []
        with torch.no_grad():
            for m in self.device_models:
                probe = copy.deepcopy(m)
                load_adapter_state_dict(probe, state)
                losses.append(self.value(probe(ids, labels)[0]))
        return sum(losses) / len(losses)

    def _round_state(self) -> dict:
        return {k: v.clone() for k, v in adapter_state_dict(self.global_model).items()}

    def _train_job(self, i: int, state: dict):
        model, opt = self.device_models[i], self.device_opts[i]
        # the local batches are drawn at the job's start (as inside it), so that they key it
        batches = [next(self.batches[i]) for _ in range(self.cfg.train.local_steps)]

        def train():
            load_adapter_state_dict(model, state)
            losses, samples = [], 0
            for ids, labels in batches:
                opt.zero_grad(set_to_none=True)
                loss = model(ids, labels)[0]
                loss.backward()
                opt.step()
                losses.append(self.value(loss.detach()))
                samples += int(ids.shape[0])
            local = {k: v.detach().clone() for k, v in adapter_state_dict(model).items()}
            return losses[0], (local, samples)

        return train, (model, opt, state, batches)

    def _average_job(self, uploads: list):
        states = [state for state, _ in uploads]
        samples = [n for _, n in uploads]

        def average():
            load_adapter_state_dict(self.global_model, fedavg(states, weights=samples))

        return average, (self.global_model, states, samples)
