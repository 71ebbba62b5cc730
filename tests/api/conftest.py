"""The REST API over a running acd (simulator, real Redis and PostgreSQL), with one
user and one token per role: `admin`, `super` (supervisor), `alice` (agent a1),
`bob` (agent a2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from acd.api.app import make_api
from tests.e2e.conftest import Harness, e2e_settings, running_harness

PASSWORDS = {"admin": "admin-pass-1234", "super": "super-pass-1234",
             "alice": "alice-pass-1234", "bob": "bob-pass-1234"}
ROLE_USER = {"admin": "admin", "supervisor": "super", "agent": "alice"}


@dataclass
class Api:
    h: Harness
    client: TestClient[Any, Any]
    tokens: dict[str, str] = field(default_factory=dict)  # user -> token

    @property
    def origin(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    def auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    async def call(self, method: str, path: str, user: str | None = None,
                   body: Any = None, headers: dict[str, str] | None = None) -> ClientResponse:
        hdrs = dict(headers or {})
        if user is not None:
            hdrs.update(self.auth(user))
        if method not in ("GET", "HEAD") and body is None and "Content-Type" not in hdrs:
            body = {}
        return await self.client.request(method, path, json=body, headers=hdrs)


async def api_over(h: Harness) -> AsyncIterator[Api]:
    assert h.app.people is not None
    users = h.app.people.users
    # One database serves the whole session: start each test with no people.
    await h.pg.execute("TRUNCATE users, api_tokens, audit, dispositions")
    for name, role, agent in (("admin", "admin", None), ("super", "supervisor", None),
                              ("alice", "agent", "a1"), ("bob", "agent", "a2")):
        await users.add(name, role, PASSWORDS[name], agent)
    tokens = {name: (await users.create_token(name, "tests"))[1] for name in PASSWORDS}
    client: TestClient[Any, Any] = TestClient(TestServer(make_api(h.app), host="127.0.0.1"))
    await client.start_server()
    try:
        yield Api(h, client, tokens)
    finally:
        await client.close()


async def api_with(settings: Any) -> AsyncIterator[Api]:
    """acd running on `settings` (tests.e2e.conftest.e2e_settings), its API over it."""
    async with running_harness(settings) as h:
        async for a in api_over(h):
            yield a


@pytest.fixture
async def api(redis_prefix: str, redis_client: Any, pg_dsn: str,
              tmp_path: Path) -> AsyncIterator[Api]:
    async for a in api_with(e2e_settings(redis_prefix, pg_dsn, tmp_path)):
        yield a
