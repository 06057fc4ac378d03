"""Data sets of the simulated devices: :mod:`edgelam_ns3.datasets.text` (the shipped text
corpus, byte tokens, per-device shards and batches)."""
