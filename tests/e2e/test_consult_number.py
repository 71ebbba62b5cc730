"""A consult to an outside number end to end (issue 17): a1 consults
`number:0555...`, acd rings a Local channel into the dialplan's transfer context
(the simulator's ;2 half dials the carrier trunk, as config/asterisk/extensions.conf
[agents] does), then completes, cancels, or the number does not answer, or the
caller hangs up meanwhile; on the simulator with real Redis and PostgreSQL. Each
asserts the bridges, the caller's music, the rows and the agents' states."""

from __future__ import annotations

import json
from typing import Any

from tests.api.conftest import Api
from tests.e2e.test_consult import api, bridge_of, move
from tests.e2e.test_transfers import bridged_with, channel, connected_to_a1

__all__ = ["api"]  # the fixture
LOCAL = "Local/{number}@agents/n"


def results(events: list[Any], event: str) -> list[str]:
    return [json.loads(x["detail"])["result"] for x in events if x["event"] == event]


def outside(api: Api, number: str) -> dict[str, Any] | None:
    for ch in api.h.sim.state()["channels"]:
        if ch["endpoint"] == LOCAL.format(number=number):
            return dict(ch)
    return None


async def consulting(api: Api, caller: str, number: str) -> str:
    """a1 on a call, consulting `number` (answered): the caller alone on music."""
    h = api.h
    ch = await connected_to_a1(api, caller)
    status, body = await move(api, "consult", to=f"number:{number}")
    assert (status, body["state"], body["target"]) == (200, "ringing", f"number:{number}"), body
    endpoint = LOCAL.format(number=number)
    await h.wait_for(lambda: bridge_of(api, "PJSIP/agent100") is not None
                     and bridge_of(api, "PJSIP/agent100") == bridge_of(api, endpoint),
                     "a1 and the number in the consult bridge")
    assert bridged_with(api, ch) == set() and channel(api, ch)["moh"]
    assert await h.agent_state("a1") == "on_call"
    return ch


async def rows_of(api: Api, call_id: str) -> tuple[list[Any], list[Any]]:
    """The call's queue events (in order) and legs."""
    h = api.h
    events = await h.pg.fetch("SELECT event, agent_id, detail FROM queue_events "
                              "WHERE call_id=$1 ORDER BY at, event_id", call_id)
    return list(events), list(await h.legs(call_id))


async def test_consult_a_number_then_complete(api: Api) -> None:
    h = api.h
    ch = await consulting(api, "+15551201", "05550001")
    status, body = await move(api, "complete")
    assert (status, body["state"], body["agent_id"]) == (200, "completed", None), body
    await h.wait_for(lambda: bridged_with(api, ch) == {LOCAL.format(number="05550001")},
                     "the caller with the outside party")
    assert not channel(api, ch)["moh"]
    await h.wait_agent("a1", "wrap_up")
    # The outside party hangs up: the call ends, written once.
    far = outside(api, "05550001")
    assert far is not None
    h.sim.remote_hangup(far["id"])
    call_id = await h.finished(ch)
    events, legs = await rows_of(api, call_id)
    assert [(x["event"], x["agent_id"]) for x in events][2:] == [
        ("connect", "a1"), ("consult", "a1"), ("transfer", "a1"), ("consult_end", "a1"),
        ("complete", "a1"), ("connect", None)]
    consult = json.loads(events[3]["detail"])
    assert (consult["to"], consult["target_agent"]) == ("number:05550001", None)
    assert [(x["kind"], x["agent_id"], x["outcome"]) for x in legs] == [
        ("caller", "a1", "answered"), ("agent", "a1", "answered"),
        ("transfer", None, "answered")]
    assert json.loads(legs[2]["detail"]) == {"target": "number:05550001", "mode": "attended"}
    call = await h.call(call_id)
    assert (call["outcome"], call["agent_id"]) == ("answered", "a1")
    assert await h.agent_state("a1") == "wrap_up"
    await h.assert_clean()


async def test_consult_a_number_then_cancel(api: Api) -> None:
    h = api.h
    ch = await consulting(api, "+15551202", "05550002")
    status, body = await move(api, "cancel")
    assert (status, body["state"]) == (200, "cancelled")
    await h.wait_for(lambda: bridged_with(api, ch) == {"PJSIP/agent100"}, "caller with a1")
    await h.wait_for(lambda: outside(api, "05550002") is None, "the number hung up")
    assert not channel(api, ch)["moh"]
    assert await h.agent_state("a1") == "on_call"
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    events, legs = await rows_of(api, call_id)
    assert results(events, "consult_end") == ["cancelled"]
    assert [x["event"] for x in events].count("complete") == 1  # a1's only
    assert [(x["kind"], x["agent_id"]) for x in legs] == [
        ("caller", "a1"), ("agent", "a1"), ("transfer", None)]
    assert (await h.call(call_id))["agent_id"] == "a1"
    await h.wait_agent("a1", "wrap_up")
    await h.assert_clean()


async def test_a_number_that_does_not_answer(api: Api) -> None:
    h = api.h
    h.sim.set_endpoint("PJSIP", "05550003@caller-trunk", "noanswer")
    ch = await connected_to_a1(api, "+15551203")
    assert (await move(api, "consult", to="number:05550003"))[0] == 200
    await h.wait_for(lambda: (outside(api, "05550003") or {}).get("state") == "Ringing",
                     "the number to ring")
    assert channel(api, ch)["moh"] and bridged_with(api, ch) == {"PJSIP/agent100"}
    await h.wait_for(lambda: h.live(ch).transfer is None and not channel(api, ch)["moh"],
                     "the consult to fail", timeout=30)
    assert bridged_with(api, ch) == {"PJSIP/agent100"}
    assert await h.agent_state("a1") == "on_call"
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    events, legs = await rows_of(api, call_id)
    assert results(events, "transfer") == ["failed:noanswer"]
    assert "no_answer" not in [x["event"] for x in events]  # no agent missed it
    assert [(x["kind"], x["agent_id"], x["outcome"]) for x in legs][2] == (
        "transfer", None, "noanswer")
    await h.assert_clean()


async def test_the_caller_hangs_up_during_a_consult_to_a_number(api: Api) -> None:
    h = api.h
    ch = await consulting(api, "+15551204", "05550004")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    await h.wait_agent("a1", "wrap_up")
    events, legs = await rows_of(api, call_id)
    assert results(events, "consult_end") == ["caller_gone"]
    assert [(x["kind"], x["agent_id"]) for x in legs] == [
        ("caller", "a1"), ("agent", "a1"), ("transfer", None)]
    assert all(x["ended_at"] is not None for x in legs)
    assert (await h.call(call_id))["agent_id"] == "a1"
    await h.assert_clean()
