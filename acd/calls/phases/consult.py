"""Attended transfers (issue 17): the agent consults a target before handing over.

    consult {to: "agent:<id>" | "queue:<name>" | "number:<digits>"}   ring the
                 target (a leg of kind transfer, mode attended) while the caller
                 hears music; answered: the agent's leg moves to a consult bridge
                 with the target, the caller stays alone in the call's bridge on
                 music. A number is no agent: routing is not asked, acd makes its
                 leg itself, a Local channel into the dialplan at the transfer
                 context (`number_endpoint`); the leg has no offer (`Leg.outside`)
                 and, once completed, is the call's connected party
    complete     the target into the call's bridge with the caller; the agent leaves
                 (hung up, wrap-up). The agent hanging up during the consult does
                 the same (as on a PBX).
    cancel       the target is hung up (or stops ringing); the agent back with the
                 caller, music off
    conference   agent and target both into the call's bridge with the caller; then
                 either may leave, the other stays with the caller
    escalate {reason}   a consult with the first available agent of the
                 supervisors' queue (settings.supervisors_queue), reason recorded

Failures: the target does not answer / is busy: the agent is still with the
caller (music off). The target hangs up during the consult: the agent back with
the caller. The caller hangs up during the consult: the consult ends too (the
target is hung up and wraps up, the agent's leg is hung up as on any call end).

Rows: the target's leg (kind transfer, detail {target, mode: attended}); queue
events `consult` (answered), `consult_end` (result completed, cancelled,
target_gone, caller_gone), `conference`, `escalate` (reason), and `transfer`
(mode attended, result completed) when the call is handed over.
"""

from __future__ import annotations

from dataclasses import replace

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import Leg, Transfer, consult_bridge_id, transfer_task_id
from acd.calls.phases.answers import ok as _ok
from acd.calls.phases.answers import refuse as _refuse
from acd.calls.phases.base import Run
from acd.calls.phases.transfer import (
    agent_leaves,
    parse_target,
    ring_target,
    settle,
    write_event,
)

MAX_REASON = 200


def consult(run: Run, event: e.Control) -> None:
    """Ring a target to talk to while the caller holds (connected_only)."""
    if run.st.transfer is not None:
        _refuse(run, event, "transfer_in_progress",
                f"a transfer to {run.st.transfer.target} is under way")
        return
    target = parse_target(event.args.get("to"))
    if target is None or target.partition(":")[0] not in ("agent", "queue", "number"):
        _refuse(run, event, "bad_target",
                "to must be agent:<id>, queue:<name> or number:<digits>")
        return
    begin(run, Transfer(target, event.by, request_id=event.request_id, mode="attended"))


def escalate(run: Run, event: e.Control) -> None:
    """A consult with the first available supervisor, the reason recorded."""
    if run.st.transfer is not None:
        _refuse(run, event, "transfer_in_progress",
                f"a transfer to {run.st.transfer.target} is under way")
        return
    reason = event.args.get("reason")
    reason = reason[:MAX_REASON] if isinstance(reason, str) else ""
    leg = run.st.connected_leg
    run.queue_event("escalate", leg.agent_id if leg else None, reason=reason, by=event.by)
    queue = run.st.settings.supervisors_queue
    begin(run, Transfer(f"queue:{queue}", event.by, request_id=event.request_id,
                        mode="attended"))


def begin(run: Run, t: Transfer) -> None:
    st = run.st
    n = st.transfers + 1
    run.set(transfer=t, transfers=n)
    if t.kind == "queue" and not any(q == t.name for q, _, _ in st.settings.transfer_queues):
        settle(run, False, "unknown_target", f"no queue {t.name!r}")
        return
    if t.kind == "number":  # no routing: acd rings the outside party itself
        ring_target(run, t, "", number_endpoint(t.name, st.settings.transfer_context), None)
        return
    leg = st.connected_leg
    if t.kind == "agent" and leg is not None and leg.agent_id == t.name:
        settle(run, False, "target_unavailable", f"agent {t.name} is on this call")
        return
    run.emit(c.ReserveAgent(transfer_task_id(st.call_id, n),
                            t.name if t.kind == "agent" else "",
                            t.name if t.kind == "queue" else st.queue or "",
                            st.enqueued_ms or run.now_ms, st.caller_number))


def number_endpoint(number: str, context: str) -> str:
    """The consult leg to an outside number: a Local channel whose ;1 half acd creates
    into its app and whose ;2 half runs the dialplan at `context,number,1` (the blind
    transfer's rules). /n: never optimised away, so the ;1 half acd bridges stays
    the outside party's channel for the whole call."""
    return f"Local/{number}@{context}/n"


