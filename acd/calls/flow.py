"""A call's life: IVR -> queue -> offer -> bridge -> wrap-up, one item at a time.

Everything here runs inside the call's lane, so a call's state is never touched
by two coroutines at once. The decisions come from the pure IVR engine and from
the router's Lua scripts; this module only carries them out on ARI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis.asyncio as aioredis

from acd.ari import events as ev
from acd.ari.client import AriClient
from acd.ari.errors import AriError
from acd.calls import records
from acd.calls.call import AgentLeg, Call, Phase
from acd.calls.ivr_runner import IvrRunner
from acd.calls.messages import FeedIvr, OfferMsg, QueueTimeout, Reap, Requeue, RingGuard, Start
from acd.clock import Clock
from acd.ivr.actions import QueueExit
from acd.ivr.registry import FlowRegistry
from acd.routing.model import Offer, QueueDef
from acd.routing.service import Router
from acd.store.writer import RowWriter

if TYPE_CHECKING:
    from acd.calls.service import CallService

logger = logging.getLogger(__name__)

# Hang-up causes of a dialled agent leg that never answered (see the ARI README).
FAIL_REASONS: dict[int, str] = {17: "busy", 19: "noanswer", 21: "rejected"}


@dataclass
class CallDeps:
    ari: AriClient
    router: Router
    writer: RowWriter
    flows: FlowRegistry
    clock: Clock
    redis: aioredis.Redis
    redis_prefix: str
    queues: dict[str, QueueDef]
    app: str
    moh_class: str = "default"


class CallFlow:
    def __init__(self, deps: CallDeps, service: CallService) -> None:
        self.d = deps
        self.svc = service
        self.ivr = IvrRunner(deps, service)

    # ------------------------------------------------------------- dispatch

    async def handle(self, call: Call, item: object) -> None:
        if call.phase is Phase.ENDED:
            return
        if isinstance(item, Start):
            await self._start(call)
        elif isinstance(item, Requeue):
            await self._requeue(call)
        elif isinstance(item, FeedIvr):
            await self.ivr.feed(call, item.event)
        elif isinstance(item, OfferMsg):
            await self._offer(call, item.offer)
        elif isinstance(item, QueueTimeout):
            await self._queue_timeout(call, item)
        elif isinstance(item, RingGuard):
            await self._ring_guard(call, item.channel_id)
        elif isinstance(item, Reap):
            await self._maybe_finish(call, force=True)
        elif isinstance(item, ev.Event):
            if item.channel_id == call.channel_id:
                await self._caller_event(call, item)
            elif item.channel_id in call.legs:
                await self._agent_event(call, call.legs[item.channel_id], item)

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

    # --------------------------------------------------------- caller side

    async def _caller_event(self, call: Call, event: ev.Event) -> None:
        if isinstance(event, ev.ChannelDtmfReceived):
            await self.ivr.digit(call, event.digit)
        elif isinstance(event, ev.PlaybackFinished):
            await self.ivr.playback_finished(call, event.playback.id)
        elif isinstance(event, ev.RecordingFinished | ev.RecordingFailed):
            await self.ivr.recording_finished(call, event)
        elif isinstance(event, ev.ChannelHangupRequest):
            await self._caller_gone(call, event.cause)
        elif isinstance(event, ev.StasisEnd):
            # A caller leg that came from the dialplan gets no ChannelDestroyed on a
            # real Asterisk 22: StasisEnd is the last word about it.
            call.caller_destroyed = True
            await self._caller_gone(call, None)
            call.ended_ms = self.d.clock.ms()
            await self._maybe_finish(call)
        elif isinstance(event, ev.ChannelDestroyed):
            call.caller_cause = event.cause
            call.caller_destroyed = True
            await self._caller_gone(call, event.cause)
            await self._maybe_finish(call)

    async def _caller_gone(self, call: Call, cause: int | None) -> None:
        """The caller hung up (or was hung up): clean up whatever phase we are in."""
        if cause is not None and call.caller_cause is None:
            call.caller_cause = cause
        if call.caller_gone:
            return
        call.caller_gone = True
        call.ended_ms = self.d.clock.ms()
        # A safety net: should a destroy event never come, the call is still written.
        self.d.clock.call_later(60.0, lambda: self.svc.post(call, Reap()))
        self.ivr.cancel_timers(call)
        if call.queue_timer is not None:
            call.queue_timer.cancel()
            call.queue_timer = None
        phase = call.phase
        call.phase = Phase.ENDING
        if phase in (Phase.QUEUED, Phase.OFFERING):
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
            await self.d.router.dequeue(call.call_id)
        except Exception:
            logger.exception("call %s: dequeue failed; the reaper will free it", call.call_id)
        for leg in call.live_legs():
            leg.outcome = "abandoned"
            await self._hangup(leg.channel_id)
        self._queue_event(call, "abandon", None)

    # ---------------------------------------------------------- the queue

    async def enqueue(self, call: Call, queue: str, skills: dict[str, int], priority: int,
                      max_wait: float | None, chain: str | None,
                      preferred_agent: str | None) -> None:
        qdef = self.d.queues.get(queue)
        call.phase = Phase.QUEUED
        call.queue = queue
        if call.enqueued_ms is None:
            call.enqueued_ms = self.d.clock.ms()
        await self._start_moh(call)
        req = records.queue_request(call, queue, skills, priority, chain, preferred_agent)
        try:
            result = await self.d.router.enqueue(req)
        except Exception:
            logger.exception("call %s: enqueue failed; back to the dialplan", call.call_id)
            await self._to_dialplan(call)
            return
        if not result.accepted:
            call.phase = Phase.IVR
            await self._stop_moh(call)
            self._queue_event(call, "exit", None, reason=result.reason or "refused")
            await self.ivr.feed(call, QueueExit(records.exit_reason(result.reason)))
            return
        self._queue_event(call, "enter", None, priority=priority)
        logger.info("call %s: waiting in queue %s (position %s)", call.call_id[:8], queue,
                    result.position)
        await records.remember_call(self.d, call)
        wait = max_wait if max_wait is not None else (qdef.max_wait if qdef else None)
        if wait is not None:
            enq = call.enqueued_ms
            call.queue_timer = self.d.clock.call_later(
                wait, lambda: self.svc.post(call, QueueTimeout(enq))
            )

    async def _requeue(self, call: Call) -> None:
        """A call re-adopted after a restart, that was waiting for an agent."""
        await self._start_moh(call)
        assert call.queue is not None and call.enqueued_ms is not None
        req = records.queue_request(call, call.queue, {}, 0, None, None)
        try:
            await self.d.router.adopt(req)
        except Exception:
            logger.exception("call %s: re-adoption into the queue failed", call.call_id)
            await self._to_dialplan(call)

    async def _queue_timeout(self, call: Call, item: QueueTimeout) -> None:
        if call.enqueued_ms != item.enqueued_ms or call.phase not in (Phase.QUEUED,
                                                                       Phase.OFFERING):
            return
        result = None
        if call.phase is Phase.QUEUED:
            try:
                result = await self.d.router.dequeue(call.call_id)
            except Exception:
                logger.exception("call %s: max-wait dequeue failed", call.call_id)
        if result is None or result.was != "waiting":
            # Ringing an agent right now (or Redis is away): look again in a second,
            # so a caller whose offer then fails still leaves at the maximum wait.
            call.queue_timer = self.d.clock.call_later(
                1.0, lambda: self.svc.post(call, item))
            return
        call.phase = Phase.IVR
        call.queue_timer = None
        await self._stop_moh(call)
        self._queue_event(call, "exit", None, reason="max_wait")
        await self.ivr.feed(call, QueueExit("max_wait"))

    async def _offer(self, call: Call, offer: Offer) -> None:
        qdef = self.d.queues.get(offer.queue)
        ring_all = qdef is not None and qdef.strategy == "ring_all"
        ok_phase = call.phase is Phase.QUEUED or (ring_all and call.phase is Phase.OFFERING)
        if not ok_phase or call.caller_gone:
            await self.d.router.offer_failed(offer, "rejected")
            return
        call.phase = Phase.OFFERING
        call.attempts += 1
        leg = AgentLeg(
            leg_id=f"{call.call_id}-{call.attempts}",
            channel_id=f"acd-{call.call_id[:16]}-{call.attempts}",
            agent_id=offer.agent_id,
            endpoint=offer.endpoint,
            offer=offer,
            started_ms=self.d.clock.ms(),
        )
        call.legs[leg.channel_id] = leg
        self.svc.bind_channel(leg.channel_id, call)
        self._queue_event(call, "offer", offer.agent_id, attempt=offer.attempt)
        logger.info("call %s: ringing agent %s on %s", call.call_id[:8], offer.agent_id,
                    offer.endpoint)
        try:
            await self.d.ari.create_channel(
                leg.endpoint, self.d.app, app_args=f"agent,{call.call_id}",
                channel_id=leg.channel_id, originator=call.channel_id,
            )
        except AriError as exc:
            logger.info("call %s: could not reach %s: %s", call.call_id, leg.endpoint, exc)
            await self._leg_failed(call, leg, "unreachable", cause=None)
            return
        # The dial is sent when the leg's StasisStart arrives (see _agent_event).
        leg_channel = leg.channel_id
        ring = max(1, round(offer.ring_timeout))
        self.d.clock.call_later(ring + 5.0, lambda: self.svc.post(call, RingGuard(leg_channel)))

    async def _dial(self, call: Call, leg: AgentLeg) -> None:
        if leg.extra_dialled or leg.ended_ms is not None:
            return
        leg.extra_dialled = True
        if call.caller_gone or call.phase is not Phase.OFFERING:
            await self._hangup(leg.channel_id)
            return
        ring = max(1, round(leg.offer.ring_timeout))
        try:
            await self.d.ari.dial(leg.channel_id, caller=call.channel_id, timeout=ring)
        except AriError as exc:
            logger.info("call %s: could not ring %s: %s", call.call_id, leg.endpoint, exc)
            await self._hangup(leg.channel_id)
            await self._leg_failed(call, leg, "unreachable", cause=None)
            return
        await self.d.router.offer_ringing(leg.offer)

    async def _ring_guard(self, call: Call, channel_id: str) -> None:
        leg = call.legs.get(channel_id)
        if leg is not None and leg.answered_ms is None and leg.ended_ms is None:
            logger.warning("call %s: %s rang past its timeout; hanging up", call.call_id,
                           leg.endpoint)
            await self._hangup(leg.channel_id)
            await self._leg_failed(call, leg, "noanswer", cause=19)

    # ----------------------------------------------------------- agent side

    async def _agent_event(self, call: Call, leg: AgentLeg, event: ev.Event) -> None:
        if isinstance(event, ev.StasisStart):
            await self._dial(call, leg)
        elif isinstance(event, ev.Dial):
            if event.dialstatus == "ANSWER":
                await self._agent_answered(call, leg)
        elif isinstance(event, ev.ChannelStateChange):
            if event.channel.state == "Up":
                await self._agent_answered(call, leg)
        elif isinstance(event, ev.ChannelHangupRequest):
            if leg.answered_ms is not None and leg is call.connected_leg:
                await self._agent_hung_up(call, leg)
        elif isinstance(event, ev.ChannelDestroyed):
            leg.cause = event.cause
            if leg.answered_ms is None:
                reason = FAIL_REASONS.get(event.cause, "unreachable")
                await self._leg_failed(call, leg, reason, cause=event.cause)
            else:
                await self._agent_hung_up(call, leg)
                self._end_leg(call, leg)
            await self._maybe_finish(call)

    async def _agent_answered(self, call: Call, leg: AgentLeg) -> None:
        if leg.answered_ms is not None or leg.ended_ms is not None:
            return
        leg.answered_ms = self.d.clock.ms()
        if call.caller_gone or call.phase is not Phase.OFFERING:
            await self._hangup(leg.channel_id)
            return
        call.phase = Phase.CONNECTED
        call.connected_leg = leg
        call.outcome = "answered"
        await self.ivr.stop_prompts(call)
        await self._stop_moh(call)
        bridge_id = f"acd-{call.call_id}"
        try:
            await self.d.ari.create_bridge(bridge_id=bridge_id, type="mixing", name="acd-call")
            call.bridge_id = bridge_id
            await self.d.ari.add_channel(bridge_id, [call.channel_id, leg.channel_id])
        except AriError as exc:
            logger.warning("call %s: bridging failed: %s", call.call_id, exc)
            # Caller and agent never talked: not an answered call.
            call.outcome = "failed"
            if exc.gone:
                return  # one side left; its hang-up event tidies up
            await self._hangup(leg.channel_id)
            await self._to_dialplan(call)
            return
        try:
            fresh = await self.d.router.offer_answered(leg.offer)
        except Exception:
            # Redis away: the two are bridged and talking; keep them so.
            logger.exception("call %s: recording the answer failed", call.call_id)
            fresh = True
        if not fresh:
            # The reservation expired or was taken back meanwhile: do not bridge.
            logger.warning("call %s: offer to %s was stale at answer", call.call_id,
                           leg.agent_id)
            await self._hangup(leg.channel_id)
            call.phase = Phase.QUEUED
            call.connected_leg = None
            return
        self._queue_event(call, "connect", leg.agent_id)
        logger.info("call %s: connected to agent %s after %.1f s in queue", call.call_id[:8],
                    leg.agent_id, (leg.answered_ms - (call.enqueued_ms or leg.answered_ms)) / 1000)
        await records.remember_call(self.d, call)
        # Ring-all: other phones still ringing for this call stop now.
        for other in call.live_legs():
            if other is not leg and other.answered_ms is None:
                other.outcome = "answered_elsewhere"
                await self._hangup(other.channel_id, reason="answered_elsewhere")

    async def _agent_hung_up(self, call: Call, leg: AgentLeg) -> None:
        if leg.hangup_requested:
            return
        leg.hangup_requested = True
        if not call.caller_gone:
            call.phase = Phase.ENDING
            call.caller_gone = True
            call.ended_ms = self.d.clock.ms()
            await self._hangup(call.channel_id)
            await self._end_connected(call)

    async def _end_connected(self, call: Call) -> None:
        leg = call.connected_leg
        if call.bridge_id is not None:
            bridge_id, call.bridge_id = call.bridge_id, None
            try:
                await self.d.ari.destroy_bridge(bridge_id)
            except AriError as exc:
                if not exc.gone:
                    logger.info("call %s: destroy bridge: %s", call.call_id, exc)
        if leg is not None and not call.extra.get("ended_sent"):
            call.extra["ended_sent"] = True
            try:
                await self.d.router.call_ended(leg.offer)
            except Exception:
                logger.exception("call %s: could not put agent %s into wrap-up",
                                 call.call_id, leg.agent_id)
            self._queue_event(call, "complete", leg.agent_id)

    async def _leg_failed(self, call: Call, leg: AgentLeg, reason: str,
                          cause: int | None) -> None:
        if leg.ended_ms is not None:
            return
        leg.cause = cause
        leg.outcome = leg.outcome or reason
        self._end_leg(call, leg)
        if leg.outcome in ("abandoned", "answered_elsewhere"):
            return
        self._queue_event(call, records.fail_event(reason), leg.agent_id, cause=cause)
        logger.info("call %s: agent %s did not take it (%s); back to the head of %s",
                    call.call_id[:8], leg.agent_id, reason, call.queue)
        if call.phase is Phase.OFFERING and not call.caller_gone and not call.live_legs():
            # Back at the head of its queue; set before the Redis call so that, should
            # it fail, the reaper's re-offer of the expired reservation is accepted.
            call.phase = Phase.QUEUED
        try:
            await self.d.router.offer_failed(leg.offer, reason)  # type: ignore[arg-type]
        except Exception:
            logger.exception("call %s: returning the offer failed; its reservation "
                             "expires and the reaper gives the call back", call.call_id)

    def _end_leg(self, call: Call, leg: AgentLeg) -> None:
        if leg.ended_ms is None:
            leg.ended_ms = self.d.clock.ms()
        if not leg.outcome:
            leg.outcome = "answered" if leg.answered_ms is not None else "failed"
        self.d.writer.write(records.agent_leg_row(call, leg))

    # ---------------------------------------------------------- finishing

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
                await self._hangup(call.channel_id)
                await self._caller_gone(call, None)
        call.written = True
        call.phase = Phase.ENDED
        if call.ended_ms is None:
            call.ended_ms = self.d.clock.ms()
        self.d.writer.write(records.caller_leg_row(call))
        logger.info("call %s: ended (%s)", call.call_id[:8], call.outcome)
        self.d.writer.write(records.call_row(call))
        await records.forget_call(self.d, call)
        self.svc.forget(call)

    # --------------------------------------------------------------- media

    async def _start_moh(self, call: Call) -> None:
        qdef = self.d.queues.get(call.queue or "")
        moh = qdef.moh_class if qdef is not None and hasattr(qdef, "moh_class") else None
        try:
            await self.d.ari.start_moh(call.channel_id, moh or self.d.moh_class)
            call.moh_on = True
        except AriError as exc:
            logger.info("call %s: music on hold: %s", call.call_id, exc)

    async def _stop_moh(self, call: Call) -> None:
        if not call.moh_on:
            return
        call.moh_on = False
        try:
            await self.d.ari.stop_moh(call.channel_id)
        except AriError as exc:
            if not exc.gone:
                logger.info("call %s: stop music on hold: %s", call.call_id, exc)

    async def _hangup(self, channel_id: str, reason: str = "normal") -> None:
        try:
            await self.d.ari.hangup(channel_id, reason=reason)
        except AriError as exc:
            if not exc.gone:
                logger.info("hang up %s: %s", channel_id, exc)

    async def _to_dialplan(self, call: Call) -> None:
        """The last resort: let the dialplan's fallback serve the caller."""
        call.transferred = True
        call.outcome = "failed"
        try:
            await self.d.ari.continue_in_dialplan(call.channel_id)
        except AriError as exc:
            logger.warning("call %s: continue to dialplan failed (%s); hanging up",
                           call.call_id, exc)
            await self._hangup(call.channel_id)

    def _queue_event(self, call: Call, event: str, agent_id: str | None,
                     **detail: object) -> None:
        self.d.writer.write(records.queue_event_row(call, event, agent_id,
                                                    self.d.clock.ms(), detail))

    # ------------------------------------------------------------ re-adopt

    async def readopt(self, channel_ids: list[str]) -> None:
        await records.readopt(self.d, self.svc, self, channel_ids)
