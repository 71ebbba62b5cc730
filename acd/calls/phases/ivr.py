"""The IVR phase: the call drives the pure IVR engine, feeding it events and
turning its actions into call commands. Also the ways in and out of a queue,
which the IVR's queue node starts and ends."""

from __future__ import annotations

from datetime import UTC, datetime

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import (
    ANNOUNCEMENT,
    CALL_ID_VAR,
    QUEUE_VAR,
    Announcements,
    Phase,
    Waiting,
    recording_name,
)
from acd.calls.phases import record
from acd.calls.phases.base import Run
from acd.calls.phases.ending import to_dialplan
from acd.calls.rows import ExitReason
from acd.ivr import actions as a
from acd.ivr import engine
from acd.routing.model import QueueRequest


def _now(run: Run) -> datetime:
    return datetime.fromtimestamp(run.now_ms / 1000, tz=UTC)


def start(run: Run, event: e.Start) -> None:
    """Answer the caller and begin the flow for the number they dialled."""
    st = run.st
    run.emit(c.Answer(st.channel_id), c.SetVar(st.channel_id, CALL_ID_VAR, st.call_id))
    run.set(answered_ms=run.now_ms, phase=Phase.IVR)
    if event.flow is None:
        to_dialplan(run)
        return
    flow = event.flow
    ctx = event.ctx or engine.IvrContext(call_id=st.call_id, caller_number=st.caller_number,
                                         dialled=st.dialled, language=st.language)
    run.set(flow_name=flow.name, flow_version=flow.version)
    state, actions = engine.start(flow, ctx, _now(run))
    run.set(ivr=state)
    perform(run, actions)  # the first prompt starts without waiting on Redis
    if run.st.phase is not Phase.ENDED and not run.st.caller_gone:
        run.remember()  # from now on a restarted acd knows the call


def feed(run: Run, event: a.IvrEvent) -> None:
    st = run.st
    if st.ivr is None or st.caller_gone or st.transferred or st.phase is not Phase.IVR:
        return  # the IVR is over, or suspended while the caller is in a queue
    state, actions = engine.step(st.ivr, event, _now(run))
    run.set(ivr=state)
    perform(run, actions)


def perform(run: Run, actions: list[a.Action]) -> None:
    for action in actions:
        if run.st.caller_gone:
            return
        _one(run, action)
    record.follow_collect(run, run.st.ivr)  # #17: no recording hears a masked collect


def _one(run: Run, action: a.Action) -> None:
    st = run.st
    if isinstance(action, a.Play):
        run.play(action.prompts, action.play_id, action.language)
    elif isinstance(action, a.StopPrompts):
        run.stop_prompts()
    elif isinstance(action, a.StartTimer):
        run.set(ivr_timers=st.ivr_timers | {action.timer_id})
        run.emit(c.StartTimer(f"ivr:{action.timer_id}", action.seconds))
    elif isinstance(action, a.CancelTimer):
        run.set(ivr_timers=st.ivr_timers - {action.timer_id})
        run.emit(c.CancelTimer(f"ivr:{action.timer_id}"))
    elif isinstance(action, a.Enqueue):
        run.stop_prompts()
        enqueue(run, action)
    elif isinstance(action, a.Hangup):
        run.stop_prompts()
        run.set(outcome=st.outcome or "ivr_hangup", ended_by=st.ended_by or "acd")
        run.hangup(st.channel_id, action.reason)
    elif isinstance(action, a.Transfer):
        run.stop_prompts()
        run.set(transferred=True, outcome="transferred")
        if action.kind == "endpoint":
            run.emit(c.Redirect(st.channel_id, action.target))
        else:
            run.emit(c.ToDialplan(st.channel_id, action.context, action.target, 1))
    elif isinstance(action, a.HttpRequest | a.CheckList | a.CheckOverride):
        run.emit(c.IvrLookup(action))
    elif isinstance(action, a.Record):
        name = recording_name(st.call_id, action.request_id)
        run.set(recording=(action.request_id, name))
        run.emit(c.Record(st.channel_id, name, int(action.max_seconds), action.beep))
    elif isinstance(action, a.SetLanguage):
        run.set(language=action.language)


