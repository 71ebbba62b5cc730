"""The connected phase: caller and agent bridged; the agent may hang up, or their
phone vanish (the caller then goes back to the head of the queue, or is told and
hung up: settings.agent_lost)."""

from __future__ import annotations

from acd.agents.phone import PHONE_LOST
from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import ANNOUNCEMENT, Leg, Phase, bridge_id
from acd.calls.phases import record
from acd.calls.phases.base import Run
from acd.calls.phases.ending import agent_hung_up, to_dialplan
from acd.calls.phases.queued import request

# Hang-up causes of a connected agent leg that mean the phone, not the agent, went:
# 27 destination out of order, 38 network out of order, 41 temporary failure,
# 44 requested channel unavailable (the RTP timeout).
LOST_CAUSES: frozenset[int] = frozenset({27, 38, 41, 44})


def bridged(run: Run, bid: str) -> None:
    """Bridged first, then routing: an agent is on call only once they talk."""
    leg = run.st.connected_leg
    if (run.st.phase is Phase.CONNECTED and leg is not None and run.st.bridge_id == bid
            and not run.st.answer_recorded):  # not again for a caller back from a move
        if leg.outside:  # a consulted number took the caller: routing never knew it
            answer_recorded(run, e.AnswerRecorded(leg.channel_id, True))
        else:
            run.record_answer(leg)


def answer_recorded(run: Run, event: e.AnswerRecorded) -> None:
    st = run.st
    leg = st.leg(event.channel_id)
    if leg is None or st.connected != leg.channel_id:
        return
    if not event.fresh:
        # The reservation expired and the call went back to its queue meanwhile:
        # this agent lets go, the caller waits on (with music) for the next offer.
        run.put_leg(leg, outcome="stale")
        _unconnect(run, leg)
        run.music_on()
        return
    run.set(answer_recorded=True)
    run.queue_event("connect", leg.agent_id)
    run.remember()
    record.on_connect(run)
    for other in run.st.live_legs():  # ring-all: the other phones stop now
        if other.channel_id != leg.channel_id and other.answered_ms is None:
            run.put_leg(other, outcome="answered_elsewhere")
            run.hangup(other.channel_id, "answered_elsewhere")


def _unconnect(run: Run, leg: Leg) -> None:
    run.set(connected=None, outcome=None, answer_recorded=False)
    run.hangup(leg.channel_id)
    run.destroy_bridge()
    others = [x for x in run.st.live_legs() if x.channel_id != leg.channel_id]
    run.set(phase=Phase.OFFERING if others else Phase.QUEUED)


def bridge_failed(run: Run, fault: e.Fault) -> None:
    """The agent answered but the two could not be bridged: they never talked. The
    agent's phone lets go (acd's error, not theirs); when a channel was gone,
    Asterisk is asked which; otherwise the caller goes to the dialplan."""
    leg = run.st.connected_leg
    if leg is None or run.st.phase is not Phase.CONNECTED:
        return
    leg = run.put_leg(leg, outcome="failed", hangup_requested=True)
    _unconnect(run, leg)
    run.end_leg(leg)
    if leg.offer is not None:
        run.emit(c.OfferFailed(leg.offer, "error"))
    if fault == "gone":
        run.music_on()
        run.emit(c.CheckChannels(run.st.channels()))
    else:
        to_dialplan(run)


def hangup_request(run: Run, leg: Leg, event: e.LegHangupRequest) -> None:
    if leg.answered_ms is not None and run.st.connected == leg.channel_id:
        if event.from_device:
            return  # Asterisk ended it (RTP timeout...): LegDestroyed says why
        agent_hung_up(run, leg.channel_id)


def agent_gone(run: Run, leg: Leg, cause: int | None) -> None:
    """A connected (answered) leg ended."""
    if cause in LOST_CAUSES and run.st.connected == leg.channel_id and not leg.outside:
        agent_lost(run, leg, cause)
    agent_hung_up(run, leg.channel_id)
    current = run.leg(leg.channel_id)
    if current is not None and current.live:
        run.end_leg(current)


def agent_lost(run: Run, leg: Leg, cause: int | None) -> None:
    """The connected agent's phone is gone: the agent goes on break, the caller is
    never left in silence."""
    if leg.hangup_requested or run.st.complete_sent:
        return  # acd let the agent go already (the caller hung up): an ordinary end
    # Written now, not after the caller is looked after.
    run.end_leg(run.put_leg(leg, hangup_requested=True, outcome="agent_lost", cause=cause))
    record.stop(run)
    run.destroy_bridge()
    run.set(complete_sent=True)
    run.complete(leg, reason="agent_lost", cause=cause)
    run.emit(c.AgentBreak(leg.agent_id, PHONE_LOST))
    st = run.st
    if st.caller_gone:
        return
    s = st.settings
    run.set(agent_lost_count=st.agent_lost_count + 1)
    if s.agent_lost == "requeue" and st.queue is not None and st.agent_lost_count < s.max_requeues:
        run.set(connected=None, outcome=None, complete_sent=False, answer_recorded=False,
                phase=Phase.QUEUED)
        run.play_over_moh(s.agent_lost_prompt)
        run.emit(c.Enqueue(request(run), adopt=True))
        run.queue_event("enter", None, requeued="agent_lost")
    else:
        run.set(phase=Phase.ENDING, outcome=st.outcome or "answered", ending_recorded=True)
        run.play(s.agent_lost_prompt, ANNOUNCEMENT)
        run.arm_reap(s.agent_lost_hangup_after)
    # The leg's row and `complete` are written: a restarted acd must not write them
    # again (it re-adopts a waiting caller, or an ending call whose leg has ended).
    run.remember()


def failed(run: Run, cmd: c.Command, fault: e.Fault) -> bool:
    if isinstance(cmd, c.CreateBridge | c.AddToBridge):
        if cmd.bridge_id != bridge_id(run.st.call_id):
            return True  # another bridge's (a consult's, a monitor's): theirs to judge
        bridge_failed(run, fault)
        return True
    if isinstance(cmd, c.RecordAnswer):
        # Redis away: the two are bridged and talking; keep them so.
        answer_recorded(run, e.AnswerRecorded(cmd.channel_id, True))
        return True
    return False
