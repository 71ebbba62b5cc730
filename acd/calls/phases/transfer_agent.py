"""Blind transfers to a named agent (issue 17), and the transfer's hook into the
machine: routing's reservation, the target's leg (rung while the caller hears
music), its answer or failure, the first agent or the caller leaving meanwhile.
See acd.calls.phases.transfer for the move itself and the other kinds of target.
"""

from __future__ import annotations

from acd.agents.phone import leg_failure
from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import Leg, Phase, bridge_id
from acd.calls.phases import consult, phone_consult
from acd.calls.phases.base import Run
from acd.calls.phases.ending import to_dialplan
from acd.calls.phases.queued import request
from acd.calls.phases.transfer import (
    MOH_RETRIES,
    MOH_TIMER,
    agent_leaves,
    flow_loaded,
    phone_refer,
    report,
    ring_target,
    settle,
    write_event,
)


def reserved(run: Run, event: e.TransferReserved) -> None:
    st = run.st
    t = st.transfer
    o = event.offer
    if t is None or t.channel_id is not None or st.caller_gone \
            or (t.kind != "agent" and t.mode != "attended"):
        if o is not None:
            run.emit(c.OfferFailed(o, "rejected"))  # nobody will ring them
        settle(run, False, "call_ended", "the call ended")
        return
    if o is None:
        settle(run, False, "target_unavailable",
               f"{t.target} is not available ({event.reason})", reason=event.reason)
        return
    ring_target(run, t, o.agent_id, o.endpoint, o)


def _target(run: Run, channel_id: str | None) -> Leg | None:
    t = run.st.transfer
    if t is None or channel_id is None or t.channel_id != channel_id:
        return None
    return run.leg(channel_id)


def target_event(run: Run, leg: Leg, event: e.Event) -> None:
    """An event of the ringing target's leg."""
    st = run.st
    match event:
        case e.LegInStasis():
            if leg.dialled:
                return
            leg = run.put_leg(leg, dialled=True, created=True)
            run.dial_leg(leg)
        case e.LegRinging():
            if leg.rang_ms is None:
                run.put_leg(leg, rang_ms=run.now_ms)
                t = st.transfer
                if t is not None and t.phone_leg is not None:
                    run.emit(c.Ringback(t.phone_leg))  # the phone's own ringback
        case e.LegAnswered():
            _answered(run, leg)
        case e.LegHangupRequest():
            pass  # not answered yet: its end (LegDestroyed) says why
        case e.LegDestroyed(cause=cause):
            target_failed(run, leg, leg_failure(cause, run.ended_early(leg)), cause)


def _answered(run: Run, leg: Leg) -> None:
    st = run.st
    t = st.transfer
    assert t is not None
    if st.caller_gone or st.phase is not Phase.CONNECTED:
        _caller_gone(run)  # nobody to hand over: the target is let go
        return
    leg = run.put_leg(leg, answered_ms=run.now_ms, outcome="answered")
    if t.phone_leg is not None and t.mode == "attended" \
            and phone_consult.answered(run, leg.channel_id):
        return
    if t.mode == "attended" and consult.answered(run, leg):
        return
    # Blind, or a consult whose agent left meanwhile: the target takes the caller.
    run.emit(c.CancelTimer(f"xfer:{leg.channel_id}"))
    first = st.connected_leg
    write_event(run, t, "completed", first.agent_id if first else None)
    report(run, "channel_answered")
    agent_leaves(run)
    run.music_off()
    run.set(connected=leg.channel_id, transfer=None, phase=Phase.CONNECTED)
    bid = run.st.bridge_id
    if bid is None:  # no bridge any more (acd's trouble): a new one for the two
        bid = bridge_id(st.call_id)
        run.set(bridge_id=bid)
        run.emit(c.CreateBridge(bid), c.AddToBridge(bid, (st.channel_id, leg.channel_id)))
        return
    run.emit(c.AddToBridge(bid, (leg.channel_id,)))  # answered by Bridged: RecordAnswer


