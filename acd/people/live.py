"""One live snapshot of queues and agents per node, rebuilt from events and pushed.

Routing and agent changes mark the snapshot dirty (`mark`). At most every
`desk.snapshot_interval` the hub rebuilds it from Redis (the same state on every
node) and tells the other nodes through `{P}:live`, so that a change made on any
node reaches the wallboards connected to every node. Today's figures come from
PostgreSQL every `desk.figures_interval`. Each snapshot is encoded once per
audience (supervisors see callers' numbers, agents do not) and handed to every
subscriber's one-slot mailbox: a slow browser skips to the newest snapshot, it
never holds up the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from acd.config import Settings
from acd.people.keys import PeopleKeys
from acd.routing.client import RedisClient

logger = logging.getLogger(__name__)

Builder = Callable[[], Awaitable[dict[str, Any]]]
Figures = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Frame:
    """One snapshot, encoded once for every stream, as two SSE messages: the whole
    `snapshot`, and the `delta` from the frame before it (the queues, the agents
    that changed or left, today's figures when they changed)."""

    event_id: str
    snapshot: bytes
    delta: bytes


def sse(event_id: str, event: str, data: dict[str, Any]) -> bytes:
    """One SSE message (compact JSON holds no newline: a single data line)."""
    body = json.dumps(data, separators=(",", ":"))
    return f"id: {event_id}\nevent: {event}\ndata: {body}\n\n".encode()


# What a screen needs of an agent (the endpoint and counters stay in the API).
AGENT_FIELDS = ("id", "name", "state", "reason", "since_ms", "current_call", "call_queue",
                "skills")


def live_view(snap: dict[str, Any]) -> dict[str, Any]:
    """The snapshot pushed to screens: each queue's waiting calls summed up as the
    longest wait (their list, with callers' numbers, stays in GET /api/queues);
    agents with what a screen shows."""
    queues = []
    for q in snap["queues"]:
        calls = q.get("calls") or []
        queues.append({**{k: v for k, v in q.items() if k != "calls"},
                       "oldest_waited_s": max((c["waited_s"] for c in calls), default=0.0)})
    agents = [a if len(a) == len(AGENT_FIELDS) else {k: a.get(k) for k in AGENT_FIELDS}
              for a in snap["agents"]]
    return {**snap, "queues": queues, "agents": agents}


def delta_of(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """What changed from `before` to `after` (pure): queues whole, agents by id."""
    old = {a["id"]: a for a in (before or {}).get("agents", [])}
    new_ids = {a["id"] for a in after["agents"]}
    out: dict[str, Any] = {
        "queues": after["queues"],
        "agents_changed": [a for a in after["agents"] if old.get(a["id"]) != a],
        "agents_removed": sorted(set(old) - new_ids),
    }
    if before is None or before.get("today") != after.get("today"):
        out["today"] = after.get("today")
    return out


@dataclass
class LiveHub:
    settings: Settings
    redis: RedisClient
    node_id: str
    build: Builder
    figures: Figures
    speed: float = 1.0
    now_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    frame: Frame | None = None
    _subscribers: set[asyncio.Queue[Frame | None]] = field(default_factory=set)
    _dirty_since: float | None = None   # wall time of the first unshown change
    _remote: float | None = None  # when another node saw its first unshown change
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _epoch: str = field(default_factory=lambda: secrets.token_hex(3))
    _seq: int = 0
    _last: dict[str, Any] | None = None
    _figures: dict[str, Any] = field(default_factory=dict)
    _figures_at: float = 0.0
    builds: int = 0
    build_ms: list[float] = field(default_factory=list)  # the last 1,000 rebuilds' times
    behind: set[asyncio.Queue[Frame | None]] = field(default_factory=set)

    @property
    def keys(self) -> PeopleKeys:
        return PeopleKeys(self.settings.redis_prefix)

    async def start(self) -> None:
        await self._rebuild(force=True)
        self._tasks = [asyncio.create_task(self._loop(), name=f"live-{self.node_id}"),
                       asyncio.create_task(self._listen(), name=f"live-sub-{self.node_id}")]

    async def stop(self) -> None:
        self.close_streams()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=2.0)  # never hang a stop
            for task in pending:
                logger.warning("live snapshot: task %s did not stop in 2 s", task.get_name())
        self._tasks.clear()

    def mark(self) -> None:
        """Something changed here (an agent's state, a queue)."""
        if self._dirty_since is None:
            self._dirty_since = time.time()
        self._wake.set()

    def subscribe(self) -> asyncio.Queue[Frame | None]:
        q: asyncio.Queue[Frame | None] = asyncio.Queue(maxsize=1)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Frame | None]) -> None:
        self._subscribers.discard(q)
        self.behind.discard(q)

    def close_streams(self) -> None:
        """Tell every stream to end (the API is shutting down)."""
        for q in list(self._subscribers):
            self._put(q, None)

    def _put(self, q: asyncio.Queue[Frame | None], frame: Frame | None) -> None:
        if q.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                q.get_nowait()
            self.behind.add(q)  # it missed a delta: its next message is a snapshot
        q.put_nowait(frame)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    # ------------------------------------------------------------- the loop

    async def _loop(self) -> None:
        interval = self.settings.desk.snapshot_interval
        while True:
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can
                # swallow a cancel and hang stop().
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self._wake.wait()
                self._wake.clear()
                local = self._dirty_since
                due = time.monotonic() - self._figures_at >= self.settings.desk.figures_interval
                if local is None and self._remote is None and not due:
                    continue
                if self._remote is not None:
                    self._dirty_since = min(self._remote, local or self._remote)
                    self._remote = None
                await self._rebuild()
                if local is not None:
                    await self.redis.publish(self.keys.live, json.dumps(
                        {"node": self.node_id, "at": local}))
                await asyncio.sleep(interval)  # at most one rebuild per interval
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("live snapshot %s: rebuild failed", self.node_id)
                await asyncio.sleep(1.0)

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys.live)
                while True:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is None:
                        continue
                    note = json.loads(msg["data"])
                    if note.get("node") != self.node_id:
                        at = float(note.get("at") or time.time())
                        self._remote = at if self._remote is None else min(self._remote, at)
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("live snapshot %s: lost Redis (%s); listening again",
                               self.node_id, exc)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _rebuild(self, force: bool = False) -> None:
        changed_at = self._dirty_since or time.time()
        self._dirty_since = None
        now = time.monotonic()
        if force or now - self._figures_at >= self.settings.desk.figures_interval:
            self._figures_at = now
            try:
                self._figures = await self.figures()
            except Exception:
                logger.exception("live snapshot %s: today's figures not read", self.node_id)
        t0 = time.perf_counter()
        snap = live_view(await self.build())
        snap["today"] = self._figures
        if snap == self._last and not force:
            return
        before, self._last = self._last, snap
        self._seq += 1
        self.builds += 1
        event_id = f"{self._epoch}-{self._seq}"
        meta: dict[str, Any] = {"id": event_id, "node": self.node_id,
                                "changed_at": changed_at, "sent_at": time.time(),
                                "speed": self.speed, "now_ms": self.now_ms()}
        base = self.frame.event_id if self.frame is not None else None
        frame = Frame(event_id, sse(event_id, "snapshot", {**snap, **meta}),
                      sse(event_id, "delta", {**delta_of(before, snap), **meta, "base": base}))
        self.frame = frame
        for q in list(self._subscribers):
            self._put(q, frame)
        self.build_ms.append((time.perf_counter() - t0) * 1000)
        del self.build_ms[:-1000]
