"""Run traces as Parquet, one table per kind (messages, compute, metrics, link_states, ...).

Rows are buffered and flushed as numbered part files (``traces/.parts/<kind>-00000.parquet``)
every ``flush_rows`` rows of a table, and every table at least every ``flush_interval_s``
seconds of wall time, so a run that dies (even by ``kill -9``) leaves every row older than a few
seconds readable. :func:`merge`
(called at the end of a run, or by the parent process after a crashed child) joins the parts
into ``traces/<kind>.parquet``. Units are in the column names (``t_send_s``, ``bytes``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PARTS = ".parts"
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
            part = self._parts / f"{name}-{k:05d}.parquet"
            tmp = part.with_suffix(".tmp")
            pq.write_table(pa.Table.from_pylist(rows), tmp)
            tmp.rename(part)  # a part is either whole or absent
            self._nparts[name] = k + 1
            self._rows[name] = []

    def close(self) -> dict[str, Path]:
        """Flush and merge every table into ``<table>.parquet``."""
        self.flush()
        return merge(self.dir)


def merge(trace_dir: str | Path) -> dict[str, Path]:
    """Join part files into one Parquet file per table; keeps tables already merged."""
    trace_dir = Path(trace_dir)
    parts_dir = trace_dir / PARTS
    out: dict[str, Path] = {}
    if parts_dir.is_dir():
        by_table: dict[str, list[Path]] = {}
        for p in sorted(parts_dir.glob("*.parquet")):
            by_table.setdefault(p.name.rsplit("-", 1)[0], []).append(p)
        for table, parts in by_table.items():
            # ParquetFile, not pq.read_table: its pyarrow.dataset import loads pandas (~0.5 s)
            tables = [pq.ParquetFile(p).read() for p in parts]
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
