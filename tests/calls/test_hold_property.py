"""Held calls through the pure machine against the model of the world
(tests/calls/world.py): a connected call, then holds and unholds from the desktop
and the phone's button in any order, interleaved with Asterisk failing the music
or the mute, events lost, acd restarting, either party hanging up.

Always: every move is answered exactly once; the caller is never left with music
or muted while acd says they are not held (a hold nobody can see to resume); and
whatever a whole call must be (tests/calls/test_machine_property.py)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as hs

from acd.calls import commands as c
from acd.calls import events as e
from tests.calls.test_machine_property import FAULTS, FLOWS, act, advance, assert_whole, settle
from tests.calls.world import World

STEPS = ("hold", "hold", "unhold", "unhold", "phone_hold", "phone_unhold", "deliver",
         "deliver", "deliver", "deliver", "tick", "gap", "restart", "caller_hangup",
         "agent_hangup", "phone_lost")
HOLDS = (c.HoldCaller, c.UnholdCaller)


def connect(w: World) -> None:
    """A good day up to the agent talking to the caller."""
    for _ in range(200):
        if w.state.answer_recorded and not w.pending:
            return
        act(w, advance(w), 0)
    raise AssertionError(f"never connected: {w.trace[-10:]}")


@settings(max_examples=int(os.environ.get("ACD_PROP_EXAMPLES", "2000")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(fault_rate=hs.sampled_from((0, 10, 30, 60)), data=hs.data())
def test_held_calls_with_faults(fault_rate: int, data: hs.DataObject) -> None:
    faulty = [False]

    def faults(cmd: c.Command) -> e.Fault | None:
        if not faulty[0] or fault_rate == 0 or not isinstance(cmd, HOLDS):
            return None
        roll = data.draw(hs.integers(0, 99), label="fault")
        return FAULTS[roll % len(FAULTS)] if roll < fault_rate else None

    w = World(FLOWS["plain"], faults)
    w.start()
    connect(w)
    faulty[0] = True
    steps = data.draw(hs.lists(hs.tuples(hs.sampled_from(STEPS), hs.integers(0, 7)),
                               min_size=1, max_size=40), label="steps")
    for action, pick in steps:
        act(w, action, pick)
        if not w.pending and not w.gap and not w.down:
            assert not w.silent(), f"caller in silence after {action}: {w.trace[-8:]}"
            assert not w.stranded_on_hold(), f"held unseen after {action}: {w.log[-12:]}"
    settle(w)
    assert_whole(w)
    holds = sum(1 for r in w.rows if getattr(r, "event", None) == "hold")
    event(f"holds: {min(holds, 3)}")
    event(f"moves asked: {min(len(w.asked), 5)}")
