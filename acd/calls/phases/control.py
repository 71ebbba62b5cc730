"""Moves asked of a call in its middle (hold, transfers, monitoring, recording,
payment): one `Control` event in, exactly one `Reply` out, whatever happens.

Each move is a handler in `MOVES`, by action name; the API accepts only these names
(acd.api.control). A handler replies itself (`ok` / `refuse`), at once or later
(when what it started has happened: it keeps the request id in the call's state
and replies from the event that settles it). A call that cannot take the move now
(wrong phase, caller gone) is refused with a reason before any handler runs.

    status   what the call is and which moves it takes now (the desktop's buttons)
"""

from __future__ import annotations

from collections.abc import Mapping

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import CallState, Phase
from acd.calls.phases import conflicts, consult, hold, monitor, payment, record, transfer
from acd.calls.phases.answers import Handler, connected_only, ok, refuse
from acd.calls.phases.base import Run

__all__ = ["MOVES", "Handler", "available", "connected_only", "handle", "ok", "refuse"]


def status(run: Run, event: e.Control) -> None:
    """What the call is now, and the moves it would take."""
    st = run.st
    leg = st.connected_leg
    ok(run, event, phase=st.phase.value, queue=st.queue,
       agent_id=leg.agent_id if leg is not None else None,
       moves=",".join(sorted(available(st))),
       monitored=st.monitor.mode if st.monitor is not None and st.monitor.active else None,
       transfer=st.transfer.target if st.transfer is not None else None,
       transfer_state=transfer.state_of(st),
       held=st.held_ms is not None, held_by=st.held_by,
       held_s=0 if st.held_ms is None else round((run.now_ms - st.held_ms) / 1000, 1),
       **record.status(st), **payment.status(st))


# action -> handler; every move acd knows. Feature modules add theirs here.
MOVES: Mapping[str, Handler] = {
    "status": status,
    # monitoring (issue 17, acd.calls.phases.monitor)
    "listen": monitor.start, "whisper": monitor.start, "barge": monitor.start,
    "monitor_stop": monitor.stop,
    # transfers (issue 17, acd.calls.phases.transfer, consult)
    "transfer": connected_only(transfer.transfer),
    "consult": connected_only(consult.consult),
    "complete": connected_only(consult.complete),
    "cancel": connected_only(consult.cancel),
    "conference": connected_only(consult.conference),
    "escalate": connected_only(consult.escalate),
    # hold (issue 17, acd.calls.phases.hold)
    "hold": connected_only(hold.hold), "unhold": connected_only(hold.unhold),
    "record_start": record.record_start, "record_pause": record.record_pause,
    "record_resume": record.record_resume, "payment": payment.payment,
}

# Moves that make sense only while connected (the desktop shows them then).
CONNECTED_MOVES: frozenset[str] = frozenset({
    "listen", "whisper", "barge", "monitor_stop",  # monitoring
    "transfer", "consult", "complete", "cancel", "conference", "escalate",  # transfers
    "hold", "unhold",  # hold
    "record_start", "record_pause", "record_resume", "payment",
})


def available(st: CallState) -> frozenset[str]:
    """The moves the call would take in its present state: those its state gives a
    meaning (an unhold needs a hold, a complete a consult...), less those the move
    under way refuses (acd.calls.phases.conflicts). Who asks, and with what, is
    checked when they ask: the desktop shows these (agent.js `can`)."""
    moves = {"status"}
    leg = st.connected_leg
    if st.phase is Phase.CONNECTED and leg is not None and not leg.outside \
            and not st.caller_gone:
        moves |= CONNECTED_MOVES - _pointless(st)
        kind = conflicts.running(st)
        if kind is not None:
            moves -= conflicts.REFUSED[kind][1]
    return frozenset(moves)


def _pointless(st: CallState) -> set[str]:
    """Connected moves the call's state gives nothing to act on now."""
    no: set[str] = set()
    if st.held_ms is not None or st.hold_request is not None or not st.answer_recorded:
        no.add("hold")
    if st.held_ms is None or st.hold_request is not None:
        no.add("unhold")
    t = st.transfer
    if t is None or t.consult_bridge is None or t.conference:
        no |= {"complete", "conference"}
    if t is None or t.mode != "attended" or t.conference:
        no.add("cancel")
    if st.monitor is None:
        no.add("monitor_stop")
    rec = st.bridge_rec
    if rec is not None or st.settings.control_of(st.queue).recording == "never":
        no.add("record_start")
    if rec is None or rec.state != "active":
        no.add("record_pause")
    if rec is None or not rec.holds & record.MANUAL:
        no.add("record_resume")
    if st.bridge_id is None:
        no |= {"payment", "record_start"}
    return no


def handle(run: Run, event: e.Control) -> None:
    handler = MOVES.get(event.action)
    if handler is None:
        refuse(run, event, "unknown_move", f"no move {event.action!r}",
               moves=",".join(sorted(MOVES)))
        return
    handler(run, event)


def ended(event: e.Control) -> c.Reply:
    """The answer of a call that is over."""
    return c.Reply(event.request_id, False, "call_ended", "the call has ended")
