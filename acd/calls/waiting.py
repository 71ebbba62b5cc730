"""While a caller waits: periodic announcements over the music, and callbacks (the
caller asks to be called back; acd rings them back when an agent is reserved).
Part of CallFlow (see acd.calls.flow_base).
"""

from __future__ import annotations

import logging

from acd.ari import events as ev
from acd.ari.errors import AriError
from acd.calls import records
from acd.calls.call import Call, Phase
from acd.calls.flow_base import FlowBase
from acd.calls.ivr_runner import ANNOUNCEMENT
from acd.calls.messages import Announce, RingGuard
from acd.ivr import say
from acd.outage import report
from acd.routing.model import Offer

logger = logging.getLogger("acd.calls.flow")


class Waiting(FlowBase):
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
        except Exception as exc:
            report(logger, exc, "call %s: position lookup failed; announcing without it",
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

    async def _callback_request(self, call: Call) -> None:
        """The waiting caller pressed the callback key: they leave the line, their
        place stays in the queue as a callback task."""
        number = call.callback_number or call.caller_number
        if not number or not any(ch.isdigit() for ch in number):
            logger.info("call %s: callback asked without a number to call", call.call_id)
            return
        try:
            ok = await self.d.router.to_callback(call.rid, number)
        except Exception as exc:
            report(logger, exc, "call %s: callback request failed; the caller keeps waiting",
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
        call.channel_created = True
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
            except Exception as exc:
                report(logger, exc, "callback %s: returning the task failed; its "
                       "reservation expires and the reaper gives it back", call.rid)
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
