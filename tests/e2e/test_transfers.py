"""Blind transfers end to end (issue 17): the move over the API, acd on the
simulator with real Redis and PostgreSQL. Each test asserts the bridge, what the
caller hears (the simulator's moh flag, playbacks), the rows (calls, legs, queue
events) and the agents' states afterwards, including the failures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Api, api_with
from tests.e2e.conftest import e2e_settings

QUEUES = [
    {"name": "sales", "skills": {"sales": 1}, "ring_timeout": 15, "wrapup": 30},
    {"name": "support", "skills": {"support": 1}, "ring_timeout": 15, "wrapup": 30,
     "transfer_priority": 5},
]


@pytest.fixture
async def api(redis_prefix: str, redis_client: Any, pg_dsn: str,
              tmp_path: Path) -> AsyncIterator[Api]:
    async for a in api_with(e2e_settings(redis_prefix, pg_dsn, tmp_path, queues=QUEUES)):
        yield a


def channel(api: Api, channel_id: str) -> dict[str, Any]:
    for ch in api.h.sim.state()["channels"]:
        if ch["id"] == channel_id:
            return dict(ch)
    raise AssertionError(f"no channel {channel_id}")


def bridged_with(api: Api, channel_id: str) -> set[str]:
    """The endpoints in the caller's bridge besides the caller."""
    bridge = channel(api, channel_id)["bridge"]
    return {ch["endpoint"] for ch in api.h.sim.state()["channels"]
            if bridge is not None and ch["bridge"] == bridge and ch["id"] != channel_id}


async def connected_to_a1(api: Api, number: str) -> str:
    """A caller presses 1 for sales; a1 takes it (a2 on break meanwhile)."""
    router = api.h.app.router
    assert router is not None
    await router.agents.set_break("a2", "x")
    ch = api.h.sim.place_call(number, "100", app=api.h.app.settings.ari.app,
                              dtmf=[(1.0, "1")])
    await api.h.wait_agent("a1", "on_call")
    await api.h.wait_for(lambda: len(bridged_with(api, ch)) == 1, "caller and a1 bridged")
    await router.agents.available("a2")
    return ch


async def move(api: Api, to: str, user: str = "alice") -> tuple[int, dict[str, Any]]:
    resp = await api.call("POST", "/api/desk/agents/a1/call/transfer", user=user,
                          body={"to": to})
    return resp.status, await resp.json()


async def transfer_events(api: Api, call_id: str) -> list[dict[str, Any]]:
    rows = await api.h.pg.fetch("SELECT detail FROM queue_events WHERE call_id=$1 AND "
                                "event='transfer' ORDER BY at, event_id", call_id)
    return [json.loads(r["detail"]) if isinstance(r["detail"], str) else dict(r["detail"])
            for r in rows]


async def test_to_an_agent_who_answers(api: Api) -> None:
    h = api.h
    ch = await connected_to_a1(api, "+15550801")
    status, body = await move(api, "agent:a2")
    assert (status, body["state"], body["target"]) == (200, "ringing", "agent:a2")
    # While a2's phone rings the caller hears music, still bridged with a1.
    await h.wait_agent("a2", "ringing")
    assert channel(api, ch)["moh"] and bridged_with(api, ch) == {"PJSIP/agent100"}
    await h.wait_agent("a2", "on_call")
    await h.wait_for(lambda: bridged_with(api, ch) == {"PJSIP/agent101"}, "caller with a2")
    assert not channel(api, ch)["moh"]
    assert await h.agent_state("a1") in ("wrap_up", "available")
    await h.clock.sleep(1.0)
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    events = await h.queue_events(call_id)
    assert events == [("enter", None), ("offer", "a1"), ("connect", "a1"), ("transfer", "a1"),
                      ("complete", "a1"), ("connect", "a2"), ("complete", "a2")], events
    assert (await transfer_events(api, call_id))[0] == {
        "to": "agent:a2", "kind": "agent", "by": "agent:alice", "mode": "blind",
        "via": "desktop", "result": "completed"}
    legs = await h.legs(call_id)
    assert [(x["kind"], x["agent_id"], x["outcome"]) for x in legs] == [
        ("caller", "a2", "answered"), ("agent", "a1", "answered"),
        ("transfer", "a2", "answered")]
    assert json.loads(legs[2]["detail"]) == {"target": "agent:a2", "mode": "blind"}
    call = await h.call(call_id)
    assert (call["agent_id"], call["outcome"], call["end_detail"]) == (
        "a2", "answered", "transfer:agent")
    await h.wait_agent("a1", "available")
    await h.wait_agent("a2", "available")
    await h.assert_clean()


