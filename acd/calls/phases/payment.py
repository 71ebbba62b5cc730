"""Agent-assisted payment (#17): the agent hands the caller to a payment flow (a
masked `collect` of the card, the `http` payment call) and gets the caller back
with only the result, never a digit.

    payment {flow?}   the caller leaves the call's bridge for the flow (the queue's
                      `payment_flow` by default); answered once the flow starts

Meanwhile the caller is out of the bridge (the flow plays to their channel alone),
the agent's leg stays in the bridge, which plays music on hold (`/bridges/{id}/moh`:
the agent hears music, neither the prompts nor the keys), and the recording is
paused for the whole payment: its paused interval covers the digits. The music is
the bridge's, not the agent channel's, for the recording's sake: on the real
Asterisk a bridge recording whose bridge carries no audio for 2 s ends ("No audio
available on Recorder/ARI-...": a phone that sends no RTP while alone in the
bridge); the bridge's music keeps it fed. When the flow ends (its last node, a `return`
or `hangup`) the caller goes back into the bridge with the same agent; the result
is `paid` (the flow set `payment_id`: the reference) or `declined`, in the
`payment` queue event ({result, reference}), the move `status` and the desktop.

The caller hangs up meanwhile: the call ends as usual (agent to wrap-up, rows).
The agent hangs up meanwhile: they go to wrap-up at once; the caller finishes the
payment, then goes back to the head of the queue (the call's original enqueue
time) for the next agent; a call that was in no queue is told and hung up.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import ANNOUNCEMENT, CallState, Payment, Phase
from acd.calls.phases import record
from acd.calls.phases.base import Run
from acd.calls.phases.queued import request
from acd.ivr import actions as a
from acd.ivr import engine
from acd.ivr.runtime import IvrContext

REFERENCE_VARIABLE = "payment_id"  # what the flow sets when the payment went through
TIMER = "pay"


def status(st: CallState) -> dict[str, c.ControlArg]:
    if st.payment is not None:
        return {"payment": "running", "payment_reference": None}
    result = st.payment_result
    return {"payment": result[0] if result else None,
            "payment_reference": result[1] if result else None}


# ------------------------------------------------------------------- the move


def payment(run: Run, event: e.Control) -> None:
    """Send the caller to the payment flow; the agent waits on the call."""
    st = run.st
    if not record.talking(st) or st.bridge_id is None:
        record.refuse(run, event, "not_connected",
                      f"the call is {st.phase.value}, not connected to an agent")
        return
    if st.payment is not None:
        record.refuse(run, event, "payment_running", "the caller is already paying")
        return
    flow = event.args.get("flow") or st.settings.control_of(st.queue).payment_flow
    if not isinstance(flow, str) or not flow:
        record.refuse(run, event, "bad_flow", "flow: the name of a payment flow")
        return
    run.set(payment=Payment(event.request_id, flow, run.now_ms))
    run.emit(c.FindPaymentFlow(flow))


def found(run: Run, event: e.PaymentFlowFound) -> None:
    st = run.st
    p = st.payment
    if p is None or p.ivr is not None or p.flow != event.name or p.request_id is None:
        return
    leg = st.connected_leg
    if event.flow is None or not record.talking(st) or st.bridge_id is None or leg is None:
        run.set(payment=None)
        if event.flow is None:
            run.emit(c.Reply(p.request_id, False, "no_flow", f"no flow {p.flow!r}", {}))
        else:
            run.emit(c.Reply(p.request_id, False, "not_connected", "the call is not connected",
                             {}))
        return
    run.emit(c.Reply(p.request_id, True, data={"payment": "running", "flow": p.flow}))
    record.hold(run, "payment")  # before the caller hears the first prompt
    run.emit(c.RemoveFromBridge(st.bridge_id, (st.channel_id,)),
             c.BridgeMusicOn(st.bridge_id, st.settings.moh_class))
    ctx = IvrContext(call_id=st.call_id, caller_number=st.caller_number, dialled=st.dialled,
                     language=st.language, flows=event.flows)
    state, actions = engine.start(event.flow, ctx, _now(run))
    run.set(payment=replace(p, request_id=None, ivr=state))
    _perform(run, actions)


# --------------------------------------------------------- while the caller pays


def intercept(run: Run, event: e.Event) -> bool:
    """The events a payment under way takes before the phases do; True: taken."""
    p = run.st.payment
    if isinstance(event, e.PaymentFlowFound):
        found(run, event)
        return True
    if p is None:
        return False
    match event:
        case e.CallerHangupRequest() | e.CallerLeft():
            _abandon(run)
            return False  # the call ends as usual
        case e.Dtmf(digit=digit) if p.ivr is not None and not p.returning:
            _feed(run, a.Digit(digit))
        case e.PlaybackDone(playback_id=pid) if pid in dict(run.st.playing):
            _played(run, pid)
        case e.IvrResult(event=ivr_event) if p.ivr is not None:
            _feed(run, ivr_event)
        case e.TimerFired(key=key) if key.startswith(f"{TIMER}:"):
            timer_id = int(key.partition(":")[2])
            if timer_id in p.timers:
                run.set(payment=replace(p, timers=p.timers - {timer_id}))
                _feed(run, a.TimerFired(timer_id))
        case e.Bridged() if p.returning:
            _back(run)
        case e.LegHangupRequest(from_device=False) | e.LegDestroyed() \
                if event.channel_id == run.st.connected:
            _agent_left(run, event)
            return isinstance(event, e.LegHangupRequest)
        case e.Failed(command=cmd, fault=fault):
            return _failed(run, cmd, fault)
        case _:
            return False
    return True


def _feed(run: Run, event: a.IvrEvent) -> None:
    p = run.st.payment
    if p is None or p.ivr is None or p.returning:
        return
    state, actions = engine.step(p.ivr, event, _now(run))
    run.set(payment=replace(p, ivr=state))
    _perform(run, actions)


def _perform(run: Run, actions: list[a.Action]) -> None:
    p = run.st.payment
    if p is None or p.ivr is None:
        return
    over = p.ivr.done or p.ivr.phase == "bye"
    for action in actions:
        p = run.st.payment
        assert p is not None
        if isinstance(action, a.Play) and not over:
            run.play(action.prompts, action.play_id, action.language)
        elif isinstance(action, a.StopPrompts):
            run.stop_prompts()
        elif isinstance(action, a.StartTimer):
            run.set(payment=replace(p, timers=p.timers | {action.timer_id}))
            run.emit(c.StartTimer(f"{TIMER}:{action.timer_id}", action.seconds))
        elif isinstance(action, a.CancelTimer):
            run.set(payment=replace(p, timers=p.timers - {action.timer_id}))
            run.emit(c.CancelTimer(f"{TIMER}:{action.timer_id}"))
        elif isinstance(action, a.HttpRequest | a.CheckList | a.CheckOverride):
            run.emit(c.IvrLookup(action))
        elif isinstance(action, a.Enqueue | a.Hangup | a.Transfer | a.Record):
            over = True  # a payment flow ends where another flow would leave acd
    record.follow_collect(run, p.ivr)
    if over:
        _flow_over(run)


def _played(run: Run, pid: str) -> None:
    play_id = dict(run.st.playing)[pid]
    run.set(playing=tuple(x for x in run.st.playing if x[0] != pid))
    if play_id != ANNOUNCEMENT:
        _feed(run, a.PromptsDone(play_id))


def _flow_over(run: Run) -> None:
    """The caller is done paying: back to their agent with the result."""
    p = run.st.payment
    if p is None or p.ivr is None:
        return
    reference = p.ivr.variables.get(REFERENCE_VARIABLE)
    result = "paid" if isinstance(reference, str) and reference else "declined"
    ref = reference if result == "paid" and isinstance(reference, str) else None
    _wind_up(run, p)
    leg = run.st.connected_leg
    run.queue_event("payment", leg.agent_id if leg is not None else None,
                    result=result, reference=ref)
    run.set(payment_result=(result, ref))
    if p.agent_gone or leg is None or run.st.bridge_id is None:
        run.set(payment=None)
        _after_agent_left(run)
        return
    run.set(payment=replace(p, returning=True, result=result, reference=ref))
    run.emit(c.BridgeMusicOff(run.st.bridge_id),
             c.AddToBridge(run.st.bridge_id, (run.st.channel_id,)))


def _wind_up(run: Run, p: Payment) -> None:
    """Whatever the flow still had going stops (its prompts, timers)."""
    run.stop_prompts()
    for timer_id in sorted(p.timers):
        run.emit(c.CancelTimer(f"{TIMER}:{timer_id}"))
    run.set(payment=replace(p, timers=frozenset()))
    record.release(run, "collect")


def _back(run: Run) -> None:
    """The caller is in the bridge again: agent and caller talk, recording resumes."""
    run.set(payment=None)
    record.release(run, "payment")


def _abandon(run: Run) -> None:
    """The caller hung up in the middle of paying."""
    p = run.st.payment
    if p is None:
        return
    if p.request_id is not None:
        run.emit(c.Reply(p.request_id, False, "call_ended", "the caller hung up", {}))
    elif not p.returning:
        _wind_up(run, p)
        leg = run.st.connected_leg
        run.queue_event("payment", leg.agent_id if leg is not None else None,
                        result="abandoned", reference=None)
    run.set(payment=None)


def _agent_left(run: Run, event: e.LegHangupRequest | e.LegDestroyed) -> None:
    """The agent hung up while the caller pays: the agent goes to wrap-up now, the
    caller finishes paying (see `_after_agent_left`)."""
    st = run.st
    leg = st.connected_leg
    p = st.payment
    if leg is None or p is None:
        return
    if not leg.hangup_requested:
        leg = run.put_leg(leg, hangup_requested=True)
        run.set(complete_sent=True, payment=replace(p, agent_gone=True))
        record.stop(run)
        run.complete(leg, ended_by="agent", during="payment")
        if p.returning:
            _after_agent_left(run)
    if isinstance(event, e.LegDestroyed) and leg.live:
        run.end_leg(run.put_leg(leg, cause=event.cause))


def _after_agent_left(run: Run) -> None:
    """The payment is over and the agent gone: the caller back to the head of the
    queue (their original enqueue time), or told and hung up."""
    st = run.st
    run.set(payment=None)
    run.destroy_bridge()
    s = st.settings
    if st.caller_gone:
        return
    if st.queue is not None:
        run.set(connected=None, outcome=None, complete_sent=False, answer_recorded=False,
                phase=Phase.QUEUED)
        run.play_over_moh(s.agent_lost_prompt)
        run.emit(c.Enqueue(request(run), adopt=True))
        run.queue_event("enter", None, requeued="payment")
    else:
        run.set(phase=Phase.ENDING, outcome=st.outcome or "answered", ended_by="agent")
        run.play(s.agent_lost_prompt, ANNOUNCEMENT)
        run.arm_reap(s.agent_lost_hangup_after)


def _failed(run: Run, cmd: c.Command, fault: e.Fault) -> bool:
    p = run.st.payment
    assert p is not None
    if isinstance(cmd, c.Play) and dict(run.st.playing).get(cmd.playback_id) is not None:
        if fault != "gone":
            _played(run, cmd.playback_id)  # a prompt that cannot play has ended
        return True
    if isinstance(cmd, c.BridgeMusicOn | c.BridgeMusicOff):
        return True  # the agent hears silence meanwhile; nothing else depends on it
    if isinstance(cmd, c.RemoveFromBridge) and fault != "gone":
        # The caller is still with the agent: no payment (the agent would hear it).
        _wind_up(run, p)
        leg = run.st.connected_leg
        if run.st.bridge_id is not None:
            run.emit(c.BridgeMusicOff(run.st.bridge_id))
        run.queue_event("payment", leg.agent_id if leg is not None else None,
                        result="failed", reference=None)
        run.set(payment=None, payment_result=("failed", None))
        record.release(run, "payment")
        return True
    if isinstance(cmd, c.AddToBridge) and p.returning:
        run.set(payment=replace(p, agent_gone=True))
        if fault == "gone":
            run.emit(c.CheckChannels(run.st.channels()))
            return True
        leg = run.st.connected_leg
        if leg is not None and not leg.hangup_requested:
            _agent_left(run, e.LegHangupRequest(leg.channel_id, None))
            run.hangup(leg.channel_id)
        _after_agent_left(run)
        return True
    return False


def _now(run: Run) -> datetime:
    return datetime.fromtimestamp(run.now_ms / 1000, tz=UTC)
