"""Recording the call's bridge (#17): one recording per call, started when caller and
agent are bridged (queue policy `always`) or by the move `record_start` (policy
`on_demand`); paused and resumed by moves and, with no move, while the caller is in
a masked `collect` or in a payment flow, so that no card digit is ever recorded.

The recording is orthogonal to the phases: a `BridgeRecording` in the call's state.
It is paused while any reason holds it (`holds`); each paused interval is kept and
goes into the `recordings` row, written once when the recording ends (Asterisk says
so, the call's bridge goes, or the call ends). An acd restart does not end it
(`readopted`). A recording that fails never touches
the call: the move is refused, the row says `failed`.

    record_start    start recording (policy on_demand; always: already recording)
    record_pause    pause (by the agent or a supervisor)
    record_resume   resume what a move paused (a payment or masked collect keeps it paused)
"""

from __future__ import annotations

from dataclasses import replace

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import BridgeRecording, CallState, Phase, bridge_recording_name
from acd.calls.phases.answers import ok as ok
from acd.calls.phases.answers import refuse as refuse
from acd.calls.phases.base import Run
from acd.calls.rows import ts
from acd.ivr.runtime import IvrState
from acd.store.rows import RecordingRow

MANUAL = frozenset({"agent", "supervisor"})


# --------------------------------------------------------- answers to moves


def talking(st: CallState) -> bool:
    """Caller and agent connected (what `control.connected_only` checks)."""
    return (st.phase is Phase.CONNECTED and st.connected_leg is not None
            and not st.caller_gone)


def by_role(event: e.Control) -> str:
    return "agent" if event.by.startswith(("agent:", "phone:")) else "supervisor"


def status(st: CallState) -> dict[str, c.ControlArg]:
    rec = st.bridge_rec
    return {"recording": rec.state if rec is not None else None}


# ------------------------------------------------------------------ moves


def record_start(run: Run, event: e.Control) -> None:
    """Start recording the call's bridge (answered once Asterisk records)."""
    st = run.st
    if not talking(st) or st.bridge_id is None:
        refuse(run, event, "not_connected", f"the call is {st.phase.value}, not connected")
        return
    if st.settings.control_of(st.queue).recording == "never":
        refuse(run, event, "recording_off", f"queue {st.queue} records no call")
        return
    if st.bridge_rec is not None:
        refuse(run, event, "recording", "the call is already being recorded")
        return
    if st.payment is not None:
        refuse(run, event, "payment_running", "the caller is paying; start after the payment")
        return
    start(run, event.request_id)


def record_pause(run: Run, event: e.Control) -> None:
    """Pause the recording (nothing is recorded until it is resumed)."""
    rec = run.st.bridge_rec
    if not talking(run.st) or rec is None:
        refuse(run, event, "not_recording", "the call is not being recorded")
        return
    hold(run, by_role(event))
    ok(run, event, recording="paused")


def record_resume(run: Run, event: e.Control) -> None:
    """Resume what an agent or supervisor paused."""
    rec = run.st.bridge_rec
    if not talking(run.st) or rec is None:
        refuse(run, event, "not_recording", "the call is not being recorded")
        return
    for reason in sorted(rec.holds & MANUAL):
        release(run, reason)
    rec = run.st.bridge_rec
    ok(run, event, recording=rec.state if rec is not None else None)


# ------------------------------------------------------------- the recording


def start(run: Run, request_id: str | None = None) -> None:
    st = run.st
    if st.bridge_id is None or st.bridge_rec is not None:
        return
    n = st.recordings_made + 1
    name = bridge_recording_name(st.call_id, n)
    fmt = st.settings.control_of(st.queue).recording_format
    run.set(recordings_made=n,
            bridge_rec=BridgeRecording(name, fmt, run.now_ms, request_id=request_id))
    run.emit(c.StartBridgeRecording(st.bridge_id, name, fmt))


def on_connect(run: Run) -> None:
    """Caller and agent talk (routing confirmed): the queue's policy `always`."""
    if run.st.settings.control_of(run.st.queue).recording == "always":
        start(run)


def recording_on(run: Run, name: str) -> None:
    rec = run.st.bridge_rec
    if rec is None or rec.name != name:
        return
    run.set(bridge_rec=replace(rec, confirmed=True, request_id=None))
    if rec.request_id is not None:
        run.emit(c.Reply(rec.request_id, True, data={"recording": rec.state}))


def hold(run: Run, reason: str) -> None:
    """Keep the recording paused for `reason` (the first reason pauses it)."""
    rec = run.st.bridge_rec
    if rec is None or reason in rec.holds:
        return
    if rec.paused_since is None:
        rec = replace(rec, paused_since=run.now_ms, pause_reason=reason)
        run.emit(c.PauseRecording(rec.name))
        _event(run, "record_pause", reason)
    run.set(bridge_rec=replace(rec, holds=rec.holds | {reason}))


