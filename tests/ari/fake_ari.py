"""A tiny ARI endpoint on a real socket, for the client's own unit tests.

It records every request as received on the wire, answers from a queue of
canned replies (or a few defaults), checks credentials like Asterisk, and
serves an events WebSocket the test can push events into or cut. The full
simulator lives in acd/sim; this is deliberately much smaller.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Recorded:
    method: str
    raw_path: str  # as on the wire (still percent-encoded), relative to /ari
    query: dict[str, list[str]]
    body: Any
    authorization: str | None


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless `text` is set
    text: str | None = None
    delay: float = 0.0
    drop: bool = False  # close the connection without answering (an overloaded Asterisk)


@dataclass
class FakeAri:
    user: str | None = None
    password: str | None = None
    api_key: str | None = None
    app: str = "acd"
    requests: list[Recorded] = field(default_factory=list)
    replies: deque[Reply] = field(default_factory=deque)
    app_channels: list[str] = field(default_factory=list)
    ws_queries: list[dict[str, str]] = field(default_factory=list)
    ws_refused: int = 0  # refuse the next N WebSocket upgrades with 503
    sockets: list[tuple[web.WebSocketResponse, web.Request]] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    # ---------------------------------------------------------------- server

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/ari/events", self._events)
        app.router.add_route("*", "/ari/{tail:.*}", self._rest)
        # No access log: it would print the api_key query of our requests (server side).
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        for ws, _ in list(self.sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _authorised(self, request: web.Request) -> bool:
        if self.user is None and self.api_key is None:
            return True
        if self.api_key is not None and request.query.get("api_key") == self.api_key:
            return True
        header = request.headers.get("Authorization")
        if self.user is not None and header:
            scheme, _, token = header.partition(" ")
            try:
                pair = base64.b64decode(token, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return False
            return scheme == "Basic" and pair == f"{self.user}:{self.password or ''}"
        return False

    @staticmethod
    def _unauthorised() -> web.Response:
        # Asterisk answers 401 with a text body that is itself JSON.
        return web.Response(status=401, text='{"message":"Authentication required"}',
                            content_type="text/plain")

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        raw = await request.text()
        body = json.loads(raw) if raw else None
        self.requests.append(Recorded(
            method=request.method,
            raw_path=request.rel_url.raw_path[len("/ari"):],
            query={k: request.query.getall(k) for k in request.query},
            body=body,
            authorization=request.headers.get("Authorization"),
        ))
        if not self._authorised(request):
            return self._unauthorised()
        reply = self.replies.popleft() if self.replies else self._default(request, body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)  # never reaches the client
        if reply.text is not None:
            return web.Response(status=reply.status, text=reply.text, content_type="text/plain")
        if reply.body is None:
            return web.Response(status=reply.status if reply.status != 200 else 204)
        return web.json_response(reply.body, status=reply.status)

    def _default(self, request: web.Request, body: Any) -> Reply:
        path = request.rel_url.raw_path
        if request.method == "GET" and path == f"/ari/applications/{self.app}":
            return Reply(body=self.application())
        if request.method == "PUT" and path == f"/ari/applications/{self.app}/eventFilter":
            return Reply(body=self.application())
        return Reply(status=404, body={"message": "Resource not found"})

    def application(self) -> dict[str, Any]:
        return {"name": self.app, "channel_ids": list(self.app_channels), "bridge_ids": [],
                "endpoint_ids": [], "device_names": [], "events_allowed": [],
                "events_disallowed": []}

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return self._unauthorised()
        if self.ws_refused > 0:
            self.ws_refused -= 1
            return web.Response(status=503, text="not now")
        self.ws_queries.append(dict(request.query))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        entry = (ws, request)
        self.sockets.append(entry)
        try:
            async for _ in ws:
                pass
        finally:
            if entry in self.sockets:
                self.sockets.remove(entry)
        return ws

    # ----------------------------------------------------------- test control

    def reply(self, status: int = 200, body: Any = None, *, text: str | None = None,
              delay: float = 0.0) -> None:
        self.replies.append(Reply(status, body, text, delay))

    async def send(self, event: dict[str, Any]) -> None:
        for ws, _ in list(self.sockets):
            await ws.send_str(json.dumps(event))

    def cut(self) -> None:
        """Drop every events socket without a close handshake (a network failure)."""
        for _, request in list(self.sockets):
            if request.transport is not None:
                request.transport.abort()
        self.sockets.clear()

    async def wait_sockets(self, n: int = 1, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.sockets) < n:
                await asyncio.sleep(0.01)


# ------------------------------------------------------------ event builders

def channel(cid: str, state: str = "Up") -> dict[str, Any]:
    return {
        "id": cid, "name": f"PJSIP/caller-{cid}", "state": state, "protocol_id": "",
        "caller": {"name": "Caller", "number": "+15551"},
        "connected": {"name": "", "number": ""}, "accountcode": "",
        "dialplan": {"context": "from-pstn", "exten": "100", "priority": 2,
                     "app_name": "Stasis", "app_data": "acd"},
        "creationtime": "2026-11-23T07:48:47.500+0000", "language": "en",
    }


def event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "timestamp": "2026-11-23T07:48:47.500+0000", "application": "acd",
            "asterisk_id": "02:fc:00:00:00:01", **fields}


def dtmf(cid: str, digit: str) -> dict[str, Any]:
    return event("ChannelDtmfReceived", digit=digit, duration_ms=120, channel=channel(cid))
