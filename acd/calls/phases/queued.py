"""The queued phase: the caller waits on music for an offer, hears periodic
announcements, may ask to be called back; routing may give them back."""

from __future__ import annotations

from dataclasses import replace

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import IN_QUEUE, Leg, Phase, leg_channel_id
from acd.calls.phases.base import Run
from acd.calls.phases.ending import to_dialplan
from acd.calls.phases.ivr import leave_queue
from acd.calls.rows import exit_reason
from acd.ivr import say
from acd.routing.model import Offer, QueueRequest


def enqueued(run: Run, event: e.Enqueued) -> None:
    st = run.st
    if st.phase is not Phase.QUEUED or st.caller_gone or st.waiting is None:
        return
    result = event.result
    if not result.accepted:
        leave_queue(run, "exit", exit_reason(result.reason), reason=result.reason or "refused")
        return
    run.queue_event("enter", None, priority=st.waiting.request.priority)
    run.remember()
    schedule_announcement(run, first=True)


def request(run: Run) -> QueueRequest:
    """The call's place as it was asked for (or a bare one for a re-adopted call)."""
    st = run.st
    if st.waiting is not None:
        return st.waiting.request
    return QueueRequest(call_id=st.rid, queue=st.queue or "",
                        enqueued_at_ms=st.enqueued_ms or run.now_ms, caller=st.caller_number)


# ---------------------------------------------------------- announcements


def schedule_announcement(run: Run, *, first: bool) -> None:
    w = run.st.waiting
    if w is None or not w.announces:
        return
    if first:
        run.stop_waiting()
        w = replace(w, generation=w.generation + 1)
        run.set(waiting=w)
    a = w.announce
    delay = a.first if first and a.first is not None else a.every
    run.emit(c.StartTimer(f"announce:{w.generation}", delay))


def announce_due(run: Run, generation: int) -> None:
    st = run.st
    w = st.waiting
    if w is None or generation != w.generation or st.caller_gone:
        return
    if st.phase is Phase.OFFERING:  # an agent's phone rings: not now
        schedule_announcement(run, first=False)
    elif st.phase is Phase.QUEUED:
        if w.announce.position or w.announce.wait_time:
            run.emit(c.AskStanding(st.rid, w.announce.wait_time))
        else:
            standing(run, e.Standing(None, None))


def standing(run: Run, event: e.Standing) -> None:
    st = run.st
    w = st.waiting
    if w is None or st.phase is not Phase.QUEUED or st.caller_gone:
        return
    schedule_announcement(run, first=False)
    a = w.announce
    prompts = say.queue_announcement(
        message=list(a.prompt), position=event.position, wait_s=event.wait_s,
        say_position=a.position, say_wait=a.wait_time, callback_offer=list(w.callback_offer))
    if prompts:
        run.play_over_moh(tuple(prompts))


# --------------------------------------------------------------- callbacks


def callback_key(run: Run, digit: str) -> bool:
    """The waiting caller pressed the callback key: ask routing to keep their place
    as a callback task. True when `digit` was that key."""
    st = run.st
    w = st.waiting
    if st.phase is not Phase.QUEUED or w is None or digit != w.callback_key:
        return False
    number = w.callback_number or st.caller_number
    if number and any(ch.isdigit() for ch in number):
        run.emit(c.AskCallback(st.rid, number))
    return True


def callback_accepted(run: Run, event: e.CallbackAccepted) -> None:
    st = run.st
    if not event.ok or st.phase is not Phase.QUEUED or st.caller_gone or st.waiting is None:
        return  # an agent is being offered this call right now: it keeps waiting
    number = st.waiting.callback_number or st.caller_number
    run.set(outcome="callback")
    run.emit(c.RememberCallback(st.rid, {
        "origin": st.call_id, "number": number, "queue": st.queue or "",
        "caller_name": st.caller_name, "requested_ms": run.now_ms, "tries": 0}))
    leave_queue(run, "callback", "callback", requested=True)


# ------------------------------------------------------------------ offers


def offer(run: Run, event: e.OfferArrived) -> None:
    """Routing reserved an agent: ring their phone (a channel first; it is dialled
    when it enters Stasis)."""
    st = run.st
    ok = st.phase is Phase.QUEUED or (event.ring_all and st.phase is Phase.OFFERING)
    o = event.offer
    if not ok or st.caller_gone:
        run.emit(c.OfferFailed(o, "rejected"))
        return
    # Routing's attempt keeps leg ids unique across an acd restart (st.attempts
    # starts again from the record), yet the same for a retried offer.
    attempts = max(st.attempts, o.attempt - 1) + 1
    leg = Leg(leg_id=f"{st.call_id}-{attempts}", channel_id=leg_channel_id(st.call_id, attempts),
              agent_id=o.agent_id, endpoint=o.endpoint, offer=o, started_ms=run.now_ms)
    run.set(phase=Phase.OFFERING, attempts=attempts)
    run.put_leg(leg)
    run.queue_event("offer", o.agent_id, attempt=o.attempt)
    run.emit(
        c.CreateChannel(leg.channel_id, o.endpoint, f"agent,{st.call_id}",
                        originator=st.channel_id,
                        variables={"ACD_CALL_ID": st.call_id, "ACD_QUEUE": o.queue}),
        c.StartTimer(f"ring:{leg.channel_id}", _ring(o) + st.settings.ring_guard_margin),
    )


def _ring(o: Offer) -> int:
    return max(1, round(o.ring_timeout))


def left_queue(run: Run, event: e.LeftQueue) -> None:
    """Routing took the call out of its queue: on to the IVR's exit. A phone still
    ringing for it rings for an offer routing no longer holds: it stops."""
    if not run.in_queue():
        return
    run.stop_legs("stale")
    reason = event.reason
    leave_queue(run, "exit", exit_reason(reason), reason=reason)


def requeue(run: Run, event: e.Requeue) -> None:
    """Back into routing with the original enqueue time (a re-adopted call; Redis
    lost its data: a ringing offer is gone, a connected call writes its record)."""
    st = run.st
    if st.caller_gone:
        return
    if event.lost and st.phase is Phase.CONNECTED:
        run.remember()
        return
    if event.lost and st.phase is Phase.OFFERING:
        run.stop_legs("stale")
        run.set(phase=Phase.QUEUED)
    if run.st.phase is not Phase.QUEUED:
        return
    run.music_on()
    run.emit(c.Enqueue(request(run), adopt=True))
    if event.lost:
        run.remember()


def failed(run: Run, cmd: c.Command) -> bool:
    """Routing could not take the caller: the dialplan serves them. True when handled."""
    if isinstance(cmd, c.Enqueue):
        if run.st.phase in IN_QUEUE and not run.st.caller_gone:
            to_dialplan(run)
        return True
    if isinstance(cmd, c.AskStanding):
        standing(run, e.Standing(None, None))
        return True
    return isinstance(cmd, c.AskCallback)  # the caller keeps waiting
