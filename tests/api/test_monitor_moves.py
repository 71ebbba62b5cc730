"""Supervisor monitoring end to end (issue 17): a supervisor listens, whispers and
barges on a live call through the API, on a running acd with the simulator, real
Redis and PostgreSQL. Asserted each time: the bridges' members, who hears whom (the
simulator's model, acd/sim/hearing.py), the rows (legs of kind snoop / supervisor,
queue events monitor / monitor_end), the agent's state and nothing left behind."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Api, api_with
from tests.api.test_desk_api import QUEUES
from tests.e2e.conftest import e2e_settings

CALLER = "+15550888"
SUPER_PHONE = "PJSIP/super1"


@pytest.fixture
async def desk(redis_prefix: str, redis_client: Any, pg_dsn: str,
               tmp_path: Path) -> AsyncIterator[Api]:
    async for a in api_with(e2e_settings(redis_prefix, pg_dsn, tmp_path, queues=QUEUES)):
        a.h.sim.set_endpoint("PJSIP", "super1", "answer", answer_after=0.5)
        yield a


class Scene:
    """One connected call (caller, agent a1) and what the simulator says of it."""

    def __init__(self, api: Api, caller: str, call_id: str) -> None:
        self.api = api
        self.caller = caller
        self.call_id = call_id

    def state(self) -> dict[str, Any]:
        return self.api.h.sim.state()

    def channel(self, endpoint: str) -> dict[str, Any] | None:
        for ch in self.state()["channels"]:
            if ch["endpoint"] == endpoint and ch["phase"] != "gone":
                return ch
        return None

    @property
    def agent(self) -> str:
        ch = self.channel("PJSIP/agent100")
        assert ch is not None
        return str(ch["id"])

    @property
    def supervisor(self) -> str | None:
        ch = self.channel(SUPER_PHONE)
        return None if ch is None else str(ch["id"])

    def snoops(self) -> list[dict[str, Any]]:
        return [c for c in self.state()["channels"] if c["name"].startswith("Snoop/")]

    def hears(self, channel_id: str) -> set[str]:
        for ch in self.state()["channels"]:
            if ch["id"] == channel_id:
                return set(ch["hears"])
        raise AssertionError(f"no channel {channel_id}")

    def bridges(self) -> list[set[str]]:
        return [set(b["channels"]) for b in self.state()["bridges"] if b["channels"]]

    async def move(self, move: str, user: str = "super", **args: Any) -> tuple[int, Any]:
        resp = await self.api.call("POST", f"/api/calls/{self.call_id}/moves/{move}",
                                   user=user, body=args)
        return resp.status, await resp.json()

    async def monitored(self) -> Any:
        resp = await self.api.call("GET", "/api/desk/agents/a1/call/moves", user="alice")
        return (await resp.json())["monitored"]

    def talking(self) -> bool:
        """Caller and agent bridged, each hearing the other (and nobody else)."""
        return self.hears(self.caller) == {self.agent} and self.hears(self.agent) == {
            self.caller} and {self.caller, self.agent} in self.bridges()


async def connect(api: Api) -> Scene:
    assert (await api.call("POST", "/api/agents/a2/break", user="super",
                           body={"reason": "x"})).status == 200
    caller = api.h.sim.place_call(CALLER, "100", app=api.h.app.settings.ari.app,
                                  dtmf=[(6.0, "1")])
    await api.h.wait_agent("a1", "on_call")
    body = await (await api.call("GET", "/api/desk/agents/a1/call/moves",
                                 user="alice")).json()
    scene = Scene(api, caller, body["call_id"])
    await api.h.wait_for(scene.talking, "caller and agent to talk")
    return scene


async def test_listen_whisper_barge_and_stop_without_dropping_the_supervisor(
        desk: Api) -> None:
    api = desk
    s = await connect(api)
    assert await s.monitored() is None

    status, body = await s.move("listen", endpoint=SUPER_PHONE)
    assert status == 200, body
    assert (body["mode"], body["supervisor"]) == ("listen", "super")
    sup = s.supervisor
    assert sup is not None
    [snoop] = s.snoops()
    assert snoop["name"].startswith(f"Snoop/{s.agent}-")
    # The call's bridge is untouched; the monitor bridge holds the supervisor and the snoop.
    assert {s.caller, s.agent} in s.bridges() and {sup, snoop["id"]} in s.bridges()
    assert s.hears(sup) == {s.caller, s.agent}
    assert s.hears(s.caller) == {s.agent} and s.hears(s.agent) == {s.caller}
    assert await s.monitored() == "listen"

    status, body = await s.move("whisper")
    assert status == 200 and body["mode"] == "whisper", body
    assert s.supervisor == sup  # the same leg: the supervisor's phone never dropped
    [snoop2] = s.snoops()
    assert snoop2["id"] != snoop["id"]
    assert s.hears(s.agent) == {s.caller, sup}  # coached
    assert s.hears(s.caller) == {s.agent}  # the caller hears no supervisor
    assert s.hears(sup) == {s.caller, s.agent}
    assert await s.monitored() == "whisper"

    status, body = await s.move("barge")
    assert status == 200 and body["mode"] == "barge", body
    assert s.supervisor == sup and not s.snoops()
    assert {s.caller, s.agent, sup} in s.bridges()
    assert s.hears(s.caller) == {s.agent, sup} and s.hears(s.agent) == {s.caller, sup}
    assert s.hears(sup) == {s.caller, s.agent}

    status, body = await s.move("listen")
    assert status == 200 and body["mode"] == "listen", body
    assert s.supervisor == sup and len(s.snoops()) == 1
    assert s.talking() and s.hears(sup) == {s.caller, s.agent}
    status, body = await s.move("listen")  # the same mode: nothing changes
    assert status == 200 and body["changed"] is False

    status, body = await s.move("monitor_stop")
    assert status == 200, body
    await api.h.wait_for(lambda: s.supervisor is None and not s.snoops(),
                         "the supervisor's leg and the snoop to go")
    assert s.talking() and len(s.bridges()) == 1
    assert await s.monitored() is None

    await api.call("POST", "/api/desk/agents/a1/hangup", user="alice")
    await api.h.finished(s.caller)
    await api.h.wait_agent("a1", "wrap_up")
    events = await api.h.pg.fetch(
        "SELECT event, agent_id, detail FROM queue_events WHERE call_id=$1 AND event "
        "LIKE 'monitor%' ORDER BY at, event_id", s.call_id)
    got = [(r["event"], json.loads(r["detail"])["mode"]) for r in events]
    assert got == [("monitor", "listen"), ("monitor", "whisper"), ("monitor", "barge"),
                   ("monitor", "listen"), ("monitor_end", "listen")]
    assert all(r["agent_id"] == "a1" for r in events)
    assert json.loads(events[-1]["detail"])["reason"] == "stopped"
    legs = await api.h.pg.fetch("SELECT kind, channel_id, endpoint, answered_at, outcome, "
                                "detail FROM legs WHERE call_id=$1 AND kind IN "
                                "('snoop', 'supervisor') ORDER BY started_at", s.call_id)
    snoops = [json.loads(r["detail"])["mode"] for r in legs if r["kind"] == "snoop"]
    assert snoops == ["listen", "whisper", "listen"]
    [sv] = [r for r in legs if r["kind"] == "supervisor"]
    assert (sv["endpoint"], sv["outcome"]) == (SUPER_PHONE, "answered")
    assert json.loads(sv["detail"]) == {"modes": ["listen", "whisper", "barge"],
                                        "supervisor": "super"}
    await api.h.assert_clean()


async def test_the_call_ending_while_snooped_takes_the_monitoring_with_it(
        desk: Api) -> None:
    api = desk
    s = await connect(api)
    status, body = await s.move("whisper", endpoint=SUPER_PHONE)
    assert status == 200, body
    api.h.sim.remote_hangup(s.caller)  # the caller hangs up
    await api.h.finished(s.caller)
    await api.h.assert_clean()  # no channel (snoop, supervisor) and no bridge left
    await api.h.wait_agent("a1", "wrap_up")
    rows = await api.h.pg.fetch("SELECT kind, outcome FROM legs WHERE call_id=$1 "
                                "ORDER BY kind", s.call_id)
    assert sorted((r["kind"], r["outcome"]) for r in rows) == [
        ("agent", "answered"), ("caller", "answered"), ("snoop", "done"),
        ("supervisor", "answered")]
    end = await api.h.pg.fetchrow("SELECT detail FROM queue_events WHERE call_id=$1 AND "
                                  "event='monitor_end'", s.call_id)
    assert end is not None
    assert json.loads(end["detail"])["reason"] == "call_ended"


async def test_the_agent_hanging_up_while_barged_ends_everything(desk: Api) -> None:
    api = desk
    s = await connect(api)
    status, body = await s.move("barge", endpoint=SUPER_PHONE)
    assert status == 200, body
    assert s.hears(s.caller) == {s.agent, s.supervisor}
    api.h.sim.remote_hangup(s.agent)
    await api.h.finished(s.caller)
    await api.h.assert_clean()
    await api.h.wait_agent("a1", "wrap_up")
    n = await api.h.pg.fetchval("SELECT count(*) FROM calls WHERE call_id=$1", s.call_id)
    assert n == 1


async def test_the_supervisor_hanging_up_leaves_the_call_untouched(desk: Api) -> None:
    api = desk
    s = await connect(api)
    status, body = await s.move("listen", endpoint=SUPER_PHONE)
    assert status == 200, body
    sup = s.supervisor
    assert sup is not None
    api.h.sim.remote_hangup(sup)
    await api.h.wait_for(lambda: s.supervisor is None and not s.snoops(),
                         "the snoop to go with the supervisor")
    assert s.talking() and len(s.bridges()) == 1
    assert await s.monitored() is None
    assert await api.h.agent_state("a1") == "on_call"
    # Monitoring again works: a new supervisor leg.
    status, body = await s.move("listen", endpoint=SUPER_PHONE)
    assert status == 200, body
    assert s.supervisor not in (None, sup)
    await api.call("POST", "/api/desk/agents/a1/hangup", user="alice")
    await api.h.finished(s.caller)
    await api.h.assert_clean()
    ends = await api.h.pg.fetch("SELECT detail FROM queue_events WHERE call_id=$1 AND "
                                "event='monitor_end' ORDER BY at, event_id", s.call_id)
    assert [json.loads(r["detail"])["reason"] for r in ends] == ["supervisor_hangup",
                                                                 "call_ended"]
    n = await api.h.pg.fetchval("SELECT count(*) FROM legs WHERE call_id=$1 AND "
                                "kind='supervisor'", s.call_id)
    assert n == 2


@pytest.mark.parametrize(("behaviour", "error_id"), [
    ("busy", "supervisor_busy"), ("noanswer", "supervisor_no_answer"),
    ("unreachable", "supervisor_unreachable")])
async def test_a_supervisor_phone_that_does_not_answer_leaves_the_call_untouched(
        desk: Api, behaviour: str, error_id: str) -> None:
    api = desk
    api.h.sim.set_endpoint("PJSIP", "super1", behaviour)
    s = await connect(api)
    status, body = await s.move("listen", endpoint=SUPER_PHONE)
    assert (status, body["error_id"]) == (409, error_id), body
    await api.h.wait_for(lambda: s.supervisor is None, "the supervisor's leg to go")
    assert not s.snoops() and s.talking() and len(s.bridges()) == 1
    assert await api.h.agent_state("a1") == "on_call"
    assert await s.monitored() is None
    await api.call("POST", "/api/desk/agents/a1/hangup", user="alice")
    await api.h.finished(s.caller)
    await api.h.assert_clean()
    rows = await api.h.pg.fetch("SELECT outcome, answered_at FROM legs WHERE call_id=$1 "
                                "AND kind='supervisor'", s.call_id)
    assert len(rows) == 1 and rows[0]["answered_at"] is None
    assert rows[0]["outcome"] == {"busy": "busy", "noanswer": "no_answer",
                                  "unreachable": "failed"}[behaviour]
    n = await api.h.pg.fetchval("SELECT count(*) FROM queue_events WHERE call_id=$1 AND "
                                "event LIKE 'monitor%'", s.call_id)
    assert n == 0


async def test_only_supervisors_monitor_and_only_their_own_phone(desk: Api) -> None:
    api = desk
    s = await connect(api)
    status, _ = await s.move("listen", user="alice", endpoint=SUPER_PHONE)
    assert status == 403  # the route: supervisors and admins only
    resp = await api.call("POST", "/api/desk/agents/a1/call/listen", user="alice",
                          body={"endpoint": SUPER_PHONE})
    assert (resp.status, (await resp.json())["error_id"]) == (409, "forbidden")
    for bad in ("PJSIP/super1@caller-trunk", "Local/100@agents", "PJSIP/a&PJSIP/b", ""):
        status, body = await s.move("listen", endpoint=bad)
        assert (status, body["error_id"]) == (409, "bad_endpoint"), bad
    status, body = await s.move("monitor_stop")
    assert (status, body["error_id"]) == (409, "not_monitored")
    assert s.supervisor is None and s.talking()
    # Audited, refusals too (their status: see the report, the audit notes 500 for
    # every refusal the API turns into a 4xx).
    rows = await api.h.pg.fetch("SELECT who, details FROM audit WHERE what LIKE "
                                "'%moves%' ORDER BY id")
    assert any(r["who"] == "super" and s.call_id in r["details"]
               and '"move": "listen"' in r["details"] for r in rows), rows
    await api.call("POST", "/api/desk/agents/a1/hangup", user="alice")
    await api.h.finished(s.caller)
    await api.h.assert_clean()
