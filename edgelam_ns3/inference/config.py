"""The ``inference`` section of a scenario (read by ``train.framework:
microservice_inference``). Imported by :mod:`edgelam_ns3.config`; loads no torch."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .placement import POLICIES


def _set_away_from_default(section: BaseModel, keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` whose value in ``section`` differs from its field's default (None:
    all at their defaults): an option a mode does not read must stay unset."""
    fields = type(section).model_fields
    return next((k for k in keys if getattr(section, k) != fields[k].default), None)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class InferenceModelConfig(_Strict):
    """The served LAM: GPT-2 architecture, random weights, split into services ``embed``,
    ``blocks0..`` (``n_groups`` groups of blocks) and ``lm_head``."""

    mode: Literal["real", "cost"] = Field(
        "cost", description="real: run every service call in PyTorch (small models); cost: "
        "modules on the meta device, FLOPs and bytes from shapes (no weights allocated)")
    n_layer: Annotated[int, Field(ge=1)] = Field(12, description="decoder blocks")
    n_embd: Annotated[int, Field(ge=8)] = Field(768, description="hidden size")
    n_head: Annotated[int, Field(ge=1)] = Field(12, description="attention heads")
    vocab_size: Annotated[int, Field(ge=2)] = Field(50257, description="vocabulary size")
    n_positions: Annotated[int, Field(ge=2)] = Field(
        8192, description="longest context (prompt + output tokens) a request may have")
    n_groups: Annotated[int, Field(ge=1)] = Field(
        3, description="groups of consecutive blocks, each a service placed on its own")
    n_experts: Annotated[int, Field(ge=0)] = Field(
        0, description="MoE: experts of the feed-forward layer added after each block group "
        "(services moe<i>_router and expert<j>, expert j of every layer); 0: dense")
    top_k: Annotated[int, Field(ge=1)] = Field(
        2, description="MoE: experts per token (real mode: the router's top-k; cost mode: a "
        "uniform seeded draw)")
    expert_ffn: Annotated[int, Field(ge=1)] | None = Field(
        None, description="MoE: each expert's MLP width (null: 4 x n_embd)")
    dtype: Literal["float32", "float16", "bfloat16"] = Field(
        "float32", description="parameter and activation dtype (the built-in profiles give "
        "FP32 FLOP/s)")

    @model_validator(mode="after")
    def _shapes(self):
        if self.n_embd % self.n_head:
            raise ValueError("n_embd: must be a multiple of n_head")
        if self.n_groups > self.n_layer:
            raise ValueError(f"n_groups: at most n_layer ({self.n_layer})")
        if not self.n_experts:
            if k := _set_away_from_default(self, ("top_k", "expert_ffn")):
                raise ValueError(f"{k}: read with n_experts > 0 only (MoE)")
        elif self.n_experts < 2 or self.top_k > self.n_experts:
            raise ValueError(f"n_experts: at least 2 and at least top_k ({self.top_k})")
        return self


class InferenceSourceConfig(_Strict):
    """Where requests come from: a window of the Azure LLM inference trace 2023, or Poisson."""

    kind: Literal["trace", "poisson"] = Field("trace", description="trace or poisson")
    trace: str = Field("conversation", description="trace: conversation, coding, or a CSV "
                       "path with columns TIMESTAMP,ContextTokens,GeneratedTokens")
    start_s: Annotated[float, Field(ge=0)] = Field(
        0.0, description="trace: window start, seconds after the trace's first request")
    duration_s: Annotated[float, Field(gt=0)] = Field(
        60.0, description="simulated seconds of arrivals (trace: the window spans "
        "duration_s x rate_scale seconds of the trace)")
    rate_scale: Annotated[float, Field(gt=0)] = Field(
        1.0, description="trace: load factor; arrival times are divided by it")
    rate_per_s: Annotated[float, Field(gt=0)] = Field(1.0, description="poisson: requests/s")
    prompt_tokens: Annotated[int, Field(ge=1)] = Field(256, description="poisson: prompt tokens")
    output_tokens: Annotated[int, Field(ge=1)] = Field(64, description="poisson: output tokens")
    ue_mapping: Literal["round_robin", "random"] = Field(
        "round_robin", description="which UE issues each request (random: seeded uniform)")


