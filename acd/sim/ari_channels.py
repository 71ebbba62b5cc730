"""ARI `/channels` routes of the simulator (status codes and bodies as in the traces)."""

from __future__ import annotations

from aiohttp import web

from acd.sim.control import ChannelGone
from acd.sim.core import World
from acd.sim.errors import AriReply, channel_not_found, not_in_stasis
from acd.sim.model import HANGUP_REASONS, Channel
from acd.sim.web import WORLD, Params, created, json_ok, no_content, params

routes = web.RouteTableDef()
_DIRECTIONS = ("none", "both", "out", "in")


def _world(request: web.Request) -> World:
    return request.app[WORLD]


def _stasis(request: web.Request) -> Channel:
    ch = _world(request).channel(request.match_info["channel_id"])
    if not ch.in_stasis or ch.control is None:
        raise not_in_stasis()
    return ch


def _int(p: Params, name: str, default: int) -> int:
    raw = p.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(str(raw))
    except ValueError:
        raise AriReply(400, f"Invalid value for {name}") from None


@routes.get("/ari/channels")
async def list_channels(request: web.Request) -> web.Response:
    body = "[" + ",".join(c.snapshot() for c in _world(request).channels.values()) + "]"
    return web.Response(text=body, content_type="application/json")


@routes.post("/ari/channels/create")
async def create(request: web.Request) -> web.Response:
    p = await params(request)
    endpoint = str(p.get("endpoint") or "")
    if not endpoint:
        raise AriReply(400, "Endpoint must be specified")
    ch = _world(request).create(endpoint, str(p.get("app") or "") or None,
                                str(p.get("appArgs") or ""),
                                str(p.get("channelId") or "") or None,
                                str(p.get("originator") or "") or None, p.variables)
    return json_ok(ch.snapshot())


@routes.post("/ari/channels")
@routes.post("/ari/channels/{channel_id}")
async def originate(request: web.Request) -> web.Response:
    p = await params(request)
    endpoint = str(p.get("endpoint") or "")
    if not endpoint:
        raise AriReply(400, "Endpoint must be specified")
    app = str(p.get("app") or "")
    if not app and not p.get("extension"):
        raise AriReply(400, "Application or extension must be specified")
    ch = _world(request).originate(
        endpoint, app or None, str(p.get("appArgs") or ""), _int(p, "timeout", 30),
        str(p.get("callerId") or ""),
        request.match_info.get("channel_id") or str(p.get("channelId") or "") or None,
        p.variables)
    return json_ok(ch.snapshot())


@routes.get("/ari/channels/{channel_id}")
async def get_channel(request: web.Request) -> web.Response:
    return json_ok(_world(request).channel(request.match_info["channel_id"]).snapshot())


@routes.delete("/ari/channels/{channel_id}")
async def hangup(request: web.Request) -> web.Response:
    p = await params(request)
    reason, code = p.get("reason"), p.get("reason_code")
    if reason and code:
        raise AriReply(400, "The reason and reason_code can't both be specified")
    cause = 16
    if code:
        cause = _int(p, "reason_code", 16)
    elif reason:
        if reason not in HANGUP_REASONS:
            raise AriReply(400, "Invalid reason for hangup reason provided")
        cause = HANGUP_REASONS[str(reason)]
    world = _world(request)
    world.hangup(world.channel(request.match_info["channel_id"]), "app", cause)
    return no_content()


async def _sync(ch: Channel, fn: object) -> None:
    assert ch.control is not None and callable(fn)
    try:
        await ch.control.call(fn)
    except ChannelGone:
        raise channel_not_found() from None


@routes.post("/ari/channels/{channel_id}/answer")
async def answer(request: web.Request) -> web.Response:
    ch = _stasis(request)
    world = _world(request)

    def run() -> None:
        ch.answered = True
        world.set_state(ch, "Up")
    await _sync(ch, run)
    return no_content()


def _cast_noop(ch: Channel) -> None:
    assert ch.control is not None
    ch.control.cast(lambda release: release())


@routes.post("/ari/channels/{channel_id}/ring")
@routes.delete("/ari/channels/{channel_id}/ring")
@routes.post("/ari/channels/{channel_id}/progress")
@routes.post("/ari/channels/{channel_id}/silence")
@routes.delete("/ari/channels/{channel_id}/silence")
async def indicate(request: web.Request) -> web.Response:
    _cast_noop(_stasis(request))
    return no_content()


@routes.post("/ari/channels/{channel_id}/mute")
@routes.delete("/ari/channels/{channel_id}/mute")
async def mute(request: web.Request) -> web.Response:
    """`direction` in, out or both (the default); a 400 otherwise, as Asterisk."""
    ch = _stasis(request)
    p = await params(request)
    direction = str(p.get("direction") or "both")
    if direction not in ("in", "out", "both"):
        raise AriReply(400, "Invalid direction specified")
    which = {"in", "out"} if direction == "both" else {direction}
    on = request.method == "POST"

    def run(release: object) -> None:
        ch.muted = ch.muted | which if on else ch.muted - which
        assert callable(release)
        release()
    assert ch.control is not None
    ch.control.cast(run)
    return no_content()


@routes.post("/ari/channels/{channel_id}/hold")
@routes.delete("/ari/channels/{channel_id}/hold")
async def hold(request: web.Request) -> web.Response:
    ch = _stasis(request)
    on = request.method == "POST"

    def run(release: object) -> None:
        ch.on_hold = on
        assert callable(release)
        release()
    assert ch.control is not None
    ch.control.cast(run)
    return no_content()


