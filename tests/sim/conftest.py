"""A simulator on a fast clock, and a plain-aiohttp ARI client with its event socket."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from acd.clock import Clock
from acd.sim.server import Simulator

SPEED = 20.0
AUTH = {"Authorization": "Basic " + base64.b64encode(b"acd:s3cret").decode()}


@dataclass
class Ari:
    sim: Simulator
    clock: Clock
    session: aiohttp.ClientSession
    base: str
    events: list[dict[str, Any]] = field(default_factory=list)
    ws: aiohttp.ClientWebSocketResponse | None = None
    _reader: asyncio.Task[None] | None = None

    async def call(self, method: str, path: str, **params: Any) -> tuple[int, Any]:
        body = params.pop("json", None)
        async with self.session.request(method, self.base + path, params=params,
                                        json=body) as resp:
            text = await resp.text()
            return resp.status, json.loads(text) if text else None

    async def connect(self, app: str = "acd") -> None:
        self.ws = await self.session.ws_connect(f"{self.base}/ari/events?app={app}")
        self._reader = asyncio.create_task(self._read(self.ws))
        await self.until(lambda: self.sim.hub.connected(app), "the app to connect")

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.events.append(json.loads(msg.data))

    async def until(self, predicate: Any, what: str, timeout: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not predicate():
            if loop.time() > end:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.002)

    def of(self, channel_id: str) -> list[str]:
        """Event types about one channel, Asterisk's variable noise left out."""
        out = []
        for e in self.events:
            chan = e.get("channel") or e.get("peer") or {}
            pb = e.get("playback") or {}
            if chan.get("id") == channel_id or pb.get("target_uri") == f"channel:{channel_id}":
                if e["type"] == "ChannelVarset" and e["variable"] != "STASISSTATUS" \
                        and not e["variable"].startswith("ACD"):
                    continue
                extra = e.get("dialstatus", e.get("cause", pb.get("state", e.get("value"))))
                if e["type"] == "ChannelStateChange":
                    extra = chan["state"]
                out.append(e["type"] if extra is None else f"{e['type']}:{extra}")
        return out


@pytest.fixture
async def ari() -> AsyncIterator[Ari]:
    clock = Clock(SPEED)
    sim = Simulator(clock, user="acd", password="s3cret")
    port = await sim.start("127.0.0.1", 0)
    async with aiohttp.ClientSession(headers=AUTH) as session:
        a = Ari(sim, clock, session, f"http://127.0.0.1:{port}")
        try:
            yield a
        finally:
            if a._reader is not None:
                a._reader.cancel()
            if a.ws is not None:
                await a.ws.close()
            await sim.stop()