def release(run: Run, reason: str) -> None:
    """`reason` no longer holds the recording paused (the last one resumes it)."""
    rec = run.st.bridge_rec
    if rec is None or reason not in rec.holds:
        return
    rec = replace(rec, holds=rec.holds - {reason})
    if not rec.holds and rec.paused_since is not None:
        rec = _closed(rec, run.now_ms)
        run.emit(c.ResumeRecording(rec.name))
        _event(run, "record_resume", reason)
    run.set(bridge_rec=rec)


def follow_collect(run: Run, ivr: IvrState | None) -> None:
    """Paused while the caller keys secrets (a masked `collect` and its prompts)."""
    if run.st.bridge_rec is None:
        return
    if ivr is not None and ivr.collecting_masked:
        hold(run, "collect")
    else:
        release(run, "collect")


def stop(run: Run) -> None:
    """The recording ends with the bridge (or the call): stopped, its row written."""
    rec = run.st.bridge_rec
    if rec is None:
        return
    run.emit(c.StopRecording(rec.name))
    _end(run, "done" if rec.confirmed else "failed")


def readopted(run: Run, agent_here: bool) -> None:
    """A restarted acd found the call recording (its record): the recording goes on,
    as it did in Asterisk while no acd ran, unless the call's bridge lost the agent or
    the recording was never confirmed (then stopped, its row written with what is
    known). What held it paused for a move that the restart ended (a payment, its
    masked collect) no longer does; the agent's or a supervisor's pause stays."""
    st = run.st
    rec = st.bridge_rec
    if rec is None:
        return
    if not (agent_here and rec.confirmed and st.bridge_id is not None
            and not st.caller_gone):
        stop(run)
        return
    for reason in sorted(rec.holds - MANUAL):
        release(run, reason)


def recording_off(run: Run, event: e.RecordingOff) -> None:
    """Asterisk ended the recording itself (its bridge went, or it failed)."""
    rec = run.st.bridge_rec
    if rec is not None and rec.name == event.name:
        _end(run, "done" if event.ok and rec.confirmed else "failed")


def failed(run: Run, cmd: c.Command, fault: e.Fault) -> bool:
    """A request about the recording failed: the call goes on. A pause or resume that
    failed ends the recording (nothing meant not to be recorded is)."""
    rec = run.st.bridge_rec
    if isinstance(cmd, c.StopRecording):
        return True  # its row is written; Asterisk ends it with the bridge
    if not isinstance(cmd, c.StartBridgeRecording | c.PauseRecording | c.ResumeRecording):
        return False
    if rec is None or rec.name != cmd.name:
        return True
    if isinstance(cmd, c.StartBridgeRecording):
        _end(run, "failed")
        return True
    if fault != "gone":
        run.emit(c.StopRecording(rec.name))
    _end(run, "done" if rec.confirmed else "failed")
    return True


def _end(run: Run, outcome: str) -> None:
    rec = run.st.bridge_rec
    if rec is None:
        return
    if rec.paused_since is not None:
        rec = _closed(rec, run.now_ms)
    if rec.request_id is not None:
        run.emit(c.Reply(rec.request_id, False, "recording_failed",
                         "Asterisk could not record the call", {}))
    run.set(bridge_rec=None)
    run.emit(c.WriteRow(row(run.st, rec, run.now_ms, outcome)))


def _closed(rec: BridgeRecording, now_ms: int) -> BridgeRecording:
    since = rec.paused_since if rec.paused_since is not None else now_ms
    return replace(rec, paused_since=None, pause_reason=None,
                   paused=(*rec.paused, (since, now_ms, rec.pause_reason or "agent")))


def row(st: CallState, rec: BridgeRecording, ended_ms: int, outcome: str) -> RecordingRow:
    paused_ms = sum(to - since for since, to, _ in rec.paused)
    return RecordingRow(
        recording_id=rec.name, call_id=st.call_id, file=f"{rec.name}.{rec.fmt}",
        format=rec.fmt, started_at=ts(rec.started_ms), ended_at=ts(ended_ms),
        duration_ms=max(0, ended_ms - rec.started_ms - paused_ms) if rec.confirmed else 0,
        paused=[{"from": _iso(since), "to": _iso(to), "reason": reason}
                for since, to, reason in rec.paused],
        outcome=outcome)


def _iso(ms: int) -> str:
    t = ts(ms)
    return t.isoformat(timespec="milliseconds") if t is not None else ""


def _event(run: Run, event: str, reason: str) -> None:
    leg = run.st.connected_leg
    run.queue_event(event, leg.agent_id if leg is not None else None, reason=reason)


def intercept(run: Run, event: e.Event) -> bool:
    """The recording's own events and failures; True: taken."""
    match event:
        case e.RecordingOn(name=name):
            recording_on(run, name)
        case e.RecordingOff():
            recording_off(run, event)
        case e.Failed(command=cmd, fault=fault):
            return failed(run, cmd, fault)
        case _:
            return False
    return True
