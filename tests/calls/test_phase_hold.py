"""Table tests of hold and unhold (acd.calls.phases.hold): from the desktop, by a
supervisor and from the agent's phone, Asterisk's failures, the call ending while
held, and the time on hold in the rows (words: tests/calls/driver.py)."""

from __future__ import annotations

import pytest

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.machine import step
from acd.calls.rows import call_row
from acd.store.rows import CallRow, QueueEventRow
from tests.calls.driver import AGENT_ENDS, CALLER_ENDS, CallDriver, check

HELD = "CONNECTED; move hold; hold-done hold"
PHONE_HELD = "CONNECTED; phone-hold leg1"

CASES = [
    # acd's hold: music on the caller (kept in the bridge), muted toward the agent;
    # answered once Asterisk did it.
    ('plain', 'CONNECTED', 'move hold', ['hold caller'], 'CONNECTED'),
    ('plain', 'CONNECTED; move hold', 'hold-done hold',
     ['event hold desktop', 'remember connected', 'reply ok held=True'], 'CONNECTED'),
    ('plain', 'CONNECTED', 'move-as supervisor:super hold', ['hold caller'], 'CONNECTED'),
    ('plain', 'CONNECTED; move-as supervisor:super hold', 'hold-done hold',
     ['event hold supervisor', 'remember connected', 'reply ok held=True'], 'CONNECTED'),
    ('plain', HELD, 'move hold', ['reply no already_held'], 'CONNECTED'),
    ('plain', 'CONNECTED; move hold', 'move unhold', ['reply no hold_pending'], 'CONNECTED'),
    ('plain', 'CONNECTED', 'move unhold', ['reply no not_held'], 'CONNECTED'),
    ('plain', HELD, 'move unhold',
     ['unhold caller music unmute', 'event unhold desktop', 'remember connected'],
     'CONNECTED'),
    ('plain', f'{HELD}; move unhold', 'hold-done unhold', ['reply ok held=False'], 'CONNECTED'),
    ('plain', 'QUEUED', 'move hold', ['reply no not_connected'], 'QUEUED'),
    ('plain', 'RINGING', 'move hold', ['reply no not_connected'], 'OFFERING'),
    # Asterisk refuses or fails: the move is answered no, whatever was done undone.
    ('plain', 'CONNECTED; move hold', 'fail HoldCaller refused',
     ['unhold caller music unmute', 'reply no hold_failed'], 'CONNECTED'),
    ('plain', 'CONNECTED; move hold', 'fail HoldCaller error',
     ['unhold caller music unmute', 'reply no hold_failed'], 'CONNECTED'),
    ('plain', f'{HELD}; move unhold', 'fail UnholdCaller error',
     ['timer unhold 2', 'remember connected', 'reply no hold_failed'], 'CONNECTED'),
    # ... tried again until it works (or the call ends, or the caller is held again)
    ('plain', f'{HELD}; move unhold; fail UnholdCaller error', 'fire unhold',
     ['unhold caller music unmute'], 'CONNECTED'),
    ('plain', f'{HELD}; move unhold; fail UnholdCaller error; fire unhold',
     'fail UnholdCaller refused', ['timer unhold 2'], 'CONNECTED'),
    ('plain', f'{HELD}; move unhold; fail UnholdCaller error; fire unhold',
     'hold-done unhold', ['remember connected'], 'CONNECTED'),
    ('plain', f'{HELD}; move unhold; fail UnholdCaller error; move hold', 'fire unhold',
     [], 'CONNECTED'),
    ('plain', f'{HELD}; move unhold; fail UnholdCaller error; caller-hangup 16',
     'fire unhold', [], 'ENDING'),
    # The caller gone under a hold: the call ends, the move is answered.
    ('plain', 'CONNECTED; move hold', 'fail HoldCaller gone',
     [*CALLER_ENDS, 'reply no call_ended'], 'ENDING'),
    ('plain', 'CONNECTED; move hold', 'caller-hangup 16',
     [*CALLER_ENDS, 'reply no call_ended'], 'ENDING'),
    # The phone's own button: Asterisk plays the music, acd keeps the clock.
    ('plain', 'CONNECTED', 'phone-hold leg1', ['event hold phone', 'remember connected'],
     'CONNECTED'),
    ('plain', PHONE_HELD, 'phone-unhold leg1', ['event unhold phone', 'remember connected'],
     'CONNECTED'),
    ('plain', PHONE_HELD, 'phone-hold leg1', [], 'CONNECTED'),
    ('plain', 'CONNECTED', 'phone-unhold leg1', [], 'CONNECTED'),
    ('plain', PHONE_HELD, 'move hold', ['reply no already_held'], 'CONNECTED'),
    # Desktop and phone mixed: any unhold ends the hold; acd lifts its own mute.
    ('plain', HELD, 'phone-hold leg1', [], 'CONNECTED'),
    ('plain', HELD, 'phone-unhold leg1',
     ['unhold caller music unmute', 'event unhold phone', 'remember connected'], 'CONNECTED'),
    ('plain', PHONE_HELD, 'move unhold',
     ['unhold caller music', 'event unhold desktop', 'remember connected'], 'CONNECTED'),
    ('plain', f'{PHONE_HELD}; move unhold; hold-done unhold', 'phone-unhold leg1', [],
     'CONNECTED'),
    # A phone's hold outside a connected call changes nothing.
    ('plain', 'RINGING', 'phone-hold leg1', [], 'OFFERING'),
    ('plain', 'CONNECTED; caller-hangup 16', 'phone-hold leg1', [], 'ENDING'),
    # Not before routing has the agent on call (the answer may yet go stale).
    ('plain', 'start; done; enqueued; offer a100; stasis leg1; answer leg1; bridged',
     'move hold', ['reply no not_connected'], 'CONNECTED'),
    ('plain', 'start; done; enqueued; offer a100; stasis leg1; answer leg1; bridged',
     'phone-hold leg1', [], 'CONNECTED'),
    # The agent's phone lost while the caller is held: back to the queue with their
    # voice (the queue's music replaces acd's), the hold ends there.
    ('plain', HELD, 'destroyed leg1 44',
     ['row leg1 agent_lost 44', 'bridge destroy', 'wrapup a100', 'event complete',
      'break a100 phone_lost', 'play acd-please-hold', 'adopt sales', 'event enter',
      'remember queued', 'unhold caller unmute', 'event unhold requeue'], 'QUEUED'),
    ('plain', PHONE_HELD, 'destroyed leg1 44',
     ['row leg1 agent_lost 44', 'bridge destroy', 'wrapup a100', 'event complete',
      'break a100 phone_lost', 'play acd-please-hold', 'adopt sales', 'event enter',
      'remember queued', 'event unhold requeue'], 'QUEUED'),
    ('plain', 'CONNECTED; move hold', 'destroyed leg1 44',
     ['row leg1 agent_lost 44', 'bridge destroy', 'wrapup a100', 'event complete',
      'break a100 phone_lost', 'play acd-please-hold', 'adopt sales', 'event enter',
      'remember queued', 'unhold caller unmute', 'event unhold requeue',
      'reply no not_connected'], 'QUEUED'),
    ('plain', f'{HELD}; destroyed leg1 44', 'fail UnholdCaller error',
     ['timer unhold 2', 'remember queued'], 'QUEUED'),
    ('plain', f'{HELD}; destroyed leg1 44; fail UnholdCaller error', 'fire unhold',
     ['unhold caller unmute'], 'QUEUED'),
    # The agent hangs up while the caller is held: the call ends as always (the
    # caller is hung up, never left with music).
    ('plain', HELD, 'hangup-req leg1 16',
     AGENT_ENDS, 'ENDING'),
]


