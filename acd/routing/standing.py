"""Where a waiting caller stands: place in the queue and expected wait, for the
periodic announcements. Part of Router (see acd.routing.base).

The work does not grow with the number waiting: one script call a tick
(standing.lua) reads every queue's waiting calls in order and its handle time,
and one read of the agents a tick counts who works each queue. Every caller's
announcement in that tick is then a dictionary look-up. Concurrent askers share
the read in flight (one at a time), so 10,000 callers announcing at once cost
one Redis round trip, not 10,000, and never drain the connection pool.

`position` and `expected_wait` stay exact (a look-up of the call itself), for
the API and the tests; `standing` is as of the last tick.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from acd.routing import policy
from acd.routing.base import RouterBase
from acd.routing.model import QueueDef
from acd.routing.scripts import as_list

T = TypeVar("T")
# A call missing from the last standing is looked for again in a fresh one, unless
# that one is younger than this (it may have joined since; real seconds).
MISS_REFRESH_S = 0.05


class Shared(Generic[T]):
    """A value read at most once per `max_age` seconds; concurrent readers share
    the read in flight (single flight). A failed read fails its readers only."""

    def __init__(self, fetch: Callable[[], Awaitable[T]],
                 track: Callable[[asyncio.Task[T]], None]) -> None:
        self._fetch = fetch
        self._track = track  # the owner keeps (and cancels) the read's task
        self._value: T | None = None
        self._taken = 0.0
        self._inflight: asyncio.Task[T] | None = None
        self.reads = 0

    def age(self) -> float:
        if self._value is None:
            return float("inf")
        return asyncio.get_running_loop().time() - self._taken

    def clear(self) -> None:
        self._value = None

    async def get(self, max_age: float) -> T:
        if self._value is not None and self.age() <= max_age:
            return self._value
        if self._inflight is None:
            self._inflight = asyncio.create_task(self._read())
            self._track(self._inflight)
        return await asyncio.shield(self._inflight)

    async def _read(self) -> T:
        began = asyncio.get_running_loop().time()
        try:
            value = await self._fetch()
            self.reads += 1
            self._value, self._taken = value, began
            return value
        finally:
            self._inflight = None


@dataclass
class QueueStanding:
    """Every waiting call's place, and each queue's average handle time (ms)."""

    where: dict[str, tuple[str, int]] = field(default_factory=dict)  # call -> (queue, pos)
    aht: dict[str, float | None] = field(default_factory=dict)

    @classmethod
    def of(cls, queues: Mapping[str, Any]) -> QueueStanding:
        out = cls()
        for name, q in queues.items():
            for i, call_id in enumerate(as_list(q.get("ids"))):
                out.where[str(call_id)] = (str(name), i + 1)
            aht = q.get("aht")
            out.aht[str(name)] = float(aht) if aht else None
        return out


Census = list[tuple[str, dict[str, int]]]  # (state, skills) of every agent


def working(census: Census, q: QueueDef) -> int:
    """Agents working the queue now: logged in, not on break, holding its skills."""
    return sum(1 for state, skills in census
               if state not in ("logged_out", "break")
               and all(skills.get(s, 0) >= lvl for s, lvl in q.skills.items()))


def staffed(census: Census, q: QueueDef) -> int:
    """Agents logged in (in any state) who could take the queue's calls."""
    return sum(1 for state, skills in census
               if state != "logged_out"
               and all(skills.get(s, 0) >= lvl for s, lvl in q.skills.items()))


class Standing(RouterBase):
    def _init_standing(self) -> None:
        self._standing: Shared[QueueStanding] = Shared(self._read_standing, self._own)
        self._census: Shared[Census] = Shared(self._read_census, self._own)
        self._working_cache: dict[str, tuple[int, int]] = {}  # queue -> (census reads, n)

    def _own(self, task: asyncio.Task[Any]) -> None:
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def definitions_changed(self) -> None:
        """Queues or agents were redefined: what was counted is stale."""
        self._standing.clear()
        self._census.clear()
        self._working_cache.clear()

    def _tick_s(self) -> float:
        return self.clock.real(self.settings.tick)

    async def _read_standing(self) -> QueueStanding:
        res = await self.scripts.run("standing", self.clock.ms())
        queues = res.get("queues")
        return QueueStanding.of(queues if isinstance(queues, dict) else {})

    async def _read_census(self) -> Census:
        raw: dict[Any, Any] = await self.redis.hgetall(self.keys.agents)
        out: Census = []
        for text in raw.values():
            rec = json.loads(text)
            skills = rec.get("skills")
            out.append((str(rec.get("state")), skills if isinstance(skills, dict) else {}))
        return out

    async def census(self) -> Census:
        """Every agent's state and skills, as of this tick."""
        return await self._census.get(self._tick_s())

    async def standing(self, call_id: str, *, with_wait: bool = True
                       ) -> tuple[int | None, float | None]:
        """A waiting caller's place (1-based) and, with `with_wait`, the seconds they
        are likely to wait still, from recent handle times and the agents working the
        queue; None for what is unknown (not waiting, nothing to go on). As of the
        last tick: one script call a tick serves every caller's announcement."""
        snap = await self._standing.get(self._tick_s())
        hit = snap.where.get(call_id)
        if hit is None and self._standing.age() > MISS_REFRESH_S:
            snap = await self._standing.get(MISS_REFRESH_S)  # it may have joined since
            hit = snap.where.get(call_id)
        if hit is None:
            return await self._standing_exact(call_id, with_wait)
        queue, pos = hit
        if not with_wait:
            return pos, None
        q = self.queues.get(queue)
        if q is None:
            return pos, None
        return pos, policy.expected_wait(pos, snap.aht.get(queue), await self._working(q))

    async def _standing_exact(self, call_id: str, with_wait: bool
                              ) -> tuple[int | None, float | None]:
        """The call itself, read now (it is not in the last standing: rare)."""
        raw = await self.redis.hget(self.keys.calls, call_id)
        if raw is None:
            return None, None
        rec = json.loads(raw)
        if rec.get("st") != "waiting":
            return None, 0.0 if with_wait else None
        rank: Any = await self.redis.zrank(self.keys.queue(rec["q"]), call_id)
        if rank is None:
            return None, 0.0 if with_wait else None
        pos = int(rank) + 1
        if not with_wait:
            return pos, None
        q = self.queue_def(rec["q"])
        aht = await self.redis.hget(self.keys.stats, f"{q.name}:aht")
        return pos, policy.expected_wait(pos, float(aht) if aht else None,
                                         await self._working(q))

    async def position(self, call_id: str) -> int | None:
        """1-based place of a waiting call in its queue, now; None when it is not
        waiting."""
        return (await self._standing_exact(call_id, False))[0]

    async def expected_wait(self, call_id: str) -> float | None:
        """Seconds the call is likely to wait still (see `standing`), now; 0 when it
        is no longer waiting, None when unknown."""
        return (await self._standing_exact(call_id, True))[1]

    async def _working(self, q: QueueDef) -> int:
        """Agents working the queue (logged in, not on break), from this tick's
        census, counted once per queue and census."""
        census = await self.census()
        reads = self._census.reads
        cached = self._working_cache.get(q.name)
        if cached is not None and cached[0] == reads:
            return cached[1]
        n = working(census, q)
        self._working_cache[q.name] = (reads, n)
        return n
