"""Stasis applications and their event WebSockets.

An application exists once a client has connected for it and stays while it has
channels (`GET /applications` lists it during a reconnect gap, as in the
ws_reconnect trace). Events are written as JSON text once and queued to each
connection's writer task, so emitting never awaits. Events for an application
with no client connected are dropped, never replayed. A client that falls too
far behind is disconnected, as Asterisk does (`websocket_write_timeout`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

from acd.sim.model import JsonDict, dumps

logger = logging.getLogger(__name__)

ASTERISK_ID = "02:fc:00:00:00:01"
MAX_BACKLOG = 20000


class Connection:
    """One events WebSocket and the writer task draining its queue."""

    def __init__(self, ws: web.WebSocketResponse, apps: list[str]) -> None:
        self.ws = ws
        self.apps = apps
        self.queue: deque[str] = deque()
        self.wake = asyncio.Event()
        self.closed = False
        self.sent = 0

    def push(self, text: str) -> None:
        if self.closed:
            return
        if len(self.queue) >= MAX_BACKLOG:
            logger.warning("events client for %s too slow; dropping it", ",".join(self.apps))
            self.closed = True
            self.wake.set()
            return
        self.queue.append(text)
        self.wake.set()

    async def pump(self) -> None:
        """Write queued events until the socket or the simulator closes."""
        try:
            await self._pump()
        finally:
            if not self.ws.closed:
                with contextlib.suppress(Exception):
                    await self.ws.close()

    async def _pump(self) -> None:
        while not self.closed:
            if not self.queue:
                self.wake.clear()
                await self.wake.wait()
                continue
            text = self.queue.popleft()
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self.closed = True
                return
            self.sent += 1

    async def close(self) -> None:
        self.closed = True
        self.wake.set()
        with contextlib.suppress(Exception):
            await self.ws.close()


@dataclass
class App:
    name: str
    connections: list[Connection] = field(default_factory=list)
    allowed: list[JsonDict] = field(default_factory=list)
    disallowed: list[JsonDict] = field(default_factory=list)
    blocked: frozenset[str] = frozenset()
    only: frozenset[str] | None = None

    def set_filter(self, allowed: list[JsonDict], disallowed: list[JsonDict]) -> None:
        self.allowed, self.disallowed = allowed, disallowed
        self.only = frozenset(str(f.get("type")) for f in allowed) if allowed else None
        self.blocked = frozenset(str(f.get("type")) for f in disallowed)

    def wants(self, event_type: str) -> bool:
        if not self.connections or event_type in self.blocked:
            return False
        return self.only is None or event_type in self.only


class Hub:
    """Routes events to the connected clients of each application."""

    def __init__(self) -> None:
        self.apps: dict[str, App] = {}
        self.events_sent = 0
        self.events_dropped = 0

    def app(self, name: str) -> App:
        app = self.apps.get(name)
        if app is None:
            app = self.apps[name] = App(name)
        return app

    def connected(self, name: str) -> bool:
        app = self.apps.get(name)
        return app is not None and bool(app.connections)

    def wants(self, app_name: str | None, event_type: str) -> App | None:
        """The app to send an event of this type to, or None when nobody listens."""
        if app_name is None:
            return None
        app = self.apps.get(app_name)
        if app is None or not app.wants(event_type):
            self.events_dropped += 1
            return None
        return app

    def send(self, app: App, event_type: str, timestamp: str, body: str) -> None:
        """Send one event whose other fields are the JSON members text `body`."""
        head = f'{{"type":"{event_type}","timestamp":"{timestamp}",'
        tail = f'"asterisk_id":"{ASTERISK_ID}","application":{dumps(app.name)}}}'
        text = head + body + ("," if body else "") + tail
        for conn in app.connections:
            conn.push(text)
        self.events_sent += 1

    def attach(self, conn: Connection) -> None:
        for name in conn.apps:
            self.app(name).connections.append(conn)

    def detach(self, conn: Connection) -> None:
        for name in conn.apps:
            app = self.apps.get(name)
            if app is not None and conn in app.connections:
                app.connections.remove(conn)

    async def close_all(self) -> None:
        conns = {id(c): c for app in self.apps.values() for c in app.connections}
        for conn in conns.values():
            await conn.close()