@pytest.mark.parametrize(("flow", "setup", "script", "commands", "phase"), CASES,
                         ids=[f"{i}-{x[2]}" for i, x in enumerate(CASES)])
def test_hold(flow: str, setup: str, script: str, commands: list[str], phase: str) -> None:
    check(flow, setup, script, commands, phase)


def _call_row(d: CallDriver) -> CallRow:
    rows = [x.row for x in d.history if isinstance(x, c.WriteRow) and isinstance(x.row, CallRow)]
    assert len(rows) == 1
    return rows[0]


END = "caller-hangup 16; destroyed leg1 16; caller-destroyed 16"


@pytest.mark.parametrize(("script", "hold_ms", "talk_ms"), [
    # 10 s talk, 5 s held, 3 s talk
    ("tick 10; move hold; hold-done hold; tick 5; move unhold; hold-done unhold; tick 3",
     5000, 13000),
    # two holds, one from the phone
    ("tick 2; move hold; hold-done hold; tick 4; move unhold; tick 1; phone-hold leg1; "
     "tick 3; phone-unhold leg1; tick 1", 7000, 4000),
    # desktop hold, phone's unhold
    ("tick 1; move hold; hold-done hold; tick 6; phone-unhold leg1; tick 2", 6000, 3000),
    # the call ends while held: held until the end
    ("tick 4; move hold; hold-done hold; tick 9", 9000, 4000),
    ("tick 4; phone-hold leg1; tick 2.5", 2500, 4000),
    # a hold Asterisk refused is no hold
    ("tick 4; move hold; fail HoldCaller refused; tick 2", 0, 6000),
    ("tick 3", 0, 3000),
])
def test_hold_time_is_counted_and_is_not_talk(script: str, hold_ms: int, talk_ms: int) -> None:
    d = CallDriver()
    d.run(f"CONNECTED; {script}; {END}")
    row = _call_row(d)
    assert (row.hold_ms, row.talk_ms) == (hold_ms, talk_ms)


