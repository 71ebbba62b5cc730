"""Attended transfers and escalation end to end (issue 17): consult, complete,
cancel, conference and escalate over the API, on the simulator with real Redis and
PostgreSQL; bridges, what the caller hears, rows and agents' states after."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Api, api_with
from tests.e2e.conftest import e2e_settings
from tests.e2e.test_refer import agent_leg
from tests.e2e.test_transfers import QUEUES, bridged_with, channel, connected_to_a1

AGENTS = [
    {"id": "a1", "name": "Alice", "endpoint": "PJSIP/agent100", "skills": {"sales": 5}},
    {"id": "a2", "name": "Bob", "endpoint": "PJSIP/agent101", "skills": {"sales": 3}},
    {"id": "a3", "name": "Carol", "endpoint": "PJSIP/agent102", "skills": {"support": 5}},
    {"id": "s1", "name": "Sam", "endpoint": "PJSIP/agent103", "skills": {"supervisor": 1}},
]


@pytest.fixture
async def api(redis_prefix: str, redis_client: Any, pg_dsn: str,
              tmp_path: Path) -> AsyncIterator[Api]:
    queues = [*QUEUES, {"name": "supervisors", "skills": {"supervisor": 1}, "ring_timeout": 15,
                        "wrapup": 30}]
    async for a in api_with(e2e_settings(redis_prefix, pg_dsn, tmp_path, queues=queues,
                                         agents=AGENTS)):
        yield a


async def move(api: Api, name: str, **body: Any) -> tuple[int, dict[str, Any]]:
    resp = await api.call("POST", f"/api/desk/agents/a1/call/{name}", user="alice", body=body)
    return resp.status, await resp.json()


def bridge_of(api: Api, endpoint: str) -> str | None:
    for ch in api.h.sim.state()["channels"]:
        if ch["endpoint"] == endpoint:
            return str(ch["bridge"]) if ch["bridge"] else None
    return None


async def consulting(api: Api, number: str) -> str:
    """a1 on a call, consulting a2 (answered): the caller alone on music."""
    h = api.h
    ch = await connected_to_a1(api, number)
    status, body = await move(api, "consult", to="agent:a2")
    assert (status, body["state"]) == (200, "ringing"), body
    await h.wait_agent("a2", "on_call")
    await h.wait_for(lambda: bridge_of(api, "PJSIP/agent100") is not None
                     and bridge_of(api, "PJSIP/agent100") == bridge_of(api, "PJSIP/agent101"),
                     "a1 and a2 in the consult bridge")
    assert bridged_with(api, ch) == set() and channel(api, ch)["moh"]
    assert bridge_of(api, "PJSIP/agent100") != channel(api, ch)["bridge"]
    return ch


async def events_of(api: Api, call_id: str) -> list[tuple[str, str | None]]:
    return await api.h.queue_events(call_id)


async def consult_result(api: Api, call_id: str) -> str:
    """The result the call's consult_end event wrote."""
    rows = await api.h.pg.fetch("SELECT detail FROM queue_events WHERE call_id=$1 AND "
                                "event='consult_end'", call_id)
    return str(json.loads(rows[0]["detail"])["result"])


async def test_consult_then_complete(api: Api) -> None:
    h = api.h
    ch = await consulting(api, "+15551101")
    status, body = await move(api, "complete")
    assert (status, body["state"], body["agent_id"]) == (200, "completed", "a2")
    await h.wait_for(lambda: bridged_with(api, ch) == {"PJSIP/agent101"}, "caller with a2")
    assert not channel(api, ch)["moh"]
    await h.wait_agent("a1", "wrap_up")
    assert await h.agent_state("a2") == "on_call"
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    events = await events_of(api, call_id)
    assert events[2:] == [("connect", "a1"), ("consult", "a1"), ("transfer", "a1"),
                          ("consult_end", "a1"), ("complete", "a1"), ("connect", "a2"),
                          ("complete", "a2")], events
    legs = await h.legs(call_id)
    assert [(x["kind"], x["agent_id"], x["outcome"]) for x in legs] == [
        ("caller", "a2", "answered"), ("agent", "a1", "answered"),
        ("transfer", "a2", "answered")]
    assert json.loads(legs[2]["detail"]) == {"target": "agent:a2", "mode": "attended"}
    assert (await h.call(call_id))["agent_id"] == "a2"
    await h.assert_clean()


