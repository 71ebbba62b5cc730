"""Moves asked of a call over the API (acd.api.control -> acd.calls.control -> the
machine's acd.calls.phases.control), on a running acd with the simulator, real Redis
and PostgreSQL: who may ask, what a call answers in each state, and a move asked on
another node reaching the owner through Redis."""

from __future__ import annotations

from types import SimpleNamespace

from acd.calls.control import CallControl
from tests.api.conftest import Api
from tests.api.test_desk_api import desk, on_call

__all__ = ["desk"]  # the desk tests' acd (a fixture)

CALLER = "+15550777"  # a number of its own: the desk tests expect no history for theirs


async def connect(api: Api) -> str:
    return await on_call(api, CALLER)


async def test_moves_of_a_call_by_its_agent_and_a_supervisor(desk: Api) -> None:
    api = desk
    resp = await api.call("GET", "/api/desk/agents/a1/call/moves", user="alice")
    assert (resp.status, (await resp.json())["error_id"]) == (404, "no_call")

    channel = await connect(api)
    resp = await api.call("GET", "/api/desk/agents/a1/call/moves", user="alice")
    body = await resp.json()
    assert resp.status == 200, body
    assert (body["phase"], body["agent_id"], body["queue"]) == ("connected", "a1", "sales")
    assert "status" in body["moves"].split(",")
    call_id = body["call_id"]

    # Another agent may not act on a1's call; a supervisor may act on any call.
    assert (await api.call("GET", "/api/desk/agents/a1/call/moves", user="bob")).status == 403
    assert (await api.call("POST", f"/api/calls/{call_id}/moves/status",
                           user="alice")).status == 403
    resp = await api.call("POST", f"/api/calls/{call_id}/moves/status", user="super")
    assert resp.status == 200 and (await resp.json())["phase"] == "connected"

    # Unknown moves and bad arguments are refused before they reach the call.
    resp = await api.call("POST", "/api/desk/agents/a1/call/fly", user="alice")
    assert (resp.status, (await resp.json())["error_id"]) == (404, "unknown_move")
    resp = await api.call("POST", "/api/desk/agents/a1/call/status", user="alice",
                          body={"to": ["a", "b"]})
    assert (resp.status, (await resp.json())["details"]["field"]) == (400, "to")
    resp = await api.call("POST", "/api/desk/agents/a1/call/status", user="alice",
                          body={f"k{i}": i for i in range(17)})
    assert resp.status == 400
    resp = await api.call("POST", "/api/calls/nosuchcall/moves/status", user="super")
    assert (resp.status, (await resp.json())["error_id"]) == (404, "no_call")

    # Every move is audited.
    rows = await api.h.pg.fetch("SELECT who, what, status, details FROM audit "
                                "WHERE what LIKE '%moves%' ORDER BY id")
    assert any(r["who"] == "super" and r["status"] == 200 and call_id in r["details"]
               and "status" in r["details"] for r in rows), rows
    # A refusal is audited with the status the client got, not as a failure of acd's.
    rows = await api.h.pg.fetch("SELECT what, status FROM audit WHERE who='alice' "
                                "AND what LIKE '%/call/{move}' ORDER BY id")
    assert sorted({r["status"] for r in rows}) == [400, 404], rows

    await api.call("POST", "/api/desk/agents/a1/hangup", user="alice")
    await api.h.finished(channel)
    resp = await api.call("POST", f"/api/calls/{call_id}/moves/status", user="super")
    assert (resp.status, (await resp.json())["error_id"]) == (404, "no_call")


async def test_a_move_asked_on_another_node_is_answered_by_the_owner(desk: Api) -> None:
    api = desk
    channel = await connect(api)
    control = api.h.app.control
    assert control is not None and api.h.app.router is not None
    call_id = (await (await api.call("GET", "/api/desk/agents/a1/call/moves",
                                     user="alice")).json())["call_id"]
    # A second node on the same Redis that holds no call of its own.
    empty = SimpleNamespace(find=lambda _id: None, calls={})
    other = CallControl(empty, control.redis, control.keys, "node-elsewhere")  # type: ignore[arg-type]
    reply = await other.ask(call_id, "status", {}, by="supervisor:super")
    assert reply.ok, reply
    assert (reply.data["phase"], reply.data["agent_id"]) == ("connected", "a1")
    reply = await other.ask(call_id, "fly", {}, by="supervisor:super")
    assert (reply.ok, reply.error_id) == (False, "unknown_move")
    reply = await other.ask("nosuchcall", "status", {}, by="supervisor:super")
    assert (reply.ok, reply.error_id) == (False, "no_call")
    # The owner's list is empty again, and no answer is left behind.
    assert await control.redis.llen(control.keys.control(control.node_id)) == 0
    await api.call("POST", "/api/desk/agents/a1/hangup", user="alice")
    await api.h.finished(channel)
