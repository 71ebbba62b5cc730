"""ARI routes besides `/channels`: bridges, playbacks, recordings, applications,
endpoints, asterisk, and the events WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import WSMsgType, web

from acd.sim.core import World
from acd.sim.errors import AriReply
from acd.sim.hub import ASTERISK_ID, Connection
from acd.sim.model import Channel, JsonDict
from acd.sim.web import WORLD, created, json_ok, no_content, params

routes = web.RouteTableDef()


def _world(request: web.Request) -> World:
    return request.app[WORLD]


# -- bridges -------------------------------------------------------------------------
@routes.get("/ari/bridges")
async def list_bridges(request: web.Request) -> web.Response:
    return json_ok([b.as_json() for b in _world(request).bridges.values()])


@routes.post("/ari/bridges")
@routes.post("/ari/bridges/{bridge_id}")
async def create_bridge(request: web.Request) -> web.Response:
    p = await params(request)
    bid = request.match_info.get("bridge_id") or str(p.get("bridgeId") or "") or None
    bridge = _world(request).bridging.create(str(p.get("type") or "mixing"), bid,
                                             str(p.get("name") or ""))
    return json_ok(bridge.as_json())


@routes.get("/ari/bridges/{bridge_id}")
async def get_bridge(request: web.Request) -> web.Response:
    return json_ok(_world(request).bridging.get(request.match_info["bridge_id"]).as_json())


@routes.delete("/ari/bridges/{bridge_id}")
async def destroy_bridge(request: web.Request) -> web.Response:
    bridging = _world(request).bridging
    bridging.destroy(bridging.get(request.match_info["bridge_id"]))
    return no_content()


def _ids(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(i).strip() for i in items if str(i).strip()]


@routes.post("/ari/bridges/{bridge_id}/addChannel")
async def add_channel(request: web.Request) -> web.Response:
    p = await params(request)
    bridging = _world(request).bridging
    bridge = bridging.get(request.match_info["bridge_id"])
    ids = _ids(p.get("channel"))
    if not ids:
        raise AriReply(400, "Missing parameter channel")
    await bridging.add(bridge, bridging.members(bridge, ids))
    return no_content()


@routes.post("/ari/bridges/{bridge_id}/removeChannel")
async def remove_channel(request: web.Request) -> web.Response:
    p = await params(request)
    world = _world(request)
    bridge = world.bridging.get(request.match_info["bridge_id"])
    ids = _ids(p.get("channel"))
    if not ids:
        raise AriReply(400, "Missing parameter channel")
    chans: list[Channel] = []
    for cid in ids:
        ch = world.channels.get(cid)
        if ch is None:
            raise AriReply(400, "Channel not found")
        chans.append(ch)
    for ch in chans:
        await world.bridging.remove(bridge, ch)
    return no_content()


@routes.post("/ari/bridges/{bridge_id}/moh")
async def bridge_moh(request: web.Request) -> web.Response:
    p = await params(request)
    bridging = _world(request).bridging
    bridging.start_moh(bridging.get(request.match_info["bridge_id"]),
                       str(p.get("mohClass") or "default"))
    return no_content()


@routes.delete("/ari/bridges/{bridge_id}/moh")
async def bridge_stop_moh(request: web.Request) -> web.Response:
    bridging = _world(request).bridging
    bridging.stop_moh(bridging.get(request.match_info["bridge_id"]))
    return no_content()


@routes.post("/ari/bridges/{bridge_id}/play")
@routes.post("/ari/bridges/{bridge_id}/play/{playback_id}")
async def bridge_play(request: web.Request) -> web.Response:
    p = await params(request)
    world = _world(request)
    bridge = world.bridging.get(request.match_info["bridge_id"])
    pid = request.match_info.get("playback_id") or str(p.get("playbackId") or "") or None
    return created(world.media.play(bridge, p.media(), str(p.get("lang") or "") or None, pid))


@routes.post("/ari/bridges/{bridge_id}/record")
async def bridge_record(request: web.Request) -> web.Response:
    p = await params(request)
    world = _world(request)
    bridge = world.bridging.get(request.match_info["bridge_id"])
    try:
        max_duration = int(str(p.get("maxDurationSeconds") or 0))
    except ValueError:
        raise AriReply(400, "Invalid value for maxDurationSeconds") from None
    rec = world.media.record(bridge, str(p.get("name") or ""), str(p.get("format") or ""),
                             max_duration, str(p.get("ifExists") or "fail"))
    return created(rec.as_json())


# -- playbacks and recordings -----------------------------------------------------------
@routes.get("/ari/playbacks/{playback_id}")
async def get_playback(request: web.Request) -> web.Response:
    return json_ok(_world(request).media.get(request.match_info["playback_id"]).as_json())


@routes.delete("/ari/playbacks/{playback_id}")
async def stop_playback(request: web.Request) -> web.Response:
    _world(request).media.stop(request.match_info["playback_id"])
    return no_content()


@routes.post("/ari/playbacks/{playback_id}/control")
async def control_playback(request: web.Request) -> web.Response:
    p = await params(request)
    _world(request).media.get(request.match_info["playback_id"])
    if p.get("operation") not in ("restart", "pause", "unpause", "reverse", "forward"):
        raise AriReply(400, "Invalid operation")
    return no_content()


@routes.get("/ari/recordings/stored")
async def list_stored(request: web.Request) -> web.Response:
    media = _world(request).media
    return json_ok([media.stored_json(name) for name in media.stored])


@routes.get("/ari/recordings/stored/{name}")
async def get_stored(request: web.Request) -> web.Response:
    return json_ok(_world(request).media.stored_json(request.match_info["name"]))


@routes.delete("/ari/recordings/stored/{name}")
async def delete_stored(request: web.Request) -> web.Response:
    media = _world(request).media
    media.stored_json(request.match_info["name"])
    del media.stored[request.match_info["name"]]
    return no_content()


@routes.get("/ari/recordings/live/{name}")
async def get_live(request: web.Request) -> web.Response:
    return json_ok(_world(request).media.live_recording(request.match_info["name"]).as_json())


@routes.post("/ari/recordings/live/{name}/pause")
@routes.delete("/ari/recordings/live/{name}/pause")
async def pause_live_recording(request: web.Request) -> web.Response:
    media = _world(request).media
    rec = media.live_recording(request.match_info["name"])
    if request.method == "POST":
        media.pause_recording(rec)
    else:
        media.unpause_recording(rec)
    return no_content()


@routes.post("/ari/recordings/live/{name}/mute")
@routes.delete("/ari/recordings/live/{name}/mute")
async def mute_live_recording(request: web.Request) -> web.Response:
    media = _world(request).media
    media.mute_recording(media.live_recording(request.match_info["name"]),
                         request.method == "POST")
    return no_content()


@routes.post("/ari/recordings/live/{name}/stop")
@routes.delete("/ari/recordings/live/{name}")
async def stop_live(request: web.Request) -> web.Response:
    media = _world(request).media
    rec = media.live_recording(request.match_info["name"])
    media.finish_recording(rec, keep=request.method == "POST")
    return no_content()


# -- applications, endpoints, asterisk ---------------------------------------------------
def app_json(world: World, name: str) -> JsonDict:
    app = world.hub.apps[name]
    return {"name": name,
            "channel_ids": [c.id for c in world.channels.values() if c.app == name],
            "bridge_ids": [b.id for b in world.bridges.values() if b.app == name],
            "endpoint_ids": world.lines.endpoint_ids(name),
            "device_names": world.lines.device_names(name),
            "events_allowed": app.allowed, "events_disallowed": app.disallowed}


@routes.get("/ari/applications")
async def list_apps(request: web.Request) -> web.Response:
    world = _world(request)
    return json_ok([app_json(world, name) for name in world.hub.apps])


def _known_app(request: web.Request) -> str:
    name = request.match_info["app"]
    if name not in _world(request).hub.apps:
        raise AriReply(404, "Application not found")
    return name


@routes.get("/ari/applications/{app}")
async def get_app(request: web.Request) -> web.Response:
    return json_ok(app_json(_world(request), _known_app(request)))


@routes.put("/ari/applications/{app}/eventFilter")
async def event_filter(request: web.Request) -> web.Response:
    name = _known_app(request)
    p = await params(request)
    allowed, disallowed = p.get("allowed") or [], p.get("disallowed") or []
    if not isinstance(allowed, list) or not isinstance(disallowed, list) or not all(
            isinstance(f, dict) and "type" in f for f in [*allowed, *disallowed]):
        raise AriReply(400, "Invalid format definition")
    world = _world(request)
    world.hub.apps[name].set_filter(allowed, disallowed)
    return json_ok(app_json(world, name))


@routes.post("/ari/applications/{app}/subscription")
async def subscribe(request: web.Request) -> web.Response:
    name = _known_app(request)
    world = _world(request)
    world.lines.subscribe(name, await _sources(request))
    return json_ok(app_json(world, name))


@routes.delete("/ari/applications/{app}/subscription")
async def unsubscribe(request: web.Request) -> web.Response:
    name = _known_app(request)
    world = _world(request)
    world.lines.unsubscribe(name, await _sources(request))
    return json_ok(app_json(world, name))


async def _sources(request: web.Request) -> list[str]:
    raw = (await params(request)).get("eventSource")
    sources = [s for s in str(raw or "").split(",") if s]
    if not sources:
        raise AriReply(400, "Missing parameter eventSource")
    return sources


def endpoint_json(world: World, tech: str, resource: str) -> JsonDict:
    phone = world.phone(tech, resource)
    out = world.lines.endpoint_json(tech, resource)
    if phone is None or phone.behaviour == "unreachable":
        out["state"] = "offline"
    return out


def _endpoints(world: World, tech: str | None) -> list[JsonDict]:
    keys = {("PJSIP", "caller-trunk"), *world.endpoints, *world.lines.lines}
    return [endpoint_json(world, t, r) for t, r in sorted(keys) if tech in (None, t)]


@routes.get("/ari/endpoints")
async def list_endpoints(request: web.Request) -> web.Response:
    return json_ok(_endpoints(_world(request), None))


@routes.get("/ari/endpoints/{tech}")
async def list_tech(request: web.Request) -> web.Response:
    found = _endpoints(_world(request), request.match_info["tech"])
    if not found:
        raise AriReply(404, "Endpoints not found")
    return json_ok(found)


@routes.get("/ari/endpoints/{tech}/{resource}")
async def get_endpoint(request: web.Request) -> web.Response:
    world, tech, resource = _world(request), request.match_info["tech"], \
        request.match_info["resource"]
    if world.phone(tech, resource) is None:
        raise AriReply(404, "Endpoint not found")
    return json_ok(endpoint_json(world, tech, resource))


@routes.get("/ari/asterisk/info")
async def info(request: web.Request) -> web.Response:
    now = _world(request).timestamp()
    return json_ok({
        "build": {"os": "Linux", "kernel": "sim", "machine": "x86_64", "options": "",
                  "date": now, "user": "acd"},
        "system": {"version": "22.10.1", "entity_id": ASTERISK_ID},
        "config": {"name": "acd-sim", "default_language": "en",
                   "setid": {"user": "asterisk", "group": "asterisk"}},
        "status": {"startup_time": now, "last_reload_time": now}})


@routes.get("/ari/asterisk/ping")
async def ping(request: web.Request) -> web.Response:
    return json_ok({"asterisk_id": ASTERISK_ID, "ping": "pong",
                    "timestamp": _world(request).timestamp()})


# -- events ------------------------------------------------------------------------------
CONNECTIONS = web.AppKey("sim_connections", set[Connection])


@routes.get("/ari/events")
async def events(request: web.Request) -> web.StreamResponse:
    apps = [a for a in request.query.get("app", "").split(",") if a]
    if not apps:
        raise AriReply(400, "app parameter is required")
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    world = _world(request)
    conn = Connection(ws, apps)
    world.hub.attach(conn)
    request.app[CONNECTIONS].add(conn)
    pump = asyncio.create_task(conn.pump())
    try:
        async for msg in ws:
            if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
            if conn.closed:
                break
    finally:
        world.hub.detach(conn)
        request.app[CONNECTIONS].discard(conn)
        conn.closed = True
        conn.wake.set()
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
        if not ws.closed:
            await ws.close()
    return ws
