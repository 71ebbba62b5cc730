"""The people layer of one acd node: users, sessions, audit, the live snapshot.

Built and owned by the composition root (acd.app.App); the API reaches it
through `PEOPLE_KEY`.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import asyncpg

from acd.config import Settings
from acd.people import desk, figures
from acd.people.keys import PeopleKeys
from acd.people.live import LiveHub
from acd.people.sessions import HashedRedisStorage, LoginLimiter
from acd.people.users import UserStore
from acd.routing.client import RedisClient

if TYPE_CHECKING:
    from acd.calls.model import CallState as Call
    from acd.clock import Clock
    from acd.routing.model import Offer
    from acd.routing.service import Router

logger = logging.getLogger(__name__)
# Routing scripts that run on every tick: they change the picture only when they
# changed an agent or made an offer.
_TICK = frozenset({"renew", "sweep", "reap"})


async def live_snapshot(redis: RedisClient, router: Router) -> dict[str, Any]:
    """What screens show, read cheaply however many callers wait: per queue the
    waiting count and the head's wait (not every waiting call), and the agents
    with the queue of their current call. Two round trips and the agents' hash."""
    names = sorted(router.queues)
    raw_agents: dict[Any, Any] = await redis.hgetall(router.agents.keys.agents)
    # Straight from the records (no model per agent: this runs a few times a second).
    agents = sorted((json.loads(v) for v in raw_agents.values()), key=lambda r: r["id"])
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.zcard(router.keys.queue(name))
            pipe.zrange(router.keys.queue(name), 0, 0)
        counted = await pipe.execute()
    heads = [str(counted[2 * i + 1][0]) for i in range(len(names)) if counted[2 * i + 1]]
    current = [a["call"] for a in agents if a.get("call")]
    wanted = list(dict.fromkeys(heads + current))
    records = dict(zip(wanted, await redis.hmget(router.keys.calls, wanted), strict=True)) \
        if wanted else {}
    now = router.clock.ms()

    def record(call_id: str) -> dict[str, Any]:
        raw = records.get(call_id)
        return json.loads(raw) if raw else {}

    queues = []
    for i, name in enumerate(names):
        head = counted[2 * i + 1]
        enq = record(str(head[0])).get("enq") if head else None
        queues.append({"name": name, "skills": dict(router.queues[name].skills),
                       "strategy": router.queues[name].strategy,
                       "waiting": int(counted[2 * i]),
                       "oldest_waited_s": round((now - int(enq)) / 1000, 1) if enq else 0.0})
    views = [{"id": a["id"], "name": a.get("name") or "", "state": a["state"],
              "reason": a.get("reason") or None, "since_ms": int(a.get("since", 0)),
              "current_call": a.get("call") or None, "skills": a.get("skills") or {},
              "call_queue": record(a["call"]).get("q") if a.get("call") else None}
             for a in agents]
    return {"queues": queues, "agents": views}


class People:
    def __init__(self, settings: Settings, redis: RedisClient, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.redis = redis
        self.pool = pool
        self.keys = PeopleKeys(settings.redis_prefix)
        self.users = UserStore(pool)
        api = settings.api
        self.limiter = LoginLimiter(redis, self.keys, per_user=api.login_failures_per_user,
                                    per_address=api.login_failures_per_address,
                                    window_s=api.login_window)
        self.storage = HashedRedisStorage(redis, self.keys, max_age=api.session_max_age,
                                          secure=api.cookie_secure)
        self.live: LiveHub | None = None
        self.router: Router | None = None

    async def start_live(self, router: Router, clock: Clock) -> None:
        """Start the live snapshot over `router` (after it started)."""
        self.router = router
        desk = self.settings.desk

        async def build() -> dict[str, Any]:
            return await live_snapshot(self.redis, router)

        async def today() -> dict[str, Any]:
            sl = {name: desk.queue(name).service_level_s for name in router.queues}
            return {"queues": await figures.queues_today(self.pool, sl),
                    "agents": await figures.agents_today(self.pool)}

        def on_run(name: str, res: dict[str, Any]) -> None:
            if name not in _TICK or res.get("changes") or res.get("offers"):
                self.changed()

        router.on_run = on_run
        self.live = LiveHub(self.settings, self.redis, router.node_id, build, today,
                            speed=clock.speed, now_ms=clock.ms)
        await self.live.start()

    async def offered(self, call: Call, offer: Offer) -> None:
        """Keep what the agent's screen pop shows of the call (never fails the offer)."""
        try:
            await desk.write_pop(self.redis, self.keys, desk.pop_of(call, offer))
        except Exception:
            logger.exception("call %s: screen pop not written", call.call_id)

    def changed(self) -> None:
        if self.live is not None:
            self.live.mark()

    async def stop(self) -> None:
        if self.live is not None:
            await self.live.stop()

    async def audit(self, who: str, role: str | None, what: str, source: str | None,
                    status: int | None, details: dict[str, Any] | None = None) -> None:
        """Write an audit row; a failure is logged, never hidden from the log."""
        try:
            await self.users.audit(who, role, what, source, status, details)
        except Exception:
            logger.exception("audit row not written: %s by %s", what, who)
