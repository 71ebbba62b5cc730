"""Redis taken away under live calls: nobody is stranded, nothing sticks.

acd talks to the real Redis through a TCP proxy (tests/store/proxy.py) that the
tests cut and restore; the simulator, PostgreSQL and the clock are the e2e ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from acd.config import Settings
from tests.e2e.conftest import Outage, e2e_settings, redis_behind_proxy

PRESS_SALES = [(1.0, "1")]


@pytest.fixture
async def outage(redis_prefix: str, redis_client: Any, pg_dsn: str,
                 tmp_path: Path) -> AsyncIterator[Outage]:
    def settings_of(redis_url: str) -> Settings:
        settings = e2e_settings(redis_prefix, pg_dsn, tmp_path, redis_url=redis_url)
        settings.routing = settings.routing.model_copy(update={"on_call_ttl": 20.0})
        return settings
    async with redis_behind_proxy(settings_of) as h:
        yield h


async def test_caller_reaching_the_queue_while_redis_is_down_goes_to_the_dialplan(
        outage: Outage) -> None:
    h = outage
    h.sim.world.dialplan_linger = 600.0  # the dialplan's fallback keeps the caller
    await h.proxy.down()
    ch = h.sim.place_call("+15556001", "100", dtmf=PRESS_SALES)
    call_id = await h.finished(ch)
    row = await h.call(call_id)
    assert row["outcome"] == "failed"

    # Not left in silence on hold: handed back to the dialplan, music stopped.
    def in_dialplan() -> bool:
        return any(c["id"] == ch and c["phase"] == "dialplan" and not c["in_stasis"]
                   and not c["moh"] for c in h.sim.state()["channels"])
    assert in_dialplan()
    h.sim.remote_hangup(ch)
    await h.proxy.up()
    await h.assert_clean()


async def test_waiting_caller_survives_a_redis_outage_and_is_answered_after(
        outage: Outage) -> None:
    h = outage
    assert h.app.agents is not None
    for agent in ("a1", "a2"):
        await h.app.agents.set_break(agent, "meeting")
    ch = h.sim.place_call("+15556002", "100", dtmf=PRESS_SALES)
    assert h.app.router is not None
    router = h.app.router

    async def waiting() -> bool:
        return await router.waiting("sales") == 1
    await h.wait_for(waiting, "the caller to wait in sales")
    await h.proxy.down()
    await h.clock.sleep(10.0)  # a few router ticks fail meanwhile
    assert h.call_on(ch) is not None, "acd still holds the caller"
    assert any(c["id"] == ch and c["moh"] for c in h.sim.state()["channels"]), \
        "the caller still hears music"
    await h.proxy.up()

    async def agent_back() -> bool:
        try:
            await h.app.agents.available("a1")  # type: ignore[union-attr]
            return True
        except RedisConnectionError:
            return False  # the pool is still reconnecting
    await h.wait_for(agent_back, "a1 to be made available once Redis is back")
    await h.wait_agent("a1", "on_call")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    assert (await h.call(call_id))["outcome"] == "answered"
    await h.wait_agent("a1", "available")
    await h.assert_clean()


async def test_agent_is_freed_when_the_end_of_a_call_could_not_be_recorded(
        outage: Outage) -> None:
    h = outage
    ch = h.sim.place_call("+15556003", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a1", "on_call")
    await h.proxy.down()
    h.sim.remote_hangup(ch)  # call_ended cannot reach Redis
    call_id = await h.finished(ch)
    assert (await h.call(call_id))["outcome"] == "answered"
    await h.proxy.up()
    # Nobody renews the call any more: the on-call deadline frees the agent.
    await h.wait_agent("a1", "available", timeout=30)
    await h.assert_clean()


async def test_callers_released_while_acd_was_taken_for_dead_are_queued_again(
        outage: Outage) -> None:
    """Another node took this one for dead (its heartbeat lapsed) and released its
    waiting caller from routing; once this node beats again it queues the caller
    again, in the same place, and the call is answered."""
    h = outage
    assert h.app.agents is not None and h.app.router is not None
    router = h.app.router
    for agent in ("a1", "a2"):
        await h.app.agents.set_break(agent, "meeting")
    ch = h.sim.place_call("+15556004", "100", dtmf=PRESS_SALES)

    async def waiting() -> bool:
        return await router.waiting("sales") == 1
    await h.wait_for(waiting, "the caller to wait in sales")
    call = h.live(ch)
    enqueued = call.enqueued_ms
    # What a live node does with a dead node's call, and the lapse it saw.
    await router.redis.delete(router.keys.node(router.node_id))
    assert (await router.dequeue(call.rid)).was == "waiting"

    await h.wait_for(waiting, "the caller to be queued again")
    again = h.live(ch)  # the same call (its state is a value: compared by id)
    assert again.call_id == call.call_id and again.enqueued_ms == enqueued
    await h.app.agents.available("a1")
    await h.wait_agent("a1", "on_call")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    row = await h.call(call_id)
    assert (row["outcome"], row["agent_id"]) == ("answered", "a1")
    await h.wait_agent("a1", "available")
    await h.assert_clean()


async def test_redis_failing_while_the_agent_answers_is_not_charged_and_keeps_them_on_call(
        outage: Outage) -> None:
    """Redis is away when the agent answers: the two talk, the answer is recorded
    once Redis is back (the agent stays on call, not freed mid-call by the ring's
    deadline), and nothing is counted against the agent."""
    h = outage
    assert h.app.agents is not None
    h.sim.set_endpoint("PJSIP", "agent100", "answer", answer_after=2.0)
    await h.app.agents.set_break("a2", "meeting")
    ch = h.sim.place_call("+15556005", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a1", "ringing")
    await h.proxy.down()

    def bridged() -> bool:
        return any(c["id"] == ch and c["bridge"] for c in h.sim.state()["channels"])
    await h.wait_for(bridged, "the agent to answer and be bridged")
    await h.clock.sleep(20.0)  # 1 s: longer than the Redis client's own retries
    await h.proxy.up()

    async def on_call() -> bool:
        try:
            return await h.agent_state("a1") == "on_call"
        except RedisConnectionError:
            return False
    await h.wait_for(on_call, "a1 on call once Redis is back")
    # Past the ring's deadline (ring 3 s + reservation TTL 30 s): still on call.
    await h.clock.sleep(40.0)
    view = await h.app.agents.get("a1")
    assert (view.state, view.missed_in_row) == ("on_call", 0)
    assert bridged()
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    row = await h.call(call_id)
    assert (row["outcome"], row["agent_id"], row["ended_by"]) == ("answered", "a1", "caller")
    await h.wait_agent("a1", "available")
    assert (await h.app.agents.get("a1")).missed_in_row == 0
    await h.assert_clean()
