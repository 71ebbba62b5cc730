"""Leg writer: rows per second into PostgreSQL, and proof it never blocks the call path.

A ticker coroutine stands for the call path: it wakes every 1 ms and records how
late it woke. While it runs, 200,000 leg and queue-event rows are written through
`RowWriter.write()`. The ticker's lateness is the writer's cost to calls.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import asyncpg

from acd.store.migrate import migrate
from acd.store.rows import LegRow, QueueEventRow
from acd.store.writer import RowWriter
from bench.common import summary_ms

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _fresh_db() -> str:
    name = f"acd_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name


async def _drop_db(name: str) -> None:
    conn = await asyncpg.connect(ADMIN)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def run(rows: int = 200_000) -> dict[str, Any]:
    name = await _fresh_db()
    dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        conn = await asyncpg.connect(dsn)
        await migrate(conn)
        await conn.close()
        writer = RowWriter(dsn, spool_dir=Path(mkdtemp(prefix="acd-bench-spool-")))
        await writer.start()
        lags: list[float] = []
        stop = asyncio.Event()

        async def ticker() -> None:
            loop = asyncio.get_running_loop()
            while not stop.is_set():
                t0 = loop.time()
                await asyncio.sleep(0.001)
                lags.append(max(0.0, loop.time() - t0 - 0.001))

        tick = asyncio.create_task(ticker())
        now = datetime.now(UTC)
        write_times: list[float] = []
        t0 = time.perf_counter()
        for i in range(rows):
            call_id = f"bench-{i // 4}"
            if i % 2 == 0:
                row: Any = LegRow(
                    leg_id=f"{call_id}-{i}", call_id=call_id, kind="agent",
                    channel_id=f"c{i}", endpoint="PJSIP/agent100", agent_id="a1",
                    queue="sales", started_at=now, answered_at=now, ended_at=now,
                    hangup_cause=16, wait_ms=1200, outcome="answered")
            else:
                row = QueueEventRow(
                    event_id=uuid.uuid4().hex, call_id=call_id, queue="sales",
                    event="connect", agent_id="a1", at=now, wait_ms=1200, detail=None)
            w0 = time.perf_counter()
            writer.write(row)
            write_times.append(time.perf_counter() - w0)
            if i % 2000 == 0:
                await asyncio.sleep(0)  # the call path goes on between bursts of rows
        await writer.flush()
        elapsed = time.perf_counter() - t0
        stop.set()
        await tick
        await writer.stop()
        conn = await asyncpg.connect(dsn)
        stored = await conn.fetchval("SELECT (SELECT count(*) FROM legs) + "
                                     "(SELECT count(*) FROM queue_events)")
        await conn.close()
        return {
            "rows": rows, "seconds": round(elapsed, 3),
            "rows_per_s": round(rows / elapsed), "rows_stored": stored,
            "rows_lost": rows - stored, "batches": writer.batches,
            "write_call_us": {k: (v * 1000 if k != "n" else v)
                              for k, v in summary_ms(write_times).items()},
            "call_path_tick_lateness": summary_ms(lags),
        }
    finally:
        await _drop_db(name)
