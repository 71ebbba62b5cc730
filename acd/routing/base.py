"""What every part of the router shares: its state, the script runner and the
connected-call bookkeeping. The parts (acd.routing.service for the queues,
offers, node, delivery and standing) are mixins of one `Router`.

Every operation is one Lua script; the offers a script returns go on the offer
bus (acd.routing.bus) and are delivered by its task, never inside the operation.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from acd.agents.model import AgentView
from acd.clock import Clock
from acd.errors import NotFound
from acd.routing.agents import AgentService
from acd.routing.bus import OfferBus
from acd.routing.client import RedisClient
from acd.routing.keys import Keys, Layout
from acd.routing.model import (
    DequeueResult,
    EnqueueResult,
    FailReason,
    Offer,
    QueueDef,
    QueueRequest,
    RoutingSettings,
)
from acd.routing.scripts import ScriptName, Scripts

logger = logging.getLogger("acd.routing.service")

OnOffer = Callable[[Offer], Awaitable[None]]
OnExit = Callable[[str, str], Awaitable[None]]


def offer_of(d: dict[str, Any]) -> Offer:
    return Offer(call_id=d["call"], agent_id=d["agent"], endpoint=d["endpoint"],
                 queue=d["queue"], reservation_id=d["res"], enqueued_at_ms=int(d["enq"]),
                 ring_timeout=float(d["ring"]), attempt=int(d["att"]), owner=d["owner"],
                 callback=d.get("cb"))


def layout_for(keys: Keys, queues: dict[str, QueueDef], agents: AgentService,
               settings: RoutingSettings) -> Layout:
    """Every queue, and every skill an agent, a queue or a chain step names."""
    skills = set(agents.skills())
    for q in queues.values():
        skills.update(q.skills)
    for chain in settings.chains:
        for step in chain.steps:
            skills.update(step.skills or {})
            skills.update(step.add_skills)
    return Layout.build(keys, queues, skills)


class RouterBase:
    """Skill-based queues on Redis for one acd node (`node_id`): shared state."""

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
        # and queues its calls again (see NodeLife._heartbeat).
        self.on_lost = on_lost
        self.redis_ok = True  # the last tick reached Redis
        self.restores = 0
        self._ticks = 0
        self._sweep_cursor = 1  # the queue the next sweep starts at (sweep.lua)
        self._beating = False  # a heartbeat was written since start()
        self.layout = layout_for(self.keys, self.queues, agents, settings)
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
        # Loops also check this: a cancel swallowed inside a Redis call must not
        # keep a loop alive after stop().
        self._stopping = False
        self.offers_delivered = 0
        self.offers_forwarded = 0
        self.resumed_from_ms: int | None = None
        # Told of every script run (name, result): the live snapshot's trigger.
        self.on_run: Callable[[str, dict[str, Any]], None] | None = None
        self.bus = OfferBus(self._deliver, name=node_id)
        self._init_standing()

    if TYPE_CHECKING:  # defined by the other parts of Router
        def _init_standing(self) -> None: ...

        async def _deliver(self, offer: Offer) -> None: ...

        async def agent_available(self, agent_id: str) -> None: ...

        async def offer_failed(self, offer: Offer, reason: FailReason) -> AgentView: ...

        async def _enqueue(self, req: QueueRequest, *, adopt: bool) -> EnqueueResult: ...

        def _cancel_exit(self, call_id: str) -> None: ...

        async def dequeue(self, call_id: str) -> DequeueResult: ...

    def queue_def(self, name: str) -> QueueDef:
        q = self.queues.get(name)
        if q is None:
            raise NotFound(f"no queue {name!r}; known: {sorted(self.queues)}", queue=name)
        return q

    async def _run(self, name: ScriptName, *args: str | int) -> dict[str, Any]:
        """Run one operation's script; its offers go on the bus (delivered later,
        by the bus's task, never inside this operation)."""
        res = await self.scripts.run(name, self.clock.ms(), *args)
        self.agents.emit(res["changes"], int(res["now"]))
        if self.on_run is not None:
            self.on_run(name, res)
        for d in res["offers"]:
            await self.bus.put(offer_of(d))
        return res

    def _drop_connected(self, call_id: str) -> None:
        self._connected.pop(call_id, None)
        self._connected_queue.pop(call_id, None)

    def _forget_connected(self, offer: Offer) -> None:
        if self._connected.get(offer.call_id, ("", ""))[1] == offer.reservation_id:
            del self._connected[offer.call_id]
            self._connected_queue.pop(offer.call_id, None)
