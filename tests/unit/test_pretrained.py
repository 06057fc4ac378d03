"""The pretrained base: a corpus disjoint from the fine-tuning data, seeded pretraining, shipped
weights that match their provenance, and the config key that selects them."""

import sys

import pytest
import torch

from edgelam_ns3 import config
from edgelam_ns3.config import ConfigError
from edgelam_ns3.datasets.text import load_corpus
from edgelam_ns3.pretrained import (BASE_WEIGHTS, WINDOW, base_meta, load_base, pretrain,
                                    pretraining_corpus, provenance, sha256, shared_windows)


def test_pretraining_corpus_shares_no_window_with_the_fine_tuning_corpus():
    pre, fine = pretraining_corpus(), load_corpus()
    assert len(pre) > 400_000 and pre.isascii()
    assert shared_windows(pre, fine) == []
    # the check finds what it looks for: a window copied from the fine-tuning corpus
    assert shared_windows(pre[:1000] + fine[5000:5000 + WINDOW], fine) == [1000]
    meta = base_meta()["corpus"]
    if sys.version.split()[0] == base_meta()["python"]:  # pydoc_data differs across versions
        assert sha256(pre) == meta["sha256"] and len(pre) == meta["bytes"]


def test_shipped_base_matches_its_provenance_and_predicts_the_fine_tuning_text():
    from edgelam_ns3.datasets.text import HELD_OUT_FRACTION, ByteTokens, batch_iterator
    from edgelam_ns3.models.split_gpt import gpt2_config
    from transformers import GPT2LMHeadModel

    meta = base_meta()
    assert meta["script"] == "scripts/pretrain_base.py" and meta["seed"] == 1
    assert sha256(BASE_WEIGHTS) == meta["weights_sha256"]
    lm = load_base()
    tokens = ByteTokens.encode(load_corpus())
    held = tokens[int(len(tokens) * (1 - HELD_OUT_FRACTION)):]
    ids, labels = next(batch_iterator(held, 16, 64, torch.Generator().manual_seed(0)))
    torch.manual_seed(0)
    random = GPT2LMHeadModel(gpt2_config(n_positions=64))
    with torch.no_grad():
        pre_loss = float(lm(input_ids=ids, labels=labels).loss)
        rand_loss = float(random(input_ids=ids, labels=labels).loss)
    # never trained on this text, the base predicts it far better than random weights (ln 256
    # = 5.55 nat is a uniform guess)
    assert rand_loss > 5.0
    assert pre_loss < rand_loss - 2.0


def test_pretraining_is_seeded(tmp_path):
    a = pretrain(tmp_path / "a", steps=2, batch_size=2, seq_len=16, seed=3, log=lambda _: None)
    b = pretrain(tmp_path / "b", steps=2, batch_size=2, seq_len=16, seed=3, log=lambda _: None)
    c = pretrain(tmp_path / "c", steps=2, batch_size=2, seq_len=16, seed=4, log=lambda _: None)
    assert a["weights_sha256"] == b["weights_sha256"] != c["weights_sha256"]
    assert a["corpus"]["sha256"] == sha256(pretraining_corpus())


def _load(*overrides):
    return config.load("split-finetune", ["radio.mode=ideal", *overrides])


def test_fine_tuning_starts_from_the_pretrained_base_by_default():
    from edgelam_ns3.frameworks.split_fed_lora import build_split_lora

    cfg = _load()
    assert cfg.model.base is None
    p = provenance(cfg.model, cfg.seed)
    assert p["base"] == "pretrained" and p["weights_sha256"] == sha256(BASE_WEIGHTS)
    assert p["corpus"]["sha256"] == base_meta()["corpus"]["sha256"]
    server, device = build_split_lora(cfg)
    base = load_base()
    torch.testing.assert_close(device.parts["embed"].weight, base.transformer.wte.weight)
    k = cfg.model.device_layers
    torch.testing.assert_close(device.parts["device_blocks"].h[0].attn.c_attn.weight,
                               base.transformer.h[0].attn.c_attn.weight)
    torch.testing.assert_close(server.server_part().h[0].attn.c_attn.base_layer.weight,
                               base.transformer.h[k].attn.c_attn.weight)
    # model.base=random: seeded random weights, recorded as such
    cfg = _load("model.base=random")
    assert provenance(cfg.model, cfg.seed) == {"base": "random", "seed": 1,
                                               "why": "model.base=random"}
    _, device = build_split_lora(cfg)
    assert not torch.equal(device.parts["embed"].weight, base.transformer.wte.weight)
    # another shape than the base's: random by default, and said why
    cfg = _load("model.n_embd=64")
    p = provenance(cfg.model, cfg.seed)
    assert p["base"] == "random" and "n_embd=128, the model 64" in p["why"]


@pytest.mark.parametrize("overrides,message", [
    (["model.base=pretrained", "model.n_embd=64"],
     "config: model.base: the pretrained base does not fit: it has n_embd=128, the model 64"),
    (["model.base=pretrained", "model.seq_len=128"],
     "config: model.base: the pretrained base does not fit: it has 64 positions"),
    (["model.base=pretrained", "train.framework=split_learning"],
     "config: model.base: train.framework split_learning trains from random weights"),
])
def test_a_base_that_cannot_be_used_is_rejected_before_the_run(overrides, message):
    with pytest.raises(ConfigError) as exc:
        _load(*overrides)
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)
