"""The agent desktop and the wallboard: their pages, and the desktop's API.

    GET  /agent, /wallboard, /static/{file}       pages (the data behind them needs a login)
    GET  /api/desk                                reasons, dispositions, thresholds
    GET  /api/desk/agents/{agent_id}/call         the screen pop of the agent's call
    POST /api/desk/agents/{agent_id}/hangup       hang up the agent's call
    POST /api/desk/agents/{agent_id}/wrapup       {call_id, code, notes}: save, end wrap-up
    POST /api/desk/agents/{agent_id}/wrapup/extend  more wrap-up time, within a limit
    GET  /api/desk/agents/{agent_id}/today        the agent's figures today
"""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web

from acd.api.access import ADMIN, AGENT, PUBLIC, SUPERVISOR, allow
from acd.api.appkey import APP_KEY
from acd.api.auth import AUDIT
from acd.api.body import json_object
from acd.errors import Conflict, InvalidRequest, NotFound
from acd.people import desk, figures

if TYPE_CHECKING:
    from acd.app import App

_FILE = re.compile(r"^[a-z0-9_-]{1,40}\.(js|css|html)$")
_TYPES = {"js": "text/javascript", "css": "text/css", "html": "text/html"}
ANYONE = (AGENT, SUPERVISOR, ADMIN)


def _acd(request: web.Request) -> App:
    return request.app[APP_KEY]


def _web_file(name: str) -> web.Response:
    if not _FILE.match(name):
        raise NotFound(f"no file {name!r}")
    path = resources.files("acd.api") / "web" / name
    if not path.is_file():
        raise NotFound(f"no file {name!r}")
    return web.Response(body=path.read_bytes(), content_type=_TYPES[name.rsplit(".", 1)[1]],
                        headers={"Cache-Control": "no-cache",
                                 "Content-Security-Policy":
                                     "default-src 'self'; frame-ancestors 'none'",
                                 "X-Content-Type-Options": "nosniff"})


@allow(PUBLIC)
async def agent_page(request: web.Request) -> web.Response:
    """The agent desktop."""
    return _web_file("agent.html")


@allow(PUBLIC)
async def wallboard_page(request: web.Request) -> web.Response:
    """The supervisor wallboard."""
    return _web_file("wallboard.html")


@allow(PUBLIC)
async def static(request: web.Request) -> web.Response:
    """The pages' scripts and styles."""
    return _web_file(request.match_info["file"])


@allow(*ANYONE)
async def desk_config(request: web.Request) -> web.Response:
    """Break reasons, per-queue dispositions and colour thresholds."""
    acd = _acd(request)
    d = acd.settings.desk
    names = sorted(acd.router.queues) if acd.router else []
    return web.json_response({
        "break_reasons": d.break_reasons,
        "wrapup_extension_s": d.wrapup_extension,
        "wrapup_extension_max_s": d.wrapup_extension_max,
        "queues": {n: d.queue(n).model_dump() for n in names},
    })


async def _agent_call(request: web.Request) -> tuple[App, Any, dict[str, Any]]:
    acd = _acd(request)
    assert acd.agents is not None and acd.people is not None
    agent = await acd.agents.get(request.match_info["agent_id"])
    if not agent.current_call:
        raise NotFound("the agent has no call now", agent_id=agent.id, state=agent.state)
    pop = await desk.read_pop(acd.people.redis, acd.people.keys, agent.current_call)
    if pop is None:
        raise NotFound("nothing is known of the agent's call", call_id=agent.current_call)
    return acd, agent, pop


@allow(*ANYONE)
async def current_call(request: web.Request) -> web.Response:
    """The screen pop: caller, queue, wait, IVR variables and path, earlier calls."""
    acd, agent, pop = await _agent_call(request)
    assert acd.people is not None
    history = await desk.caller_history(acd.people.pool, pop["caller"],
                                        before_call=pop["call_id"])
    return web.json_response({**pop, "state": agent.state, "since_ms": agent.since_ms,
                              "history": history})


