"""Routing paths end to end: the key-client escalation chain and ring-all.

Through the simulator with real Redis and PostgreSQL. Every scenario reads the
call's story back from the queue_events and legs rows, with each event's time
in call-clock milliseconds since the call was queued (the clock the chain's
steps are measured on), then checks that nothing is left behind.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.e2e.conftest import Harness, e2e_settings, running_harness

KEY_FLOW, HUNT_FLOW = "120", "121"  # tests/e2e/flows/routing_*.yaml
DUPONT, MARTIN = "+33140000001", "+33140000002"  # key clients of m1 and m2

QUEUES: list[dict[str, Any]] = [
    {"name": "sales", "skills": {"sales": 1}, "ring_timeout": 5, "wrapup": 2},
    {"name": "hunt", "skills": {"hunt": 1}, "strategy": "ring_all", "ring_timeout": 10,
     "wrapup": 2},
]
# Logged in in this order, so the earlier ones have been idle longest: the chain,
# not the queue's longest-idle strategy, is what must pick m1 or m2.
AGENTS: list[dict[str, Any]] = [
    {"id": "s1", "name": "Sam", "endpoint": "PJSIP/s1", "skills": {"sales": 1}},
    {"id": "h1", "name": "Hana", "endpoint": "PJSIP/h1", "skills": {"sales": 5}},
    {"id": "m3", "name": "Mia", "endpoint": "PJSIP/m3",
     "skills": {"sales": 3, "key_account": 1}, "login": False},
    {"id": "m2", "name": "Marc", "endpoint": "PJSIP/m2", "skills": {"sales": 3, "key_account": 1}},
    {"id": "m1", "name": "Martine", "endpoint": "PJSIP/m1",
     "skills": {"sales": 3, "key_account": 1}},
    {"id": "r1", "name": "Rita", "endpoint": "PJSIP/r1", "skills": {"hunt": 1}},
    {"id": "r2", "name": "Rob", "endpoint": "PJSIP/r2", "skills": {"hunt": 1}},
    {"id": "r3", "name": "Rui", "endpoint": "PJSIP/r3", "skills": {"hunt": 1}},
    {"id": "r4", "name": "Rhea", "endpoint": "PJSIP/r4", "skills": {"hunt": 1}},
]
# The example: the client's own account manager for 20 s (preferred_timeout),
# then any key-account manager for 40 s, then the head of sales (20 s), then the
# general sales queue for good.
KEY_CLIENT_CHAIN: dict[str, Any] = {"name": "key_client", "steps": [
    {"timeout": 40, "skills": {"key_account": 1}},
    {"timeout": 20, "agents": ["h1"]},
    {},
]}
STEP2_MS, STEP3_MS, STEP4_MS = 20_000, 60_000, 80_000  # when each step begins
# Each miss keeps the agent off this call for 300 s: every agent is offered a call
# at most once, so each step's offers are exactly its own agents'.
CHAIN_ROUTING: dict[str, Any] = {
    "max_missed": 3, "missed_retry_delay": 300, "reservation_ttl": 30,
    "preferred_timeout": 20, "chains": [KEY_CLIENT_CHAIN]}

Event = tuple[str, str | None, int]  # event, agent id, ms since the call was queued


class RoutingHarness(Harness):
    baseline: set[str]

    async def timeline(self, call_id: str) -> list[Event]:
        rows = await self.pg.fetch(
            "SELECT event, agent_id, wait_ms FROM queue_events WHERE call_id=$1 "
            "ORDER BY at, event_id", call_id)
        return [(r["event"], r["agent_id"], r["wait_ms"]) for r in rows]

    async def states(self, agent_id: str) -> list[asyncpg.Record]:
        """This test's agent_states rows for an agent (after its login), in order."""
        assert self.app.writer is not None
        await self.app.writer.flush()
        rows = await self.pg.fetch(
            "SELECT event_id, state, reason, at FROM agent_states WHERE agent_id=$1 "
            "ORDER BY at, event_id", agent_id)
        return [r for r in rows if r["event_id"] not in self.baseline]

    async def agent_legs(self, call_id: str) -> list[asyncpg.Record]:
        return [leg for leg in await self.legs(call_id) if leg["kind"] == "agent"]


