"""The REST API: agents, queues, calls, flows, lists, schedule overrides, metrics.

Only this layer maps domain errors to HTTP status codes. Bodies of errors carry
`error_id`, `message` and `details`; no traceback ever leaves the process.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp_session import session_middleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from acd.api.access import ADMIN, AGENT, PUBLIC, SUPERVISOR, allow
from acd.api.appkey import APP_KEY as APP_KEY
from acd.api.auth import AUDIT, PEOPLE_KEY, add_auth_routes, make_auth_middleware
from acd.api.body import http_errors_middleware, json_object, reason_text
from acd.api.control import add_control_routes
from acd.api.definitions import add_definition_routes
from acd.api.demo import add_demo_routes
from acd.api.desk import add_desk_routes
from acd.api.health import health_report
from acd.api.live import add_live_routes
from acd.api.openapi import add_openapi_routes
from acd.api.phone_metrics import phone_metrics_text
from acd.api.reports import add_report_routes
from acd.api.users import add_user_routes
from acd.errors import AcdError, InvalidRequest, NotFound, http_status
from acd.metrics import refresh as refresh_metrics
from acd.routing.keys import Keys

if TYPE_CHECKING:
    from acd.app import App

logger = logging.getLogger(__name__)


OVERRIDES = ("open", "closed", "emergency")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, error_id: str, message: str, **details: Any) -> web.Response:
    body = {"error_id": error_id, "message": message, "details": details}
    return web.json_response(body, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise  # http_errors_middleware gives them the JSON shape
    except AcdError as exc:
        return _error(http_status(exc), exc.error_id, exc.message, **exc.details)
    except Exception:
        logger.exception("API %s %s failed", request.method, request.path)
        return _error(500, "internal_error", "acd could not complete the request; see its log")


async def _json(request: web.Request) -> dict[str, Any]:
    return await json_object(request)  # bounded: size, depth, strings (acd.api.body)


def _acd(request: web.Request) -> App:
    return request.app[APP_KEY]


def _view(v: Any) -> dict[str, Any]:
    if hasattr(v, "model_dump"):
        return v.model_dump(mode="json")  # type: ignore[no-any-return]
    if hasattr(v, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(v)
    return dict(v)


# ------------------------------------------------------------------ handlers


@allow(PUBLIC)
async def health(request: web.Request) -> web.Response:
    body, status = health_report(_acd(request))
    return web.json_response(body, status=status)


@allow(SUPERVISOR, ADMIN)
async def list_agents(request: web.Request) -> web.Response:
    agents = _acd(request).agents
    assert agents is not None
    return web.json_response([_view(v) for v in await agents.list()])


@allow(AGENT, SUPERVISOR, ADMIN)
async def get_agent(request: web.Request) -> web.Response:
    agents = _acd(request).agents
    assert agents is not None
    return web.json_response(_view(await agents.get(request.match_info["agent_id"])))


@allow(AGENT, SUPERVISOR, ADMIN)
async def agent_action(request: web.Request) -> web.Response:
    agents = _acd(request).agents
    assert agents is not None
    agent_id = request.match_info["agent_id"]
    action = request.match_info["action"]
    body = await _json(request)
    if action == "login":
        await agents.login(agent_id)
    elif action == "logout":
        await agents.logout(agent_id)
    elif action == "available":
        await agents.available(agent_id)
    elif action == "break":
        reason = reason_text(body.get("reason"))
        request[AUDIT] = {"reason": reason}
        await agents.set_break(agent_id, reason)
    else:
        raise NotFound(f"unknown agent action {action!r}; use login, logout, available or break",
                       action=action)
    return web.json_response(_view(await agents.get(agent_id)))


@allow(SUPERVISOR, ADMIN)
async def queues(request: web.Request) -> web.Response:
    router = _acd(request).router
    assert router is not None
    return web.json_response(await router.snapshot())


@allow(SUPERVISOR, ADMIN)
async def calls(request: web.Request) -> web.Response:
    svc = _acd(request).calls
    assert svc is not None
    return web.json_response([
        {"call_id": c.call_id, "channel_id": c.channel_id, "caller": c.caller_number,
         "dialled": c.dialled, "phase": c.phase.value, "queue": c.queue, "flow": c.flow_name,
         "agent_id": c.connected_leg.agent_id if c.connected_leg else None,
         "path": list(c.ivr.path) if c.ivr is not None else []}
        for c in svc.calls.values()
    ])


@allow(SUPERVISOR, ADMIN)
async def flows(request: web.Request) -> web.Response:
    reg = _acd(request).flows
    assert reg is not None
    return web.json_response({
        "flows": [{"name": f.name, "version": f.version, "numbers": list(f.numbers)}
                  for f in reg.flows.values()],
        "errors": [str(e) for e in reg.errors],
    })


@allow(SUPERVISOR, ADMIN)
async def list_members(request: web.Request) -> web.Response:
    acd = _acd(request)
    assert acd.redis is not None
    key = Keys(acd.settings.redis_prefix).caller_list(request.match_info["name"])
    members = await acd.redis.smembers(key)
    return web.json_response(sorted(members))


@allow(SUPERVISOR, ADMIN)
async def list_change(request: web.Request) -> web.Response:
    acd = _acd(request)
    assert acd.redis is not None
    number = request.match_info["number"].strip()
    if not number or len(number) > 64:
        raise InvalidRequest("a list entry is a phone number of 1 to 64 characters")
    key = Keys(acd.settings.redis_prefix).caller_list(request.match_info["name"])
    if request.method == "PUT":
        await acd.redis.sadd(key, number)
    else:
        await acd.redis.srem(key, number)
    return web.json_response({"list": request.match_info["name"], "number": number,
                              "member": request.method == "PUT"})


@allow(SUPERVISOR, ADMIN)
async def schedule_override(request: web.Request) -> web.Response:
    acd = _acd(request)
    assert acd.redis is not None
    name = request.match_info["name"]
    key = Keys(acd.settings.redis_prefix).schedule_override(name)
    if request.method == "GET":
        return web.json_response({"schedule": name, "override": await acd.redis.get(key)})
    if request.method == "DELETE":
        await acd.redis.delete(key)
        return web.json_response({"schedule": name, "override": None})
    body = await _json(request)
    override = body.get("override")
    if override not in OVERRIDES:
        raise InvalidRequest(f"override must be one of {', '.join(OVERRIDES)}",
                             field="override", got=override)
    request[AUDIT] = {"override": override}
    await acd.redis.set(key, str(override))
    return web.json_response({"schedule": name, "override": override})


@allow(SUPERVISOR, ADMIN)
async def metrics(request: web.Request) -> web.Response:
    await refresh_metrics(_acd(request))
    body = generate_latest() + (await phone_metrics_text(_acd(request))).encode()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def make_api(acd: App) -> web.Application:
    assert acd.people is not None
    people = acd.people
    app = web.Application(middlewares=[http_errors_middleware, errors_middleware,
                                       session_middleware(people.storage),
                                       make_auth_middleware(people)])
    app[APP_KEY] = acd
    app[PEOPLE_KEY] = people
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/agents", list_agents)
    app.router.add_get("/api/agents/{agent_id}", get_agent)
    app.router.add_post("/api/agents/{agent_id}/{action}", agent_action)
    app.router.add_get("/api/queues", queues)
    app.router.add_get("/api/calls", calls)
    app.router.add_get("/api/flows", flows)
    app.router.add_get("/api/lists/{name}", list_members)
    app.router.add_put("/api/lists/{name}/{number}", list_change)
    app.router.add_delete("/api/lists/{name}/{number}", list_change)
    for method in ("GET", "PUT", "DELETE"):
        app.router.add_route(method, "/api/schedules/{name}/override", schedule_override)
    add_auth_routes(app)
    add_user_routes(app)
    add_live_routes(app)
    add_desk_routes(app)
    add_control_routes(app)
    add_definition_routes(app)
    add_openapi_routes(app)
    add_report_routes(app, acd.settings.pg_dsn.get_secret_value(), acd.settings.reports)
    if acd.settings.api.demo:
        # The demo back-ends the example flows look up (orders, CRM, payments).
        add_demo_routes(app)
    return app
