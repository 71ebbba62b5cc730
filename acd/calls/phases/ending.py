"""The end of a call, from whichever phase: the caller leaves (or is sent to the
dialplan), the agent leaves, the call is written exactly once."""

from __future__ import annotations

from acd.calls import commands as c
from acd.calls import rows
from acd.calls.endings import q850
from acd.calls.model import IN_QUEUE, Phase
from acd.calls.phases import record
from acd.calls.phases.base import Run


def caller_gone(run: Run, cause: int | None) -> None:
    """The caller hung up (or was hung up): clean up whatever phase the call is in."""
    st = run.st
    if q850(cause) is not None and st.caller_cause is None:
        run.set(caller_cause=cause)
    if st.caller_gone:
        return
    run.set(caller_gone=True, ended_by=st.ended_by or "caller",
            ended_ms=st.ended_ms or run.now_ms)  # set: a re-adopted ending call
    run.arm_reap()
    run.cancel_ivr_timers()
    run.stop_waiting()
    phase = st.phase
    run.set(phase=Phase.ENDING)
    if phase is Phase.DIALLING:
        callback_unanswered(run)
    elif phase in IN_QUEUE:
        abandon(run)
    elif phase is Phase.CONNECTED and not st.answer_recorded:
        # The caller left between the agent's answer and the bridge: they never
        # talked; routing lets the agent go (the abandon dequeues the call).
        run.set(connected=None, outcome=None)
        run.destroy_bridge()
        abandon(run)
    elif phase is Phase.CONNECTED:
        run.set(outcome=run.st.outcome or "answered")
        leg = run.st.connected_leg
        if leg is not None and leg.live:
            run.hangup(leg.channel_id)
        end_connected(run)
        record_ending(run)
    elif run.st.outcome is None:
        run.set(outcome="transferred" if st.transferred else "ivr_hangup")


def caller_left(run: Run, cause: int | None) -> None:
    """The caller's channel is gone for good (destroyed, or out of Stasis)."""
    if q850(cause) is not None:
        run.set(caller_cause=cause)
    run.set(caller_destroyed=True)
    caller_gone(run, cause)
    maybe_finish(run)


def abandon(run: Run) -> None:
    run.set(outcome="abandoned")
    run.emit(c.Dequeue(run.st.rid))
    run.stop_legs("abandoned")
    run.queue_event("abandon", None)


def end_connected(run: Run) -> None:
    """The connected call is over: the bridge goes, the agent to wrap-up (once)."""
    leg = run.st.connected_leg
    record.stop(run)  # #17: the recording ends with the bridge
    run.destroy_bridge()
    if leg is None or run.st.complete_sent:
        return
    run.set(complete_sent=True)
    if not run.st.answer_recorded:
        if leg.offer is not None:
            run.emit(c.OfferFailed(leg.offer, "error"))  # never talked: not charged
        return
    run.complete(leg, ended_by=run.st.ended_by or "unknown")


def agent_hung_up(run: Run, channel_id: str) -> None:
    leg = run.leg(channel_id)
    if leg is None or leg.hangup_requested:
        return
    run.put_leg(leg, hangup_requested=True, hung_up_ms=run.now_ms)
    st = run.st
    if not st.caller_gone:
        run.set(ended_by=st.ended_by or "agent", phase=Phase.ENDING, caller_gone=True,
                ended_ms=run.now_ms)
        run.arm_reap()
        run.hangup(st.channel_id)
        end_connected(run)
        record_ending(run)


def record_ending(run: Run) -> None:
    """The `complete` event is written: the record says so, so that a restart only
    ends the call (acd.calls.adoption) and recovery writes no second one."""
    if run.st.complete_sent and not run.st.ending_recorded:
        run.set(ending_recorded=True)
        run.remember()


def maybe_finish(run: Run, force: bool = False) -> None:
    """Write the call once its caller's channel is gone and no leg lives (or now,
    `force`d: the reap timer, acd stopping)."""
    st = run.st
    if st.phase is Phase.ENDED:
        return
    if not force and (not st.caller_destroyed or st.live_legs()):
        return
    if force:
        for leg in st.live_legs():
            run.hangup(leg.channel_id)
            run.end_leg(run.put_leg(leg, outcome=leg.outcome or "reaped"))
        if not run.st.caller_gone:
            run.set(ended_by=run.st.ended_by or "acd")
            if run.st.channel_created:
                run.hangup(st.channel_id)
            caller_gone(run, None)
    record.stop(run)  # #17: its row, whatever ended the call
    if run.st.routing_id is not None and run.st.outcome != "no_answer":
        run.emit(c.ForgetCallback(run.st.rid))  # served (or dropped)
    if run.st.ended_ms is None:
        run.set(ended_ms=run.now_ms)
    run.set(phase=Phase.ENDED)
    run.emit(c.WriteRow(rows.caller_leg_row(run.st)), c.WriteRow(rows.call_row(run.st)),
             c.Forget(st.channel_id), c.Finished())


def to_dialplan(run: Run) -> None:
    """The last resort: let the dialplan's fallback serve the caller."""
    st = run.st
    run.set(transferred=True, outcome="failed", ended_by=st.ended_by or "acd",
            phase=Phase.IVR)  # out of acd's queue: not an abandon later
    run.stop_waiting()
    if st.phase in IN_QUEUE:
        run.emit(c.Dequeue(st.rid))
    run.stop_prompts()
    run.music_off()
    run.emit(c.ToDialplan(st.channel_id))


def safety_net(run: Run) -> None:
    """An unexpected error: a caller not talking to an agent goes to the dialplan;
    connected parties stay bridged; a call already ending is left to end."""
    st = run.st
    if st.phase in (Phase.CONNECTED, Phase.ENDING, Phase.ENDED) or st.caller_gone:
        return
    run.set(end_detail=st.end_detail or "handler_error")
    run.cancel_ivr_timers()
    for leg in st.live_legs():
        run.put_leg(leg, outcome=leg.outcome or "error")
        run.hangup(leg.channel_id)
        run.leg_failed(leg, "error", None)
    to_dialplan(run)


def callback_unanswered(run: Run) -> None:
    """The customer did not pick up the callback: again later in the same place, or
    given up after the last attempt."""
    st = run.st
    cb = st.callback
    s = st.settings
    run.set(outcome="no_answer")
    attempt = cb.attempt if cb is not None else 1
    retry = s.callback_retry_delay if attempt < s.callback_max_attempts else None
    run.queue_event("callback", None, result="no_answer", attempt=attempt,
                    dialstatus=cb.dialstatus if cb is not None else None, retry_in=retry)
    if cb is not None:
        run.emit(c.CallbackFailed(cb.offer, retry))
    if retry is None:
        run.emit(c.ForgetCallback(st.rid))