Start = Callable[..., Awaitable[RoutingHarness]]


@pytest.fixture
async def start(redis_prefix: str, redis_client: Any, pg_dsn: str,
                tmp_path: Path) -> AsyncIterator[Start]:
    """Starts acd on the simulator with these routing settings and phones
    (endpoint resource -> set_endpoint keywords; every other phone answers in 0.5 s)."""
    async with contextlib.AsyncExitStack() as stack:
        async def start_(routing: dict[str, Any], phones: dict[str, Any],
                         queues: list[dict[str, Any]] = QUEUES) -> RoutingHarness:
            settings = e2e_settings(redis_prefix, pg_dsn, tmp_path, routing=routing,
                                    queues=queues, agents=AGENTS)
            h = await stack.enter_async_context(
                running_harness(settings, cls=RoutingHarness, phones=phones))
            app, pool = h.app, h.pg
            assert app.writer is not None
            # agent_states is shared by the session's tests: remember what was there.
            await app.writer.flush()
            h.baseline = {r["event_id"] for r in await pool.fetch(
                "SELECT event_id FROM agent_states")}
            return h

        yield start_


def offers(timeline: list[Event]) -> list[str]:
    return [agent or "" for event, agent, _ in timeline if event == "offer"]


def at(timeline: list[Event], event: str, agent: str | None) -> int:
    found = [ms for e, a, ms in timeline if (e, a) == (event, agent)]
    assert len(found) == 1, f"{(event, agent)} happened {len(found)} times: {timeline}"
    return found[0]


# ---------------------------------------------------------- key-client chain


async def test_key_client_escalates_step_by_step(start: Start) -> None:
    """Nobody on the way can take it: own manager (no answer), the other free
    key-account manager (busy; the third is logged out), the head of sales
    (busy), then general sales answers. Each step's agents are offered in turn,
    never before their step begins, and s1, free all along, only at the last."""
    h = await start(CHAIN_ROUTING, {"m1": {"behaviour": "noanswer"},
                                    "m2": {"behaviour": "busy"},
                                    "h1": {"behaviour": "busy"}})
    ch = h.sim.place_call(DUPONT, KEY_FLOW)
    await h.wait_agent("s1", "on_call", timeout=30)
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)

    story = await h.timeline(call_id)
    assert [(e, a) for e, a, _ in story] == [
        ("enter", None),
        ("offer", "m1"), ("no_answer", "m1"),   # step 1: the preferred agent
        ("offer", "m2"), ("busy", "m2"),        # step 2: key_account (m3 logged out)
        ("offer", "h1"), ("busy", "h1"),        # step 3: the head of sales only
        ("offer", "s1"), ("connect", "s1"), ("complete", "s1"),  # step 4: sales
    ]
    assert at(story, "offer", "m1") < STEP2_MS
    assert at(story, "no_answer", "m1") >= 5000  # the sales queue's ring timeout
    assert STEP2_MS <= at(story, "offer", "m2") < STEP3_MS
    assert STEP3_MS <= at(story, "offer", "h1") < STEP4_MS
    # The step boundary is found by the reaper's 1 s tick: allow it a few ticks.
    assert STEP4_MS <= at(story, "offer", "s1") < STEP4_MS + 15_000
    assert at(story, "connect", "s1") > at(story, "offer", "s1")

    call = await h.call(call_id)
    assert (call["outcome"], call["agent_id"], call["queue"]) == ("answered", "s1", "sales")
    assert call["wait_ms"] >= STEP4_MS
    variables = call["variables"]
    if isinstance(variables, str):
        variables = json.loads(variables)
    assert variables["account_manager"] == "m1"
    legs = await h.agent_legs(call_id)
    assert [(leg["agent_id"], leg["outcome"], leg["hangup_cause"]) for leg in legs] == [
        ("m1", "noanswer", 19), ("m2", "busy", 17), ("h1", "busy", 17),
        ("s1", "answered", 16)]
    # One miss each, below max_missed: nobody paused; m3 untouched.
    assert h.app.agents is not None
    for agent in ("m1", "m2", "h1"):
        view = await h.app.agents.get(agent)
        assert (view.state, view.missed_in_row) == ("available", 1), agent
    assert await h.agent_state("m3") == "logged_out"
    await h.wait_agent("s1", "available")
    await h.assert_clean()