class InferenceServingConfig(_Strict):
    """Continuous batching and KV memory on every host."""

    max_batch_tokens: Annotated[int, Field(ge=1)] = Field(
        8192, description="most tokens in one iteration (a longer prompt runs alone)")
    max_batch_requests: Annotated[int, Field(ge=1)] = Field(
        64, description="most requests in one iteration")
    kv_memory_fraction: Annotated[float, Field(gt=0, le=1)] = Field(
        0.9, description="fraction of a host's memory left after the weights that KV caches "
        "may take")
    token_bytes: Annotated[int, Field(ge=1)] = Field(
        4, description="bytes per token id on the wire (prompts up, tokens down)")
    chunked_prefill: bool = Field(
        False, description="vLLM/Sarathi chunked prefill: decode steps first, prompts in "
        "chunks filling the rest of max_batch_tokens")
    kv_policy: Literal["reserve", "recompute", "swap"] = Field(
        "reserve", description="KV memory: reserve (admission reserves each request's whole "
        "context, never preempted), recompute or swap (vLLM: KV grows per token, the latest "
        "request is preempted when it runs out; its KV recomputed, or swapped to host memory)")
    swap_bytes_per_s: Annotated[float, Field(gt=0)] = Field(
        32e9, description="kv_policy swap: accelerator-host memory bandwidth, bytes/s "
        "(PCIe 4.0 x16: 32e9)")
    decode_host: str | None = Field(
        None, description="prefill/decode disaggregation (Splitwise): every decode step runs "
        "on this host (all services), after each block group's KV cache of the prompt is "
        "shipped there from its prefill host; null: every step runs on the placement")


    @model_validator(mode="after")
    def _kv_policy(self):
        if self.kv_policy != "swap" and _set_away_from_default(self, ("swap_bytes_per_s",)):
            raise ValueError(f"swap_bytes_per_s: read by kv_policy swap only, not "
                             f"{self.kv_policy}")
        if self.kv_policy != "reserve" and self.decode_host is not None:
            raise ValueError(f"kv_policy: {self.kv_policy} (preemption) is not combined with "
                             "decode_host (disaggregation reserves the KV it ships)")
        return self


class InferencePlacementConfig(_Strict):
    """Static placement of the heavy services and online orchestration of ``embed``."""

    policy: Literal[POLICIES] = Field(
        "ilp", description="ilp (scipy milp), monolithic (monolithic_host), cloud, random, "
        "greedy (least expected load)")
    hosts: list[str] | None = Field(None, description="candidate hosts (default: every edge "
                                    "server and the cloud)")
    monolithic_host: str = Field("edge0", description="monolithic: the host of every service")
    expert_hosts: list[str] | None = Field(
        None, description="MoE: the host of each expert unit (expert<j> on the j-th); null: "
        "placed by the policy with the other services (ilp, random, greedy; monolithic and "
        "cloud put them with the rest)")
    max_utilisation: Annotated[float, Field(gt=0)] = Field(
        0.9, description="ilp: most expected busy fraction per host (relaxed when infeasible)")
    queueing: bool = Field(
        True, description="ilp: add each host's M/D/1 wait at its expected utilisation "
        "(rho^2 / (2 rate (1 - rho)) per request, piecewise linear) to the latency objective")
    kv_reserve_requests: Annotated[int, Field(ge=0)] = Field(
        4, description="ilp, greedy, random: KV caches of this many mean requests must fit "
        "beside the weights")
    expected_batch: Annotated[int, Field(ge=1)] = Field(
        8, description="ilp, greedy: requests per decode iteration assumed when estimating a "
        "service's compute per request (decode steps of a batch share the weight reads)")
    orchestration: Literal["online", "static", "lyapunov"] = Field(
        "online", description="embed's host per request: online (least expected delay from "
        "queue backlog and links), lyapunov (drift-plus-penalty: V x backhaul link time + "
        "latency-target debt x delay + host backlog x work) or static (the first block "
        "group's host)")
    lyapunov_v: Annotated[float, Field(ge=0)] = Field(
        1.0, description="lyapunov: weight V of the backhaul link time against the latency "
        "target and the queues [-]")
    latency_target_s: Annotated[float, Field(gt=0)] = Field(
        0.5, description="lyapunov: target of the time-average delay the embed choice adds "
        "to a request, s")

    @model_validator(mode="after")
    def _lyapunov_only(self):
        if self.orchestration != "lyapunov" and \
                (k := _set_away_from_default(self, ("lyapunov_v", "latency_target_s"))):
            raise ValueError(f"{k}: read by orchestration lyapunov only, not "
                             f"{self.orchestration}")
        return self


class InferenceSloConfig(_Strict):
    """A request is on time when both hold."""

    ttft_s: Annotated[float, Field(gt=0)] = Field(2.0, description="time to first token, s")
    tpot_s: Annotated[float, Field(gt=0)] = Field(0.1, description="time per output token, s")


class InferenceConfig(_Strict):
    """Microservice-assisted LAM inference (``train.framework: microservice_inference``)."""

    model: InferenceModelConfig = Field(default_factory=InferenceModelConfig)
    source: InferenceSourceConfig = Field(default_factory=InferenceSourceConfig)
    serving: InferenceServingConfig = Field(default_factory=InferenceServingConfig)
    placement: InferencePlacementConfig = Field(default_factory=InferencePlacementConfig)
    slo: InferenceSloConfig = Field(default_factory=InferenceSloConfig)
