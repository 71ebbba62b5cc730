"""A call's life: IVR -> queue -> offer -> bridge -> wrap-up, one item at a time.

Everything here runs inside the call's lane, so a call's state is never touched
by two coroutines at once. The decisions come from the pure IVR engine and from
the router's Lua scripts; this module only carries them out on ARI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from acd.agents.phone import leg_failure
from acd.ari import events as ev
from acd.ari.client import AriClient
from acd.ari.errors import AriError
from acd.calls import agent_lost, records
from acd.calls.call import AgentLeg, Call, Phase
from acd.calls.ivr_runner import ANNOUNCEMENT, IvrRunner
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
)
from acd.clock import Clock
from acd.config import CallbackSettings, PhoneSettings
from acd.ivr import say
from acd.ivr.actions import QueueExit
from acd.ivr.http_policy import HttpPolicy
from acd.ivr.registry import FlowRegistry
from acd.routing.client import RedisClient
from acd.routing.model import Offer, QueueDef
from acd.routing.service import Router
from acd.store.writer import RowWriter

if TYPE_CHECKING:
    from acd.calls.service import CallService

logger = logging.getLogger(__name__)


@dataclass
class CallDeps:
    ari: AriClient
    router: Router
    writer: RowWriter
    flows: FlowRegistry
    clock: Clock
    redis: RedisClient  # one server or a cluster (acd/routing/client.py)
    redis_prefix: str
    queues: dict[str, QueueDef]
    app: str
    moh_class: str = "default"
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)
    http_policy: HttpPolicy = field(default_factory=HttpPolicy)  # where `http` nodes may go
    phones: PhoneSettings = field(default_factory=PhoneSettings)


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
        elif isinstance(item, RingGuard):
            await self._ring_guard(call, item.channel_id)
        elif isinstance(item, LeftQueue):
            await self._left_queue(call, item.reason)
        elif isinstance(item, Announce):
            await self._announce(call, item)
        elif isinstance(item, StartCallback):
            await self._start_callback(call, item.offer)
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

    def _arm_reap(self, call: Call) -> None:
        # A safety net: should a destroy event never come, the call is still written.
        self.d.clock.call_later(60.0, lambda: self.svc.post(call, Reap()))

    async def _abandon(self, call: Call) -> None:
        call.outcome = "abandoned"
        try:
            await self.d.router.dequeue(call.rid)
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
        except Exception:
            logger.exception("call %s: enqueue failed; back to the dialplan", call.call_id)
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

    async def _requeue(self, call: Call) -> None:
        """A waiting call to put back in routing with its original enqueue time: one
        re-adopted after a restart, or one of this node's while other nodes took it
        for dead. Routing keeps a place it still holds."""
        if call.phase is not Phase.QUEUED or call.caller_gone:
            return
        if not call.moh_on:
            await self._start_moh(call)
        assert call.queue is not None and call.enqueued_ms is not None
        req = call.extra.get("queue_request") or records.queue_request(
            call, call.queue, {}, 0, None, None)
        try:
            await self.d.router.adopt(req)
        except Exception:
            logger.exception("call %s: re-adoption into the queue failed", call.call_id)
            await self._to_dialplan(call)

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

    @staticmethod
    def _stop_waiting(call: Call) -> None:
        """No more announcements."""
        if call.announce_timer is not None:
            call.announce_timer.cancel()
            call.announce_timer = None

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
        if channel_id == call.channel_id:  # a callback ringing past its timeout
            if call.phase is Phase.DIALLING and not call.caller_gone:
                logger.warning("callback %s: rang past its timeout; hanging up", call.rid)
                try:
                    await self.d.ari.hangup(call.channel_id)
                except AriError as exc:
                    if exc.gone:
                        await self._callback_lost(call)
            return
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
            if event.channel.state == "Ringing" and leg.rang_ms is None:
                leg.rang_ms = self.d.clock.ms()
            if event.channel.state == "Up":
                await self._agent_answered(call, leg)
        elif isinstance(event, ev.ChannelHangupRequest):
            if leg.answered_ms is not None and leg is call.connected_leg:
                if agent_lost.from_the_device(event):
                    return  # Asterisk ended it (RTP timeout...): ChannelDestroyed says why
                await self._agent_hung_up(call, leg)
        elif isinstance(event, ev.ChannelDestroyed):
            leg.cause = leg.cause if leg.outcome == "agent_lost" else event.cause
            if leg.answered_ms is None or leg.outcome in ("answered_elsewhere", "stale"):
                reason = leg_failure(event.cause, leg.rang_ms is None and self.d.clock.ms()
                                     - leg.started_ms < leg.offer.ring_timeout * 900)
                await self._leg_failed(call, leg, reason, cause=event.cause)
            else:
                if agent_lost.is_lost(event.cause) and leg is call.connected_leg:
                    await agent_lost.agent_lost(self, call, leg, event.cause)
                await self._agent_hung_up(call, leg)
                self._end_leg(call, leg)
            await self._maybe_finish(call)

    async def _agent_answered(self, call: Call, leg: AgentLeg) -> None:
        if leg.answered_ms is not None or leg.ended_ms is not None:
            return
        leg.answered_ms = self.d.clock.ms()
        if call.caller_gone or call.phase is not Phase.OFFERING:
            # Too late: the caller left, or another ring-all phone answered first (then
            # this leg's end is no hang-up on the caller: see ChannelDestroyed).
            reason = "normal"
            winner = call.connected_leg
            if not call.caller_gone and winner is not None and winner is not leg:
                leg.outcome = reason = "answered_elsewhere"
            await self._hangup(leg.channel_id, reason=reason)
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
        # Bridged first, then routing: an agent is on call only once they talk.
        try:
            fresh = await self.d.router.offer_answered(leg.offer)
        except Exception:
            # Redis away: the two are bridged and talking; keep them so.
            logger.exception("call %s: recording the answer failed", call.call_id)
            fresh = True
        if not fresh:
            # The reservation expired and the call went back to its queue meanwhile:
            # this agent lets go, the caller waits on (with music) for the next offer.
            logger.warning("call %s: offer to %s was stale at answer; the call stays queued",
                           call.call_id, leg.agent_id)
            leg.outcome = "stale"
            call.connected_leg = None
            call.outcome = None
            await self._hangup(leg.channel_id)
            await self._destroy_bridge(call)
            others = [x for x in call.live_legs() if x is not leg]
            call.phase = Phase.OFFERING if others else Phase.QUEUED
            await self._start_moh(call)
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

    async def _destroy_bridge(self, call: Call) -> None:
        if call.bridge_id is None:
            return
        bridge_id, call.bridge_id = call.bridge_id, None
        try:
            await self.d.ari.destroy_bridge(bridge_id)
        except AriError as exc:
            if not exc.gone:
                logger.info("call %s: destroy bridge: %s", call.call_id, exc)

    async def _agent_hung_up(self, call: Call, leg: AgentLeg) -> None:
        if leg.hangup_requested:
            return
        leg.hangup_requested = True
        if not call.caller_gone:
            call.phase = Phase.ENDING
            call.caller_gone = True
            call.ended_ms = self.d.clock.ms()
            self._arm_reap(call)
            await self._hangup(call.channel_id)
            await self._end_connected(call)

    async def _end_connected(self, call: Call) -> None:
        leg = call.connected_leg
        await self._destroy_bridge(call)
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
        if leg.outcome in ("abandoned", "answered_elsewhere", "stale"):
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
        if call.routing_id is not None and call.outcome != "no_answer":
            await records.forget_callback(self.d, call.rid)  # served (or dropped)
        if call.ended_ms is None:
            call.ended_ms = self.d.clock.ms()
        self.d.writer.write(records.caller_leg_row(call))
        logger.info("call %s: ended (%s)", call.call_id[:8], call.outcome)
        self.d.writer.write(records.call_row(call))
        await records.forget_call(self.d, call)
        self.svc.forget(call)

    # ------------------------------------------------------- announcements

    def _schedule_announcement(self, call: Call, *, first: bool) -> None:
        """The next periodic announcement of a waiting caller (see QueueAnnounce)."""
        cfg = call.announce
        if not (cfg.get("position") or cfg.get("wait_time") or cfg.get("prompt")
                or call.callback_offer):
            return
        if first:
            call.extra["announce_gen"] = int(call.extra.get("announce_gen", 0)) + 1
            if call.announce_timer is not None:
                call.announce_timer.cancel()
        gen = int(call.extra["announce_gen"])
        every = float(cfg.get("every") or 30.0)
        delay = float(cfg["first"]) if first and cfg.get("first") is not None else every
        call.announce_timer = self.d.clock.call_later(
            delay, lambda: self.svc.post(call, Announce(gen)))

    async def _announce(self, call: Call, item: Announce) -> None:
        if item.generation != call.extra.get("announce_gen") or call.caller_gone:
            return
        call.announce_timer = None
        if call.phase is Phase.OFFERING:  # an agent's phone rings: not now
            self._schedule_announcement(call, first=False)
            return
        if call.phase is not Phase.QUEUED:
            return
        cfg = call.announce
        position: int | None = None
        wait: float | None = None
        try:
            if cfg.get("position") or cfg.get("wait_time"):
                position, wait = await self.d.router.standing(
                    call.rid, with_wait=bool(cfg.get("wait_time")))
        except Exception:
            logger.exception("call %s: position lookup failed; announcing without it",
                             call.call_id)
        self._schedule_announcement(call, first=False)
        if call.phase is not Phase.QUEUED or call.caller_gone:
            return  # an offer came while we looked
        prompts = say.queue_announcement(
            message=list(cfg.get("prompt") or []), position=position, wait_s=wait,
            say_position=bool(cfg.get("position")), say_wait=bool(cfg.get("wait_time")),
            callback_offer=list(call.callback_offer),
        )
        if prompts:
            logger.info("call %s: announces position %s, wait %s s", call.call_id[:8],
                        position, None if wait is None else round(wait))
            await self._play_over_moh(call, prompts)

    async def _play_over_moh(self, call: Call, prompts: list[str]) -> None:
        """Play to a waiting caller; the music comes back when the prompt ends."""
        await self._stop_moh(call)
        try:
            playback = await self.d.ari.play(call.channel_id, prompts, lang=call.language)
        except AriError as exc:
            if not exc.gone:
                logger.info("call %s: announcement failed: %s", call.call_id, exc)
                await self._start_moh(call)
            return
        call.playing[playback.id] = ANNOUNCEMENT

    async def announcement_done(self, call: Call) -> None:
        if (call.phase in (Phase.QUEUED, Phase.OFFERING) and not call.caller_gone
                and not call.moh_on and not call.playing):
            await self._start_moh(call)

    # ----------------------------------------------------------- callbacks

    async def _callback_request(self, call: Call) -> None:
        """The waiting caller pressed the callback key: they leave the line, their
        place stays in the queue as a callback task."""
        number = call.callback_number or call.caller_number
        if not number or not any(ch.isdigit() for ch in number):
            logger.info("call %s: callback asked without a number to call", call.call_id)
            return
        try:
            ok = await self.d.router.to_callback(call.rid, number)
        except Exception:
            logger.exception("call %s: callback request failed; the caller keeps waiting",
                             call.call_id)
            return
        if not ok:
            return  # an agent is being offered this call right now
        call.outcome = "callback"
        await records.remember_callback(self.d, call, number)
        await self._leave_queue(call, "callback", "callback", requested=True)

    async def _start_callback(self, call: Call, offer: Offer) -> None:
        """An agent is reserved for the task: ring the caller first."""
        call.extra["cb_offer"] = offer
        call.callback_attempt = await records.callback_attempt(self.d, call.rid)
        cfg = self.d.callbacks
        endpoint = cfg.endpoint.replace("{number}", call.caller_number)
        logger.info("callback %s: calling %s back (attempt %d, agent %s reserved)",
                    call.rid[:8], endpoint, call.callback_attempt, offer.agent_id)
        variables = {"CALLERID(num)": cfg.caller_id} if cfg.caller_id else None
        try:
            await self.d.ari.create_channel(
                endpoint, self.d.app, app_args=f"callback,{call.call_id}",
                channel_id=call.channel_id, variables=variables)
        except AriError as exc:
            logger.warning("callback %s: could not call %s: %s", call.rid[:8], endpoint, exc)
            await self._callback_lost(call)
            return
        channel = call.channel_id
        self.d.clock.call_later(cfg.ring_timeout + 5.0,
                                lambda: self.svc.post(call, RingGuard(channel)))

    async def _callback_progress(self, call: Call, event: ev.Event) -> None:
        if isinstance(event, ev.StasisStart):
            try:
                await self.d.ari.dial(call.channel_id,
                                      timeout=max(1, round(self.d.callbacks.ring_timeout)))
            except AriError as exc:
                logger.info("callback %s: dial failed: %s", call.rid[:8], exc)
                await self._hangup(call.channel_id)
                if exc.gone:
                    await self._callback_lost(call)
        elif isinstance(event, ev.Dial):
            if event.dialstatus == "ANSWER":
                await self._customer_answered(call)
            elif event.dialstatus:
                call.extra["dialstatus"] = event.dialstatus
        elif isinstance(event, ev.ChannelStateChange) and event.channel.state == "Up":
            await self._customer_answered(call)

    async def _customer_answered(self, call: Call) -> None:
        if call.phase is not Phase.DIALLING or call.caller_gone:
            return
        offer: Offer = call.extra["cb_offer"]
        call.answered_ms = self.d.clock.ms()
        call.phase = Phase.QUEUED
        self._queue_event(call, "enter", None, callback_of=call.rid,
                          attempt=call.callback_attempt)
        logger.info("callback %s: %s answered; ringing agent %s", call.rid[:8],
                    call.caller_number, offer.agent_id)
        await records.remember_call(self.d, call)
        if self.d.callbacks.prompt:
            await self._play_over_moh(call, list(self.d.callbacks.prompt))
        else:
            await self._start_moh(call)
        await self._offer(call, offer)

    async def _callback_unanswered(self, call: Call) -> None:
        """The caller did not pick up the callback: try again later in the same
        place, or give up after the last attempt."""
        offer: Offer | None = call.extra.get("cb_offer")
        call.outcome = "no_answer"
        cfg = self.d.callbacks
        retry = cfg.retry_delay if call.callback_attempt < cfg.max_attempts else None
        self._queue_event(call, "callback", None, result="no_answer",
                          attempt=call.callback_attempt,
                          dialstatus=call.extra.get("dialstatus"),
                          retry_in=retry)
        if offer is not None:
            try:
                await self.d.router.callback_failed(offer, retry)
            except Exception:
                logger.exception("callback %s: returning the task failed; its reservation "
                                 "expires and the reaper gives it back", call.rid)
        if retry is None:
            logger.warning("callback %s: %s did not answer %d times; given up", call.rid[:8],
                           call.caller_number, call.callback_attempt)
            await records.forget_callback(self.d, call.rid)
        else:
            logger.info("callback %s: no answer; trying again in %.0f s", call.rid[:8], retry)

    async def _callback_lost(self, call: Call) -> None:
        """The callback channel is gone (or never was) without events to tell us."""
        call.caller_destroyed = True
        await self._caller_gone(call, None)
        await self._maybe_finish(call)

    # --------------------------------------------------------------- media

    async def _start_moh(self, call: Call) -> None:
        qdef = self.d.queues.get(call.queue or "")
        moh = call.announce.get("moh_class") or (qdef.moh_class if qdef is not None else None)
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

    def _queue_event(self, call: Call, event: str, agent_id: str | None,
                     **detail: object) -> None:
        self.d.writer.write(records.queue_event_row(call, event, agent_id,
                                                    self.d.clock.ms(), detail))

    # ------------------------------------------------------------ re-adopt

    async def readopt(self, channel_ids: list[str]) -> None:
        await records.readopt(self.d, self.svc, self, channel_ids)
