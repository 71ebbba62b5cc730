"""The `/sim` control API: the phones' side of the simulator, over HTTP.

    POST   /sim/calls                         a caller dials in
    PUT    /sim/endpoints/{tech}/{resource}   how the phone behind an endpoint behaves
    GET    /sim/state                         channels, bridges, playbacks, counters
    POST   /sim/channels/{id}/dtmf            the phone on a channel presses keys
    DELETE /sim/channels/{id}                 the phone on a channel hangs up
    POST   /sim/channels/{id}/hold            the phone presses hold (ChannelHold)
    DELETE /sim/channels/{id}/hold            ... and takes the call back (ChannelUnhold)
    POST   /sim/channels/{id}/refer           the phone presses transfer: a REFER
                                              ({"destination", "replaces"}; 201 with the
                                              NOTIFYs the phone got so far)
    GET    /sim/channels/{id}/refer           the NOTIFYs the phone got (sipfrag statuses)
    POST   /sim/apps/{app}/drop               drop the app's events WebSockets
    GET    /sim/endpoints/{tech}/{resource}   the phone and its line (registration, health)
    POST   /sim/endpoints/{tech}/{resource}/{register|unregister|unreachable|reachable|die}
    POST   /sim/endpoints/{tech}/{resource}/calls   the phone starts a call acd did not place
    DELETE /sim/endpoints/{tech}/{resource}/calls   ... and ends it

Bodies are JSON; see acd/sim/README.md for every field.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from acd.sim.errors import AriReply
from acd.sim.model import BEHAVIOURS
from acd.sim.state import snapshot
from acd.sim.web import WORLD, json_ok, no_content

routes = web.RouteTableDef()
SIMULATOR = web.AppKey("sim_simulator", object)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError:
        raise AriReply(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise AriReply(400, "the body must be a JSON object")
    return body


def _number(body: dict[str, Any], key: str, default: float | None) -> float | None:
    value = body.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise AriReply(400, f"{key} must be a number of seconds >= 0")
    return float(value)


@routes.post("/sim/calls")
async def place_call(request: web.Request) -> web.Response:
    body = await _body(request)
    caller, exten = body.get("caller"), body.get("exten")
    if not isinstance(caller, str) or not isinstance(exten, str) or not exten:
        raise AriReply(400, "caller and exten (strings) are required")
    script: list[tuple[float, str]] = []
    for item in body.get("dtmf") or []:
        if (not isinstance(item, list | tuple) or len(item) != 2
                or not isinstance(item[0], int | float) or not isinstance(item[1], str)):
            raise AriReply(400, "dtmf must be a list of [seconds, digits] pairs")
        script.append((float(item[0]), item[1]))
    world = request.app[WORLD]
    channel_id = world.place_call(
        caller, exten, caller_name=str(body.get("caller_name", "")),
        context=str(body.get("context", "from-pstn")), app=body.get("app") or None,
        dtmf=script, hangup_after=_number(body, "hangup_after", None))
    ch = world.channels.get(channel_id)
    return json_ok({"channel_id": channel_id,
                    "in_stasis": bool(ch is not None and ch.in_stasis)}, 201)


@routes.put("/sim/endpoints/{tech}/{resource}")
async def set_endpoint(request: web.Request) -> web.Response:
    body = await _body(request)
    behaviour = body.get("behaviour", "answer")
    if behaviour not in BEHAVIOURS:
        raise AriReply(400, f"behaviour must be one of {', '.join(BEHAVIOURS)}")
    answer_after = _number(body, "answer_after", 0.5)
    world = request.app[WORLD]
    tech, resource = request.match_info["tech"], request.match_info["resource"]
    world.set_endpoint(tech, resource, behaviour, answer_after=answer_after or 0.0,
                       hangup_after=_number(body, "hangup_after", None),
                       ring=bool(body.get("ring", True)))
    line = world.lines.line(tech, resource)
    for key in ("rtp_timeout", "qualify"):
        if key in body:
            setattr(line, key, _number(body, key, None))
    return _endpoint(world, tech, resource)


def _endpoint(world: Any, tech: str, resource: str) -> web.Response:
    phone = world.phone(tech, resource)
    if phone is None:
        raise AriReply(404, f"no phone behind {tech}/{resource}")
    return json_ok({"technology": tech, "resource": resource, **phone.as_json(),
                    **world.lines.line(tech, resource).as_json(),
                    "device_state": world.lines.device_state(tech, resource)})


@routes.get("/sim/endpoints/{tech}/{resource}")
async def get_endpoint(request: web.Request) -> web.Response:
    return _endpoint(request.app[WORLD], request.match_info["tech"],
                     request.match_info["resource"])


LINE_ACTIONS = ("register", "unregister", "unreachable", "reachable", "die")


@routes.post("/sim/endpoints/{tech}/{resource}/{action}")
async def line_action(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    tech, resource = request.match_info["tech"], request.match_info["resource"]
    action = request.match_info["action"]
    if world.phone(tech, resource) is None:
        raise AriReply(404, f"no phone behind {tech}/{resource}")
    lines = world.lines
    if action in ("register", "unregister"):
        lines.set_registered(tech, resource, action == "register")
    elif action in ("unreachable", "reachable"):
        lines.set_reachable(tech, resource, action == "reachable")
    elif action == "die":
        lines.die(tech, resource)
    elif action == "calls":
        lines.other_call(tech, resource, +1)
    else:
        raise AriReply(404, f"unknown action {action!r}; one of {', '.join(LINE_ACTIONS)}, "
                            "calls")
    return _endpoint(world, tech, resource)


@routes.delete("/sim/endpoints/{tech}/{resource}/calls")
async def end_other_call(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    tech, resource = request.match_info["tech"], request.match_info["resource"]
    if world.lines.line(tech, resource).other_calls == 0:
        raise AriReply(404, f"{tech}/{resource} is on no other call")
    world.lines.other_call(tech, resource, -1)
    return _endpoint(world, tech, resource)


@routes.get("/sim/state")
async def state(request: web.Request) -> web.Response:
    return json_ok(snapshot(request.app[WORLD]))


@routes.post("/sim/channels/{channel_id}/dtmf")
async def press(request: web.Request) -> web.Response:
    body = await _body(request)
    digits = body.get("digits", request.query.get("digits"))
    if not isinstance(digits, str) or not digits or any(d not in "0123456789*#ABCD"
                                                        for d in digits):
        raise AriReply(400, "digits must be a string of 0-9 * # A-D")
    request.app[WORLD].press(request.match_info["channel_id"], digits)
    return no_content()


@routes.delete("/sim/channels/{channel_id}")
async def hang_up(request: web.Request) -> web.Response:
    try:
        cause = int(request.query.get("cause", "16"))
    except ValueError:
        raise AriReply(400, "cause must be an integer") from None
    request.app[WORLD].remote_hangup(request.match_info["channel_id"], cause)
    return no_content()


@routes.post("/sim/channels/{channel_id}/hold")
@routes.delete("/sim/channels/{channel_id}/hold")
async def phone_hold(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    ch = world.channel(request.match_info["channel_id"])
    if request.method == "POST":
        world.transfers.hold(ch)
    else:
        world.transfers.unhold(ch)
    return no_content()


@routes.post("/sim/channels/{channel_id}/refer")
async def phone_refer(request: web.Request) -> web.Response:
    world = request.app[WORLD]
    ch = world.channel(request.match_info["channel_id"])
    body = await _body(request)
    destination, replaces = body.get("destination"), body.get("replaces")
    if not isinstance(destination, str) or not destination:
        raise AriReply(400, "destination must be the number the phone transfers to")
    if replaces is not None and not isinstance(replaces, str):
        raise AriReply(400, "replaces must be a channel id")
    other = world.channel(replaces) if replaces else None
    try:
        refer = world.transfers.refer(ch, destination, other)
    except ValueError as exc:
        raise AriReply(409, str(exc)) from None
    return json_ok({"notifies": refer.notifies}, status=201)


@routes.get("/sim/channels/{channel_id}/refer")
async def phone_refer_state(request: web.Request) -> web.Response:
    refer = request.app[WORLD].transfers.refers.get(request.match_info["channel_id"])
    if refer is None:
        raise AriReply(404, "no REFER on this channel")
    return json_ok({"destination": refer.destination, "notifies": refer.notifies,
                    "ended": refer.ended})


@routes.post("/sim/apps/{app}/drop")
async def drop(request: web.Request) -> web.Response:
    dropped = await request.app[WORLD].drop_websockets(request.match_info["app"])
    return json_ok({"dropped": dropped})
