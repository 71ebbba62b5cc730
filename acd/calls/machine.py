"""A call as a pure state machine: `step(state, event, now) -> (state, commands)`.

    state = new_call(call_id, channel_id, caller, dialled, now_ms)
    state, commands = step(state, Start(flow, ctx), now)
    state, commands = step(state, Dtmf("1"), now)

No I/O, no clock, no randomness: the executor (acd.calls.effects) carries the
commands out and feeds back what happened, failures included (`Failed`). Events
for a call that has ended, for a leg it does not know or for a timer it no longer
holds change nothing. The phases' rules live in acd.calls.phases; this module
routes each event to them: first what is the same in every phase (the caller
leaving, a channel found gone, the reap, the safety net), then by phase.
"""

from __future__ import annotations

from datetime import datetime

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls import rows
from acd.calls.model import CallState, Phase
from acd.calls.phases import (
    callback,
    conflicts,
    connected,
    control,
    ending,
    hold,
    ivr,
    monitor,
    offering,
    payment,
    phone_consult,
    queued,
    readopt,
    record,
)
from acd.calls.phases import transfer_agent as xfer
from acd.calls.phases.base import Run

MOH_RETRIES = 3
RESYNC_ATTEMPTS = 4
RESYNC_RETRY_S = 2.0


def step(state: CallState, event: e.Event, now: datetime) -> tuple[CallState, list[c.Command]]:
    """Apply one event; `state` itself is not changed."""
    if state.phase is Phase.ENDED:
        # Every move asked gets its answer, even of a call that is over; a phone's
        # second call that came too late is let go (#17).
        if isinstance(event, e.PhoneConsult):
            return state, [c.Hangup(event.channel_id, "busy")]
        return state, [control.ended(event)] if isinstance(event, e.Control) else []
    run = Run(state, int(now.timestamp() * 1000))
    _dispatch(run, event)
    phone_consult.follow(state, run, event)  # a phone consult's second call let go
    monitor.follow(run)  # monitoring (issue 17): ends with the connected call
    hold.settle(run)  # hold: a move still owed its answer by a call that ends
    return run.st, run.out


def step_recorded(state: CallState, event: e.Event, now: datetime
                  ) -> tuple[CallState, list[c.Command]]:
    """`step`, and the re-adoption record written again when a move of #17 began,
    changed its shape or ended (a restarted acd finishes it: acd.calls.phases.readopt).
    The service's entry; the phases' tables test `step` alone."""
    after, commands = step(state, event, now)
    extra = rows.moves_record(state, after, commands, int(now.timestamp() * 1000))
    return after, commands if extra is None else [*commands, extra]


