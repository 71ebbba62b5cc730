"""Who is asking, and may they: sessions and tokens, roles, CSRF, audit.

Every route declares its roles (`acd.api.access.allow`); this middleware refuses
a route that declares none, an anonymous request (401), a role the route does not
allow (403), and an agent acting on another agent (any route with `{agent_id}`).
A state-changing request (not GET/HEAD/OPTIONS) must say `Content-Type:
application/json` (415 otherwise: a plain HTML form or a `text/plain` fetch from
another site cannot) and come from this origin: a browser's `Origin` must be ours,
and a request carrying the session cookie must have one (browsers send it). Each
state-changing request that got past authentication lands in `audit`: who, what,
from where, the outcome.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp_session import get_session, new_session

from acd.api.access import ADMIN, AGENT, PUBLIC, SUPERVISOR, allow, roles_of
from acd.api.body import json_object
from acd.errors import AcdError, http_status
from acd.people.sessions import COOKIE
from acd.people.users import User

if TYPE_CHECKING:
    from acd.people.service import People

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PEOPLE_KEY: web.AppKey[People] = web.AppKey("people", object)  # type: ignore[arg-type]
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", object)  # type: ignore[arg-type]
# Handlers may add details for the audit row here.
AUDIT: web.RequestKey[dict[str, Any]] = web.RequestKey("audit", dict)
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
# Body fields never copied into an audit row.
SECRET_FIELDS = frozenset({"password", "token", "card", "pin", "secret"})


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    via: str  # "session" | "token"

    @property
    def role(self) -> str:
        return self.user.role


def refuse(status: int, error_id: str, message: str, **details: Any) -> web.HTTPException:
    """An HTTP error with acd's JSON error body."""
    body = json.dumps({"error_id": error_id, "message": message, "details": details})
    if status == 405:
        return web.HTTPMethodNotAllowed(str(details.get("method", "")),
                                        list(details.get("allowed", [])), text=body,
                                        content_type="application/json")
    classes: dict[int, type[web.HTTPException]] = {
        400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden,
        404: web.HTTPNotFound, 415: web.HTTPUnsupportedMediaType,
        429: web.HTTPTooManyRequests}
    return classes.get(status, web.HTTPBadRequest)(text=body, content_type="application/json")


def principal_of(request: web.Request) -> Principal:
    """The authenticated caller (only on routes that are not PUBLIC)."""
    p = request.get(PRINCIPAL)
    if not isinstance(p, Principal):
        raise refuse(401, "unauthenticated", "log in or send an API token")
    return p


def _same_origin(request: web.Request, origin: str, allowed: tuple[str, ...]) -> bool:
    own = f"{request.scheme}://{request.host}"
    return origin == own or origin in allowed


def _check_csrf(request: web.Request, cookie: bool, allowed: tuple[str, ...]) -> None:
    ctype = request.headers.get("Content-Type", "")
    if ctype.split(";", 1)[0].strip().lower() != "application/json":
        raise refuse(415, "json_required",
                     "a state-changing request needs Content-Type: application/json",
                     content_type=ctype[:100])
    origin = request.headers.get("Origin")
    if origin is not None and not _same_origin(request, origin, allowed):
        raise refuse(403, "cross_origin", "requests from another site are refused",
                     origin=origin[:200])
    if request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise refuse(403, "cross_origin", "requests from another site are refused")
    if origin is None and cookie:
        raise refuse(403, "origin_required",
                     "a browser request must carry an Origin; other clients use a token")


async def _resolve(request: web.Request, people: People) -> Principal | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        user = await people.users.by_token(header[7:].strip())
        return Principal(user, "token") if user else None
    session = await get_session(request)
    name = session.get("user")
    if not isinstance(name, str):
        return None
    user = await people.users.get(name)  # a removed user's sessions die with them
    return Principal(user, "session") if user else None


def _audit_details(request: web.Request, status: int) -> dict[str, Any]:
    details: dict[str, Any] = {"path": request.path, **dict(request.match_info)}
    extra = request.get(AUDIT)
    if isinstance(extra, dict):
        details.update({k: v for k, v in extra.items() if k not in SECRET_FIELDS})
    return details


def make_auth_middleware(people: People) -> Callable[..., Awaitable[web.StreamResponse]]:
    allowed = tuple(people.settings.api.allowed_origins)

    @web.middleware
    async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        match = request.match_info
        if match.http_exception is not None:
            raise match.http_exception
        roles = roles_of(match.handler)
        if roles is None:
            logger.error("route %s %s declares no roles: refused", request.method,
                         request.path)
            raise refuse(403, "route_undeclared", "this route declares no roles")
        unsafe = request.method not in SAFE
        bearer = request.headers.get("Authorization", "").lower().startswith("bearer ")
        if unsafe:
            _check_csrf(request, not bearer and COOKIE in request.cookies, allowed)
        if PUBLIC in roles:
            return await handler(request)
        principal = await _resolve(request, people)
        if principal is None:
            raise refuse(401, "unauthenticated", "log in or send an API token")
        if principal.role not in roles:
            raise refuse(403, "forbidden", f"a {principal.role} may not do this",
                         allowed=sorted(roles))
        agent_id = match.get("agent_id")
        if principal.role == AGENT and agent_id is not None \
                and agent_id != principal.user.agent_id:
            raise refuse(403, "not_yours", "an agent acts on itself only", agent_id=agent_id)
        request[PRINCIPAL] = principal
        if not unsafe:
            return await handler(request)
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except AcdError as exc:  # answered by errors_middleware, outside this one
            status = http_status(exc)
            raise
        finally:
            await people.audit(principal.user.name, principal.role,
                               f"{request.method} {match.route.resource.canonical}"
                               if match.route.resource else request.method,
                               request.remote, status, _audit_details(request, status))

    return auth_middleware


# ------------------------------------------------------------------ routes


def _people(request: web.Request) -> People:
    return request.app[PEOPLE_KEY]


@allow(PUBLIC)
async def login(request: web.Request) -> web.Response:
    people = _people(request)
    body = await json_object(request)  # bounded: size, depth, strings
    name = body.get("name")
    password = body.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or not name:
        raise refuse(400, "invalid_request", "send {\"name\", \"password\"}")
    name = name[:64]
    address = request.remote or "-"
    if await people.limiter.blocked(name, address):
        logger.warning("login refused for user %r from %s: too many failures", name, address)
        raise refuse(429, "too_many_attempts", "too many failed logins; try again later")
    user = await people.users.verify(name, password)
    if user is None:
        await people.limiter.failed(name, address)
        logger.warning("login failed for user %r from %s", name, address)
        await people.audit(name, None, "login failed", address, 401, {})
        raise refuse(401, "bad_credentials", "wrong user name or password")
    await people.limiter.succeeded(name)
    session = await new_session(request)
    session["user"] = user.name
    await people.audit(user.name, user.role, "login", address, 200, {})
    logger.info("user %s (%s) logged in from %s", user.name, user.role, address)
    return web.json_response(user.view())


@allow(AGENT, SUPERVISOR, ADMIN)
async def logout(request: web.Request) -> web.Response:
    p = principal_of(request)
    session = await get_session(request)
    await _people(request).storage.forget(request)
    session.invalidate()
    return web.json_response({"name": p.user.name, "logged_out": True})


@allow(AGENT, SUPERVISOR, ADMIN)
async def me(request: web.Request) -> web.Response:
    p = principal_of(request)
    return web.json_response({**p.user.view(), "via": p.via})


def add_auth_routes(app: web.Application) -> None:
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
