"""GET /api/live: the live snapshot as Server-Sent Events.

A stream starts with the whole snapshot (`event: snapshot`, `id: <epoch>-<seq>`),
then gets `event: delta` messages (the queues, the agents that changed, today's
figures when they changed; `base` names the frame it applies to). A browser that
reconnects (EventSource does, after `retry` ms) sends `Last-Event-ID`: when it is
the newest frame it goes on with deltas, else it gets the whole snapshot at once.
No snapshot carries callers' numbers: agents and supervisors get the same frames.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp_sse import sse_response

from acd.api.access import ADMIN, AGENT, SUPERVISOR, allow
from acd.api.auth import PEOPLE_KEY

RETRY_MS = 1000


@allow(AGENT, SUPERVISOR, ADMIN)
async def live(request: web.Request) -> web.StreamResponse:
    """The live snapshot of queues and agents, pushed as Server-Sent Events."""
    hub = request.app[PEOPLE_KEY].live
    if hub is None:
        raise web.HTTPServiceUnavailable(text='{"error_id": "not_ready", "message": '
                                         '"the live snapshot is not running", "details": {}}',
                                         content_type="application/json")
    mailbox = hub.subscribe()
    try:
        async with sse_response(request, ping_interval=15,
                                headers={"Cache-Control": "no-store",
                                         "X-Accel-Buffering": "no"}) as resp:
            await resp.send("{}", event="hello", retry=RETRY_MS)
            last = request.headers.get("Last-Event-ID")
            frame = hub.frame
            # The browser holds the newest snapshot already: deltas will do.
            synced = frame is not None and frame.event_id == last
            if frame is not None and not synced:
                await resp.write(frame.snapshot)
                synced = True
            while resp.is_connected():
                try:  # wake now and then to notice a browser that went away
                    async with asyncio.timeout(5.0):
                        frame = await mailbox.get()
                except TimeoutError:
                    continue
                if frame is None:  # acd is stopping
                    break
                # Encoded once for every stream: each one only writes the bytes. A
                # stream that missed a frame (or has none yet) gets the whole one.
                if not synced or mailbox in hub.behind:
                    hub.behind.discard(mailbox)
                    await resp.write(frame.snapshot)
                    synced = True
                else:
                    await resp.write(frame.delta)
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
