"""What every phase shares: one step's working copy of the call (`Run`) and the
small moves every phase makes (media, hang-ups, legs, queue events).

A `Run` replaces its frozen state with `dataclasses.replace` and collects the
commands in order; `acd.calls.machine.step` returns both. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from acd.calls import commands as c
from acd.calls import rows
from acd.calls.model import (
    ANNOUNCEMENT,
    IN_QUEUE,
    CallState,
    Leg,
    Phase,
    playback_id,
)
from acd.routing.model import FailReason


def as_fail_reason(reason: str) -> FailReason:
    if reason == "noanswer":
        return "noanswer"
    if reason == "busy":
        return "busy"
    if reason == "unreachable":
        return "unreachable"
    if reason == "rejected":
        return "rejected"
    return "error"


class Run:
    """One step of one call: the state so far and the commands so far."""

    __slots__ = ("now_ms", "out", "st")

    def __init__(self, st: CallState, now_ms: int) -> None:
        self.st = st
        self.now_ms = now_ms
        self.out: list[c.Command] = []

    def set(self, **changes: Any) -> None:
        self.st = replace(self.st, **changes)

    def emit(self, *commands: c.Command) -> None:
        self.out.extend(commands)

    def put_leg(self, leg: Leg, **changes: Any) -> Leg:
        new = replace(leg, **changes)
        self.st = self.st.with_leg(new)
        return new

    def leg(self, channel_id: str) -> Leg | None:
        return self.st.leg(channel_id)

    # ----------------------------------------------------------- channels

    def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.emit(c.Hangup(channel_id, reason))

    def music_on(self) -> None:
        st = self.st
        if st.moh or st.caller_gone:
            return
        w = st.waiting
        moh = (w.announce.moh_class if w is not None else None) or st.settings.moh_class
        self.set(moh=True)
        self.emit(c.MusicOn(st.channel_id, moh))

    def music_off(self) -> None:
        if self.st.moh:
            self.set(moh=False)
            self.emit(c.MusicOff(self.st.channel_id))

    def play(self, prompts: tuple[str, ...], play_id: int, language: str | None = None) -> None:
        st = self.st
        seq = st.seq + 1
        pid = playback_id(st.call_id, seq)
        self.set(seq=seq, playing=(*st.playing, (pid, play_id)))
        self.emit(c.Play(st.channel_id, pid, prompts, language or st.language))

    def play_over_moh(self, prompts: tuple[str, ...]) -> None:
        """Play to a waiting caller; the music comes back when the prompt ends.

        No `MusicOff` first: Asterisk's prompt stops the channel's music itself, and
        the music does not come back by itself when the prompt ends (measured on
        Asterisk 22, tests/asterisk/test_announce_over_moh.py); `ivr.playback_done`
        starts it again. An announcement is two ARI requests, not three."""
        if self.st.moh:
            self.set(moh=False)
        self.play(prompts, ANNOUNCEMENT)

    def stop_prompts(self) -> None:
        playing = self.st.playing
        self.set(playing=())
        for pid, _ in playing:
            self.emit(c.StopPlayback(pid))

    def destroy_bridge(self) -> None:
        bid = self.st.bridge_id
        if bid is not None:
            self.set(bridge_id=None)
            self.emit(c.DestroyBridge(bid))

    # -------------------------------------------------------- bookkeeping

    def queue_event(self, event: str, agent_id: str | None, **detail: object) -> None:
        self._queue_event(event, agent_id, detail, None)

    def _queue_event(self, event: str, agent_id: str | None, detail: dict[str, object],
                     once_key: str | None) -> None:
        self.set(seq=self.st.seq + 1)
        self.emit(c.WriteRow(rows.queue_event_row(self.st, event, agent_id, self.now_ms,
                                                  detail, once_key)))

    def complete(self, leg: Leg, **detail: object) -> None:
        """The segment `leg` carried is over: its agent to wrap-up, its `complete`
        event written (once, even if a restarted acd's recovery writes it too). An
        outside party's (a consulted number) is nobody's segment: nothing to write."""
        if leg.offer is None:
            return
        self.emit(c.CallEnded(leg.offer))
        self._queue_event("complete", leg.agent_id, detail, rows.complete_key(leg))

    def remember(self) -> None:
        self.emit(c.Remember(self.st.channel_id, rows.record_fields(self.st, self.now_ms)))

    def stop_waiting(self) -> None:
        """No more announcements."""
        w = self.st.waiting
        if w is not None and w.generation:
            self.emit(c.CancelTimer(f"announce:{w.generation}"))

    def cancel_ivr_timers(self) -> None:
        for timer_id in sorted(self.st.ivr_timers):
            self.emit(c.CancelTimer(f"ivr:{timer_id}"))
        self.set(ivr_timers=frozenset())

    def arm_reap(self, seconds: float | None = None) -> None:
        """The safety net: should the last event never come, the call is still written."""
        self.emit(c.StartTimer("reap", self.st.settings.reap_after
                               if seconds is None else seconds))

    # --------------------------------------------------------------- legs

    def end_leg(self, leg: Leg) -> Leg:
        leg = self.put_leg(
            leg, ended_ms=(leg.ended_ms if leg.ended_ms is not None
                           else leg.hung_up_ms or self.now_ms),
            outcome=leg.outcome or ("answered" if leg.answered_ms is not None else "failed"))
        self.emit(c.WriteRow(rows.agent_leg_row(self.st, leg)))
        st = self.st
        if st.ending_recorded and leg.channel_id == st.connected and not st.caller_destroyed:
            self.remember()  # its row is written: a restart must not write it again
        return leg

    def leg_failed(self, leg: Leg, reason: str, cause: int | None) -> None:
        """A leg that will not (or no longer) connect: its row, its offer back to
        routing. acd's own trouble ("error") is never charged to the agent."""
        current = self.leg(leg.channel_id)
        if current is None or not current.live:
            return
        leg = self.end_leg(replace(current, cause=cause, outcome=current.outcome or reason))
        if leg.outcome in ("abandoned", "answered_elsewhere", "stale", "cancelled") \
                or leg.offer is None:  # an outside party: no agent, routing never knew
            return
        if reason != "error":
            self.queue_event(rows.fail_event(reason), leg.agent_id, cause=cause)
        st = self.st
        if st.phase is Phase.OFFERING and not st.caller_gone and not st.live_legs():
            self.set(phase=Phase.QUEUED)  # back at the head of its queue
        self.emit(c.OfferFailed(leg.offer, as_fail_reason(reason)))

    def dial_leg(self, leg: Leg) -> None:
        """Dial `leg` (in acd's app); routing hears its agent's phone rings."""
        st = self.st
        self.emit(c.Dial(leg.channel_id, st.channel_id, max(1, round(st.ring_timeout(leg)))))
        if leg.offer is not None:
            self.emit(c.OfferRinging(leg.offer))

    def ended_early(self, leg: Leg) -> bool:
        """`leg` ended before it rang, well before its ring time: not a no-answer."""
        return leg.rang_ms is None and (self.now_ms - leg.started_ms
                                        < self.st.ring_timeout(leg) * 900)

    def record_answer(self, leg: Leg) -> None:
        """Routing has the agent of `leg` on call (not an outside party: no agent)."""
        if leg.offer is not None:
            self.emit(c.RecordAnswer(leg.channel_id, leg.offer))

    def stop_legs(self, outcome: str, reason: str = "normal") -> None:
        """Hang up every live leg; its end (LegDestroyed) writes it."""
        for leg in self.st.live_legs():
            self.put_leg(leg, outcome=leg.outcome or outcome)
            self.hangup(leg.channel_id, reason)

    def in_queue(self) -> bool:
        return self.st.phase in IN_QUEUE and not self.st.caller_gone
