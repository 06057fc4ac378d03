"""The training frameworks, looked up by name (``train.framework``).

Each framework is a :class:`~edgelam_ns3.frameworks.base.RoundFramework` in a module of this
package: ``split_learning`` (U-shaped split learning), ``split_fed_lora`` (split federated
LoRA), ``fed_lora`` (FedAvg of LoRA adapters), ``centralized`` (raw data uploaded once) and
``looped_tp`` (looped tensor parallelism). A new framework is a RoundFramework subclass in a
module here, added to :data:`FRAMEWORKS`.
"""

from __future__ import annotations

from importlib import import_module

FRAMEWORKS = {
    "split_learning": "split_learning:SplitLearning",
    "split_fed_lora": "split_fed_lora:SplitFedLoRA",
    "fed_lora": "fed_lora:FedLoRA",
    "centralized": "centralized:Centralized",
    "looped_tp": "looped_tp:LoopedTP",
}
"""``train.framework`` name -> ``"module:Class"`` (module of this package). Modules are imported
on first use, so that reading a config does not load torch."""


def framework_class(name: str) -> type:
    """The framework class registered under ``name``."""
    try:
        module, cls = FRAMEWORKS[name].split(":")
    except KeyError:
        raise ValueError(f"unknown train.framework '{name}' (known: {', '.join(FRAMEWORKS)})") \
            from None
    return getattr(import_module(f"{__name__}.{module}"), cls)
