"""How every way a call ends is written, through the machine: the call's outcome,
who ended it (calls.ended_by and the `complete` queue event's detail), the Q.850
cause on the call row and the caller leg (never NULL, 0 or 32), and what is only
partly known (end_detail)."""

from __future__ import annotations

import pytest

from acd.calls import commands as c
from acd.store.rows import CallRow, LegRow, QueueEventRow
from tests.calls.driver import ANNOUNCING, FLOW, CallDriver

CASES = [
    ('plain', 'start; caller-hangup 16; caller-destroyed 16',
     ('ivr_hangup', 'caller', 16, 16, None, None)),
    ('plain', 'start; caller-hangup 32; stasis-end',
     ('ivr_hangup', 'caller', 16, 16, None, None)),
    ('plain', 'start; caller-destroyed 0',
     ('ivr_hangup', 'caller', 16, 16, None, None)),
    ('plain', 'start noflow; stasis-end',
     ('failed', 'acd', 16, 16, None, None)),
    ('plain', 'start; crash; stasis-end',
     ('failed', 'acd', 16, 16, 'handler_error', None)),
    ('plain', 'QUEUED; left max_wait; caller-destroyed 16',
     ('ivr_hangup', 'acd', 16, 16, None, None)),
    ('plain', 'QUEUED; caller-hangup 16; caller-destroyed 16',
     ('abandoned', 'caller', 16, 16, None, None)),
    ('plain', 'QUEUED; caller-hangup 32; stasis-end',
     ('abandoned', 'caller', 16, 16, None, None)),
    ('plain', 'RINGING; caller-hangup 16; caller-destroyed 0; destroyed leg1 16',
     ('abandoned', 'caller', 16, 16, None, None)),
    ('plain', 'CONNECTED; caller-hangup 16; destroyed leg1 16; caller-destroyed 16',
     ('answered', 'caller', 16, 16, None, {'ended_by': 'caller'})),
    ('plain', 'CONNECTED; hangup-req leg1 16; destroyed leg1 16; caller-destroyed 32',
     ('answered', 'agent', 16, 16, None, {'ended_by': 'agent'})),
    ('plain', 'CONNECTED; destroyed leg1 16; caller-destroyed 32',
     ('answered', 'agent', 16, 16, None, {'ended_by': 'agent'})),
    ('plain', 'CONNECTED; vanished caller,leg1',
     ('answered', 'unknown', 16, 16, 'events_lost', {'ended_by': 'unknown'})),
    ('plain', 'CONNECTED; vanished leg1; caller-destroyed 16',
     ('answered', 'agent', 16, 16, 'events_lost', {'ended_by': 'agent'})),
    ('plain', 'QUEUED; vanished caller',
     ('abandoned', 'caller', 16, 16, 'events_lost', None)),
    ('plain', 'QUEUED; caller-destroyed 17',
     ('abandoned', 'caller', 17, 17, None, None)),
    ('plain', 'CONNECTED; destroyed leg1 44; done; fire reap',
     ('abandoned', 'acd', 16, 16, None, {'reason': 'agent_lost', 'cause': 44})),
    ('plain', 'CONNECTED; reap',
     ('answered', 'acd', 16, 16, None, {'ended_by': 'acd'})),
    ('ann', 'start; enqueued; key 9; cb-ok; done; stasis-end',
     ('callback', 'acd', 16, 16, None, None)),
    ('cb', 'cb-start; cb-created; cb-stasis; cb-status NOANSWER; caller-destroyed 19',
     ('no_answer', 'caller', 19, 19, None, None)),
    ('cb', 'cb-start; fail CreateChannel error',
     ('no_answer', 'acd', 16, 16, None, None)),
]


@pytest.mark.parametrize(("flow", "script", "expected"), CASES)
def test_how_a_call_ended(flow: str, script: str, expected: tuple[object, ...]) -> None:
    d = CallDriver(ANNOUNCING if flow == "ann" else FLOW, callback=flow == "cb")
    d.run(script)
    rows = d.rows
    calls = [r for r in rows if isinstance(r, CallRow)]
    callers = [r for r in rows if isinstance(r, LegRow) and r.kind == "caller"]
    complete = [r.detail for r in rows if isinstance(r, QueueEventRow) and r.event == "complete"]
    assert len(calls) == len(callers) == 1
    call = calls[0]
    assert (call.outcome, call.ended_by, call.hangup_cause, callers[0].hangup_cause,
            call.end_detail, complete[0] if complete else None) == expected
    assert all(r.hangup_cause not in (None, 0, 32) for r in rows if isinstance(r, LegRow))


@pytest.mark.parametrize(("script", "first"), [
    # The agent's BYE: their leg ends then, the caller (hung up by acd) at StasisEnd,
    # even when the agent's channel is destroyed after the caller's StasisEnd.
    ('CONNECTED; tick 1; hangup-req leg1 16; tick 0.001; stasis-end; tick 0.001; '
     'destroyed leg1 16', "agent"),
    ('CONNECTED; tick 1; destroyed leg1 16; tick 0.001; caller-destroyed 32', "agent"),
    # The caller's BYE: acd hangs the agent up; the caller's row ends first.
    ('CONNECTED; tick 1; caller-hangup 16; tick 0.001; caller-destroyed 16; tick 0.001; '
     'destroyed leg1 16', "caller"),
])
def test_the_side_that_hung_up_ends_first(script: str, first: str) -> None:
    d = CallDriver(FLOW)
    d.run(script)
    legs = {r.kind: r for x in d.history if isinstance(x, c.WriteRow)
            for r in [x.row] if isinstance(r, LegRow)}
    caller, agent = legs["caller"].ended_at, legs["agent"].ended_at
    assert caller is not None and agent is not None
    assert (agent <= caller) if first == "agent" else (caller <= agent), (caller, agent)
