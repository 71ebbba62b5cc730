"""One call end to end through the simulator, with real Redis and PostgreSQL.

Every scenario asserts the agent states in Redis and the leg and queue-event
rows in PostgreSQL, then that nothing is left behind.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from tests.e2e.conftest import Harness

PRESS_SALES = [(1.0, "1")]


async def test_answered_call(harness: Harness) -> None:
    h = harness
    ch = h.sim.place_call("+15551001", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a1", "on_call")
    await h.clock.sleep(2.0)
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)

    assert await h.queue_events(call_id) == [
        ("enter", None), ("offer", "a1"), ("connect", "a1"), ("complete", "a1")]
    call = await h.call(call_id)
    assert call["outcome"] == "answered"
    assert call["agent_id"] == "a1"
    assert call["queue"] == "sales"
    assert call["answered_at"] is not None and call["talk_ms"] >= 1500
    legs = await h.legs(call_id)
    assert [(leg["kind"], leg["agent_id"]) for leg in legs] == [("caller", "a1"), ("agent", "a1")]
    caller, agent = legs
    assert caller["hangup_cause"] == 16
    assert call["ended_by"] == "caller"
    assert agent["answered_at"] is not None and agent["ended_at"] is not None
    assert agent["wait_ms"] is not None and agent["wait_ms"] >= 0
    assert agent["endpoint"] == "PJSIP/agent100"
    # Wrap-up, then available again; Bob was never disturbed.
    assert await h.agent_state("a1") in ("wrap_up", "available")
    await h.wait_agent("a1", "available")
    assert await h.agent_state("a2") == "available"
    await h.assert_clean()


async def test_agent_does_not_answer_then_another_does(harness: Harness) -> None:
    h = harness
    h.sim.set_endpoint("PJSIP", "agent100", "noanswer")
    ch = h.sim.place_call("+15551002", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a2", "on_call", timeout=20)
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)

    assert await h.queue_events(call_id) == [
        ("enter", None), ("offer", "a1"), ("no_answer", "a1"), ("offer", "a2"),
        ("connect", "a2"), ("complete", "a2")]
    legs = await h.legs(call_id)
    agent_legs = [leg for leg in legs if leg["kind"] == "agent"]
    assert [(leg["agent_id"], leg["hangup_cause"], leg["answered_at"] is None)
            for leg in agent_legs] == [("a1", 19, True), ("a2", 16, False)]
    view = await h.app.agents.get("a1")  # type: ignore[union-attr]
    assert view.state == "available" and view.missed_in_row == 1
    await h.wait_agent("a2", "available")
    await h.assert_clean()


async def test_busy_agent(harness: Harness) -> None:
    h = harness
    h.sim.set_endpoint("PJSIP", "agent100", "busy")
    ch = h.sim.place_call("+15551003", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a2", "on_call")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)

    events = await h.queue_events(call_id)
    assert events[:4] == [("enter", None), ("offer", "a1"), ("busy", "a1"), ("offer", "a2")]
    assert ("connect", "a2") in events
    agent_legs = [leg for leg in await h.legs(call_id) if leg["kind"] == "agent"]
    assert agent_legs[0]["hangup_cause"] == 17 and agent_legs[0]["outcome"] == "busy"
    await h.wait_agent("a2", "available")
    await h.assert_clean()


async def test_caller_abandons_in_queue(harness: Harness) -> None:
    h = harness
    assert h.app.agents is not None
    await h.app.agents.set_break("a1", "lunch")
    await h.app.agents.set_break("a2", "training")
    ch = h.sim.place_call("+15551004", "100", dtmf=PRESS_SALES, hangup_after=8.0)
    call_id = await h.finished(ch)

    assert await h.queue_events(call_id) == [("enter", None), ("abandon", None)]
    call = await h.call(call_id)
    assert call["outcome"] == "abandoned"
    assert call["agent_id"] is None and call["wait_ms"] > 0
    assert [leg["kind"] for leg in await h.legs(call_id)] == ["caller"]
    # Q.850 16 for a caller who hangs up (ARI gave no cause: StasisEnd was the last word).
    assert [leg["hangup_cause"] for leg in await h.legs(call_id)] == [16]
    assert (call["ended_by"], call["hangup_cause"]) == ("caller", 16)
    assert await h.agent_state("a1") == "break"
    assert (await h.app.agents.get("a1")).reason == "lunch"
    await h.assert_clean()


async def test_caller_hangs_up_while_agent_rings(harness: Harness) -> None:
    h = harness
    assert h.app.agents is not None
    await h.app.agents.set_break("a2", "meeting")
    h.sim.set_endpoint("PJSIP", "agent100", "noanswer")
    ch = h.sim.place_call("+15551005", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a1", "ringing")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)

    assert await h.queue_events(call_id) == [
        ("enter", None), ("offer", "a1"), ("abandon", None)]
    agent_legs = [leg for leg in await h.legs(call_id) if leg["kind"] == "agent"]
    assert len(agent_legs) == 1 and agent_legs[0]["answered_at"] is None
    assert agent_legs[0]["outcome"] == "abandoned"
    (caller,) = [leg for leg in await h.legs(call_id) if leg["kind"] == "caller"]
    assert caller["hangup_cause"] == 16  # not 0, what ARI reported
    assert agent_legs[0]["hangup_cause"] == 16
    assert (await h.call(call_id))["ended_by"] == "caller"
    await h.wait_agent("a1", "available")
    # The caller's abandonment is not the agent's miss.
    assert (await h.app.agents.get("a1")).missed_in_row == 0
    await h.assert_clean()


async def test_agent_hangs_up_first(harness: Harness) -> None:
    h = harness
    h.sim.set_endpoint("PJSIP", "agent100", "answer", answer_after=0.5, hangup_after=2.0)
    ch = h.sim.place_call("+15551006", "100", dtmf=PRESS_SALES)
    call_id = await h.finished(ch)

    assert await h.queue_events(call_id) == [
        ("enter", None), ("offer", "a1"), ("connect", "a1"), ("complete", "a1")]
    legs = await h.legs(call_id)
    caller = next(leg for leg in legs if leg["kind"] == "caller")
    agent = next(leg for leg in legs if leg["kind"] == "agent")
    assert agent["hangup_cause"] == 16
    assert caller["hangup_cause"] == 16  # acd hung the caller up: not ARI's soft 32
    assert caller["ended_at"] >= agent["ended_at"]
    row = await h.call(call_id)
    assert (row["outcome"], row["ended_by"], row["hangup_cause"]) == ("answered", "agent", 16)
    detail = await h.pg.fetchval(
        "SELECT detail FROM queue_events WHERE call_id=$1 AND event='complete'", call_id)
    assert json.loads(detail) == {"ended_by": "agent"}
    await h.wait_agent("a1", "available")
    await h.assert_clean()


async def test_two_calls_compete_for_the_last_free_agent(harness: Harness) -> None:
    h = harness
    assert h.app.agents is not None
    await h.app.agents.set_break("a2", "lunch")
    h.sim.set_endpoint("PJSIP", "agent100", "answer", answer_after=0.5, hangup_after=3.0)
    first = h.sim.place_call("+15551007", "100", dtmf=PRESS_SALES)
    second = h.sim.place_call("+15551008", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a1", "on_call")
    # Never two calls ringing or talking to one agent.
    await asyncio.sleep(0.05)
    ringing = [c for c in h.sim.state()["channels"] if "agent100" in c["name"]]
    assert len(ringing) == 1
    first_id = await h.finished(first)
    second_id = await h.finished(second)
    ev1, ev2 = await h.queue_events(first_id), await h.queue_events(second_id)
    connects = [e for e in ev1 + ev2 if e[0] == "connect"]
    assert connects == [("connect", "a1"), ("connect", "a1")]
    w1 = (await h.call(first_id))["wait_ms"]
    w2 = (await h.call(second_id))["wait_ms"]
    # The one who waited got the agent after the first call and its wrap-up.
    assert max(w1, w2) >= 2000
    await h.wait_agent("a1", "available")
    await h.assert_clean()


async def test_agent_paused_after_missed_offers(harness: Harness) -> None:
    h = harness
    assert h.app.agents is not None
    await h.app.agents.set_break("a2", "lunch")
    h.sim.set_endpoint("PJSIP", "agent100", "noanswer")
    first = h.sim.place_call("+15551009", "100", dtmf=PRESS_SALES, hangup_after=12.0)
    await h.finished(first)
    second = h.sim.place_call("+15551010", "100", dtmf=PRESS_SALES, hangup_after=12.0)
    await h.finished(second)

    view = await h.app.agents.get("a1")
    assert view.state == "break" and view.reason == "missed_offers"
    assert view.missed_in_row == 2
    rows = await h.pg.fetch(
        "SELECT state, reason FROM agent_states WHERE agent_id='a1' ORDER BY at, event_id")
    assert ("break", "missed_offers") in [(r["state"], r["reason"]) for r in rows]
    await h.assert_clean()


async def test_invalid_key_then_valid_key(harness: Harness,
                                          caplog: pytest.LogCaptureFixture) -> None:
    h = harness
    caplog.set_level(logging.INFO, logger="acd.calls")
    ch = h.sim.place_call("+15551011", "100", dtmf=[(1.0, "9"), (6.0, "1")])
    await h.wait_agent("a1", "on_call")
    plays = [r.getMessage() for r in caplog.records if " plays " in r.getMessage()]
    # The 9 cuts the welcome short (type-ahead into the menu); it is invalid, so the
    # caller hears why and the menu again, then presses 1.
    assert [p.split(" plays ")[1] for p in plays] == [
        "sound:acd-welcome", "sound:acd-invalid, sound:acd-main-menu"]
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    assert ("connect", "a1") in await h.queue_events(call_id)
    call = await h.call(call_id)
    variables = call["variables"]
    if isinstance(variables, str):
        variables = json.loads(variables)
    assert variables["menu_choice"] == "1"
    await h.assert_clean()


async def test_max_wait_gives_the_caller_back_to_the_ivr(harness: Harness) -> None:
    h = harness
    assert h.app.agents is not None
    await h.app.agents.set_break("a1", "lunch")
    await h.app.agents.set_break("a2", "lunch")
    # The caller would wait a minute; the queue's 5 s maximum sends them on first.
    ch = h.sim.place_call("+15551012", "101", hangup_after=60.0)
    call_id = await h.finished(ch)
    assert await h.queue_events(call_id) == [("enter", None), ("exit", None)]
    call = await h.call(call_id)
    assert call["outcome"] == "ivr_hangup"
    assert 5000 <= call["wait_ms"] < 20000
    await h.assert_clean()


async def test_an_answer_to_a_stale_offer_never_connects(harness: Harness) -> None:
    """The agent picks up after routing took the offer back (its reservation expired
    and the call went back to the queue): that agent lets go, the caller waits on
    with music and is connected to the next agent."""
    h = harness
    assert h.app.agents is not None and h.app.router is not None and h.app.calls
    await h.app.agents.set_break("a2", "meeting")
    h.sim.set_endpoint("PJSIP", "agent100", "answer", answer_after=2.0)
    ch = h.sim.place_call("+15551013", "100", dtmf=PRESS_SALES)

    def ringing() -> bool:
        call = h.call_on(ch)
        return call is not None and bool(call.live_legs())
    await h.wait_for(ringing, "a1's phone to ring")
    call = h.live(ch)
    (leg,) = call.live_legs()
    # Routing takes the offer back now (as the reaper does an expired reservation),
    # and keeps a1 from this call for the retry delay ("error", acd's own failure,
    # would not: a1 would be offered the call again at once).
    await h.app.router.offer_failed(leg.offer, "rejected")

    def ended() -> bool:  # the call's state is a value: read it afresh
        now = h.live(ch).leg(leg.channel_id)
        return now is not None and not now.live
    await h.wait_for(ended, "a1's stale leg to end")
    call = h.live(ch)
    assert call.leg(leg.channel_id).outcome == "stale"  # type: ignore[union-attr]
    assert call.connected_leg is None
    assert await h.agent_state("a1") == "available"

    def music() -> bool:
        return any(c["id"] == ch and c["moh"] and not c["bridge"]
                   for c in h.sim.state()["channels"])
    await h.wait_for(music, "the caller back on music, out of any bridge")

    await h.app.agents.available("a2")
    await h.wait_agent("a2", "on_call")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    row = await h.call(call_id)
    assert (row["outcome"], row["agent_id"]) == ("answered", "a2")
    legs = await h.legs(call_id)
    assert [(x["agent_id"], x["outcome"]) for x in legs if x["kind"] == "agent"] == [
        ("a1", "stale"), ("a2", "answered")]
    await h.wait_agent("a2", "available")
    await h.assert_clean()


async def test_a_restarted_acd_keeps_a_connected_call_talking(harness: Harness) -> None:
    """acd stops and starts again mid-conversation: the caller and the agent stay
    bridged, and the call is written once, by the new process, when it ends."""
    h = harness
    ch = h.sim.place_call("+15551014", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a1", "on_call")

    def bridged() -> bool:
        return any(c["id"] == ch and c["bridge"] for c in h.sim.state()["channels"])

    async def talking_unheard() -> None:
        assert bridged() and h.sim.bridges == 1  # talking while no acd listens
    app = await h.restart(talking_unheard)
    await h.wait_for(lambda: h.call_on(ch) is not None, "the new acd to take the call back")
    call = h.live(ch)
    assert call.connected_leg is not None and call.connected_leg.agent_id == "a1"
    # Its agent stays on call past the on-call deadline: the new node renews it.
    await h.clock.sleep(app.settings.routing.on_call_ttl + 5.0)
    assert await h.agent_state("a1") == "on_call" and bridged()
    assert not [c for c in h.sim.state()["channels"] if c["id"] == ch and c["moh"]]

    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    row = await h.call(call_id)
    assert (row["outcome"], row["agent_id"]) == ("answered", "a1")
    assert row["talk_ms"] >= app.settings.routing.on_call_ttl * 1000
    assert await h.queue_events(call_id) == [
        ("enter", None), ("offer", "a1"), ("connect", "a1"), ("complete", "a1")]
    legs = await h.legs(call_id)
    assert [(x["kind"], x["outcome"]) for x in legs] == [
        ("caller", "answered"), ("agent", "answered")]
    await h.wait_agent("a1", "available")
    await h.assert_clean()
