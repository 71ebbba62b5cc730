"""Moves in the middle of a call (acd.calls.phases.control), over HTTP.

    GET  /api/desk/agents/{agent_id}/call/moves      what the agent's call is, which moves it takes
    POST /api/desk/agents/{agent_id}/call/{move}     a move on the agent's call ({args})
    POST /api/calls/{call_id}/moves/{move}           a move on any call (supervisors, admins)

An agent acts on their own call only (acd.api.auth); supervisors and admins on any.
The body is a JSON object of scalar arguments (bounded by acd.api.body). The answer
is the call's: 200 with what it says, 404 `no_call` / `unknown_move`, 409 with the
refusal's `error_id` (e.g. `not_connected`), 503 `timeout` when the owner node did
not answer in time. Every move is audited (who, which call, which move).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from acd.api.access import ADMIN, AGENT, SUPERVISOR, allow
from acd.api.appkey import APP_KEY
from acd.api.auth import AUDIT, principal_of
from acd.api.body import json_object
from acd.calls import commands as c
from acd.calls.phases.control import MOVES
from acd.errors import AcdError, Conflict, InvalidRequest, NotFound, Unavailable

if TYPE_CHECKING:
    from acd.app import App

ANYONE = (AGENT, SUPERVISOR, ADMIN)
_MOVE = re.compile(r"^[a-z][a-z_]{0,31}$")
MAX_ARGS = 16


def _acd(request: web.Request) -> App:
    return request.app[APP_KEY]


def _move(request: web.Request) -> str:
    move = request.match_info.get("move", "status")
    if not _MOVE.match(move) or move not in MOVES:
        err = NotFound(f"no move {move!r}", moves=sorted(MOVES))
        err.error_id = "unknown_move"
        raise err
    return move


async def _args(request: web.Request) -> dict[str, c.ControlArg]:
    body: dict[str, Any] = await json_object(request)
    if len(body) > MAX_ARGS:
        raise InvalidRequest(f"at most {MAX_ARGS} arguments", count=len(body))
    for key, value in body.items():
        if not isinstance(value, str | int | float | bool) and value is not None:
            raise InvalidRequest(f"argument {key!r} must be a string, number or boolean",
                                 field=key)
    return body


def _refused(reply: c.Reply) -> AcdError:
    error_id = reply.error_id or "refused"
    cls: type[AcdError]
    if error_id in ("no_call", "unknown_move", "call_ended"):
        cls = NotFound
    elif error_id == "timeout":
        cls = Unavailable
    else:
        cls = Conflict
    err = cls(reply.message or f"the move was refused ({error_id})", **dict(reply.data))
    err.error_id = error_id
    return err


async def _ask(request: web.Request, call_id: str, move: str,
               args: dict[str, c.ControlArg]) -> web.Response:
    acd = _acd(request)
    if acd.control is None:
        raise Unavailable("acd takes no calls here (no call room)")
    user = principal_of(request).user
    request[AUDIT] = {"call_id": call_id, "move": move}
    reply = await acd.control.ask(call_id, move, args, by=f"{user.role}:{user.name}")
    if not reply.ok:
        raise _refused(reply)
    return web.json_response({"call_id": call_id, "move": move, **dict(reply.data)})


async def _agent_call(request: web.Request) -> str:
    acd = _acd(request)
    assert acd.agents is not None
    agent = await acd.agents.get(request.match_info["agent_id"])
    if not agent.current_call or agent.state not in ("ringing", "on_call"):
        err = NotFound("the agent has no call now", agent_id=agent.id, state=agent.state)
        err.error_id = "no_call"
        raise err
    return agent.current_call


@allow(*ANYONE)
async def agent_moves(request: web.Request) -> web.Response:
    """What the agent's call is now and the moves it takes (the desktop's buttons)."""
    return await _ask(request, await _agent_call(request), "status", {})


@allow(*ANYONE)
async def agent_move(request: web.Request) -> web.Response:
    """A move on the agent's own call (hold, transfer...)."""
    move = _move(request)
    args = await _args(request)
    return await _ask(request, await _agent_call(request), move, args)


@allow(SUPERVISOR, ADMIN)
async def call_move(request: web.Request) -> web.Response:
    """A move on any call, by its id (monitoring, a supervisor's transfer...)."""
    move = _move(request)
    args = await _args(request)
    return await _ask(request, request.match_info["call_id"], move, args)


def add_control_routes(app: web.Application) -> None:
    app.router.add_get("/api/desk/agents/{agent_id}/call/moves", agent_moves)
    app.router.add_post("/api/desk/agents/{agent_id}/call/{move}", agent_move)
    app.router.add_post("/api/calls/{call_id}/moves/{move}", call_move)
