"""The IVR's look-ups, carried out: an `http` node's request (within the
allow-list), a caller list, a schedule's override. Each answers with the result
event the engine expects, whatever happens: a failed look-up is a result too
(an HTTP error, "not a member", no override), so a flow always moves on."""

from __future__ import annotations

import json
import logging
from typing import Literal

import aiohttp

from acd.calls.http_guard import GuardedHttp, Refused
from acd.ivr import actions as a
from acd.ivr.http_policy import HttpPolicy
from acd.ivr.secret import json_default
from acd.outage import report
from acd.routing.client import RedisClient
from acd.routing.keys import Keys

logger = logging.getLogger(__name__)


class Lookups:
    def __init__(self, redis: RedisClient, prefix: str, policy: HttpPolicy) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.policy = policy
        self._http: GuardedHttp | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    async def http(self, call_id: str, action: a.HttpRequest) -> a.HttpResult:
        if self._http is None:
            self._http = GuardedHttp(self.policy)
        headers = dict(action.headers)
        data: str | None = None
        if action.json_body is not None:
            # Masked values travel as Secret objects; only here do they become text.
            data = json.dumps(action.json_body, default=json_default)
            headers.setdefault("Content-Type", "application/json")
        try:
            status, body = await self._http.request(
                action.method, action.url, params=dict(action.params) or None, data=data,
                headers=headers or None, timeout=action.timeout)
            return a.HttpResult(action.request_id, status, body)
        except Refused as exc:
            logger.warning("call %s: http request refused: %s", call_id, exc)
            return a.HttpResult(action.request_id, None, None, "error: refused")
        except TimeoutError:
            return a.HttpResult(action.request_id, None, None, "timeout")
        except (aiohttp.ClientError, OSError, ValueError, TypeError) as exc:
            return a.HttpResult(action.request_id, None, None, f"error: {type(exc).__name__}")

    async def check_list(self, call_id: str, action: a.CheckList) -> a.ListResult:
        try:
            member = bool(await self.redis.sismember(self.keys.caller_list(action.list_name),
                                                     action.number))
        except Exception as exc:
            report(logger, exc, "call %s: list lookup failed; treated as not a member",
                   call_id)
            member = False
        return a.ListResult(action.request_id, member)

    async def check_override(self, call_id: str, action: a.CheckOverride
                             ) -> a.OverrideResult:
        override: Literal["open", "closed", "emergency"] | None = None
        try:
            value = await self.redis.get(self.keys.schedule_override(action.schedule))
            if value == "open":
                override = "open"
            elif value == "closed":
                override = "closed"
            elif value == "emergency":
                override = "emergency"
        except Exception as exc:
            report(logger, exc, "call %s: schedule override lookup failed", call_id)
        return a.OverrideResult(action.request_id, override)
