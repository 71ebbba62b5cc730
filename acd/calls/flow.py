"""A call's life: IVR -> queue -> offer -> bridge -> wrap-up, one item at a time.

Everything here runs inside the call's lane, so a call's state is never touched
by two coroutines at once. The decisions come from the pure IVR engine and from
the router's Lua scripts; this module only carries them out on ARI. This module
holds the dispatch, the caller's side, the queue and the finish; the agent side,
the waiting caller and the faults are in agent_side, waiting and gaps.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from acd import metrics
from acd.ari import events as ev
from acd.ari.errors import AriError
from acd.calls import records
from acd.calls.agent_side import AgentSide
from acd.calls.call import Call, Phase
from acd.calls.endings import q850
from acd.calls.flow_base import CallDeps as CallDeps
from acd.calls.flow_base import FlowBase
from acd.calls.gaps import Gaps
from acd.calls.ivr_runner import IvrRunner
from acd.calls.messages import (
    Announce,
    FeedIvr,
    LeftQueue,
    OfferMsg,
    Reap,
    Requeue,
    RingGuard,
    Start,
    StartCallback,
    Vanished,
    Verify,
)
from acd.calls.waiting import Waiting
from acd.ivr.actions import QueueExit
from acd.outage import CONNECTION_ERRORS, report

if TYPE_CHECKING:
    from acd.calls.service import CallService

logger = logging.getLogger(__name__)

class CallFlow(Gaps, Waiting, AgentSide, FlowBase):
    def __init__(self, deps: CallDeps, service: CallService) -> None:
        self.d = deps
        self.svc = service
        self.ivr = IvrRunner(deps, service)
        self._handlers = self._dispatch_table()
        self.handler_errors = 0

    async def handle(self, call: Call, item: object) -> None:
        """Handle one item of the call's lane. The per-call safety net: an
        unexpected exception sends a caller who is not talking to an agent back to
        the dialplan (its fallback serves them); connected parties stay bridged."""
        try:
            await self._handle(call, item)
        except CONNECTION_ERRORS as exc:
            # Redis or ARI away: an outage, no bug; the call's next events (or the
            # reconciliation once it is back) carry it on.
            report(logger, exc, "call %s: %s", call.call_id, type(item).__name__)
        except Exception:
            logger.exception("call %s: handler failed on %s", call.call_id, type(item).__name__)
            self.handler_errors += 1
            await self._safety_net(call)

    async def _handle(self, call: Call, item: object) -> None:
        if call.phase is Phase.ENDED:
            return
        if isinstance(item, ev.Event):
            if item.channel_id == call.channel_id:
                await self._caller_event(call, item)
            elif item.channel_id in call.legs:
                await self._agent_event(call, call.legs[item.channel_id], item)
            return
        handler = self._handlers.get(type(item))
        if handler is not None:
            await handler(call, item)

    def _dispatch_table(self) -> dict[type, Callable[[Call, Any], Awaitable[None]]]:
        return {
            Start: lambda c, i: self._start(c),
            Requeue: lambda c, i: self._requeue(c, i.lost),
            FeedIvr: lambda c, i: self.ivr.feed(c, i.event),
            OfferMsg: lambda c, i: self._offer(c, i.offer),
            RingGuard: lambda c, i: self._ring_guard(c, i.channel_id),
            LeftQueue: lambda c, i: self._left_queue(c, i.reason),
            Announce: self._announce,
            StartCallback: lambda c, i: self._start_callback(c, i.offer),
            Reap: lambda c, i: self._maybe_finish(c, force=True),
            Vanished: lambda c, i: self._vanished(c, i.channel_ids),
            Verify: lambda c, i: self._verify(c),
        }

    async def _start(self, call: Call) -> None:
        try:
            await self.d.ari.answer(call.channel_id)
        except AriError as exc:
            if exc.gone:
                await self._caller_gone(call, None)
                return
            logger.warning("call %s: answer failed: %s", call.call_id, exc)
        call.answered_ms = self.d.clock.ms()
        logger.info("call %s from %s to %s: answered", call.call_id[:8], call.caller_number,
                    call.dialled)
        await self.ivr.start(call)

    async def _caller_event(self, call: Call, event: ev.Event) -> None:
        if isinstance(event, ev.ChannelDtmfReceived):
            if call.phase is Phase.QUEUED and event.digit == call.callback_key:
                await self._callback_request(call)
            else:
                await self.ivr.digit(call, event.digit)
        elif call.phase is Phase.DIALLING and isinstance(
                event, ev.StasisStart | ev.Dial | ev.ChannelStateChange):
            await self._callback_progress(call, event)
        elif isinstance(event, ev.PlaybackFinished):
            await self.ivr.playback_finished(call, event.playback.id)
        elif isinstance(event, ev.RecordingFinished | ev.RecordingFailed):
            await self.ivr.recording_finished(call, event)
        elif isinstance(event, ev.ChannelHangupRequest):
            await self._caller_gone(call, event.cause)
        elif isinstance(event, ev.StasisEnd):
            # After StasisEnd a real Asterisk 22 tells the app about a dialplan caller
            # only if the app subscribed to it otherwise (named as originator of an
            # agent leg): StasisEnd is the last word acd can count on.
            call.caller_destroyed = True
            await self._caller_gone(call, None)
            call.ended_ms = self.d.clock.ms()
            await self._maybe_finish(call)
        elif isinstance(event, ev.ChannelDestroyed):
            if q850(event.cause) is not None:
                call.caller_cause = event.cause
            call.caller_destroyed = True
            await self._caller_gone(call, event.cause)
            await self._maybe_finish(call)

    async def _caller_gone(self, call: Call, cause: int | None) -> None:
        """The caller hung up (or was hung up): clean up whatever phase we are in."""
        if q850(cause) is not None and call.caller_cause is None:
            call.caller_cause = cause
        if call.caller_gone:
            return
        call.caller_gone = True
        call.ended_by = call.ended_by or "caller"  # acd sets it first when it hangs up
        call.ended_ms = self.d.clock.ms()
        self._arm_reap(call)
        self.ivr.cancel_timers(call)
        self._stop_waiting(call)
        phase = call.phase
        call.phase = Phase.ENDING
        if phase is Phase.DIALLING:
            await self._callback_unanswered(call)
        elif phase in (Phase.QUEUED, Phase.OFFERING):
            await self._abandon(call)
        elif phase is Phase.CONNECTED:
            call.outcome = call.outcome or "answered"
            leg = call.connected_leg
            if leg is not None and leg.ended_ms is None:
                await self._hangup(leg.channel_id)
            await self._end_connected(call)
        else:
            call.outcome = call.outcome or ("transferred" if call.transferred else "ivr_hangup")

    async def _abandon(self, call: Call) -> None:
        call.outcome = "abandoned"
        try:
            await self.d.router.dequeue(call.rid)
        except Exception as exc:
            report(logger, exc, "call %s: dequeue failed; the reaper will free it", call.call_id)
        for leg in call.live_legs():
            leg.outcome = "abandoned"
            await self._hangup(leg.channel_id)
        self._queue_event(call, "abandon", None)

    async def enqueue(self, call: Call, queue: str, skills: dict[str, int], priority: int,
                      max_wait: float | None, chain: str | None,
                      preferred_agent: str | None) -> None:
        call.phase = Phase.QUEUED
        call.queue = queue
        if call.enqueued_ms is None:
            call.enqueued_ms = self.d.clock.ms()
        await self._start_moh(call)
        req = records.queue_request(call, queue, skills, priority, chain, preferred_agent,
                                    max_wait)
        call.extra["queue_request"] = req  # to queue it again as it was (_requeue)
        try:
            result = await self.d.router.enqueue(req)
        except Exception as exc:
            report(logger, exc, "call %s: enqueue failed; back to the dialplan", call.call_id)
            await self._to_dialplan(call)
            return
        if not result.accepted:
            await self._leave_queue(call, "exit", records.exit_reason(result.reason),
                                    reason=result.reason or "refused")
            return
        self._queue_event(call, "enter", None, priority=priority)
        logger.info("call %s: waiting in queue %s (position %s)", call.call_id[:8], queue,
                    result.position)
        await records.remember_call(self.d, call)
        self._schedule_announcement(call, first=True)

    async def _requeue(self, call: Call, lost: bool = False) -> None:
        """A waiting call to put back in routing with its original enqueue time: one
        re-adopted after a restart, or one of this node's while other nodes took it
        for dead. Routing keeps a place it still holds. After Redis lost its data
        (`lost`) a ringing offer is gone: its phones stop and the caller waits again;
        a connected call only writes its re-adoption record again."""
        if call.caller_gone:
            return
        if lost and call.phase is Phase.CONNECTED:
            await records.remember_call(self.d, call)
            return
        if lost and call.phase is Phase.OFFERING:
            for leg in call.live_legs():
                leg.outcome = "stale"
                await self._hangup(leg.channel_id)
            call.phase = Phase.QUEUED
        if call.phase is not Phase.QUEUED:
            return
        if not call.moh_on:
            await self._start_moh(call)
        assert call.queue is not None and call.enqueued_ms is not None
        req = call.extra.get("queue_request") or records.queue_request(
            call, call.queue, {}, 0, None, None)
        try:
            await self.d.router.adopt(req)
        except Exception as exc:
            report(logger, exc, "call %s: re-adoption into the queue failed", call.call_id)
            await self._to_dialplan(call)
            return
        if lost:
            await records.remember_call(self.d, call)

    async def _left_queue(self, call: Call, reason: str) -> None:
        """Routing took the call out of its queue (maximum wait, nobody staffing
        it): on to the IVR's exit. A phone still ringing for it rings for an offer
        routing no longer holds (its reservation expired): it stops."""
        if call.phase not in (Phase.QUEUED, Phase.OFFERING) or call.caller_gone:
            return
        for leg in call.live_legs():
            leg.outcome = "stale"
            await self._hangup(leg.channel_id)
        await self._leave_queue(call, "exit", records.exit_reason(reason), reason=reason)

    async def _leave_queue(self, call: Call, event: str, exit_to: records.ExitReason,
                           **detail: object) -> None:
        """The caller is out of routing: stop waiting (timers, announcement, music),
        write `event` and its re-adoption record, and let the IVR go on at the queue
        node's exit for `exit_to`."""
        self._stop_waiting(call)
        call.phase = Phase.IVR
        await self.ivr.stop_prompts(call)
        await self._stop_moh(call)
        self._queue_event(call, event, None, **detail)
        logger.info("call %s: leaves %s (%s)", call.call_id[:8], call.queue, exit_to)
        await records.remember_call(self.d, call)  # a restart must not queue it again
        await self.ivr.feed(call, QueueExit(exit_to))

    async def _maybe_finish(self, call: Call, force: bool = False) -> None:
        if call.written:
            return
        if not force and (not call.caller_destroyed or call.live_legs()):
            return
        if force:
            for leg in call.live_legs():
                await self._hangup(leg.channel_id)
                leg.outcome = leg.outcome or "reaped"
                self._end_leg(call, leg)
            if not call.caller_gone:
                call.ended_by = call.ended_by or "acd"
                await self._hangup(call.channel_id)
                await self._caller_gone(call, None)
        call.written = True
        call.phase = Phase.ENDED
        if call.routing_id is not None and call.outcome != "no_answer":
            await records.forget_callback(self.d, call.rid)  # served (or dropped)
        if call.ended_ms is None:
            call.ended_ms = self.d.clock.ms()
        self.d.writer.write(records.caller_leg_row(call))
        logger.info("call %s: ended (%s)", call.call_id[:8], call.outcome)
        self.d.writer.write(records.call_row(call))
        metrics.CALLS.labels(call.outcome or "failed").inc()
        await records.forget_call(self.d, call)
        self.svc.forget(call)

    async def _to_dialplan(self, call: Call) -> None:
        """The last resort: let the dialplan's fallback serve the caller."""
        call.transferred = True
        call.outcome = "failed"
        call.ended_by = call.ended_by or "acd"
        phase, call.phase = call.phase, Phase.IVR  # out of our queue: not an abandon later
        self._stop_waiting(call)
        if phase in (Phase.QUEUED, Phase.OFFERING):
            try:
                await self.d.router.dequeue(call.rid)
            except Exception:
                logger.info("call %s: dequeue before the dialplan failed; the reaper "
                            "frees whatever routing still holds", call.call_id)
        await self.ivr.stop_prompts(call)
        await self._stop_moh(call)
        try:
            await self.d.ari.continue_in_dialplan(call.channel_id)
        except AriError as exc:
            logger.warning("call %s: continue to dialplan failed (%s); hanging up",
                           call.call_id, exc)
            await self._hangup(call.channel_id)

    async def readopt(self, channel_ids: list[str]) -> None:
        await records.readopt(self.d, self.svc, self, channel_ids)
