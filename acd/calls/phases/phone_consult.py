"""Attended transfers from the agent's own phone (issue 17): its second call and its
REFER with Replaces.

On a real phone the agent holds the caller (ChannelHold: acd.calls.phases.hold),
dials a colleague's number and, once they talk, presses transfer: the phone sends a
REFER on acd's leg whose Refer-To names the colleague's number and Replaces the
second dialog. ARI cannot pull a channel that is not in Stasis into acd's bridge, so
the `[agents]` dialplan hands the second call to acd (`Stasis(acd,phone,<number>)`,
acd.calls.phone_calls), and acd makes it a consult of the agent's connected call:

    PhoneConsult    the number is a colleague's (settings.agent_numbers): routing
                    reserves them (refused: the second call is hung up, busy), their
                    phone rings as a leg of kind `transfer` (mode attended); the
                    caller hears music; the agent's leg stays in the call's bridge
    target answers  the second call is answered and bridged with the target in a
                    consult bridge (queue event `consult`, via phone)
    PhoneRefer      attended, Replaces naming the second call: completed as the
                    desktop's `complete`: the target into the call's bridge, the
                    caller off hold, the phone told channel_answered (NOTIFY 200), the
                    agent's two calls hung up (the first by the phone itself once told;
                    acd after PHONE_HANGUP_AFTER if not), the agent to wrap-up, the
                    target the call's connected agent. While the target still rings:
                    the phone is told channel_progress, the second call is hung up and
                    the target takes the caller on answer (as a blind transfer).
    PhoneLegGone    the phone hung its second call up first: the consult ends (the
                    target hung up or stops ringing), the agent back with the caller
                    (still on the phone's hold until its unhold).

Failures: a REFER naming another dialog, or the target gone, or the caller gone:
the phone is told channel_declined and the call goes on. Whenever the consult ends
any other way (target busy / no answer / hangs up, caller hangs up, the desktop's
cancel) the second call is hung up (`follow`), so nobody is left in Stasis.
"""

from __future__ import annotations

from dataclasses import replace

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import CallState, Phase, Transfer, consult_bridge_id
from acd.calls.phases import consult
from acd.calls.phases.base import Run
from acd.calls.phases.transfer import agent_leaves, refer_target, report, write_event


def start(run: Run, event: e.PhoneConsult) -> None:
    """The connected agent's phone dialled a colleague: ring them for a consult."""
    st = run.st
    first = st.connected_leg
    target = refer_target(run, event.number)
    if (st.phase is not Phase.CONNECTED or st.caller_gone or first is None
            or first.hangup_requested or not st.answer_recorded or st.transfer is not None
            or target is None or not target.startswith("agent:")):
        run.hangup(event.channel_id, "busy")
        return
    consult.begin(run, Transfer(target, f"phone:{first.agent_id}", via="phone",
                                mode="attended", phone_leg=event.channel_id))
    if run.st.transfer is None:  # refused at once (the agent themself)
        run.hangup(event.channel_id, "busy")


def answered(run: Run, leg_id: str) -> bool:
    """The colleague answered a phone consult: the phone's second call is answered and
    bridged with them. False when the agent left meanwhile (they take the caller)."""
    st = run.st
    t = st.transfer
    first = st.connected_leg
    leg = st.leg(leg_id)
    if (t is None or t.phone_leg is None or leg is None or first is None
            or first.hangup_requested or st.bridge_id is None):
        return False
    bid = consult_bridge_id(st.call_id, st.transfers)
    run.set(transfer=replace(t, consult_bridge=bid))
    run.emit(c.CancelTimer(f"xfer:{leg.channel_id}"))
    run.record_answer(leg)  # the target is on call
    run.emit(c.Answer(t.phone_leg), c.CreateBridge(bid),
             c.AddToBridge(bid, (t.phone_leg, leg.channel_id)))
    run.queue_event("consult", first.agent_id, to=t.target, target_agent=leg.agent_id,
                    via="phone")
    return True


def refer(run: Run, event: e.PhoneRefer) -> None:
    """The phone's transfer button with Replaces: complete the phone consult."""
    st = run.st
    t = st.transfer
    first = st.connected_leg
    target = st.leg(t.channel_id) if t is not None and t.channel_id is not None else None
    if (t is None or t.phone_leg is None or event.replaces != t.phone_leg
            or first is None or first.channel_id != event.channel_id or first.hangup_requested
            or st.caller_gone or st.phase is not Phase.CONNECTED
            or target is None or not target.live or target.hangup_requested):
        run.emit(c.ReportTransfer(event.channel_id, "channel_declined"))
        return
    if target.answered_ms is None:
        # Transferred while the colleague still rings: they take the caller on answer.
        run.emit(c.ReportTransfer(event.channel_id, "channel_progress"))
        run.set(transfer=replace(t, mode="blind", refer_channel=event.channel_id))
        return  # `follow` hangs the second call up (phone_leg kept until then)
    run.set(transfer=replace(t, refer_channel=event.channel_id))
    _complete(run, target.channel_id)


def _complete(run: Run, target_id: str) -> None:
    st = run.st
    t = st.transfer
    first = st.connected_leg
    target = st.leg(target_id)
    assert t is not None and first is not None and target is not None
    write_event(run, replace(t, mode="attended"), "completed", first.agent_id)
    run.queue_event("consult_end", first.agent_id, result="completed")
    report(run, "channel_answered")
    if st.held_ms is not None:  # the phone's hold of the caller ends with the agent
        run.emit(c.UnholdCaller(st.channel_id, None, music=True, unmute=st.hold_music))
        run.set(hold_ms=st.hold_total(run.now_ms), held_ms=None, held_by=None,
                hold_music=False)
        run.queue_event("unhold", first.agent_id, by="transfer")
    agent_leaves(run)  # the phone hangs its first call up once told; acd if it does not
    if t.consult_bridge is not None:
        run.emit(c.RemoveFromBridge(t.consult_bridge, (target.channel_id,)))
    run.music_off()
    if st.bridge_id is not None:
        run.emit(c.AddToBridge(st.bridge_id, (target.channel_id,)))
        run.set(rebridging=True)  # its Bridged is no new answer
    if t.consult_bridge is not None:
        run.emit(c.DestroyBridge(t.consult_bridge))
    run.set(connected=target.channel_id, transfer=None, answer_recorded=True,
            complete_sent=False)
    run.queue_event("connect", target.agent_id, transfer=True)
    run.remember()


def leg_gone(run: Run, event: e.PhoneLegGone) -> None:
    """The phone hung its second call up before transferring: back to the caller."""
    t = run.st.transfer
    if t is None or t.phone_leg != event.channel_id:
        return
    if t.mode == "blind":  # transferred while ringing: the phone's own hang-up after it
        run.set(transfer=replace(t, phone_leg=None))
        return
    consult.drop(run)  # `follow` knows this call is gone: not hung up again


def follow(before: CallState, run: Run, event: e.Event) -> None:
    """After every step: a phone consult that ended (or was handed over) lets the
    phone's second call go, unless that call is what ended."""
    old = before.transfer.phone_leg if before.transfer is not None else None
    now = run.st.transfer
    if old is None or (now is not None and now.phone_leg == old and now.mode != "blind"):
        return
    if isinstance(event, e.PhoneLegGone) and event.channel_id == old:
        return
    run.hangup(old)
    if now is not None and now.phone_leg == old:
        run.set(transfer=replace(now, phone_leg=None))
