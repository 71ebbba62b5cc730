"""Stories of a connected call's end racing an acd restart, through the machine,
the executor and acd's own re-adoption and recovery (acd.calls.adoption,
acd.calls.recovery) in the model world (tests.calls.ports): whoever hangs up
first, and whenever acd dies, the call has one `complete` event, one row per
leg, one `calls` row, and its agent wraps up once."""

from __future__ import annotations

import pytest

from acd.calls import commands as c
from acd.calls.model import Phase
from acd.store.rows import QueueEventRow
from tests.calls.driver import CALLER
from tests.calls.ports import PortWorld
from tests.calls.restart import down, later, up
from tests.calls.test_machine_property import FLOWS, act, check_end, settle


def connected() -> PortWorld:
    w = PortWorld(FLOWS["plain"], lambda cmd, family: None)
    w.start()
    while not w.state.answer_recorded:
        act(w, "advance", 0)
    assert w.state.phase is Phase.CONNECTED and w.agents["a100"] == "on_call"
    return w


def story(w: PortWorld) -> list[str]:
    events = [r.event for r in w.rows if isinstance(r, QueueEventRow)]
    return [x for x in events if x in ("connect", "complete")]


# (who hangs up, how many of their events acd handles before it dies, whether the
# caller is still in Stasis when the new acd starts)
@pytest.mark.parametrize(("who", "handled"), [
    ("caller", 0), ("caller", 1), ("caller", 2), ("caller", 3), ("caller", 9),
    ("agent", 0), ("agent", 1), ("agent", 2), ("agent", 3), ("agent", 9),
])
def test_a_connected_call_ends_across_a_restart(who: str, handled: int) -> None:
    w = connected()
    if who == "caller":
        act(w, "caller_hangup", 0)
    else:
        act(w, "agent_hangup", 0)
    for _ in range(handled):
        act(w, "advance", 0)
    down(w)
    up(w, redis_lost=False)
    settle(w)
    later(w)
    assert story(w) == ["connect", "complete"], "\n".join(w.log)
    assert w.wrapups == 1, "\n".join(w.log)
    check_end(w)
    assert not w.chans[CALLER].alive


@pytest.mark.parametrize("who", ["caller", "agent"])
def test_a_complete_written_before_a_lost_ending_record_is_kept_once(who: str) -> None:
    """Redis fails the 'ending' record (the live acd wrote `complete` already), acd
    dies: the recovery, reading 'connected', writes the segment's `complete` again,
    and the database drops it (the same once_key)."""
    def draw(cmd: c.Command, family: str) -> str | None:
        ending = isinstance(cmd, c.Remember) and cmd.fields.get("phase") == "ending"
        return "redis-conn" if ending else None
    w = connected()
    w.draw = draw
    act(w, "caller_hangup" if who == "caller" else "agent_hangup", 0)
    for _ in range(9):
        if story(w) == ["connect", "complete"]:
            break
        act(w, "advance", 0)
    assert story(w) == ["connect", "complete"] and w.record is not None, "\n".join(w.log)
    assert w.record["phase"] == "connected"  # the 'ending' write failed
    down(w)
    w.chans[CALLER].alive = False  # the caller's channel is gone while acd is down
    up(w, redis_lost=False)
    settle(w)
    later(w)
    assert story(w) == ["connect", "complete"], "\n".join(w.log)
    assert w.once_dropped == 1, "\n".join(w.log)
    check_end(w)
