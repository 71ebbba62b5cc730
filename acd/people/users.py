"""Users, API tokens and the audit trail in PostgreSQL (a room that talks).

Passwords are kept as argon2id hashes (argon2-cffi), tokens as the sha256 of the
token: neither is ever stored, logged or returned in clear after it is made. A
token reads `acd_<id>_<secret>`; the id is public (to list and revoke it).
"""

from __future__ import annotations

import asyncio
import builtins
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from acd.errors import Conflict, InvalidRequest, NotFound
from acd.people.keys import digest

ROLES = ("agent", "supervisor", "admin")
NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD, MAX_PASSWORD = 8, 256

_hasher = PasswordHasher()
# Verified against when the user does not exist, so that an unknown name costs
# the same time as a wrong password.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: str
    agent_id: str | None = None

    def view(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "agent_id": self.agent_id}


def check_user(name: str, role: str, agent_id: str | None) -> None:
    """Refuse a malformed user with words the operator can act on."""
    if not NAME.match(name):
        raise InvalidRequest("a user name is 1-64 letters, digits, '_', '.', '@' or '-'",
                             field="name")
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}", field="role", got=role)
    if (role == "agent") != bool(agent_id):
        raise InvalidRequest("an agent user needs --agent ID; other roles take none",
                             field="agent_id")


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidRequest(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters",
                             field="password")


async def hash_password(password: str) -> str:
    check_password(password)
    return await asyncio.to_thread(_hasher.hash, password)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _user(row: asyncpg.Record) -> User:
    return User(row["name"], row["role"], row["agent_id"])


class UserStore:
    """Users, tokens and audit rows on an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    # ----------------------------------------------------------------- users

    async def add(self, name: str, role: str, password: str,
                  agent_id: str | None = None) -> User:
        check_user(name, role, agent_id)
        hashed = await hash_password(password)
        try:
            await self.pool.execute(
                "INSERT INTO users (name, role, agent_id, password_hash) VALUES ($1,$2,$3,$4)",
                name, role, agent_id or None, hashed)
        except asyncpg.UniqueViolationError as exc:
            what = "agent" if "agent" in str(exc.constraint_name or "") else "user"
            raise Conflict(f"that {what} already has a user", name=name,
                           agent_id=agent_id) from exc
        return User(name, role, agent_id or None)

    async def get(self, name: str) -> User | None:
        row = await self.pool.fetchrow("SELECT name, role, agent_id FROM users WHERE name=$1",
                                       name)
        return _user(row) if row else None

    async def list(self) -> builtins.list[User]:
        rows = await self.pool.fetch("SELECT name, role, agent_id FROM users ORDER BY name")
        return [_user(r) for r in rows]

    async def remove(self, name: str) -> None:
        done = await self.pool.execute("DELETE FROM users WHERE name=$1", name)
        if done.endswith(" 0"):
            raise NotFound(f"no user {name!r}", name=name)

    async def set_password(self, name: str, password: str) -> None:
        hashed = await hash_password(password)
        done = await self.pool.execute("UPDATE users SET password_hash=$2 WHERE name=$1",
                                       name, hashed)
        if done.endswith(" 0"):
            raise NotFound(f"no user {name!r}", name=name)

    async def verify(self, name: str, password: str) -> User | None:
        """The user when the password is theirs; None otherwise (same cost either way)."""
        row = await self.pool.fetchrow(
            "SELECT name, role, agent_id, password_hash FROM users WHERE name=$1", name)
        hashed = row["password_hash"] if row else _DUMMY
        ok = await asyncio.to_thread(_verify, hashed, password[:MAX_PASSWORD])
        return _user(row) if row and ok else None

    # ---------------------------------------------------------------- tokens

    async def create_token(self, name: str, label: str = "") -> tuple[str, str]:
        """A new token for user `name`: (token id, the token). Only its hash is kept."""
        if await self.get(name) is None:
            raise NotFound(f"no user {name!r}", name=name)
        token_id = secrets.token_hex(6)
        token = f"acd_{token_id}_{secrets.token_urlsafe(32)}"
        await self.pool.execute(
            "INSERT INTO api_tokens (token_id, token_hash, user_name, label) "
            "VALUES ($1,$2,$3,$4)", token_id, digest(token), name, label[:200])
        return token_id, token

    async def revoke_token(self, token_id: str) -> None:
        done = await self.pool.execute(
            "UPDATE api_tokens SET revoked_at=now() WHERE token_id=$1 AND revoked_at IS NULL",
            token_id)
        if done.endswith(" 0"):
            raise NotFound(f"no live token {token_id!r}", token_id=token_id)

    async def tokens(self) -> builtins.list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT token_id, user_name, label, created_at, revoked_at FROM api_tokens "
            "ORDER BY created_at")
        return [{"token_id": r["token_id"], "user": r["user_name"], "label": r["label"],
                 "created_at": _iso(r["created_at"]), "revoked_at": _iso(r["revoked_at"])}
                for r in rows]

    async def by_token(self, token: str) -> User | None:
        if not token.startswith("acd_") or len(token) > 200:
            return None
        row = await self.pool.fetchrow(
            "SELECT u.name, u.role, u.agent_id FROM api_tokens t JOIN users u "
            "ON u.name = t.user_name WHERE t.token_hash=$1 AND t.revoked_at IS NULL",
            digest(token))
        return _user(row) if row else None

    # ----------------------------------------------------------------- audit

    async def audit(self, who: str, role: str | None, what: str, source: str | None,
                    status: int | None, details: dict[str, Any] | None = None) -> None:
        await self.pool.execute(
            "INSERT INTO audit (who, role, what, source, status, details) "
            "VALUES ($1,$2,$3,$4,$5,$6::jsonb)", who, role, what, source, status,
            json.dumps(details or {}))

    async def audit_rows(self, limit: int = 100) -> builtins.list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT at, who, role, what, source, status, details FROM audit "
            "ORDER BY id DESC LIMIT $1", limit)
        return [{"at": _iso(r["at"]), "who": r["who"], "role": r["role"], "what": r["what"],
                 "source": r["source"], "status": r["status"],
                 "details": json.loads(r["details"]) if r["details"] else {}} for r in rows]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None