def _dispatch(run: Run, event: e.Event) -> None:  # noqa: C901 - a table, one line per event
    st = run.st
    # ---- recording and payment (#17): a payment under way takes its events first;
    # then the transfer's share (its legs, results, timers)
    # (a move or a phone's button that conflicts with the move under way first)
    if conflicts.intercept(run, event) or payment.intercept(run, event) \
            or record.intercept(run, event) or xfer.intercept(run, event):
        return
    match event:
        case e.Control():
            control.handle(run, event)
        # ---- monitoring (issue 17)
        case e.MonitorChannel():
            monitor.channel_event(run, event)
        case e.Bridged(bridge_id=bid) if monitor.awaits(st.monitor, st.bridge_id, bid):
            monitor.bridged(run)
        case e.Start():
            ivr.start(run, event)
        case e.StartCallback():
            callback.start(run, event)
        case e.CallerHangupRequest(cause=cause):
            ending.caller_gone(run, cause)
        case e.CallerLeft(cause=cause):
            if event.cause is None:
                run.set(ended_ms=run.now_ms)  # StasisEnd: the last acd hears of the caller
            ending.caller_left(run, cause)
        case e.Dtmf(digit=digit):
            if not queued.callback_key(run, digit):
                ivr.digit(run, event)
        case e.PlaybackDone(playback_id=pid):
            ivr.playback_done(run, pid)
        case e.RecordingDone():
            ivr.recording_done(run, event)
        case e.IvrResult(event=ivr_event):
            ivr.feed(run, ivr_event)
        case e.Enqueued():
            queued.enqueued(run, event)
        case e.Standing():
            queued.standing(run, event)
        case e.CallbackAccepted():
            queued.callback_accepted(run, event)
        case e.OfferArrived():
            queued.offer(run, event)
        case e.LeftQueue():
            queued.left_queue(run, event)
        case e.Requeue():
            queued.requeue(run, event)
        case e.Created(channel_id=cid):
            if cid == st.channel_id:
                callback.created(run)
            else:
                offering.created(run, cid)
        case e.Bridged(bridge_id=bid):
            connected.bridged(run, bid)
        case e.AnswerRecorded():
            connected.answer_recorded(run, event)
        case e.CustomerInStasis():
            callback.in_stasis(run)
        case e.CustomerAnswered():
            callback.answered(run)
        case e.CustomerDialStatus(status=status):
            callback.dial_status(run, status)
        case e.TimerFired(key=key):
            _timer(run, key)
        case e.Failed(command=cmd, fault=fault):
            _failed(run, cmd, fault)
        case e.Vanished(channel_ids=gone):
            _vanished(run, gone)
        case e.Reconnected():
            _resync(run)
            monitor.reconnected(run)  # monitoring (issue 17): its channels looked up
        case e.Reap():
            ending.maybe_finish(run, force=True)
        case e.Crashed():
            ending.safety_net(run)
        case e.Readopted():
            readopt.readopted(run, event)
        # ---- hold
        case e.PhoneHold():
            hold.phone(run, event)
        case e.HoldDone():
            hold.done(run, event)
        case _:
            _leg_event(run, event)


def _leg_event(run: Run, event: e.Event) -> None:
    if not isinstance(event, e.LegInStasis | e.LegRinging | e.LegAnswered
                      | e.LegHangupRequest | e.LegDestroyed):
        return
    leg = run.leg(event.channel_id)
    if leg is None:
        return
    match event:
        case e.LegInStasis():
            offering.in_stasis(run, leg)
        case e.LegRinging():
            offering.ringing(run, leg)
        case e.LegAnswered():
            offering.answered(run, leg)
        case e.LegHangupRequest():
            connected.hangup_request(run, leg, event)
        case e.LegDestroyed(cause=cause):
            offering.destroyed(run, leg, cause)


def _timer(run: Run, key: str) -> None:
    kind, _, arg = key.partition(":")
    if kind == "ivr" and arg.isdigit():
        ivr.timer(run, int(arg))
    elif kind == "announce" and arg.isdigit():
        queued.announce_due(run, int(arg))
    elif kind == "ring":
        if arg == run.st.channel_id:
            callback.ring_guard(run)
        else:
            offering.ring_guard(run, arg)
    elif kind == "moh":
        if run.in_queue() and not run.st.moh and not run.st.playing:
            run.music_on()
    elif kind == "reap":
        ending.maybe_finish(run, force=True)
    elif kind == "monitor":
        monitor.timer(run, arg)
    elif kind == "resync" and arg.isdigit():
        _resync(run, int(arg))
    elif kind == "hangup":
        if arg in run.st.channels():
            run.hangup(arg)  # a hang-up that failed for acd's own trouble, again
    elif kind == hold.UNHOLD_AGAIN:  # ---- hold
        hold.unhold_again(run)


