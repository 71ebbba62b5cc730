"""Hold and unhold of a connected call, from the desktop / API and from the agent's
phone (docs/call-control.md, "Hold" and "What the caller hears").

acd's hold: music on the CALLER's channel, which stays in the call's mixing bridge
(an ARI hold on the agent's leg gives the caller silence), and the caller muted
toward the bridge, so the agent hears nothing of the caller meanwhile; the agent's
leg stays up and bridged. The move is answered once Asterisk carried it out
(`HoldDone`); a failure is answered "no" and the two talk on.

The phone's hold button (ChannelHold / ChannelUnhold on the agent's leg): Asterisk
already plays the caller music (the bridge passes the hold on), so acd only keeps
the clock; the phone's unhold stops that music, so it ends any hold, acd's too.
acd's unhold of a phone's hold stops the music (the phone itself stays on hold
until its own button: acd cannot take a SIP phone off hold).

Time on hold: `queue_events` hold / unhold (`by`: desktop, supervisor, phone) and
`calls.hold_ms` (every hold, one still on counting until the call's end); talk time
does not count it (acd.calls.rows).

The moves' handlers emit their `Reply` themselves (acd.calls.phases.control
registers them and checks the call is connected; it imports this module).
"""

from __future__ import annotations

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import IN_QUEUE, Phase
from acd.calls.phases.base import Run


def _by(event: e.Control) -> str:
    role = event.by.partition(":")[0]
    return {"agent": "desktop", "phone": "phone"}.get(role, "supervisor")


def _reply(run: Run, request_id: str, ok: bool, error_id: str | None = None,
           message: str = "") -> None:
    run.emit(c.Reply(request_id, ok, error_id, message,
                     {"held": run.st.held_ms is not None}))


def _agent(run: Run) -> str | None:
    leg = run.st.connected_leg
    return leg.agent_id if leg is not None else None


def _busy(run: Run, event: e.Control) -> bool:
    if run.st.hold_request is None:
        return False
    _reply(run, event.request_id, False, "hold_pending",
           "a hold or unhold of this call is still being carried out")
    return True


def hold(run: Run, event: e.Control) -> None:
    """Put the caller on hold: they hear music, the agent hears nothing of them."""
    st = run.st
    if _busy(run, event):
        return
    if not st.answer_recorded:
        _reply(run, event.request_id, False, "not_connected",
               "the agent's answer is not confirmed yet")
        return
    if st.held_ms is not None:
        _reply(run, event.request_id, False, "already_held",
               f"the caller is already on hold (by {st.held_by})")
        return
    by = _by(event)
    run.set(held_ms=run.now_ms, held_by=by, hold_music=True, hold_request=event.request_id,
            unhold_due=False)
    run.emit(c.HoldCaller(st.channel_id, st.settings.moh_class, event.request_id))


def unhold(run: Run, event: e.Control) -> None:
    """Take the caller off hold: caller and agent hear each other again."""
    st = run.st
    if _busy(run, event):
        return
    if st.held_ms is None:
        _reply(run, event.request_id, False, "not_held", "the caller is not on hold")
        return
    # A phone's hold: Asterisk's music is stopped too (the phone itself stays on hold).
    run.set(hold_request=event.request_id)
    run.emit(c.UnholdCaller(st.channel_id, event.request_id, music=True,
                            unmute=st.hold_music))
    _end_hold(run, _by(event))


def _end_hold(run: Run, by: str) -> None:
    st = run.st
    run.set(hold_ms=st.hold_total(run.now_ms), held_ms=None, held_by=None, hold_music=False)
    run.queue_event("unhold", _agent(run), by=by)
    run.remember()


def phone(run: Run, event: e.PhoneHold) -> None:
    """The agent's phone pressed hold or took the call back."""
    st = run.st
    if (st.phase is not Phase.CONNECTED or st.connected != event.channel_id or st.caller_gone
            or not st.answer_recorded):
        return
    if event.held:
        if st.held_ms is None:
            run.set(held_ms=run.now_ms, held_by="phone", hold_music=False)
            run.queue_event("hold", _agent(run), by="phone")
            run.remember()
        return
    if st.held_ms is None:
        return  # acd's unhold came first: the phone's button only catches up
    if st.hold_music:
        # Asterisk stopped the caller's music with the phone's unhold; acd's mute is
        # acd's to lift (and the music stopped again, should it have been acd's alone).
        run.emit(c.UnholdCaller(st.channel_id, None, music=True, unmute=True))
    _end_hold(run, "phone")


