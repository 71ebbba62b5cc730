"""The router: queues and matching on Redis, shared by every acd node.

Every operation is one Lua script (acd/routing/lua), so two nodes on one Redis
can never give one agent two calls or one call two agents. Matching happens in
the script that changes things (a call arrives, an agent frees up, an offer
fails); a tick runs the reaper (expired reservations and wrap-ups, chain steps,
retry delays) and a sweep as a safety net. The offers a script returns go on the
offer bus (acd.routing.bus), whose one task delivers them after the operation:
to `on_offer` when the call is ours, else through the owner's inbox list.

`Router` is made of parts, one concept each: the queues (here), where a caller
stands (standing.py), offers and connected calls (offers.py), the node's life
and tick (node.py), delivery (delivery.py), on a shared base (base.py).

A waiting caller may become a callback task (`to_callback`): it keeps its place,
and its offer carries the number to call; `callback_failed` puts it back after a
delay, or drops it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from acd.errors import InvalidRequest
from acd.outage import report
from acd.routing import policy
from acd.routing.base import OnExit, OnOffer, RouterBase, offer_of
from acd.routing.delivery import INBOX_TTL_MS, Delivery
from acd.routing.model import (
    DequeueResult,
    EnqueueResult,
    Offer,
    QueueRequest,
)
from acd.routing.node import ALIVE_TTL_S, NODE_TTL_MS, NodeLife
from acd.routing.offers import Offers
from acd.routing.snapshot import build_snapshot
from acd.routing.standing import Standing
from acd.routing.standing import staffed as count_staffed

__all__ = ["ALIVE_TTL_S", "INBOX_TTL_MS", "NODE_TTL_MS", "OnExit", "OnOffer", "Router",
           "RouterBase", "offer_of"]

logger = logging.getLogger(__name__)


class Router(Standing, Offers, NodeLife, Delivery):
    """Skill-based queues on Redis for one acd node (`node_id`)."""

    async def enqueue(self, req: QueueRequest) -> EnqueueResult:
        """Put a call owned by this node in its queue; an agent may be offered at once.

        Replaying it for a call already in routing changes nothing."""
        return await self._enqueue(req, adopt=False)

    async def adopt(self, req: QueueRequest) -> EnqueueResult:
        """Take over a call after a restart: this node owns it from now on. A call
        routing still holds keeps its place; one it lost is queued again with its
        original enqueue time."""
        return await self._enqueue(req, adopt=True)

    async def _enqueue(self, req: QueueRequest, *, adopt: bool) -> EnqueueResult:
        q = self.queue_def(req.queue)
        if req.preferred_agent == "":
            raise InvalidRequest("preferred_agent must be an agent id or None")
        if not adopt and not q.join_empty and await self.staffed(q.name) == 0:
            return EnqueueResult(accepted=False, reason="no_agents")
        record = policy.call_record(req, q, self.settings, self.node_id, self.queues)
        limit = "" if adopt or q.max_waiting is None else str(q.max_waiting)
        res = await self._run("enqueue", json.dumps(record, separators=(",", ":")), limit,
                              "1" if adopt else "0")
        if not res["accepted"]:
            return EnqueueResult(accepted=False, reason=res.get("reason"))
        wait = req.max_wait if req.max_wait is not None else q.max_wait
        if wait is not None and self.on_exit is not None:
            self._exit_timer(req.call_id, req.enqueued_at_ms, wait)
        return EnqueueResult(accepted=True, position=res.get("position"))

    async def dequeue(self, call_id: str) -> DequeueResult:
        """The caller left: drop the waiting call, or cancel its offers and free the
        agents. Says what the call was doing."""
        self._cancel_exit(call_id)
        res = await self._run("dequeue", call_id, "0")
        if res["was"] != "connected":  # a connected call is still renewed until call_ended
            self._drop_connected(call_id)
        return DequeueResult(was=res["was"], agents_released=res.get("released") or [])

    async def to_callback(self, call_id: str, number: str) -> bool:
        """The waiting caller asked to be called back at `number`: the call becomes a
        callback task, keeping its place, enqueue time, priority and owner; its
        offer will carry `number` (Offer.callback). False when the call is not
        waiting (offered, connected or unknown). The queue's max wait no longer
        applies. Idempotent."""
        if not number:
            raise InvalidRequest("a callback needs a number to call", call_id=call_id)
        res = await self._run("to_callback", call_id, number)
        if res["callback"]:
            self._cancel_exit(call_id)
        return bool(res["callback"])

    async def callback_failed(self, offer: Offer, retry_in: float | None) -> bool:
        """The customer did not answer the callback `offer` (or it could not be
        placed). Its agents are freed without counting it against them. With
        `retry_in` seconds the task goes back to its place, offered to nobody
        before then; with None it leaves routing for good. True while the task is
        still in routing."""
        if retry_in is not None and retry_in < 0:
            raise InvalidRequest("retry_in must be None or >= 0 seconds", retry_in=retry_in)
        self._forget_connected(offer)
        retry = "" if retry_in is None else str(int(retry_in * 1000))
        res = await self._run("callback_failed", offer.call_id, offer.reservation_id,
                              offer.agent_id, retry)
        return bool(res["queued"])

    async def staffed(self, queue: str) -> int:
        """Agents logged in (in any state) who could take the queue's calls, now."""
        q = self.queue_def(queue)
        return count_staffed(await self._census.get(0.0), q)

    async def leave_empty(self) -> int:
        """Send on this node's callers waiting in leave_empty queues that nobody
        staffs any more (exit reason "no_agents"); returns how many left. One read
        of the agents for all the queues, only when a queue is leave_empty."""
        if self.on_exit is None:
            return 0
        queues = [q for q in self.queues.values() if q.leave_empty]
        if not queues:
            return 0
        census = await self._census.get(0.0)
        empty = [q.name for q in queues if count_staffed(census, q) == 0]
        left = 0
        for name in empty:
            ids: list[Any] = await self.redis.zrange(self.keys.queue(name), 0, -1)
            for call_id in map(str, ids):
                raw = await self.redis.hget(self.keys.calls, call_id)
                if raw is None or json.loads(raw).get("owner") != self.node_id:
                    continue
                res = await self._run("dequeue", call_id, "1")  # keeps callback tasks
                if res["was"] == "waiting":
                    self._cancel_exit(call_id)
                    left += 1
                    await self.on_exit(call_id, "no_agents")
        return left

    async def waiting(self, queue: str) -> int:
        self.queue_def(queue)
        return int(await self.redis.zcard(self.keys.queue(queue)))

    async def snapshot(self) -> dict[str, Any]:
        """Queues with their waiting and offered calls, and the agents (for the API)."""
        calls: dict[Any, Any] = await self.redis.hgetall(self.keys.calls)
        stats: dict[Any, Any] = await self.redis.hgetall(self.keys.stats)
        agents = await self.agents.list()
        return build_snapshot(self.queues, calls, stats, agents, self.clock.ms())

    # ------------------------------------------------------------ max wait

    def _exit_timer(self, call_id: str, enqueued_ms: int, max_wait: float) -> None:
        self._cancel_exit(call_id)
        left = max_wait - (self.clock.ms() - enqueued_ms) / 1000

        self._exit_timers[call_id] = self.clock.call_later(left, lambda: self._spawn_max_wait(
            call_id))

    def _spawn_max_wait(self, call_id: str) -> None:
        self._exit_timers.pop(call_id, None)
        task = asyncio.create_task(self._max_wait(call_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _cancel_exit(self, call_id: str) -> None:
        handle = self._exit_timers.pop(call_id, None)
        if handle is not None:
            handle.cancel()

    async def _max_wait(self, call_id: str) -> None:
        """The call waited its maximum: it leaves, unless an agent's phone rings for
        it right now (or Redis is away): then look again in a second, so that a
        caller whose offer fails still leaves at the limit."""
        again = False
        try:
            res = await self._run("dequeue", call_id, "1")
            again = res["was"] == "offered"
            if res["was"] == "waiting" and self.on_exit is not None:  # not "callback"
                await self.on_exit(call_id, "max_wait")
        except Exception as exc:
            report(logger, exc, "call %s: max-wait exit failed; trying again", call_id)
            again = True
        if again and not self._stopping:
            self._exit_timers[call_id] = self.clock.call_later(
                1.0, lambda: self._spawn_max_wait(call_id))
