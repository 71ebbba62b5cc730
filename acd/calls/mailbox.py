"""One mailbox per call: what happens to the call is handled in order, one item at
a time, and every timer and task of the call belongs to it.

ARI events, router offers, timers and the results of the call's own requests all
land here. A worker task exists only while the mailbox has work, so 10,000 callers
waiting in queues cost no tasks. `close()` cancels the call's timers and tasks
(a finished call leaves nothing running behind it); `stop_all` stops a whole
service's mailboxes within one bound, not one bound per call.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from acd.clock import Clock

logger = logging.getLogger(__name__)

Handler = Callable[[object], Awaitable[None]]
# Called when the handler raised on an item (a bug): the owner's safety net.
OnError = Callable[[object, BaseException], Awaitable[None]]


class Mailbox:
    __slots__ = ("_clock", "_handler", "_items", "_name", "_on_error", "_tasks", "_timers",
                 "_worker", "closed")

    def __init__(self, name: str, handler: Handler, on_error: OnError, clock: Clock) -> None:
        self._name = name
        self._handler = handler
        self._on_error = on_error
        self._clock = clock
        self._items: deque[object] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    # ------------------------------------------------------------------ items

    def post(self, item: object) -> None:
        if self.closed:
            return  # the call is over: late events and results have nothing to do
        self._items.append(item)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._drain())

    @property
    def busy(self) -> bool:
        return self._worker is not None

    async def idle(self) -> None:
        while self._worker is not None:
            await asyncio.shield(self._worker)

    async def _drain(self) -> None:
        try:
            while self._items and not self.closed:
                item = self._items.popleft()
                try:
                    await self._handler(item)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    logger.exception("call %s: failed on %s", self._name, type(item).__name__)
                    await self._on_error(item, exc)
        finally:
            self._worker = None

    # ---------------------------------------------------------------- timers

    def start_timer(self, key: str, seconds: float, item: object) -> None:
        """Post `item` after `seconds` (clock time); replaces a timer of that key."""
        if self.closed:
            return
        self.cancel_timer(key)

        def fire() -> None:
            if self._timers.pop(key, None) is not None:
                self.post(item)
        self._timers[key] = self._clock.call_later(seconds, fire)

    def cancel_timer(self, key: str) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    @property
    def timers(self) -> frozenset[str]:
        return frozenset(self._timers)

    # ----------------------------------------------------------------- tasks

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` for the call (an HTTP look-up...): it belongs to the call and
        is cancelled with it. It reports by posting into the mailbox."""
        if self.closed:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def tasks(self) -> int:
        return len(self._tasks)

    def close(self) -> None:
        """The call is over: its timers and tasks go with it (the worker finishes the
        item it is on; later items are dropped)."""
        self.closed = True
        self._items.clear()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()


async def stop_all(mailboxes: Iterable[Mailbox], timeout: float) -> int:
    """Let every busy mailbox finish what it is on, within `timeout` seconds as a
    whole; then cancel what is left. Timers and tasks are cancelled at once.
    Returns how many workers had to be cancelled."""
    boxes = list(mailboxes)
    workers: dict[asyncio.Task[None], str] = {}
    for box in boxes:
        box.closed = True  # nothing new is taken
        for handle in box._timers.values():
            handle.cancel()
        box._timers.clear()
        for task in list(box._tasks):
            task.cancel()
        if box._worker is not None:
            workers[box._worker] = box._name
    if not workers:
        return 0
    _, pending = await asyncio.wait(workers, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=1.0)
        logger.warning("%d call mailboxes did not finish within %.1f s at shutdown: %s",
                       len(pending), timeout, ", ".join(sorted(workers[t] for t in pending)))
    return len(pending)
