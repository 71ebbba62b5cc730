"""The callback phase (dialling): an agent is reserved for a callback task; acd
rings the customer who asked, and once they answer rings the agent as for any
waiting call."""

from __future__ import annotations

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import Callback, Phase
from acd.calls.phases.base import Run
from acd.calls.phases.ending import caller_left
from acd.calls.phases.queued import offer


def start(run: Run, event: e.StartCallback) -> None:
    st = run.st
    s = st.settings
    run.set(phase=Phase.DIALLING, callback=Callback(event.offer, event.attempt),
            channel_created=False, queue=event.offer.queue,
            enqueued_ms=event.offer.enqueued_at_ms)
    variables = {"ACD_CALL_ID": st.call_id, "ACD_QUEUE": event.offer.queue}
    if s.callback_caller_id:
        variables["CALLERID(num)"] = s.callback_caller_id
    run.emit(
        c.CreateChannel(st.channel_id, s.callback_endpoint.replace("{number}", st.caller_number),
                        f"callback,{st.call_id}", variables=variables),
        c.StartTimer(f"ring:{st.channel_id}", s.callback_ring_timeout + s.ring_guard_margin),
    )


def created(run: Run) -> None:
    run.set(channel_created=True)


def in_stasis(run: Run) -> None:
    st = run.st
    run.set(channel_created=True)
    if st.phase is Phase.DIALLING and not st.caller_gone:
        run.emit(c.Dial(st.channel_id, None, max(1, round(st.settings.callback_ring_timeout))))
    else:
        run.hangup(st.channel_id)  # the call moved on while Asterisk created it


def dial_status(run: Run, status: str) -> None:
    cb = run.st.callback
    if cb is not None and status:
        run.set(callback=Callback(cb.offer, cb.attempt, status))


def answered(run: Run) -> None:
    st = run.st
    cb = st.callback
    if st.phase is not Phase.DIALLING or st.caller_gone or cb is None:
        return
    run.set(answered_ms=run.now_ms, phase=Phase.QUEUED)
    run.queue_event("enter", None, callback_of=st.rid, attempt=cb.attempt)
    run.remember()
    if st.settings.callback_prompt:
        run.play_over_moh(st.settings.callback_prompt)
    else:
        run.music_on()
    offer(run, e.OfferArrived(cb.offer))


def ring_guard(run: Run) -> None:
    """The customer's phone rang past its timeout."""
    if run.st.phase is Phase.DIALLING and not run.st.caller_gone:
        run.hangup(run.st.channel_id)


def lost(run: Run) -> None:
    """The callback channel is gone (or never was) without events to say so."""
    caller_left(run, None)


def failed(run: Run, cmd: c.Command, fault: e.Fault) -> bool:
    st = run.st
    if st.phase is not Phase.DIALLING:
        return False
    if isinstance(cmd, c.CreateChannel) and cmd.channel_id == st.channel_id:
        run.set(ended_by="acd")  # the customer was never reached: acd's doing
        lost(run)
        return True
    if isinstance(cmd, c.Dial) and cmd.channel_id == st.channel_id:
        run.hangup(st.channel_id)
        if fault == "gone":
            lost(run)
        return True
    return False
