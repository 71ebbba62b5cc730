"""Cost that stays flat as the work grows (issue 15): routing delay (enqueue ->
offer delivered) and the router's CPU per call as agents and waiting calls grow.

Agents: 100 over 10 skills, 1,000 over 50, 10,000 over 200 (each agent holds 5
skills; one queue per skill), 100 calls/s for 10 s, agents answer at once and
end the call 0.3 s later (100 agents then stay under 30 % busy). Waiting: the
1,000-agent set-up with 10, 1,000 or 10,000 calls already waiting in a queue no agent can serve, so
every agent who frees up and every tick's sweep also meet that backlog.

One router node in this process on a private Redis (its command counts are
acd's alone): per routed call the CPU of this process (`time.process_time`,
the load generator included: an upper bound), script calls and Redis commands
(commands run inside scripts included).
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import redis.asyncio as aioredis

from acd.agents.model import AgentDef
from acd.clock import Clock
from acd.routing.agents import AgentService
from acd.routing.model import QueueDef, QueueRequest, RoutingSettings
from acd.routing.service import Router
from bench.agents_side import AgentsSide
from bench.common import private_redis, summary_ms

SETTINGS = RoutingSettings(max_missed=0, reservation_ttl=30)
SKILLS_PER_AGENT = 5
BACKLOG = QueueDef(name="backlog", skills={"nobody": 1}, ring_timeout=15, wrapup=0)


def _defs(agents: int, skills: int) -> tuple[list[AgentDef], list[QueueDef]]:
    rnd = random.Random(7)
    out = []
    for i in range(agents):
        picks = rnd.sample(range(skills), min(SKILLS_PER_AGENT, skills))
        out.append(AgentDef(id=f"b{i}", name=f"Agent {i}", endpoint=f"PJSIP/agent{i}",
                            skills={f"s{k}": rnd.randint(1, 10) for k in picks}))
    queues = [QueueDef(name=f"q{k}", skills={f"s{k}": 1}, ring_timeout=15, wrapup=0)
              for k in range(skills)]
    return out, [*queues, BACKLOG]


async def _stats(redis: aioredis.Redis) -> tuple[int, int]:
    stats = await redis.info("stats")
    cmds = await redis.info("commandstats")
    scripts = sum(int(cmds.get(k, {}).get("calls", 0))
                  for k in ("cmdstat_evalsha", "cmdstat_eval"))
    return int(stats["total_commands_processed"]), scripts


async def one(url: str, agents: int, skills: int, waiting: int, rate: float = 100.0,
              seconds: float = 10.0, talk: float = 0.3) -> dict[str, Any]:
    # As acd/app.py builds it: a bounded pool that waits for a free connection.
    redis = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(
        url, decode_responses=True, max_connections=64, timeout=10))
    await redis.flushall()
    clock = Clock()
    agent_defs, queues = _defs(agents, skills)
    svc = AgentService(redis, prefix="bench-scale", clock=clock, agents=agent_defs,
                       settings=SETTINGS)
    side = AgentsSide(talk)
    sent, delays, background = side.sent, side.delays, side.background

    router = Router(redis, prefix="bench-scale", node_id="scale-n1", clock=clock,
                    queues=queues, agents=svc, settings=SETTINGS, on_offer=side.on_offer)

    side.router = router
    await svc.sync_definitions()
    for a in agent_defs:
        await svc.login(a.id)
    for i in range(waiting):
        await router.enqueue(QueueRequest(call_id=f"w{i}", queue="backlog",
                                          enqueued_at_ms=clock.ms()))
    await router.start()
    await asyncio.sleep(1.5)  # a tick or so: the start-up sweep is not counted
    rnd = random.Random(1)
    total = int(rate * seconds)
    cmds0, scripts0 = await _stats(redis)
    cpu0 = time.process_time()
    t_begin = time.perf_counter()
    tasks: set[asyncio.Task[Any]] = set()
    for i in range(total):
        due = t_begin + i / rate
        now = time.perf_counter()
        if due > now:
            await asyncio.sleep(due - now)
        call_id = f"c{i}"
        sent[call_id] = time.perf_counter()
        req = QueueRequest(call_id=call_id, queue=f"q{rnd.randrange(skills)}",
                           enqueued_at_ms=clock.ms())
        task = asyncio.create_task(router.enqueue(req))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    deadline = time.perf_counter() + 15
    while (sent or background) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    cpu = time.process_time() - cpu0
    cmds1, scripts1 = await _stats(redis)
    await router.stop()
    await redis.flushall()
    await redis.aclose()
    offered = len(delays)
    n = max(1, total)
    return {
        "agents": agents, "skills": skills, "queues": len(queues), "waiting": waiting,
        "calls": total, "offered": offered, "unoffered": len(sent),
        "enqueue_to_offer": summary_ms(delays),
        "cpu_ms_per_call": cpu * 1000 / n,
        # the 2 INFO calls of the first _stats are inside the window
        "redis_commands_per_call": (cmds1 - cmds0 - 2) / n,
        "scripts_per_call": (scripts1 - scripts0) / n,
    }


CASES: tuple[tuple[int, int, int], ...] = (
    (100, 10, 0), (1_000, 50, 0), (10_000, 200, 0),
    (1_000, 50, 10), (1_000, 50, 1_000), (1_000, 50, 10_000),
)


async def run(cases: tuple[tuple[int, int, int], ...] = CASES) -> dict[str, Any]:
    out = []
    with private_redis() as url:
        for agents, skills, waiting in cases:
            res = await one(url, agents, skills, waiting)
            d = res["enqueue_to_offer"]
            print(f"  {agents:>6} agents / {skills:>3} skills, {waiting:>6} waiting: "
                  f"p50 {d['p50_ms']:.2f} / p99 {d['p99_ms']:.2f} ms, "
                  f"{res['cpu_ms_per_call']:.2f} CPU ms, {res['scripts_per_call']:.2f} "
                  f"scripts, {res['redis_commands_per_call']:.1f} cmds per call",
                  flush=True)
            out.append(res)
    return {"runs": out}