@pytest.mark.parametrize(("behaviour", "outcome", "event"), [
    ("busy", "busy", "busy"), ("noanswer", "noanswer", "no_answer")])
async def test_to_an_agent_who_fails_back_to_the_first_agent(
        api: Api, behaviour: str, outcome: str, event: str) -> None:
    h = api.h
    h.sim.set_endpoint("PJSIP", "agent101", behaviour)
    ch = await connected_to_a1(api, "+15550802")
    status, _ = await move(api, "agent:a2")
    assert status == 200
    await h.wait_for(lambda: h.call_on(ch) is not None and h.live(ch).transfer is None
                     and not channel(api, ch)["moh"], "the transfer to fail", timeout=20)
    # Back with a1: no music, still bridged, a1 still on the call.
    assert not channel(api, ch)["moh"] and bridged_with(api, ch) == {"PJSIP/agent100"}
    assert await h.agent_state("a1") == "on_call"
    assert await h.agent_state("a2") != "on_call"
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    events = await h.queue_events(call_id)
    assert ("transfer", "a1") in events and (event, "a2") in events, events
    assert (await transfer_events(api, call_id))[0]["result"] == f"failed:{outcome}"
    legs = await h.legs(call_id)
    assert [(x["kind"], x["agent_id"], x["outcome"]) for x in legs] == [
        ("caller", "a1", "answered"), ("agent", "a1", "answered"),
        ("transfer", "a2", outcome)]
    assert (await h.call(call_id))["agent_id"] == "a1"
    await h.assert_clean()


async def test_to_an_agent_who_is_not_available_is_refused(api: Api) -> None:
    h = api.h
    ch = await connected_to_a1(api, "+15550803")
    assert h.app.router is not None
    await h.app.router.agents.set_break("a2", "lunch")
    status, body = await move(api, "agent:a2")
    assert (status, body["error_id"]) == (409, "target_unavailable")
    status, body = await move(api, "agent:nobody")
    assert (status, body["error_id"]) == (409, "target_unavailable")
    status, body = await move(api, "fax:1")
    assert (status, body["error_id"]) == (409, "bad_target")
    assert bridged_with(api, ch) == {"PJSIP/agent100"} and not channel(api, ch)["moh"]
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    assert await transfer_events(api, call_id) == []
    await h.assert_clean()


async def test_the_caller_hangs_up_while_the_target_rings(api: Api) -> None:
    h = api.h
    h.sim.set_endpoint("PJSIP", "agent101", "noanswer")
    ch = await connected_to_a1(api, "+15550804")
    assert (await move(api, "agent:a2"))[0] == 200
    await h.wait_agent("a2", "ringing")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    assert (await transfer_events(api, call_id))[0]["result"] == "caller_gone"
    legs = await h.legs(call_id)
    assert [(x["kind"], x["outcome"]) for x in legs][2] == ("transfer", "abandoned")
    await h.wait_agent("a2", "available")  # freed at once, not after the reservation
    assert await h.agent_state("a1") in ("wrap_up", "available")
    await h.assert_clean()


