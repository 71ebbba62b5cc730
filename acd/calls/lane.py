"""A per-call mailbox: everything that happens to one call is handled in order.

ARI events for the caller's and the agent's channels, timers, offers from the
router and results of HTTP lookups all land here. One call's items run one at a
time; different calls run concurrently. A worker task exists only while the
mailbox has work, so 10,000 calls waiting in a queue cost no tasks.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class Lane:
    __slots__ = ("_handler", "_items", "_name", "_task")

    def __init__(self, name: str, handler: Callable[[object], Awaitable[None]]) -> None:
        self._name = name
        self._handler = handler
        self._items: deque[object] = deque()
        self._task: asyncio.Task[None] | None = None

    def post(self, item: object) -> None:
        self._items.append(item)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())

    @property
    def busy(self) -> bool:
        return self._task is not None

    async def idle(self) -> None:
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        try:
            while self._items:
                item = self._items.popleft()
                try:
                    await self._handler(item)
                except Exception:
                    # A bug in one handler must not stop the call's later events:
                    # the caller would be left in silence.
                    logger.exception("call %s: handler failed on %s", self._name,
                                     type(item).__name__)
        finally:
            self._task = None
