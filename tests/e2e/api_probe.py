"""Helpers for the API's hostile-input tests: a /health prober and raw requests.

`HealthProbe` asks /health every few milliseconds while a test feeds acd something
hostile and keeps every round-trip time, so a test can assert the event loop never
stalled. `send` sends a request with a raw, already-encoded path (aiohttp's client
would otherwise normalise `..` and re-quote what the test means to send).
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str

    def json(self) -> Any:
        return json.loads(self.body)

    def error_shaped(self) -> bool:
        """The API's error shape: {"error_id", "message", "details"}."""
        if self.content_type != "application/json":
            return False
        try:
            body = self.json()
        except ValueError:
            return False
        return (isinstance(body, dict) and isinstance(body.get("error_id"), str)
                and isinstance(body.get("message"), str)
                and isinstance(body.get("details"), dict))


async def send(session: aiohttp.ClientSession, base: str, method: str, raw_path: str,
               body: bytes | None = None, headers: dict[str, str] | None = None,
               chunked: bool = False) -> Reply:
    url = URL(base + raw_path, encoded=True)
    data: Any = io.BytesIO(body) if body is not None else None
    if chunked and body is not None:
        async def gen() -> Any:
            for i in range(0, len(body), 64 * 1024):
                yield body[i:i + 64 * 1024]
        data = gen()
    async with session.request(method, url, data=data, headers=headers or {},
                               allow_redirects=False) as resp:
        return Reply(resp.status, await resp.read(), resp.content_type)


@dataclass
class HealthProbe:
    """Asks GET /health in a loop; `times` holds each round trip in seconds."""

    session: aiohttp.ClientSession
    base: str
    every: float = 0.005
    times: list[float] = field(default_factory=list)
    statuses: set[int] = field(default_factory=set)
    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            t0 = time.perf_counter()
            async with self.session.get(f"{self.base}/health") as resp:
                await resp.read()
                self.statuses.add(resp.status)
            self.times.append(time.perf_counter() - t0)
            await asyncio.sleep(self.every)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        if self._task.done():
            self._task.result()  # a failed probe fails the test
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    @property
    def worst(self) -> float:
        return max(self.times) if self.times else float("inf")
