"""The router on a real Redis: the call path from enqueue to wrap-up, races, scripts."""

from __future__ import annotations

import asyncio
import hashlib

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from acd.agents.model import AgentDef
from acd.agents.phone import Phone
from acd.clock import Clock
from acd.routing.client import RedisClient
from acd.routing.keys import Keys, Layout
from acd.routing.model import QueueDef, QueueRequest, RoutingSettings
from acd.routing.scripts import SCRIPT_NAMES, script_text
from tests.routing.conftest import ManualClock, NodeFactory

SALES = QueueDef(name="sales", skills={"en": 3}, wrapup=5.0, ring_timeout=10.0)


def agent(id: str, **skills: int) -> AgentDef:
    return AgentDef(id=id, name=id.upper(), endpoint=f"PJSIP/{id}", skills=skills or {"en": 5})


def call(id: str, clock: Clock, queue: str = "sales", **kw: object) -> QueueRequest:
    data: dict[str, object] = {"call_id": id, "queue": queue, "enqueued_at_ms": clock.ms()}
    data.update(kw)
    return QueueRequest.model_validate(data)


async def test_call_life_with_fast_clock(make_node: NodeFactory) -> None:
    clock = Clock(speed=50)
    n = await make_node(agents=[agent("a1"), agent("a2")], queues=[SALES], clock=clock,
                        settings=RoutingSettings(missed_retry_delay=30, max_missed=3))
    r, ag = n.router, n.agents
    res = await r.enqueue(call("c1", clock))
    assert (res.accepted, res.position) == (True, 1)
    assert await r.position("c1") == 1 and await r.waiting("sales") == 1 and not n.offers

    await ag.login("a1")
    assert [o.agent_id for o in n.offers] == ["a1"]
    first = n.offers[0]
    assert (first.call_id, first.endpoint, first.attempt) == ("c1", "PJSIP/a1", 1)
    assert (await ag.get("a1")).state == "reserved"
    assert await r.position("c1") is None and await r.waiting("sales") == 0

    await r.offer_ringing(first)
    view = await r.offer_failed(first, "noanswer")
    assert (view.state, view.missed_in_row) == ("available", 1)
    assert await r.position("c1") == 1  # back at the head, a1 may not have it again yet

    await ag.login("a2")
    second = n.offers[-1]
    assert (second.agent_id, second.attempt, second.enqueued_at_ms) == (
        "a2", 2, first.enqueued_at_ms)
    await r.offer_ringing(second)
    assert await r.offer_answered(second)
    a2 = await ag.get("a2")
    assert (a2.state, a2.current_call) == ("on_call", "c1")

    await r.call_ended(second)
    assert (await ag.get("a2")).state == "wrap_up"
    assert await r.position("c1") is None
    await clock.sleep(5.5)  # wrap-up is 5 s of clock time
    assert await r.reap() >= 1
    a2 = await ag.get("a2")
    assert (a2.state, a2.calls_answered) == ("available", 1)
    states = [(c.agent_id, c.state) for c in n.changes]
    assert states == [
        ("a1", "available"), ("a1", "reserved"), ("a1", "ringing"), ("a1", "available"),
        ("a2", "available"), ("a2", "reserved"), ("a2", "ringing"), ("a2", "on_call"),
        ("a2", "wrap_up"), ("a2", "available"),
    ]


async def test_retry_delay_then_same_agent_again(make_node: NodeFactory) -> None:
    clock = Clock(speed=100)
    n = await make_node(agents=[agent("a1")], queues=[SALES], clock=clock,
                        settings=RoutingSettings(missed_retry_delay=10))
    await n.agents.login("a1")
    await n.router.enqueue(call("c1", clock))
    await n.router.offer_failed(n.offers[0], "busy")
    assert len(n.offers) == 1 and await n.router.position("c1") == 1
    await n.router.reap()
    assert len(n.offers) == 1  # still inside the delay
    await clock.sleep(10.5)
    await n.router.reap()
    assert [o.agent_id for o in n.offers] == ["a1", "a1"]


