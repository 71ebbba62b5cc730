"""acd stops without cleanup (as after kill -9) in the middle of a move of #17 --
a consult, a supervisor listening -- with the call recorded, and a new acd starts on
the same simulator (issue #17 / #12): the caller talks to their agent again, the
consulted agent and the supervisor are let go, the recording goes on to the call's
end, nothing is left up (channels, bridges, snoops), every leg and the recording
get their rows and the call exactly one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Api, api_over
from tests.e2e.conftest import Harness, e2e_settings, running_harness
from tests.e2e.test_consult import AGENTS, consulting
from tests.e2e.test_transfers import bridged_with, channel, connected_to_a1

# Recorded always: each story also has a recording running when acd dies.
QUEUES = [
    {"name": "sales", "skills": {"sales": 1}, "ring_timeout": 15, "wrapup": 30,
     "recording": "always"},
    {"name": "support", "skills": {"support": 1}, "ring_timeout": 15, "wrapup": 30},
    {"name": "supervisors", "skills": {"supervisor": 1}, "ring_timeout": 15, "wrapup": 30},
]
SUPER_PHONE = "PJSIP/super1"


@pytest.fixture
async def api(redis_prefix: str, redis_client: Any, pg_dsn: str,
              tmp_path: Path) -> AsyncIterator[Api]:
    settings = e2e_settings(redis_prefix, pg_dsn, tmp_path, queues=QUEUES, agents=AGENTS)
    async with running_harness(settings) as h:
        h.sim.set_endpoint("PJSIP", "super1", "answer", answer_after=0.5)
        async for a in api_over(h):
            yield a


def bridges(h: Harness) -> int:
    return len(h.sim.state()["bridges"])


async def recorded(h: Harness, call_id: str) -> list[tuple[str, str]]:
    rows = await h.pg.fetch("SELECT recording_id, outcome FROM recordings WHERE call_id=$1",
                            call_id)
    return [(r["recording_id"], r["outcome"]) for r in rows]


async def test_a_consult_under_way_is_ended_by_the_new_acd(api: Api) -> None:
    h = api.h
    ch = await consulting(api, "+15551201")
    call_id = h.live(ch).call_id
    await h.wait_for(lambda: bool(h.sim.state()["recordings"]["live"]), "the recording")
    await h.restart()
    # The caller back with a1, their music off; a2 let go; one bridge left.
    await h.wait_for(lambda: bridged_with(api, ch) == {"PJSIP/agent100"}
                     and not channel(api, ch)["moh"], "caller back with a1")
    await h.wait_agent("a2", "wrap_up")
    await h.wait_for(lambda: bridges(h) == 1, "the consult bridge destroyed")
    # The recording goes on (one file for the whole call), stopped when the call ends.
    assert [r["name"] for r in h.sim.state()["recordings"]["live"]] == [f"acd-rec-{call_id}"]
    assert await h.agent_state("a1") == "on_call"
    h.sim.remote_hangup(ch)
    assert await h.finished(ch) == call_id
    row = await h.call(call_id)
    assert (row["outcome"], row["agent_id"]) == ("answered", "a1")
    legs = await h.legs(call_id)
    assert sorted((x["kind"], x["agent_id"], x["outcome"]) for x in legs) == [
        ("agent", "a1", "answered"), ("caller", "a1", "answered"),
        ("transfer", "a2", "answered")]
    events = [e for e, _ in await h.queue_events(call_id)]
    assert events.count("consult_end") == 1 and events.count("connect") == 1, events
    assert await recorded(h, call_id) == [(f"acd-rec-{call_id}", "done")]
    assert not h.sim.state()["recordings"]["live"]
    await h.wait_agent("a2", "available")
    await h.wait_agent("a1", "available")
    assert await h.pg.fetchval("SELECT count(*) FROM calls WHERE call_id=$1", call_id) == 1
    await h.assert_clean()


async def listening(api: Api, phone: str) -> tuple[str, str]:
    """A call connected to a1 that a supervisor listens to: (caller channel, call id)."""
    h = api.h
    ch = await connected_to_a1(api, phone)
    call_id = h.live(ch).call_id
    resp = await api.call("POST", f"/api/calls/{call_id}/moves/listen", user="super",
                          body={"endpoint": SUPER_PHONE})
    assert resp.status == 200, await resp.json()
    await h.wait_for(lambda: bridges(h) == 2, "the monitor bridge")
    return ch, call_id


async def test_a_supervisor_listening_is_let_go_by_the_new_acd(api: Api) -> None:
    h = api.h
    ch, call_id = await listening(api, "+15551202")
    await h.restart()

    def left() -> set[str]:
        return {x["endpoint"] for x in h.sim.state()["channels"] if x["phase"] != "gone"}
    await h.wait_for(lambda: left() == {"PJSIP/agent100", channel(api, ch)["endpoint"]}
                     and bridges(h) == 1, "the supervisor and the snoop gone")
    assert bridged_with(api, ch) == {"PJSIP/agent100"}
    h.sim.remote_hangup(ch)
    assert await h.finished(ch) == call_id
    legs = await h.legs(call_id)
    assert sorted(x["kind"] for x in legs) == ["agent", "caller", "snoop", "supervisor"]
    events = await h.queue_events(call_id)
    assert [e for e, _ in events].count("monitor_end") == 1, events
    await h.wait_agent("a1", "available")
    await h.assert_clean()


def caller_leaves(h: Harness, ch: str) -> Callable[[], Awaitable[None]]:
    """While no acd runs: the caller hangs up, 2 s pass."""
    async def meanwhile() -> None:
        h.sim.remote_hangup(ch)
        await h.clock.sleep(2.0)
    return meanwhile


async def test_a_consult_whose_caller_left_while_acd_was_down_is_written(api: Api) -> None:
    h = api.h
    ch = await consulting(api, "+15551203")
    call_id = h.live(ch).call_id
    await h.restart(caller_leaves(h, ch))
    await h.rows_written([call_id])
    row = await h.call(call_id)
    assert (row["outcome"], row["end_detail"]) == ("answered", "acd_down")
    legs = await h.legs(call_id)
    assert sorted((x["kind"], x["agent_id"]) for x in legs) == [
        ("agent", "a1"), ("caller", "a1"), ("transfer", "a2")]
    assert await recorded(h, call_id) == [(f"acd-rec-{call_id}", "done")]
    await h.wait_agent("a2", "available")
    await h.wait_agent("a1", "available")
    await h.assert_clean()


async def test_a_monitored_call_whose_caller_left_while_acd_was_down_is_written(
        api: Api) -> None:
    h = api.h
    ch, call_id = await listening(api, "+15551204")
    await h.restart(caller_leaves(h, ch))
    await h.rows_written([call_id])
    legs = await h.legs(call_id)
    assert sorted(x["kind"] for x in legs) == ["agent", "caller", "snoop", "supervisor"]
    await h.wait_agent("a1", "available")
    await h.assert_clean()