@pytest.mark.parametrize(("caller", "manager"), [(DUPONT, "m1"), (MARTIN, "m2")])
async def test_key_client_own_manager_answers(start: Start, caller: str,
                                              manager: str) -> None:
    """The manager the flow found for this caller takes the call in step 1,
    though others (s1, h1) have been free longer."""
    h = await start(CHAIN_ROUTING, {})
    ch = h.sim.place_call(caller, KEY_FLOW)
    await h.wait_agent(manager, "on_call")
    for other in ("s1", "h1", "m1", "m2"):
        if other != manager:
            assert await h.agent_state(other) == "available"
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)

    story = await h.timeline(call_id)
    assert [(e, a) for e, a, _ in story] == [
        ("enter", None), ("offer", manager), ("connect", manager), ("complete", manager)]
    assert at(story, "connect", manager) < STEP2_MS
    call = await h.call(call_id)
    assert (call["outcome"], call["agent_id"]) == ("answered", manager)
    assert [leg["agent_id"] for leg in await h.agent_legs(call_id)] == [manager]
    await h.wait_agent(manager, "available")
    await h.assert_clean()


async def test_standard_caller_is_not_held_for_a_manager(start: Start) -> None:
    """Control: a caller with no manager and no chain goes to the longest idle
    sales agent at once (s1), so the chain tests' waits come from the chain."""
    h = await start(CHAIN_ROUTING, {})
    ch = h.sim.place_call("+15550100", KEY_FLOW)
    await h.wait_agent("s1", "on_call")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    story = await h.timeline(call_id)
    assert [(e, a) for e, a, _ in story] == [
        ("enter", None), ("offer", "s1"), ("connect", "s1"), ("complete", "s1")]
    assert at(story, "offer", "s1") < STEP2_MS
    await h.wait_agent("s1", "available")
    await h.assert_clean()


# ------------------------------------------------------------------ ring-all


async def test_ring_all_first_to_answer_wins(start: Start) -> None:
    """Three free agents ring at once (r4 is on break); r2 answers first though
    r1 was offered first; the other two phones are hung up as answered
    elsewhere, which is no miss: with max_missed 1 a miss would pause them."""
    h = await start({"max_missed": 1, "missed_retry_delay": 30},
                    {"r1": {"behaviour": "answer", "answer_after": 4.0},
                     "r2": {"behaviour": "answer", "answer_after": 1.0},
                     "r3": {"behaviour": "answer", "answer_after": 2.5}})
    assert h.app.agents is not None
    await h.app.agents.set_break("r4", "training")
    ch = h.sim.place_call("+15550200", HUNT_FLOW)
    await h.wait_agent("r2", "on_call")

    # The caller and r2 share one bridge; the other phones stop ringing.
    def only_r2_left() -> bool:
        return sorted(c["endpoint"] for c in h.sim.state()["channels"]
                      if c["id"] != ch) == ["PJSIP/r2"]
    await h.wait_for(only_r2_left, "the other ring-all phones to be hung up")
    st = h.sim.state()
    r2_channel = next(c["id"] for c in st["channels"] if c["endpoint"] == "PJSIP/r2")
    assert [sorted(b["channels"]) for b in st["bridges"]] == [sorted([ch, r2_channel])]
    for agent in ("r1", "r3"):
        assert await h.agent_state(agent) == "available"
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)

    story = await h.timeline(call_id)
    assert story[0][:2] == ("enter", None)
    assert sorted(offers(story)) == ["r1", "r2", "r3"]
    assert [(e, a) for e, a, _ in story[1:4]] == [("offer", a) for a in offers(story)]
    assert [(e, a) for e, a, _ in story[4:]] == [("connect", "r2"), ("complete", "r2")]

    legs = {leg["agent_id"]: leg for leg in await h.agent_legs(call_id)}
    assert sorted(legs) == ["r1", "r2", "r3"]
    won = legs["r2"]
    assert won["outcome"] == "answered" and won["answered_at"] is not None
    for agent in ("r1", "r3"):
        leg = legs[agent]
        assert (leg["outcome"], leg["hangup_cause"], leg["answered_at"]) == (
            "answered_elsewhere", 26, None), agent
        # Rang together with r2, stopped once r2 answered.
        assert leg["started_at"] <= won["answered_at"] <= leg["ended_at"]
    call = await h.call(call_id)
    assert (call["outcome"], call["agent_id"], call["queue"]) == ("answered", "r2", "hunt")

    for agent in ("r1", "r3"):
        view = await h.app.agents.get(agent)
        assert (view.state, view.missed_in_row) == ("available", 0), agent
        assert "break" not in [r["state"] for r in await h.states(agent)], agent
    assert (await h.app.agents.get("r4")).reason == "training"
    await h.wait_agent("r2", "available")
    await h.assert_clean()