# ------------------------------------------------------------ the target answers


def answered(run: Run, leg: Leg) -> bool:
    """The consulted target answered: agent and target talk in a consult bridge.
    False when the agent is gone (the target then takes the caller, as if blind)."""
    st = run.st
    t = st.transfer
    first = st.connected_leg
    if t is None or first is None or first.hangup_requested or st.bridge_id is None:
        return False
    bid = consult_bridge_id(st.call_id, st.transfers)
    run.set(transfer=replace(t, consult_bridge=bid))
    run.emit(c.CancelTimer(f"xfer:{leg.channel_id}"))
    run.record_answer(leg)  # the target is on call
    run.emit(c.RemoveFromBridge(st.bridge_id, (first.channel_id,)),
             c.CreateBridge(bid), c.AddToBridge(bid, (first.channel_id, leg.channel_id)))
    run.queue_event("consult", first.agent_id, to=t.target, target_agent=leg.agent_id or None)
    return True


def _consulting(run: Run) -> tuple[Transfer, Leg, Leg] | None:
    """The consult under way: the transfer, the first agent's leg, the target's."""
    st = run.st
    t = st.transfer
    if t is None or t.consult_bridge is None or t.channel_id is None or t.conference:
        return None
    first, target = st.connected_leg, st.leg(t.channel_id)
    if first is None or target is None or not target.live:
        return None
    return t, first, target


def _close_consult(run: Run, t: Transfer) -> None:
    if t.consult_bridge is not None:
        run.emit(c.DestroyBridge(t.consult_bridge))


def _target_leaves(run: Run, target: Leg, reason: str, *, hang_up: bool) -> None:
    run.put_leg(target, hangup_requested=True)
    if hang_up:
        run.hangup(target.channel_id)
    run.complete(target, reason=reason)


def _back_to_caller(run: Run, t: Transfer, first: Leg) -> None:
    """The first agent from the consult bridge back into the call's with the caller.
    A consult from the agent's phone (`phone_leg`) never took the agent's leg out of
    the call's bridge: only the consult ends (the phone's second call is hung up,
    acd.calls.phases.phone_consult.follow)."""
    st = run.st
    if t.phone_leg is not None:
        run.music_off()
        _close_consult(run, t)
        return
    if t.consult_bridge is not None:
        run.emit(c.RemoveFromBridge(t.consult_bridge, (first.channel_id,)))
    if st.bridge_id is not None:
        run.emit(c.AddToBridge(st.bridge_id, (first.channel_id,)))
        run.set(rebridging=True)  # its Bridged is no new answer
    run.music_off()
    _close_consult(run, t)


# ------------------------------------------------------------------ the moves


def complete(run: Run, event: e.Control | None) -> None:
    """Hand the caller to the consulted target; the agent leaves."""
    now = _consulting(run)
    if now is None:
        if event is not None:
            _refuse(run, event, "no_consult", "no consult is under way")
        return
    t, first, target = now
    st = run.st
    write_event(run, replace(t, mode="attended"), "completed", first.agent_id)
    run.queue_event("consult_end", first.agent_id, result="completed")
    agent_leaves(run, hang_up=event is not None)
    run.emit(c.RemoveFromBridge(t.consult_bridge or "", (target.channel_id,)))
    run.music_off()
    if st.bridge_id is not None:
        run.emit(c.AddToBridge(st.bridge_id, (target.channel_id,)))
        run.set(rebridging=True)  # its Bridged is no new answer
    _close_consult(run, t)
    run.set(connected=target.channel_id, transfer=None, answer_recorded=True,
            complete_sent=False)
    run.queue_event("connect", target.agent_id, transfer=True)
    run.remember()
    if event is not None:
        _ok(run, event, state="completed", agent_id=target.agent_id or None)


def cancel(run: Run, event: e.Control) -> None:
    """Back to the caller: the target is hung up (or stops ringing)."""
    st = run.st
    t = st.transfer
    if t is None or t.mode != "attended" or t.conference:
        _refuse(run, event, "no_consult", "no consult is under way")
        return
    drop(run)
    _ok(run, event, state="cancelled")


