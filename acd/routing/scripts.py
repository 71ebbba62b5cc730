"""The routing Lua scripts: loaded once per client, called by SHA.

Each operation is one file in lua/; `_lib.lua` (shared helpers and the key
layout) is prepended to it. redis-py's AsyncScript calls EVALSHA and reloads the
script on NOSCRIPT, so a `SCRIPT FLUSH` or a restarted Redis is harmless.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from importlib import resources
from typing import Any, Literal

from redis.commands.core import AsyncScript

from acd import metrics
from acd.routing.client import RedisClient
from acd.routing.keys import Layout
from acd.routing.model import RoutingSettings

ScriptName = Literal[
    "agent_event", "sync_agents", "enqueue", "offer_ringing", "offer_answered",
    "offer_failed", "call_ended", "dequeue", "reap", "sweep", "match_agent", "renew",
    "to_callback", "callback_failed", "phone_set", "wrapup_extend", "standing",
    "reserve_agent",
]
SCRIPT_NAMES: tuple[ScriptName, ...] = (
    "agent_event", "sync_agents", "enqueue", "offer_ringing", "offer_answered",
    "offer_failed", "call_ended", "dequeue", "reap", "sweep", "match_agent", "renew",
    "to_callback", "callback_failed", "phone_set", "wrapup_extend", "standing",
    "reserve_agent",
)


def _source(name: str) -> str:
    return (resources.files("acd.routing") / "lua" / f"{name}.lua").read_text(encoding="utf-8")


@functools.cache
def script_text(name: ScriptName) -> str:
    """The full text sent to Redis: the shared library, then the operation."""
    return _source("_lib") + "\n" + _source(name)


def settings_json(settings: RoutingSettings) -> str:
    return json.dumps({
        "ttl": int(settings.reservation_ttl * 1000),
        "mm": settings.max_missed,
        "retry": int(settings.missed_retry_delay * 1000),
        "scan": settings.scan_limit,
        "ringmax": settings.ring_all_max,
        "oncall": int(settings.on_call_ttl * 1000),
    }, separators=(",", ":"))


def as_list(value: object) -> list[Any]:
    """cjson encodes an empty Lua table as {}: read it as an empty list."""
    return value if isinstance(value, list) else []


class Scripts:
    """The registered scripts of one Redis client, called with one layout."""

    def __init__(self, redis: RedisClient, layout: Layout, settings: RoutingSettings) -> None:
        self.layout = layout
        self._settings = settings_json(settings)
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(script_text(name)) for name in SCRIPT_NAMES
        }

    async def run(self, name: ScriptName, now_ms: int, *args: str | int) -> dict[str, Any]:
        """Run one operation; returns its decoded JSON result."""
        argv: Sequence[str | int] = (*self.layout.head, now_ms, self._settings, *args)
        began = time.perf_counter()
        try:
            raw = await self._scripts[name](keys=list(self.layout.keys), args=list(argv))
        finally:
            metrics.REDIS_SCRIPTS.labels(name).observe(time.perf_counter() - began)
        result: dict[str, Any] = json.loads(raw)
        result["changes"] = as_list(result.get("changes"))
        result["offers"] = as_list(result.get("offers"))
        return result
