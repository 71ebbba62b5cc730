"""End-to-end harness: acd in-process on the simulator, real Redis and PostgreSQL.

The clock runs 20x faster than real time so ring timeouts and wrap-ups take a
fraction of a second; assertions never depend on wall-clock durations.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from acd.app import App
from acd.calls.model import CallState as Call
from acd.clock import Clock
from acd.config import Settings
from acd.sim.server import Simulator
from tests.acd_checks import AcdChecks
from tests.store.proxy import TcpProxy

FLOWS = Path(__file__).parent / "flows"
SPEED = 20.0


def e2e_settings(prefix: str, dsn: str, tmp: Path, **over: Any) -> Settings:
    data: dict[str, Any] = {
        "ari": {"url": "http://127.0.0.1:1", "app": f"acd-{prefix}", "user": "acd",
                "password": "acd-test-secret"},
        # Demo mode: the example flows' back-ends under /demo (tests/e2e/test_api_*).
        "api": {"host": "127.0.0.1", "port": 0, "demo": True},
        "redis_prefix": prefix,
        "pg_dsn": dsn,
        "flows": str(FLOWS),
        "node_id": f"{prefix}-n1",
        "writer": {"batch_size": 100, "flush_interval": 0.02, "spool_dir": str(tmp / "spool")},
        "routing": {"max_missed": 2, "missed_retry_delay": 30, "reservation_ttl": 30},
        "queues": [
            {"name": "sales", "skills": {"sales": 1}, "ring_timeout": 3, "wrapup": 2},
            {"name": "support", "skills": {"support": 1}, "ring_timeout": 3, "wrapup": 2},
        ],
        "agents": [
            {"id": "a1", "name": "Alice", "endpoint": "PJSIP/agent100", "skills": {"sales": 5}},
            {"id": "a2", "name": "Bob", "endpoint": "PJSIP/agent101", "skills": {"sales": 3}},
            {"id": "a3", "name": "Carol", "endpoint": "PJSIP/agent102",
             "skills": {"support": 5}},
        ],
    }
    data.update(over)
    # These tests start with their agents logged in (issue 18 made "logged out until
    # their last known state says otherwise" the default; tests/e2e/test_phones.py
    # covers that).
    data["agents"] = [{"login": True, **a} for a in data["agents"]]
    return Settings.model_validate(data)


@dataclass
class Harness(AcdChecks):
    app: App
    sim: Simulator
    clock: Clock
    pg: asyncpg.Pool
    prefix: str
    ended: dict[str, str]  # caller channel id -> call id, for calls acd finished
    # Between acd and the simulator's ARI when asked for (running_harness(ari_proxy=True)):
    # down() cuts REST and the events socket alike, as a network would.
    ari_proxy: TcpProxy | None = None
    # Authorization for acd's API (an admin's token; set by running_harness).
    api_headers: dict[str, str] = field(default_factory=dict)

    def watch(self, app: App) -> None:
        """Note each call `app` finishes (see `finished`)."""
        assert app.calls is not None

        def on_end(call: Any) -> None:
            self.ended[call.channel_id] = call.call_id
        app.calls.on_call_ended = on_end

    async def restart(self, while_down: Callable[[], Awaitable[object]] | None = None) -> App:
        """acd stops as if killed (no rows for its live calls: they are left for the
        next acd), `while_down` runs, and a new acd starts on the same simulator,
        Redis and PostgreSQL; it becomes `self.app` (stopped with the harness)."""
        await self.app.stop()
        if while_down is not None:
            await while_down()
        app = App(self.app.settings, clock=self.clock, simulator=self.sim, start_api=False)
        self.app = app
        await app.start()
        self.watch(app)
        return app

    async def rows_written(self, call_ids: Iterable[str]) -> None:
        """Wait until each of `call_ids` has its `calls` row (a restarted acd's
        recovery writes them), flushing the writer meanwhile; then flush once more:
        a flush begun before recovery queued its rows may return with `calls`
        committed and the rest (legs, queue events) not yet."""
        writer = self.app.writer
        assert writer is not None
        ids = list(call_ids)

        async def written() -> bool:
            await writer.flush()
            n = await self.pg.fetchval("SELECT count(*) FROM calls WHERE call_id = ANY($1)",
                                       ids)
            return bool(n == len(ids))
        await self.wait_for(written, f"rows for {len(ids)} calls")
        await writer.flush()

    def call_on(self, channel_id: str) -> Call | None:
        """The live call acd holds for a channel, if any."""
        assert self.app.calls is not None
        return self.app.calls.calls.get(self.app.calls._by_channel.get(channel_id, ""))

    def live(self, channel_id: str) -> Call:
        call = self.call_on(channel_id)
        assert call is not None, f"no live call on {channel_id}"
        return call

    def live_calls(self) -> int:
        assert self.app.calls is not None
        return len(self.app.calls.calls)

    async def finished(self, channel_id: str) -> str:
        """Wait until the call on `channel_id` is over and written; return its call id."""
        assert self.app.writer is not None

        await self.wait_for(lambda: channel_id in self.ended, f"the call on {channel_id} to end")
        call_id = self.ended[channel_id]
        await self.app.writer.flush()
        n = await self.pg.fetchval("SELECT count(*) FROM calls WHERE call_id=$1", call_id)
        assert n == 1, f"call {call_id} has {n} rows in calls"
        return call_id

    async def assert_clean(self) -> None:
        """Nothing left behind that a later call could trip on."""
        assert self.app.calls is not None and self.app.router is not None

        def sim_empty() -> bool:
            st = self.sim.state()
            return not st["channels"] and not st["bridges"]
        await self.wait_for(sim_empty, "the simulator to have no channels and no bridges")
        await self.assert_acd_clean()


H = TypeVar("H", bound=Harness)


@asynccontextmanager
async def running_harness(settings: Settings, *, cls: type[H] = Harness,  # type: ignore[assignment]
                          phones: Mapping[str, Mapping[str, Any]] | None = None,
                          api: bool = False,
                          ari_proxy: bool = False) -> AsyncIterator[H]:
    """acd with `settings` on its own simulator (clock SPEED), with real Redis and
    PostgreSQL. Every agent's phone answers after 0.5 s unless `phones` (endpoint
    resource -> Simulator.set_endpoint keywords) says otherwise. Everything it
    started is stopped afterwards, whatever acd the test left in `h.app`. With
    `api`, acd also serves its REST API (on `h.app.api_port`)."""
    clock = Clock(SPEED)
    sim = Simulator(clock, user="acd", password="acd-test-secret")
    port = await sim.start("127.0.0.1", 0)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(sim.stop)
        proxy: TcpProxy | None = None
        if ari_proxy:
            proxy = TcpProxy("127.0.0.1", port)
            await proxy.up()
            stack.push_async_callback(proxy.close)
            port = proxy.port
        settings.ari.url = f"http://127.0.0.1:{port}"
        for agent in settings.agents:
            tech, _, resource = agent.endpoint.partition("/")
            how = (phones or {}).get(resource, {"behaviour": "answer", "answer_after": 0.5})
            sim.set_endpoint(tech, resource, **how)
        app = App(settings, clock=clock, simulator=sim, start_api=api)
        stack.push_async_callback(app.stop)
        await app.start()
        pool = await asyncpg.create_pool(settings.pg_dsn.get_secret_value(), min_size=1,
                                         max_size=2)
        assert pool is not None
        stack.push_async_callback(pool.close)
        h: H = cls(app=app, sim=sim, clock=clock, pg=pool, prefix=settings.redis_prefix,
                ended={}, ari_proxy=proxy)
        h.watch(app)
        stack.push_async_callback(lambda: h.app.stop())  # a replacement acd, if any
        if app.people is not None:  # a fresh admin's token, for tests calling the API
            name = f"admin-{uuid.uuid4().hex[:8]}"
            await app.people.users.add(name, "admin", uuid.uuid4().hex)
            _, token = await app.people.users.create_token(name, "e2e tests")
            h.api_headers = {"Authorization": f"Bearer {token}"}
        await h.wait_for(lambda: bool(app.stream and app.stream.connected), "ARI to connect")
        yield h


@pytest.fixture
async def harness(redis_prefix: str, redis_client: Any, pg_dsn: str,
                  tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_harness(e2e_settings(redis_prefix, pg_dsn, tmp_path), cls=Harness) as h:
        yield h


class Outage(Harness):
    proxy: TcpProxy  # between acd and Redis: down() is an outage, up() its end


@asynccontextmanager
async def redis_behind_proxy(settings_of: Callable[[str], Settings]) -> AsyncIterator[Outage]:
    """acd whose Redis is reached through a TCP proxy the test can cut.
    `settings_of(redis_url)` builds acd's settings for the proxied Redis URL."""
    proxy = TcpProxy("127.0.0.1", 6379)
    await proxy.up()
    try:
        async with running_harness(settings_of(f"redis://127.0.0.1:{proxy.port}/0"),
                                   cls=Outage) as h:
            h.proxy = proxy
            try:
                yield h
            finally:
                await proxy.up()  # acd stops with Redis there
    finally:
        await proxy.down()
