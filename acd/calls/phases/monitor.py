"""Supervisor monitoring (issue 17): a supervisor listens to a live call, whispers
(coaches: only the agent hears them) or barges in (all three talk).

    listen {endpoint}   the supervisor's phone rings; answered, a snoop on the agent's
                        leg (spy both) is bridged with it in the call's monitor bridge
    whisper {endpoint}  the same, the snoop also whispers to the agent (whisper out)
    barge {endpoint}    the supervisor's leg joins the call's own bridge
    monitor_stop        the supervisor's leg and the snoop are hung up; the call goes on

Asked again in another mode, the supervisor's leg stays (their phone never drops): a
new snoop is bridged first and the old one dropped after, as on the real Asterisk
(docs/call-control.md, "Monitoring"). A move is answered once the supervisor hears
the call in the mode asked; refused when their phone is busy, does not answer or
cannot be reached (the call untouched). The call ending ends the monitoring; the
supervisor hanging up ends only the monitoring.

Only a supervisor or an admin monitors (`Control.by` is "<role>:<user>", set by the
API), one at a time per call; the endpoint is checked against `ENDPOINT`, never put
into a dial string as given.
"""

from __future__ import annotations

import re
from dataclasses import replace

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.model import (
    Monitor,
    Phase,
    monitor_bridge_id,
    monitor_channels,
    snoop_channel_id,
    supervisor_channel_id,
)
from acd.calls.monitor_rows import snoop_row, supervisor_row
from acd.calls.phases.answers import connected_only, ok, refuse
from acd.calls.phases.base import Run

MODES = ("listen", "whisper", "barge")
# (spy, whisper) of a mode's snoop on the agent's leg.
SNOOP = {"listen": ("both", "none"), "whisper": ("both", "out")}
# A supervisor's own phone: a PJSIP endpoint, no dial string (no "@", no "&").
ENDPOINT = re.compile(r"^PJSIP/[A-Za-z0-9_.+-]{1,64}$")
RING_TIMEOUT = 30  # s: the supervisor's phone rings this long
MONITOR_ROLES = ("supervisor", "admin")
# Why the supervisor's phone did not answer, by the Q.850 cause of its end.
NOT_REACHED = {17: "supervisor_busy", 19: "supervisor_no_answer",
               21: "supervisor_busy", 32: "supervisor_no_answer"}


# ------------------------------------------------------------------- the moves


@connected_only
def start(run: Run, event: e.Control) -> None:
    """listen / whisper / barge: start monitoring, or switch to this mode."""
    st = run.st
    mode = event.action
    role, _, user = event.by.partition(":")
    if role not in MONITOR_ROLES:
        refuse(run, event, "forbidden", "only a supervisor or an admin monitors a call")
        return
    if not st.answer_recorded:
        refuse(run, event, "not_connected", "the agent is not talking to the caller yet")
        return
    m = st.monitor
    if m is not None:
        _switch(run, event, m, mode, user)
        return
    endpoint = event.args.get("endpoint")
    if not isinstance(endpoint, str) or not ENDPOINT.match(endpoint):
        refuse(run, event, "bad_endpoint",
               "endpoint must be the supervisor's phone, e.g. PJSIP/super1")
        return
    n = st.monitors + 1
    channel = supervisor_channel_id(st.call_id, n)
    run.set(monitors=n, monitor_ids=(*st.monitor_ids, channel), monitor=Monitor(
        n=n, supervisor=user, endpoint=endpoint, mode=mode, started_ms=run.now_ms,
        channel=channel, request_id=event.request_id, asked=mode))
    run.emit(c.CreateChannel(channel, endpoint, f"supervisor,{st.call_id}",
                             variables={"ACD_CALL": st.call_id}),
             c.StartTimer(f"monitor:{channel}", RING_TIMEOUT + 5.0))


