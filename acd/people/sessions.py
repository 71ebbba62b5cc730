"""Browser sessions in Redis, and the login rate limit (rooms that talk).

The cookie carries a random secret; Redis keeps the session under the secret's
sha256 only (`PeopleKeys.session`), so a Redis dump lets nobody in. The cookie
is HttpOnly and SameSite=Strict, and Secure when the page came over https
(`api.cookie_secure: auto`); `always` forces it (then plain-http pages on other
hosts than localhost cannot log in), `never` is for plain-http set-ups only.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from aiohttp import web
from aiohttp_session import AbstractStorage, Session

from acd.people.keys import PeopleKeys
from acd.routing.client import RedisClient

logger = logging.getLogger(__name__)

COOKIE = "acd_session"


class HashedRedisStorage(AbstractStorage):
    """aiohttp-session storage: sessions in Redis under the hash of the cookie."""

    def __init__(self, redis: RedisClient, keys: PeopleKeys, *, max_age: int,
                 secure: str = "auto") -> None:
        super().__init__(cookie_name=COOKIE, max_age=max_age, httponly=True,
                         samesite="Strict", path="/")
        self.redis = redis
        self.keys = keys
        self.secure = secure

    async def load_session(self, request: web.Request) -> Session:
        cookie = self.load_cookie(request)
        if not cookie or len(cookie) > 100:
            return Session(None, data=None, new=True, max_age=self.max_age)
        raw = await self.redis.get(self.keys.session(cookie))
        if raw is None:
            return Session(None, data=None, new=True, max_age=self.max_age)
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        return Session(cookie, data=data, new=False, max_age=self.max_age)

    async def save_session(self, request: web.Request, response: web.StreamResponse,
                           session: Session) -> None:
        secure = request.secure if self.secure == "auto" else self.secure == "always"
        self._cookie_params["secure"] = secure
        old = session.identity
        if session.empty:
            if old is not None:
                await self.redis.delete(self.keys.session(str(old)))
            self.save_cookie(response, "", max_age=session.max_age)
            return
        # A fresh secret on every login (no session fixation).
        key = secrets.token_urlsafe(32) if old is None or session.new else str(old)
        self.save_cookie(response, key, max_age=session.max_age)
        await self.redis.set(self.keys.session(key),
                             json.dumps(self._get_session_data(session)),
                             ex=session.max_age)

    async def forget(self, request: web.Request) -> None:
        cookie = self.load_cookie(request)
        if cookie:
            await self.redis.delete(self.keys.session(cookie))


class LoginLimiter:
    """Failed logins counted per user and per address in a window; past the limit,
    further attempts are refused until the window ends."""

    def __init__(self, redis: RedisClient, keys: PeopleKeys, *, per_user: int = 5,
                 per_address: int = 20, window_s: int = 300) -> None:
        self.redis = redis
        self.keys = keys
        self.per_user = per_user
        self.per_address = per_address
        self.window_s = window_s

    async def blocked(self, name: str, address: str) -> bool:
        user, addr = await self.redis.mget(self.keys.login_fail_user(name),
                                           self.keys.login_fail_addr(address))
        return int(user or 0) >= self.per_user or int(addr or 0) >= self.per_address

    async def failed(self, name: str, address: str) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in (self.keys.login_fail_user(name), self.keys.login_fail_addr(address)):
                pipe.incr(key)
                pipe.expire(key, self.window_s, nx=True)
            await pipe.execute()

    async def succeeded(self, name: str) -> None:
        await self.redis.delete(self.keys.login_fail_user(name))


def session_user(session: Session) -> dict[str, Any] | None:
    user = session.get("user")
    return user if isinstance(user, dict) else None
