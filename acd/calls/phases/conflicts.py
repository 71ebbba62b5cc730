"""Moves that conflict (#17): while one move runs, the moves that would half-undo it
are refused with its name, before any handler runs, and the call is left untouched.

    running     refused (error_id)                       why
    payment     hold unhold transfer consult escalate    the caller is out of the
                record_start record_resume payment       bridge in a masked flow: no
                whisper barge  (payment_running)         music over its prompts, no
                                                         recording of its digits, the
                                                         agent is talking to nobody
    transfer    hold transfer consult escalate           a blind transfer rings its
    (blind)     payment record_start barge               target while the caller hears
                (transfer_in_progress)                   music alone
    consult     hold transfer consult escalate           the agent is away from the
                payment record_start barge               caller (ringing or talking to
                (consult_running)                        the target); complete, cancel
                                                         or conference end it
    conference  hold transfer consult escalate           three talk in the call's
                payment  (conference_running)            bridge: one of them leaves
    hold        transfer consult escalate payment        unhold first: each of these
                (caller_held)                            would leave the caller muted

What a supervisor may still do meanwhile: listen, stop monitoring and pause the
recording, always; whisper (only the agent hears it) except during a payment (the
agent talks to nobody); barge only while the caller and the agent are in the call's
bridge (held or in a conference, not while the caller pays or waits on a transfer).
The monitoring itself blocks nothing: a snoop follows the agent's channel. Moves a
running move does not refuse go to their handler, which may refuse them for their
own reasons (`no_consult`, `not_recording`, `already_held`...).

The agent's phone meanwhile: its hold button during a payment, a transfer or a
consult is no hold of the caller (the caller is in the payment flow or already on
music): not counted, nothing done. Its transfer button (a REFER) during a payment is
declined (during a transfer or consult acd.calls.phases.transfer declines a blind one;
an attended one, Replaces naming the phone's own consult call, completes that consult:
acd.calls.phases.phone_consult).
"""

from __future__ import annotations

from collections.abc import Mapping

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import CallState, Phase
from acd.calls.phases.answers import refuse
from acd.calls.phases.base import Run

# The moves that start something the caller would be taken from, or put into. An
# unhold is refused only during a payment: a hold from before a transfer (the phone's,
# then its REFER) or made in a conference may always end.
_MOVES_AWAY = frozenset({"hold", "transfer", "consult", "escalate", "payment"})

# running move -> (its error_id, the moves it refuses)
REFUSED: Mapping[str, tuple[str, frozenset[str]]] = {
    "payment": ("payment_running", _MOVES_AWAY | {"unhold", "record_start", "record_resume",
                                                  "whisper", "barge"}),
    "transfer": ("transfer_in_progress", _MOVES_AWAY | {"record_start", "barge"}),
    "consult": ("consult_running", _MOVES_AWAY | {"record_start", "barge"}),
    "conference": ("conference_running", _MOVES_AWAY),
    "hold": ("caller_held", frozenset({"transfer", "consult", "escalate", "payment"})),
}

MESSAGES: Mapping[str, str] = {
    "payment": "the caller is paying: wait for the payment's result",
    "transfer": "a transfer is under way",
    "consult": "a consult is under way: complete, cancel or make it a conference first",
    "conference": "a conference is under way",
    "hold": "the caller is on hold: take them off hold first",
}


def running(st: CallState) -> str | None:
    """The move under way that other moves must respect, if any (see REFUSED)."""
    if st.phase is not Phase.CONNECTED:
        return None
    if st.payment is not None:
        return "payment"
    t = st.transfer
    if t is not None:
        if t.conference:
            return "conference"
        return "consult" if t.mode == "attended" else "transfer"
    if st.held_ms is not None:
        return "hold"
    return None


def conflict(st: CallState, move: str) -> tuple[str, str] | None:
    """(error_id, message) when the move running refuses `move`, else None."""
    kind = running(st)
    if kind is None:
        return None
    error_id, refused = REFUSED[kind]
    return (error_id, MESSAGES[kind]) if move in refused else None


def intercept(run: Run, event: e.Event) -> bool:
    """A move, or a phone's button, that conflicts with the move under way: refused
    (or ignored) here, before any handler. True: taken."""
    st = run.st
    match event:
        case e.Control(action=action):
            found = conflict(st, action)
            if found is None:
                return False
            error_id, message = found
            refuse(run, event, error_id, message, running=running(st))
            return True
        case e.PhoneHold(channel_id=ch) if ch == st.connected:
            # Only a phone hold that began before the move may end (and be counted).
            return running(st) in ("payment", "transfer", "consult") and st.held_ms is None
        case e.PhoneRefer(channel_id=ch) if running(st) == "payment":
            run.emit(c.ReportTransfer(ch, "channel_declined"))
            return True
    return False
