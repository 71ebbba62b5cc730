"""The writer's files: the spool (rows the database would not take yet, replayed later)
and the dead-letter file (rows the database refused, kept for a human).

Blocking file I/O: the writer calls these through `asyncio.to_thread`. A spool file
is written under a temporary name, fsynced, then renamed, so a reader only ever sees
complete files. One JSON object per line: {"t": table, "v": [values in column order]},
datetimes as ISO 8601 strings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from acd.store.rows import ROW_TYPES, Row

SPOOL_GLOB = "spool-*.jsonl"
DEAD_LETTER = "rejected.jsonl"


def encode(row: Row) -> str:
    """One spool line for `row`."""
    values: list[Any] = list(row.values())
    for i in type(row).TIME_COLUMNS:
        if values[i] is not None:
            values[i] = values[i].isoformat()
    for i in type(row).JSON_COLUMNS:
        if values[i] is not None:
            values[i] = _plain(values[i])
    # default=str: a value JSON cannot hold must not cost us the row; the database
    # gets its text form instead.
    return json.dumps({"t": row.TABLE, "v": values}, default=str, ensure_ascii=False)


def _plain(value: Any) -> Any:
    """A JSON column's value as plain dicts and lists."""
    if isinstance(value, Mapping):
        return dict(value)
    return [dict(v) for v in value]


def decode(line: str) -> Row:
    """The row a spool line holds; ValueError/KeyError/TypeError when it holds none."""
    obj = json.loads(line)
    cls = ROW_TYPES[obj["t"]]
    values = list(obj["v"])
    # A line spooled before a migration added columns (with defaults) lacks them.
    if not cls.REQUIRED <= len(values) <= len(cls.COLUMNS):
        raise ValueError(f"{cls.TABLE}: {len(values)} values for {len(cls.COLUMNS)} columns")
    for i in cls.TIME_COLUMNS:
        if values[i] is not None:
            values[i] = datetime.fromisoformat(values[i])
    return cls(*values)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_spool(folder: Path, name: str, rows: Iterable[Row]) -> Path:
    """Write `rows` durably to folder/name; returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    tmp = folder / f".{name}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(encode(row))
            f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(folder)
    return path


def list_spool(folder: Path) -> list[Path]:
    """Spool files waiting in folder, oldest first (names sort by creation time)."""
    if not folder.is_dir():
        return []
    return sorted(folder.glob(SPOOL_GLOB))


def read_spool(path: Path) -> tuple[list[Row], list[str]]:
    """The rows of a spool file, and the lines that hold no row."""
    rows: list[Row] = []
    bad: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(decode(line))
            except (ValueError, KeyError, TypeError, IndexError):
                bad.append(line)
    return rows, bad


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def dead_letter(folder: Path, entries: Iterable[tuple[Row | str, str]]) -> None:
    """Append refused rows (or unreadable spool lines) with the reason to rejected.jsonl."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / DEAD_LETTER).open("a", encoding="utf-8") as f:
        for item, reason in entries:
            line = item if isinstance(item, str) else encode(item)
            f.write(json.dumps({"reason": reason, "line": line}, ensure_ascii=False))
            f.write("\n")
        f.flush()
        os.fsync(f.fileno())
