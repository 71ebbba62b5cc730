"""Row factories and database checks shared by the writer tests."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from acd.store import spool
from acd.store.rows import (
    ROW_TYPES,
    AgentStateRow,
    CallRow,
    LegRow,
    QueueEventRow,
    RecordingRow,
    Row,
)
from acd.store.writer import RowWriter

T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


def make_row(kind: str, i: int, tag: str = "") -> Row:
    """A valid row of table `kind`; `i` varies every value so a mix-up shows."""
    key = f"{tag}{kind[:2]}-{i}-{uuid.uuid4().hex[:8]}"
    at = T0 + timedelta(milliseconds=i)
    if kind == "calls":
        return CallRow(key, f"ch-{i}", f"+1555{i:07d}", "100", "main", "1", at, "sales", at,
                       at + timedelta(seconds=1), at + timedelta(seconds=9), f"agent{i % 7}",
                       ("answered", "abandoned", "failed")[i % 3], 16, i % 1000, i % 5000,
                       {"i": i, "menu": "2", "account": "****1234"}, hold_ms=i % 700)
    if kind == "legs":
        return LegRow(key, f"call-{i}", ("caller", "agent")[i % 2], f"ch-{i}", "PJSIP/agent1",
                      f"agent{i % 7}", "sales", at, None, at, 17, i % 100, "busy",
                      None if i % 2 else {"mode": "listen", "i": i})
    if kind == "queue_events":
        return QueueEventRow(key, f"call-{i}", "sales", ("enter", "offer", "connect")[i % 3],
                             None if i % 2 else f"agent{i % 7}", at, i % 300, {"n": i},
                             None if i % 4 else f"complete:{key}")
    if kind == "recordings":
        paused = [] if i % 2 else [{"from": at.isoformat(), "to": at.isoformat(),
                                    "reason": "collect"}]
        return RecordingRow(key, f"call-{i}", f"call-{i}.wav", "wav", at,
                            at + timedelta(seconds=9), i % 9000, paused, "done")
    assert kind == "agent_states"
    return AgentStateRow(key, f"agent{i % 7}", "ready", None if i % 2 else "lunch", "break", at)


KINDS = tuple(ROW_TYPES)


def mixed_rows(n: int, tag: str = "") -> list[Row]:
    return [make_row(KINDS[i % len(KINDS)], i, tag) for i in range(n)]


def normalise(cls: type[Row], record: asyncpg.Record) -> tuple[Any, ...]:
    values = list(record.values())
    for i in cls.JSON_COLUMNS:
        if values[i] is not None:
            values[i] = json.loads(values[i])
    return tuple(values)


async def db_rows(dsn: str) -> dict[str, dict[str, tuple[Any, ...]]]:
    """Every row of the four tables, by table then primary key, as values tuples."""
    conn = await asyncpg.connect(dsn)
    try:
        out: dict[str, dict[str, tuple[Any, ...]]] = {}
        for table, cls in ROW_TYPES.items():
            recs = await conn.fetch(f"SELECT {', '.join(cls.COLUMNS)} FROM {table}")
            out[table] = {r[cls.PRIMARY_KEY]: normalise(cls, r) for r in recs}
        return out
    finally:
        await conn.close()


def expected(rows: list[Row]) -> dict[str, dict[str, tuple[Any, ...]]]:
    out: dict[str, dict[str, tuple[Any, ...]]] = {t: {} for t in ROW_TYPES}
    for r in rows:
        values = list(r.values())
        for i in type(r).JSON_COLUMNS:
            if values[i] is not None:
                values[i] = spool._plain(values[i])
        out[r.TABLE][r.key] = tuple(values)
    return out


async def db_count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        total = 0
        for table in ROW_TYPES:
            total += await conn.fetchval(f"SELECT count(*) FROM {table}")
        return total
    finally:
        await conn.close()


async def eventually(check: Any, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def spool_files(folder: Path) -> list[Path]:
    return spool.list_spool(folder)


def fast_writer(dsn: str, folder: Path, **kw: Any) -> RowWriter:
    """A writer with short retry and scan periods, for tests."""
    opts: dict[str, Any] = dict(batch_size=100, flush_interval=0.01, spool_dir=folder,
                                retry_initial=0.01, retry_max=0.1, connect_timeout=2.0,
                                spool_check_interval=0.05, stop_timeout=5.0)
    opts.update(kw)
    return RowWriter(dsn, **opts)
