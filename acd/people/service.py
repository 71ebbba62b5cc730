"""The people layer of one acd node: users, sessions, audit, the live snapshot.

Built and owned by the composition root (acd.app.App); the API reaches it
through `PEOPLE_KEY`.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from acd.config import Settings
from acd.people.keys import PeopleKeys
from acd.people.sessions import HashedRedisStorage, LoginLimiter
from acd.people.users import UserStore
from acd.routing.client import RedisClient

logger = logging.getLogger(__name__)


class People:
    def __init__(self, settings: Settings, redis: RedisClient, pool: asyncpg.Pool) -> None:
        self.settings = settings
        self.redis = redis
        self.pool = pool
        self.keys = PeopleKeys(settings.redis_prefix)
        self.users = UserStore(pool)
        api = settings.api
        self.limiter = LoginLimiter(redis, self.keys, per_user=api.login_failures_per_user,
                                    per_address=api.login_failures_per_address,
                                    window_s=api.login_window)
        self.storage = HashedRedisStorage(redis, self.keys, max_age=api.session_max_age,
                                          secure=api.cookie_secure)

    async def audit(self, who: str, role: str | None, what: str, source: str | None,
                    status: int | None, details: dict[str, Any] | None = None) -> None:
        """Write an audit row; a failure is logged, never hidden from the log."""
        try:
            await self.users.audit(who, role, what, source, status, details)
        except Exception:
            logger.exception("audit row not written: %s by %s", what, who)