@allow(*ANYONE)
async def hangup(request: web.Request) -> web.Response:
    """Hang up the agent's call (the caller's channel: the whole call ends)."""
    acd, agent, pop = await _agent_call(request)
    if agent.state != "on_call":
        raise Conflict(f"agent {agent.id} is {agent.state}, not on a call", state=agent.state)
    assert acd.ari is not None
    request[AUDIT] = {"call_id": pop["call_id"]}
    await acd.ari.hangup(pop["channel_id"])
    return web.json_response({"call_id": pop["call_id"], "hung_up": True})


async def _body(request: web.Request) -> dict[str, Any]:
    return await json_object(request)  # bounded: size, depth, strings (acd.api.body)


@allow(*ANYONE)
async def wrapup(request: web.Request) -> web.Response:
    """Save the disposition and notes of a call; the agent's wrap-up ends."""
    acd = _acd(request)
    assert acd.agents is not None and acd.people is not None
    agent_id = request.match_info["agent_id"]
    body = await _body(request)
    call_id = body.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest("call_id is required", field="call_id")
    pop = await desk.read_pop(acd.people.redis, acd.people.keys, call_id)
    queue = pop["queue"] if pop else None
    allowed = acd.settings.desk.queue(queue or "").dispositions
    code, notes = desk.check_disposition(body.get("code"), body.get("notes"), allowed)
    request[AUDIT] = {"call_id": call_id, "code": code}
    await desk.save_disposition(acd.people.pool, call_id, agent_id, queue, code, notes)
    agent = await acd.agents.get(agent_id)
    if agent.state == "wrap_up" and agent.current_call == call_id:
        agent = await acd.agents.available(agent_id)
    return web.json_response({"call_id": call_id, "code": code, "agent": agent.model_dump()})


@allow(*ANYONE)
async def extend_wrapup(request: web.Request) -> web.Response:
    """More wrap-up time: desk.wrapup_extension more, desk.wrapup_extension_max in all."""
    acd = _acd(request)
    assert acd.agents is not None and acd.router is not None and acd.people is not None
    agent = await acd.agents.get(request.match_info["agent_id"])
    if agent.state != "wrap_up" or not agent.current_call:
        raise Conflict(f"agent {agent.id} is {agent.state}, not in wrap-up", state=agent.state)
    d = acd.settings.desk
    pop = await desk.read_pop(acd.people.redis, acd.people.keys, agent.current_call)
    q = acd.router.queues.get(pop["queue"]) if pop else None
    cap = agent.since_ms + int(((q.wrapup if q else 0.0) + d.wrapup_extension_max) * 1000)
    deadline = await acd.router.extend_wrapup(agent.id, agent.current_call,
                                              d.wrapup_extension, cap)
    if not deadline:
        raise Conflict("the wrap-up cannot be extended further", agent_id=agent.id,
                       code="wrapup_limit")
    return web.json_response({"agent_id": agent.id, "wrapup_until_ms": deadline})


@allow(*ANYONE)
async def today(request: web.Request) -> web.Response:
    """The agent's figures today: calls, average handle time, time in each state."""
    acd = _acd(request)
    assert acd.people is not None
    return web.json_response(await figures.agent_today(acd.people.pool,
                                                       request.match_info["agent_id"]))


def add_desk_routes(app: web.Application) -> None:
    app.router.add_get("/agent", agent_page)
    app.router.add_get("/wallboard", wallboard_page)
    app.router.add_get("/static/{file}", static)
    app.router.add_get("/api/desk", desk_config)
    app.router.add_get("/api/desk/agents/{agent_id}/call", current_call)
    app.router.add_post("/api/desk/agents/{agent_id}/hangup", hangup)
    app.router.add_post("/api/desk/agents/{agent_id}/wrapup", wrapup)
    app.router.add_post("/api/desk/agents/{agent_id}/wrapup/extend", extend_wrapup)
    app.router.add_get("/api/desk/agents/{agent_id}/today", today)
