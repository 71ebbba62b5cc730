"""Strategies, ring-all, preferred agents, escalation chains, limits, nodes (real Redis)."""

from __future__ import annotations

import asyncio
import json

import pytest
import redis.asyncio as aioredis

from acd.agents.model import AgentDef
from acd.clock import Clock
from acd.routing import policy
from acd.routing.model import (
    STRATEGIES,
    ChainDef,
    QueueDef,
    QueueRequest,
    RoutingSettings,
    StepDef,
    Strategy,
)
from tests.routing.conftest import NodeFactory

STATS = {  # id: (en level, calls, talk ms, last offer ms, order, available since offset)
    "a": (9, 5, 100, 50, 3, 300),
    "b": (4, 7, 900, 90, 2, 100),
    "c": (6, 2, 500, 10, 1, 200),
    "d": (2, 1, 50, 5, 0, 50),
    "e": (7, 2, 500, 10, 1, 250),
}


def call(id: str, clock: Clock, queue: str = "q", **kw: object) -> QueueRequest:
    data: dict[str, object] = {"call_id": id, "queue": queue, "enqueued_at_ms": clock.ms()}
    data.update(kw)
    return QueueRequest.model_validate(data)


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_lua_choice_matches_policy(make_node: NodeFactory, redis_client: aioredis.Redis,
                                         strategy: Strategy) -> None:
    clock = Clock()
    defs = [AgentDef(id=i, endpoint=f"PJSIP/{i}", skills={"en": s[0]}, order=s[4])
            for i, s in STATS.items()]
    queue = QueueDef(name="q", skills={"en": 4}, strategy=strategy)
    n = await make_node(agents=defs, queues=[queue], clock=clock,
                        settings=RoutingSettings(ring_all_max=3))
    base = clock.ms() - 1000
    for id_ in STATS:
        await n.agents.login(id_)
    candidates = []
    for id_, (lvl, calls, talk, last, order, since) in STATS.items():
        raw = await redis_client.hget(n.agents.keys.agents, id_)
        rec = json.loads(raw)
        rec.update(calls=calls, talk=talk, lastoff=last, since=base + since)
        await redis_client.hset(n.agents.keys.agents, id_, json.dumps(rec))
        for key in (n.agents.keys.idle, n.agents.keys.idle_skill("en")):
            await redis_client.zadd(key, {id_: base + since})
        candidates.append(policy.Candidate(id=id_, skills={"en": lvl}, since_ms=base + since,
                                           calls=calls, talk_ms=talk, last_offer_ms=last,
                                           order=order))
    step = policy.Step(0, (policy.Alternative({"en": 4}),))
    want = policy.choose_agents(strategy, step, candidates, ring_all_max=3)
    await n.router.enqueue(call("c1", clock))
    assert [o.agent_id for o in n.offers] == want
    assert want  # the table has a fit for every strategy


async def test_ring_all_first_answer_wins(make_node: NodeFactory) -> None:
    clock = Clock()
    defs = [AgentDef(id=f"a{i}", endpoint=f"PJSIP/a{i}", skills={"en": 5}) for i in range(4)]
    n = await make_node(agents=defs, queues=[QueueDef(name="q", strategy="ring_all")],
                        clock=clock, settings=RoutingSettings(ring_all_max=3))
    for d in defs:
        await n.agents.login(d.id)
    await n.router.enqueue(call("c1", clock))
    assert len(n.offers) == 3 and len({o.reservation_id for o in n.offers}) == 3
    await n.router.offer_failed(n.offers[0], "busy")  # one declines: the others still ring
    assert await n.router.position("c1") is None
    assert await n.router.offer_answered(n.offers[2])
    assert not await n.router.offer_answered(n.offers[1])  # too late
    states = {v.id: v.state for v in await n.agents.list()}
    assert states[n.offers[2].agent_id] == "on_call"
    assert states[n.offers[1].agent_id] == "available"
    await n.router.enqueue(call("c2", clock))  # the freed agents take the next call
    assert {o.agent_id for o in n.offers[3:]} == {d.id for d in defs} - {n.offers[2].agent_id}


async def test_preferred_agent_then_anyone(make_node: NodeFactory) -> None:
    clock = Clock(speed=100)
    defs = [AgentDef(id=i, endpoint=f"PJSIP/{i}") for i in ("a1", "a2")]
    n = await make_node(agents=defs, queues=[QueueDef(name="q")], clock=clock,
                        settings=RoutingSettings(preferred_timeout=10))
    await n.agents.login("a1")
    await n.router.enqueue(call("c1", clock, preferred_agent="a2"))
    assert not n.offers  # a1 is free but the caller waits for a2 a while
    await n.agents.login("a2")
    assert [o.agent_id for o in n.offers] == ["a2"]
    await n.router.enqueue(call("c2", clock, preferred_agent="a2"))
    await clock.sleep(10.5)
    await n.router.reap()
    assert [o.agent_id for o in n.offers] == ["a2", "a1"]