async def test_the_first_agent_leaves_and_the_target_fails_back_to_the_queue(api: Api) -> None:
    h = api.h
    h.sim.set_endpoint("PJSIP", "agent101", "noanswer")
    ch = await connected_to_a1(api, "+15550805")
    assert (await move(api, "agent:a2"))[0] == 200
    await h.wait_agent("a2", "ringing")
    legs = [x for x in h.sim.state()["channels"] if x["endpoint"] == "PJSIP/agent100"]
    h.sim.remote_hangup(legs[0]["id"])  # a1 hangs up: the caller waits on music
    await h.wait_agent("a1", "wrap_up")
    assert channel(api, ch)["moh"]
    # a2 does not answer: the caller is queued again (music) and a1, free again, takes it.
    await h.wait_for(lambda: h.live(ch).phase.value in ("queued", "offering", "connected"),
                     "the caller back in the queue", timeout=20)
    assert channel(api, ch)["moh"] or h.live(ch).phase.value != "queued"
    await h.wait_agent("a1", "on_call", timeout=20)
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    events = await h.queue_events(call_id)
    assert events.count(("connect", "a1")) == 2 and ("enter", None) in events[3:], events
    await h.assert_clean()


async def test_to_a_queue(api: Api) -> None:
    h = api.h
    ch = await connected_to_a1(api, "+15550806")
    status, body = await move(api, "queue:support")
    assert (status, body["state"]) == (200, "queued")
    await h.wait_agent("a3", "on_call")
    await h.wait_for(lambda: bridged_with(api, ch) == {"PJSIP/agent102"}, "caller with a3")
    assert await h.agent_state("a1") in ("wrap_up", "available")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    rows = await h.pg.fetch("SELECT event, queue, agent_id, detail FROM queue_events "
                            "WHERE call_id=$1 ORDER BY at, event_id", call_id)
    assert [(r["event"], r["queue"], r["agent_id"]) for r in rows] == [
        ("enter", "sales", None), ("offer", "sales", "a1"), ("connect", "sales", "a1"),
        ("transfer", "sales", "a1"), ("complete", "sales", "a1"), ("enter", "support", None),
        ("offer", "support", "a3"), ("connect", "support", "a3"),
        ("complete", "support", "a3")]
    assert json.loads(rows[5]["detail"])["priority"] == 5  # raised by the queue's setting
    first_enter = await h.pg.fetchval("SELECT at - (wait_ms * interval '1 ms') FROM "
                                      "queue_events WHERE call_id=$1 AND event='enter' "
                                      "ORDER BY at LIMIT 1", call_id)
    call = await h.call(call_id)
    # transfer_keep_place (default): the caller kept the original enqueue time.
    assert abs((call["enqueued_at"] - first_enter).total_seconds()) < 0.01
    assert (call["queue"], call["agent_id"], call["end_detail"]) == (
        "support", "a3", "transfer:queue")
    await h.assert_clean()


async def test_to_a_number_goes_to_the_dialplan(api: Api) -> None:
    h = api.h
    ch = await connected_to_a1(api, "+15550807")
    status, body = await move(api, "number:05551234")
    assert (status, body["state"]) == (200, "dialplan")
    call_id = await h.finished(ch)
    ch_state = [x for x in h.sim.state()["channels"] if x["id"] == ch]
    assert not ch_state or ch_state[0]["phase"] == "dialplan"
    assert ch_state == [] or ch_state[0]["dialplan"]["context"] == "agents"
    call = await h.call(call_id)
    assert (call["outcome"], call["ended_by"], call["agent_id"]) == ("transferred", "acd", "a1")
    assert call["talk_ms"] is not None
    assert (await transfer_events(api, call_id))[0]["result"] == "dialplan"
    await h.wait_agent("a1", "available")
    await h.assert_clean()


async def test_to_a_flow_runs_it_again(api: Api) -> None:
    h = api.h
    ch = await connected_to_a1(api, "+15550808")
    status, body = await move(api, "flow:e2e_main")
    assert (status, body["state"]) == (200, "flow")
    # The flow plays its greeting; pressing 1 queues the caller for sales again.
    await h.wait_for(lambda: h.live(ch).phase.value == "ivr", "the flow to run")
    assert await h.agent_state("a1") == "wrap_up"
    h.sim.press(ch, "1")
    await h.wait_agent("a2", "on_call", timeout=20)
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    events = await h.queue_events(call_id)
    assert events[3:5] == [("transfer", "a1"), ("complete", "a1")], events
    assert ("connect", "a2") in events
    await h.assert_clean()
