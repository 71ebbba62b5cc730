"""The OpenAPI 3 document of the running API, built from its router.

Built from the routes themselves, so it cannot drift from them: each operation
lists its path parameters, the roles it allows (`x-roles`) and the handler's
first docstring line as its summary.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from acd.api.access import PUBLIC, allow, roles_of

_PARAM = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")
ERROR = {"$ref": "#/components/schemas/Error"}


def routes_of(app: web.Application) -> list[tuple[str, str, Any]]:
    """(METHOD, path template, handler) of every route (aiohttp's implicit HEAD
    routes left out)."""
    out = []
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        path = _PARAM.sub(r"{\1}", route.resource.canonical)
        out.append((route.method, path, route.handler))
    return out


def build_openapi(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for method, path, handler in routes_of(app):
        roles = sorted(roles_of(handler) or ())
        doc = (getattr(handler, "__doc__", None) or "").strip().splitlines()
        op: dict[str, Any] = {
            "summary": doc[0] if doc else f"{method} {path}",
            "operationId": f"{method.lower()}_{path.strip('/').replace('/', '_')}"
                           .replace("{", "").replace("}", "") or "root",
            "x-roles": roles,
            "parameters": [{"name": p, "in": "path", "required": True,
                            "schema": {"type": "string"}} for p in _PARAM.findall(path)],
            "responses": {
                "200": {"description": "done"},
                "400": {"description": "bad input", "content": {
                    "application/json": {"schema": ERROR}}},
                **({} if PUBLIC in roles else {
                    "401": {"description": "not logged in", "content": {
                        "application/json": {"schema": ERROR}}},
                    "403": {"description": "role not allowed", "content": {
                        "application/json": {"schema": ERROR}}}}),
            },
        }
        if PUBLIC not in roles:
            op["security"] = [{"session": []}, {"token": []}]
        if method in ("POST", "PUT", "PATCH"):
            op["requestBody"] = {"required": False, "content": {
                "application/json": {"schema": {"type": "object"}}}}
        paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": "acd", "version": "1",
                 "description": "acd's REST API. State-changing requests need "
                                "Content-Type: application/json."},
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "acd_session"},
                "token": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {"Error": {"type": "object", "required": ["error_id", "message"],
                                  "properties": {"error_id": {"type": "string"},
                                                 "message": {"type": "string"},
                                                 "details": {"type": "object"}}}},
        },
    }


@allow(PUBLIC)
async def openapi(request: web.Request) -> web.Response:
    """This document."""
    return web.json_response(build_openapi(request.app))


def add_openapi_routes(app: web.Application) -> None:
    app.router.add_get("/api/openapi.json", openapi)