async def test_escalation_chain(make_node: NodeFactory) -> None:
    clock = Clock(speed=100)
    defs = [AgentDef(id="expert", endpoint="PJSIP/x", skills={"tech": 9}),
            AgentDef(id="junior", endpoint="PJSIP/j", skills={"tech": 3}),
            AgentDef(id="sales", endpoint="PJSIP/s", skills={"sales": 5})]
    chain = ChainDef(name="tech", steps=[
        StepDef(timeout=10, add_skills={"tech": 8}),
        StepDef(timeout=10),
        StepDef(queues=["sales"]),
    ])
    queues = [QueueDef(name="q", skills={"tech": 1}), QueueDef(name="sales", skills={"sales": 1})]
    n = await make_node(agents=defs, queues=queues, clock=clock,
                        settings=RoutingSettings(chains=[chain]))
    await n.agents.login("junior")
    await n.agents.login("sales")
    await n.router.enqueue(call("c1", clock, chain="tech"))
    assert not n.offers
    await clock.sleep(10.5)
    await n.router.reap()
    assert [o.agent_id for o in n.offers] == ["junior"]
    await n.router.enqueue(call("c2", clock, chain="tech"))
    await clock.sleep(20.5)
    await n.router.reap()
    assert [o.agent_id for o in n.offers] == ["junior", "sales"]


async def test_queue_limits(make_node: NodeFactory) -> None:
    clock = Clock(speed=100)
    q = QueueDef(name="q", max_waiting=2, max_wait=5)
    n = await make_node(agents=[AgentDef(id="a1", endpoint="PJSIP/a1")], queues=[q],
                        clock=clock)
    assert (await n.router.enqueue(call("c1", clock))).accepted
    assert (await n.router.enqueue(call("c2", clock))).position == 2
    full = await n.router.enqueue(call("c3", clock))
    assert (full.accepted, full.reason) == (False, "full")
    await clock.sleep(5.5)
    await asyncio.sleep(0.05)
    assert sorted(n.exits) == [("c1", "max_wait"), ("c2", "max_wait")]
    assert await n.router.waiting("q") == 0


async def test_offer_for_a_call_owned_elsewhere_goes_to_its_inbox(make_node: NodeFactory,
                                                                  ) -> None:
    clock = Clock()
    defs = [AgentDef(id="a1", endpoint="PJSIP/a1")]
    n1 = await make_node("n1", agents=defs, queues=[QueueDef(name="q")], clock=clock)
    n2 = await make_node("n2", agents=defs, queues=[QueueDef(name="q")], clock=clock,
                         start=True)
    await n2.router.enqueue(call("c1", clock))
    await n1.agents.login("a1")  # n1 matches, n2 owns the call
    for _ in range(100):
        if n2.offers:
            break
        await asyncio.sleep(0.02)
    assert [o.owner for o in n2.offers] == ["n2"] and not n1.offers
    assert n1.router.offers_forwarded == 1


async def test_adopt_keeps_the_place_and_changes_owner(make_node: NodeFactory) -> None:
    clock = Clock()
    defs = [AgentDef(id="a1", endpoint="PJSIP/a1")]
    n1 = await make_node("n1", agents=defs, queues=[QueueDef(name="q")], clock=clock)
    n2 = await make_node("n2", agents=defs, queues=[QueueDef(name="q")], clock=clock,
                         start=True)
    t = clock.ms()
    await n1.router.enqueue(call("c1", clock, enqueued_at_ms=t - 5000))
    await n1.router.enqueue(call("c2", clock, enqueued_at_ms=t))
    res = await n2.router.adopt(call("c1", clock, enqueued_at_ms=t - 5000))
    assert res.position == 1
    await n2.router.adopt(call("c9", clock, enqueued_at_ms=t - 9000))  # routing lost it
    assert await n2.router.position("c9") == 1
    await n1.agents.login("a1")  # matched on n1, delivered to the owner n2
    for _ in range(100):
        if n2.offers:
            break
        await asyncio.sleep(0.02)
    assert [o.call_id for o in n2.offers] == ["c9"] and not n1.offers


async def test_snapshot_and_expected_wait(make_node: NodeFactory) -> None:
    clock = Clock()
    defs = [AgentDef(id="a1", endpoint="PJSIP/a1"), AgentDef(id="a2", endpoint="PJSIP/a2")]
    n = await make_node(agents=defs, queues=[QueueDef(name="q", wrapup=0)], clock=clock)
    await n.agents.login("a1")
    await n.agents.login("a2")
    await n.agents.set_break("a2", "lunch")
    await n.router.enqueue(call("c0", clock))
    await n.router.offer_answered(n.offers[0])
    await asyncio.sleep(0.05)
    await n.router.call_ended(n.offers[0])
    await n.agents.set_break("a1", "coffee")
    assert await n.router.expected_wait("c0") is None  # gone
    await n.router.enqueue(call("c1", clock))
    await n.router.enqueue(call("c2", clock))
    await n.agents.available("a2")
    snap = await n.router.snapshot()
    (q,) = snap["queues"]
    assert (q["waiting"], q["offered"], q["agents_staffed"]) == (1, 1, 1)
    assert [c["call_id"] for c in q["calls"]] == ["c2"]
    assert q["average_handle_s"] is not None
    ewt = await n.router.expected_wait("c2")
    assert ewt is not None and ewt > 0
    json.dumps(snap)  # the API sends it as is