async def test_ring_all_second_phone_answers_while_the_first_is_bridged(
        start: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two phones pick up almost together: acd is still bridging r1 (ARI is slow to
    create the bridge) when r2 answers too. r2 is hung up as answered elsewhere;
    its hang-up is not the agent ending the call: the caller stays with r1."""
    h = await start({"max_missed": 1, "missed_retry_delay": 30},
                    {"r1": {"behaviour": "answer", "answer_after": 1.0},
                     "r2": {"behaviour": "answer", "answer_after": 2.0},
                     "r3": {"behaviour": "noanswer"}})
    assert h.app.agents is not None and h.app.ari is not None and h.app.calls is not None
    await h.app.agents.set_break("r4", "training")
    ari, create_bridge = h.app.ari, h.app.ari.create_bridge

    def r2_up() -> bool:
        return any(c["endpoint"] == "PJSIP/r2" and c["state"] == "Up"
                   for c in h.sim.state()["channels"])

    async def slow_create_bridge(*args: Any, **kwargs: Any) -> Any:
        await h.wait_for(r2_up, "r2 to pick up while r1 is being bridged")
        return await create_bridge(*args, **kwargs)

    monkeypatch.setattr(ari, "create_bridge", slow_create_bridge)
    ch = h.sim.place_call("+15550203", HUNT_FLOW)
    calls = h.app.calls.calls
    await h.wait_for(lambda: len(calls) == 1, "the call to arrive")
    call_id = next(iter(calls))

    def r1_only() -> bool:  # the call's state is a value: read it afresh
        live = calls[call_id]
        return ([leg.agent_id for leg in live.live_legs()] == ["r1"]
                and live.connected_leg is not None)
    await h.wait_for(r1_only, "only r1's leg to be left")
    await h.clock.sleep(2.0)
    st = h.sim.state()
    assert ch in [c["id"] for c in st["channels"]], "the caller was cut off"
    r1_leg = calls[call_id].connected_leg
    assert r1_leg is not None
    r1_channel = r1_leg.channel_id
    assert [sorted(b["channels"]) for b in st["bridges"]] == [sorted([ch, r1_channel])]
    assert await h.agent_state("r1") == "on_call"
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)

    story = await h.timeline(call_id)
    assert sorted(offers(story)) == ["r1", "r2", "r3"]
    assert [(e, a) for e, a, _ in story[4:]] == [("connect", "r1"), ("complete", "r1")]
    legs = {leg["agent_id"]: leg for leg in await h.agent_legs(call_id)}
    assert legs["r1"]["outcome"] == "answered"
    # r2 did pick up (answered_at), but the call was r1's.
    assert (legs["r2"]["outcome"], legs["r2"]["hangup_cause"]) == ("answered_elsewhere", 26)
    assert legs["r2"]["answered_at"] is not None
    assert (legs["r3"]["outcome"], legs["r3"]["answered_at"]) == ("answered_elsewhere", None)
    call = await h.call(call_id)
    assert (call["outcome"], call["agent_id"]) == ("answered", "r1")
    assert call["talk_ms"] >= 2000
    for agent in ("r2", "r3"):
        view = await h.app.agents.get(agent)
        assert (view.state, view.missed_in_row) == ("available", 0), agent
    await h.wait_agent("r1", "available")
    await h.assert_clean()


async def test_ring_all_rings_at_most_ring_all_max(start: Start) -> None:
    """ring_all_max 2: the two longest-idle free agents ring, not the third."""
    h = await start({"ring_all_max": 2},
                    {"r2": {"behaviour": "answer", "answer_after": 2.0}})
    assert h.app.agents is not None
    await h.app.agents.set_break("r4", "training")
    ch = h.sim.place_call("+15550201", HUNT_FLOW)
    await h.wait_agent("r1", "on_call")
    assert await h.agent_state("r3") == "available"
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)

    story = await h.timeline(call_id)
    assert sorted(offers(story)) == ["r1", "r2"]
    assert [(e, a) for e, a, _ in story[3:]] == [("connect", "r1"), ("complete", "r1")]
    legs = {leg["agent_id"]: leg["outcome"] for leg in await h.agent_legs(call_id)}
    assert legs == {"r1": "answered", "r2": "answered_elsewhere"}
    await h.wait_agent("r1", "available")
    await h.assert_clean()


async def test_ring_all_nobody_answers(start: Start) -> None:
    """Nobody answers: each ring timeout sends the call back to its queue and all
    three ring again. Agents stay available through two misses and are paused at
    the third (max_missed 3); the caller then waits alone until the flow's 30 s
    maximum wait and hears goodbye."""
    h = await start({"max_missed": 3, "missed_retry_delay": 0},
                    {r: {"behaviour": "noanswer"} for r in ("r1", "r2", "r3")},
                    queues=[QUEUES[0], {**QUEUES[1], "ring_timeout": 3}])
    assert h.app.agents is not None
    await h.app.agents.set_break("r4", "training")
    ch = h.sim.place_call("+15550202", HUNT_FLOW, hangup_after=120.0)
    call_id = await h.finished(ch)

    story = await h.timeline(call_id)
    assert story[0][:2] == ("enter", None) and story[-1][:2] == ("exit", None)
    rounds = [story[1 + 6 * i: 7 + 6 * i] for i in range(3)]
    assert len(story) == 2 + 6 * 3, story
    for n, ring in enumerate(rounds):
        # All three ring together, then all three time out, then the next round.
        assert [e for e, _, _ in ring] == ["offer"] * 3 + ["no_answer"] * 3, (n, ring)
        assert sorted(a or "" for _, a, _ in ring[:3]) == ["r1", "r2", "r3"], (n, ring)
        assert sorted(a or "" for _, a, _ in ring[3:]) == ["r1", "r2", "r3"], (n, ring)
        offered = {a: ms for _, a, ms in ring[:3]}
        for _, agent, ms in ring[3:]:
            assert ms - offered[agent] >= 3000, (n, ring)  # the hunt queue's ring timeout
    assert at(story, "exit", None) >= 30_000

    call = await h.call(call_id)
    assert (call["outcome"], call["agent_id"], call["queue"]) == ("ivr_hangup", None, "hunt")
    legs = await h.agent_legs(call_id)
    assert len(legs) == 9
    assert {(leg["outcome"], leg["hangup_cause"], leg["answered_at"]) for leg in legs} == {
        ("noanswer", 19, None)}
    for agent in ("r1", "r2", "r3"):
        view = await h.app.agents.get(agent)
        assert (view.state, view.reason, view.missed_in_row) == (
            "break", "missed_offers", 3), agent
        rows = await h.states(agent)
        assert [r["state"] for r in rows].count("reserved") == 3, agent
        # Paused once, at the third miss: after the last reservation, not before.
        breaks = [r for r in rows if r["state"] == "break"]
        assert [r["reason"] for r in breaks] == ["missed_offers"], agent
        assert breaks[0]["at"] >= max(r["at"] for r in rows if r["state"] == "reserved")
    assert (await h.app.agents.get("r4")).reason == "training"
    await h.assert_clean()
