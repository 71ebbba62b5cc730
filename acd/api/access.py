"""Who may call a route: every handler declares the roles it allows.

`@allow("supervisor", "admin")` on a handler records its roles; the auth layer
reads them for each request (and refuses a route that declares none). `PUBLIC`
marks the few routes anyone may reach (health, the login page itself).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

PUBLIC = "public"
AGENT = "agent"
SUPERVISOR = "supervisor"
ADMIN = "admin"
ROLES = frozenset({AGENT, SUPERVISOR, ADMIN})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

_ATTR = "__acd_roles__"


def allow(*roles: str) -> Callable[[H], H]:
    """Declare the roles (or PUBLIC) that may call this handler."""
    unknown = set(roles) - ROLES - {PUBLIC}
    if not roles or unknown:
        raise ValueError(f"allow() needs roles from {sorted(ROLES | {PUBLIC})}, got {roles}")

    def mark(handler: H) -> H:
        setattr(handler, _ATTR, frozenset(roles))
        return handler

    return mark


def roles_of(handler: object) -> frozenset[str] | None:
    """The roles a handler declared, or None when it declared none."""
    roles = getattr(handler, _ATTR, None)
    return roles if isinstance(roles, frozenset) else None
