"""Corpus, byte tokens, per-device shards and batches."""

import hashlib
from itertools import islice

import pytest
import torch

from edgelam_ns3.datasets.text import ByteTokens, batch_iterator, device_shards, load_corpus

torch.set_num_threads(1)

CORPUS_SHA256 = "462a8dfdb51c851cf57d04477ff62f5021fdce8ce98df2e7361110d81933977a"


@pytest.fixture(scope="module")
def tokens() -> torch.Tensor:
    return ByteTokens.encode(load_corpus())


def test_corpus_is_the_documented_ascii_text():
    corpus = load_corpus()
    assert isinstance(corpus, bytes)
    assert 300_000 <= len(corpus) <= 600_000
    assert hashlib.sha256(corpus).hexdigest() == CORPUS_SHA256  # the one README.md describes
    text = corpus.decode("ascii")
    assert "\r" not in text and "\t" not in text
    assert ">>>" not in text  # doctests were removed


def test_byte_tokens_round_trip_and_vocab_range(tokens):
    assert ByteTokens.vocab_size == 256
    assert tokens.dtype == torch.int64 and tokens.dim() == 1
    assert int(tokens.min()) >= 0 and int(tokens.max()) < 256
    assert ByteTokens.decode(tokens[:200]) == load_corpus()[:200].decode()
    ids = ByteTokens.encode("café ∑")
    assert ids.tolist() == list("café ∑".encode("utf-8"))
    assert ByteTokens.decode(ids) == "café ∑"
    with pytest.raises(ValueError, match=r"\[0, 256\)"):
        ByteTokens.decode(torch.tensor([256]))


@pytest.mark.parametrize("non_iid", [True, False])
def test_shards_are_deterministic_for_a_seed_and_differ_across_seeds(tokens, non_iid):
    a = device_shards(tokens, 4, non_iid=non_iid, seed=1)
    b = device_shards(tokens, 4, non_iid=non_iid, seed=1)
    c = device_shards(tokens, 4, non_iid=non_iid, seed=2)
    assert len(a) == 4
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_non_iid_shards_are_the_contiguous_regions_of_the_corpus(tokens):
    shards = device_shards(tokens, 5, non_iid=True, seed=0)
    regions = torch.tensor_split(tokens, 5)
    assert sum(s.numel() for s in shards) == tokens.numel()
    for s in shards:
        assert sum(torch.equal(s, r) for r in regions) == 1
    assert shards[0].data_ptr() != tokens.data_ptr()  # copies, not views


def test_iid_shards_interleave_equal_blocks_from_the_whole_corpus(tokens):
    block = 1024
    shards = device_shards(tokens, 3, non_iid=False, seed=0, block_len=block)
    n_blocks = (tokens.numel() // block) // 3 * 3
    assert [s.numel() for s in shards] == [n_blocks // 3 * block] * 3
    blocks = tokens[: n_blocks * block].reshape(n_blocks, block)
    index = {bytes(b.to(torch.uint8).tolist()): i for i, b in enumerate(blocks)}
    seen = []
    for s in shards:
        ids = [index[bytes(b.to(torch.uint8).tolist())] for b in s.reshape(-1, block)]
        # each device's blocks come from across the corpus, not one region
        assert min(ids) < n_blocks // 4 and max(ids) > 3 * n_blocks // 4
        seen += ids
    assert sorted(seen) == list(range(n_blocks))  # every block dealt exactly once


def test_shard_arguments_are_validated(tokens):
    with pytest.raises(ValueError, match="n_devices"):
        device_shards(tokens, 0, non_iid=True, seed=0)
    with pytest.raises(ValueError, match="1-D"):
        device_shards(tokens.reshape(1, -1), 2, non_iid=True, seed=0)
    with pytest.raises(ValueError, match="blocks"):
        device_shards(tokens[:100], 2, non_iid=False, seed=0, block_len=64)


def _batches(shard, seed, n=3, B=4, T=32):
    g = torch.Generator().manual_seed(seed)
    return list(batch_iterator(shard, B, T, g, n_batches=n))


def test_batches_have_shape_dtype_vocab_range_and_labels_equal_inputs(tokens):
    shard = device_shards(tokens, 2, non_iid=True, seed=0)[0]
    batches = _batches(shard, 0)
    assert len(batches) == 3
    for x, y in batches:
        assert x.shape == (4, 32) and y.shape == (4, 32)
        assert x.dtype == torch.int64 and y.dtype == torch.int64
        assert int(x.min()) >= 0 and int(x.max()) < ByteTokens.vocab_size
        assert torch.equal(x, y) and x.data_ptr() != y.data_ptr()
        # each row is a window of consecutive shard tokens
        for row in x:
            starts = (shard.unfold(0, 32, 1) == row).all(dim=1).nonzero()
            assert starts.numel() >= 1


def test_batches_are_deterministic_for_a_seed_and_differ_across_seeds(tokens):
    shard = device_shards(tokens, 2, non_iid=False, seed=0)[1]
    a, b, c = _batches(shard, 5), _batches(shard, 5), _batches(shard, 6)
    assert all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(a, b))
    assert not all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(a, c))


def test_batches_do_not_touch_the_global_rng(tokens):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    _batches(tokens, 1)
    assert torch.equal(torch.rand(3), expected)


def test_endless_stream_and_argument_checks(tokens):
    g = torch.Generator().manual_seed(0)
    assert len(list(islice(batch_iterator(tokens, 2, 8, g), 50))) == 50
    with pytest.raises(TypeError, match="torch.Generator"):
        next(batch_iterator(tokens, 2, 8, 0))
    with pytest.raises(ValueError, match="seq_len"):
        next(batch_iterator(tokens[:10], 2, 16, g))
