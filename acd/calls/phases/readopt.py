"""A call re-adopted by a restarted acd with moves of #17 half-done (its record's
"moves", acd.calls.move_record): each is ended the simple, safe way rather than
resumed, so that the caller and the agent talk again and nothing is left up; the
recording, which is no move, goes on.

    payment      the caller back into the bridge with the agent (the bridge's music
                 off); the result is "interrupted" (queue event `payment`), no digit
                 kept anywhere: the flow's state was never in the record
    consult      (the target answered) the target hung up and to wrap-up, the agent
                 back from the consult bridge to the caller, the consult bridge
                 destroyed; `consult_end` result "acd_restart"
    transfer     (the target still ringing, blind or attended) the target's leg
                 cancelled and its reservation released, the caller's music off;
                 `transfer` / `consult_end` result "acd_restart"
    conference   nothing to end: all three are in the call's bridge; the call goes
                 on knowing the target's leg (either may leave, as before)
    monitoring   the supervisor's leg and the snoops hung up, the monitor bridge
                 destroyed, their rows and `monitor_end` (reason "acd_restart")
    recording    goes on (Asterisk kept recording the bridge): one file and one
                 `recordings` row for the call; a pause for the payment ended here
                 is lifted. Stopped (its row written with what is known) only when
                 the agent's leg is gone or Asterisk never confirmed it
    hold         not here: the caller stays held with music, the hold still counted
                 and unholdable (acd.calls.adoption)

Channels found gone are left to the `Vanished` that follows (each move's own rule
for its channel vanishing); with the agent's leg gone only the payment is ended
here (the agent-lost rule then looks after the caller).
"""

from __future__ import annotations

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.phases import consult, monitor, record
from acd.calls.phases.base import Run
from acd.calls.phases.transfer import settle, write_event

REASON = "acd_restart"


def readopted(run: Run, event: e.Readopted) -> None:
    gone = event.gone
    st = run.st
    agent = st.connected_leg
    agent_here = agent is not None and agent.live and agent.channel_id not in gone
    _payment(run, agent_here)
    if agent_here:
        _transfer(run, gone)
        _monitor(run, gone)
    record.readopted(run, agent_here)


def _payment(run: Run, agent_here: bool) -> None:
    st = run.st
    if st.payment is None:
        return
    leg = st.connected_leg
    run.set(payment=None, payment_result=("interrupted", None))
    run.queue_event("payment", leg.agent_id if leg is not None else None,
                    result="interrupted", reference=None)
    if agent_here and st.bridge_id is not None and not st.caller_gone:
        run.set(rebridging=True)  # its Bridged is no new answer
        run.emit(c.BridgeMusicOff(st.bridge_id), c.AddToBridge(st.bridge_id, (st.channel_id,)))


def _transfer(run: Run, gone: frozenset[str]) -> None:
    st = run.st
    t = st.transfer
    if t is None or t.channel_id is None or t.channel_id in gone or t.conference:
        return
    target = st.leg(t.channel_id)
    if target is None or not target.live:
        return
    if target.answered_ms is not None:
        consult.give_up(run, REASON)
        return
    # Still ringing: cancelled (its end writes its row), its reservation released.
    run.put_leg(target, outcome="cancelled")
    run.hangup(target.channel_id)
    if target.offer is not None:
        run.emit(c.Dequeue(target.offer.call_id))
    run.music_off()
    first = st.connected_leg
    agent_id = first.agent_id if first is not None else None
    if t.mode == "attended":
        run.queue_event("consult_end", agent_id, result=REASON)
    else:
        write_event(run, t, REASON, agent_id)
    settle(run, False, REASON, "acd restarted")


def _monitor(run: Run, gone: frozenset[str]) -> None:
    m = run.st.monitor
    if m is None or any(x in gone for x in (m.channel, m.snoop, m.next_snoop)):
        return  # the Vanished that follows ends it
    monitor.end(run, REASON, pending=(REASON, "acd restarted"))
