"""A row writer that keeps nothing: `acd ivr try` without `--record`.

It stands where acd.store.writer.RowWriter stands (same methods) and counts what it
was given, so a trial call through the real call path leaves no row in PostgreSQL
and needs no database at all.
"""

from __future__ import annotations

from pathlib import Path

from acd.store.rows import Row
from acd.store.writer import RowWriter


class NullWriter(RowWriter):
    """Drops every row; `rows_dropped` says how many."""

    def __init__(self) -> None:
        super().__init__("", spool_dir=Path("."))
        self.rows_dropped = 0

    def write(self, row: Row) -> None:
        self.rows_dropped += 1

    async def start(self) -> None:
        return None

    async def flush(self, timeout: float | None = None) -> None:
        return None

    async def stop(self) -> None:
        return None