def test_the_agent_hanging_up_while_held_counts_the_hold_until_then() -> None:
    d = CallDriver()
    d.run("CONNECTED; tick 2; move hold; hold-done hold; tick 3; hangup-req leg1 16; tick 1; "
          "destroyed leg1 16; caller-destroyed 16")
    row = _call_row(d)
    # until the leg ended (as talk time is), when the agent hung up, not when its
    # channel was destroyed: 2 s talk, held from 2 s to 5 s
    assert (row.hold_ms, row.talk_ms, row.ended_by) == (3000, 2000, "agent")


def test_hold_events_name_the_agent_and_who_held() -> None:
    d = CallDriver()
    d.run(f"CONNECTED; move-as supervisor:super hold; hold-done hold; phone-unhold leg1; {END}")
    events = [(x.row.event, x.row.agent_id, x.row.detail) for x in d.history
              if isinstance(x, c.WriteRow) and isinstance(x.row, QueueEventRow)
              and x.row.event in ("hold", "unhold")]
    assert events == [("hold", "a100", {"by": "supervisor"}),
                      ("unhold", "a100", {"by": "phone"})]


def test_status_says_held_and_for_how_long() -> None:
    d = CallDriver()
    d.run("CONNECTED; move hold; hold-done hold; tick 7.5")
    _, out = step(d.state, e.Control("r-s", "status", {}, "agent:a100"), d.now)
    [reply] = out
    assert isinstance(reply, c.Reply)
    data = dict(reply.data)
    assert (data["held"], data["held_by"], data["held_s"]) == (True, "desktop", 7.5)
    moves = set(str(data["moves"]).split(","))
    assert {"status", "unhold"} <= moves  # the desktop shows Resume...
    assert not {"hold", "transfer", "payment"} & moves  # ...and no Hold, no Transfer
    d.run("move unhold")
    assert d.run("move status") == ["status phase=connected"]


def test_every_hold_move_is_answered_exactly_once() -> None:
    """Whatever follows a hold or unhold move (done, failed, the call ending), its
    request id gets one reply."""
    follow_ups = ["hold-done hold", "fail HoldCaller refused", "fail HoldCaller gone",
                  "caller-hangup 16", "hangup-req leg1 16", "phone-unhold leg1", END]
    for first in ("move hold", "move unhold"):
        for follow in follow_ups:
            d = CallDriver()
            d.run("CONNECTED; move hold; hold-done hold" if first == "move unhold" else "CONNECTED")
            start = len(d.history)
            d.run(first)
            rid = f"r{start}"
            for extra in (follow, "hold-done unhold", END, "reap"):
                try:
                    d.run(extra)
                except AssertionError:
                    pass  # a word whose command never came (e.g. no UnholdCaller)
            replies = [x for x in d.history[start:] if isinstance(x, c.Reply)
                       and x.request_id == rid]
            assert len(replies) == 1, (first, follow, replies)


def test_row_of_an_unanswered_call_has_no_hold() -> None:
    d = CallDriver()
    d.run("QUEUED; caller-hangup 16; caller-destroyed 16")
    assert call_row(d.state).hold_ms is None


def test_a_restarted_acd_knows_the_caller_is_held() -> None:
    """The re-adoption record carries the hold; adopted, the call is still held and
    its unhold lifts acd's music and mute (acd.calls.adoption)."""
    from acd.calls.adoption import adopted
    from acd.calls.model import CallState
    from acd.calls.rows import record_fields

    d = CallDriver()
    d.run("CONNECTED; tick 2; move-as supervisor:super hold; hold-done hold; tick 3")
    record = {k: str(v) for k, v in record_fields(d.state, d.ms).items()}
    fresh = CallState(call_id=d.state.call_id, channel_id=d.state.channel_id,
                      caller_number="5551234", dialled="100", started_ms=d.state.started_ms)
    leg = d.state.connected
    assert leg is not None
    back = adopted(fresh, record, {leg}, d.ms).state
    assert (back.held_ms, back.held_by, back.hold_music, back.hold_ms) == (
        d.state.held_ms, "supervisor", True, 0)
    d.state = back
    assert d.run("move unhold") == ["unhold caller music unmute", "event unhold desktop",
                                    "remember connected"]
    assert d.state.hold_ms == 3000


def test_a_restarted_acd_tries_a_failed_unhold_again() -> None:
    from acd.calls import events as e
    from acd.calls.adoption import adopted
    from acd.calls.model import CallState
    from acd.calls.rows import record_fields

    d = CallDriver()
    d.run(f"{HELD}; move unhold; fail UnholdCaller error")
    record = {k: str(v) for k, v in record_fields(d.state, d.ms).items()}
    fresh = CallState(call_id=d.state.call_id, channel_id=d.state.channel_id,
                      caller_number="5551234", dialled="100", started_ms=d.state.started_ms)
    leg = d.state.connected
    assert leg is not None
    a = adopted(fresh, record, {leg}, d.ms)
    assert a.first == e.TimerFired("unhold") and a.state.unhold_due
    d.state = a.state
    assert d.send(a.first) == ["unhold caller music unmute"]
