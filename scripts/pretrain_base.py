#!/usr/bin/env python3
"""Pretrain the base GPT-2-style decoder that LoRA fine-tuning starts from (model.base).

Writes gpt2_byte_base.pt (float32 state dict) and gpt2_byte_base.json (provenance: this
command, seed, corpus and its SHA-256, losses, the weights' SHA-256) into --out, by default
edgelam_ns3/pretrained_base/, the shipped base. Seeded and deterministic on the CPU for a given
torch version and thread count; the shipped base took about 8 min on one thread. See
edgelam_ns3/pretrained.py for the corpus (disjoint from the devices' fine-tuning data).

    .venv/bin/python scripts/pretrain_base.py [--steps 1200] [--seed 1] [--threads 1]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from edgelam_ns3.pretrained import BASE_DIR, pretrain

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=BASE_DIR, help="output folder")
    p.add_argument("--steps", type=int, default=1200, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per step")
    p.add_argument("--seq-len", type=int, default=64, help="tokens per sequence (= positions)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate")
    p.add_argument("--seed", type=int, default=1, help="seed of the weights and batches")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    a = p.parse_args(argv)
    command = "scripts/pretrain_base.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    meta = pretrain(a.out, steps=a.steps, batch_size=a.batch_size, seq_len=a.seq_len, lr=a.lr,
                    seed=a.seed, threads=a.threads, command=command.strip())
    print(f"wrote {a.out}: val_loss {meta['val_loss']:.4f}, fine-tuning held-out loss "
          f"{meta['finetune_heldout_loss']:.4f}, {meta['wall_time_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
