"""After a gap in the events the call asks what it missed (`Resync`); when that
question fails it is asked again, and after the last try a prompt that may have
ended is taken as ended: the caller hears what comes next, never a silence that
nothing would end (found by tests.calls.test_executor_property)."""

from __future__ import annotations

import pytest

from acd.calls import commands as c
from acd.calls import events as e
from tests.calls.driver import CallDriver


def resync(d: CallDriver) -> c.Resync:
    cmd = d.latest(c.Resync)
    assert isinstance(cmd, c.Resync)
    return cmd


@pytest.mark.parametrize(("fault", "commands"), [
    ("error", ["timer resync:2 2"]),
    ("refused", ["timer resync:2 2"]),
    ("gone", ["timer resync:2 2"]),
])
def test_a_failed_resync_is_asked_again(fault: e.Fault, commands: list[str]) -> None:
    d = CallDriver()
    d.run("start")
    d.send(e.Reconnected())
    assert resync(d).attempt == 1
    assert d.send(e.Failed(resync(d), fault)) == commands
    assert d.run("fire resync:2") == ["resync 2"]
    assert resync(d).playback_ids == ("acd-c0ffee0123456789-p1",)


def test_after_the_last_try_the_prompt_is_taken_as_ended() -> None:
    d = CallDriver()
    d.run("start")
    d.send(e.Reconnected())
    for attempt in (2, 3, 4):
        assert d.send(e.Failed(resync(d), "error")) == [f"timer resync:{attempt} 2"]
        d.run(f"fire resync:{attempt}")
    assert resync(d).attempt == 4
    # The greeting is over as far as the call knows: on to the queue, with music.
    assert d.send(e.Failed(resync(d), "error")) == ["moh on", "enqueue sales", "var ACD_QUEUE"]
