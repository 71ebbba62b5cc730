"""A tiny raw ARI client for the real-Asterisk tier, independent of acd.ari.

It records what it sees in the format of ../shared/ari/traces/*.jsonl:
`{"t", "kind": "rest", "method", "path", "params", "status", "body"}`,
`{"t", "kind": "event", "body"}`, `ws_open`, `ws_closed` and `note` lines.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

Json = Any
EventPredicate = Callable[[dict[str, Any]], bool]


def basic_auth_header(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class AriProbe:
    def __init__(self, base_url: str, user: str, password: str, app: str = "acd") -> None:
        self.base_url = base_url.rstrip("/")
        self.app = app
        self._auth = basic_auth_header(user, password)
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._t0 = time.monotonic()
        self.trace: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self._new_event = asyncio.Event()

    async def __aenter__(self) -> AriProbe:
        self._session = aiohttp.ClientSession(headers=self._auth,
                                              timeout=aiohttp.ClientTimeout(total=10))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.disconnect()
        if self._session is not None:
            await self._session.close()

    def _t(self) -> float:
        return round(time.monotonic() - self._t0, 4)

    def note(self, text: str) -> None:
        self.trace.append({"t": self._t(), "kind": "note", "text": text})

    async def request(self, method: str, path: str, **params: str) -> tuple[int, Json]:
        """One REST exchange; path is relative to /ari. Returns (status, body or None)."""
        assert self._session is not None
        async with self._session.request(method, f"{self.base_url}/ari{path}",
                                         params=params or None) as resp:
            text = await resp.text()
            try:
                body = json.loads(text) if text else None
            except ValueError:
                body = text
            self.trace.append({"t": self._t(), "kind": "rest", "method": method, "path": path,
                               "params": params, "status": resp.status, "body": body})
            return resp.status, body

    async def get(self, path: str, **params: str) -> Json:
        status, body = await self.request("GET", path, **params)
        assert status == 200, f"GET {path}: {status} {body}"
        return body

    async def channels(self) -> list[dict[str, Any]]:
        return list(await self.get("/channels"))

    async def bridges(self) -> list[dict[str, Any]]:
        return list(await self.get("/bridges"))

    async def connect(self) -> None:
        """Open the events WebSocket for the app (the app exists while it is open)."""
        assert self._session is not None
        url = f"{self.base_url.replace('http', 'ws', 1)}/ari/events"
        self._ws = await self._session.ws_connect(
            url, params={"app": self.app, "subscribeAll": "false"}, heartbeat=None)
        self.trace.append({"t": self._t(), "kind": "ws_open",
                           "url": f"/ari/events?app={self.app}"})
        self._reader = asyncio.create_task(self._read(self._ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                body = json.loads(msg.data)
                self.events.append(body)
                self.trace.append({"t": self._t(), "kind": "event", "body": body})
                self._new_event.set()
        self.trace.append({"t": self._t(), "kind": "ws_closed"})

    async def disconnect(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        if self._reader is not None:
            await self._reader
            self._reader = None

    async def wait_event(self, predicate: EventPredicate, timeout: float = 10.0,
                         start: int = 0) -> dict[str, Any]:
        """The first event from index `start` on that satisfies predicate."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        i = start
        while True:
            while i < len(self.events):
                if predicate(self.events[i]):
                    return self.events[i]
                i += 1
            remaining = deadline - loop.time()
            if remaining <= 0:
                types = [e.get("type") for e in self.events[start:]]
                raise AssertionError(f"no matching ARI event within {timeout} s; saw {types}")
            self._new_event.clear()
            try:
                await asyncio.wait_for(self._new_event.wait(), timeout=min(remaining, 0.5))
            except TimeoutError:
                pass

    async def wait_no_channels(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Poll GET /channels until empty; return what is left when time runs out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = await self.channels()
            if not left or loop.time() > deadline:
                return left
            await asyncio.sleep(0.2)

    def save_trace(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(rec) + "\n" for rec in self.trace))


def of_type(kind: str, channel_id: str | None = None, **fields: Any) -> EventPredicate:
    """Predicate: event of type `kind` about channel_id (channel, or peer for Dial)."""
    def match(ev: dict[str, Any]) -> bool:
        if ev.get("type") != kind:
            return False
        if channel_id is not None:
            ch = ev.get("channel") or ev.get("peer") or {}
            if ch.get("id") != channel_id:
                return False
        return all(ev.get(k) == v for k, v in fields.items())
    return match
