"""Text training data for the simulated devices: a shipped corpus, byte tokens, per-device
shards, and the loaders the training frameworks use (each device's batches, a held-out batch).

The corpus (``edgelam_ns3/datasets/text_corpus/corpus.txt``, about 0.5 MB of Python
standard-library docstrings, PSF License; see ``edgelam_ns3/datasets/text_corpus/README.md``) is
tokenised byte by byte (vocabulary 256, matching
:func:`edgelam_ns3.models.split_gpt.gpt2_config`'s default), split into one local dataset per
device (IID or non-IID), and sampled in batches of random windows. Its last
``HELD_OUT_FRACTION`` is kept for evaluation.

Every random draw takes an explicit :class:`torch.Generator` or seed; the global RNG is never
used. This module depends on torch only (the loaders read a scenario config's fields).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from ..config import ScenarioConfig

__all__ = ["CORPUS_PATH", "HELD_OUT_FRACTION", "load_corpus", "ByteTokens", "device_shards",
           "batch_iterator", "local_data", "device_batches", "held_out_batch"]

CORPUS_PATH = Path(__file__).resolve().parent / "text_corpus" / "corpus.txt"
"""Location of the shipped corpus."""

HELD_OUT_FRACTION = 0.05
"""Fraction of the corpus, at its end, kept for evaluation."""


def load_corpus() -> bytes:
    """The shipped training corpus.

    :output corpus: ASCII English text (UTF-8 compatible), about 519 kB
    """
    return CORPUS_PATH.read_bytes()


class ByteTokens:
    """Byte-level tokenisation: token id = byte value, vocabulary of 256, no special tokens.

    Text is encoded as UTF-8; any byte sequence is a valid token sequence.
    """

    vocab_size: int = 256

    @staticmethod
    def encode(text: str | bytes) -> torch.Tensor:
        """Tokenise text.

        :input text: a string (encoded as UTF-8) or raw bytes
        :output ids: token ids, shape [N] with N the number of bytes, int64, values in [0, 256)
        """
        raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        return torch.frombuffer(bytearray(raw), dtype=torch.uint8).to(torch.int64)

    @staticmethod
    def decode(ids: torch.Tensor) -> str:
        """Detokenise; invalid UTF-8 sequences become U+FFFD.

        :input ids: token ids, any shape (flattened), integer values in [0, 256)
        :output text: the decoded string
        """
        flat = torch.as_tensor(ids).reshape(-1)
        if flat.numel() and (flat.min() < 0 or flat.max() > 255):
            raise ValueError("byte token ids must be in [0, 256)")
        return bytes(flat.to(torch.uint8).tolist()).decode("utf-8", errors="replace")


def device_shards(
    tokens: torch.Tensor, n_devices: int, non_iid: bool, seed: int, block_len: int = 1024
) -> list[torch.Tensor]:
    """Split a token stream into one local dataset per device.

    - ``non_iid=True``: the stream is cut into ``n_devices`` contiguous regions of (nearly) equal
      length and each device gets one, the assignment drawn from ``seed``. The shipped corpus is
      ordered by standard-library module, so regions differ in topic and vocabulary.
    - ``non_iid=False`` (IID): the stream is cut into blocks of ``block_len`` tokens, the blocks
      are shuffled with ``seed`` and dealt round-robin, so every device sees blocks from the whole
      stream. All devices get the same number of blocks; the remainder is dropped. Each shard is
      its blocks concatenated, so a window may span the seam between two blocks.

    :param tokens: token ids, shape [N], int64
    :param n_devices: number of devices, >= 1
    :param non_iid: contiguous regions (True) or interleaved blocks (False)
    :param seed: seed of the assignment
    :param block_len: IID block length [tokens], >= 1
    :output shards: ``n_devices`` tensors of shape [N_d], int64, sharing no memory with ``tokens``
    """
    if tokens.dim() != 1:
        raise ValueError(f"tokens must be 1-D [N], got shape {tuple(tokens.shape)}")
    if isinstance(n_devices, bool) or not isinstance(n_devices, int) or n_devices < 1:
        raise ValueError(f"n_devices must be an integer >= 1, got {n_devices!r}")
    if block_len < 1:
        raise ValueError(f"block_len must be >= 1, got {block_len!r}")
    g = torch.Generator().manual_seed(int(seed))
    if non_iid:
        if tokens.numel() < n_devices:
            raise ValueError(f"{tokens.numel()} tokens cannot give {n_devices} non-empty shards")
        regions = torch.tensor_split(tokens, n_devices)
        order = torch.randperm(n_devices, generator=g).tolist()
        return [regions[i].clone() for i in order]
    n_blocks = tokens.numel() // block_len
    n_blocks -= n_blocks % n_devices
    if n_blocks == 0:
        raise ValueError(
            f"{tokens.numel()} tokens give fewer than n_devices={n_devices} blocks of {block_len}"
        )
    blocks = tokens[: n_blocks * block_len].reshape(n_blocks, block_len)
    perm = torch.randperm(n_blocks, generator=g)
    return [blocks[perm[d::n_devices]].reshape(-1).clone() for d in range(n_devices)]


def batch_iterator(
    shard: torch.Tensor,
    batch_size: int,
    seq_len: int,
    generator: torch.Generator,
    n_batches: int | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Random training windows from one device's shard.

    Each batch holds ``batch_size`` windows of ``seq_len`` consecutive tokens, with start
    positions drawn uniformly (with replacement) from ``generator``. ``labels`` equals
    ``input_ids``: as in :class:`~transformers.GPT2LMHeadModel`, the model shifts them so that
    position ``t`` predicts token ``t + 1``.

    :param shard: token ids, shape [N], int64, N >= seq_len
    :param batch_size: windows per batch B, >= 1
    :param seq_len: window length T [tokens], >= 2
    :param generator: the only source of randomness; the same state gives the same batches
    :param n_batches: number of batches, or `None` for an endless stream
    :output input_ids: shape [B, T], int64
    :output labels: shape [B, T], int64, a copy of ``input_ids``
    """
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if shard.dim() != 1:
        raise ValueError(f"shard must be 1-D [N], got shape {tuple(shard.shape)}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    if seq_len < 2:
        raise ValueError(f"seq_len must be >= 2 (one next-token target), got {seq_len!r}")
    if shard.numel() < seq_len:
        raise ValueError(f"shard of {shard.numel()} tokens is shorter than seq_len={seq_len}")
    if n_batches is not None and n_batches < 0:
        raise ValueError(f"n_batches must be >= 0 or None, got {n_batches!r}")
    offsets = torch.arange(seq_len)
    produced = 0
    while n_batches is None or produced < n_batches:
        starts = torch.randint(0, shard.numel() - seq_len + 1, (batch_size,), generator=generator)
        input_ids = shard[starts[:, None] + offsets]
        yield input_ids, input_ids.clone()
        produced += 1


def local_data(cfg: ScenarioConfig, held_out: bool = True) -> list[torch.Tensor]:
    """Each device's local dataset: its shard of the training corpus (the corpus less its last
    ``HELD_OUT_FRACTION``, kept for evaluation, unless ``held_out`` is False), IID or not per
    ``train.non_iid``; token ids [N_d]."""
    tokens = ByteTokens.encode(load_corpus())
    train = tokens[: int(len(tokens) * (1 - HELD_OUT_FRACTION))] if held_out else tokens
    return device_shards(train, cfg.nodes.n_devices, cfg.train.non_iid, cfg.seed)


def device_batches(cfg: ScenarioConfig, batch_size: int | None = None,
                   held_out: bool = True) -> list[Iterator[tuple[torch.Tensor, torch.Tensor]]]:
    """One endless batch iterator per device over its local data; seeded by ``cfg.seed``."""
    out = []
    for i, shard in enumerate(local_data(cfg, held_out)):
        g = torch.Generator().manual_seed(cfg.seed * 1000 + i)
        out.append(batch_iterator(shard, batch_size or cfg.train.batch_size, cfg.model.seq_len, g))
    return out


def held_out_batch(cfg: ScenarioConfig, n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed evaluation batch of ``n`` windows from the held-out end of the corpus (the same
    for every framework and policy, so their losses compare)."""
    tokens = ByteTokens.encode(load_corpus())
    held = tokens[int(len(tokens) * (1 - HELD_OUT_FRACTION)):]
    g = torch.Generator().manual_seed(12345)
    return next(batch_iterator(held, n, cfg.model.seq_len, g))
