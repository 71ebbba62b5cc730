"""A call's records in Redis: the re-adoption record (what a restarted acd needs
to find the call again, see acd.calls.recovery) and a callback task's details."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from redis.exceptions import RedisError

from acd.clock import Clock
from acd.outage import report
from acd.routing.client import RedisClient
from acd.routing.keys import Keys

logger = logging.getLogger(__name__)

RECORD_TTL_S = 6 * 3600
CALLBACK_TTL_S = 7 * 24 * 3600
# Seconds (clock time) between attempts to delete a finished call's record while
# Redis is away; after the last one the record's own expiry is the net.
FORGET_RETRIES = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def record_key(prefix: str, channel_id: str) -> str:
    """The Redis key of a channel's re-adoption record."""
    return Keys(prefix).channel_record(channel_id)


def callback_key(prefix: str, routing_id: str) -> str:
    return Keys(prefix).callback_record(routing_id)


class Records:
    def __init__(self, redis: RedisClient, prefix: str, clock: Clock) -> None:
        self.redis = redis
        self.prefix = prefix
        self.clock = clock
        self._forgetting: set[asyncio.Task[None]] = set()

    async def remember(self, channel_id: str, fields: Mapping[str, str | int]) -> None:
        """Write the record; a failed write is tried once more at once (it is whole
        each time, so twice is harmless): what it says (e.g. "the agent's `complete` is
        written") is what keeps a restarted acd from writing rows twice."""
        try:
            await self._remember(channel_id, fields)
        except RedisError:
            await self._remember(channel_id, fields)

    async def _remember(self, channel_id: str, fields: Mapping[str, str | int]) -> None:
        key = record_key(self.prefix, channel_id)
        # One round trip for both commands: this runs twice on every call's hot path.
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping=dict(fields))  # type: ignore[arg-type]
            pipe.expire(key, RECORD_TTL_S)
            await pipe.execute()

    async def forget(self, channel_id: str) -> None:
        key = record_key(self.prefix, channel_id)
        try:
            await self.redis.delete(key)
        except Exception as exc:  # an outage is logged once, not once per call
            report(logger, exc, "re-adoption record of %s not deleted; retrying", channel_id)
            task = asyncio.get_running_loop().create_task(self._forget_later(key))
            self._forgetting.add(task)
            task.add_done_callback(self._forgetting.discard)

    async def _forget_later(self, key: str) -> None:
        for delay in FORGET_RETRIES:
            await self.clock.sleep(delay)
            try:
                await self.redis.delete(key)
                return
            except Exception:
                continue
        logger.error("re-adoption record %s not deleted; it expires on its own", key)

    async def close(self) -> None:
        for task in list(self._forgetting):
            task.cancel()
        if self._forgetting:
            await asyncio.wait(self._forgetting, timeout=1.0)

    async def remember_callback(self, routing_id: str, fields: Mapping[str, str | int]
                                ) -> None:
        key = callback_key(self.prefix, routing_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping=dict(fields))  # type: ignore[arg-type]
            pipe.expire(key, CALLBACK_TTL_S)
            await pipe.execute()

    async def callback_attempt(self, routing_id: str) -> int:
        """Count one more attempt to call back; the attempt number (1 = first)."""
        key = callback_key(self.prefix, routing_id)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hincrby(key, "tries", 1)
                pipe.expire(key, CALLBACK_TTL_S)
                tries, _ = await pipe.execute()
            return int(tries)
        except Exception as exc:
            report(logger, exc, "callback %s: could not count the attempt", routing_id)
            return 1

    async def forget_callback(self, routing_id: str) -> None:
        await self.redis.delete(callback_key(self.prefix, routing_id))
