"""The on_call deadline: an agent whose call's node died does not stay on_call."""

from __future__ import annotations

import json

import pytest

from acd.agents.model import AgentDef
from acd.routing.client import RedisClient
from acd.routing.model import Offer, QueueDef, QueueRequest, RoutingSettings
from tests.routing.conftest import ManualClock, Node, NodeFactory, wait_until

TTL = 10.0
DEFS = [AgentDef(id="a1", endpoint="PJSIP/a1")]


async def connected(make_node: NodeFactory, clock: ManualClock, wrapup: float,
                    **settings: float) -> tuple[Node, Node, Offer]:
    """Node n1 owns a call connected to a1; node n2 runs the reaper."""
    st = RoutingSettings(on_call_ttl=TTL, **settings)  # type: ignore[arg-type]
    queues = [QueueDef(name="q", wrapup=wrapup)]
    n1 = await make_node("n1", agents=DEFS, queues=queues, clock=clock, settings=st)
    n2 = await make_node("n2", agents=DEFS, queues=queues, clock=clock, settings=st)
    await n1.agents.login("a1")
    await n1.router.enqueue(QueueRequest(call_id="c1", queue="q", enqueued_at_ms=clock.ms()))
    (offer,) = n1.offers
    await n1.router.offer_ringing(offer)
    assert await n1.router.offer_answered(offer)
    return n1, n2, offer


async def deadline(redis: RedisClient, n: Node) -> int | None:
    score = await redis.zscore(n.router.keys.agent_timers, "a1")
    return None if score is None else int(score)


@pytest.mark.parametrize(("wrapup", "after_ttl"), [(0.0, "available"), (5.0, "wrap_up")])
async def test_unrenewed_on_call_agent_is_freed_after_the_ttl(
        make_node: NodeFactory, redis_client: RedisClient, wrapup: float,
        after_ttl: str) -> None:
    clock = ManualClock()
    n1, n2, offer = await connected(make_node, clock, wrapup)
    assert await deadline(redis_client, n1) == clock.ms() + int(TTL * 1000)
    clock.advance(TTL - 0.1)  # n1 died: nobody renews
    await n2.router.reap()
    assert (await n2.agents.get("a1")).state == "on_call"
    clock.advance(0.2)
    await n2.router.reap()
    view = await n2.agents.get("a1")
    # Like any wrap-up, an orphaned one still names its call.
    assert (view.state, view.reason, view.current_call) == (
        after_ttl, "orphaned", "c1" if after_ttl == "wrap_up" else None)
    assert [(c.previous, c.state, c.reason) for c in n2.changes] == [
        ("on_call", after_ttl, "orphaned")]
    assert not await redis_client.hexists(n2.router.keys.calls, "c1")  # forgotten
    if after_ttl == "wrap_up":
        clock.advance(wrapup)
        await n2.router.reap()
        assert (await n2.agents.get("a1")).state == "available"
    # The owner coming back late stops renewing the call, and changes nothing.
    assert await n1.router.renew() == 0
    assert not n1.router._connected
    await n1.router.call_ended(offer)
    assert (await n1.agents.get("a1")).state == "available"
    await n1.router.enqueue(QueueRequest(call_id="c2", queue="q", enqueued_at_ms=clock.ms()))
    assert [o.call_id for o in n1.offers] == ["c1", "c2"]  # a1 takes calls again


async def test_renewing_owner_keeps_its_agent_on_call(make_node: NodeFactory,
                                                      redis_client: RedisClient) -> None:
    clock = ManualClock()
    n1, n2, offer = await connected(make_node, clock, 5.0)
    for _ in range(6):  # 24 s: well past the TTL
        clock.advance(4)
        assert await n1.router.renew() == 1
        assert await deadline(redis_client, n1) == clock.ms() + int(TTL * 1000)
        await n2.router.reap()
        assert (await n2.agents.get("a1")).state == "on_call"
    assert not [c for c in n1.changes + n2.changes if c.state != "on_call"
                and c.previous == "on_call"]
    await n1.router.call_ended(offer)
    view = await n1.agents.get("a1")
    assert (view.state, view.reason) == ("wrap_up", None)
    assert await n1.router.renew() == 0  # nothing left to renew


async def test_renewal_stops_when_the_call_is_gone(make_node: NodeFactory) -> None:
    clock = ManualClock()
    n1, _, offer = await connected(make_node, clock, 0.0)
    assert (await n1.router.dequeue("c1")).was == "connected"  # still on the call
    assert await n1.router.renew() == 1
    await n1.router.call_ended(offer)
    assert await n1.router.renew() == 0


async def test_the_tick_renews(make_node: NodeFactory, redis_client: RedisClient) -> None:
    clock = ManualClock()
    n1, _, _ = await connected(make_node, clock, 0.0, tick=0.01)
    first = await deadline(redis_client, n1)
    assert first is not None
    await n1.router.start()
    clock.advance(3)

    async def pushed() -> bool:
        return await deadline(redis_client, n1) == first + 3000

    await wait_until(pushed, "the tick to push the on_call deadline")


@pytest.mark.parametrize(("tick", "ttl", "ok"), [
    (1.0, 120.0, True), (1.0, 2.5, True), (1.0, 2.0, False), (5.0, 3.0, False),
])
def test_on_call_ttl_outlives_two_ticks(tick: float, ttl: float, ok: bool) -> None:
    if ok:
        assert RoutingSettings(tick=tick, on_call_ttl=ttl).on_call_ttl == ttl
    else:
        with pytest.raises(ValueError, match="on_call_ttl"):
            RoutingSettings(tick=tick, on_call_ttl=ttl)


async def test_on_call_without_deadline_gets_one_at_sync(make_node: NodeFactory,
                                                         redis_client: RedisClient) -> None:
    """An agent left on_call by an acd from before deadlines does not stick either."""
    clock = ManualClock()
    n1, n2, _ = await connected(make_node, clock, 0.0)
    raw = await redis_client.hget(n1.agents.keys.agents, "a1")
    assert raw is not None
    rec = json.loads(raw)
    rec["dl"] = 0
    await redis_client.hset(n1.agents.keys.agents, "a1", json.dumps(rec))
    await redis_client.zrem(n1.agents.keys.agent_timers, "a1")
    await n2.agents.sync_definitions()
    assert await deadline(redis_client, n2) == clock.ms() + int(TTL * 1000)
    clock.advance(TTL + 1)
    await n2.router.reap()
    assert (await n2.agents.get("a1")).state == "available"
