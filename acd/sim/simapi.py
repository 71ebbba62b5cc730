"""The `/sim` control API: the phones' side of the simulator, over HTTP.

    POST   /sim/calls                         a caller dials in
    PUT    /sim/endpoints/{tech}/{resource}   how the phone behind an endpoint behaves
    GET    /sim/state                         channels, bridges, playbacks, counters
    POST   /sim/channels/{id}/dtmf            the phone on a channel presses keys
    DELETE /sim/channels/{id}                 the phone on a channel hangs up
    POST   /sim/apps/{app}/drop               drop the app's events WebSockets

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
    phone = world.set_endpoint(request.match_info["tech"], request.match_info["resource"],
                               behaviour, answer_after=answer_after or 0.0,
                               hangup_after=_number(body, "hangup_after", None),
                               ring=bool(body.get("ring", True)))
    return json_ok({"technology": request.match_info["tech"],
                    "resource": request.match_info["resource"], **phone.as_json()})


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


@routes.post("/sim/apps/{app}/drop")
async def drop(request: web.Request) -> web.Response:
    dropped = await request.app[WORLD].drop_websockets(request.match_info["app"])
    return json_ok({"dropped": dropped})
