"""The agent side of a call: offers, ringing legs, answers and the bridge, the end
of a connected call, legs that fail. Part of CallFlow (see acd.calls.flow_base).
"""

from __future__ import annotations

import logging

from acd.agents.phone import leg_failure
from acd.ari import events as ev
from acd.ari.errors import AriError
from acd.calls import agent_lost, records
from acd.calls.call import AgentLeg, Call, Phase
from acd.calls.flow_base import FlowBase
from acd.calls.messages import RingGuard, Verify
from acd.outage import report
from acd.routing.model import Offer

logger = logging.getLogger("acd.calls.flow")


class AgentSide(FlowBase):
    async def _offer(self, call: Call, offer: Offer) -> None:
        qdef = self.d.queues.get(offer.queue)
        ring_all = qdef is not None and qdef.strategy == "ring_all"
        ok_phase = call.phase is Phase.QUEUED or (ring_all and call.phase is Phase.OFFERING)
        if not ok_phase or call.caller_gone:
            try:
                await self.d.router.offer_failed(offer, "rejected")
            except Exception as exc:  # the reservation expires on its own, uncounted
                report(logger, exc, "call %s: refusing an offer failed", call.call_id)
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
            await self._leg_failed(call, leg, records.create_failure(exc), cause=None)
            return
        leg.created = True
        # The dial is sent when the leg's StasisStart arrives (see _agent_event).
        leg_channel = leg.channel_id
        ring = max(1, round(offer.ring_timeout))
        self.d.clock.call_later(ring + 5.0, lambda: self.svc.post(call, RingGuard(leg_channel)))

    async def _dial(self, call: Call, leg: AgentLeg) -> None:
        if leg.extra_dialled:
            return
        if leg.ended_ms is not None:
            # acd took its creation for failed (a timeout, a lost reply) but Asterisk
            # made it: nobody will dial it, so it must not linger.
            leg.extra_dialled = True
            await self._hangup(leg.channel_id)
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
            # Only Asterisk saying the phone cannot be reached is the agent's doing;
            # acd's own trouble reaching Asterisk (no answer, 5xx) is not.
            await self._leg_failed(call, leg, records.create_failure(exc), cause=None)
            if exc.gone and not call.caller_gone:
                self.svc.post(call, Verify())
            return
        try:
            await self.d.router.offer_ringing(leg.offer)
        except Exception as exc:  # the reservation lasts its TTL; the phone rings on
            report(logger, exc, "call %s: recording the ring failed", call.call_id)

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
            keep = leg.ended_ms is not None or leg.outcome == "agent_lost"
            leg.cause = leg.cause if keep else event.cause
            if leg.ended_ms is not None:
                pass  # already ended and written (a failed bridge, a reconciliation)
            elif leg.answered_ms is None or leg.outcome in ("answered_elsewhere", "stale"):
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
            await self._bridge_failed(call, leg, exc)
            return
        # Bridged first, then routing: an agent is on call only once they talk.
        try:
            fresh = await self.d.router.offer_answered(leg.offer)
        except Exception as exc:
            # Redis away: the two are bridged and talking; keep them so (the router
            # records the answer once Redis is back).
            report(logger, exc, "call %s: recording the answer failed", call.call_id)
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

    async def _bridge_failed(self, call: Call, leg: AgentLeg, exc: AriError) -> None:
        """The agent answered but the two could not be bridged: they never talked.
        The agent's phone lets go (not charged to them: the offer fails as acd's
        error) and the caller goes back to the head of the queue; when a channel
        was gone, Asterisk is asked which (its hang-up event may have been lost)."""
        logger.warning("call %s: bridging failed: %s", call.call_id, exc)
        call.connected_leg = None
        call.outcome = None
        leg.outcome = "failed"
        leg.hangup_requested = True  # its end is no hang-up on the caller
        await self._hangup(leg.channel_id)
        await self._destroy_bridge(call)
        self._end_leg(call, leg)
        others = [x for x in call.live_legs() if x is not leg]
        call.phase = Phase.OFFERING if others else Phase.QUEUED
        try:
            await self.d.router.offer_failed(leg.offer, "error")
        except Exception:
            logger.warning("call %s: releasing agent %s failed; its reservation expires",
                           call.call_id, leg.agent_id)
        if exc.gone:
            await self._start_moh(call)
            self.svc.post(call, Verify())
            return
        await self._to_dialplan(call)

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
            call.ended_by = call.ended_by or "agent"
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
            except Exception as exc:
                report(logger, exc, "call %s: could not put agent %s into wrap-up",
                       call.call_id, leg.agent_id)
            self._queue_event(call, "complete", leg.agent_id,
                              ended_by=call.ended_by or "unknown")

    async def _leg_failed(self, call: Call, leg: AgentLeg, reason: str,
                          cause: int | None) -> None:
        if leg.ended_ms is not None:
            return
        leg.cause = cause
        leg.outcome = leg.outcome or reason
        self._end_leg(call, leg)
        if leg.outcome in ("abandoned", "answered_elsewhere", "stale"):
            return
        if reason != "error":  # acd's own trouble is no event of the agent's
            self._queue_event(call, records.fail_event(reason), leg.agent_id, cause=cause)
        logger.info("call %s: agent %s did not take it (%s); back to the head of %s",
                    call.call_id[:8], leg.agent_id, reason, call.queue)
        if call.phase is Phase.OFFERING and not call.caller_gone and not call.live_legs():
            # Back at the head of its queue; set before the Redis call so that, should
            # it fail, the reaper's re-offer of the expired reservation is accepted.
            call.phase = Phase.QUEUED
        try:
            await self.d.router.offer_failed(leg.offer, reason)  # type: ignore[arg-type]
        except Exception as exc:
            report(logger, exc, "call %s: returning the offer failed; its reservation "
                   "expires and the reaper gives the call back", call.call_id)

    def _end_leg(self, call: Call, leg: AgentLeg) -> None:
        if leg.ended_ms is None:
            leg.ended_ms = self.d.clock.ms()
        if not leg.outcome:
            leg.outcome = "answered" if leg.answered_ms is not None else "failed"
        self.d.writer.write(records.agent_leg_row(call, leg))
