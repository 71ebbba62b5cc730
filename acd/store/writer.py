"""RowWriter: call-path rows to PostgreSQL in batches, without ever holding up a call.

`write(row)` only appends to an in-memory queue per table. One background task takes
batches off the front of each queue, COPYs them into a temporary staging table and
moves them with `INSERT ... SELECT ... ON CONFLICT DO NOTHING`, all in one
transaction. A batch is taken off its queue only once that transaction committed, so a
failed batch is simply tried again; and because the insert skips rows whose key is
already there, a batch whose COMMIT was sent but never acknowledged is harmless to retry.

When the database is away the task backs off and keeps the rows. If memory passes
`max_memory_rows`, or `stop()` comes with rows not yet committed, the rows go to a spool
file (see acd.store.spool). Spool files, ours or an earlier run's, are replayed before
any newer row of memory, so each table keeps its order. Rows the database refuses (a
CHECK or NOT NULL failing) are found by bisecting the batch and set aside in the
dead-letter file; the rest of the batch goes in.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import time
import uuid
from pathlib import Path

import asyncpg

from acd.store import spool
from acd.store.rows import ROW_TYPES, Row
from acd.store.staging import Table, Transient, is_row_error, why

logger = logging.getLogger(__name__)


class RowWriter:
    """Batched, order-keeping, loss-free writer of acd.store.rows to PostgreSQL."""

    def __init__(self, dsn: str, *, batch_size: int = 500, flush_interval: float = 0.05,
                 spool_dir: Path, max_memory_rows: int = 200_000,
                 retry_initial: float = 0.05, retry_max: float = 5.0,
                 connect_timeout: float = 5.0, command_timeout: float = 30.0,
                 spool_check_interval: float = 5.0, stop_timeout: float = 15.0) -> None:
        if batch_size < 1 or max_memory_rows < 1:
            raise ValueError("batch_size and max_memory_rows must be at least 1")
        self._dsn = dsn
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._spool_dir = Path(spool_dir)
        self._max_memory = max_memory_rows
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._spool_check_interval = spool_check_interval
        self._stop_timeout = stop_timeout
        self._tables = {name: Table(cls) for name, cls in ROW_TYPES.items()}
        self._pending = 0
        self._wake = asyncio.Event()  # rows to write, or flush()/stop() asking
        self._alert = asyncio.Event()  # memory over the limit, or stop(): ends a backoff
        self._progress = asyncio.Event()  # replaced after each commit; flush() waits on it
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._stopping = False
        self._stopped = False
        self._failures = 0
        self._spool_queue: list[Path] = []
        self._next_scan = 0.0
        self._own_spool: dict[str, dict[str, int]] = {}  # file name -> rows per table
        self._spool_seq = itertools.count()
        self.rows_written = 0
        self.rows_spooled = 0
        self.rows_replayed = 0
        self.rows_rejected = 0
        self.batches = 0
        self.last_error: str | None = None

    # ------------------------------------------------------------------ call path

    @property
    def healthy(self) -> bool:
        """False from a failed attempt to reach the database until one succeeds."""
        return self.last_error is None

    def write(self, row: Row) -> None:
        """Queue a row. Synchronous and O(1): never waits, never raises."""
        try:
            table = self._tables[row.TABLE]
        except (KeyError, AttributeError):
            logger.error("write(): a %s is not a row acd stores; dropped", type(row).__name__)
            return
        if self._stopped:
            self._write_late(row)
            return
        table.queue.append(row)
        table.appended += 1
        self._pending += 1
        if self._pending == 1 or self._pending >= self._batch_size:
            self._wake.set()
        if self._pending > self._max_memory:
            self._alert.set()

    @property
    def rows_pending(self) -> int:
        """Rows written here and not yet committed: in memory or in our spool files."""
        return sum(t.appended - t.settled for t in self._tables.values())

    @property
    def rows_in_memory(self) -> int:
        return self._pending

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the background task; it replays any spool file left by an earlier run."""
        if self._task is not None:
            return
        self._stopping = self._stopped = False
        self._task = asyncio.create_task(self._run(), name="acd-row-writer")

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every row written before this call is committed (or dead-lettered).

        With the database away this waits for it to come back; pass `timeout` to bound
        the wait (TimeoutError).
        """
        task = self._task
        if task is None:
            raise RuntimeError("RowWriter.flush() before start() or after stop()")
        targets = {name: t.appended for name, t in self._tables.items()}
        self._wake.set()
        async with asyncio.timeout(timeout):
            while any(t.settled < targets[name] for name, t in self._tables.items()):
                if task.done():
                    raise RuntimeError("the row writer stopped before these rows were "
                                       "committed; they are in the spool for the next start")
                await self._progress.wait()

    async def stop(self) -> None:
        """Write what the database takes within stop_timeout; spool the rest to disk."""
        task, self._task = self._task, None
        self._stopping = True
        self._wake.set()
        self._alert.set()
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), self._stop_timeout)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._pending:
            await self._spool_memory("stop")
        await self._close()
        self._stopped = True
        self._notify()  # a flush() still waiting learns the writer is gone
        logger.info("row writer stopped: %d written, %d spooled, %d rejected",
                    self.rows_written, self.rows_spooled, self.rows_rejected)

    def _write_late(self, row: Row) -> None:
        # After stop() nothing would ever write it: keep it on disk for the next run.
        try:
            spool.write_spool(self._spool_dir, self._spool_name(), [row])
            self.rows_spooled += 1
            logger.warning("row written after stop(): spooled for the next start")
        except OSError as exc:
            logger.error("row written after stop() is lost: spool failed (%s)", exc)

    # ------------------------------------------------------------------ the task

    async def _run(self) -> None:
        while True:
            if not self._stopping:
                await self._idle_wait()
            ok = await self._cycle()
            if self._stopping:
                return
            if ok:
                self._failures = 0
            else:
                await self._backoff()

    async def _idle_wait(self) -> None:
        if self._pending == 0 and not self._spool_queue:
            await _wait(self._wake, self._spool_check_interval)
        self._wake.clear()
        if 0 < self._pending < self._batch_size and not self._stopping:
            # Gather a batch for a moment; a full batch, flush() or stop() cut this short.
            await _wait(self._wake, self._flush_interval)
            self._wake.clear()

    async def _backoff(self) -> None:
        self._failures += 1
        delay = min(self._retry_max, self._retry_initial * 2 ** min(self._failures, 20))
        deadline = time.monotonic() + delay * random.uniform(0.5, 1.0)
        while not self._stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._alert.clear()
            await _wait(self._alert, left)
            if self._pending > self._max_memory and not self._stopping:
                await self._spool_memory("memory limit")

    async def _cycle(self) -> bool:
        """Replay due spool files, then drain memory. False when the database failed."""
        try:
            if self._pending > self._max_memory:
                await self._spool_memory("memory limit")
            await self._replay()
            while self._pending:
                for table in self._tables.values():
                    if table.queue:
                        await self._commit_front(table)
                if self._pending > self._max_memory:
                    await self._spool_memory("memory limit")
            return True
        except Transient as exc:
            cause = exc.__cause__ or exc
            reason = why(cause)
            if reason != self.last_error:
                logger.warning("database unavailable, rows kept (%d in memory): %s",
                               self._pending, reason)
            self.last_error = reason
            await self._close()
            return False
        except Exception as exc:  # a bug or a disk error: keep the task, keep the rows
            logger.error("row writer cycle failed, retrying: %s", why(exc))
            logger.debug("row writer cycle failure", exc_info=True)
            self.last_error = why(exc)
            await self._close()
            return False

    async def _commit_front(self, table: Table) -> None:
        batch = list(itertools.islice(table.queue, self._batch_size))
        await self._insert(table, batch)
        for _ in batch:
            table.queue.popleft()
        self._pending -= len(batch)
        self._settle(table, len(batch))

    def _settle(self, table: Table, n: int) -> None:
        table.settled += n
        self._notify()

    def _notify(self) -> None:
        done, self._progress = self._progress, asyncio.Event()
        done.set()

    # ------------------------------------------------------------------ database

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        try:
            conn = await asyncpg.connect(self._dsn, timeout=self._connect_timeout,
                                         command_timeout=self._command_timeout)
        except Exception as exc:
            raise Transient() from exc
        try:
            for t in self._tables.values():
                await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {t.stage} "
                                   f"(LIKE {t.cls.TABLE}) ON COMMIT DELETE ROWS")
        except Exception as exc:
            conn.terminate()
            raise Transient() from exc
        if self.last_error is not None:
            logger.info("database reachable again")
            self.last_error = None
        self._conn = conn
        return conn

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def _insert(self, table: Table, rows: list[Row]) -> None:
        """Commit `rows` (dead-lettering the refused ones) or raise Transient."""
        records = []
        good = []
        refused: list[tuple[Row, str]] = []
        for row in rows:
            try:
                records.append(row.record())
                good.append(row)
            except (TypeError, ValueError) as exc:
                refused.append((row, why(exc)))
        if refused:
            await self._reject(table, refused)
        if good:
            await self._copy(table, good, records)

    async def _copy(self, table: Table, rows: list[Row], records: list[tuple[object, ...]],
                    ) -> None:
        conn = await self._connection()
        try:
            async with conn.transaction():
                await conn.copy_records_to_table(table.stage, records=records,
                                                 columns=table.cls.COLUMNS)
                await conn.execute(table.insert_sql)
        except Exception as exc:
            if not is_row_error(exc):
                raise Transient() from exc
            if len(rows) == 1:
                await self._reject(table, [(rows[0], why(exc))])
                return
            half = len(rows) // 2
            await self._copy(table, rows[:half], records[:half])
            await self._copy(table, rows[half:], records[half:])
            return
        self.batches += 1
        self.rows_written += len(rows)

    async def _reject(self, table: Table, refused: list[tuple[Row, str]]) -> None:
        for _row, reason in refused:
            logger.error("%s row refused by the database, set aside in %s: %s",
                         table.cls.TABLE, spool.DEAD_LETTER, reason)
        entries: list[tuple[Row | str, str]] = list(refused)
        try:
            await asyncio.to_thread(spool.dead_letter, self._spool_dir, entries)
        except OSError as exc:
            logger.error("could not write the dead-letter file: %s", exc)
        self.rows_rejected += len(refused)

    # ------------------------------------------------------------------ spool

    def _spool_name(self) -> str:
        return f"spool-{time.time_ns():020d}-{os.getpid()}-{next(self._spool_seq):06d}.jsonl"

    async def _spool_memory(self, why: str) -> None:
        counts = {name: len(t.queue) for name, t in self._tables.items()}
        rows = [row for t in self._tables.values() for row in list(t.queue)]
        if not rows:
            return
        name = self._spool_name()
        try:
            path = await asyncio.to_thread(spool.write_spool, self._spool_dir, name, rows)
        except OSError as exc:
            logger.error("cannot spool %d rows (%s); they stay in memory: %s",
                         len(rows), why, exc)
            return
        # write() may have appended meanwhile: take off exactly what went to disk.
        for tname, n in counts.items():
            q = self._tables[tname].queue
            for _ in range(n):
                q.popleft()
        self._pending -= len(rows)
        self._own_spool[name] = counts
        self._spool_queue.append(path)
        self.rows_spooled += len(rows)
        logger.warning("spooled %d rows to %s (%s)", len(rows), path, why)

    async def _replay(self) -> None:
        now = time.monotonic()
        if now >= self._next_scan:
            self._next_scan = now + self._spool_check_interval
            found = await asyncio.to_thread(spool.list_spool, self._spool_dir)
            for name in [n for n in self._own_spool if self._spool_dir / n not in found]:
                self._own_gone(name)  # another process replayed it
            self._spool_queue = found
        while self._spool_queue:
            path = self._spool_queue[0]
            await self._replay_file(path)
            self._spool_queue.pop(0)
            if path.name in self._own_spool:
                self._own_gone(path.name)

    def _own_gone(self, name: str) -> None:
        for tname, n in self._own_spool.pop(name).items():
            self._settle(self._tables[tname], n)

    async def _replay_file(self, path: Path) -> None:
        try:
            rows, bad = await asyncio.to_thread(spool.read_spool, path)
        except FileNotFoundError:
            return
        if bad:
            logger.error("%s: %d unreadable lines set aside", path.name, len(bad))
            entries: list[tuple[Row | str, str]] = [(line, "unreadable spool line") for line in bad]
            await asyncio.to_thread(spool.dead_letter, self._spool_dir, entries)
        for name, table in self._tables.items():
            mine = [r for r in rows if r.TABLE == name]
            for i in range(0, len(mine), self._batch_size):
                await self._insert(table, mine[i:i + self._batch_size])
        await asyncio.to_thread(spool.remove, path)
        self.rows_replayed += len(rows)
        logger.info("replayed %d rows from %s", len(rows), path.name)


async def _wait(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)


def new_event_id() -> str:
    """A primary key for a QueueEventRow or AgentStateRow."""
    return uuid.uuid4().hex
