"""Fixtures shared by every tier: real Redis, real PostgreSQL, and /work/shared.

Redis: each test gets its own key prefix (`acdt-<hex>`) and every key under it is
deleted afterwards. PostgreSQL: one fresh database per test session, dropped at
the end. Nothing is faked.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from hypothesis import settings

# Property tests: `make test` (CI) draws the same examples on every run (derandomized,
# seeded by each test's name), so a green run on a commit stays green in CI and a red
# one is red for everyone; `make soak` (HYPOTHESIS_PROFILE=soak) draws fresh examples
# every run and keeps the failures it finds (.hypothesis/) to replay them.
settings.register_profile("ci", derandomize=True)
settings.register_profile("soak", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REDIS_URL = os.environ.get("ACD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_ADMIN_DSN = os.environ.get("ACD_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_ARI = SHARED / "ari"


def shared_ari_or_skip() -> Path:
    """The ARI spec and traces folder, or skip the test with a clear message."""
    if not (SHARED_ARI / "traces").is_dir():
        pytest.skip(f"{SHARED_ARI} is absent: the real-Asterisk traces and ARI spec are not here")
    return SHARED_ARI


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashes() -> Iterator[None]:
    """argon2id at its lowest cost in tests: ~1 ms a hash instead of ~160 ms on
    the CI box. Every e2e test adds an admin and every API test four users; what
    the tests prove (argon2id in PostgreSQL, a wrong password refused) holds at
    any cost, and acd itself keeps argon2-cffi's defaults."""
    from argon2 import PasswordHasher

    from acd.people import users

    real = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    users._hasher = real


@pytest.fixture
def redis_prefix() -> str:
    return f"acdt-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def redis_client(redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    keys = [k async for k in client.scan_iter(match=f"*{redis_prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    """A fresh, empty database for this test session (migrations not applied)."""
    import asyncio

    name = f"acd_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
