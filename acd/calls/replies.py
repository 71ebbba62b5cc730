"""Moves asked of this node's calls that wait for their answer: request id -> the
future the asker awaits (acd.calls.control). The executor delivers each `Reply`
command here; an answer nobody waits for any more (the asker timed out) is dropped."""

from __future__ import annotations

import asyncio

from acd.calls import commands as c


class Replies:
    def __init__(self) -> None:
        self._pending: dict[str, asyncio.Future[c.Reply]] = {}

    def expect(self, request_id: str) -> asyncio.Future[c.Reply]:
        fut: asyncio.Future[c.Reply] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        return fut

    def deliver(self, reply: c.Reply) -> None:
        fut = self._pending.pop(reply.request_id, None)
        if fut is not None and not fut.done():
            fut.set_result(reply)

    def forget(self, request_id: str) -> None:
        fut = self._pending.pop(request_id, None)
        if fut is not None and not fut.done():
            fut.cancel()

    def __len__(self) -> int:
        return len(self._pending)
