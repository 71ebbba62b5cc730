"""Table tests of moves asked of a call (acd.calls.phases.control): every move gets
exactly one answer, in any phase, and one the call cannot take now is refused with
a reason (words: tests/calls/driver.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.machine import step
from acd.calls.phases.base import Run
from acd.calls.phases.control import (
    CONNECTED_MOVES,
    MOVES,
    available,
    connected_only,
    refuse,
)
from tests.calls.driver import CallDriver, check

# (setup, phase, queue, agent): what `status` says of the call's part in it. Each kind
# of move adds its own fields (held, transfer, monitored...): its own tests check them.
STATUS = [
    ("start", "ivr", None, None),
    ("QUEUED", "queued", "sales", None),
    ("RINGING", "offering", "sales", None),
    ("CONNECTED", "connected", "sales", "a100"),
    ("CONNECTED; caller-hangup 16", "ending", "sales", "a100"),
]


@pytest.mark.parametrize(("setup", "phase", "queue", "agent"), STATUS)
def test_status(setup: str, phase: str, queue: str | None, agent: str | None) -> None:
    d = CallDriver()
    d.run(setup)
    _, out = step(d.state, e.Control("r1", "status", {}, "agent:a100"), d.now)
    [reply] = out
    assert isinstance(reply, c.Reply) and reply.ok
    data = dict(reply.data)
    assert (data["phase"], data["queue"], data["agent_id"]) == (phase, queue, agent)
    moves = set(str(data["moves"]).split(","))
    # Connected, nothing under way, no recording (the queue records nothing): what the
    # call would take now (tests/calls/test_move_conflicts.py: the other states).
    assert moves == ({"status"} | NOTHING_RUNNING if phase == "connected" else {"status"})
    assert moves <= {"status"} | CONNECTED_MOVES


NOTHING_RUNNING = {"hold", "transfer", "consult", "escalate", "payment", "listen", "whisper",
                   "barge"}


CASES = [
    ('plain', 'CONNECTED',
     'move fly',
     ['reply no unknown_move'],
     'CONNECTED'),
    ('plain', 'CONNECTED; caller-hangup 16; destroyed leg1 16; caller-destroyed 16',
     'move status',
     ['reply no call_ended'],
     'ENDED'),
]


@pytest.mark.parametrize(("flow", "setup", "script", "commands", "phase"), CASES,
                         ids=[f"{i}-{x[2]}" for i, x in enumerate(CASES)])
def test_moves(flow: str, setup: str, script: str, commands: list[str], phase: str) -> None:
    check(flow, setup, script, commands, phase)


def test_a_move_that_needs_a_connected_call_is_refused_before_it_and_after_it() -> None:
    seen: list[str] = []

    @connected_only
    def poke(run: Run, event: e.Control) -> None:
        seen.append(run.st.phase.value)
        refuse(run, event, "poked", "poked")

    for setup, expected in [("QUEUED", "reply no not_connected"),
                            ("RINGING", "reply no not_connected"),
                            ("CONNECTED", "reply no poked"),
                            ("CONNECTED; caller-hangup 16", "reply no not_connected")]:
        d = CallDriver()
        d.run(setup)
        run = Run(d.state, d.ms)
        poke(run, e.Control("r", "poke", {}, "agent:a100"))
        assert [d.summary(x) for x in run.out] == [expected], setup
    assert seen == ["connected"]


def test_every_move_has_a_name_the_api_accepts() -> None:
    import re
    assert all(re.fullmatch(r"[a-z][a-z_]{0,31}", name) for name in MOVES)
    assert "status" in available(CallDriver().state)


# What the executor answers to the commands of moves that reply later.
ANSWERS: dict[type, Callable[[Any], e.Event]] = {
    c.FindPaymentFlow: lambda cmd: e.PaymentFlowFound(cmd.name, None),
    c.StartBridgeRecording: lambda cmd: e.RecordingOn(cmd.name),
}


def test_every_control_event_gets_exactly_one_reply_with_its_request_id() -> None:
    for setup in ("start", "QUEUED", "RINGING", "CONNECTED", "CONNECTED; caller-hangup 16"):
        for action in (*MOVES, "nothing"):
            d = CallDriver()
            d.run(setup)
            state, out = step(d.state, e.Control("req-7", action, {}, "agent:a100"), d.now)
            # A move may be answered later (once Asterisk did it): the call ending
            # answers it at the latest.
            for later in (e.CallerHangupRequest(16), e.CallerLeft(16), e.Reap()):
                state, more = step(state, later, d.now)
                out += more
            replies = [x for x in out if isinstance(x, c.Reply)
                       and x.request_id == "req-7"]
            assert len(replies) == 1, (setup, action)
