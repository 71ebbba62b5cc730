"""Property: random interleavings across 4 routers (4 node ids) on one Redis never
give an agent two calls or a call two connected agents, and every call ends once.

Each example runs a random list of operations — arrivals, hang-ups, agent state
changes, ringing/answers/failures/ends of offers (stale ones too), clock jumps
with reaper passes, sweeps — checking the Redis invariants after every step,
then hangs everything up and checks that each call ended exactly once and that
no agent is left busy. ACD_PROPERTY_EXAMPLES sets the number of examples.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.agents.model import AgentDef
from acd.agents.service import AgentService
from acd.clock import Clock
from acd.errors import Conflict
from acd.routing.model import Offer, QueueDef, QueueRequest, RoutingSettings
from acd.routing.service import Router
from tests.conftest import REDIS_URL

# Examples in total, shared by the long and the short interleavings below.
EXAMPLES = int(os.environ.get("ACD_PROPERTY_EXAMPLES", "10000"))
NODES = 4
AGENTS = [AgentDef(id=f"a{i}", endpoint=f"PJSIP/a{i}", skills=s) for i, s in enumerate(
    [{"en": 5}, {"en": 3, "fr": 5}, {"fr": 4}, {"en": 8, "fr": 2}, {"en": 5}])]
QUEUES = [QueueDef(name="en", skills={"en": 4}, wrapup=3, ring_timeout=5),
          QueueDef(name="fr", skills={"fr": 3}, strategy="ring_all", wrapup=0, ring_timeout=5),
          QueueDef(name="any", strategy="fewest_calls", wrapup=2, ring_timeout=5)]
SETTINGS = RoutingSettings(max_missed=2, missed_retry_delay=4, reservation_ttl=6,
                           preferred_timeout=3, ring_all_max=3)


class ManualClock(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.now_ms = 1_700_000_000_000

    def ms(self) -> int:
        return self.now_ms


@dataclass
class World:
    redis: aioredis.Redis
    prefix: str
    clock: ManualClock
    routers: list[Router] = field(default_factory=list)
    offers: list[Offer] = field(default_factory=list)
    owner_of: dict[str, int] = field(default_factory=dict)
    ended: Counter[str] = field(default_factory=Counter)
    next_call: int = 0


OFFER_OP = st.tuples(st.just("offer"), st.integers(0, 5),
                     st.sampled_from(["ring", "answer", "noanswer", "busy", "rejected", "end"]))
op = st.one_of(
    st.tuples(st.just("arrive"), st.integers(0, NODES - 1), st.sampled_from(QUEUES),
              st.integers(0, 2), st.sampled_from([None, None, "a0", "a2"])),
    st.tuples(st.just("hangup"), st.integers(0, 50)),
    st.tuples(st.just("agent"), st.integers(0, NODES - 1), st.integers(0, len(AGENTS) - 1),
              st.sampled_from(["login", "login", "logout", "available", "break"])),
    OFFER_OP, OFFER_OP,  # offers happen most: ringing, answers, failures, ends, replays
    st.tuples(st.just("time"), st.integers(0, NODES - 1), st.sampled_from([0.5, 2, 5, 10])),
    st.tuples(st.just("sweep"), st.integers(0, NODES - 1)),
)


async def build(redis: aioredis.Redis) -> World:
    w = World(redis, f"acdt-prop-{uuid.uuid4().hex[:10]}", ManualClock())
    for i in range(NODES):
        svc = AgentService(redis, prefix=w.prefix, clock=w.clock, agents=AGENTS,
                           settings=SETTINGS)

        async def on_offer(offer: Offer, node: int = i) -> None:
            assert w.owner_of[offer.call_id] == node, "offer delivered to a node not owning it"
            w.offers.append(offer)

        w.routers.append(Router(redis, prefix=w.prefix, node_id=f"n{i}", clock=w.clock,
                                queues=QUEUES, agents=svc, settings=SETTINGS,
                                on_offer=on_offer))
    await w.routers[0].agents.sync_definitions()
    return w


async def apply(w: World, o: tuple[Any, ...]) -> None:
    kind = o[0]
    if kind == "arrive":
        _, node, queue, prio, pref = o
        cid = f"c{w.next_call}"
        w.next_call += 1
        w.owner_of[cid] = node
        res = await w.routers[node].enqueue(QueueRequest(
            call_id=cid, queue=queue.name, priority=prio, enqueued_at_ms=w.clock.ms(),
            preferred_agent=pref))
        assert res.accepted
    elif kind == "hangup" and w.next_call:
        await hang_up(w, f"c{o[1] % w.next_call}")
    elif kind == "agent":
        _, node, idx, action = o
        svc = w.routers[node].agents
        try:
            if action == "break":
                await svc.set_break(AGENTS[idx].id, "lunch")
            else:
                await getattr(svc, action)(AGENTS[idx].id)
        except Conflict:
            pass
    elif kind == "offer" and w.offers:
        offer = w.offers[-1 - o[1] % len(w.offers)]  # recent ones mostly
        r = w.routers[w.owner_of[offer.call_id]]
        if o[2] == "ring":
            await r.offer_ringing(offer)
        elif o[2] == "answer":
            await r.offer_answered(offer)
        elif o[2] == "end":
            await end_call(w, offer)
        else:
            await r.offer_failed(offer, o[2])
    elif kind == "time":
        w.clock.now_ms += int(o[2] * 1000)
        await w.routers[o[1]].reap()
    elif kind == "sweep":
        await w.routers[o[1]].sweep()
    for r in w.routers:
        await r.drain_inbox()


async def end_call(w: World, offer: Offer) -> None:
    existed = await w.redis.hexists(w.routers[0].keys.calls, offer.call_id)
    await w.routers[w.owner_of[offer.call_id]].call_ended(offer)
    if existed and not await w.redis.hexists(w.routers[0].keys.calls, offer.call_id):
        w.ended[offer.call_id] += 1


async def hang_up(w: World, cid: str) -> None:
    res = await w.routers[w.owner_of[cid]].dequeue(cid)
    if res.was in ("waiting", "offered"):
        w.ended[cid] += 1
    elif res.was == "connected":
        raw = await w.redis.hget(w.routers[0].keys.calls, cid)
        rec = json.loads(raw)
        (res_id,) = rec["res"]
        offer = next(x for x in w.offers if x.reservation_id == res_id)
        await end_call(w, offer)


async def check(w: World) -> None:
    k = w.routers[0].keys
    async with w.redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(k.agents)
        pipe.hgetall(k.calls)
        pipe.zrange(k.idle, 0, -1)
        pipe.zrange(k.agent_timers, 0, -1, withscores=True)
        for q in QUEUES:
            pipe.zrange(k.queue(q.name), 0, -1)
        raw_agents, raw_calls, idle_ids, timer_list, *queued = await pipe.execute()
    agents = {a: json.loads(v) for a, v in raw_agents.items()}
    calls = {c: json.loads(v) for c, v in raw_calls.items()}
    waiting = {cid for ids in queued for cid in ids}
    held = {(a["id"], a["res"]) for a in agents.values()
            if a["state"] in ("reserved", "ringing", "on_call")}
    given_out = set()
    for c in calls.values():
        res = c["res"] if isinstance(c["res"], dict) else {}
        given_out.update((agent, r) for r, agent in res.items())
        assert (c["id"] in waiting) == (c["st"] == "waiting"), c
        assert (len(res) == 0) == (c["st"] == "waiting"), c
        if c["st"] == "connected":
            assert len(res) == 1 and agents[c["agent"]]["state"] == "on_call", c
            assert agents[c["agent"]]["call"] == c["id"]
    # Every agent holding a call is held by exactly that call, and back; so no
    # agent has two calls and no call two connected agents.
    assert held == given_out, (held, given_out)
    busy = [a["id"] for a in agents.values() if a["state"] in ("reserved", "ringing", "on_call")]
    assert len(busy) == len({a for a, _ in held})
    assert set(idle_ids) == {a for a, v in agents.items() if v["state"] == "available"}
    timers = dict(timer_list)
    for a, v in agents.items():
        if v["state"] in ("reserved", "ringing", "wrap_up"):
            assert timers.get(a) == v["dl"], (a, v)
    assert waiting <= set(calls)


async def cleanup(w: World) -> None:
    r = w.routers[0]
    keys = {*r.layout.keys, *r.agents.scripts.layout.keys,
            *(r.keys.inbox(f"n{i}") for i in range(NODES))}
    await w.redis.delete(*keys)


async def finish(w: World) -> None:
    for i in range(w.next_call):
        await hang_up(w, f"c{i}")
    w.clock.now_ms += 60_000
    await w.routers[0].reap()
    await check(w)
    k = w.routers[0].keys
    assert await w.redis.hlen(k.calls) == 0
    for a in (await w.routers[0].agents.list()):
        assert a.state in ("logged_out", "available", "break"), a
    assert w.ended == Counter({f"c{i}": 1 for i in range(w.next_call)}), w.ended


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("max_ops", "share"), [(40, 0.25), (8, 0.75)])
def test_interleavings_across_four_nodes(max_ops: int, share: float) -> None:
    with asyncio.Runner() as runner:
        redis = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)

        @settings(max_examples=max(1, int(EXAMPLES * share)), deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(st.lists(op, min_size=1, max_size=max_ops))
        def run(ops: list[tuple[Any, ...]]) -> None:
            async def go() -> None:
                w = await build(redis)
                try:
                    for o in ops:
                        await apply(w, o)
                        await check(w)
                    await finish(w)
                finally:
                    await cleanup(w)

            runner.run(go())

        try:
            run()
        finally:
            runner.run(redis.aclose())
