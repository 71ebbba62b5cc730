"""The offer bus: offers leave the operation that produced them.

A routing script that reserves an agent returns offers; the router puts them on
this bus and the operation returns. One delivery task (owned by the router:
started and stopped with it) hands them on in the order they were produced. So
an HTTP request (`POST /api/agents/{id}/available`) or another router operation
never runs the call side's offer handling inside itself.

The queue is bounded. A producer outside the delivery task waits for room (back
pressure on whoever keeps producing); the delivery task itself (an offer whose
delivery failed is released, and the release may offer the call to another
agent) never waits on its own queue: past the bound its offer is dropped with a
warning, and the reaper gives the reservation back when it expires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from acd.routing.model import Offer

logger = logging.getLogger(__name__)

Deliver = Callable[[Offer], Awaitable[None]]
# Undelivered offers at most; each is a reserved agent.
BUS_BOUND = 10_000


class OfferBus:
    """A bounded FIFO of offers and the one task that delivers them."""

    def __init__(self, deliver: Deliver, *, name: str, bound: int = BUS_BOUND) -> None:
        self._deliver = deliver
        self._name = name
        self._queue: asyncio.Queue[Offer] = asyncio.Queue(maxsize=bound)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def delivering(self) -> bool:
        """Is the caller the delivery task itself?"""
        return self._task is not None and asyncio.current_task() is self._task

    def pending(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._loop(), name=f"offer-bus-{self._name}")

    async def put(self, offer: Offer) -> None:
        if self.delivering():
            try:
                self._queue.put_nowait(offer)
            except asyncio.QueueFull:
                self.dropped += 1
                logger.warning("offer bus %s full: offer of call %s to %s dropped; its "
                               "reservation expires", self._name, offer.call_id,
                               offer.agent_id)
            return
        await self._queue.put(offer)

    async def settled(self) -> None:
        """Return once every offer put so far has been delivered (or failed)."""
        await self._queue.join()

    async def stop(self, timeout: float = 2.0) -> list[Offer]:
        """Stop delivering; returns the offers still undelivered."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task], timeout=timeout)
        left: list[Offer] = []
        while not self._queue.empty():
            left.append(self._queue.get_nowait())
            self._queue.task_done()
        return left

    async def _loop(self) -> None:
        while True:
            offer = await self._queue.get()
            try:
                await self._deliver(offer)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The deliverer handles its own failures; this is a bug in it.
                logger.exception("offer bus %s: delivering call %s to %s failed",
                                 self._name, offer.call_id, offer.agent_id)
            finally:
                self._queue.task_done()