def done(run: Run, event: e.HoldDone) -> None:
    """Asterisk carried a hold or unhold out: the move that asked is answered."""
    st = run.st
    if not event.held and st.unhold_due:
        run.set(unhold_due=False)  # the music is off and the caller's voice back
        run.remember()
    if event.request_id is None or event.request_id != st.hold_request:
        return
    run.set(hold_request=None)
    if event.held and st.held_ms is not None:
        run.queue_event("hold", _agent(run), by=st.held_by)
        run.remember()  # a restarted acd knows the caller is held
    _reply(run, event.request_id, True)


def failed(run: Run, cmd: c.Command, fault: e.Fault) -> bool:
    """Asterisk refused or failed a hold / unhold: the move is answered no and the
    two are left talking: what a failed hold did is undone, a failed unhold is tried
    again (every 2 s, until it works, the call ends or the caller is held again)."""
    if not isinstance(cmd, c.HoldCaller | c.UnholdCaller):
        return False
    st = run.st
    pending = cmd.request_id is not None and cmd.request_id == st.hold_request
    if isinstance(cmd, c.HoldCaller):
        if st.held_ms is not None and st.hold_music and pending:
            # Whatever part was done is undone: no music, the caller's voice back.
            run.set(held_ms=None, held_by=None, hold_music=False)
            if fault != "gone":
                run.emit(c.UnholdCaller(st.channel_id, None))
    elif fault != "gone" and st.phase in (Phase.CONNECTED, *IN_QUEUE) and not st.caller_gone:
        run.emit(c.StartTimer(UNHOLD_AGAIN, 2.0))
        if not st.unhold_due:
            run.set(unhold_due=True)
            run.remember()  # a restarted acd tries again too
    if pending and cmd.request_id is not None:
        run.set(hold_request=None)
        _reply(run, cmd.request_id, False, "hold_failed",
               f"Asterisk could not {'hold' if isinstance(cmd, c.HoldCaller) else 'unhold'}"
               f" the caller ({fault})")
    return True


UNHOLD_AGAIN = "unhold"  # the timer of a failed unhold


def unhold_again(run: Run) -> None:
    """A failed unhold, again: music off and the caller's voice back (both are
    harmless when already so), unless the caller was held again meanwhile."""
    st = run.st
    if st.caller_gone or st.held_ms is not None:
        return
    if st.phase is Phase.CONNECTED:
        run.emit(c.UnholdCaller(st.channel_id, None))
    elif st.phase in IN_QUEUE:  # the queue's music plays: only the caller's voice back
        run.emit(c.UnholdCaller(st.channel_id, None, music=False, unmute=True))


def settle(run: Run) -> None:
    """After every step: a call that left its agent answers the hold move it still
    owes, and a caller held when their agent's phone was lost (or the answer went
    stale) goes back to the queue with their voice: the hold ends there (the queue's
    music replaced acd's)."""
    st = run.st
    if st.unmute_once:
        run.set(unmute_once=False)
        if st.phase in IN_QUEUE and not st.caller_gone:
            run.emit(c.UnholdCaller(st.channel_id, None, music=False, unmute=True))
    if st.phase in IN_QUEUE and st.held_ms is not None:
        if st.hold_music:
            run.emit(c.UnholdCaller(st.channel_id, None, music=False, unmute=True))
        run.set(hold_ms=st.hold_total(run.now_ms), held_ms=None, held_by=None,
                hold_music=False)
        run.queue_event("unhold", None, by="requeue")
    rid = run.st.hold_request
    if rid is not None and run.st.phase is not Phase.CONNECTED:
        run.set(hold_request=None)
        if run.st.phase in (Phase.ENDING, Phase.ENDED):
            run.emit(c.Reply(rid, False, "call_ended", "the call has ended"))
        else:
            run.emit(c.Reply(rid, False, "not_connected", "the agent left the call"))
