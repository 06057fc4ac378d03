"""The pretrained base that fine-tuning starts from: its corpus, its pretraining, its weights.

LoRA fine-tuning adapts a pretrained model; from random weights it adapts noise. The shipped
base (``edgelam_ns3/pretrained_base/gpt2_byte_base.pt``, float32, with its provenance in
``gpt2_byte_base.json``) is the default GPT-2-style decoder of the scenarios (4 blocks, 128
hidden, 4 heads, 64 positions, byte vocabulary), pretrained by ``scripts/pretrain_base.py``
(:func:`pretrain`, seeded, CPU, one thread) on :func:`pretraining_corpus`.

The pretraining corpus is disjoint from the devices' fine-tuning data (the shipped corpus of
standard-library docstrings, :mod:`edgelam_ns3.datasets.text`): it is the text of the Python
language reference's topics that the standard library ships for ``help()``
(``pydoc_data.topics``, PSF License; the fine-tuning corpus skipped ``pydoc_data``), less every
line that shares a 64-byte window (one training sequence) with the fine-tuning corpus. Same
language and domain (Python documentation), other documents: a pretraining / fine-tuning split
as in practice, at this model's scale.

``model.base`` picks the weights (:func:`resolve_base`): ``pretrained``, ``random``, or by
default the pretrained base when the model has its shape. The run's ``summary.json`` records
what was used (:func:`provenance`). This module imports torch only where it needs it, so that
reading a config does not load it.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable

__all__ = ["BASE_DIR", "BASE_WEIGHTS", "BASE_META", "WINDOW", "base_meta", "base_mismatch",
           "resolve_base", "load_base", "provenance", "pretraining_corpus", "shared_windows",
           "pretrain"]

BASE_DIR = Path(__file__).resolve().parent / "pretrained_base"
BASE_WEIGHTS = BASE_DIR / "gpt2_byte_base.pt"
"""The shipped weights: a :class:`~transformers.GPT2LMHeadModel` state dict, float32."""
BASE_META = BASE_DIR / "gpt2_byte_base.json"
"""Their provenance: script, command, seed, corpus and its SHA-256, losses, weights' SHA-256."""
WINDOW = 64
"""Length of the windows [bytes] the two corpora may not share (a default training sequence)."""


def sha256(path_or_bytes: Path | bytes) -> str:
    """SHA-256 of a file or of bytes, hex."""
    data = path_or_bytes.read_bytes() if isinstance(path_or_bytes, Path) else path_or_bytes
    return hashlib.sha256(data).hexdigest()


def base_meta() -> dict:
    """The shipped base's provenance (``gpt2_byte_base.json``)."""
    return json.loads(BASE_META.read_text())


def base_mismatch(n_layer: int, n_embd: int, n_head: int, seq_len: int) -> str | None:
    """Why the shipped base cannot initialise this model, or `None` if it can."""
    if not BASE_META.is_file():
        return f"{BASE_META.name} is missing (run scripts/pretrain_base.py)"
    c = base_meta()["config"]
    for key, value in (("n_layer", n_layer), ("n_embd", n_embd), ("n_head", n_head)):
        if c[key] != value:
            return f"it has {key}={c[key]}, the model {value}"
    if seq_len > c["n_positions"]:
        return f"it has {c['n_positions']} positions, model.seq_len is {seq_len}"
    return None


def resolve_base(model_cfg) -> str:
    """``"pretrained"`` or ``"random"``: ``model.base``, or when unset the pretrained base if it
    fits the model (:func:`base_mismatch`)."""
    if model_cfg.base is not None:
        return model_cfg.base
    m = model_cfg
    return "random" if base_mismatch(m.n_layer, m.n_embd, m.n_head, m.seq_len) else "pretrained"


def load_base():
    """The shipped base as a :class:`~transformers.GPT2LMHeadModel`, after checking the weights
    file against the SHA-256 its provenance records."""
    import torch
    from transformers import GPT2LMHeadModel

    from .models.split_gpt import gpt2_config

    meta = base_meta()
    if sha256(BASE_WEIGHTS) != meta["weights_sha256"]:
        raise ValueError(f"{BASE_WEIGHTS} does not match the SHA-256 in {BASE_META.name}: "
                         "re-run scripts/pretrain_base.py")
    c = meta["config"]
    with torch.random.fork_rng(devices=[]):
        lm = GPT2LMHeadModel(gpt2_config(n_positions=c["n_positions"], n_embd=c["n_embd"],
                                         n_layer=c["n_layer"], n_head=c["n_head"],
                                         vocab_size=c["vocab_size"]))
    lm.load_state_dict(torch.load(BASE_WEIGHTS, map_location="cpu", weights_only=True))
    return lm


def provenance(model_cfg, seed: int) -> dict:
    """What ``summary.json`` records about the weights a run started from."""
    base = resolve_base(model_cfg)
    if base == "random":
        why = "model.base=random" if model_cfg.base == "random" else \
            "the pretrained base does not fit: " + base_mismatch(
                model_cfg.n_layer, model_cfg.n_embd, model_cfg.n_head, model_cfg.seq_len)
        return {"base": "random", "seed": seed, "why": why}
    meta = base_meta()
    keep = ("script", "command", "seed", "steps", "corpus", "config", "weights_sha256",
            "val_loss", "finetune_heldout_loss")
    return {"base": "pretrained", "weights": f"edgelam_ns3/pretrained_base/{BASE_WEIGHTS.name}",
            **{k: meta[k] for k in keep}}


# -- the corpus ------------------------------------------------------------------------------


