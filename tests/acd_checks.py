"""What every end-to-end tier asks of a running acd, on the simulator or on Asterisk."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg

from acd.app import App


class AcdChecks:
    """Waits and assertions on an in-process acd; needs `app`, `pg` and `prefix`."""

    app: App
    pg: asyncpg.Pool
    prefix: str

    async def wait_for(self, predicate: Callable[[], Awaitable[bool] | bool],
                       what: str, timeout: float = 15.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            result = predicate()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            if loop.time() > end:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)

    async def agent_state(self, agent_id: str) -> str:
        assert self.app.agents is not None
        return str((await self.app.agents.get(agent_id)).state)

    async def wait_agent(self, agent_id: str, state: str, timeout: float = 15.0) -> None:
        async def ok() -> bool:
            return await self.agent_state(agent_id) == state
        await self.wait_for(ok, f"agent {agent_id} to be {state}", timeout)

    async def queue_events(self, call_id: str) -> list[tuple[str, str | None]]:
        rows = await self.pg.fetch(
            "SELECT event, agent_id FROM queue_events WHERE call_id=$1 ORDER BY at, event_id",
            call_id)
        return [(r["event"], r["agent_id"]) for r in rows]

    async def legs(self, call_id: str) -> list[asyncpg.Record]:
        return list(await self.pg.fetch(
            "SELECT * FROM legs WHERE call_id=$1 ORDER BY started_at, leg_id", call_id))

    async def call(self, call_id: str) -> asyncpg.Record:
        row = await self.pg.fetchrow("SELECT * FROM calls WHERE call_id=$1", call_id)
        assert row is not None
        return row

    async def assert_acd_clean(self) -> None:
        """acd holds no call, no waiting call, no re-adoption record, no stuck agent."""
        calls, router, redis, agents = (self.app.calls, self.app.router, self.app.redis,
                                        self.app.agents)
        assert calls is not None and router is not None
        assert redis is not None and agents is not None
        await self.wait_for(lambda: not calls.calls, "acd to forget every call")
        snap = await router.snapshot()
        for queue in snap["queues"]:
            assert queue["waiting"] == 0, f"calls left in queue: {snap}"
        keys = [k async for k in redis.scan_iter(match=f"{self.prefix}:chan:*")]
        assert keys == [], f"re-adoption records left: {keys}"
        for view in await agents.list():
            assert view.state not in ("reserved", "ringing", "on_call"), (
                f"agent {view.id} stuck in {view.state}")
            if view.state != "wrap_up":
                assert not view.current_call, (
                    f"agent {view.id} ({view.state}) still holds {view.current_call}")