def target_failed(run: Run, leg: Leg, reason: str, cause: int | None) -> None:
    """The target did not take the call: the caller goes back to the first agent, or
    to the head of the queue when that agent left meanwhile."""
    st = run.st
    t = st.transfer
    run.emit(c.CancelTimer(f"xfer:{leg.channel_id}"))
    run.leg_failed(leg, reason, cause)
    first = st.connected_leg
    if t is not None:
        write_event(run, t, f"failed:{reason}", first.agent_id if first else None)
        report(run, "channel_declined" if reason == "busy" else "channel_unavailable")
        settle(run, False, "target_failed", f"{t.target} did not answer ({reason})")
    run.set(transfer=None)
    if st.caller_gone:
        return
    if first is not None and first.live and not first.hangup_requested:
        run.music_off()  # back to the first agent, still bridged with the caller
        return
    _back_to_queue(run)


def _back_to_queue(run: Run) -> None:
    run.set(phase=Phase.QUEUED, answer_recorded=False, complete_sent=False)
    run.destroy_bridge()
    run.music_on()
    run.emit(c.Enqueue(request(run), adopt=True))
    run.queue_event("enter", None, requeued="transfer_failed")


def ring_guard(run: Run, channel_id: str) -> None:
    leg = _target(run, channel_id)
    if leg is not None and leg.answered_ms is None and leg.live:
        run.hangup(channel_id)
        target_failed(run, leg, "noanswer", 19)


# --------------------------------------------------------------- the hook


def intercept(run: Run, event: e.Event) -> bool:
    """The transfer's share of an event, before the machine's usual handling. True
    when the event is wholly handled here."""
    st = run.st
    match event:
        case e.TransferReserved():
            reserved(run, event)
            return True
        case e.FlowLoaded():
            flow_loaded(run, event)
            return True
        case e.PhoneRefer(attended=True):
            phone_consult.refer(run, event)
            return True
        case e.PhoneRefer():
            phone_refer(run, event)
            return True
        case e.PhoneConsult():
            phone_consult.start(run, event)
            return True
        case e.PhoneLegGone():
            phone_consult.leg_gone(run, event)
            return True
        case e.TimerFired(key=key) if key.startswith("xfer"):
            _timer(run, key)
            return True
        case e.Failed(command=cmd, fault=fault):
            return _failed(run, cmd, fault)
        case e.Vanished(channel_ids=gone) if st.transfer is not None:
            if st.transfer.channel_id in gone:
                _target_vanished(run, st.transfer.channel_id)
            if st.channel_id in gone:
                _caller_gone(run)
            return False  # the machine ends what else vanished
        case e.CallerHangupRequest() | e.CallerLeft() | e.Reap():
            _caller_gone(run)
            return False
        case e.LegInStasis() | e.LegRinging() | e.LegAnswered() | e.LegHangupRequest() \
                | e.LegDestroyed():
            return _leg_event(run, event, event.channel_id)
        case e.Bridged(bridge_id=bid) if st.rebridging and bid == st.bridge_id:
            run.set(rebridging=False)
            return True  # a leg moved back into the call's bridge: no new answer
    return False


def _leg_event(run: Run, event: e.Event, channel_id: str) -> bool:
    st = run.st
    leg = _target(run, channel_id)
    if leg is not None and leg.live and leg.answered_ms is not None:
        return consult.target_event(run, leg, event)
    if leg is not None and leg.live:
        target_event(run, leg, event)
        return True
    if st.transfer is not None and channel_id == st.connected:
        if st.transfer.mode == "attended":
            return consult.first_agent_event(run, event)
        return _first_agent_event(run, event)
    return False


def _timer(run: Run, key: str) -> None:
    if key == MOH_TIMER:
        if run.st.transfer is not None and not run.st.caller_gone:
            run.music_on()  # tried again (its failure: _music_failed)
        return
    ring_guard(run, key.partition(":")[2])


def _music_failed(run: Run) -> None:
    """The caller's music would not start during a transfer (acd's own trouble): tried
    again a few times; then a consult ends (the agent back with the caller), so the
    caller is not left alone in silence."""
    st = run.st
    run.set(moh=False)
    if st.moh_retries < MOH_RETRIES:
        run.set(moh_retries=st.moh_retries + 1)
        run.emit(c.StartTimer(MOH_TIMER, 1.0))
    else:
        consult.give_up(run)


