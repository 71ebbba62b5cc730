"""Migrations: idempotent, safe when several processes start at once, one transaction each."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from acd.store.migrate import Migration, load_migrations, migrate
from tests.store.conftest import TABLES


@pytest.fixture
async def conn(empty_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(empty_dsn)
    yield c
    await c.close()


async def _tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
    return {r["table_name"] for r in rows}


def _declared_tables() -> set[str]:
    """Every table the packaged migration files create (what migrate() must leave)."""
    found: set[str] = set()
    for m in load_migrations():
        found |= set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", m.sql, re.IGNORECASE))
    return found


def test_packaged_migrations_are_numbered_in_order() -> None:
    migs = load_migrations()
    assert [m.version for m in migs] == sorted(m.version for m in migs)
    assert migs[0].name == "0001_init.sql"


async def test_migrate_twice_is_a_no_op(conn: asyncpg.Connection) -> None:
    first = await migrate(conn)
    assert first == [m.version for m in load_migrations()]
    assert set(TABLES) <= _declared_tables()
    assert await _tables(conn) == {*_declared_tables(), "schema_migrations"}
    recorded = await conn.fetch("SELECT version, applied_at FROM schema_migrations")
    second = await migrate(conn)
    assert second == []
    assert await conn.fetch("SELECT version, applied_at FROM schema_migrations") == recorded


async def test_concurrent_migrations_apply_each_file_once(empty_dsn: str) -> None:
    conns = [await asyncpg.connect(empty_dsn) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        applied = [v for r in results for v in r]
        assert sorted(applied) == [m.version for m in load_migrations()]
        assert await conns[0].fetchval("SELECT count(*) FROM schema_migrations") == len(applied)
    finally:
        for c in conns:
            await c.close()


async def test_migrate_accepts_a_pool(empty_dsn: str) -> None:
    pool = await asyncpg.create_pool(empty_dsn, min_size=1, max_size=3)
    try:
        results = await asyncio.gather(migrate(pool), migrate(pool), migrate(pool))
        assert sorted(v for r in results for v in r) == [m.version for m in load_migrations()]
    finally:
        await pool.close()


async def test_each_file_is_its_own_transaction(conn: asyncpg.Connection) -> None:
    good = Migration("0001", "0001_a.sql", "CREATE TABLE a (x int)")
    bad = Migration("0002", "0002_b.sql", "CREATE TABLE b (x int); SELECT no_such_function()")
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(conn, [good, bad])
    # The first file stays applied and recorded; nothing of the failed one is left.
    assert await _tables(conn) == {"a", "schema_migrations"}
    assert await conn.fetchval("SELECT array_agg(version) FROM schema_migrations") == ["0001"]
    fixed = Migration("0002", "0002_b.sql", "CREATE TABLE b (x int)")
    assert await migrate(conn, [good, fixed]) == ["0002"]
    assert await _tables(conn) == {"a", "b", "schema_migrations"}


NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(("sql", "args", "error"), [
    ("INSERT INTO calls (call_id, channel_id, caller_number, dialled, started_at, outcome)"
     " VALUES ('c', 'ch', '1', '2', $1, 'lost')", (NOW,), asyncpg.CheckViolationError),
    ("INSERT INTO calls (call_id, channel_id, caller_number, dialled, started_at, outcome,"
     " wait_ms) VALUES ('c', 'ch', '1', '2', $1, 'answered', -1)", (NOW,),
     asyncpg.CheckViolationError),
    ("INSERT INTO calls (call_id, channel_id, caller_number, dialled, outcome)"
     " VALUES ('c', 'ch', '1', '2', 'answered')", (), asyncpg.NotNullViolationError),
    ("INSERT INTO legs (leg_id, call_id, kind) VALUES ('l', 'c', 'robot')", (),
     asyncpg.CheckViolationError),
    ("INSERT INTO queue_events (event_id, call_id, queue, event, at)"
     " VALUES ('e', 'c', 'q', 'teleport', $1)", (NOW,), asyncpg.CheckViolationError),
    ("INSERT INTO queue_events (event_id, call_id, queue, event, at, detail)"
     " VALUES ('e', 'c', 'q', 'enter', $1, '[1]')", (NOW,), asyncpg.CheckViolationError),
    ("INSERT INTO agent_states (event_id, agent_id, state) VALUES ('e', 'a', 'ready')", (),
     asyncpg.NotNullViolationError),
])
async def test_constraints_refuse_nonsense(conn: asyncpg.Connection, sql: str,
                                           args: tuple[object, ...],
                                           error: type[Exception]) -> None:
    await migrate(conn)
    with pytest.raises(error):
        await conn.execute(sql, *args)


@pytest.mark.parametrize("sql", [
    "INSERT INTO calls (call_id, channel_id, caller_number, dialled, started_at, outcome)"
    " VALUES ('c', 'ch', '1', '2', $1, 'voicemail')",
    "INSERT INTO legs (leg_id, call_id, kind, outcome) VALUES ('l', 'c', 'snoop', 'whatever')",
    "INSERT INTO queue_events (event_id, call_id, queue, event, at)"
    " VALUES ('e', 'c', 'q', 'transfer', $1)",
    "INSERT INTO agent_states (event_id, agent_id, state, at) VALUES ('e', 'a', 'ready', $1)",
])
async def test_constraints_accept_valid_rows(conn: asyncpg.Connection, sql: str) -> None:
    await migrate(conn)
    args = (NOW,) if "$1" in sql else ()
    assert await conn.execute(sql, *args) == "INSERT 0 1"
