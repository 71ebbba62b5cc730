"""The live snapshot: pushed on change over SSE, resumable, shared across nodes."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from acd.api.app import make_api
from acd.app import App
from acd.people.figures import time_in_states
from acd.people.live import live_view
from tests.api.conftest import Api
from tests.api.sse import Stream

T0 = datetime(2026, 1, 1, 8, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.mark.parametrize(("changes", "first", "now", "expected"), [
    ([], "logged_out", 10, {"logged_out": 600.0}),
    ([(2, "available")], "logged_out", 10, {"logged_out": 120.0, "available": 480.0}),
    ([(1, "available"), (3, "break"), (4, "available")], "logged_out", 5,
     {"logged_out": 60.0, "available": 180.0, "break": 60.0}),
    ([(0, "available"), (5, "on_call"), (7, "wrap_up"), (7.5, "available")], "break", 8,
     {"available": 330.0, "on_call": 120.0, "wrap_up": 30.0}),
    ([(-5, "available")], "break", 1, {"available": 60.0}),  # before the day: clipped
])
def test_time_in_states(changes: list[tuple[float, str]], first: str, now: float,
                        expected: dict[str, float]) -> None:
    got = time_in_states([(at(m), s) for m, s in changes], T0, at(now), first)
    assert got == expected


def test_screens_see_no_caller_numbers() -> None:
    snap = {"queues": [{"name": "sales", "waiting": 1,
                        "calls": [{"caller": "+1555", "waited_s": 1.0}]}],
            "agents": [{"id": "a1", "state": "ringing", "current_call": "c9",
                        "endpoint": "PJSIP/x"}]}
    view = live_view(snap)
    assert "+1555" not in str(view) and view["agents"][0]["current_call"] == "c9"
    assert view["queues"][0]["waiting"] == 1 and view["agents"][0]["state"] == "ringing"
    assert "endpoint" not in view["agents"][0]


def agent(snap: dict[str, Any], agent_id: str) -> dict[str, Any]:
    return next(a for a in snap["agents"] if a["id"] == agent_id)


async def test_a_change_reaches_every_screen_within_a_second(api: Api) -> None:
    url = str(api.client.make_url("/api/live"))
    async with aiohttp.ClientSession() as http:
        sup = await Stream(http, url, api.auth("super")).open()
        ali = await Stream(http, url, api.auth("alice")).open()
        try:
            first = await sup.next()
            assert first.event == "snapshot" and agent(first.data, "a1")["state"] == "available"
            await ali.next()
            t0 = time.monotonic()
            resp = await api.call("POST", "/api/agents/a1/break", user="super",
                                  body={"reason": "lunch"})
            assert resp.status == 200
            ev = await sup.next(lambda d: agent(d, "a1")["state"] == "break", timeout=1.0)
            assert time.monotonic() - t0 < 1.0
            assert agent(ev.data, "a1")["reason"] == "lunch" and ev.id != first.id
            assert ev.event == "delta"  # only what changed follows the first snapshot
            ev2 = await ali.next(lambda d: agent(d, "a1")["state"] == "break", timeout=1.0)
            assert ev2.id == ev.id
        finally:
            await sup.close()
            await ali.close()


async def test_last_event_id_resumes_without_a_repeat(api: Api) -> None:
    url = str(api.client.make_url("/api/live"))
    async with aiohttp.ClientSession() as http:
        s = await Stream(http, url, api.auth("super")).open()
        current = await s.next()
        await s.close()
        again = Stream(http, url, {**api.auth("super"), "Last-Event-ID": current.id or ""})
        again.state = s.state  # a browser keeps its picture across reconnections
        await again.open()
        try:
            with pytest.raises(TimeoutError):
                await again.next(timeout=0.6)  # it has the newest already
            await api.call("POST", "/api/agents/a2/break", user="super", body={"reason": "x"})
            ev = await again.next(timeout=2.0)
            assert agent(ev.data, "a2")["state"] == "break" and ev.event == "delta"
        finally:
            await again.close()
        stale = await Stream(http, url, {**api.auth("super"), "Last-Event-ID": "old-1"}).open()
        try:
            assert (await stale.next(timeout=1.0)).id == ev.id  # the newest at once
        finally:
            await stale.close()


async def test_a_wallboard_on_one_node_sees_a_change_on_another(api: Api) -> None:
    h = api.h
    settings = h.app.settings.model_copy(update={"node_id": f"{h.prefix}-n2"})
    node2 = App(settings, clock=h.clock, simulator=h.sim, start_api=False)
    await node2.start()
    client2: TestClient[Any, Any] = TestClient(TestServer(make_api(node2), host="127.0.0.1"))
    await client2.start_server()
    try:
        async with aiohttp.ClientSession() as http:
            s = await Stream(http, str(client2.make_url("/api/live")), api.auth("super")).open()
            try:
                await s.next()
                # The change is made through node 1's API.
                await api.call("POST", "/api/agents/a3/break", user="super",
                               body={"reason": "meeting"})
                ev = await s.next(lambda d: agent(d, "a3")["state"] == "break", timeout=1.0)
                assert ev.data["node"] == settings.node_id
            finally:
                await s.close()
    finally:
        await client2.close()
        await node2.stop()
        await asyncio.sleep(0)


def test_screens_get_the_longest_wait_not_the_callers() -> None:
    from acd.people.live import live_view, sse

    snap = {"queues": [{"name": "sales", "waiting": 2, "calls": [
        {"caller": "+1555", "waited_s": 3.5}, {"caller": "+1666", "waited_s": 12.0}]},
        {"name": "support", "waiting": 0, "calls": []}], "agents": []}
    view = live_view(snap)
    assert [q["oldest_waited_s"] for q in view["queues"]] == [12.0, 0.0]
    assert "+1555" not in str(view)
    assert sse("e-1", "delta", {"a": 1}) == b'id: e-1\nevent: delta\ndata: {"a":1}\n\n'


@pytest.mark.parametrize(("before", "after", "changed", "removed", "today"), [
    (None, {"queues": [], "agents": [{"id": "a"}], "today": {}}, ["a"], [], True),
    ({"agents": [{"id": "a", "state": "x"}], "today": {"q": 1}},
     {"queues": [], "agents": [{"id": "a", "state": "x"}], "today": {"q": 1}}, [], [], False),
    ({"agents": [{"id": "a", "state": "x"}, {"id": "b"}], "today": {}},
     {"queues": [], "agents": [{"id": "a", "state": "y"}], "today": {"q": 2}}, ["a"], ["b"],
     True),
])
def test_delta_of(before: dict[str, Any] | None, after: dict[str, Any], changed: list[str],
                  removed: list[str], today: bool) -> None:
    from acd.people.live import delta_of

    d = delta_of(before, after)
    assert [a["id"] for a in d["agents_changed"]] == changed
    assert d["agents_removed"] == removed and ("today" in d) is today


async def test_a_stream_that_misses_a_frame_gets_the_whole_snapshot_next() -> None:
    from acd.config import Settings
    from acd.people.live import Frame, LiveHub

    async def nothing() -> dict[str, Any]:
        return {}

    hub = LiveHub(Settings(), None, "n1", nothing, nothing)  # type: ignore[arg-type]
    slow, quick = hub.subscribe(), hub.subscribe()
    f1, f2 = Frame("e-1", b"s1", b"d1"), Frame("e-2", b"s2", b"d2")
    hub._put(slow, f1)
    hub._put(quick, f1)
    assert await quick.get() is f1
    hub._put(slow, f2)  # slow never read f1: it is dropped
    hub._put(quick, f2)
    assert slow in hub.behind and quick not in hub.behind
    assert await slow.get() is f2
    hub.unsubscribe(slow)
    assert slow not in hub.behind