async def test_auto_pause_after_missed_offers(make_node: NodeFactory) -> None:
    n = await make_node(agents=[agent("a1")], queues=[SALES],
                        settings=RoutingSettings(max_missed=2, missed_retry_delay=0))
    await n.agents.login("a1")
    await n.router.enqueue(call("c1", Clock()))
    await n.router.offer_failed(n.offers[0], "noanswer")  # re-offered at once (no delay)
    assert len(n.offers) == 2
    # A phone that cannot be reached is not the agent's miss (issue 18): re-offered.
    view = await n.router.offer_failed(n.offers[1], "unreachable")
    assert len(n.offers) == 3 and (await n.agents.get("a1")).missed_in_row == 1
    view = await n.router.offer_failed(n.offers[2], "busy")
    assert (view.state, view.reason, view.missed_in_row) == ("break", "missed_offers", 2)
    assert len(n.offers) == 3 and await n.router.position("c1") == 1
    await n.agents.available("a1")  # back from the pause: the waiting call comes at once
    assert len(n.offers) == 4 and (await n.agents.get("a1")).missed_in_row == 0


async def test_uncounted_failures_do_not_pause(make_node: NodeFactory) -> None:
    clock = ManualClock()
    n = await make_node(agents=[agent("a1")], queues=[SALES], clock=clock,
                        settings=RoutingSettings(max_missed=1, missed_retry_delay=0))
    await n.agents.login("a1")
    await n.router.enqueue(call("c1", clock))
    for reason in ("rejected", "error"):
        view = await n.router.offer_failed(n.offers[-1], reason)  # type: ignore[arg-type]
        assert view.missed_in_row == 0
        clock.advance(0.5)  # acd's own failure ("error") holds the call a moment
        await n.router.reap()
    assert (await n.agents.get("a1")).state == "reserved"
    assert len(n.offers) == 3


async def test_acd_own_failure_keeps_no_agent_from_the_call(make_node: NodeFactory) -> None:
    """ARI unreachable: the offer fails on acd's side. The agent is not kept from the
    call for the retry delay (it would wait 60 s after Asterisk is back); the call
    waits a moment instead, doubling with each such failure up to the retry delay."""
    clock = ManualClock()
    n = await make_node(agents=[agent("a1")], queues=[SALES], clock=clock,
                        settings=RoutingSettings(missed_retry_delay=60))
    await n.agents.login("a1")
    await n.router.enqueue(call("c1", clock))
    for pause in (0.5, 1.0, 2.0, 4.0):
        view = await n.router.offer_failed(n.offers[-1], "error")
        assert (view.state, view.missed_in_row) == ("available", 0)
        offered = len(n.offers)
        clock.advance(pause - 0.1)
        await n.router.reap()
        assert len(n.offers) == offered, f"offered again before {pause} s"
        clock.advance(0.1)
        await n.router.reap()
        assert len(n.offers) == offered + 1 and n.offers[-1].agent_id == "a1"
    for _ in range(10):  # never longer than the retry delay
        await n.router.offer_failed(n.offers[-1], "error")
        clock.advance(60)
        await n.router.reap()
    assert n.offers[-1].attempt == 15


async def test_failed_call_goes_back_before_younger_calls(make_node: NodeFactory) -> None:
    clock = Clock()
    n = await make_node(agents=[agent("a1"), agent("a2")], queues=[SALES], clock=clock,
                        settings=RoutingSettings(missed_retry_delay=60))
    await n.agents.login("a1")
    await n.router.enqueue(call("old", clock, enqueued_at_ms=clock.ms() - 5000))
    await n.router.enqueue(call("young", clock))
    assert await n.router.position("young") == 1
    await n.router.offer_failed(n.offers[0], "noanswer")
    # a1 may not get "old" again for a while, so a1 takes "young"; "old" waits at the head.
    assert [o.call_id for o in n.offers] == ["old", "young"]
    assert await n.router.position("old") == 1
    await n.agents.login("a2")
    assert n.offers[-1].call_id == "old" and n.offers[-1].agent_id == "a2"


async def test_priority_then_oldest(make_node: NodeFactory) -> None:
    clock = Clock()
    n = await make_node(agents=[agent("a1")], queues=[SALES], clock=clock)
    t = clock.ms()
    await n.router.enqueue(call("c-old", clock, enqueued_at_ms=t - 9000))
    await n.router.enqueue(call("c-vip", clock, enqueued_at_ms=t, priority=5))
    await n.router.enqueue(call("c-mid", clock, enqueued_at_ms=t - 4000))
    assert [await n.router.position(c) for c in ("c-vip", "c-old", "c-mid")] == [1, 2, 3]
    await n.agents.login("a1")
    for _ in range(3):
        o = n.offers[-1]
        await n.router.offer_answered(o)
        await n.router.call_ended(o)
        await n.agents.available("a1")  # ends wrap-up early: the next call comes at once
    assert [o.call_id for o in n.offers] == ["c-vip", "c-old", "c-mid"]