def drop(run: Run) -> None:
    """End the consult under way (the desktop's cancel, the phone's second call hung
    up): the target is hung up (or stops ringing); the agent back with the caller."""
    st = run.st
    t = st.transfer
    if t is None:
        return
    target = st.leg(t.channel_id) if t.channel_id is not None else None
    first = st.connected_leg
    if target is None or not target.live:  # routing not answered yet: no leg
        settle(run, False, "cancelled", "cancelled before the target rang")
        run.set(transfer=None)
        return
    if target.answered_ms is None:
        run.put_leg(target, outcome="cancelled")
        run.hangup(target.channel_id)
        run.emit(c.CancelTimer(f"xfer:{target.channel_id}"))
        if target.offer is not None:
            run.emit(c.Dequeue(target.offer.call_id))
        run.music_off()
    else:
        _target_leaves(run, target, "consult_cancelled", hang_up=True)
        if first is not None:
            _back_to_caller(run, t, first)
    run.queue_event("consult_end", first.agent_id if first else None, result="cancelled")
    run.set(transfer=None)


def conference(run: Run, event: e.Control) -> None:
    """All three talk in the call's bridge."""
    now = _consulting(run)
    if now is None:
        _refuse(run, event, "no_consult", "no consult is under way")
        return
    t, first, target = now
    if t.phone_leg is not None:
        _refuse(run, event, "phone_consult", "a consult from the phone: its transfer "
                "button completes it, hanging its second call up cancels it")
        return
    st = run.st
    run.emit(c.RemoveFromBridge(t.consult_bridge or "", (first.channel_id, target.channel_id)))
    run.music_off()
    if st.bridge_id is not None:
        run.emit(c.AddToBridge(st.bridge_id, (first.channel_id, target.channel_id)))
        run.set(rebridging=True)  # its Bridged is no new answer
    _close_consult(run, t)
    run.set(transfer=replace(t, conference=True, consult_bridge=None))
    run.queue_event("conference", first.agent_id, target_agent=target.agent_id or None)
    _ok(run, event, state="conference", agent_id=target.agent_id or None)


# ------------------------------------------------------- who leaves meanwhile


def target_event(run: Run, leg: Leg, event: e.Event) -> bool:
    """An event of the answered target's leg (consulting or in conference)."""
    if not isinstance(event, e.LegHangupRequest | e.LegDestroyed) or leg.hangup_requested:
        return isinstance(event, e.LegAnswered | e.LegRinging | e.LegInStasis)
    t = run.st.transfer
    first = run.st.connected_leg
    _target_leaves(run, leg, "consult", hang_up=False)
    if t is not None and not t.conference and first is not None:
        _back_to_caller(run, t, first)
        run.queue_event("consult_end", first.agent_id, result="target_gone")
    run.set(transfer=None)
    return isinstance(event, e.LegHangupRequest)  # its end writes its row as usual


def first_agent_event(run: Run, event: e.Event) -> bool:
    """The first agent hangs up: during a consult the transfer completes; in a
    conference the target stays with the caller."""
    st = run.st
    t = st.transfer
    first = st.connected_leg
    if (t is None or first is None or first.hangup_requested
            or not isinstance(event, e.LegHangupRequest | e.LegDestroyed)):
        return False
    if t.conference and t.channel_id is not None:
        target = st.leg(t.channel_id)
        agent_leaves(run, hang_up=False)
        if target is not None and target.live:
            run.set(connected=target.channel_id, transfer=None, answer_recorded=True,
                    complete_sent=False)
            run.queue_event("connect", target.agent_id, transfer=True)
            run.remember()
        return isinstance(event, e.LegHangupRequest)
    if _consulting(run) is not None:
        complete(run, None)
        return isinstance(event, e.LegHangupRequest)
    return False


def caller_gone(run: Run, target: Leg) -> None:
    """The caller hung up while the target was answered (consult or conference)."""
    t = run.st.transfer
    if not target.hangup_requested:
        _target_leaves(run, target, "caller_gone", hang_up=True)
    if t is not None:
        _close_consult(run, t)
        first = run.st.connected_leg
        run.queue_event("consult_end", first.agent_id if first else None, result="caller_gone")


def give_up(run: Run, why: str = "music_failed") -> None:
    """The consult cannot go on (the caller cannot hear music, or Asterisk would not
    make the consult bridge): it ends, the agent back with the caller (the target hung
    up and to wrap-up)."""
    now = _consulting(run)
    if now is None:
        return
    t, first, target = now
    _target_leaves(run, target, "consult_failed", hang_up=True)
    _back_to_caller(run, t, first)
    run.queue_event("consult_end", first.agent_id, result=why)
    run.set(transfer=None)
