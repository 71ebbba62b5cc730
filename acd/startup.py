"""Start-up failures in one line each: what failed, where, and what to do.

App.start calls these around each thing it opens (a listening port, Redis,
PostgreSQL, the ARI password check) and they raise StartupError, which `acd`
prints as one line (the traceback only with `-v`). Addresses are shown without
their password.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from redis.exceptions import RedisError

from acd.errors import StartupError

T = TypeVar("T")

# The ARI passwords the repository's templates carry: never good for a real Asterisk.
TEMPLATE_ARI_PASSWORDS = frozenset({"acd", "change-me", "changeme", "change-me-ari", ""})
SECRETS_HINT = ("run config/asterisk/make-secrets.sh and set ACD_ARI_PASSWORD to the "
                "password it wrote (see config/asterisk/README.md)")


def redact(url: str) -> str:
    """`url` without its password (postgresql://u:secret@h/db -> postgresql://u:***@h/db)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable address>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


async def listening(what: str, host: str, port: int, where: str,
                    start: Awaitable[T]) -> T:
    """Await `start` (a server binding host:port); a port in use becomes one line."""
    try:
        return await start
    except OSError as exc:
        raise StartupError(
            f"{what} cannot listen on {host}:{port} ({where}): {_why(exc)}; stop what "
            f"uses that port or choose another", host=host, port=port) from exc


async def reach_redis(client: Any, url: str) -> None:
    """PING Redis; unreachable becomes one line."""
    try:
        await asyncio.wait_for(client.ping(), timeout=10)
    except (RedisError, OSError, TimeoutError) as exc:
        raise StartupError(
            f"cannot reach Redis at {redact(url)} (redis_url, ACD_REDIS_URL): {_why(exc)}; "
            "start it (config/setup-services.sh) or fix redis_url") from exc


async def reach_postgres(step: Awaitable[T], dsn: str) -> T:
    """Await a PostgreSQL step (connect, migrate); unreachable becomes one line."""
    try:
        return await step
    except (OSError, TimeoutError, asyncpg.PostgresError,
            asyncpg.InterfaceError) as exc:
        raise StartupError(
            f"cannot use PostgreSQL at {redact(dsn)} (pg_dsn, ACD_PG_DSN): {_why(exc)}; "
            "start it (config/setup-services.sh) or fix pg_dsn") from exc


def check_ari_password(url: str, password: str | None, simulated: bool) -> None:
    """Refuse a real Asterisk with a template password (the simulator is fine)."""
    if simulated or password is None:
        return
    if password.strip().lower() in TEMPLATE_ARI_PASSWORDS:
        raise StartupError(
            f"refusing to attach to Asterisk at {redact(url)} with the template ARI "
            f"password (ari.password, ACD_ARI_PASSWORD); {SECRETS_HINT}")