async def test_two_calls_race_for_the_last_agent(make_node: NodeFactory) -> None:
    clock = Clock()
    n1 = await make_node("n1", agents=[agent("a1")], queues=[SALES], clock=clock)
    n2 = await make_node("n2", agents=[agent("a1")], queues=[SALES], clock=clock)
    await n1.agents.login("a1")
    for round_ in range(20):
        c1, c2 = f"x{round_}", f"y{round_}"
        r1, r2 = await asyncio.gather(n1.router.enqueue(call(c1, clock)),
                                      n2.router.enqueue(call(c2, clock)))
        assert r1.accepted and r2.accepted
        offers = [o for o in n1.offers + n2.offers if o.call_id in (c1, c2)]
        assert len(offers) == 1, offers
        assert sorted([r1.position, r2.position]) == [0, 1]
        await n1.router.dequeue(c1)
        await n2.router.dequeue(c2)
        assert (await n1.agents.get("a1")).state == "available"


async def test_two_agents_race_for_one_call(make_node: NodeFactory) -> None:
    clock = Clock()
    defs = [agent("a1"), agent("a2")]
    n1 = await make_node("n1", agents=defs, queues=[SALES], clock=clock)
    n2 = await make_node("n2", agents=defs, queues=[SALES], clock=clock)
    await n1.router.enqueue(call("c1", clock))
    await asyncio.gather(n1.agents.login("a1"), n2.agents.login("a2"))
    assert len(n1.offers) == 1 and not n2.offers  # n1 owns the call


async def test_dequeue_waiting_offered_none(make_node: NodeFactory) -> None:
    clock = Clock()
    n = await make_node(agents=[agent("a1")], queues=[SALES], clock=clock)
    await n.router.enqueue(call("c1", clock))
    assert (await n.router.dequeue("c1")).was == "waiting"
    assert (await n.router.dequeue("c1")).was == "none"
    await n.agents.login("a1")
    assert not n.offers
    await n.router.enqueue(call("c2", clock))
    res = await n.router.dequeue("c2")
    assert (res.was, res.agents_released) == ("offered", ["a1"])
    assert (await n.agents.get("a1")).state == "available"
    # A late report about the cancelled offer is harmless.
    await n.router.offer_failed(n.offers[0], "noanswer")
    assert (await n.agents.get("a1")).missed_in_row == 0


async def test_replays_are_harmless(make_node: NodeFactory) -> None:
    clock = Clock()
    n = await make_node(agents=[agent("a1")], queues=[SALES], clock=clock)
    await n.agents.login("a1")
    req = call("c1", clock)
    await n.router.enqueue(req)
    assert (await n.router.enqueue(req)).position == 0  # already offered
    o = n.offers[0]
    for _ in range(2):
        await n.router.offer_ringing(o)
        await n.router.offer_answered(o)
    await n.router.offer_failed(o, "noanswer")  # too late: the agent is on the call
    assert (await n.agents.get("a1")).state == "on_call"
    for _ in range(2):
        await n.router.call_ended(o)
    await n.router.reap()
    await n.router.reap()
    assert len(n.offers) == 1
    assert [c.state for c in n.changes] == ["available", "reserved", "ringing", "on_call",
                                            "wrap_up"]


async def test_reservation_expiry_returns_the_call(make_node: NodeFactory) -> None:
    clock = Clock(speed=100)
    n = await make_node(agents=[agent("a1")], queues=[SALES], clock=clock,
                        settings=RoutingSettings(reservation_ttl=5))
    await n.agents.login("a1")
    await n.router.enqueue(call("c1", clock))
    await clock.sleep(5.5)  # nobody reported ringing: the reservation runs out
    await n.router.reap()
    assert [o.attempt for o in n.offers] == [1, 2]  # freed, then offered again
    await n.router.offer_ringing(n.offers[1])  # ringing lasts ring_timeout + ttl = 15 s
    await clock.sleep(10)
    await n.router.reap()
    assert (await n.agents.get("a1")).state == "ringing"
    await clock.sleep(6)
    await n.router.reap()
    assert len(n.offers) == 3


