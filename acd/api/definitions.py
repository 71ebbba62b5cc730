"""Agents, their skills and queues, changed at run time by supervisors and admins.

    GET    /api/definitions                         agents and queues in force
    PUT    /api/definitions/agents/{agent_id}       add or change an agent
    PUT    /api/definitions/agents/{agent_id}/skills  {skills: {name: level}}
    DELETE /api/definitions/agents/{agent_id}       log out and remove (409 on a call)
    PUT    /api/definitions/queues/{name}           add or change a queue
    DELETE /api/definitions/queues/{name}           remove (409 while it has calls)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import ValidationError

from acd.agents.model import AgentDef
from acd.api.access import ADMIN, SUPERVISOR, allow
from acd.api.appkey import APP_KEY
from acd.api.auth import AUDIT
from acd.api.body import json_object
from acd.config import AgentSettings
from acd.errors import InvalidRequest, NotFound
from acd.people.definitions import DefinitionService
from acd.routing.model import QueueDef

if TYPE_CHECKING:
    from acd.app import App


def _acd(request: web.Request) -> App:
    return request.app[APP_KEY]


def _service(request: web.Request) -> DefinitionService:
    svc = _acd(request).definitions
    assert svc is not None
    return svc


async def _body(request: web.Request) -> dict[str, Any]:
    return await json_object(request)  # bounded: size, depth, strings (acd.api.body)


def _invalid(exc: ValidationError) -> InvalidRequest:
    problems = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
                for e in exc.errors()[:10]]
    return InvalidRequest("; ".join(f"{p['field']}: {p['problem']}" for p in problems),
                          problems=problems)


def _agent(body: dict[str, Any]) -> AgentSettings:
    """A valid agent definition from a request body (skill levels 1-10)."""
    try:
        agent = AgentSettings.model_validate(body)
        AgentDef(id=agent.id, name=agent.name, endpoint=agent.endpoint, skills=agent.skills,
                 order=agent.order)
    except ValidationError as exc:
        raise _invalid(exc) from exc
    except ValueError as exc:  # a skill level out of 1-10
        raise InvalidRequest(str(exc), field="skills") from exc
    return agent


@allow(SUPERVISOR, ADMIN)
async def show(request: web.Request) -> web.Response:
    """The agents and queues in force."""
    s = _acd(request).settings
    return web.json_response({"agents": [a.model_dump() for a in s.agents],
                              "queues": [q.model_dump() for q in s.queues]})


@allow(SUPERVISOR, ADMIN)
async def put_agent(request: web.Request) -> web.Response:
    """Add or change an agent: {name, endpoint, skills, order?, login?}."""
    body = {**await _body(request), "id": request.match_info["agent_id"]}
    agent = _agent(body)
    await _service(request).put_agent(agent)
    request[AUDIT] = {"skills": agent.skills, "endpoint": agent.endpoint}
    return web.json_response(agent.model_dump())


@allow(SUPERVISOR, ADMIN)
async def put_skills(request: web.Request) -> web.Response:
    """Change an agent's skills: {skills: {name: level 1-10}}."""
    agent_id = request.match_info["agent_id"]
    current = next((a for a in _acd(request).settings.agents if a.id == agent_id), None)
    if current is None:
        raise NotFound(f"no agent {agent_id!r}", agent_id=agent_id)
    body = await _body(request)
    agent = _agent({**current.model_dump(), "skills": body.get("skills")})
    await _service(request).put_agent(agent)
    request[AUDIT] = {"skills": agent.skills}
    return web.json_response(agent.model_dump())


@allow(SUPERVISOR, ADMIN)
async def remove_agent(request: web.Request) -> web.Response:
    """Log an agent out and remove them."""
    await _service(request).remove_agent(request.match_info["agent_id"])
    return web.json_response({"agent_id": request.match_info["agent_id"], "removed": True})


@allow(SUPERVISOR, ADMIN)
async def put_queue(request: web.Request) -> web.Response:
    """Add or change a queue: {skills, strategy, ring_timeout, wrapup, ...}."""
    body = {**await _body(request), "name": request.match_info["name"]}
    try:
        queue = QueueDef.model_validate(body)
    except ValidationError as exc:
        raise _invalid(exc) from exc
    await _service(request).put_queue(queue)
    request[AUDIT] = {"skills": queue.skills}
    return web.json_response(queue.model_dump())


@allow(SUPERVISOR, ADMIN)
async def remove_queue(request: web.Request) -> web.Response:
    """Remove an empty queue."""
    await _service(request).remove_queue(request.match_info["name"])
    return web.json_response({"queue": request.match_info["name"], "removed": True})


def add_definition_routes(app: web.Application) -> None:
    app.router.add_get("/api/definitions", show)
    app.router.add_put("/api/definitions/agents/{agent_id}", put_agent)
    app.router.add_put("/api/definitions/agents/{agent_id}/skills", put_skills)
    app.router.add_delete("/api/definitions/agents/{agent_id}", remove_agent)
    app.router.add_put("/api/definitions/queues/{name}", put_queue)
    app.router.add_delete("/api/definitions/queues/{name}", remove_queue)
