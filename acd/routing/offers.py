"""An offer's life after the bus delivered it: ringing, answered, failed, the
connected call's end and wrap-up; the connected calls this node holds (renewed
every tick) and the ghosts it no longer holds. Part of Router (see
acd.routing.base).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from acd.agents.model import AgentView
from acd.errors import NotFound
from acd.routing.agents import view_of
from acd.routing.base import RouterBase, offer_of
from acd.routing.model import FailReason, Offer, fail_mode

logger = logging.getLogger("acd.routing.service")


class Offers(RouterBase):
    async def offer_ringing(self, offer: Offer) -> None:
        """The agent's phone rings: the reservation lasts the ring timeout (+ TTL)."""
        deadline = self.clock.ms() + int((offer.ring_timeout + self.settings.reservation_ttl)
                                         * 1000)
        await self._run("offer_ringing", offer.agent_id, offer.reservation_id, deadline)

    async def offer_answered(self, offer: Offer) -> bool:
        """The agent answered: on call; the other ring-all agents are released.
        False when the offer was no longer current (then do not bridge)."""
        # Renewed from now on, even should the reply be lost: renewing a pair that
        # is not on call comes back as gone and costs nothing.
        self._connected[offer.call_id] = (offer.agent_id, offer.reservation_id)
        self._connected_queue[offer.call_id] = offer.queue
        try:
            res = await self._run("offer_answered", offer.call_id, offer.reservation_id,
                                  offer.agent_id)
        except Exception:
            # Redis away: the call room keeps the two bridged; the answer is
            # recorded on the next tick that reaches Redis (see renew), so the
            # agent is not freed mid-call when the ring's deadline passes.
            self._unconfirmed[offer.call_id] = offer
            raise
        self._unconfirmed.pop(offer.call_id, None)
        if res["connected"]:
            # A renew that ran while this answer was on its way (Redis slow, retried)
            # saw the agent still ringing and dropped the pair: hold it again.
            self._connected[offer.call_id] = (offer.agent_id, offer.reservation_id)
            self._connected_queue[offer.call_id] = offer.queue
        else:
            self._forget_connected(offer)
            logger.warning("call %s: answer by agent %s came for a stale offer %s",
                           offer.call_id, offer.agent_id, offer.reservation_id)
        return bool(res["connected"])

    def hold_connected(self, offer: Offer) -> None:
        """A connected call this node took over (re-adopted after a restart): keep
        renewing its agent's on-call deadline from now on."""
        self._connected[offer.call_id] = (offer.agent_id, offer.reservation_id)
        self._connected_queue[offer.call_id] = offer.queue

    def keep_connected(self, held: set[str]) -> int:
        """Stop renewing the on-call deadline of calls this node no longer holds
        (reconciliation); returns how many were dropped."""
        stale = [call_id for call_id in self._connected if call_id not in held]
        for call_id in stale:
            logger.warning("call %s: no longer held here; its agent's on-call deadline is "
                           "not renewed any more", call_id)
            del self._connected[call_id]
            self._connected_queue.pop(call_id, None)
        return len(stale)

    async def release_ghosts(self, held_now: Callable[[], set[str]]) -> int:
        """Calls routing holds for this node that the node does not hold (their
        caller left while acd was not listening, or a dequeue was lost): waiting or
        offered ones leave their queue, connected ones end (the agent wraps up).
        Callback tasks have nobody on the line and stay. Returns how many.
        `held_now` (the ids the node holds) is asked after routing was read: a call
        is held before it is queued, so one queued meanwhile is seen held."""
        raw: dict[Any, Any] = await self.redis.hgetall(self.keys.calls)
        held = held_now()
        n = 0
        for call_id, text in raw.items():
            call_id = str(call_id)
            if call_id in held:
                continue
            rec = json.loads(text)
            if rec.get("owner") != self.node_id or rec.get("cb"):
                continue
            st = rec.get("st")
            if st in ("waiting", "offered"):
                await self.dequeue(call_id)
            elif st == "connected":
                q = self.queues.get(str(rec.get("q")))
                wrap = int((q.wrapup if q else 0.0) * 1000)
                reservations = rec.get("res")
                for res, agent_id in (reservations if isinstance(reservations, dict)
                                      else {}).items():
                    await self._run("call_ended", call_id, str(res), str(agent_id), wrap)
            else:
                continue
            logger.warning("call %s: routing held it (%s) for this node, which does not: "
                           "released", call_id, st)
            n += 1
        return n

    async def offer_failed(self, offer: Offer, reason: FailReason) -> AgentView:
        """The agent did not take the call: it goes back to the head of its queue
        (original enqueue time), not to this agent before the retry delay; after a
        failure of acd's own ("error") to nobody for a moment instead."""
        self._forget_connected(offer)
        res = await self._run("offer_failed", offer.call_id, offer.reservation_id,
                              offer.agent_id, fail_mode(reason))
        if res.get("agent") is None:
            raise NotFound(f"no agent {offer.agent_id!r}", agent_id=offer.agent_id)
        return view_of(res["agent"])

    async def call_ended(self, offer: Offer) -> None:
        """The connected call is over: the agent wraps up, then is available."""
        q = self.queues.get(offer.queue)
        wrap = int((q.wrapup if q else 0.0) * 1000)
        self._forget_connected(offer)
        await self._run("call_ended", offer.call_id, offer.reservation_id, offer.agent_id, wrap)

    async def reserve_agent(self, task_id: str, agent_id: str, queue: str, enqueued_at_ms: int,
                            caller: str = "") -> tuple[Offer | None, str]:
        """Reserve agent `agent_id` for a transfer task `task_id` (issue 17) if they are
        available now: their offer (rung by the caller of this method, never put on
        the bus), or None and why (no_agent, phone, or the agent's state). The task
        then lives as an offer does (offer_ringing / offer_answered / offer_failed /
        call_ended); a failed offer forgets it instead of queueing it."""
        q = self.queues.get(queue) or next(iter(self.queues.values()))
        if not agent_id:  # the first available agent able to take the queue's calls
            if q.name != queue:
                return None, "no_queue"
            free = sorted((a for a in await self.agents.list() if a.state == "available"
                           and all(a.skills.get(s, 0) >= lvl for s, lvl in q.skills.items())),
                          key=lambda a: (a.since_ms, a.id))
            for a in free:
                offer, _ = await self.reserve_agent(task_id, a.id, queue, enqueued_at_ms, caller)
                if offer is not None:
                    return offer, ""
            return None, "nobody_available"
        res = await self._run("reserve_agent", task_id, agent_id, q.name, self.node_id,
                              enqueued_at_ms, str(q.ring_timeout), int(q.wrapup * 1000), caller)
        if not res["reserved"]:
            return None, str(res.get("reason") or "unavailable")
        return offer_of(res["offer"]), ""

    async def extend_wrapup(self, agent_id: str, call_id: str, add_s: float,
                            cap_ms: int) -> int:
        """Move the wrap-up of `agent_id` after `call_id` `add_s` later, never past
        `cap_ms`; returns the new deadline (ms), or 0 when it did not move."""
        res = await self._run("wrapup_extend", agent_id, call_id, int(add_s * 1000), cap_ms)
        return int(res["dl"]) if res["extended"] else 0

    async def agent_available(self, agent_id: str) -> None:
        """An agent became available: give them the best waiting call."""
        await self._run("match_agent", agent_id)
