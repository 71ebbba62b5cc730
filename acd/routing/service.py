"""The router: queues and matching on Redis, shared by every acd node.

Every operation is one Lua script (acd/routing/lua), so two nodes on one Redis
can never give one agent two calls or one call two agents. Matching happens in
the script that changes things (a call arrives, an agent frees up, an offer
fails); a tick runs the reaper (expired reservations and wrap-ups, chain steps,
retry delays) and a sweep as a safety net. An offer goes to the node owning the
call: straight to `on_offer` when that is us, else through the owner's inbox list.

An answered agent is on_call until a deadline (settings.on_call_ttl) that the
owner node pushes on every tick for all the connected calls it holds, in one
script (renew.lua); if the owner dies, the reaper (any node) frees the agent.

A waiting caller may become a callback task (`to_callback`): it keeps its place,
and its offer carries the number to call; `callback_failed` puts it back after a
delay, or drops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from acd import metrics
from acd.agents.model import AgentView
from acd.clock import Clock
from acd.errors import InvalidRequest, NotFound
from acd.outage import REDIS, report
from acd.routing import policy
from acd.routing.agents import AgentService, view_of
from acd.routing.client import RedisClient
from acd.routing.keys import Keys, Layout
from acd.routing.model import (
    COUNTED_FAILURES,
    DequeueResult,
    EnqueueResult,
    FailReason,
    Offer,
    QueueDef,
    QueueRequest,
    RoutingSettings,
)
from acd.routing.scripts import ScriptName, Scripts
from acd.routing.snapshot import build_snapshot

logger = logging.getLogger(__name__)

OnOffer = Callable[[Offer], Awaitable[None]]
OnExit = Callable[[str, str], Awaitable[None]]
INBOX_TTL_MS = 120_000
# A node that has not renewed its heartbeat for this long is taken for dead: its
# callback tasks are taken over, offers for its other calls are not sent to it.
NODE_TTL_MS = 30_000
WORKING_CACHE_S = 1.0
ALIVE_TTL_S = 6 * 3600  # as long as a call's re-adoption record


def offer_of(d: dict[str, Any]) -> Offer:
    return Offer(call_id=d["call"], agent_id=d["agent"], endpoint=d["endpoint"],
                 queue=d["queue"], reservation_id=d["res"], enqueued_at_ms=int(d["enq"]),
                 ring_timeout=float(d["ring"]), attempt=int(d["att"]), owner=d["owner"],
                 callback=d.get("cb"))


class Router:
    """Skill-based queues on Redis for one acd node (`node_id`)."""

    def __init__(self, redis: RedisClient, *, prefix: str, node_id: str, clock: Clock,
                 queues: list[QueueDef], agents: AgentService, settings: RoutingSettings,
                 on_offer: OnOffer, on_exit: OnExit | None = None,
                 on_revived: Callable[[], Awaitable[None]] | None = None,
                 on_lost: Callable[[], Awaitable[None]] | None = None) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.node_id = node_id
        self.clock = clock
        self.queues = {q.name: q for q in queues}
        self.agents = agents
        self.settings = settings
        self.on_offer = on_offer
        self.on_exit = on_exit
        self.on_revived = on_revived
        # Redis lost its data (restarted empty, flushed): the owner restores agents
        # and queues its calls again (see _heartbeat).
        self.on_lost = on_lost
        self.redis_ok = True  # the last tick reached Redis
        self.restores = 0
        self._ticks = 0
        self._beating = False  # a heartbeat was written since start()
        skills = set(agents.skills())
        for q in queues:
            skills.update(q.skills)
        for chain in settings.chains:
            for step in chain.steps:
                skills.update(step.skills or {})
                skills.update(step.add_skills)
        self.layout = Layout.build(self.keys, self.queues, skills)
        self.scripts = Scripts(redis, self.layout, settings)
        agents.on_available = self.agent_available
        self._tasks: list[asyncio.Task[None]] = []
        self._exit_timers: dict[str, asyncio.TimerHandle] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        # Connected calls this node owns: call id -> (agent id, reservation id),
        # whose agents' on_call deadline every tick renews.
        self._connected: dict[str, tuple[str, str]] = {}
        self._connected_queue: dict[str, str] = {}  # call id -> queue (statistics)
        self._unconfirmed: dict[str, Offer] = {}  # answers Redis did not take yet
        self._working_cache: dict[str, tuple[float, int]] = {}  # queue -> (loop time, n)
        # Loops also check this: a cancel swallowed inside a Redis call must not
        # keep a loop alive after stop().
        self._stopping = False
        self.offers_delivered = 0
        self.offers_forwarded = 0
        self.resumed_from_ms: int | None = None
        # Told of every script run (name, result): the live snapshot's trigger.
        self.on_run: Callable[[str, dict[str, Any]], None] | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the tick (reaper + sweep), the inbox reader and the kick listener."""
        self._stopping = False
        self._beating = False
        await self.redis.hsetnx(self.keys.nodes, self.node_id, self.clock.ms())
        # When this node (a previous life of it) last ticked: calls that ended
        # while it was down were last seen then (see acd.calls.recovery).
        seen = await self.redis.get(self.keys.alive(self.node_id))
        self.resumed_from_ms = int(seen) if seen else None
        await self._heartbeat()
        self._tasks = [
            asyncio.create_task(self._tick_loop(), name=f"router-tick-{self.node_id}"),
            asyncio.create_task(self._inbox_loop(), name=f"router-inbox-{self.node_id}"),
            asyncio.create_task(self._kick_loop(), name=f"router-kick-{self.node_id}"),
        ]
        await self.kick()

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            # Bounded: stopping must never hang a shutdown.
            _, pending = await asyncio.wait(self._tasks, timeout=2.0)
            for task in pending:
                logger.warning("router %s: task %s did not stop in 2 s", self.node_id,
                               task.get_name())
        self._tasks.clear()
        for handle in self._exit_timers.values():
            handle.cancel()
        self._exit_timers.clear()

    async def kick(self) -> None:
        """Ask every node (us included) to sweep the queues now."""
        await self.redis.publish(self.keys.kick, "match")

    # ----------------------------------------------------------- the queue

    def queue_def(self, name: str) -> QueueDef:
        q = self.queues.get(name)
        if q is None:
            raise NotFound(f"no queue {name!r}; known: {sorted(self.queues)}", queue=name)
        return q

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

    async def position(self, call_id: str) -> int | None:
        """1-based place of a waiting call in its queue; None when it is not waiting."""
        return (await self.standing(call_id, with_wait=False))[0]

    async def standing(self, call_id: str, *, with_wait: bool = True
                       ) -> tuple[int | None, float | None]:
        """A waiting caller's place (1-based) and, with `with_wait`, the seconds they
        are likely to wait still, from recent handle times and the agents working the
        queue; None for what is unknown (not waiting, nothing to go on)."""
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

    async def staffed(self, queue: str) -> int:
        """Agents logged in (in any state) who could take the queue's calls."""
        q = self.queue_def(queue)
        return sum(1 for a in await self.agents.list()
                   if a.state != "logged_out"
                   and all(a.skills.get(s, 0) >= lvl for s, lvl in q.skills.items()))

    async def leave_empty(self) -> int:
        """Send on this node's callers waiting in leave_empty queues that nobody
        staffs any more (exit reason "no_agents"); returns how many left."""
        if self.on_exit is None:
            return 0
        empty = [q.name for q in self.queues.values()
                 if q.leave_empty and await self.staffed(q.name) == 0]
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

    async def expected_wait(self, call_id: str) -> float | None:
        """Seconds the call is likely to wait still (see `standing`); 0 when it is
        no longer waiting, None when unknown."""
        return (await self.standing(call_id))[1]

    async def _working(self, q: QueueDef) -> int:
        """Agents working the queue now (logged in, not on break). Every waiting
        caller's announcement asks this; reading all agents once a second per queue
        is enough for an estimate."""
        now = asyncio.get_running_loop().time()
        cached = self._working_cache.get(q.name)
        if cached is not None and now - cached[0] < WORKING_CACHE_S:
            return cached[1]
        n = sum(1 for a in await self.agents.list()
                if a.state not in ("logged_out", "break")
                and all(a.skills.get(s, 0) >= lvl for s, lvl in q.skills.items()))
        self._working_cache[q.name] = (now, n)
        return n

    async def snapshot(self) -> dict[str, Any]:
        """Queues with their waiting and offered calls, and the agents (for the API)."""
        calls: dict[Any, Any] = await self.redis.hgetall(self.keys.calls)
        stats: dict[Any, Any] = await self.redis.hgetall(self.keys.stats)
        agents = await self.agents.list()
        return build_snapshot(self.queues, calls, stats, agents, self.clock.ms())

    # --------------------------------------------------------------- offers

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
        (original enqueue time), not to this agent before the retry delay."""
        self._forget_connected(offer)
        res = await self._run("offer_failed", offer.call_id, offer.reservation_id,
                              offer.agent_id, "1" if reason in COUNTED_FAILURES else "0")
        if res.get("agent") is None:
            raise NotFound(f"no agent {offer.agent_id!r}", agent_id=offer.agent_id)
        return view_of(res["agent"])

    async def call_ended(self, offer: Offer) -> None:
        """The connected call is over: the agent wraps up, then is available."""
        q = self.queues.get(offer.queue)
        wrap = int((q.wrapup if q else 0.0) * 1000)
        self._forget_connected(offer)
        await self._run("call_ended", offer.call_id, offer.reservation_id, offer.agent_id, wrap)

    async def extend_wrapup(self, agent_id: str, call_id: str, add_s: float,
                            cap_ms: int) -> int:
        """Move the wrap-up of `agent_id` after `call_id` `add_s` later, never past
        `cap_ms`; returns the new deadline (ms), or 0 when it did not move."""
        res = await self._run("wrapup_extend", agent_id, call_id, int(add_s * 1000), cap_ms)
        return int(res["dl"]) if res["extended"] else 0

    async def agent_available(self, agent_id: str) -> None:
        """An agent became available: give them the best waiting call."""
        await self._run("match_agent", agent_id)

    # ----------------------------------------------------------------- time

    async def reap(self) -> int:
        """Run the reaper until nothing due is left; returns how many items it saw."""
        seen = 0
        for _ in range(100):
            res = await self._run("reap", 200)
            seen += int(res["agents"]) + int(res["calls"])
            for call_id in res.get("orphaned") or []:
                logger.warning("call %s: its owner stopped renewing it; agent freed",
                               call_id)
                self._drop_connected(call_id)
            if not res["more"]:
                break
        return seen

    async def renew(self) -> int:
        """Push the on_call deadline of the agents on this node's connected calls
        (one script call); returns how many are still on their call."""
        for call_id, offer in list(self._unconfirmed.items()):
            if self._connected.get(call_id, ("", ""))[1] != offer.reservation_id:
                del self._unconfirmed[call_id]  # over meanwhile
                continue
            res = await self._run("offer_answered", offer.call_id, offer.reservation_id,
                                  offer.agent_id)
            del self._unconfirmed[call_id]
            if res["connected"]:
                self._connected[call_id] = (offer.agent_id, offer.reservation_id)
            logger.warning("call %s: agent %s's answer recorded late (%s)", call_id,
                           offer.agent_id, "on call" if res["connected"] else "offer gone")
        if not self._connected:
            return 0
        held = [[c, a, r] for c, (a, r) in self._connected.items()]
        res = await self._run("renew", json.dumps(held, separators=(",", ":")))
        for call_id in res.get("gone") or []:
            self._drop_connected(call_id)
        return int(res["renewed"])

    async def sweep(self) -> int:
        res = await self._run("sweep")
        return int(res["matched"])

    async def _tick_loop(self) -> None:
        while not self._stopping:
            try:
                # Poll the wake-up flag rather than wait_for(Event.wait()): on
                # Python 3.11 that pattern can swallow a cancel and hang stop().
                deadline = asyncio.get_running_loop().time() + self.clock.real(
                    self.settings.tick)
                while not self._wake.is_set():
                    left = deadline - asyncio.get_running_loop().time()
                    if left <= 0:
                        break
                    await asyncio.sleep(min(0.02, left))
                self._wake.clear()
                await self._heartbeat()
                await self.renew()  # first: our own agents must not look orphaned
                await self.leave_empty()
                await self.reap()
                await self.sweep()
                self._ticks += 1
                if self._ticks % 5 == 0:
                    await self.agents.list()  # keeps the agents' last known states fresh
                self.redis_ok = True
                REDIS.ok()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.redis_ok = False
                report(logger, exc, "router %s: tick", self.node_id)
                await asyncio.sleep(0.5)

    async def _inbox_loop(self) -> None:
        key = self.keys.inbox(self.node_id)
        while not self._stopping:
            try:
                item = await self.redis.blpop([key], timeout=1)
                if item is not None:
                    await self._deliver_local(Offer.model_validate_json(item[1]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                report(logger, exc, "router %s: inbox read", self.node_id)
                await asyncio.sleep(0.5)

    async def drain_inbox(self) -> int:
        """Deliver the offers waiting in this node's inbox now (without blocking)."""
        key = self.keys.inbox(self.node_id)
        n = 0
        while (raw := await self.redis.lpop(key)) is not None:
            await self._deliver_local(Offer.model_validate_json(str(raw)))
            n += 1
        return n

    async def _kick_loop(self) -> None:
        """Listen for kicks; after a Redis outage, subscribe again (the tick sweeps
        meanwhile, so a missed kick only delays a match by one tick)."""
        while not self._stopping:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys.kick)
                self._wake.set()  # kicks may have been missed while away
                while not self._stopping:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is not None:
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                report(logger, exc, "router %s: kick listener", self.node_id)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    # ------------------------------------------------------------- plumbing

    async def _run(self, name: ScriptName, *args: str | int) -> dict[str, Any]:
        res = await self.scripts.run(name, self.clock.ms(), *args)
        self.agents.emit(res["changes"], int(res["now"]))
        if self.on_run is not None:
            self.on_run(name, res)
        for d in res["offers"]:
            offer = offer_of(d)
            try:
                await self._deliver(offer)
            except Exception as exc:
                # The operation itself is done; an offer that did not get through
                # comes back when its reservation expires (the reaper).
                report(logger, exc, "call %s: offer to %s not delivered; its reservation "
                       "will expire", offer.call_id, offer.agent_id)
        return res

    async def _heartbeat(self) -> None:
        """Say this node is alive, and check that Redis still has its data (this
        node's sentinel key, set at start, never expires). Should the sentinel be
        gone (Redis restarted empty), `on_lost` restores what acd knows. Should only
        the previous beat have lapsed (Redis away, a stalled loop), other nodes may
        have taken this node for dead and released its waiting calls: `on_revived`
        lets the call room queue them again."""
        sentinel = self.keys.sentinel(self.node_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.keys.node(self.node_id), "1", px=NODE_TTL_MS, get=True)
            pipe.exists(sentinel)
            pipe.set(self.keys.alive(self.node_id), str(self.clock.ms()), ex=ALIVE_TTL_S)
            was, kept, _ = await pipe.execute()
        if not kept:
            await self.redis.set(sentinel, str(self.clock.ms()))
            await self.redis.hsetnx(self.keys.nodes, self.node_id, self.clock.ms())
            if self._beating:
                self.restores += 1
                metrics.REDIS_RESTORES.inc()
                logger.warning("router %s: Redis lost its data (restarted empty?); restoring "
                               "agents and queueing this node's calls again", self.node_id)
                if self.on_lost is not None:
                    await self.on_lost()
                return
        if was is None and self._beating and self.on_revived is not None:
            logger.warning("router %s: its heartbeat had lapsed; queueing its calls again",
                           self.node_id)
            await self.on_revived()
        self._beating = True

    async def last_seen_ms(self, node_id: str) -> int | None:
        """When `node_id` last ticked, None when unknown. For this node: its
        previous life's last tick, read at start."""
        if node_id == self.node_id:
            return self.resumed_from_ms
        seen = await self.redis.get(self.keys.alive(node_id))
        return int(seen) if seen else None

    async def node_alive(self, node_id: str) -> bool:
        """Another node whose heartbeat has not lapsed (this node: True)."""
        if not node_id or node_id == self.node_id:
            return node_id == self.node_id
        return bool(await self.redis.exists(self.keys.node(node_id)))

    def connected_agents(self) -> dict[str, tuple[str, str, str]]:
        """Agent -> (call, reservation, queue) of the connected calls this node holds."""
        out: dict[str, tuple[str, str, str]] = {}
        for call_id, (agent_id, res) in self._connected.items():
            out[agent_id] = (call_id, res, self._connected_queue.get(call_id, ""))
        return out

    async def restore_agents(self) -> int:
        """Write the agents back after Redis lost its data (AgentService.restore)."""
        return await self.agents.restore(self.connected_agents(),
                                         int(self.settings.on_call_ttl * 1000))

    async def _owner_dead(self, owner: str) -> bool:
        """A node that routed once (it registered at start) and whose heartbeat has
        lapsed. A node that never started (tests, tools) is not judged."""
        if not owner or owner == self.node_id:
            return False
        if await self.redis.exists(self.keys.node(owner)):
            return False  # alive: the usual case costs one round trip
        return bool(await self.redis.hexists(self.keys.nodes, owner))

    async def _deliver(self, offer: Offer) -> None:
        if offer.owner == self.node_id:
            await self._deliver_local(offer)
            return
        if await self._owner_dead(offer.owner):
            await self._take_over(offer)
            return
        key = self.keys.inbox(offer.owner)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(key, offer.model_dump_json())
            pipe.pexpire(key, INBOX_TTL_MS)
            await pipe.execute()
        self.offers_forwarded += 1

    async def _take_over(self, offer: Offer) -> None:
        """The call's owner is gone. A callback task has nobody on the line: this
        node takes it (and calls the caller back). Any other call is handed to this
        node's call room, which finds no such call and releases it; should its
        caller still be in Asterisk, the node that re-adopts the channel queues it
        again with its original enqueue time."""
        logger.warning("call %s: its node %s is gone; %s here", offer.call_id, offer.owner,
                       "callback taken over" if offer.callback else "offer released")
        if offer.callback:
            req = QueueRequest(call_id=offer.call_id, queue=offer.queue,
                               enqueued_at_ms=offer.enqueued_at_ms)
            await self._enqueue(req, adopt=True)
        await self._deliver_local(offer.model_copy(update={"owner": self.node_id}))

    async def _deliver_local(self, offer: Offer) -> None:
        self.offers_delivered += 1
        try:
            await self.on_offer(offer)
        except Exception as exc:
            report(logger, exc, "call %s: on_offer failed; releasing agent %s",
                   offer.call_id, offer.agent_id)
            await self.offer_failed(offer, "error")

    def _drop_connected(self, call_id: str) -> None:
        self._connected.pop(call_id, None)
        self._connected_queue.pop(call_id, None)

    def _forget_connected(self, offer: Offer) -> None:
        if self._connected.get(offer.call_id, ("", ""))[1] == offer.reservation_id:
            del self._connected[offer.call_id]
            self._connected_queue.pop(offer.call_id, None)

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
