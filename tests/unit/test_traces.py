"""Trace tables (edgelam_ns3.traces): rows flushed as JSON part files, merged into one Parquet
table per kind with the values and types they were written with."""

import math

import numpy as np
import pyarrow.parquet as pq

from edgelam_ns3.traces import PARTS, TraceWriter, merge


def test_parts_merge_into_parquet_with_their_values_and_types(tmp_path):
    tw = TraceWriter(tmp_path, flush_rows=2, flush_interval_s=1e9)
    rows = [{"t_s": 0.5, "n": 1, "tag": "act_up", "x": float("nan"), "ok": True},
            {"t_s": np.float64(1.5), "n": np.int64(2), "tag": "grad", "x": None, "ok": False},
            {"t_s": 2.5, "n": 3, "tag": "act_up", "x": 4.0, "ok": True, "extra": "new"}]
    for r in rows:
        tw.append("messages", r)
    tw.close(merge_parts=False)
    parts = sorted((tmp_path / PARTS).iterdir())
    assert [p.name for p in parts] == ["messages-00000.jsonl", "messages-00001.jsonl"]
    assert not (tmp_path / "messages.parquet").exists()  # left for the caller to merge
    out = merge(tmp_path)
    assert out == {"messages": tmp_path / "messages.parquet"} and not (tmp_path / PARTS).exists()
    table = pq.ParquetFile(out["messages"]).read()
    assert str(table.schema.field("n").type) == "int64"
    assert str(table.schema.field("t_s").type) == "double"
    got = table.to_pylist()
    assert [g["t_s"] for g in got] == [0.5, 1.5, 2.5] and [g["n"] for g in got] == [1, 2, 3]
    assert math.isnan(got[0]["x"]) and got[1]["x"] is None and got[2]["x"] == 4.0
    assert [g["extra"] for g in got] == [None, None, "new"]  # a column a later part adds


def test_close_merges_by_default(tmp_path):
    tw = TraceWriter(tmp_path)
    tw.append("metrics", {"round": 1, "loss": 2.0})
    tw.close()
    assert pq.ParquetFile(tmp_path / "metrics.parquet").read().to_pylist() == [
        {"round": 1, "loss": 2.0}]
