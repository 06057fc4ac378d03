"""The inference options: what the microservice_inference framework does not read is rejected."""

import pytest

from edgelam_ns3 import config


@pytest.mark.parametrize("key, value", [("train.steps", 10), ("train.lr", 1e-4),
                                        ("train.batch_size", 2), ("model.n_embd", 64)])
def test_training_options_are_rejected_by_the_inference_framework(key, value):
    section, name = key.split(".")
    with pytest.raises(config.ConfigError, match=f"{key}: train.framework "
                       "microservice_inference"):
        config.from_dict({"train": {"framework": "microservice_inference"},
                          section: {name: value} if section == "model" else
                          {"framework": "microservice_inference", name: value}})


def test_lyapunov_options_need_the_lyapunov_orchestration():
    with pytest.raises(config.ConfigError, match="lyapunov_v: read by orchestration lyapunov"):
        config.from_dict({"train": {"framework": "microservice_inference"},
                          "inference": {"placement": {"lyapunov_v": 3.0}}})
    cfg = config.from_dict({"train": {"framework": "microservice_inference"}, "inference": {
        "placement": {"orchestration": "lyapunov", "lyapunov_v": 3.0}}})
    assert cfg.inference.placement.lyapunov_v == 3.0


@pytest.mark.parametrize("serving, message", [
    ({"swap_bytes_per_s": 1e9}, "swap_bytes_per_s: read by kv_policy swap only"),
    ({"kv_policy": "recompute", "decode_host": "edge1"}, "kv_policy: recompute .preemption. is "
     "not combined with decode_host")])
def test_preemption_options_are_checked_before_the_run(serving, message):
    with pytest.raises(config.ConfigError, match=message):
        config.from_dict({"train": {"framework": "microservice_inference"},
                          "inference": {"serving": serving}})
