"""Report fixtures: a fresh, migrated schema per test (search_path in the DSN)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from acd.store.migrate import migrate


async def _admin(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def report_dsn(pg_dsn: str) -> Iterator[str]:
    """A DSN whose search_path is a new schema with every migration applied."""
    schema = f"r_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_dsn, f"CREATE SCHEMA {schema}"))
    dsn = f"{pg_dsn}?search_path={schema}"

    async def up() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(up())
    yield dsn
    asyncio.run(_admin(pg_dsn, f"DROP SCHEMA {schema} CASCADE"))


@pytest.fixture
async def conn(report_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    c = await asyncpg.connect(report_dsn)
    try:
        yield c
    finally:
        await c.close()