def test_every_routing_key_shares_one_cluster_slot() -> None:
    keys = Keys("acd")
    layout = Layout.build(keys, ["sales", "support"], ["en", "fr"])
    names = [*layout.keys, keys.inbox("node-1"), keys.kick]
    assert len({key_slot(k.encode()) for k in names}) == 1
    assert key_slot(b"{acd}:x") != key_slot(b"{acd2}:x")  # the tag decides, nothing else


async def cached(redis: RedisClient) -> list[list[bool]]:
    """Per master (every master of a cluster), whether each routing script is cached."""
    shas = [hashlib.sha1(script_text(name).encode()).hexdigest() for name in SCRIPT_NAMES]
    if not isinstance(redis, RedisCluster):
        return [list(await redis.script_exists(*shas))]
    out = []
    for node in redis.get_primaries():  # asked of each master on its own
        direct = aioredis.Redis(host=node.host, port=node.port)
        try:
            out.append(list(await direct.script_exists(*shas)))
        finally:
            await direct.aclose()
    assert len(out) == 3
    return out


async def test_script_flush_then_every_script_again(make_node: NodeFactory,
                                                    redis_client: RedisClient) -> None:
    clock = Clock()
    n = await make_node(agents=[agent("a1")], queues=[SALES], clock=clock,
                        settings=RoutingSettings(missed_retry_delay=0))
    await redis_client.script_flush()  # on a cluster: on every master
    assert not any(any(node) for node in await cached(redis_client))
    used = await exercise_every_script(n, clock)
    assert used == set(SCRIPT_NAMES)
    assert all(all(node) for node in await cached(redis_client))  # reloaded everywhere
    await redis_client.script_flush()
    assert await exercise_every_script(n, clock, tag="b") == set(SCRIPT_NAMES)


async def exercise_every_script(n: object, clock: Clock, tag: str = "a") -> set[str]:
    from tests.routing.conftest import Node

    assert isinstance(n, Node)
    used: set[str] = set()
    original = n.router.scripts.run, n.agents.scripts.run

    def spy(run):  # type: ignore[no-untyped-def]
        async def wrapped(name, *args):  # type: ignore[no-untyped-def]
            used.add(name)
            return await run(name, *args)
        return wrapped

    n.router.scripts.run = spy(original[0])  # type: ignore[method-assign]
    n.agents.scripts.run = spy(original[1])  # type: ignore[method-assign]
    try:
        await n.agents.sync_definitions()
        await n.agents.login("a1")
        await n.router.enqueue(call(f"{tag}1", clock))
        o = n.offers[-1]
        await n.router.offer_ringing(o)
        await n.router.offer_failed(o, "rejected")  # no retry delay: offered again
        o = n.offers[-1]
        assert o.attempt == 2
        assert await n.router.offer_answered(o)
        assert await n.router.renew() == 1
        await n.router.call_ended(o)
        assert (await n.agents.get("a1")).state == "wrap_up"
        assert await n.router.extend_wrapup("a1", o.call_id, 5.0, clock.ms() + 60_000) > 0
        await n.router.enqueue(call(f"{tag}2", clock))
        assert await n.router.to_callback(f"{tag}2", "+15550001")
        await n.agents.available("a1")
        o = n.offers[-1]
        assert (o.call_id, o.callback) == (f"{tag}2", "+15550001")
        assert not await n.router.callback_failed(o, None)
        await n.router.enqueue(call(f"{tag}3", clock))
        n.router.definitions_changed()  # no standing kept from an earlier run
        assert await n.router.standing(f"{tag}3") == (None, 0.0)  # offered at once
        await n.router.dequeue(f"{tag}3")
        # A transfer to a named agent (issue 17): reserved, and a failed offer forgets it.
        o, why = await n.router.reserve_agent(f"{tag}3-t1", "a1", SALES.name, clock.ms())
        assert o is not None and why == "" and o.agent_id == "a1"
        assert (await n.agents.get("a1")).state == "reserved"
        assert await n.router.reserve_agent(f"{tag}3-t2", "a1", SALES.name, clock.ms()) == (
            None, "reserved")
        await n.router.offer_failed(o, "rejected")
        assert await n.router.waiting(SALES.name) == 0  # never queued
        assert (await n.agents.get("a1")).state == "available"
        await n.router.reap()
        await n.router.sweep()
        await n.agents.phone_set("a1", Phone("registered", "idle"), None)
        await n.agents.logout("a1")
    finally:
        n.router.scripts.run, n.agents.scripts.run = original  # type: ignore[method-assign]
    return used
