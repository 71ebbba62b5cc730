"""A small Server-Sent Events reader for tests and the bench."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass
class Event:
    id: str | None
    event: str
    data: Any


async def read_events(resp: aiohttp.ClientResponse, out: asyncio.Queue[Event]) -> None:
    """Parse `resp` (text/event-stream) into `out` until it ends."""
    ev_id: str | None = None
    kind = "message"
    data: list[str] = []
    async for raw in resp.content:
        line = raw.decode().rstrip("\r\n")
        if line == "":
            if data:
                await out.put(Event(ev_id, kind, json.loads("\n".join(data))))
            ev_id, kind, data = None, "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "id":
                ev_id = value
            elif name == "event":
                kind = value
            elif name == "data":
                data.append(value)


class Stream:
    """One SSE connection: `await s.next(pred)` returns the next matching event."""

    def __init__(self, session: aiohttp.ClientSession, url: str,
                 headers: dict[str, str] | None = None) -> None:
        self.session, self.url, self.headers = session, url, headers or {}
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.resp: aiohttp.ClientResponse | None = None
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> Stream:
        self.resp = await self.session.get(self.url, headers=self.headers,
                                           timeout=aiohttp.ClientTimeout(total=None))
        assert self.resp.status == 200, await self.resp.text()
        self.task = asyncio.create_task(read_events(self.resp, self.events))
        return self

    async def next(self, pred: Any = None, timeout: float = 5.0) -> Event:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            left = end - loop.time()
            if left <= 0:
                raise TimeoutError("no matching event")
            ev = await asyncio.wait_for(self.events.get(), timeout=left)
            if pred is None or pred(ev.data):
                return ev

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.resp is not None:
            self.resp.close()
