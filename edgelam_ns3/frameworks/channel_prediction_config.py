"""The ``prediction`` section of a scenario (read by ``train.framework: channel_prediction``,
:mod:`edgelam_ns3.frameworks.channel_prediction`). Imported by :mod:`edgelam_ns3.config`;
loads no torch."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


CSI_MODES = ("aged", "ar", "lam", "ideal")
"""``prediction.csi``: what the gNB schedules, adapts the link and steers its beams with."""


class LamLoopConfig(_Strict):
    """The LLM4CP-style LAM predictor (``models.channel_predictors.LamPredictor``) trained in
    the run, on the edge server, from the SRS estimates it received during the warm-up."""

    n_embd: Annotated[int, Field(ge=8)] = Field(64, description="GPT-2 hidden size")
    n_layer: Annotated[int, Field(ge=1)] = Field(2, description="GPT-2 blocks")
    n_head: Annotated[int, Field(ge=1)] = Field(4, description="attention heads")
    train_steps: Annotated[int, Field(ge=1)] = Field(
        150, description="optimiser steps of the in-run training (all parameters)")
    batch: Annotated[int, Field(ge=1)] = Field(256, description="port series per step")
    lr: Annotated[float, Field(gt=0)] = Field(2e-3, description="AdamW peak learning rate")

    @model_validator(mode="after")
    def _heads(self):
        if self.n_embd % self.n_head:
            raise ValueError("n_embd: must be a multiple of n_head")
        return self


class FederatedConfig(_Strict):
    """Fine-tuning of the LAM's LoRA adapters across edge servers (issue 11.5): each edge
    server holds the SRS history of its UEs (UE u at ``edge{u mod n_edge}``)."""

    mode: Literal["none", "federated", "centralized"] = Field(
        "none", description="none: the predictor host trains on the UEs it receives (all); "
        "federated: each edge server trains LoRA adapters on its UEs' CSI and the adapters are "
        "averaged at train.server (FedAvg) every round; centralized: every edge server uploads "
        "its CSI windows to train.server, which trains the adapters on the pooled data")
    rounds: Annotated[int, Field(ge=1)] = Field(3, description="federated rounds")
    local_steps: Annotated[int, Field(ge=1)] = Field(
        20, description="adapter steps per edge server and round (centralized: rounds x "
        "local_steps steps on the pooled data)")
    lora_r: Annotated[int, Field(ge=1)] = Field(8, description="LoRA rank")
    lr: Annotated[float, Field(gt=0)] = Field(1e-3, description="adapter learning rate (SGD)")


class ChannelPredictionConfig(_Strict):
    """Channel prediction in the loop: the gNB's SRS estimates travel to a predictor on
    ``train.server`` each SRS period, and its predictions replace the gNB's CSI from their
    arrival slot (``Simulation.set_csi``)."""

    csi: Literal[CSI_MODES] = Field(
        "aged", description="aged: the gNB's own SRS estimates (radio.csi.mode srs); ar: "
        "AR(p) predictions from the edge server; lam: the LAM's predictions; ideal: the true "
        "channel, set half a slot before each slot that uses it (a genie)")
    history: Annotated[int, Field(ge=2, le=64)] = Field(
        8, description="past SRS estimates a prediction uses (one per SRS period)")
    warmup_s: Annotated[float, Field(gt=0)] = Field(
        0.6, description="SRS history collected at the edge before the predictor is fitted "
        "and trained, s (the gNB uses its own estimates until predictions arrive)")
    measure_from_s: Annotated[float, Field(gt=0)] = Field(
        1.0, description="start of the measurement window (the same in every mode), s")
    measure_s: Annotated[float, Field(gt=0)] = Field(1.0, description="measurement window, s")
    ar_orders: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [1, 2, 3, 4, 6], description="AR orders tried on the warm-up "
        "windows (the one of least NMSE is used)")
    lam: LamLoopConfig = Field(default_factory=LamLoopConfig)
    federated: FederatedConfig = Field(default_factory=FederatedConfig)

    @model_validator(mode="after")
    def _window(self):
        if self.measure_from_s < self.warmup_s:
            raise ValueError(f"measure_from_s: {self.measure_from_s} s is before the end of "
                             f"the warm-up (warmup_s {self.warmup_s} s)")
        if any(p >= self.history for p in self.ar_orders):
            raise ValueError(f"ar_orders: every order must be below history ({self.history})")
        return self


class GnnLoopConfig(_Strict):
    """The GNN beamformer (``models.gnn_beamformer.GNNBeamformer``) trained in the run on the
    edge server, unsupervised (negative sum rate), on the channels it received."""

    d_hidden: Annotated[int, Field(ge=1)] = Field(32, description="node state width")
    n_layers: Annotated[int, Field(ge=1)] = Field(2, description="message-passing layers "
                                                   "per round")
    n_rounds: Annotated[int, Field(ge=1)] = Field(
        2, description="unrolled rounds, each refining the allocation of the one before")
    train_steps: Annotated[int, Field(ge=1)] = Field(100, description="optimiser steps")
    batch: Annotated[int, Field(ge=1)] = Field(32, description="channel samples per step")
    lr: Annotated[float, Field(gt=0)] = Field(2e-3, description="Adam learning rate")


class BeamformingLoopConfig(_Strict):
    """Beamforming in the loop (``train.framework: beamforming``): each SRS period the gNB's
    CSI of all its UEs goes to ``train.server``, which computes MU-MIMO precoders; they are
    the cell's precoders from their arrival slot (``Simulation.set_precoders``)."""

    method: Literal["builtin", "zf", "wmmse", "gnn"] = Field(
        "builtin", description="builtin: the MAC's own grouping and precoders (radio.mimo, "
        "nothing sent); zf, wmmse, gnn: one group of all the cell's UEs, precoders computed "
        "on the edge server from the gNB's CSI")
    warmup_s: Annotated[float, Field(gt=0)] = Field(
        0.3, description="CSI collected at the edge before the GNN is trained, s")
    measure_from_s: Annotated[float, Field(gt=0)] = Field(
        0.6, description="start of the measurement window (the same for every method), s")
    measure_s: Annotated[float, Field(gt=0)] = Field(0.5, description="measurement window, s")
    wmmse_max_iter: Annotated[int, Field(ge=1)] = Field(
        100, description="WMMSE iterations at most (from ZF with water-filling and RZF)")
    gnn: GnnLoopConfig = Field(default_factory=GnnLoopConfig)

    @model_validator(mode="after")
    def _window(self):
        if self.measure_from_s < self.warmup_s:
            raise ValueError(f"measure_from_s: {self.measure_from_s} s is before the end of "
                             f"the warm-up (warmup_s {self.warmup_s} s)")
        return self