def _switch(run: Run, event: e.Control, m: Monitor, mode: str, user: str) -> None:
    if m.supervisor != user:
        refuse(run, event, "monitored", f"{m.supervisor} is monitoring this call",
               supervisor=m.supervisor)
        return
    if m.request_id is not None:
        refuse(run, event, "monitor_busy", "the previous monitoring move is under way",
               mode=m.asked)
        return
    if mode == m.mode:
        ok(run, event, mode=mode, supervisor=m.supervisor, changed=False)
        return
    run.set(monitor=replace(m, request_id=event.request_id, asked=mode))
    _enter(run)


@connected_only
def stop(run: Run, event: e.Control) -> None:
    """monitor_stop: the supervisor leaves; the call goes on untouched."""
    role, _, user = event.by.partition(":")
    if role not in MONITOR_ROLES:
        refuse(run, event, "forbidden", "only a supervisor or an admin stops monitoring")
        return
    m = run.st.monitor
    if m is None:
        refuse(run, event, "not_monitored", "nobody is monitoring this call")
        return
    mode = m.mode
    end(run, "stopped", pending=("monitor_stopped", "the monitoring was stopped"))
    ok(run, event, mode=mode, supervisor=m.supervisor, by=user)


# ---------------------------------------------------------- setting a mode up


def _enter(run: Run) -> None:
    """Set the asked mode up (the supervisor's leg is answered)."""
    st = run.st
    m = st.monitor
    leg = st.connected_leg
    if m is None or m.asked is None or leg is None or st.bridge_id is None:
        return
    if m.next_snoop is not None:
        return  # the asked mode's snoop is on its way already (a switch asked earlier)
    if m.asked == "barge":
        run.emit(c.MoveSupervisor(m.channel, m.bridge if m.active else None, st.bridge_id))
        return
    bridge = m.bridge
    if bridge is None:
        bridge = monitor_bridge_id(st.call_id, m.n)
        run.emit(c.CreateBridge(bridge))
    k = m.snoops + 1
    snoop = snoop_channel_id(st.call_id, m.n, k)
    run.set(monitor=replace(m, bridge=bridge, snoops=k, next_snoop=snoop),
            monitor_ids=(*st.monitor_ids, snoop))
    spy, whisper = SNOOP[m.asked]
    run.emit(c.StartSnoop(snoop, leg.channel_id, spy, whisper,
                          f"snoop,{st.call_id},{m.asked}"))


def _snoop_in(run: Run, m: Monitor) -> None:
    """The new snoop is in acd's app: into the monitor bridge (with the supervisor's
    leg when it is not there yet)."""
    assert m.next_snoop is not None and m.bridge is not None
    if m.active and m.mode != "barge":
        run.emit(c.AddToBridge(m.bridge, (m.next_snoop,)))
    else:
        source = run.st.bridge_id if m.active else None
        run.emit(c.MoveSupervisor(m.channel, source, m.bridge, (m.next_snoop,)))


def awaits(st_monitor: Monitor | None, call_bridge: str | None, bid: str) -> bool:
    """Is `bid`'s Bridged the one a monitoring move waits for?"""
    m = st_monitor
    if m is None or m.asked is None:
        return False
    return bid == (call_bridge if m.asked == "barge" else m.bridge)


def bridged(run: Run) -> None:
    """The asked mode is set up: the old snoop goes, the move is answered."""
    st = run.st
    m = st.monitor
    if m is None or m.asked is None:
        return
    mode, was, request_id = m.asked, (m.mode if m.active else None), m.request_id
    if m.snoop is not None and m.snoop_mode is not None:
        run.hangup(m.snoop)
        run.emit(c.WriteRow(snoop_row(st, m, m.snoop, m.snoop_mode, m.snoop_ms,
                                      run.now_ms)))
    barge = mode == "barge"
    m = replace(m, mode=mode, asked=None, active=True, request_id=None,
                snoop=None if barge else m.next_snoop, snoop_mode=None if barge else mode,
                snoop_ms=run.now_ms, next_snoop=None,
                modes=m.modes if mode in m.modes else (*m.modes, mode))
    run.set(monitor=m)
    leg = st.connected_leg
    agent = leg.agent_id if leg is not None else None
    if was is None:
        run.queue_event("monitor", agent, mode=mode, supervisor=m.supervisor)
    else:
        run.queue_event("monitor", agent, mode=mode, supervisor=m.supervisor, was=was)
    if request_id is not None:
        run.emit(c.Reply(request_id, True, data={"mode": mode, "supervisor": m.supervisor,
                                                 "changed": True}))


