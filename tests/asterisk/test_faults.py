"""Issue #12's ARI gaps on the real Asterisk (the simulator's are tests/e2e/test_gaps.py).

acd reaches Asterisk through a TCP proxy the test cuts for at least 3 s while SIPp
callers and agent phones hang up; what happened in the gap reaches acd only through
its reconciliation after the reconnect. Each test asserts the call's one `calls` row,
that no agent was charged a miss, the agents' states, then hygiene: no channel (snoops
included), no bridge left in Asterisk, no SIPp call still open.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.asterisk.acd_runner import AcdRun, acd_settings, running_acd
from tests.asterisk.ari_probe import AriProbe
from tests.asterisk.conftest import AgentsFactory, CallerFactory
from tests.asterisk.faults import AriGap, Charges, reconnected
from tests.asterisk.harness import AsteriskInstance
from tests.asterisk.test_acd_scenarios import assert_hygiene, settled
from tests.store.proxy import TcpProxy

pytestmark = pytest.mark.asterisk

PRESS_SALES = [(2.0, "2")]  # see acd_runner.FLOW
WRAPUP = 1  # acd_settings' sales queue
# An agent is available this soon after ARI is back: the reconnect (first retry at
# once, backoff capped at 1 s), then wrap-up + 5 s.
BACK_WITHIN = 1.0 + WRAPUP + 5.0
Starter = Callable[..., AbstractAsyncContextManager[AcdRun]]


@pytest.fixture
async def gap(asterisk: AsteriskInstance) -> AsyncIterator[AriGap]:
    proxy = TcpProxy("127.0.0.1", int(urlsplit(asterisk.ari_url).port or 0))
    await proxy.up()
    try:
        yield AriGap(proxy)
    finally:
        await proxy.close()


@pytest.fixture
def acd(asterisk: AsteriskInstance, rest: AriProbe, gap: AriGap, redis_prefix: str,
        redis_client: object, pg_dsn: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Starter:
    """acd(**settings) -> async context manager giving an AcdRun whose ARI goes through
    the gap's proxy. No periodic reconciliation: what these tests see is the one
    after the reconnect. On leaving, ARI is back and Asterisk holds nothing."""
    asterisk.mark_log()
    asterisk.reset_taskprocessors()

    def start(**over: Any) -> AbstractAsyncContextManager[AcdRun]:
        @asynccontextmanager
        async def running() -> AsyncIterator[AcdRun]:
            settings = acd_settings(gap.url, asterisk.user, asterisk.password, redis_prefix,
                                    pg_dsn, tmp_path / "real", reconcile_every=0, **over)
            async with running_acd(settings, monkeypatch) as run:
                yield run
                await gap.proxy.up()
                await settled(rest, run)
        return running()
    return start


async def available_soon(run: AcdRun, agent: str, since: float) -> None:
    await run.wait_agent(agent, "available", timeout=BACK_WITHIN + 1)
    took = asyncio.get_running_loop().time() - since
    assert took <= BACK_WITHIN, f"{agent} available {took:.2f} s after ARI came back"


async def waiting_in_sales(run: AcdRun, n: int) -> None:
    router = run.app.router
    assert router is not None

    async def waiting() -> bool:
        return await router.waiting("sales") == n
    await run.wait_for(waiting, f"{n} callers waiting in sales")


async def test_connected_call_whose_parties_hang_up_in_the_gap(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter, gap: AriGap,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory) -> None:
    phones = sipp_agents(ring=0.5, talk=4.0, behaviours=("answer",))
    phone = phones["answer"]
    async with acd() as h:
        charges = Charges.watch(h)
        call = sipp_caller(dtmf=PRESS_SALES, hold=4.0)
        await h.wait_agent("a1", "on_call")
        await gap.cut((call, "acd:local-bye"), (phone, "acd:agent-local-bye"))
        back = await gap.restore((call, "acd:local-bye"), (phone, "acd:agent-local-bye"))
        await reconnected(h, back)
        assert (await call.wait(timeout=10)).ok
        call_id = await h.finished()
        row = await h.call(call_id)
        assert (row["outcome"], row["agent_id"]) == ("answered", "a1")
        legs = await h.legs(call_id)
        assert [(x["kind"], x["outcome"]) for x in legs] == [
            ("caller", "answered"), ("agent", "answered")]
        assert all(x["ended_at"] is not None for x in legs)
        assert [e for e, _ in await h.queue_events(call_id)] == [
            "enter", "offer", "connect", "complete"]
        await available_soon(h, "a1", back)
        await charges.assert_none(h, ("a1", "a2"))
        assert await h.agent_state("a2") == "available"
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)


async def test_waiting_caller_who_hangs_up_in_the_gap_is_no_ghost(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter, gap: AriGap,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory) -> None:
    phones = sipp_agents(ring=0.5, behaviours=("answer",))
    async with acd() as h:
        assert h.app.agents is not None and h.app.router is not None
        for agent in ("a1", "a2"):
            await h.app.agents.set_break(agent, "meeting")
        call = sipp_caller(dtmf=PRESS_SALES, hold=3.0)
        await waiting_in_sales(h, 1)
        await gap.cut((call, "acd:local-bye"))
        await gap.restore((call, "acd:local-bye"))
        assert (await call.wait(timeout=10)).ok
        call_id = await h.finished()
        row = await h.call(call_id)
        assert (row["outcome"], row["agent_id"]) == ("abandoned", None)
        assert row["wait_ms"] > 0
        assert await h.queue_events(call_id) == [("enter", None), ("abandon", None)]
        assert await h.app.router.waiting("sales") == 0
        # Nobody is offered the ghost: the agent stays available, no phone rings.
        await h.app.agents.available("a1")
        await asyncio.sleep(2.0)
        assert await h.agent_state("a1") == "available"
        assert await rest.channels() == []
        assert "acd:agent-answered" not in phones["answer"].markers()
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)


async def test_caller_hangs_up_in_the_gap_while_the_agent_rings(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter, gap: AriGap,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory) -> None:
    phones = sipp_agents(behaviours=("noanswer",))
    # Rings longer than the gap: Asterisk's own dial timeout must not end the ring.
    async with acd(endpoints=("PJSIP/agent280", "PJSIP/agent101"), ring_timeout=20) as h:
        assert h.app.agents is not None
        await h.app.agents.set_break("a2", "meeting")
        charges = Charges.watch(h)
        call = sipp_caller(dtmf=PRESS_SALES, hold=3.0)
        await h.wait_agent("a1", "ringing")
        await gap.cut((call, "acd:local-bye"))
        back = await gap.restore((call, "acd:local-bye"))
        assert (await call.wait(timeout=10)).ok
        call_id = await h.finished()
        row = await h.call(call_id)
        assert (row["outcome"], row["agent_id"]) == ("abandoned", None)
        assert [e for e, _ in await h.queue_events(call_id)] == ["enter", "offer", "abandon"]
        agent_legs = [x for x in await h.legs(call_id) if x["kind"] == "agent"]
        assert len(agent_legs) == 1 and agent_legs[0]["answered_at"] is None
        assert agent_legs[0]["ended_at"] is not None
        await available_soon(h, "a1", back)
        await charges.assert_none(h, ("a1",))
        await phones["noanswer"].wait_marker("acd:agent-cancelled")
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)


async def test_acd_failing_to_reach_asterisk_is_not_charged_to_agents(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter, gap: AriGap,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory) -> None:
    """Agents become available for a waiting caller while ARI refuses connections:
    every offer fails on acd's side (connection refused on /channels/create). No
    agent is charged or paused for it, and the caller is connected once ARI is back."""
    phones = sipp_agents(ring=0.5, talk=2.0, behaviours=("answer",))
    async with acd() as h:
        assert h.app.agents is not None
        charges = Charges.watch(h)
        for agent in ("a1", "a2"):
            await h.app.agents.set_break(agent, "meeting")
        call = sipp_caller(dtmf=PRESS_SALES, hold=30.0)
        await waiting_in_sales(h, 1)
        await gap.cut()
        await h.app.agents.available("a1")
        await h.app.agents.available("a2")
        await asyncio.sleep(2.0)  # offers fail meanwhile (max_missed is 2)
        for agent in ("a1", "a2"):
            view = await h.app.agents.get(agent)
            assert view.state != "break" and view.missed_in_row == 0, view
        back = await gap.restore()

        async def talking() -> bool:
            return "on_call" in {await h.agent_state(a) for a in ("a1", "a2")}
        await h.wait_for(talking, "the caller connected", timeout=BACK_WITHIN)
        connected_in = asyncio.get_running_loop().time() - back
        result = await call.wait(timeout=15)  # the agent hangs up after 2 s
        assert result.ok and "acd:remote-bye" in result.markers, result
        call_id = await h.finished()
        row = await h.call(call_id)
        assert row["outcome"] == "answered", (row, connected_in)
        legs = await h.legs(call_id)
        assert {x["outcome"] for x in legs if x["kind"] == "agent"} <= {"error", "answered"}
        await charges.assert_none(h, ("a1", "a2"))
        for agent in ("a1", "a2"):
            await h.wait_agent(agent, "available")
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)


async def test_ringing_leg_gone_in_the_gap_the_caller_stays_and_is_served(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter, gap: AriGap,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory) -> None:
    """The ringing agent leg ends in the gap (Asterisk hangs it up), the caller stays:
    after the reconnect the caller is offered again, not stranded, and the agent whose
    ring was cut short is not charged."""
    phones = sipp_agents(ring=0.5, talk=2.0, behaviours=("answer", "noanswer"))
    agents = [  # best skill first: a2 (agent101, answers) once back from a break
        {"id": "a1", "name": "Alice", "endpoint": "PJSIP/agent280", "skills": {"sales": 3},
         "login": True},
        {"id": "a2", "name": "Bob", "endpoint": "PJSIP/agent101", "skills": {"sales": 5},
         "login": True}]
    queues = [{"name": "sales", "skills": {"sales": 1}, "ring_timeout": 20,
               "wrapup": WRAPUP, "strategy": "best_skill"}]
    async with acd(agents=agents, queues=queues) as h:
        assert h.app.agents is not None
        await h.app.agents.set_break("a2", "meeting")
        charges = Charges.watch(h)
        call = sipp_caller(dtmf=PRESS_SALES, hold=30.0)
        await h.wait_agent("a1", "ringing")
        await gap.cut()
        (ringing,) = [c[0] for c in asterisk.channels_concise()
                      if c[0].startswith("PJSIP/agent280-")]
        asterisk.cli(f"channel request hangup {ringing}")
        await phones["noanswer"].wait_marker("acd:agent-cancelled")
        await h.app.agents.available("a2")
        back = await gap.restore()
        await h.wait_agent("a2", "on_call", timeout=BACK_WITHIN)
        result = await call.wait(timeout=15)  # a2 hangs up after 2 s
        assert result.ok and "acd:remote-bye" in result.markers, result
        call_id = await h.finished()
        row = await h.call(call_id)
        assert (row["outcome"], row["agent_id"]) == ("answered", "a2")
        agent_legs = [(x["agent_id"], x["answered_at"] is None)
                      for x in await h.legs(call_id) if x["kind"] == "agent"]
        assert agent_legs == [("a1", True), ("a2", False)]
        await available_soon(h, "a1", back)
        await charges.assert_none(h, ("a1", "a2"))
        await h.wait_agent("a2", "available")
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)
