"""Run traces as Parquet, one table per kind (messages, compute, metrics, link_states, ...).

Rows are buffered and flushed as numbered part files (``traces/.parts/<kind>-00000.jsonl``,
one JSON object per row) every ``flush_rows`` rows of a table, and every table at least every
``flush_interval_s`` seconds of wall time, so a run that dies (even by ``kill -9``) leaves every
row older than a few seconds readable. :func:`merge` (at the end of a run: by the launcher, the
parent of the simulation child, or by :meth:`TraceWriter.close` in-process; or by ``edgelam
report`` after a launcher died) joins the parts into ``traces/<kind>.parquet``. Units are in the
column names (``t_send_s``, ``bytes``).

The parts are JSON, not Parquet, so that a simulation child never imports pyarrow: pyarrow
imports pandas on its first array (about 0.6 s of a run's CPU, a fifth of a timing replay's).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

PARTS = ".parts"
PART_SUFFIX = ".jsonl"
FLUSH_INTERVAL_S = 2.0
"""Wall seconds between flushes of all tables, whatever their row counts."""


class TraceWriter:
    """Collects rows per table and writes them incrementally.

    :param trace_dir: the run's ``traces/`` folder
    :param flush_rows: rows buffered per table before a part file is written
    :param flush_interval_s: wall seconds after which every table with rows is written
    """

    def __init__(self, trace_dir: str | Path, flush_rows: int = 5000,
                 flush_interval_s: float = FLUSH_INTERVAL_S):
        self.dir = Path(trace_dir)
        self._parts = self.dir / PARTS
        self._parts.mkdir(parents=True, exist_ok=True)
        self._rows: dict[str, list[dict]] = {}
        self._nparts: dict[str, int] = {}
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self._last_flush = time.monotonic()

    def append(self, table: str, row: dict) -> None:
        """Add one row (a flat dict of scalars) to ``table``."""
        rows = self._rows.setdefault(table, [])
        rows.append(row)
        if len(rows) >= self.flush_rows:
            self.flush(table)
        elif time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self, table: str | None = None) -> None:
        """Write buffered rows of one table (or all) as part files."""
        if table is None:
            self._last_flush = time.monotonic()
        for name in [table] if table else list(self._rows):
            rows = self._rows.get(name)
            if not rows:
                continue
            k = self._nparts.get(name, 0)
            part = self._parts / f"{name}-{k:05d}{PART_SUFFIX}"
            tmp = part.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(r, default=_scalar) + "\n" for r in rows))
            tmp.rename(part)  # a part is either whole or absent
            self._nparts[name] = k + 1
            self._rows[name] = []

    def close(self, merge_parts: bool = True) -> None:
        """Flush every table; then, unless ``merge_parts`` is False (the launcher merges a
        child's), merge them into ``<table>.parquet``."""
        self.flush()
        if merge_parts:
            merge(self.dir)


def _scalar(x):
    """A numpy scalar (or anything with ``item``) as its Python value, for JSON."""
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(f"trace value {x!r} ({type(x).__name__}) is not a scalar")


def _read_part(path: Path):
    """A part file as a pyarrow table (its rows' keys, in order, are the columns)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":  # parts written before the JSON parts
        return pq.ParquetFile(path).read()
    rows = [json.loads(line) for line in path.read_text().splitlines() if line]
    return pa.Table.from_pylist(rows)


def merge(trace_dir: str | Path) -> dict[str, Path]:
    """Join part files into one Parquet file per table; keeps tables already merged."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    trace_dir = Path(trace_dir)
    parts_dir = trace_dir / PARTS
    out: dict[str, Path] = {}
    if parts_dir.is_dir():
        by_table: dict[str, list[Path]] = {}
        for p in sorted([*parts_dir.glob(f"*{PART_SUFFIX}"), *parts_dir.glob("*.parquet")]):
            by_table.setdefault(p.name.rsplit("-", 1)[0], []).append(p)
        for table, parts in by_table.items():
            tables = [_read_part(p) for p in parts]
            merged = pa.concat_tables(tables, promote_options="default")
            dest = trace_dir / f"{table}.parquet"
            pq.write_table(merged, dest)
            out[table] = dest
            for p in parts:
                p.unlink()
        for p in parts_dir.glob("*.tmp"):
            p.unlink()
        parts_dir.rmdir()
    for p in trace_dir.glob("*.parquet"):
        out.setdefault(p.stem, p)
    return out