def check_beamforming(cfg) -> None:
    """Cross-checks of a scenario whose framework is ``beamforming``."""
    r = cfg.radio
    if r.mode != "nr" or r.csi.mode != "srs":
        raise ValueError("radio.csi.mode: beamforming needs radio.mode nr with csi.mode srs "
                         "(the gNB's SRS estimates are what precoders are computed from)")
    if r.mimo.max_layers < 2:
        raise ValueError("radio.mimo.max_layers: beamforming compares MU-MIMO precoders; "
                         "set it to 2 or more")


def check(cfg) -> None:
    """Cross-checks of a scenario whose framework is ``channel_prediction`` (one-line errors
    naming the field)."""
    r, p = cfg.radio, cfg.prediction
    if r.mode != "nr":
        raise ValueError(f"radio.mode: channel_prediction acts on the NR radio's CSI, not "
                         f"radio.mode {r.mode}")
    if r.csi.mode != "srs":
        raise ValueError("radio.csi.mode: channel_prediction needs 'srs' (the gNB's SRS "
                         "estimates are what it predicts from; prediction.csi ideal is the genie)")
    if p.federated.mode != "none":
        if p.csi != "lam":
            raise ValueError(f"prediction.federated.mode: fine-tunes the LAM, but "
                             f"prediction.csi is {p.csi}")
        if cfg.nodes.n_edge < 2:
            raise ValueError("prediction.federated.mode: needs nodes.n_edge >= 2 edge servers")
        if cfg.train.server not in {f"edge{u % cfg.nodes.n_edge}" for u in range(cfg.n_ues())}:
            raise ValueError(f"train.server: {cfg.train.server} must be an edge server that "
                             f"holds UEs (UE u is at edge<u mod nodes.n_edge>) for "
                             f"prediction.federated")
