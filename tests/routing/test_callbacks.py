"""Callback tasks: a waiting caller's place kept for a call back (real Redis)."""

from __future__ import annotations

import asyncio

import pytest

from acd.agents.model import AgentDef
from acd.clock import Clock
from acd.routing.client import RedisClient
from acd.routing.model import QueueDef, QueueRequest, RoutingSettings
from tests.routing.conftest import ManualClock, Node, NodeFactory, wait_until

NUMBER = "+15550100"
Q = QueueDef(name="q", wrapup=0)


def agent(id: str) -> AgentDef:
    return AgentDef(id=id, endpoint=f"PJSIP/{id}")


def call(id: str, clock: Clock, at_ms: int | None = None, **kw: object) -> QueueRequest:
    data: dict[str, object] = {"call_id": id, "queue": "q",
                               "enqueued_at_ms": clock.ms() if at_ms is None else at_ms}
    data.update(kw)
    return QueueRequest.model_validate(data)


async def serve_all(n: Node, agent_id: str) -> None:
    """The agent takes every call offered to it, one after another."""
    done = 0
    await n.agents.login(agent_id)
    while len(n.offers) > done:
        o = n.offers[done]
        done += 1
        assert await n.router.offer_answered(o)
        await n.router.call_ended(o)  # no wrap-up: the next call is offered at once


@pytest.mark.parametrize("callback", ["old", "mid", "young"])
async def test_callback_keeps_its_place(make_node: NodeFactory, callback: str) -> None:
    clock = ManualClock()
    n = await make_node(agents=[agent("a1")], queues=[Q], clock=clock)
    t = clock.ms()
    for cid, age in (("old", 9000), ("young", 0), ("mid", 5000)):
        await n.router.enqueue(call(cid, clock, t - age))
    assert await n.router.to_callback(callback, NUMBER)
    assert [await n.router.position(c) for c in ("old", "mid", "young")] == [1, 2, 3]
    snap = await n.router.snapshot()
    (q,) = snap["queues"]
    assert [(c["call_id"], c["callback"]) for c in q["calls"]] == [
        (c, c == callback) for c in ("old", "mid", "young")]
    assert q["callbacks"] == 1
    await serve_all(n, "a1")
    assert [(o.call_id, o.callback) for o in n.offers] == [
        (c, NUMBER if c == callback else None) for c in ("old", "mid", "young")]
    assert all(o.owner == "n1" for o in n.offers)


@pytest.mark.parametrize(("state", "expected"), [
    ("waiting", True), ("offered", False), ("connected", False), ("unknown", False),
    ("callback", True),  # already a callback task: idempotent
])
async def test_to_callback_only_from_waiting(make_node: NodeFactory, state: str,
                                             expected: bool) -> None:
    clock = ManualClock()
    n = await make_node(agents=[agent("a1")], queues=[Q], clock=clock)
    if state in ("offered", "connected"):
        await n.agents.login("a1")
    if state != "unknown":
        await n.router.enqueue(call("c1", clock))
    if state == "connected":
        assert await n.router.offer_answered(n.offers[0])
    if state == "callback":
        assert await n.router.to_callback("c1", NUMBER)
    assert await n.router.to_callback("c1", NUMBER) is expected
    assert (await n.router.position("c1") == 1) is (state in ("waiting", "callback"))
    await n.agents.login("a1")
    if state in ("waiting", "callback"):
        assert [o.callback for o in n.offers] == [NUMBER]
    elif state != "unknown":
        assert [o.callback for o in n.offers] == [None]  # the live call is unchanged


