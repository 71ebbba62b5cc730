"""GET /api/live: the live snapshot as Server-Sent Events.

Each event is a whole snapshot (`event: snapshot`, `id: <epoch>-<seq>`), so a
browser that reconnects (EventSource does, after `retry` ms) needs no replay: it
sends `Last-Event-ID`, gets nothing until the next change when it already has the
newest, else the newest at once.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp_sse import sse_response

from acd.api.access import ADMIN, AGENT, SUPERVISOR, allow
from acd.api.auth import PEOPLE_KEY, principal_of

RETRY_MS = 1000


@allow(AGENT, SUPERVISOR, ADMIN)
async def live(request: web.Request) -> web.StreamResponse:
    """The live snapshot of queues and agents, pushed as Server-Sent Events."""
    hub = request.app[PEOPLE_KEY].live
    if hub is None:
        raise web.HTTPServiceUnavailable(text='{"error_id": "not_ready", "message": '
                                         '"the live snapshot is not running", "details": {}}',
                                         content_type="application/json")
    full = principal_of(request).role != AGENT
    mailbox = hub.subscribe()
    try:
        async with sse_response(request, ping_interval=15,
                                headers={"Cache-Control": "no-store",
                                         "X-Accel-Buffering": "no"}) as resp:
            last = request.headers.get("Last-Event-ID")
            frame = hub.frame
            if frame is not None and frame.event_id != last:
                await resp.send(frame.full if full else frame.agent, id=frame.event_id,
                                event="snapshot", retry=RETRY_MS)
            while resp.is_connected():
                try:  # wake now and then to notice a browser that went away
                    async with asyncio.timeout(5.0):
                        frame = await mailbox.get()
                except TimeoutError:
                    continue
                if frame is None:  # acd is stopping
                    break
                # Encoded once for every stream: each one only writes the bytes.
                await resp.write(frame.full_sse if full else frame.agent_sse)
            return resp
    finally:
        hub.unsubscribe(mailbox)


async def _close_streams(app: web.Application) -> None:
    hub = app[PEOPLE_KEY].live
    if hub is not None:
        hub.close_streams()


def add_live_routes(app: web.Application) -> None:
    app.router.add_get("/api/live", live)
    app.on_shutdown.append(_close_streams)
