"""Property: random interleavings across 4 routers (4 node ids) on one Redis never
give an agent two calls or a call two connected agents, and every call ends once.

Each example runs a random list of operations — arrivals, hang-ups, agent state
changes, ringing/answers/failures/ends of offers (stale ones too), callers turned
into callback tasks and failed callbacks (retried or dropped), on_call renewals
by the owner nodes (or not: then the reaper orphans the agent), clock jumps with
reaper passes, sweeps — checking the Redis invariants after every step, then
hangs everything up and checks that each call ended exactly once and that no
agent is left busy. ACD_PROPERTY_EXAMPLES sets the number of examples on one
Redis (2,000 in `make test`, 100,000 in `make soak`); the Redis Cluster run does
a fifth of them (CLUSTER_SHARE) to keep the suite's time in budget on two cores.
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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.agents.model import AgentDef
from acd.errors import Conflict
from acd.routing.agents import AgentService
from acd.routing.client import RedisClient
from acd.routing.model import Offer, QueueDef, QueueRequest, RoutingSettings
from acd.routing.service import Router
from tests.routing.cluster import LocalCluster
from tests.routing.conftest import KINDS, ManualClock, SettlingRouter, client_for

# Examples in total, shared by the long and the short interleavings below. Each
# costs ~30 ms (four routers built, Redis checked after every step, torn down):
# 10,000 took ~350 s of `make test` on the 2-core CI box, 2,000 take ~70 s; the
# soak (`make soak`) runs 100,000.
EXAMPLES = int(os.environ.get("ACD_PROPERTY_EXAMPLES", "2000"))
# The cluster run repeats the property through a RedisCluster client (every
# script goes to the master of the routing slot). The single run already explores
# the interleavings; the cluster run checks that nothing differs there, so it does
# a fifth of the examples (400 by default). Measured on the 2-core CI box: about
# 10-12 ms per example on either, so the full count would add ~100 s to `make
# test` for no new interleaving. ACD_PROPERTY_CLUSTER_SHARE=1 runs them all.
CLUSTER_SHARE = float(os.environ.get("ACD_PROPERTY_CLUSTER_SHARE", "0.2"))
NODES = 4
AGENTS = [AgentDef(id=f"a{i}", endpoint=f"PJSIP/a{i}", skills=s) for i, s in enumerate(
    [{"en": 5}, {"en": 3, "fr": 5}, {"fr": 4}, {"en": 8, "fr": 2}, {"en": 5}])]
QUEUES = [QueueDef(name="en", skills={"en": 4}, wrapup=3, ring_timeout=5),
          QueueDef(name="fr", skills={"fr": 3}, strategy="ring_all", wrapup=0, ring_timeout=5),
          QueueDef(name="any", strategy="fewest_calls", wrapup=2, ring_timeout=5)]
SETTINGS = RoutingSettings(max_missed=2, missed_retry_delay=4, reservation_ttl=6,
                           preferred_timeout=3, ring_all_max=3, on_call_ttl=15)


@dataclass
class World:
    redis: RedisClient
    prefix: str
    clock: ManualClock
    routers: list[Router] = field(default_factory=list)
    offers: list[Offer] = field(default_factory=list)
    owner_of: dict[str, int] = field(default_factory=dict)
    ended: Counter[str] = field(default_factory=Counter)
    callbacks: dict[str, str] = field(default_factory=dict)  # call id -> number
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
    st.tuples(st.just("callback"), st.integers(0, 50)),
    st.tuples(st.just("cbfail"), st.integers(0, 5), st.sampled_from([None, 0.0, 3.0])),
    st.tuples(st.just("renew"), st.integers(0, NODES - 1)),
)


async def build(redis: RedisClient) -> World:
    w = World(redis, f"acdt-prop-{uuid.uuid4().hex[:10]}", ManualClock())
    for i in range(NODES):
        svc = AgentService(redis, prefix=w.prefix, clock=w.clock, agents=AGENTS,
                           settings=SETTINGS)

        async def on_offer(offer: Offer, node: int = i) -> None:
            assert w.owner_of[offer.call_id] == node, "offer delivered to a node not owning it"
            assert offer.callback == w.callbacks.get(offer.call_id), offer
            w.offers.append(offer)

        w.routers.append(SettlingRouter(redis, prefix=w.prefix, node_id=f"n{i}", clock=w.clock,
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
        await time_passes(w, o[1], o[2])
    elif kind == "sweep":
        await w.routers[o[1]].sweep()
    elif kind == "renew":
        await w.routers[o[1]].renew()
    elif kind in ("callback", "cbfail"):
        await callback_op(w, o)
    for r in w.routers:
        await r.drain_inbox()


async def time_passes(w: World, node: int, seconds: float) -> None:
    w.clock.now_ms += int(seconds * 1000)
    before = set(await w.redis.hkeys(w.routers[0].keys.calls))
    await w.routers[node].reap()
    # The reaper forgets a connected call nobody renewed: that call has ended.
    for cid in before - set(await w.redis.hkeys(w.routers[0].keys.calls)):
        w.ended[cid] += 1


async def callback_op(w: World, o: tuple[Any, ...]) -> None:
    calls = w.routers[0].keys.calls
    if o[0] == "callback" and w.next_call:
        cid = f"c{o[1] % w.next_call}"
        raw = await w.redis.hget(calls, cid)
        waiting = raw is not None and json.loads(raw)["st"] == "waiting"
        number = f"+1555{o[1]:04d}"
        assert await w.routers[w.owner_of[cid]].to_callback(cid, number) == waiting
        if waiting:
            w.callbacks[cid] = number
    elif o[0] == "cbfail" and w.offers:
        offer = w.offers[-1 - o[1] % len(w.offers)]
        existed = await w.redis.hexists(calls, offer.call_id)
        queued = await w.routers[w.owner_of[offer.call_id]].callback_failed(offer, o[2])
        still = await w.redis.hexists(calls, offer.call_id)
        assert queued == still
        if existed and not still:
            w.ended[offer.call_id] += 1


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
        pipe.zrange(k.call_timers, 0, -1, withscores=True)
        pipe.smembers(k.waiting_queues)
        for q in QUEUES:
            pipe.zrange(k.queue(q.name), 0, -1)
        (raw_agents, raw_calls, idle_ids, timer_list, call_timers, waitq,
         *queued) = await pipe.execute()
    # A free agent searches only the queues in waitq: every queue holding a waiting
    # call must be there.
    assert {q.name for q, ids in zip(QUEUES, queued, strict=True) if ids} <= set(waitq)
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
        assert c.get("cb") == w.callbacks.get(c["id"]), c
        if c.get("nb", 0) > w.clock.now_ms:  # a callback retry: nobody may have it yet,
            assert c["st"] == "waiting", c   # and the reaper wakes it in time
            assert dict(call_timers).get(c["id"], float("inf")) <= c["nb"], c
    # Every agent holding a call is held by exactly that call, and back; so no
    # agent has two calls and no call two connected agents.
    assert held == given_out, (held, given_out)
    busy = [a["id"] for a in agents.values() if a["state"] in ("reserved", "ringing", "on_call")]
    assert len(busy) == len({a for a, _ in held})
    assert set(idle_ids) == {a for a, v in agents.items() if v["state"] == "available"}
    # Every agent state but available, break and logged_out has a deadline in
    # the timer set, on_call too: no agent state can stick.
    timers = dict(timer_list)
    for a, v in agents.items():
        if v["state"] in ("reserved", "ringing", "on_call", "wrap_up"):
            assert timers.get(a) == v["dl"] > 0, (a, v)
    assert waiting <= set(calls)


async def cleanup(w: World) -> None:
    for router in w.routers:
        await router.bus.stop()
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


@pytest.mark.timeout(max(900, EXAMPLES // 10))  # the soak's 100,000 too
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("max_ops", "share"), [(40, 0.25), (8, 0.75)])
def test_interleavings_across_four_nodes(request: pytest.FixtureRequest, kind: str,
                                         max_ops: int, share: float) -> None:
    cluster: LocalCluster | None = None
    if kind == "cluster":
        cluster = request.getfixturevalue("redis_cluster")
        share *= CLUSTER_SHARE
    with asyncio.Runner() as runner:
        redis = client_for(kind, cluster)

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
