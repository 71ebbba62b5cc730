"""A node that stops for good: its callback tasks are taken over by a live node,
and offers for its other calls are not left in an inbox nobody reads."""

from __future__ import annotations

import asyncio
import json

from acd.agents.model import AgentDef
from acd.clock import Clock
from acd.routing.model import QueueDef, QueueRequest
from acd.routing.service import Router
from tests.routing.conftest import NodeFactory, wait_until

AGENTS = [AgentDef(id="x", endpoint="PJSIP/x", skills={"s": 1})]
QUEUE = QueueDef(name="q", skills={"s": 1})


def call(call_id: str, clock: Clock) -> QueueRequest:
    return QueueRequest(call_id=call_id, queue="q", enqueued_at_ms=clock.ms())


async def routed_once(router: Router, *, alive: bool) -> None:
    """Make `router`'s node one that started once (as Router.start registers it),
    with its heartbeat present or lapsed, but without running its loops: a dead
    node must not match or deliver anything itself."""
    await router.redis.hset(router.keys.nodes, router.node_id, 0)
    if alive:
        await router.redis.set(router.keys.node(router.node_id), "1", px=60_000)


async def test_a_live_owner_gets_its_offer(make_node: NodeFactory) -> None:
    clock = Clock()
    a = await make_node("a", agents=AGENTS, queues=[QUEUE], clock=clock)
    b = await make_node("b", agents=AGENTS, queues=[QUEUE], clock=clock, start=True)
    await routed_once(a.router, alive=True)
    assert (await a.router.enqueue(call("c1", clock))).accepted
    await b.agents.login("x")  # matched by b's script: the offer is a's
    assert b.router.offers_forwarded == 1 and b.offers == []


async def test_a_dead_owners_callback_task_is_taken_over(make_node: NodeFactory) -> None:
    clock = Clock()
    a = await make_node("a", agents=AGENTS, queues=[QUEUE], clock=clock)
    b = await make_node("b", agents=AGENTS, queues=[QUEUE], clock=clock, start=True)
    assert (await a.router.enqueue(call("cb", clock))).accepted
    assert await a.router.to_callback("cb", "+15550002")
    await routed_once(a.router, alive=False)

    await b.agents.login("x")
    assert [(o.call_id, o.callback, o.owner) for o in b.offers] == [
        ("cb", "+15550002", "b")]
    assert b.router.offers_forwarded == 0
    record = json.loads(str(await b.router.redis.hget(b.router.keys.calls, "cb")))
    assert record["owner"] == "b"  # later offers come here directly


async def test_a_dead_owners_call_is_offered_here_to_be_released(
        make_node: NodeFactory) -> None:
    clock = Clock()
    a = await make_node("a", agents=AGENTS, queues=[QUEUE], clock=clock)
    b = await make_node("b", agents=AGENTS, queues=[QUEUE], clock=clock, start=True)
    assert (await a.router.enqueue(call("c1", clock))).accepted
    await routed_once(a.router, alive=False)
    await b.agents.login("x")
    # Not parked in a's inbox: b's call room gets it (and, not knowing the call,
    # dequeues it, which frees the agent at once).
    assert [(o.call_id, o.owner) for o in b.offers] == [("c1", "b")]
    assert b.router.offers_forwarded == 0
    assert (await b.router.dequeue("c1")).was == "offered"
    assert (await b.agents.get("x")).state == "available"


async def test_start_registers_the_node_and_its_heartbeat(make_node: NodeFactory) -> None:
    a = await make_node("a", agents=AGENTS, queues=[QUEUE], start=True)
    redis, keys = a.router.redis, a.router.keys
    assert await redis.hexists(keys.nodes, "a")
    assert 0 < int(await redis.pttl(keys.node("a"))) <= 30_000


async def test_a_node_taken_for_dead_says_so_once_it_beats_again(
        make_node: NodeFactory) -> None:
    a = await make_node("a", agents=AGENTS, queues=[QUEUE], start=True)
    revived: list[bool] = []

    async def on_revived() -> None:
        revived.append(True)
    a.router.on_revived = on_revived
    await asyncio.sleep(0.05)
    assert revived == []  # its own start is no revival
    await a.router.redis.delete(a.router.keys.node("a"))  # the beat lapsed

    async def told() -> bool:
        return revived == [True]
    await wait_until(told, "the node to notice its lapsed heartbeat")
    assert await a.router.redis.exists(a.router.keys.node("a"))