async def test_consult_then_cancel(api: Api) -> None:
    h = api.h
    ch = await consulting(api, "+15551102")
    status, body = await move(api, "cancel")
    assert (status, body["state"]) == (200, "cancelled")
    await h.wait_for(lambda: bridged_with(api, ch) == {"PJSIP/agent100"}, "caller with a1")
    assert not channel(api, ch)["moh"]
    await h.wait_agent("a2", "wrap_up")
    assert await h.agent_state("a1") == "on_call"
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    assert await consult_result(api, call_id) == "cancelled"
    assert (await h.call(call_id))["agent_id"] == "a1"
    await h.assert_clean()


async def test_consult_then_conference_then_the_first_agent_leaves(api: Api) -> None:
    h = api.h
    ch = await consulting(api, "+15551103")
    status, _ = await move(api, "conference")
    assert status == 200
    await h.wait_for(lambda: bridged_with(api, ch) == {"PJSIP/agent100", "PJSIP/agent101"},
                     "all three in the call's bridge")
    assert not channel(api, ch)["moh"]
    h.sim.remote_hangup(agent_leg(api))
    await h.wait_agent("a1", "wrap_up")
    await h.wait_for(lambda: bridged_with(api, ch) == {"PJSIP/agent101"}, "caller with a2")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    assert ("conference", "a1") in await events_of(api, call_id)
    assert (await h.call(call_id))["agent_id"] == "a2"
    await h.assert_clean()


async def test_the_target_hangs_up_during_the_consult(api: Api) -> None:
    h = api.h
    ch = await consulting(api, "+15551104")
    h.sim.remote_hangup(agent_leg(api, "PJSIP/agent101"))
    await h.wait_for(lambda: bridged_with(api, ch) == {"PJSIP/agent100"}, "caller with a1")
    assert not channel(api, ch)["moh"]
    await h.wait_agent("a2", "wrap_up")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    assert await consult_result(api, call_id) == "target_gone"
    await h.assert_clean()


async def test_the_caller_hangs_up_during_the_consult(api: Api) -> None:
    h = api.h
    ch = await consulting(api, "+15551105")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    await h.wait_agent("a1", "wrap_up")
    await h.wait_agent("a2", "wrap_up")
    assert await consult_result(api, call_id) == "caller_gone"
    legs = await h.legs(call_id)
    assert [x["kind"] for x in legs] == ["caller", "agent", "transfer"]
    assert all(x["ended_at"] is not None for x in legs)
    await h.assert_clean()


async def test_a_consult_whose_target_does_not_answer(api: Api) -> None:
    h = api.h
    h.sim.set_endpoint("PJSIP", "agent101", "noanswer")
    ch = await connected_to_a1(api, "+15551106")
    assert (await move(api, "consult", to="agent:a2"))[0] == 200
    await h.wait_agent("a2", "ringing")
    assert channel(api, ch)["moh"] and bridged_with(api, ch) == {"PJSIP/agent100"}
    await h.wait_for(lambda: h.live(ch).transfer is None and not channel(api, ch)["moh"],
                     "the consult to fail", timeout=20)
    assert bridged_with(api, ch) == {"PJSIP/agent100"}
    assert await h.agent_state("a1") == "on_call"
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    await h.assert_clean()


async def test_escalate_to_the_first_available_supervisor(api: Api) -> None:
    h = api.h
    ch = await connected_to_a1(api, "+15551107")
    status, body = await move(api, "escalate", reason="medical emergency")
    assert (status, body["target"]) == (200, "queue:supervisors"), body
    await h.wait_agent("s1", "on_call")
    await h.wait_for(lambda: bridge_of(api, "PJSIP/agent100") == bridge_of(api, "PJSIP/agent103")
                     and bridge_of(api, "PJSIP/agent100") is not None, "a1 with the supervisor")
    assert channel(api, ch)["moh"]
    assert (await move(api, "complete"))[0] == 200
    await h.wait_for(lambda: bridged_with(api, ch) == {"PJSIP/agent103"}, "caller with s1")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    rows = await h.pg.fetch("SELECT agent_id, detail FROM queue_events WHERE call_id=$1 AND "
                            "event='escalate'", call_id)
    assert rows[0]["agent_id"] == "a1"
    assert json.loads(rows[0]["detail"])["reason"] == "medical emergency"
    assert (await h.call(call_id))["agent_id"] == "s1"
    await h.assert_clean()


async def test_escalate_with_no_supervisor_available_is_refused(api: Api) -> None:
    h = api.h
    assert h.app.router is not None
    await h.app.router.agents.set_break("s1", "x")
    ch = await connected_to_a1(api, "+15551108")
    status, body = await move(api, "escalate", reason="abuse")
    assert (status, body["error_id"]) == (409, "target_unavailable")
    assert bridged_with(api, ch) == {"PJSIP/agent100"} and not channel(api, ch)["moh"]
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    await h.assert_clean()
