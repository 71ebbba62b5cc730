"""Routing: delay from `Router.enqueue()` to `on_offer` (the dial) on real Redis.

1,000 agents over 50 skills, one queue per skill, calls arriving at 100/s for
10 s. Agents answer at once (offer_ringing, offer_answered) and end the call
after a short talk, so they come back. Run with 1, 2 and 4 processes, each its
own Router node on the same prefix, arrivals split between them.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import random
import time
import uuid
from typing import Any

import redis.asyncio as aioredis

from acd.agents.model import AgentDef
from acd.clock import Clock
from acd.routing.agents import AgentService
from acd.routing.model import QueueDef, QueueRequest, RoutingSettings
from acd.routing.service import Router
from bench.agents_side import AgentsSide
from bench.common import summary_ms

REDIS_URL = "redis://127.0.0.1:6379/0"
AGENTS = 1000
SKILLS = 50
SKILLS_PER_AGENT = 5


def _defs() -> tuple[list[AgentDef], list[QueueDef]]:
    rnd = random.Random(7)
    agents = []
    for i in range(AGENTS):
        picks = rnd.sample(range(SKILLS), SKILLS_PER_AGENT)
        agents.append(AgentDef(id=f"b{i}", name=f"Agent {i}", endpoint=f"PJSIP/agent{1000 + i}",
                               skills={f"s{k}": rnd.randint(1, 10) for k in picks}))
    queues = [QueueDef(name=f"q{k}", skills={f"s{k}": 1}, ring_timeout=15, wrapup=0)
              for k in range(SKILLS)]
    return agents, queues


SETTINGS = RoutingSettings(max_missed=0, reservation_ttl=30)


async def _setup(prefix: str) -> None:
    redis = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    agents_defs, _ = _defs()
    agents = AgentService(redis, prefix=prefix, clock=Clock(), agents=agents_defs,
                          settings=SETTINGS)
    await agents.sync_definitions()
    for a in agents_defs:
        await agents.login(a.id)
    await redis.aclose()


async def _cleanup(prefix: str) -> int:
    redis = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    keys = [k async for k in redis.scan_iter(match=f"*{prefix}*", count=1000)]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()
    return len(keys)


async def _node(prefix: str, index: int, nodes: int, start_at: float, rate: float,
                seconds: float, talk: float) -> dict[str, Any]:
    redis = aioredis.Redis.from_url(REDIS_URL, decode_responses=True,
                                    max_connections=None)
    clock = Clock()
    agents_defs, queues = _defs()
    agents = AgentService(redis, prefix=prefix, clock=clock, agents=agents_defs,
                          settings=SETTINGS)
    side = AgentsSide(talk)
    sent, delays, background = side.sent, side.delays, side.background

    router = Router(redis, prefix=prefix, node_id=f"{prefix}-n{index}", clock=clock,
                    queues=queues, agents=agents, settings=SETTINGS, on_offer=side.on_offer)

    side.router = router
    await router.start()
    rnd = random.Random(index)
    total = int(rate * seconds)
    mine = list(range(index, total, nodes))
    enqueue_tasks: set[asyncio.Task[Any]] = set()
    await asyncio.sleep(max(0.0, start_at - time.time()))
    t_begin = time.perf_counter()
    late: list[float] = []
    for i in mine:
        due = t_begin + i / rate
        now = time.perf_counter()
        if due > now:
            await asyncio.sleep(due - now)
        else:
            late.append(now - due)
        call_id = f"{prefix}-c{i}"
        sent[call_id] = time.perf_counter()
        req = QueueRequest(call_id=call_id, queue=f"q{rnd.randrange(SKILLS)}",
                           enqueued_at_ms=clock.ms(), caller=f"+1555{i:06d}")
        task = asyncio.create_task(router.enqueue(req))
        enqueue_tasks.add(task)
        task.add_done_callback(enqueue_tasks.discard)
    elapsed = time.perf_counter() - t_begin
    deadline = time.perf_counter() + 10
    while (sent or background) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    await router.stop()
    await redis.aclose()
    return {"node": index, "calls": len(mine), "offered": len(delays),
            "unoffered": len(sent), "seconds": elapsed, "delays": delays,
            "arrival_late_max_ms": max(late, default=0.0) * 1000}


def _child(args: tuple[Any, ...], out: Any) -> None:
    out.put(asyncio.run(_node(*args)))


async def run_once(processes: int, rate: float = 100.0, seconds: float = 10.0,
                   talk: float = 1.0) -> dict[str, Any]:
    prefix = f"bench-rt-{uuid.uuid4().hex[:8]}"
    try:
        await _setup(prefix)
        start_at = time.time() + 2.0 + 0.5 * processes
        if processes == 1:
            results = [await _node(prefix, 0, 1, start_at, rate, seconds, talk)]
        else:
            ctx = mp.get_context("spawn")
            out = ctx.Queue()
            procs = [ctx.Process(target=_child, args=(
                (prefix, i, processes, start_at, rate, seconds, talk), out))
                for i in range(processes)]
            for p in procs:
                p.start()
            results = [await asyncio.to_thread(out.get, True, 120) for _ in procs]
            for p in procs:
                p.join(10)
        delays = [d for r in results for d in r["delays"]]
        offered = sum(r["offered"] for r in results)
        span = max(r["seconds"] for r in results)
        return {
            "processes": processes, "agents": AGENTS, "skills": SKILLS,
            "rate_per_s": rate, "calls": sum(r["calls"] for r in results),
            "offered": offered, "unoffered": sum(r["unoffered"] for r in results),
            "matches_per_s": round(offered / span, 1) if span else 0.0,
            "arrival_late_max_ms": max(r["arrival_late_max_ms"] for r in results),
            "enqueue_to_offer": summary_ms(delays),
        }
    finally:
        await _cleanup(prefix)


async def run(process_counts: tuple[int, ...] = (1, 2, 4)) -> dict[str, Any]:
    return {"runs": [await run_once(n) for n in process_counts]}
