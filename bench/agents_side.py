"""The agents' side of a routing benchmark: every offer rings, is answered, talks
for a while and ends; the delay from placing a call to its offer is kept."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from acd.routing.model import Offer
from acd.routing.service import Router


@dataclass
class AgentsSide:
    talk: float
    router: Router | None = None
    sent: dict[str, float] = field(default_factory=dict)  # call id -> perf_counter at enqueue
    delays: list[float] = field(default_factory=list)  # seconds from enqueue to offer
    background: set[asyncio.Task[None]] = field(default_factory=set)

    async def _life(self, offer: Offer) -> None:
        router = self.router
        assert router is not None, "AgentsSide.router is set once the router is built"
        await router.offer_ringing(offer)
        if await router.offer_answered(offer):
            await asyncio.sleep(self.talk)
            await router.call_ended(offer)

    async def on_offer(self, offer: Offer) -> None:
        t0 = self.sent.pop(offer.call_id, None)
        if t0 is not None:
            self.delays.append(time.perf_counter() - t0)
        task = asyncio.create_task(self._life(offer))
        self.background.add(task)
        task.add_done_callback(self.background.discard)
