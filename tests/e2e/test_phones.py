"""The phone is the truth (issue 18), end to end on the simulator: acd hears the phones
register, go away, get busy and die, and routes, pauses and restores agents by them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acd.__main__ import main as cli_main
from acd.app import App
from tests.e2e.conftest import Harness, e2e_settings, running_harness

PRESS_SALES = [(1.0, "1")]
A1 = ("PJSIP", "agent100")  # a1, the sales agent every call goes to first
A2 = ("PJSIP", "agent101")


async def phone(h: Harness, agent_id: str, state: str) -> None:
    assert h.app.agents is not None
    agents = h.app.agents

    async def ok() -> bool:
        return (await agents.get(agent_id)).phone == state
    await h.wait_for(ok, f"agent {agent_id}'s phone to be {state}")


async def missed(h: Harness, agent_id: str) -> int:
    assert h.app.agents is not None
    return (await h.app.agents.get(agent_id)).missed_in_row


@pytest.fixture
async def h(harness: Harness) -> Harness:
    """The harness once acd has subscribed to the phones and read their state."""
    for agent in ("a1", "a2", "a3"):
        await phone(harness, agent, "registered")
    return harness


async def test_phones_are_known_from_the_start(h: Harness) -> None:
    assert h.app.phones is not None
    assert "endpoint:PJSIP/agent100" in h.app.phones.subscribed
    assert "deviceState:PJSIP/agent102" in h.app.phones.subscribed


@pytest.mark.parametrize("how", ["unregister", "unreachable", "busy_elsewhere"])
async def test_no_offer_to_a_phone_that_cannot_take_the_call(h: Harness,
                                                             how: str) -> None:
    lines = h.sim.lines
    if how == "unregister":
        lines.set_registered(*A1, False)
        want = "unregistered"
    elif how == "unreachable":
        lines.set_reachable(*A1, False)
        want = "unreachable"
    else:
        lines.other_call(*A1, +1)  # a1 called a colleague from the phone
        want = "in_use"
    await phone(h, "a1", want)
    ch = h.sim.place_call("+15552001", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a2", "on_call")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    assert await h.queue_events(call_id) == [
        ("enter", None), ("offer", "a2"), ("connect", "a2"), ("complete", "a2")]
    assert await h.agent_state("a1") == "available" and await missed(h, "a1") == 0
    # The phone comes back: a1 takes the next call again.
    if how == "unregister":
        lines.set_registered(*A1, True)
    elif how == "unreachable":
        lines.set_reachable(*A1, True)
    else:
        lines.other_call(*A1, -1)
    await phone(h, "a1", "registered")
    await h.wait_agent("a2", "available")
    nxt = h.sim.place_call("+15552002", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a1", "on_call")
    h.sim.remote_hangup(nxt)
    await h.finished(nxt)
    await h.assert_clean()


async def test_a_waiting_caller_is_offered_when_the_phone_returns(h: Harness) -> None:
    assert h.app.agents is not None
    await h.app.agents.set_break("a2", "lunch")
    h.sim.lines.set_registered(*A1, False)
    await phone(h, "a1", "unregistered")
    ch = h.sim.place_call("+15552003", "100", dtmf=PRESS_SALES)
    await h.wait_for(lambda: (call := h.call_on(ch)) is not None and call.queue == "sales",
                     "the caller to wait in sales")
    await h.clock.sleep(2)
    assert await h.agent_state("a1") == "available"  # free, but its phone is away
    h.sim.lines.set_registered(*A1, True)
    await h.wait_agent("a1", "on_call")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    assert ("offer", "a1") in await h.queue_events(call_id)
    await h.app.agents.available("a2")
    await h.assert_clean()


async def test_allocation_failed_goes_on_at_once_and_counts_no_miss(h: Harness) -> None:
    """Asterisk refuses the channel (500 Allocation failed) before acd heard the phone
    went: the next agent rings at once, the attempt says unreachable, no miss."""
    h.sim.set_endpoint(*A1, "unreachable")  # refused, and no event says so
    ch = h.sim.place_call("+15552004", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a2", "on_call")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    events = await h.queue_events(call_id)
    assert events[:4] == [("enter", None), ("offer", "a1"), ("unreachable", "a1"),
                          ("offer", "a2")]
    assert await missed(h, "a1") == 0 and await h.agent_state("a1") == "available"
    await h.assert_clean()


async def test_a_paused_agent_is_available_again_when_the_phone_registers(
        h: Harness) -> None:
    assert h.app.agents is not None and h.app.writer is not None
    # agent_states is shared by the session's tests (whose sped-up clocks may have
    # written rows dated later than ours): only this test's rows count.
    await h.app.writer.flush()
    before = {r["event_id"] for r in await h.pg.fetch("SELECT event_id FROM agent_states")}
    # Two missed offers (max_missed 2): a1 is paused, as a dead phone used to leave it.
    h.sim.set_endpoint(*A1, "noanswer")
    await h.app.agents.set_break("a2", "lunch")
    first = h.sim.place_call("+15552005", "100", dtmf=PRESS_SALES, hangup_after=12)
    second = h.sim.place_call("+15552015", "100", dtmf=PRESS_SALES, hangup_after=12)
    await h.wait_for(_is_paused(h, "a1"), "a1 paused for missed offers", timeout=30)
    await h.finished(first)
    await h.finished(second)
    h.sim.set_endpoint(*A1, "answer", answer_after=0.5)
    h.sim.lines.set_registered(*A1, False)
    await phone(h, "a1", "unregistered")
    assert (await h.app.agents.get("a1")).state == "break"
    h.sim.lines.set_registered(*A1, True)
    await h.wait_agent("a1", "available")
    view = await h.app.agents.get("a1")
    assert (view.reason, view.missed_in_row) == ("phone_registered", 0)
    assert h.app.writer is not None
    await h.app.writer.flush()
    rows = await h.pg.fetch(
        "SELECT event_id, previous, state, reason FROM agent_states WHERE agent_id='a1' "
        "AND reason='phone_registered'")
    mine = [(r["previous"], r["state"], r["reason"]) for r in rows if r["event_id"] not in before]
    assert mine == [("break", "available", "phone_registered")]
    await h.app.agents.available("a2")
    await h.assert_clean()


def _is_paused(h: Harness, agent_id: str) -> Any:
    async def ok() -> bool:
        assert h.app.agents is not None
        view = await h.app.agents.get(agent_id)
        return view.state == "break" and view.reason == "missed_offers"
    return ok


@pytest.mark.parametrize("mode", ["requeue", "hangup"])
async def test_a_phone_dying_mid_call(redis_prefix: str, redis_client: Any, pg_dsn: str,
                                      tmp_path: Path, mode: str) -> None:
    """The agent's phone dies while talking: Asterisk ends its leg after rtp_timeout
    (cause 44); the caller is queued again (and served by the next agent) or told
    and hung up, within the timeout; the rows say agent_lost."""
    rtp_timeout = 5.0
    settings = e2e_settings(redis_prefix, pg_dsn, tmp_path, phones={
        "agent_lost": mode, "agent_lost_hangup_after": 2.0})
    async with running_harness(settings) as h:
        h.sim.lines.line(*A1).rtp_timeout = rtp_timeout
        h.sim.lines.line(*A1).qualify = 1.0  # Asterisk notices the dead phone too
        ch = h.sim.place_call("+15552006", "100", dtmf=PRESS_SALES)
        await h.wait_agent("a1", "on_call")
        died = h.clock.time()
        h.sim.lines.die(*A1)
        if mode == "requeue":
            await h.wait_agent("a2", "on_call")
            served = h.clock.time() - died
            assert served <= rtp_timeout + 2 + 5.0  # the timeout, the prompt, a ring, latency
            h.sim.remote_hangup(ch)
        call_id = await h.finished(ch)
        # Timed on the rows (the simulated clock): the agent leg ends rtp_timeout
        # after the phone died; the caller, the prompt's 2 s later (hangup mode).
        by_kind = {r["kind"]: r for r in await h.legs(call_id)}
        agent_gone = by_kind["agent"]["ended_at"].timestamp() - died
        # (+2 s as the issue asks, +2 s more for event latency at 20x speed on a busy
        # machine: 0.1 s real; the real-Asterisk tier holds the 2 s alone.)
        assert rtp_timeout - 0.5 <= agent_gone <= rtp_timeout + 4.0, agent_gone
        if mode == "hangup":
            told = (by_kind["caller"]["ended_at"] - by_kind["agent"]["ended_at"]).total_seconds()
            assert 2.0 - 0.5 <= told <= 2.0 + 2.0, told
        rows = await h.pg.fetch(
            "SELECT event, agent_id, detail FROM queue_events WHERE call_id=$1 "
            "ORDER BY at, event_id", call_id)
        lost = [r for r in rows if r["detail"] and json.loads(r["detail"]).get("reason")
                == "agent_lost"]
        assert [(r["event"], r["agent_id"], json.loads(r["detail"])["cause"])
                for r in lost] == [("complete", "a1", 44)]
        legs = [(r["agent_id"], r["outcome"], r["hangup_cause"])
                for r in await h.legs(call_id) if r["kind"] == "agent"]
        assert legs[0] == ("a1", "agent_lost", 44)
        call = await h.call(call_id)
        if mode == "requeue":
            assert legs[1][:2] == ("a2", "answered")
            assert (call["outcome"], call["agent_id"]) == ("answered", "a2")
        else:
            assert len(legs) == 1 and call["outcome"] == "answered"
        view = await h.app.agents.get("a1")  # type: ignore[union-attr]
        assert (view.state, view.reason) == ("break", "phone_lost")
        await phone(h, "a1", "unreachable")
        h.sim.lines.set_registered(*A1, True)  # the phone comes back (and is alive)
        await h.wait_agent("a1", "available")
        await h.assert_clean()


async def test_agents_start_logged_out_and_keep_their_state_across_restarts(
        redis_prefix: str, redis_client: Any, pg_dsn: str, tmp_path: Path) -> None:
    # Agent ids of their own: agent_states rows are kept for the whole test session.
    x1, x2, x3 = (f"{redis_prefix}-{n}" for n in (1, 2, 3))
    settings = e2e_settings(redis_prefix, pg_dsn, tmp_path, agents=[
        {"id": x, "name": x, "endpoint": f"PJSIP/agent10{i}", "skills": {"sales": 1},
         "login": None}  # the default: restore, logged out on a fresh start
        for i, x in enumerate((x1, x2, x3))])
    async with running_harness(settings) as h:
        assert h.app.agents is not None
        assert [a.state for a in await h.app.agents.list()] == ["logged_out"] * 3
        await phone(h, x1, "registered")  # the phone registering logs nobody in
        assert await h.agent_state(x1) == "logged_out"
        await h.app.agents.login(x1)
        await h.app.agents.login(x2, reason="lunch")

        async def restart(flush_redis: bool) -> App:
            await h.app.stop()
            if flush_redis:  # Redis lost everything: PostgreSQL remembers
                keys = [k async for k in redis_client.scan_iter(match=f"*{redis_prefix}*")]
                await redis_client.delete(*keys)
            app = App(settings, clock=h.clock, simulator=h.sim, start_api=False)
            await app.start()
            h.app = app
            return app

        for flush in (False, True):
            app = await restart(flush)
            assert app.agents is not None
            got = {a.id: (a.state, a.reason) for a in await app.agents.list()}
            assert got == {x1: ("available", None), x2: ("break", "lunch"),
                           x3: ("logged_out", None)}, f"flushed={flush}"
        await h.assert_clean()


async def test_phone_state_is_visible_in_the_api_the_cli_and_metrics(
        h: Harness, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    h.sim.lines.set_registered(*A1, False)
    h.sim.lines.other_call(*A2, +1)
    await phone(h, "a1", "unregistered")
    await phone(h, "a2", "in_use")
    await h.app._start_api()
    base = f"http://127.0.0.1:{h.app.api_port}"
    async with aiohttp.ClientSession(headers=h.api_headers) as s:
        async with s.get(f"{base}/api/agents") as resp:
            agents = {a["id"]: a for a in await resp.json()}
        async with s.get(f"{base}/api/queues") as resp:
            queues = {q["name"]: q for q in (await resp.json())["queues"]}
        async with s.get(f"{base}/metrics") as resp:
            metrics = await resp.text()
    assert {k: (v["phone"], v["phone_registration"], v["phone_device"])
            for k, v in agents.items()} == {
        "a1": ("unregistered", "unregistered", "unavailable"),
        "a2": ("in_use", "registered", "in_use"),
        "a3": ("registered", "registered", "idle")}
    assert (queues["sales"]["agents_available"], queues["sales"]["agents_ready"]) == (2, 0)
    assert (queues["support"]["agents_available"], queues["support"]["agents_ready"]) == (1, 1)
    assert 'acd_agent_phone{agent="a1",phone="unregistered"} 1' in metrics
    assert 'acd_agents_by_phone{phone="in_use"} 1' in metrics
    assert 'acd_agents_by_phone{phone="registered"} 1' in metrics
    monkeypatch.setenv("ACD_API_URL", base)
    monkeypatch.setenv("ACD_API_TOKEN", h.api_headers["Authorization"].split(" ", 1)[1])
    assert await asyncio.to_thread(cli_main, ["agent", "list"]) == 0
    listed = {a["id"]: a["phone"] for a in json.loads(capsys.readouterr().out)}
    assert listed == {"a1": "unregistered", "a2": "in_use", "a3": "registered"}
    h.sim.lines.other_call(*A2, -1)
    await phone(h, "a2", "registered")


@pytest.mark.parametrize(("policy", "start", "gone", "back"), [
    # phones.policy, a1's state before, while the phone is away, once it is back
    ("keep", ("break", "missed_offers"), ("break", "missed_offers"),
     ("break", "missed_offers")),
    ("available", ("logged_out", None), ("logged_out", None), ("logged_out", None)),
    ("login", ("logged_out", None), ("logged_out", None), ("available", "phone_registered")),
    ("pause", ("available", None), ("break", "phone_lost"), ("available", "phone_registered")),
    ("available", ("available", None), ("available", None), ("available", None)),
])
async def test_phone_policies(redis_prefix: str, redis_client: Any, pg_dsn: str,
                              tmp_path: Path, policy: str, start: tuple[str, str | None],
                              gone: tuple[str, str | None],
                              back: tuple[str, str | None]) -> None:
    settings = e2e_settings(redis_prefix, pg_dsn, tmp_path, phones={"policy": policy})
    async with running_harness(settings) as h:
        agents = h.app.agents
        assert agents is not None
        await phone(h, "a1", "registered")
        if start[0] == "logged_out":
            await agents.logout("a1")
        elif start[0] == "break":
            await agents.set_break("a1", str(start[1]))

        async def state() -> tuple[str, str | None]:
            view = await agents.get("a1")  # type: ignore[union-attr]
            return view.state, view.reason
        assert await state() == start
        h.sim.lines.set_registered(*A1, False)
        await phone(h, "a1", "unregistered")
        assert await state() == gone
        h.sim.lines.set_registered(*A1, True)
        await phone(h, "a1", "registered")
        assert await state() == back


async def test_a_queue_sets_the_phone_policy_of_its_agents(
        redis_prefix: str, redis_client: Any, pg_dsn: str, tmp_path: Path) -> None:
    settings = e2e_settings(redis_prefix, pg_dsn, tmp_path, queues=[
        {"name": "sales", "skills": {"sales": 1}, "ring_timeout": 3, "wrapup": 2,
         "phone_policy": "login"},
        {"name": "support", "skills": {"support": 1}, "ring_timeout": 3, "wrapup": 2}])
    async with running_harness(settings) as h:
        agents = h.app.agents
        assert agents is not None
        for agent, resource in (("a1", "agent100"), ("a3", "agent102")):
            await phone(h, agent, "registered")
            await agents.logout(agent)
            h.sim.lines.set_registered("PJSIP", resource, False)
            await phone(h, agent, "unregistered")
            h.sim.lines.set_registered("PJSIP", resource, True)
            await phone(h, agent, "registered")
        assert await h.agent_state("a1") == "available"   # sales logs its agents in
        assert await h.agent_state("a3") == "logged_out"  # support: phones.policy
