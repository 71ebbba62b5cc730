"""The per-call safety net: an unexpected exception in a call's handler sends a
caller who is not talking to an agent back to the dialplan; connected parties
stay bridged. The exception is injected into the live acd."""

from __future__ import annotations

from typing import Any

import pytest

from acd.calls import events as e
from acd.calls import service
from tests.e2e.conftest import Harness

PRESS_SALES = [(1.0, "1")]


def in_dialplan(h: Harness, ch: str) -> bool:
    return any(c["id"] == ch and c["phase"] == "dialplan" and not c["in_stasis"]
               and not c["moh"] for c in h.sim.state()["channels"])


def break_on_digits(monkeypatch: pytest.MonkeyPatch, what: str) -> None:
    """A bug in the call's handling of a key press (the machine raises)."""
    real = service.step

    def broken(state: Any, event: Any, now: Any) -> Any:
        if isinstance(event, e.Dtmf):
            raise RuntimeError(f"injected: a bug {what}")
        return real(state, event, now)
    monkeypatch.setattr(service, "step", broken)


async def test_an_exception_in_the_ivr_sends_the_caller_to_the_dialplan(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    assert h.app.calls is not None
    flow = h.app.calls
    h.sim.world.dialplan_linger = 600.0  # the dialplan's fallback keeps the caller
    break_on_digits(monkeypatch, "in the IVR")
    ch = h.sim.place_call("+15559001", "100", dtmf=PRESS_SALES)
    call_id = await h.finished(ch)
    assert in_dialplan(h, ch), "the caller is not with the dialplan's fallback"
    row = await h.call(call_id)
    assert (row["outcome"], row["ended_by"], row["end_detail"]) == (
        "failed", "acd", "handler_error")
    assert flow.handler_errors == 1
    h.sim.remote_hangup(ch)
    await h.assert_clean()


async def test_an_exception_while_waiting_releases_the_queue_and_the_caller(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    assert h.app.calls is not None and h.app.agents is not None and h.app.router is not None
    router = h.app.router
    h.sim.world.dialplan_linger = 600.0
    for agent in ("a1", "a2"):
        await h.app.agents.set_break(agent, "meeting")
    ch = h.sim.place_call("+15559002", "100", dtmf=PRESS_SALES)

    async def waiting() -> bool:
        return await router.waiting("sales") == 1
    await h.wait_for(waiting, "the caller to wait")
    break_on_digits(monkeypatch, "while waiting")
    h.sim.press(ch, "5")
    call_id = await h.finished(ch)
    assert in_dialplan(h, ch)
    assert await router.waiting("sales") == 0  # no ghost left in the queue
    assert (await h.call(call_id))["outcome"] == "failed"
    h.sim.remote_hangup(ch)
    await h.app.agents.available("a1")
    await h.clock.sleep(3.0)
    assert await h.agent_state("a1") == "available"  # offered nothing
    await h.assert_clean()


async def test_an_exception_while_talking_keeps_the_parties_bridged(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    h = harness
    assert h.app.calls is not None
    flow = h.app.calls
    ch = h.sim.place_call("+15559003", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a1", "on_call")
    break_on_digits(monkeypatch, "while talking")
    h.sim.press(ch, "9")
    await h.wait_for(lambda: flow.handler_errors == 1, "the injected failure")
    await h.clock.sleep(2.0)

    def bridged() -> bool:
        return any(c["id"] == ch and c["bridge"] for c in h.sim.state()["channels"])
    assert bridged() and h.sim.bridges == 1
    assert await h.agent_state("a1") == "on_call"
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    row = await h.call(call_id)
    assert (row["outcome"], row["ended_by"], row["end_detail"]) == ("answered", "caller", None)
    await h.wait_agent("a1", "available")
    await h.assert_clean()
