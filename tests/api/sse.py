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


def merge(state: dict[str, Any] | None, ev: Event) -> dict[str, Any] | None:
    """The screen's picture after `ev`: a snapshot replaces it, a delta patches it
    (as acd/api/web/common.js does)."""
    if ev.event == "snapshot":
        return dict(ev.data)
    if ev.event != "delta" or state is None:
        return state
    d = ev.data
    agents = {a["id"]: a for a in state["agents"]}
    for a in d["agents_changed"]:
        agents[a["id"]] = a
    for gone in d["agents_removed"]:
        agents.pop(gone, None)
    out = {**state, **{k: v for k, v in d.items()
                       if k not in ("agents_changed", "agents_removed", "base")}}
    out["agents"] = sorted(agents.values(), key=lambda a: a["id"])
    return out


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
    """One SSE connection: `await s.next(pred)` returns the next event whose merged
    picture (`Event.data`) matches; `kinds` lists the raw events seen."""

    def __init__(self, session: aiohttp.ClientSession, url: str,
                 headers: dict[str, str] | None = None) -> None:
        self.session, self.url, self.headers = session, url, headers or {}
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.resp: aiohttp.ClientResponse | None = None
        self.task: asyncio.Task[None] | None = None
        self.state: dict[str, Any] | None = None
        self.kinds: list[str] = []

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
            self.kinds.append(ev.event)
            if ev.event not in ("snapshot", "delta"):
                continue
            self.state = merge(self.state, ev)
            if self.state is not None and (pred is None or pred(self.state)):
                return Event(ev.id, ev.event, self.state)

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.resp is not None:
            self.resp.close()
