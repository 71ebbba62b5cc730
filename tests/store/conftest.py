"""Store fixtures: a fresh schema per test (search_path in the DSN), migrated or not."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from acd.store.migrate import migrate
from tests.store.proxy import TcpProxy

TABLES = ("calls", "legs", "queue_events", "agent_states", "recordings")


def schema_dsn(pg_dsn: str, schema: str) -> str:
    return f"{pg_dsn}?search_path={schema}"


async def _admin(pg_dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def empty_dsn(pg_dsn: str) -> Iterator[str]:
    """A DSN whose search_path is a new, empty schema (dropped afterwards)."""
    schema = f"s_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_dsn, f"CREATE SCHEMA {schema}"))
    yield schema_dsn(pg_dsn, schema)
    asyncio.run(_admin(pg_dsn, f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
def store_dsn(empty_dsn: str) -> str:
    """`empty_dsn` with the migrations applied."""

    async def run() -> None:
        conn = await asyncpg.connect(empty_dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(run())
    return empty_dsn


@pytest.fixture
async def proxy(pg_dsn: str) -> AsyncIterator[TcpProxy]:
    p = TcpProxy.for_dsn(pg_dsn)
    await p.up()
    yield p
    await p.close()
