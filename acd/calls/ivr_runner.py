"""Carries the pure IVR engine's actions out on ARI, and feeds results back.

The engine decides; this module talks. Every failure becomes an event the engine
understands (a failed prompt is a finished prompt, a failed HTTP lookup is an
`HttpResult` with an error), so a flow always moves on and nobody is left in
silence.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Literal

import aiohttp

from acd.ari import events as ev
from acd.ari.errors import AriError
from acd.calls.call import Call, Phase
from acd.calls.http_guard import GuardedHttp, Refused
from acd.calls.messages import FeedIvr
from acd.ivr import actions as a
from acd.ivr import engine
from acd.ivr.secret import json_default

# Announcements share `Call.playing` with the IVR's prompts (so that stopping the
# prompts stops them too) under this play id, which the engine never hands out.
ANNOUNCEMENT = -1

if TYPE_CHECKING:
    from acd.calls.flow import CallDeps
    from acd.calls.service import CallService

logger = logging.getLogger(__name__)


class IvrRunner:
    def __init__(self, deps: CallDeps, service: CallService) -> None:
        self.d = deps
        self.svc = service
        self._http: GuardedHttp | None = None

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    # --------------------------------------------------------------- entry

    async def start(self, call: Call) -> None:
        flow = self.d.flows.for_number(call.dialled)
        if flow is None:
            logger.warning("call %s: no flow for %r; back to the dialplan", call.call_id,
                           call.dialled)
            await self.svc.flow._to_dialplan(call)
            return
        call.flow_name = flow.name
        call.flow_version = flow.version
        ctx = engine.IvrContext(
            call_id=call.call_id,
            caller_number=call.caller_number,
            dialled=call.dialled,
            language=call.language,
            flows=self.d.flows.snapshot(),
        )
        state, actions = engine.start(flow, ctx, self.d.clock.now())
        call.ivr = state
        await self._run(call, actions)

    async def feed(self, call: Call, event: a.IvrEvent) -> None:
        if call.ivr is None or call.caller_gone or call.phase is not Phase.IVR:
            return
        state, actions = engine.step(call.ivr, event, self.d.clock.now())
        call.ivr = state
        await self._run(call, actions)

    async def digit(self, call: Call, digit: str) -> None:
        if call.phase is Phase.IVR:
            await self.feed(call, a.Digit(digit))

    async def playback_finished(self, call: Call, playback_id: str) -> None:
        play_id = call.playing.pop(playback_id, None)
        if play_id == ANNOUNCEMENT:
            await self.svc.flow.announcement_done(call)
        elif play_id is not None:
            await self.feed(call, a.PromptsDone(play_id))

    async def recording_finished(
        self, call: Call, event: ev.RecordingFinished | ev.RecordingFailed
    ) -> None:
        pending = call.extra.pop("recording", None)
        if pending is None:
            return
        request_id, name = pending
        ok = isinstance(event, ev.RecordingFinished)
        await self.feed(call, a.RecordingDone(request_id, name if ok else None))

    # ------------------------------------------------------------- actions

    async def _run(self, call: Call, actions: list[a.Action]) -> None:
        for action in actions:
            if call.caller_gone:
                return
            await self._one(call, action)

    async def _one(self, call: Call, action: a.Action) -> None:
        if isinstance(action, a.Play):
            await self._play(call, action)
        elif isinstance(action, a.StopPrompts):
            await self.stop_prompts(call)
        elif isinstance(action, a.StartTimer):
            timer_id = action.timer_id
            old = call.timers.pop(timer_id, None)
            if old is not None:
                old.cancel()
            call.timers[timer_id] = self.d.clock.call_later(
                action.seconds, lambda: self._fire(call, timer_id)
            )
        elif isinstance(action, a.CancelTimer):
            handle = call.timers.pop(action.timer_id, None)
            if handle is not None:
                handle.cancel()
        elif isinstance(action, a.Enqueue):
            await self.stop_prompts(call)
            call.announce = dict(action.announce)
            call.callback_key = action.callback_key
            call.callback_number = action.callback_number
            call.callback_offer = action.callback_offer
            await self.svc.flow.enqueue(
                call, action.queue, dict(action.skills), action.priority, action.max_wait,
                action.chain, action.preferred_agent,
            )
        elif isinstance(action, a.Hangup):
            await self.stop_prompts(call)
            call.outcome = call.outcome or "ivr_hangup"
            await self.svc.flow._hangup(call.channel_id, reason=action.reason)
        elif isinstance(action, a.Transfer):
            await self._transfer(call, action)
        elif isinstance(action, a.HttpRequest):
            asyncio.get_running_loop().create_task(self._http_request(call, action))
        elif isinstance(action, a.CheckList):
            await self._check_list(call, action)
        elif isinstance(action, a.CheckOverride):
            await self._check_override(call, action)
        elif isinstance(action, a.Record):
            await self._record(call, action)
        elif isinstance(action, a.SetLanguage):
            call.language = action.language

    def _fire(self, call: Call, timer_id: int) -> None:
        if call.timers.pop(timer_id, None) is not None:
            self.svc.post(call, FeedIvr(a.TimerFired(timer_id)))

    def cancel_timers(self, call: Call) -> None:
        for handle in call.timers.values():
            handle.cancel()
        call.timers.clear()

    async def _play(self, call: Call, action: a.Play) -> None:
        lang = action.language or call.language
        logger.info("call %s: plays %s", call.call_id[:8], ", ".join(action.prompts))
        try:
            playback = await self.d.ari.play(call.channel_id, list(action.prompts), lang=lang)
        except AriError as exc:
            if exc.gone:
                return  # the hang-up event follows
            logger.warning("call %s: play %s failed: %s", call.call_id, action.prompts, exc)
            self.svc.post(call, FeedIvr(a.PromptsDone(action.play_id)))
            return
        call.playing[playback.id] = action.play_id

    async def stop_prompts(self, call: Call) -> None:
        playing, call.playing = call.playing, {}
        for playback_id in playing:
            try:
                await self.d.ari.stop_playback(playback_id)
            except AriError as exc:
                if not exc.gone:
                    logger.info("call %s: stop playback: %s", call.call_id, exc)

    async def _transfer(self, call: Call, action: a.Transfer) -> None:
        await self.stop_prompts(call)
        call.transferred = True
        call.outcome = "transferred"
        try:
            if action.kind == "endpoint":
                await self.d.ari.redirect(call.channel_id, action.target)
            else:
                await self.d.ari.continue_in_dialplan(
                    call.channel_id, context=action.context, extension=action.target,
                    priority=1,
                )
        except AriError as exc:
            logger.warning("call %s: transfer to %s failed: %s", call.call_id, action.target,
                           exc)
            call.transferred = False
            await self.svc.flow._hangup(call.channel_id)

    async def _http_request(self, call: Call, action: a.HttpRequest) -> None:
        if self._http is None:
            self._http = GuardedHttp(self.d.http_policy)
        result: a.HttpResult
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
            result = a.HttpResult(action.request_id, status, body)
        except Refused as exc:
            logger.warning("call %s: http request refused: %s", call.call_id, exc)
            result = a.HttpResult(action.request_id, None, None, "error: refused")
        except TimeoutError:
            result = a.HttpResult(action.request_id, None, None, "timeout")
        except (aiohttp.ClientError, OSError, ValueError, TypeError) as exc:
            result = a.HttpResult(action.request_id, None, None, f"error: {type(exc).__name__}")
        self.svc.post(call, FeedIvr(result))

    async def _check_list(self, call: Call, action: a.CheckList) -> None:
        key = f"{self.d.redis_prefix}:list:{action.list_name}"
        try:
            member = bool(await self.d.redis.sismember(key, action.number))
        except Exception:
            logger.exception("call %s: list lookup failed; treated as not a member",
                             call.call_id)
            member = False
        self.svc.post(call, FeedIvr(a.ListResult(action.request_id, member)))

    async def _check_override(self, call: Call, action: a.CheckOverride) -> None:
        key = f"{self.d.redis_prefix}:schedule-override:{action.schedule}"
        override: Literal["open", "closed", "emergency"] | None = None
        try:
            value = await self.d.redis.get(key)
            if value == "open":
                override = "open"
            elif value == "closed":
                override = "closed"
            elif value == "emergency":
                override = "emergency"
        except Exception:
            logger.exception("call %s: schedule override lookup failed", call.call_id)
        self.svc.post(call, FeedIvr(a.OverrideResult(action.request_id, override)))

    async def _record(self, call: Call, action: a.Record) -> None:
        name = f"voicemail-{call.call_id}-{action.request_id}"
        call.extra["recording"] = (action.request_id, name)
        try:
            await self.d.ari.record(call.channel_id, name, "wav",
                                    max_duration=int(action.max_seconds), beep=action.beep)
        except AriError as exc:
            logger.warning("call %s: recording failed: %s", call.call_id, exc)
            call.extra.pop("recording", None)
            self.svc.post(call, FeedIvr(a.RecordingDone(action.request_id, None)))
