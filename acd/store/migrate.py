"""Schema migrations: numbered SQL files applied once each, in order.

Safe when several acd processes start together: every step holds a transaction-level
advisory lock, and a file is applied and recorded in one transaction, so a file is
either applied and recorded or neither.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key: any constant all acd processes agree on ("acd-mig").
LOCK_KEY = 0x6163_642D_6D69_67
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    """The packaged migrations (acd/store/migrations/NNNN_name.sql), by version."""
    folder = resources.files("acd.store").joinpath("migrations")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(match.group(1), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version number: {versions}")
    return found


async def migrate(
    conn_or_pool: asyncpg.Connection | asyncpg.Pool,
    migrations: list[Migration] | None = None,
) -> list[str]:
    """Bring the schema up to date; returns the versions this call applied."""
    todo = load_migrations() if migrations is None else migrations
    if isinstance(conn_or_pool, asyncpg.Pool):
        async with conn_or_pool.acquire() as conn:
            return await _migrate(conn, todo)
    return await _migrate(conn_or_pool, todo)


async def _migrate(conn: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
        await conn.execute(_CREATE_TABLE)
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
    known = {r["version"]: r["checksum"] for r in rows}
    applied: list[str] = []
    for mig in migrations:
        if mig.version in known:
            _check(mig, known[mig.version])
            continue
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
            # Another process may have applied it while we waited for the lock.
            done = await conn.fetchval(
                "SELECT checksum FROM schema_migrations WHERE version = $1", mig.version)
            if done is not None:
                _check(mig, done)
                continue
            await conn.execute(mig.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                mig.version, mig.name, mig.checksum)
        logger.info("applied migration %s", mig.name)
        applied.append(mig.version)
    return applied


def _check(mig: Migration, checksum: str) -> None:
    if checksum != mig.checksum:
        logger.warning("migration %s changed after it was applied; it is not re-run", mig.name)