def _setup_failed(run: Run, error_id: str, message: str) -> None:
    """A mode could not be set up: a first one ends the monitoring; a switch keeps
    the mode running (its new snoop, if any, goes)."""
    m = run.st.monitor
    if m is None:
        return
    if not m.active:
        end(run, "failed", pending=(error_id, message))
        return
    if m.next_snoop is not None:
        run.hangup(m.next_snoop)
    run.set(monitor=replace(m, asked=None, next_snoop=None, request_id=None))
    if m.request_id is not None:
        run.emit(c.Reply(m.request_id, False, error_id, message, {"mode": m.mode}))


# ------------------------------------------------------------- the end of it


def end(run: Run, reason: str, pending: tuple[str, str] = ("call_ended", "the call ended"),
        hang_up_supervisor: bool = True, cause: int | None = None) -> None:
    """The monitoring is over: its channels hung up, its bridge gone, its rows
    written, a move still waiting answered (`pending`: its error id, message)."""
    st = run.st
    m = st.monitor
    if m is None:
        return
    run.set(monitor=None)
    run.emit(c.CancelTimer(f"monitor:{m.channel}"))
    if m.next_snoop is not None:
        run.hangup(m.next_snoop)
    if m.snoop is not None:
        run.hangup(m.snoop)
        if m.snoop_mode is not None:
            run.emit(c.WriteRow(snoop_row(st, m, m.snoop, m.snoop_mode, m.snoop_ms,
                                          run.now_ms)))
    if hang_up_supervisor:
        run.hangup(m.channel)
    outcome = _outcome(m, reason, cause)
    run.emit(c.WriteRow(supervisor_row(st, m, run.now_ms, outcome, cause)))
    if m.bridge is not None:
        run.emit(c.DestroyBridge(m.bridge))
    if m.active:
        leg = st.connected_leg
        run.queue_event("monitor_end", leg.agent_id if leg is not None else None,
                        mode=m.mode, supervisor=m.supervisor, reason=reason,
                        modes=list(m.modes))
    if m.request_id is not None:
        run.emit(c.Reply(m.request_id, False, pending[0], pending[1]))


def _outcome(m: Monitor, reason: str, cause: int | None) -> str:
    """The supervisor leg's outcome (its row)."""
    if m.answered_ms is not None:
        return "answered"
    if cause in NOT_REACHED:
        return "busy" if NOT_REACHED[cause or 0] == "supervisor_busy" else "no_answer"
    return "cancelled" if reason in ("call_ended", "stopped") else "failed"


def follow(run: Run) -> None:
    """After every event: a call no longer connected takes its monitoring with it."""
    st = run.st
    if st.monitor is not None and (st.phase is not Phase.CONNECTED or st.caller_gone
                                   or st.connected_leg is None):
        mark = len(run.out)
        end(run, "call_ended")
        # The monitoring's commands go first: the snoop is hung up before the leg it
        # spies on, so Asterisk ends it as acd asked (ChannelHangupRequest, StasisEnd)
        # rather than racing the agent leg's end (then it says only StasisEnd).
        run.out[:] = run.out[mark:] + run.out[:mark]


# ------------------------------------------------------- the channels' events


def channel_event(run: Run, event: e.MonitorChannel) -> None:
    m = run.st.monitor
    if m is None:
        return
    if event.channel_id == m.channel:
        _supervisor(run, m, event)
    elif event.channel_id == m.next_snoop:
        if event.what == "stasis":
            _snoop_in(run, m)
        elif event.what in ("hangup", "gone", "left"):
            _setup_failed(run, "monitor_failed", "the snoop on the agent's leg ended")
    elif event.channel_id == m.snoop and event.what in ("hangup", "gone", "left"):
        end(run, "snoop_gone")  # the agent's leg went (its snoop says only StasisEnd)


