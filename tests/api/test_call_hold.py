"""Hold and unhold end to end (acd.calls.phases.hold): over the API from the desktop
and by a supervisor, from the agent's phone (the simulator's ChannelHold /
ChannelUnhold), mixed, Asterisk failing the music, and the call ending while held;
on a running acd with the simulator, real Redis and PostgreSQL. What each party
hears is the simulator's word (`hears` in /sim/state): the held caller music, the
agent nothing of the caller; the rows say how long the caller was held."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from acd.ari.errors import AriError
from acd.reports import kpi
from tests.api.conftest import Api, api_with
from tests.api.test_desk_api import QUEUES
from tests.e2e.conftest import e2e_settings

CALLER = "+15550888"
HOLD = "/api/desk/agents/a1/call/hold"
UNHOLD = "/api/desk/agents/a1/call/unhold"
MOVES = "/api/desk/agents/a1/call/moves"


@pytest.fixture
async def desk(redis_prefix: str, redis_client: Any, pg_dsn: str,
               tmp_path: Path) -> AsyncIterator[Api]:
    async for a in api_with(e2e_settings(redis_prefix, pg_dsn, tmp_path, queues=QUEUES)):
        yield a


async def connect(api: Api) -> tuple[str, str]:
    """A caller talking to a1; (caller channel, a1's leg)."""
    assert (await api.call("POST", "/api/agents/a2/break", user="super",
                           body={"reason": "x"})).status == 200
    channel = api.h.sim.place_call(CALLER, "100", app=api.h.app.settings.ari.app,
                                   dtmf=[(6.0, "1")])
    await api.h.wait_agent("a1", "on_call")
    leg = api.h.live(channel).connected
    assert leg is not None
    return channel, leg


def chan(api: Api, channel_id: str) -> dict[str, Any]:
    [c] = [c for c in api.h.sim.state()["channels"] if c["id"] == channel_id]
    return c


def talking(api: Api, caller: str, leg: str) -> bool:
    """Both in one bridge, each hearing the other, no music, nobody muted."""
    a, b = chan(api, caller), chan(api, leg)
    return (a["bridge"] is not None and a["bridge"] == b["bridge"]
            and a["hears"] == [leg] and b["hears"] == [caller]
            and a["muted"] == b["muted"] == [])


def held(api: Api, caller: str, leg: str) -> bool:
    """The caller hears music, still in the call's bridge with the agent's leg (up),
    and the agent hears nothing of the caller."""
    a, b = chan(api, caller), chan(api, leg)
    return (a["bridge"] is not None and a["bridge"] == b["bridge"] and b["state"] == "Up"
            and a["hears"] == ["moh"] and b["hears"] == [])


async def move(api: Api, path: str, status: int, user: str = "alice") -> dict[str, Any]:
    resp = await api.call("GET" if path == MOVES else "POST", path, user=user)
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    return body


async def hold_events(api: Api, call_id: str) -> list[tuple[str, str | None, str]]:
    rows = await api.h.pg.fetch(
        "SELECT event, agent_id, detail->>'by' AS by FROM queue_events "
        "WHERE call_id=$1 AND event IN ('hold', 'unhold') ORDER BY at, event_id", call_id)
    return [(r["event"], r["agent_id"], r["by"]) for r in rows]


async def test_hold_and_unhold_from_the_desktop(desk: Api) -> None:
    api, h = desk, desk.h
    caller, leg = await connect(api)
    assert talking(api, caller, leg)
    t0 = h.clock.ms()
    body = await move(api, HOLD, 200)
    t1 = h.clock.ms()
    assert body["held"] is True
    assert held(api, caller, leg)
    assert chan(api, caller)["muted"] == ["in"]
    status = await move(api, MOVES, 200)
    assert (status["held"], status["held_by"]) == (True, "desktop")
    moves = set(status["moves"].split(","))
    assert "unhold" in moves and not {"hold", "transfer", "payment"} & moves, moves
    body = await move(api, HOLD, 409)
    assert body["error_id"] == "already_held"

    await h.clock.sleep(3.0)
    u0 = h.clock.ms()
    body = await move(api, UNHOLD, 200)
    u1 = h.clock.ms()
    assert body["held"] is False
    assert talking(api, caller, leg)
    assert (await move(api, UNHOLD, 409))["error_id"] == "not_held"

    await h.clock.sleep(2.0)
    assert (await api.call("POST", "/api/desk/agents/a1/hangup", user="alice")).status == 200
    call_id = await h.finished(caller)
    await h.wait_agent("a1", "wrap_up")
    row = await h.pg.fetchrow("SELECT hold_ms, talk_ms FROM calls WHERE call_id=$1", call_id)
    # simulated time (20x): held between the two moves' answers
    assert u0 - t1 <= row["hold_ms"] <= u1 - t0, (dict(row), u0 - t1, u1 - t0)
    assert row["talk_ms"] >= 1800, dict(row)
    # The reports: handle time is talk + hold (+ wrap-up, none written yet).
    call = dict(await h.pg.fetchrow("SELECT * FROM calls WHERE call_id=$1", call_id))
    rules = {"*": kpi.QueueRules()}
    [report] = kpi.queue_rows(kpi.queue_buckets([call], [], rules), rules, ZoneInfo("UTC"))
    assert report["hold_s"] == pytest.approx(row["hold_ms"] / 1000)
    assert report["talk_s"] == pytest.approx(row["talk_ms"] / 1000)
    assert report["aht_s"] == pytest.approx((row["hold_ms"] + row["talk_ms"]) / 1000)
    assert await hold_events(api, call_id) == [("hold", "a1", "desktop"),
                                               ("unhold", "a1", "desktop")]
    await h.assert_clean()


async def test_the_phone_and_the_desktop_mixed_end_up_consistent(desk: Api) -> None:
    api, h = desk, desk.h
    caller, leg = await connect(api)
    call_id = h.live(caller).call_id
    # The phone's own hold: Asterisk plays the caller music, acd counts.
    h.sim.phone_hold(leg)
    await h.wait_for(lambda: h.live(caller).held_by == "phone", "the phone's hold")
    assert chan(api, caller)["hears"] == ["moh"]
    assert (await move(api, HOLD, 409))["error_id"] == "already_held"
    # Resumed from the desktop: the caller's music stops (the phone may stay on hold).
    await move(api, UNHOLD, 200)
    assert chan(api, caller)["hears"] == [leg]
    h.sim.phone_unhold(leg)  # the phone's button catches up: nothing more
    # Held from the desktop, resumed from the phone: acd lifts its mute.
    await move(api, HOLD, 200)
    assert held(api, caller, leg)
    h.sim.phone_hold(leg)
    h.sim.phone_unhold(leg)
    await h.wait_for(lambda: h.live(caller).held_ms is None, "the phone's unhold")
    await h.wait_for(lambda: talking(api, caller, leg), "caller and agent to talk again")
    status = await move(api, MOVES, 200)
    assert status["held"] is False
    h.sim.remote_hangup(caller)
    await h.finished(caller)
    await h.wait_agent("a1", "wrap_up")
    assert await hold_events(api, call_id) == [
        ("hold", "a1", "phone"), ("unhold", "a1", "desktop"),
        ("hold", "a1", "desktop"), ("unhold", "a1", "phone")]
    await h.assert_clean()


@pytest.mark.parametrize("who", ["caller", "agent"])
async def test_the_call_ends_while_held(desk: Api, who: str) -> None:
    """Hung up while held by a supervisor: the call ends as always (nobody left with
    music), the hold counts until the end, the agent goes to wrap-up."""
    api, h = desk, desk.h
    caller, leg = await connect(api)
    call_id = h.live(caller).call_id
    t0 = h.clock.ms()
    await move(api, f"/api/calls/{call_id}/moves/hold", 200, user="super")
    t1 = h.clock.ms()
    assert held(api, caller, leg)
    await h.clock.sleep(2.0)
    t2 = h.clock.ms()
    h.sim.remote_hangup(caller if who == "caller" else leg)
    await h.finished(caller)
    await h.wait_agent("a1", "wrap_up")
    row = await h.pg.fetchrow("SELECT hold_ms, talk_ms, ended_by FROM calls WHERE call_id=$1",
                              call_id)
    assert row["ended_by"] == who
    # held until the end (the agent's leg ended just after the hang-up)
    assert t2 - t1 <= row["hold_ms"] <= t2 - t0 + 1500, (dict(row), t2 - t1, t2 - t0)
    assert await hold_events(api, call_id) == [("hold", "a1", "supervisor")]
    n = await h.pg.fetchval("SELECT count(*) FROM legs WHERE call_id=$1 AND kind='agent'",
                            call_id)
    assert n == 1
    await h.assert_clean()


@pytest.mark.parametrize(("failing", "status"), [("/moh", 409), ("/mute", 500)])
async def test_a_hold_asterisk_fails_leaves_the_two_talking(
        desk: Api, failing: str, status: int) -> None:
    api, h = desk, desk.h
    caller, leg = await connect(api)
    call_id = h.live(caller).call_id
    ari = h.app.ari
    assert ari is not None
    real = ari.request

    async def flaky(method: str, path: str, params: Any = None, body: Any = None) -> Any:
        if method == "POST" and path.endswith(failing):
            raise AriError("refused" if status < 500 else "Internal Server Error",
                           status=status, method=method, path=path)
        return await real(method, path, params, body)
    ari.request = flaky  # type: ignore[method-assign]
    try:
        body = await move(api, HOLD, 409)
    finally:
        del ari.request
    assert (body["error_id"], body["details"]["held"]) == ("hold_failed", False)
    await h.wait_for(lambda: talking(api, caller, leg), "caller and agent to talk again")
    assert (await move(api, MOVES, 200))["held"] is False
    assert (await move(api, HOLD, 200))["held"] is True  # Asterisk is fine again
    h.sim.remote_hangup(leg)
    await h.finished(caller)
    await h.wait_agent("a1", "wrap_up")
    assert await hold_events(api, call_id) == [("hold", "a1", "desktop")]
    await h.assert_clean()


async def test_a_restarted_acd_takes_a_held_call_back_held(desk: Api) -> None:
    """acd stops (as after kill -9) while the caller is held: the caller keeps their
    music, the new acd knows the call is held, resumes it and counts the whole hold."""
    api, h = desk, desk.h
    caller, leg = await connect(api)
    call_id = h.live(caller).call_id
    t0 = h.clock.ms()
    await move(api, HOLD, 200)
    t1 = h.clock.ms()

    async def still_held() -> None:
        assert held(api, caller, leg)  # nobody listens: the caller still hears music
    app = await h.restart(still_held)
    await h.wait_for(lambda: h.call_on(caller) is not None, "the new acd to take the call")
    state = h.live(caller)
    assert (state.held_by, state.hold_music) == ("desktop", True)
    await h.clock.sleep(1.0)
    assert app.control is not None
    u0 = h.clock.ms()
    reply = await app.control.ask(call_id, "unhold", {}, by="agent:a1")
    u1 = h.clock.ms()
    assert reply.ok and reply.data["held"] is False, reply
    await h.wait_for(lambda: talking(api, caller, leg), "caller and agent to talk again")
    h.sim.remote_hangup(caller)
    await h.finished(caller)
    row = await h.pg.fetchrow("SELECT hold_ms FROM calls WHERE call_id=$1", call_id)
    assert u0 - t1 <= row["hold_ms"] <= u1 - t0, (row["hold_ms"], u0 - t1, u1 - t0)
    assert await hold_events(api, call_id) == [("hold", "a1", "desktop"),
                                               ("unhold", "a1", "desktop")]
    await h.assert_clean()
