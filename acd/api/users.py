"""Admin routes: users, API tokens, the audit trail."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from acd.api.access import ADMIN, allow
from acd.api.auth import AUDIT, PEOPLE_KEY
from acd.api.body import json_object
from acd.errors import InvalidRequest


async def _body(request: web.Request) -> dict[str, Any]:
    return await json_object(request)  # bounded: size, depth, strings (acd.api.body)


def _text(body: dict[str, Any], field: str, *, required: bool = True) -> str | None:
    value = body.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be a string", field=field)
    return value


@allow(ADMIN)
async def list_users(request: web.Request) -> web.Response:
    """Every user with their role (and agent id)."""
    users = await request.app[PEOPLE_KEY].users.list()
    return web.json_response([u.view() for u in users])


@allow(ADMIN)
async def add_user(request: web.Request) -> web.Response:
    """Add a user: {name, role, agent_id?, password}."""
    body = await _body(request)
    name, role = _text(body, "name"), _text(body, "role")
    agent_id, password = _text(body, "agent_id", required=False), _text(body, "password")
    assert name is not None and role is not None and password is not None
    request[AUDIT] = {"user": name, "role": role, "agent_id": agent_id}
    user = await request.app[PEOPLE_KEY].users.add(name, role, password, agent_id)
    return web.json_response(user.view(), status=201)


@allow(ADMIN)
async def remove_user(request: web.Request) -> web.Response:
    """Remove a user; their tokens and sessions stop working at once."""
    await request.app[PEOPLE_KEY].users.remove(request.match_info["name"])
    return web.json_response({"name": request.match_info["name"], "removed": True})


@allow(ADMIN)
async def set_password(request: web.Request) -> web.Response:
    """Set a user's password: {password}."""
    password = _text(await _body(request), "password")
    assert password is not None
    await request.app[PEOPLE_KEY].users.set_password(request.match_info["name"], password)
    return web.json_response({"name": request.match_info["name"], "password": "changed"})


@allow(ADMIN)
async def list_tokens(request: web.Request) -> web.Response:
    """API tokens (never the tokens themselves)."""
    return web.json_response(await request.app[PEOPLE_KEY].users.tokens())


@allow(ADMIN)
async def create_token(request: web.Request) -> web.Response:
    """Create a token for a user: {user, label?}; the token is shown this once."""
    body = await _body(request)
    user = _text(body, "user")
    label = _text(body, "label", required=False) or ""
    assert user is not None
    token_id, token = await request.app[PEOPLE_KEY].users.create_token(user, label)
    request[AUDIT] = {"user": user, "token_id": token_id}
    return web.json_response({"token_id": token_id, "token": token, "user": user}, status=201)


@allow(ADMIN)
async def revoke_token(request: web.Request) -> web.Response:
    """Revoke a token by its id."""
    await request.app[PEOPLE_KEY].users.revoke_token(request.match_info["token_id"])
    return web.json_response({"token_id": request.match_info["token_id"], "revoked": True})


@allow(ADMIN)
async def audit(request: web.Request) -> web.Response:
    """The latest audit rows (?limit=, at most 1000)."""
    try:
        limit = max(1, min(1000, int(request.query.get("limit", "100"))))
    except ValueError as exc:
        raise InvalidRequest("limit must be a number", field="limit") from exc
    return web.json_response(await request.app[PEOPLE_KEY].users.audit_rows(limit))


def add_user_routes(app: web.Application) -> None:
    app.router.add_get("/api/users", list_users)
    app.router.add_post("/api/users", add_user)
    app.router.add_delete("/api/users/{name}", remove_user)
    app.router.add_put("/api/users/{name}/password", set_password)
    app.router.add_get("/api/tokens", list_tokens)
    app.router.add_post("/api/tokens", create_token)
    app.router.add_delete("/api/tokens/{token_id}", revoke_token)
    app.router.add_get("/api/audit", audit)
