"""Moves asked of a call (hold, transfer, monitor...) reach the node that owns it,
and their answer comes back.

    reply = await control.ask(call_id, "status", {}, by="agent:100")

A call this node holds gets the move as a `Control` event in its mailbox; the
machine (acd.calls.phases.control) answers with one `Reply`. A call another node
owns (routing's call record names the owner) gets it through that node's control
list in Redis (`{P}:control:<node>`), and the answer comes back on a list of its
own for this request (`{P}:control-reply:<id>`, expiring). Nothing here decides:
what a move means is the machine's; where the call lives is routing's record.
A move that gets no answer in time is answered `timeout` (the asker is told; the
move may still happen, as with any request that timed out).
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from acd.calls import commands as c
from acd.calls import events as e
from acd.outage import report
from acd.routing.client import RedisClient
from acd.routing.keys import Keys

if TYPE_CHECKING:
    from acd.calls.service import CallService

logger = logging.getLogger(__name__)

TIMEOUT_S = 5.0
MESSAGE_TTL_MS = 30_000
MAX_IN_FLIGHT = 256  # moves of other nodes handled at once; more wait in the list


def _reply(raw: Mapping[str, Any], request_id: str) -> c.Reply:
    data = raw.get("data")
    return c.Reply(request_id, bool(raw.get("ok")), raw.get("error_id"),
                   str(raw.get("message", "")), dict(data) if isinstance(data, dict) else {})


def _dump(reply: c.Reply) -> str:
    return json.dumps({"ok": reply.ok, "error_id": reply.error_id, "message": reply.message,
                       "data": dict(reply.data)})


class CallControl:
    def __init__(self, calls: CallService, redis: RedisClient, keys: Keys,
                 node_id: str) -> None:
        self.calls = calls
        self.redis = redis
        self.keys = keys
        self.node_id = node_id
        self._task: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    # ------------------------------------------------------------------ asking

    async def ask(self, call_id: str, action: str, args: Mapping[str, c.ControlArg],
                  by: str, timeout: float = TIMEOUT_S) -> c.Reply:
        """Ask the call (its call id, or its id in routing) for a move."""
        request_id = uuid.uuid4().hex
        event = e.Control(request_id, action, dict(args), by)
        local = self.calls.find(call_id)
        if local is not None:
            return await self._local(local.call_id, event, timeout)
        owner = await self._owner(call_id)
        if owner is None or owner == self.node_id:
            return c.Reply(request_id, False, "no_call", "acd holds no such call")
        return await self._remote(owner, call_id, event, timeout)

    async def _local(self, call_id: str, event: e.Control, timeout: float) -> c.Reply:
        if call_id not in self.calls.calls:
            return c.Reply(event.request_id, False, "no_call", "acd holds no such call")
        fut = self.calls.replies.expect(event.request_id)
        self.calls.post(call_id, event)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            return c.Reply(event.request_id, False, "timeout",
                           f"the call did not answer the move within {timeout:g} s")
        finally:
            self.calls.replies.forget(event.request_id)  # nothing when it was answered

    async def _owner(self, call_id: str) -> str | None:
        raw = await self.redis.hget(self.keys.calls, call_id)
        if not raw:
            return None
        owner = json.loads(raw).get("owner")
        return str(owner) if owner else None

    async def _remote(self, owner: str, call_id: str, event: e.Control,
                      timeout: float) -> c.Reply:
        reply_key = self.keys.control_reply(event.request_id)
        message = json.dumps({"id": event.request_id, "call": call_id, "action": event.action,
                              "args": dict(event.args), "by": event.by, "reply": reply_key,
                              "timeout": timeout})
        inbox = self.keys.control(owner)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.rpush(inbox, message)
            pipe.pexpire(inbox, MESSAGE_TTL_MS)
            await pipe.execute()
        item = await self.redis.blpop([reply_key], timeout=timeout + 0.5)
        if item is None:
            return c.Reply(event.request_id, False, "timeout",
                           f"node {owner} did not answer the move within {timeout:g} s")
        return _reply(json.loads(item[1]), event.request_id)

    # ------------------------------------------------------ moves of other nodes

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._inbox_loop(), name=f"control-{self.node_id}")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._handling) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        self._task = None

    async def _inbox_loop(self) -> None:
        key = self.keys.control(self.node_id)
        while True:
            try:
                await self._slots.acquire()
                try:
                    item = await self.redis.blpop([key], timeout=1)
                except BaseException:
                    self._slots.release()
                    raise
                if item is None:
                    self._slots.release()
                    continue
                task = asyncio.get_running_loop().create_task(self._serve(item[1]))
                self._handling.add(task)
                task.add_done_callback(self._handling.discard)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                report(logger, exc, "control %s: inbox read", self.node_id)
                await asyncio.sleep(0.5)

    async def _serve(self, raw: str | bytes) -> None:
        try:
            msg = json.loads(raw)
            request_id, reply_key = str(msg["id"]), str(msg["reply"])
            event = e.Control(request_id, str(msg["action"]), dict(msg.get("args") or {}),
                              str(msg.get("by", "")))
            timeout = min(float(msg.get("timeout", TIMEOUT_S)), TIMEOUT_S)
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("control %s: a message that is no move (%s)", self.node_id, exc)
            self._slots.release()
            return
        try:
            local = self.calls.find(str(msg.get("call", "")))
            reply = (await self._local(local.call_id, event, timeout) if local is not None
                     else c.Reply(request_id, False, "no_call", "acd holds no such call"))
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.rpush(reply_key, _dump(reply))
                pipe.pexpire(reply_key, MESSAGE_TTL_MS)
                await pipe.execute()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            report(logger, exc, "control %s: answer to %s", self.node_id, request_id)
        finally:
            self._slots.release()
