"""The desktop's API: screen pop, hang-up, wrap-up with a disposition, more time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Api, api_over
from tests.e2e.conftest import e2e_settings, running_harness

CALLER = "+15550999"
QUEUES = [{"name": "sales", "skills": {"sales": 1}, "ring_timeout": 15, "wrapup": 600},
          {"name": "support", "skills": {"support": 1}, "ring_timeout": 15, "wrapup": 600}]


@pytest.fixture
async def desk(redis_prefix: str, redis_client: Any, pg_dsn: str,
               tmp_path: Path) -> AsyncIterator[Api]:
    settings = e2e_settings(redis_prefix, pg_dsn, tmp_path, queues=QUEUES,
                            desk={"wrapup_extension": 30, "wrapup_extension_max": 60})
    async with running_harness(settings) as h:
        async for a in api_over(h):
            yield a


async def on_call(api: Api, caller: str = CALLER) -> str:
    """A caller presses 1 for sales; a1 takes it (a2 is on break). The channel id."""
    assert (await api.call("POST", "/api/agents/a2/break", user="super",
                           body={"reason": "x"})).status == 200
    channel = api.h.sim.place_call(caller, "100", app=api.h.app.settings.ari.app,
                                   dtmf=[(6.0, "1")])
    await api.h.wait_agent("a1", "on_call")
    return channel


async def test_pop_hangup_wrapup_and_more_time(desk: Api) -> None:
    api = desk
    # One database serves the session: count a1's calls from here.
    before = await (await api.call("GET", "/api/desk/agents/a1/today", user="alice")).json()
    resp = await api.call("GET", "/api/desk/agents/a1/call", user="alice")
    assert (resp.status, (await resp.json())["error_id"]) == (404, "not_found")
    channel = await on_call(api)
    pop = await (await api.call("GET", "/api/desk/agents/a1/call", user="alice")).json()
    assert (pop["caller"], pop["queue"], pop["state"]) == (CALLER, "sales", "on_call")
    assert pop["path"][-1] == "sales" and pop["history"] == []
    assert (await api.call("GET", "/api/desk/agents/a1/call", user="bob")).status == 403
    resp = await api.call("POST", "/api/desk/agents/a1/wrapup/extend", user="alice")
    assert resp.status == 409  # not in wrap-up yet

    resp = await api.call("POST", "/api/desk/agents/a1/hangup", user="alice")
    assert resp.status == 200
    call_id = await api.h.finished(channel)
    assert call_id == pop["call_id"]
    await api.h.wait_agent("a1", "wrap_up")
    # More time: 30 s at a time, 60 s in all past the queue's wrap-up.
    for _ in range(2):
        resp = await api.call("POST", "/api/desk/agents/a1/wrapup/extend", user="alice")
        assert resp.status == 200, await resp.text()
    resp = await api.call("POST", "/api/desk/agents/a1/wrapup/extend", user="alice")
    assert (resp.status, (await resp.json())["details"]["code"]) == (409, "wrapup_limit")

    for body, field in (({"call_id": call_id, "code": "nonsense"}, "code"),
                        ({"call_id": call_id, "code": "sale", "notes": "x" * 4001}, "notes"),
                        ({"code": "sale"}, "call_id")):
        resp = await api.call("POST", "/api/desk/agents/a1/wrapup", user="alice", body=body)
        assert (resp.status, (await resp.json())["details"]["field"]) == (400, field)
    assert await api.h.agent_state("a1") == "wrap_up"
    resp = await api.call("POST", "/api/desk/agents/a1/wrapup", user="alice",
                          body={"call_id": call_id, "code": "sale", "notes": "ok"})
    assert resp.status == 200 and (await resp.json())["agent"]["state"] == "available"
    row = await api.h.pg.fetchrow("SELECT code, notes, queue FROM dispositions "
                                  "WHERE call_id=$1 AND agent_id='a1'", call_id)
    assert tuple(row) == ("sale", "ok", "sales")
    today = await (await api.call("GET", "/api/desk/agents/a1/today", user="alice")).json()
    assert today["calls"] == before["calls"] + 1 and today["aht_s"] is not None