def _target_vanished(run: Run, channel_id: str | None) -> None:
    """The target's channel is gone and its events were lost (a gap)."""
    leg = _target(run, channel_id)
    if leg is None or not leg.live:
        return
    if leg.answered_ms is None:
        target_failed(run, leg, "error", None)
    else:
        consult.target_event(run, leg, e.LegDestroyed(leg.channel_id, None))


def _first_agent_event(run: Run, event: e.Event) -> bool:
    """The first agent hangs up while the target rings: they leave to wrap-up, the
    caller waits on music for the target."""
    leg = run.st.connected_leg
    if leg is None or leg.hangup_requested or run.st.transfer is None \
            or run.st.transfer.channel_id is None:
        return False
    if isinstance(event, e.LegHangupRequest | e.LegDestroyed):
        agent_leaves(run, hang_up=False)
        return isinstance(event, e.LegHangupRequest)
    return False


def _caller_gone(run: Run) -> None:
    st = run.st
    t = st.transfer
    if t is None:
        return
    leg = _target(run, t.channel_id)
    if leg is not None and leg.live and leg.answered_ms is not None:
        consult.caller_gone(run, leg)
    elif leg is not None and leg.live:
        run.put_leg(leg, outcome="abandoned")
        run.hangup(leg.channel_id)
        run.emit(c.CancelTimer(f"xfer:{leg.channel_id}"))
        if leg.offer is not None:
            run.emit(c.Dequeue(leg.offer.call_id))
    write_event(run, t, "caller_gone", st.connected_leg.agent_id if st.connected_leg else None)
    report(run, "channel_unavailable")
    settle(run, False, "call_ended", "the caller hung up")
    run.set(transfer=None)


def _rebridge_failed(run: Run) -> None:
    """A leg of a call already talking (answer recorded) could not be put back in a
    bridge (a consult completed, cancelled or made a conference): whoever is
    answered leaves to wrap-up and the dialplan's fallback takes the caller."""
    for leg in run.st.live_legs():
        if leg.answered_ms is not None and not leg.hangup_requested:
            run.put_leg(leg, hangup_requested=True)
            run.hangup(leg.channel_id)
            run.complete(leg, reason="bridge_failed")
    run.set(transfer=None, complete_sent=True, answer_recorded=False, rebridging=False)
    run.destroy_bridge()
    to_dialplan(run)


def _failed(run: Run, cmd: c.Command, fault: e.Fault) -> bool:
    st = run.st
    t = st.transfer
    if fault == "gone" and isinstance(cmd, c.ON_CHANNEL) and cmd.channel_id == st.channel_id \
            and st.channel_created:
        _caller_gone(run)  # as if its hang-up came: the machine then ends the call
        return False
    if isinstance(cmd, c.AddToBridge) and cmd.bridge_id == st.bridge_id \
            and st.answer_recorded and not st.caller_gone and st.phase is Phase.CONNECTED:
        _rebridge_failed(run)
        return True
    if isinstance(cmd, c.CreateBridge | c.AddToBridge) and t is not None \
            and t.consult_bridge is not None and cmd.bridge_id == t.consult_bridge:
        consult.give_up(run, "bridge_failed")  # never the connect's bridge failure
        return True
    if isinstance(cmd, c.MusicOn) and t is not None and not st.caller_gone:
        _music_failed(run)
        return True
    if isinstance(cmd, c.ReserveAgent):
        if t is not None and t.channel_id is None:
            settle(run, False, "failed", "routing could not reserve the agent")
        return True
    if isinstance(cmd, c.ReportTransfer):
        return True  # the phone's leg is gone: nobody to tell
    if isinstance(cmd, c.LoadFlow):
        settle(run, False, "failed", "the flow could not be loaded")
        return True
    if isinstance(cmd, c.CreateChannel | c.Dial):
        leg = _target(run, cmd.channel_id)
        if leg is None:
            return False
        if isinstance(cmd, c.Dial):
            run.hangup(leg.channel_id)
        target_failed(run, leg, "unreachable" if fault == "unreachable" else "error", None)
        return True
    return False