@pytest.mark.parametrize(("retry_in", "answered"), [(30.0, False), (30.0, True), (0.0, False)])
async def test_callback_failed_retries_after_the_delay(make_node: NodeFactory, retry_in: float,
                                                       answered: bool) -> None:
    clock = ManualClock()
    n = await make_node(agents=[agent("a1"), agent("a2")], queues=[Q], clock=clock,
                        settings=RoutingSettings(max_missed=1, missed_retry_delay=60,
                                                 reservation_ttl=120))
    t = clock.ms()
    await n.router.enqueue(call("cb", clock, t - 5000))
    await n.router.enqueue(call("young", clock, t))
    assert await n.router.to_callback("cb", NUMBER)
    await n.agents.login("a1")
    first = n.offers[-1]
    assert (first.call_id, first.callback) == ("cb", NUMBER)
    await n.router.offer_ringing(first)
    if answered:  # the agent took it, then the customer did not answer
        assert await n.router.offer_answered(first)
    assert await n.router.callback_failed(first, retry_in)
    a1 = await n.agents.get("a1")
    # Freed, not counted (max_missed 1 would pause a1), no retry delay for a1:
    # with no delay the task goes straight back to a1.
    assert (a1.state, a1.missed_in_row) == ("reserved", 0)
    if retry_in == 0:
        last = n.offers[-1]
        assert (last.call_id, last.agent_id, last.attempt) == ("cb", "a1", 2)
        return
    # The task may not be offered before the delay: a1 takes "young" meanwhile.
    assert n.offers[-1].call_id == "young" and n.offers[-1].agent_id == "a1"
    assert await n.router.position("cb") == 1  # back at its place
    snap = (await n.router.snapshot())["queues"][0]["calls"][0]
    assert (snap["call_id"], snap["callback"], snap["callback_attempts"]) == ("cb", True, 1)
    assert snap["not_before_ms"] == clock.ms() + 30_000
    clock.advance(29.9)
    await n.router.reap()
    await n.router.sweep()
    await n.agents.login("a2")  # a free agent does not take it either
    assert [o.call_id for o in n.offers] == ["cb", "young"]
    clock.advance(0.2)
    await n.router.reap()
    last = n.offers[-1]
    assert (last.call_id, last.agent_id, last.callback, last.attempt) == ("cb", "a2", NUMBER, 2)


async def test_callback_failed_without_retry_removes_it(make_node: NodeFactory,
                                                        redis_client: RedisClient) -> None:
    clock = ManualClock()
    n = await make_node(agents=[agent("a1")], queues=[Q], clock=clock)
    await n.router.enqueue(call("cb", clock))
    assert await n.router.to_callback("cb", NUMBER)
    await n.agents.login("a1")
    assert not await n.router.callback_failed(n.offers[0], None)
    assert await n.router.position("cb") is None
    assert not await redis_client.hexists(n.router.keys.calls, "cb")
    assert (await n.agents.get("a1")).state == "available"
    assert (await n.router.dequeue("cb")).was == "none"
    # A replayed report is harmless.
    assert not await n.router.callback_failed(n.offers[0], 10.0)
    assert (await n.agents.get("a1")).state == "available" and len(n.offers) == 1


async def test_cancelled_callback_leaves_the_queue(make_node: NodeFactory) -> None:
    clock = ManualClock()
    n = await make_node(agents=[agent("a1")], queues=[Q], clock=clock)
    await n.router.enqueue(call("cb", clock))
    await n.router.enqueue(call("c2", clock))
    assert await n.router.to_callback("cb", NUMBER)
    assert (await n.router.dequeue("cb")).was == "waiting"
    assert await n.router.position("c2") == 1
    await n.agents.login("a1")
    assert [o.call_id for o in n.offers] == ["c2"]


async def test_max_wait_does_not_end_a_callback(make_node: NodeFactory) -> None:
    clock = Clock(speed=100)
    n = await make_node(agents=[agent("a1")], queues=[QueueDef(name="q", max_wait=5)],
                        clock=clock)
    await n.router.enqueue(call("cb", clock))  # its max wait would come first
    await n.router.enqueue(call("c2", clock))
    assert await n.router.to_callback("cb", NUMBER)

    async def c2_left() -> bool:
        await asyncio.sleep(0)
        return bool(n.exits)

    await wait_until(c2_left, "the max-wait exit of c2")
    assert n.exits == [("c2", "max_wait")]
    assert await n.router.position("cb") == 1


async def test_kick_wakes_a_node_for_a_callback_retry(make_node: NodeFactory) -> None:
    """Through the kick channel (pub/sub, on a cluster too) the tick runs at once."""
    clock = ManualClock()
    n = await make_node(agents=[agent("a1")], queues=[Q], clock=clock,
                        settings=RoutingSettings(tick=3600, on_call_ttl=10_000),
                        start=True)
    await n.router.enqueue(call("cb", clock))
    assert await n.router.to_callback("cb", NUMBER)
    await n.agents.login("a1")
    assert await n.router.callback_failed(n.offers[0], 10)
    clock.advance(11)  # due now, but nothing runs the reaper for an hour: only a kick

    async def offered_again() -> bool:
        await n.router.kick()
        return len(n.offers) == 2

    await wait_until(offered_again, "the retried callback offered after a kick")
    assert n.offers[1].callback == NUMBER