def _failed(run: Run, cmd: c.Command, fault: e.Fault) -> None:
    """Every failure the executor reports ends here: what it means depends on what
    failed. A channel of the call found gone is a hang-up whose event may never come."""
    st = run.st
    target = cmd.channel_id if isinstance(cmd, c.ON_CHANNEL) else None
    if target == st.channel_id and fault == "gone" and st.channel_created:
        ending.caller_left(run, None)
        return
    if monitor.failed(run, cmd, fault):
        return
    if (hold.failed(run, cmd, fault)
            or ivr.failed(run, cmd, fault) or callback.failed(run, cmd, fault)
            or queued.failed(run, cmd) or offering.failed(run, cmd, fault)
            or connected.failed(run, cmd, fault)):
        return
    if isinstance(cmd, c.Answer | c.SetVar | c.MusicOff | c.StopPlayback | c.DestroyBridge):
        return  # nothing to undo: the call goes on (or its end event comes)
    if isinstance(cmd, c.MusicOn):
        _music_failed(run)
        return
    if isinstance(cmd, c.Hangup):
        if fault != "gone":
            run.emit(c.StartTimer(f"hangup:{cmd.channel_id}", 2.0))
        return
    if isinstance(cmd, c.ToDialplan):
        run.hangup(st.channel_id)  # the dialplan cannot take the caller: hung up
        return
    if isinstance(cmd, c.Resync):
        _resync_failed(run, cmd)
        return
    # Routing bookkeeping (a reservation expires on its own, the reaper frees what
    # routing still holds), re-adoption records (they expire): nothing to undo.


def _resync(run: Run, attempt: int = 1) -> None:
    """Ask Asterisk what the call missed while the events socket was down."""
    st = run.st
    if st.channels() or st.playing:
        run.emit(c.Resync(st.channels(), tuple(pid for pid, _ in st.playing), attempt))


def _resync_failed(run: Run, cmd: c.Resync) -> None:
    """What was missed is still unknown: asked again a few times; then a prompt
    that may have ended is taken as ended (the caller hears what comes next
    rather than a silence nobody would end)."""
    if cmd.attempt < RESYNC_ATTEMPTS:
        run.emit(c.StartTimer(f"resync:{cmd.attempt + 1}", RESYNC_RETRY_S))
        return
    for pid in cmd.playback_ids:
        ivr.playback_done(run, pid)


def _music_failed(run: Run) -> None:
    """A waiting caller must not sit in silence: the music is tried again a few
    times, then the dialplan's fallback takes them."""
    run.set(moh=False)
    if not run.in_queue():
        return
    if run.st.moh_retries < MOH_RETRIES:
        run.set(moh_retries=run.st.moh_retries + 1)
        run.emit(c.StartTimer("moh", 1.0))
    else:
        ending.to_dialplan(run)


def _vanished(run: Run, gone: frozenset[str]) -> None:
    """Channels of the call are gone without the events that would have said so:
    end what they carried with what is known. A ringing leg that vanished is not
    charged to its agent (nobody knows whose doing it was)."""
    monitor.vanished(run, gone)  # monitoring (issue 17)
    st = run.st
    agent_left: str | None = None
    for channel_id in sorted(gone):
        leg = run.leg(channel_id)
        if leg is None or not leg.live:
            continue
        if leg.hangup_requested and leg.answered_ms is not None and (
                channel_id != st.connected or st.transfer is not None):
            # Let go already (a consult's target to wrap-up, the agent who began a
            # transfer): only its row; the call goes on.
            run.end_leg(run.put_leg(leg, outcome=leg.outcome or "answered"))
        elif channel_id == st.connected and leg.answered_ms is not None:
            run.end_leg(run.put_leg(leg, outcome=leg.outcome or "answered"))
            agent_left = channel_id
        else:
            run.leg_failed(run.put_leg(leg, outcome=leg.outcome or "lost"), "error", None)
    if st.channel_id in gone:
        run.set(end_detail=st.end_detail or "events_lost")
        if not st.caller_gone and st.ended_by is None:
            run.set(ended_by="unknown" if agent_left is not None else "caller")
        ending.caller_left(run, None)
    elif agent_left is not None:
        run.set(end_detail=st.end_detail or "events_lost")
        ending.agent_hung_up(run, agent_left)
    ending.maybe_finish(run)