def _supervisor(run: Run, m: Monitor, event: e.MonitorChannel) -> None:
    if event.what == "stasis" and not m.dialled:
        run.set(monitor=replace(m, dialled=True))
        run.emit(c.Dial(m.channel, None, RING_TIMEOUT))
    elif event.what == "answered" and m.answered_ms is None:
        run.set(monitor=replace(m, answered_ms=run.now_ms))
        run.emit(c.CancelTimer(f"monitor:{m.channel}"))
        _enter(run)
    elif event.what == "hangup" and m.answered_ms is not None:
        end(run, "supervisor_hangup", ("supervisor_hangup", "the supervisor hung up"),
            hang_up_supervisor=False, cause=event.cause)
    elif event.what == "gone":
        if m.answered_ms is not None:
            end(run, "supervisor_hangup", ("supervisor_hangup", "the supervisor hung up"),
                hang_up_supervisor=False, cause=event.cause)
            return
        error_id = NOT_REACHED.get(event.cause or 0, "supervisor_unreachable")
        end(run, "not_answered", (error_id, f"the supervisor's phone {m.endpoint} did "
                                  f"not answer ({error_id.removeprefix('supervisor_')})"),
            hang_up_supervisor=False, cause=event.cause)


def reconnected(run: Run) -> None:
    """After a gap in the events: are the monitoring's channels still there?"""
    channels = monitor_channels(run.st)
    if channels:
        run.emit(c.CheckChannels(channels))


def vanished(run: Run, gone: frozenset[str]) -> None:
    """Channels of the monitoring went while acd heard nothing (their events lost)."""
    m = run.st.monitor
    if m is None:
        return
    if m.channel in gone:
        end(run, "supervisor_hangup", ("supervisor_hangup", "the supervisor hung up"),
            hang_up_supervisor=False)
    elif m.snoop is not None and m.snoop in gone:
        end(run, "snoop_gone")
    elif m.next_snoop is not None and m.next_snoop in gone:
        _setup_failed(run, "monitor_failed", "the snoop on the agent's leg ended")


def timer(run: Run, channel_id: str) -> None:
    """The supervisor's phone rang past the dial timeout (Asterisk's own was lost)."""
    m = run.st.monitor
    if m is not None and m.channel == channel_id and m.answered_ms is None:
        end(run, "not_answered", ("supervisor_no_answer",
                                  f"the supervisor's phone {m.endpoint} did not answer"),
            cause=19)


def failed(run: Run, cmd: c.Command, fault: e.Fault) -> bool:
    """A monitoring command Asterisk did not carry out."""
    m = run.st.monitor
    if m is None:
        return False
    if isinstance(cmd, c.CreateChannel | c.Dial) and cmd.channel_id == m.channel:
        error_id = "supervisor_unreachable" if fault in ("unreachable", "refused") \
            else "monitor_failed"
        end(run, "not_answered", (error_id, f"the supervisor's phone {m.endpoint} cannot "
                                  "be reached" if error_id != "monitor_failed"
                                  else "acd could not ring the supervisor's phone"))
        return True
    if isinstance(cmd, c.StartSnoop | c.MoveSupervisor) or (
            isinstance(cmd, c.CreateBridge | c.AddToBridge) and cmd.bridge_id == m.bridge):
        _setup_failed(run, "monitor_failed", f"acd could not set {m.asked or m.mode} up")
        return True
    if isinstance(cmd, c.Hangup | c.DestroyBridge) and (
            getattr(cmd, "channel_id", None) in (m.channel, m.snoop, m.next_snoop)
            or getattr(cmd, "bridge_id", None) == m.bridge):
        return True  # gone already: nothing to undo
    return False
