"""The training frameworks, looked up by name (``train.framework``).

Each framework is a :class:`~edgelam_ns3.frameworks.base.RoundFramework` in a module of this
package: ``split_learning`` (U-shaped split learning), ``split_fed_lora`` (split federated
LoRA), ``fed_lora`` (FedAvg of LoRA adapters), ``centralized`` (raw data uploaded once) and
``looped_tp`` (looped tensor parallelism); and ``microservice_inference`` (a LAM served as
microservices, :mod:`edgelam_ns3.inference`; not round-based). A new framework is a
RoundFramework subclass in a module here, added to :data:`FRAMEWORKS`, with the options it
reads added to :data:`OPTIONS`.
"""

from __future__ import annotations

from importlib import import_module

FRAMEWORKS = {
    "split_learning": "split_learning:SplitLearning",
    "split_fed_lora": "split_fed_lora:SplitFedLoRA",
    "fed_lora": "fed_lora:FedLoRA",
    "centralized": "centralized:Centralized",
    "looped_tp": "looped_tp:LoopedTP",
    "microservice_inference": "microservice_inference:MicroserviceInference",
    "channel_prediction": "channel_prediction:ChannelPredictionLoop",
    "beamforming": "beamforming_loop:BeamformingLoop",
}
"""``train.framework`` name -> ``"module:Class"`` (module of this package). Modules are imported
on first use, so that reading a config does not load torch."""


SCHEDULING = ("split_fed_lora", "fed_lora")
"""Frameworks that pick devices and radio shares each round with ``train.policy``."""
SPLIT_GPT = ("split_learning", "split_fed_lora", "fed_lora", "centralized")
"""Frameworks that build the GPT-2 model of ``model.n_layer`` blocks, cut after
``model.device_layers``."""
FINE_TUNING = ("split_fed_lora", "fed_lora", "centralized")
"""Frameworks that fine-tune a base model (``model.base``) with LoRA adapters."""
ROUND_BASED = tuple(f for f in FRAMEWORKS
                    if f not in ("microservice_inference", "channel_prediction", "beamforming"))
"""Frameworks that train a model (``model.*``) in rounds (``train.steps``, ...)."""

OPTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "model.n_layer": (SPLIT_GPT, "does not build the GPT-2 model"),
    "model.device_layers": (SPLIT_GPT, "does not split the GPT-2 model"),
    "model.base": (FINE_TUNING, "trains from random weights"),
    "train.policy": (SCHEDULING, "does not schedule devices"),
    "train.policy_record": (SCHEDULING, "does not schedule devices"),
    "train.k": (SCHEDULING, "does not schedule devices"),
    "train.min_participation": (SCHEDULING, "does not schedule devices"),
    "train.lyapunov_v": (SCHEDULING, "does not schedule devices"),
    "train.dp": (("split_fed_lora",), "has no differential privacy"),
    "train.lora": (FINE_TUNING, "has no LoRA adapters"),
    "train.local_steps": (("fed_lora",), "takes one step per round"),
    "train.looped": (("looped_tp",), "has no looped transformer"),
    **{f"train.{k}": (ROUND_BASED, "trains nothing in rounds")
       for k in ("steps", "batch_size", "lr", "non_iid")},
    **{f"model.{k}": (ROUND_BASED, "builds no training model (inference.model is its model)")
       for k in ("n_embd", "n_head", "seq_len", "vocab_size")},
    **{k: (ROUND_BASED, "places no round-framework shards")
       for k in ("sim.torch_device", "compute.execution")},
    **{f"inference.{k}": (("microservice_inference",), "serves no inference requests")
       for k in ("model", "source", "serving", "placement", "slo")},
    **{f"prediction.{k}": (("channel_prediction",), "predicts no channel")
       for k in ("csi", "history", "warmup_s", "measure_from_s", "measure_s", "ar_orders",
                 "lam", "federated")},
    **{f"beamforming.{k}": (("beamforming",), "computes no precoders")
       for k in ("method", "warmup_s", "measure_from_s", "measure_s", "wmmse_max_iter", "gnn")},
}
"""The config options that only some frameworks read: key -> (the frameworks that read it, why
the others do not). Any other framework (and ``none``, traffic only) rejects a value other than
the key's default, so that no option is silently ignored; ``train.policy`` defaults to None and
is ``all`` where a framework schedules (so a run's summary never names a policy it did not
apply). Options every framework reads (``train.server``, ``seed``, ...) are not listed."""


def unused_option(cfg) -> str | None:
    """The options of :data:`OPTIONS` that ``cfg.train.framework`` does not read but ``cfg``
    sets to a value other than their default, as a one-line error naming the first and listing
    the others (None: there is none). A section (``train.dp``) is named down to its first field
    that differs."""
    fw = cfg.train.framework
    unused = [(field, key) for key, (users, _) in OPTIONS.items()
              if fw not in users and (field := _first_set(cfg, key)) is not None]
    if not unused:
        return None
    field, key = unused[0]
    users, why = OPTIONS[key]
    text = f"{field}: train.framework {fw} {why} ({key} is read by {', '.join(users)} only)"
    if len(unused) > 1:
        text += f"; also unused here: {', '.join(f for f, _ in unused[1:])}"
    return text


def _first_set(cfg, key: str) -> str | None:
    """``key`` (or its first sub-field) if its value in ``cfg`` differs from the default."""
    section, name = key.split(".")
    owner = getattr(cfg, section)
    value = getattr(owner, name)
    default = type(owner).model_fields[name].get_default(call_default_factory=True)
    if value == default:
        return None
    for sub in getattr(type(value), "model_fields", {}):
        if getattr(value, sub) != getattr(default, sub):
            return f"{key}.{sub}"
    return key


def framework_class(name: str) -> type:
    """The framework class registered under ``name``."""
    try:
        module, cls = FRAMEWORKS[name].split(":")
    except KeyError:
        raise ValueError(f"unknown train.framework '{name}' (known: {', '.join(FRAMEWORKS)})") \
            from None
    return getattr(import_module(f"{__name__}.{module}"), cls)