def shared_windows(text: bytes, other: bytes, window: int = WINDOW) -> list[int]:
    """Start offsets of the ``window``-byte windows of ``text`` that occur in ``other``."""
    grams = {other[i:i + window] for i in range(len(other) - window + 1)}
    return [i for i in range(len(text) - window + 1) if text[i:i + window] in grams]


def pretraining_corpus() -> bytes:
    """The pretraining text: ``pydoc_data.topics`` (the Python language reference's topics, in
    sorted topic order, separated by a blank line; lines with non-ASCII characters dropped), less
    every line that shares a :data:`WINDOW`-byte window with the fine-tuning corpus (repeated
    until none does).

    :output corpus: ASCII text, about 0.44 MB for Python 3.11
    """
    import pydoc_data.topics

    from .datasets.text import load_corpus

    topics = pydoc_data.topics.topics
    text = "\n\n".join(topics[k].strip("\n") for k in sorted(topics))
    lines = [line for line in text.split("\n") if line.isascii()]
    other = load_corpus()
    while True:
        data = "\n".join(lines).encode("ascii")
        hits = shared_windows(data, other)
        if not hits:
            return data
        starts = [0]
        for line in lines[:-1]:
            starts.append(starts[-1] + len(line) + 1)
        bad = set()
        for h in hits:  # every line a shared window touches
            for j, s in enumerate(starts):
                if s <= h + WINDOW - 1 and h <= s + len(lines[j]):
                    bad.add(j)
        lines = [line for j, line in enumerate(lines) if j not in bad]


# -- pretraining -----------------------------------------------------------------------------


def _lr(step: int, steps: int, lr: float, warmup: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of ``lr``."""
    if step < warmup:
        return lr * (step + 1) / warmup
    x = (step - warmup) / max(1, steps - warmup)
    return lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * x)))


def _mean_loss(lm, tokens, seq_len: int, batch_size: int, n_batches: int, seed: int) -> float:
    import torch

    from .datasets.text import batch_iterator

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        losses = [float(lm(input_ids=ids, labels=labels).loss)
                  for ids, labels in batch_iterator(tokens, batch_size, seq_len, g, n_batches)]
    return sum(losses) / len(losses)


def pretrain(out: Path, steps: int = 1200, batch_size: int = 32, seq_len: int = 64,
             lr: float = 2e-3, seed: int = 1, threads: int = 1, command: str = "",
             log: Callable[[str], None] = print) -> dict:
    """Pretrain the base (next-token prediction on :func:`pretraining_corpus`, AdamW, warm-up
    and cosine decay) and write ``gpt2_byte_base.pt`` and ``gpt2_byte_base.json`` into ``out``.

    The last 5 % of the corpus is held out (``val_loss``); ``finetune_heldout_loss`` is the loss
    on the fine-tuning corpus's held-out end (zero-shot). Deterministic for a seed, a torch
    version and a thread count.

    :output meta: the provenance written to the JSON file
    """
    import torch
    from transformers import GPT2LMHeadModel

    from .datasets.text import HELD_OUT_FRACTION, ByteTokens, batch_iterator, load_corpus
    from .models.split_gpt import gpt2_config

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    corpus = pretraining_corpus()
    tokens = ByteTokens.encode(corpus)
    cut = int(len(tokens) * (1 - HELD_OUT_FRACTION))
    train, val = tokens[:cut], tokens[cut:]
    config = gpt2_config(n_positions=seq_len, n_embd=128, n_layer=4, n_head=4)
    torch.manual_seed(seed)
    lm = GPT2LMHeadModel(config)
    opt = torch.optim.AdamW(lm.parameters(), lr=lr, weight_decay=0.01)
    batches = batch_iterator(train, batch_size, seq_len, torch.Generator().manual_seed(seed))
    warmup = max(1, steps // 20)
    loss = float("nan")
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = _lr(step, steps, lr, warmup)
        ids, labels = next(batches)
        loss_t = lm(input_ids=ids, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss_t.backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), 1.0)
        opt.step()
        loss = float(loss_t.detach())
        if step % 100 == 0 or step == steps - 1:
            log(f"step {step:5d}/{steps}  loss {loss:.4f}  ({time.perf_counter() - t0:.0f} s)")
    lm.eval()
    ft = ByteTokens.encode(load_corpus())
    ft_held = ft[int(len(ft) * (1 - HELD_OUT_FRACTION)):]
    out.mkdir(parents=True, exist_ok=True)
    weights = out / BASE_WEIGHTS.name
    torch.save(lm.state_dict(), weights)
    meta = {
        "script": "scripts/pretrain_base.py", "command": command, "seed": seed, "steps": steps,
        "batch_size": batch_size, "seq_len": seq_len, "lr": lr, "optimizer":
        "AdamW (weight decay 0.01), linear warm-up then cosine to lr/10, grad-norm clip 1",
        "threads": threads, "torch": torch.__version__, "python": sys.version.split()[0],
        "corpus": {"source": "pydoc_data.topics of the Python standard library (PSF License)",
                   "bytes": len(corpus), "sha256": sha256(corpus),
                   "disjoint_from": f"edgelam_ns3/datasets/text_corpus/corpus.txt (no shared "
                                    f"{WINDOW}-byte window)"},
        "config": {"n_layer": 4, "n_embd": 128, "n_head": 4, "n_positions": seq_len,
                   "vocab_size": 256},
        "train_loss_last": loss,
        "val_loss": _mean_loss(lm, val, seq_len, 32, 20, seed + 1),
        "finetune_heldout_loss": _mean_loss(lm, ft_held, seq_len, 32, 20, seed + 2),
        "wall_time_s": time.perf_counter() - t0,
        "weights_sha256": sha256(weights),
    }
    (out / BASE_META.name).write_text(json.dumps(meta, indent=2) + "\n")
    return meta
