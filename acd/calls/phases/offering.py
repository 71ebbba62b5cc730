"""The offering phase: agents' phones ring for the waiting caller (one, or several
for ring-all); the first to answer is bridged (acd.calls.phases.connected)."""

from __future__ import annotations

from acd.agents.phone import leg_failure
from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.endings import NO_ANSWER
from acd.calls.model import Leg, Phase, bridge_id
from acd.calls.phases.base import Run
from acd.calls.phases.connected import agent_gone
from acd.calls.phases.ending import maybe_finish


def created(run: Run, channel_id: str) -> None:
    leg = run.leg(channel_id)
    if leg is not None:
        run.put_leg(leg, created=True)


def in_stasis(run: Run, leg: Leg) -> None:
    """The leg's channel is in acd's app: only now may it be dialled (a real
    Asterisk answers 409 before)."""
    if leg.dialled:
        return
    leg = run.put_leg(leg, dialled=True, created=True)
    st = run.st
    if not leg.live or st.caller_gone or st.phase is not Phase.OFFERING:
        # Its creation was taken for failed (a timeout, a lost reply) but Asterisk
        # made it, or the call moved on: nobody will dial it, it must not linger.
        run.hangup(leg.channel_id)
        return
    run.dial_leg(leg)


def ringing(run: Run, leg: Leg) -> None:
    if leg.rang_ms is None:
        run.put_leg(leg, rang_ms=run.now_ms)


def answered(run: Run, leg: Leg) -> None:
    if leg.answered_ms is not None or not leg.live:
        return
    leg = run.put_leg(leg, answered_ms=run.now_ms)
    st = run.st
    if st.caller_gone or st.phase is not Phase.OFFERING:
        # Too late: the caller left, or another ring-all phone answered first (then
        # this leg's end is no hang-up on the caller: see destroyed).
        reason = "normal"
        if not st.caller_gone and st.connected is not None and st.connected != leg.channel_id:
            run.put_leg(leg, outcome="answered_elsewhere")
            reason = "answered_elsewhere"
        run.hangup(leg.channel_id, reason)
        return
    bid = bridge_id(st.call_id)
    run.set(phase=Phase.CONNECTED, connected=leg.channel_id, outcome="answered", bridge_id=bid)
    run.stop_prompts()
    run.music_off()
    run.emit(c.CreateBridge(bid), c.AddToBridge(bid, (st.channel_id, leg.channel_id)))


def ring_guard(run: Run, channel_id: str) -> None:
    """A ring that went on past the dial timeout (Asterisk's own timeout lost)."""
    leg = run.leg(channel_id)
    if leg is not None and leg.answered_ms is None and leg.live:
        run.hangup(channel_id)
        if not leg.dialled:  # its StasisStart was lost: it never rang, not the agent's doing
            run.leg_failed(leg, "error", None)
            return
        run.leg_failed(leg, "noanswer", NO_ANSWER)


def destroyed(run: Run, leg: Leg, cause: int | None) -> None:
    keep = not leg.live or leg.outcome == "agent_lost"
    leg = run.put_leg(leg, cause=leg.cause if keep else cause)
    if not leg.live:
        pass  # already ended and written (a failed bridge, a reconciliation)
    elif leg.answered_ms is None or leg.outcome in ("answered_elsewhere", "stale", "abandoned"):
        run.leg_failed(leg, leg_failure(cause, run.ended_early(leg)), cause)
    else:
        agent_gone(run, leg, cause)
    maybe_finish(run)


def failed(run: Run, cmd: c.Command, fault: e.Fault) -> bool:
    """A leg that could not be created or dialled. Only Asterisk saying the phone
    cannot be reached is the agent's doing; acd's own trouble is not."""
    if isinstance(cmd, c.CreateChannel):
        leg = run.leg(cmd.channel_id)
        if leg is None:
            return False
        run.leg_failed(leg, "unreachable" if fault == "unreachable" else "error", None)
        return True
    if isinstance(cmd, c.Dial):
        leg = run.leg(cmd.channel_id)
        if leg is None:
            return False
        run.hangup(leg.channel_id)
        run.leg_failed(leg, "unreachable" if fault == "unreachable" else "error", None)
        if fault == "gone" and not run.st.caller_gone:
            run.emit(c.CheckChannels(run.st.channels()))
        return True
    return False