def enqueue(run: Run, action: a.Enqueue) -> None:
    """The queue node hands the caller to routing; music while routing answers."""
    st = run.st
    enqueued = st.enqueued_ms if st.enqueued_ms is not None else run.now_ms
    request = QueueRequest(
        call_id=st.rid, queue=action.queue, skills=dict(action.skills),
        priority=action.priority, enqueued_at_ms=enqueued, caller=st.caller_number,
        chain=action.chain, preferred_agent=action.preferred_agent, max_wait=action.max_wait)
    generation = st.waiting.generation if st.waiting is not None else 0
    run.set(phase=Phase.QUEUED, queue=action.queue, enqueued_ms=enqueued,
            waiting=Waiting(request, Announcements.of(action.announce),
                            action.callback_key, action.callback_number,
                            action.callback_offer, generation))
    run.music_on()
    run.emit(c.Enqueue(request), c.SetVar(st.channel_id, QUEUE_VAR, f"{action.queue}:{enqueued}"))


def leave_queue(run: Run, event: str, exit_to: ExitReason, **detail: object) -> None:
    """Out of routing: stop waiting (announcements, prompts, music), write `event`
    and the re-adoption record, and let the IVR go on at the queue node's exit."""
    run.stop_waiting()
    run.set(phase=Phase.IVR)
    run.stop_prompts()
    run.music_off()
    run.queue_event(event, None, **detail)
    run.remember()  # a restart must not queue it again
    if run.st.ivr is None:
        # Re-adopted in its queue (acd.calls.adoption): no IVR to go on with.
        to_dialplan(run)
        return
    feed(run, a.QueueExit(exit_to))


# ------------------------------------------------------------- caller events


def digit(run: Run, event: e.Dtmf) -> None:
    feed(run, a.Digit(event.digit))


def playback_done(run: Run, playback_id: str) -> None:
    st = run.st
    play_id = dict(st.playing).get(playback_id)
    if play_id is None:
        return
    run.set(playing=tuple(p for p in st.playing if p[0] != playback_id))
    if play_id == ANNOUNCEMENT:
        if run.in_queue() and not run.st.playing:
            run.music_on()
    else:
        feed(run, a.PromptsDone(play_id))


def recording_done(run: Run, event: e.RecordingDone) -> None:
    pending = run.st.recording
    if pending is None or pending[1] != event.name:
        return
    run.set(recording=None)
    feed(run, a.RecordingDone(pending[0], event.name if event.ok else None))


def timer(run: Run, timer_id: int) -> None:
    if timer_id in run.st.ivr_timers:
        run.set(ivr_timers=run.st.ivr_timers - {timer_id})
        feed(run, a.TimerFired(timer_id))


def failed(run: Run, cmd: c.Command, fault: e.Fault) -> bool:
    """A failed IVR command: a prompt that cannot play is a prompt that ended, a
    recording that cannot start is an empty recording, a transfer that fails hangs
    up. True when handled."""
    st = run.st
    if isinstance(cmd, c.Play):
        play_id = dict(st.playing).get(cmd.playback_id)
        if play_id is None or fault == "gone":
            return play_id is not None  # gone: the hang-up comes (or reconciliation)
        run.set(playing=tuple(p for p in st.playing if p[0] != cmd.playback_id))
        if play_id != ANNOUNCEMENT:
            feed(run, a.PromptsDone(play_id))
        elif run.in_queue():
            run.music_on()
        return True
    if isinstance(cmd, c.Record):
        pending = st.recording
        if pending is not None and pending[1] == cmd.name:
            run.set(recording=None)
            feed(run, a.RecordingDone(pending[0], None))
        return True
    if isinstance(cmd, c.Redirect) or (isinstance(cmd, c.ToDialplan) and cmd.context):
        run.set(transferred=False)
        run.hangup(st.channel_id)
        return True
    return False
