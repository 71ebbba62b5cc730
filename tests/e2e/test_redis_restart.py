"""Redis restarted empty under live traffic: acd restores its agents and its calls
within seconds, without restarting, and says it is degraded meanwhile.

Redis goes away through a TCP proxy (tests/store/proxy.py); while it is away the
test prefix's keys are deleted, as a Redis restarted without persistence would
have lost them; then it comes back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from acd.api.health import health_report
from tests.e2e.conftest import Outage, e2e_settings, redis_behind_proxy

PRESS_SALES = [(1.0, "1")]
PRESS_SUPPORT = [(1.0, "2")]
RESTORED_WITHIN = 5.0  # real seconds, the bound


@pytest.fixture
async def outage(redis_prefix: str, redis_client: Any, pg_dsn: str,
                 tmp_path: Path) -> AsyncIterator[Outage]:
    async with redis_behind_proxy(lambda url: e2e_settings(redis_prefix, pg_dsn, tmp_path,
                                                           redis_url=url)) as h:
        yield h


async def wipe(client: aioredis.Redis, prefix: str) -> int:
    keys = [k async for k in client.scan_iter(match=f"*{prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)
    return len(keys)


async def test_redis_restarted_empty_mid_traffic(outage: Outage,
                                                 redis_client: aioredis.Redis) -> None:
    h = outage
    agents, router = h.app.agents, h.app.router
    assert agents is not None and router is not None
    await agents.set_break("a3", "coaching")
    talking = h.sim.place_call("+15558001", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a1", "on_call")
    waiting = h.sim.place_call("+15558002", "100", dtmf=PRESS_SUPPORT)

    async def queued() -> bool:
        return await router.waiting("support") == 1
    await h.wait_for(queued, "a caller waiting in support")
    assert health_report(h.app)[1] == 200

    await h.proxy.down()
    await h.wait_for(lambda: health_report(h.app)[1] == 503, "/health to say degraded")
    body, _ = health_report(h.app)
    assert body["status"] == "degraded" and body["checks"]["redis"] == "down"
    assert body["checks"]["ari"] == "ok" and body["checks"]["postgresql"] == "ok"
    assert await wipe(redis_client, h.prefix) > 0  # Redis restarted without its data
    await h.proxy.up()
    back = asyncio.get_running_loop().time()

    async def restored() -> bool:
        try:
            views = {v.id: v for v in await agents.list()}
        except Exception:
            return False
        return (len(views) == 3 and views["a1"].state == "on_call"
                and views["a2"].state == "available"
                and (views["a3"].state, views["a3"].reason) == ("break", "coaching"))
    await h.wait_for(restored, "agents restored", timeout=RESTORED_WITHIN)
    took = asyncio.get_running_loop().time() - back
    assert took <= RESTORED_WITHIN
    await h.wait_for(queued, "the waiting caller queued again", timeout=RESTORED_WITHIN)
    await h.wait_for(lambda: health_report(h.app)[1] == 200, "/health ok again")

    # Calls keep being connected, and a1 (talking) gets no second call.
    new = h.sim.place_call("+15558003", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a2", "on_call")
    assert h.live(new).connected_leg is not None
    assert h.live(new).connected_leg.agent_id == "a2"  # type: ignore[union-attr]
    assert await h.agent_state("a1") == "on_call"
    await agents.available("a3")
    await h.wait_agent("a3", "on_call")

    for ch in (talking, waiting, new):
        h.sim.remote_hangup(ch)
    rows = {ch: await h.call(await h.finished(ch)) for ch in (talking, waiting, new)}
    assert {ch: (r["outcome"], r["agent_id"]) for ch, r in rows.items()} == {
        talking: ("answered", "a1"), waiting: ("answered", "a3"), new: ("answered", "a2")}
    for ch, row in rows.items():
        n = await h.pg.fetchval("SELECT count(*) FROM calls WHERE call_id=$1", row["call_id"])
        assert n == 1, ch
    # Each agent took exactly one call.
    legs = await h.pg.fetch(
        "SELECT agent_id, count(*) AS n FROM legs WHERE kind='agent' AND outcome='answered' "
        "AND call_id = ANY($1::text[]) GROUP BY agent_id ORDER BY agent_id",
        [r["call_id"] for r in rows.values()])
    assert [(r["agent_id"], r["n"]) for r in legs] == [("a1", 1), ("a2", 1), ("a3", 1)]
    for agent in ("a1", "a2", "a3"):
        await h.wait_agent(agent, "available")
    assert router.restores == 1
    await h.assert_clean()


async def test_login_works_after_redis_lost_its_data(outage: Outage,
                                                     redis_client: aioredis.Redis) -> None:
    """The issue's symptom: `acd agent login 100` answered 404 after a Redis restart."""
    h = outage
    agents = h.app.agents
    assert agents is not None
    await agents.logout("a2")
    await h.proxy.down()
    await wipe(redis_client, h.prefix)
    await h.proxy.up()

    async def back() -> bool:
        try:
            return len(await agents.list()) == 3
        except Exception:
            return False
    await h.wait_for(back, "agents restored", timeout=RESTORED_WITHIN)
    assert await h.agent_state("a2") == "logged_out"  # as it was: logged out stays out
    assert (await agents.login("a2")).state == "available"
    assert await h.agent_state("a1") == "available"