@routes.post("/ari/channels/{channel_id}/transfer_progress")
async def transfer_progress(request: web.Request) -> web.Response:
    p = await params(request)
    _world(request).transfers.progress(_stasis(request), str(p.get("states") or ""))
    return no_content()


@routes.post("/ari/channels/{channel_id}/moh")
async def start_moh(request: web.Request) -> web.Response:
    p = await params(request)
    _world(request).media.start_moh(_stasis(request), str(p.get("mohClass") or "default"))
    return no_content()


@routes.delete("/ari/channels/{channel_id}/moh")
async def stop_moh(request: web.Request) -> web.Response:
    _world(request).media.stop_moh(_stasis(request))
    return no_content()


@routes.post("/ari/channels/{channel_id}/play")
@routes.post("/ari/channels/{channel_id}/play/{playback_id}")
async def play(request: web.Request) -> web.Response:
    p = await params(request)
    ch = _stasis(request)
    pid = request.match_info.get("playback_id") or str(p.get("playbackId") or "") or None
    body = _world(request).media.play(ch, p.media(), str(p.get("lang") or "") or None, pid)
    return created(body)


@routes.post("/ari/channels/{channel_id}/record")
async def record(request: web.Request) -> web.Response:
    p = await params(request)
    ch = _stasis(request)
    rec = _world(request).media.record(ch, str(p.get("name") or ""), str(p.get("format") or ""),
                                       _int(p, "maxDurationSeconds", 0),
                                       str(p.get("ifExists") or "fail"))
    return created(rec.as_json())


@routes.post("/ari/channels/{channel_id}/dtmf")
async def dtmf(request: web.Request) -> web.Response:
    p = await params(request)
    ch = _stasis(request)
    digits = str(p.get("dtmf") or "")
    if not digits:
        raise AriReply(400, "DTMF is required")
    _world(request).media.send_dtmf(ch, digits, _int(p, "between", 100),
                                    _int(p, "duration", 100))
    return no_content()


@routes.post("/ari/channels/{channel_id}/continue")
async def continue_in_dialplan(request: web.Request) -> web.Response:
    p = await params(request)
    ch = _stasis(request)
    world = _world(request)
    context, exten = str(p.get("context") or "") or None, str(p.get("extension") or "") or None
    priority = _int(p, "priority", 0) or None
    assert ch.control is not None

    def run(release: object) -> None:
        assert callable(release)
        release()
        world.leave_stasis(ch, context, exten, priority)
    ch.control.cast(run)
    return no_content()


@routes.post("/ari/channels/{channel_id}/dial")
async def dial(request: web.Request) -> web.Response:
    p = await params(request)
    ch = _stasis(request)
    _world(request).dial(ch, str(p.get("caller") or "") or None, _int(p, "timeout", 0))
    return no_content()


@routes.post("/ari/channels/{channel_id}/snoop")
@routes.post("/ari/channels/{channel_id}/snoop/{snoop_id}")
async def snoop(request: web.Request) -> web.Response:
    p = await params(request)
    world = _world(request)
    target = world.channel(request.match_info["channel_id"])
    spy, whisper = str(p.get("spy") or "none"), str(p.get("whisper") or "none")
    for name, value in (("spy", spy), ("whisper", whisper)):
        if value not in _DIRECTIONS:
            raise AriReply(400, f"Invalid direction specified for {name}")
    if spy == whisper == "none":
        raise AriReply(400, "Direction must be specified for at least spy or whisper")
    app = str(p.get("app") or "")
    if not app:
        raise AriReply(400, "app parameter must be specified")
    sid = request.match_info.get("snoop_id") or str(p.get("snoopId") or "") or None
    ch = world.snoop(target, app, str(p.get("appArgs") or ""), sid)
    ch.spy, ch.whisper = spy, whisper
    return json_ok(ch.snapshot())


def _var_channel(request: web.Request) -> Channel:
    ch = _world(request).channels.get(request.match_info["channel_id"])
    if ch is None:
        raise AriReply(404, "Provided channel was not found")
    return ch


def _read_var(ch: Channel, name: str) -> str | None:
    builtin = {
        "CALLERID(num)": ch.caller_number, "CALLERID(name)": ch.caller_name,
        "CALLERID(all)": f'"{ch.caller_name}" <{ch.caller_number}>',
        "CONNECTEDLINE(num)": ch.connected_number, "CONNECTEDLINE(name)": ch.connected_name,
        "CHANNEL(name)": ch.name, "CHANNEL(language)": ch.language, "UNIQUEID": ch.id,
        "CHANNEL": ch.name, "EXTEN": ch.exten, "CONTEXT": ch.context,
    }
    return builtin.get(name, ch.variables.get(name))


@routes.get("/ari/channels/{channel_id}/variable")
async def get_var(request: web.Request) -> web.Response:
    p = await params(request)
    name = str(p.get("variable") or "")
    if not name:
        raise AriReply(400, "Variable name is required")
    value = _read_var(_var_channel(request), name)
    if value is None:
        raise AriReply(404, "Provided variable was not found")
    return json_ok({"value": value})


@routes.post("/ari/channels/{channel_id}/variable")
async def set_var(request: web.Request) -> web.Response:
    p = await params(request)
    name = str(p.get("variable") or "")
    if not name:
        raise AriReply(400, "Variable name is required")
    ch = _var_channel(request)
    if ch.control is None or not ch.in_stasis:
        raise AriReply(404, "Provided channel was not found")
    value, world = str(p.get("value") or ""), _world(request)

    def run() -> None:
        ch.variables[name] = value
        world.varset(ch, name, value)
    try:
        await ch.control.call(run)
    except ChannelGone:
        raise AriReply(404, "Provided channel was not found") from None
    return no_content()
