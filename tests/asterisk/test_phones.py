"""The phone is the truth (issue 18) on the real Asterisk: SIPp softphones REGISTER and
unregister, call a colleague, or answer and send no media; acd follows each phone
through the endpoint and device-state events, and routes by it.

What the real Asterisk sent for a REGISTER and an unregistration is compared with
what the simulator sends for the same (acd/sim/lines.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from acd.ari import events as ev
from acd.config import PhoneSettings
from acd.routing.phones import PhoneWatcher
from tests.asterisk import sipp
from tests.asterisk.acd_runner import AcdRun, acd_settings, running_acd
from tests.asterisk.conftest import AgentsFactory, CallerFactory
from tests.asterisk.harness import SILENT_RTP_TIMEOUT, SOFTPHONE_IP, AsteriskInstance

pytestmark = pytest.mark.asterisk

PRESS_SALES = [(2.0, "2")]  # see acd_runner.FLOW
Starter = Callable[..., AbstractAsyncContextManager[AcdRun]]


@pytest.fixture
def phone_events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The phone events acd handled, one word each (type:detail)."""
    seen: list[str] = []
    original = PhoneWatcher.handle

    async def recording(self: PhoneWatcher, event: ev.Event) -> None:
        seen.append(describe(event.raw))
        await original(self, event)
    monkeypatch.setattr(PhoneWatcher, "handle", recording)
    return seen


def describe(raw: dict[str, Any]) -> str:
    t = raw.get("type")
    if t == "ContactStatusChange":
        return f"{t}:{raw['contact_info']['contact_status']}"
    if t == "PeerStatusChange":
        return f"{t}:{raw['peer']['peer_status']}"
    if t == "EndpointStateChange":
        return f"{t}:{raw['endpoint']['state']}"
    if t == "DeviceStateChanged":
        return f"{t}:{raw['device_state']['state']}:{raw['device_state']['name']}"
    return str(t)


@pytest.fixture
def start_acd(asterisk: AsteriskInstance, redis_prefix: str, redis_client: object,
              pg_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Starter:
    @asynccontextmanager
    async def start(endpoints: tuple[str, str], **phones: Any) -> AsyncIterator[AcdRun]:
        settings = acd_settings(asterisk.ari_url, asterisk.user, asterisk.password,
                                redis_prefix, pg_dsn, tmp_path, endpoints=endpoints)
        settings.phones = PhoneSettings(**phones)
        async with running_acd(settings, monkeypatch) as run:
            yield run
    return start


async def phone_is(run: AcdRun, agent_id: str, state: str, timeout: float = 15.0) -> None:
    assert run.app.agents is not None
    agents = run.app.agents

    async def ok() -> bool:
        return (await agents.get(agent_id)).phone == state
    await run.wait_for(ok, f"agent {agent_id}'s phone to be {state}", timeout)


async def missed(run: AcdRun, agent_id: str) -> int:
    assert run.app.agents is not None
    return (await run.app.agents.get(agent_id)).missed_in_row


async def test_unregistered_phone_is_skipped_with_no_miss_then_registers(
        asterisk: AsteriskInstance, start_acd: Starter, sipp_agents: AgentsFactory,
        sipp_caller: CallerFactory, phone_events: list[str], tmp_path: Path) -> None:
    sipp_agents(behaviours=("answer",))
    async with start_acd(("PJSIP/agent285", "PJSIP/agent101")) as run:
        await phone_is(run, "a1", "unregistered")  # no contact: GET /endpoints says offline
        await phone_is(run, "a2", "registered")
        caller = sipp_caller(dtmf=PRESS_SALES, hold=3.0)
        assert (await caller.wait(60)).ok
        call_id = await run.finished()
        events = await run.queue_events(call_id)
        assert events[:3] == [("enter", None), ("offer", "a2"), ("connect", "a2")], events
        assert ("offer", "a1") not in events
        assert await missed(run, "a1") == 0 and await run.agent_state("a1") == "available"

        # The softphone registers: acd hears it from Asterisk's events.
        before = len(phone_events)
        secret = asterisk.agent_password("agent285")
        reg = sipp.register(tmp_path / "sipp", "register", asterisk.sip_host,
                            asterisk.sip_port, aor="agent285", password=secret,
                            ip=SOFTPHONE_IP, expires=120)
        assert (await reg.start().wait(20)).ok, reg.result
        await phone_is(run, "a1", "registered")
        registered = phone_events[before:]
        unreg = sipp.register(tmp_path / "sipp", "unregister", asterisk.sip_host,
                              asterisk.sip_port, aor="agent285", password=secret,
                              ip=SOFTPHONE_IP, expires=0)
        before = len(phone_events)
        assert (await unreg.start().wait(20)).ok, unreg.result
        await phone_is(run, "a1", "unregistered")
        unregistered = phone_events[before:]
    # The simulator sends what the real Asterisk sent (acd/sim/lines.py).
    print("real Asterisk, REGISTER:", registered, "unREGISTER:", unregistered)
    sim_registered = ["EndpointStateChange:online", "PeerStatusChange:Reachable",
                      "ContactStatusChange:NonQualified",
                      "DeviceStateChanged:NOT_INUSE:PJSIP/agent285"]
    sim_unregistered = ["EndpointStateChange:offline", "PeerStatusChange:Unreachable",
                        "DeviceStateChanged:UNAVAILABLE:PJSIP/agent285",
                        "ContactStatusChange:Removed"]
    # Endpoint, peer, device state and contact come from topics of their own, in any
    # order: the device state was seen before the peer's and before the endpoint's
    # (both cores busy). The same four events, each once; acd needs no order of them.
    assert sorted(registered) == sorted(sim_registered), registered
    assert sorted(unregistered) == sorted(sim_unregistered), unregistered


async def test_a_phone_busy_on_a_call_between_agents_is_not_offered(
        asterisk: AsteriskInstance, start_acd: Starter, sipp_agents: AgentsFactory,
        sipp_caller: CallerFactory, phone_events: list[str], tmp_path: Path) -> None:
    sipp_agents(behaviours=("answer",))
    async with start_acd(("PJSIP/agent101", "PJSIP/agent102")) as run:
        await phone_is(run, "a1", "registered")
        # agent286's softphone calls agent 101 (context [agents] dials PJSIP/agent101).
        colleague = sipp.phone_call(tmp_path / "sipp", "colleague", asterisk.sip_host,
                                    asterisk.sip_port, number="101", agent="agent286",
                                    password=asterisk.agent_password("agent286"),
                                    ip=SOFTPHONE_IP, hold=60.0).start()
        try:
            await colleague.wait_marker("acd:phone-answered", 15)
            await phone_is(run, "a1", "in_use")
            caller = sipp_caller(dtmf=PRESS_SALES, hold=3.0)
            assert (await caller.wait(60)).ok
            call_id = await run.finished()
            # The colleagues' call ends (from Asterisk's side: the only call left).
            assert "agent286" in asterisk.cli("core show channels concise")
            asterisk.cli("channel request hangup all")
            await phone_is(run, "a1", "registered")  # the colleagues' call is over
            assert "agent286" not in asterisk.cli("core show channels concise")
        finally:
            colleague.stop()
        events = await run.queue_events(call_id)
        assert events[:3] == [("enter", None), ("offer", "a2"), ("connect", "a2")], events
        assert ("offer", "a1") not in events
        assert await missed(run, "a1") == 0
    assert "DeviceStateChanged:INUSE:PJSIP/agent101" in phone_events


async def test_a_phone_that_stops_sending_media_ends_the_call(
        asterisk: AsteriskInstance, start_acd: Starter, sipp_agents: AgentsFactory,
        sipp_caller: CallerFactory) -> None:
    """agent289's phone answers and sends no media; its rtp_timeout is 4 s. Asterisk
    ends the agent leg within rtp_timeout + 2 s; acd tells the caller and hangs up
    (phones.agent_lost: hangup) and the rows say agent_lost."""
    sipp_agents(behaviours=("silent",))
    async with start_acd(("PJSIP/agent289", "PJSIP/agent288"), agent_lost="hangup",
                         agent_lost_hangup_after=1.0) as run:
        await phone_is(run, "a2", "unregistered")  # never offered: only a1 can answer
        caller = sipp_caller(dtmf=PRESS_SALES, hold=None)  # on the line until hung up
        call_id = await run.finished(timeout=40)
        result = await caller.wait(20)
        assert "acd:remote-bye" in result.markers, result
        legs = [r for r in await run.legs(call_id) if r["kind"] == "agent"]
        assert [(r["agent_id"], r["outcome"]) for r in legs] == [("a1", "agent_lost")]
        leg = legs[0]
        silent_for = (leg["ended_at"] - leg["answered_at"]).total_seconds()
        assert SILENT_RTP_TIMEOUT - 0.5 <= silent_for <= SILENT_RTP_TIMEOUT + 2, silent_for
        print("agent leg hang-up cause on an RTP timeout:", leg["hangup_cause"])
        rows = await run.pg.fetch(
            "SELECT event, agent_id, detail FROM queue_events WHERE call_id=$1 "
            "ORDER BY at, event_id", call_id)
        lost = [(r["event"], r["agent_id"]) for r in rows
                if r["detail"] and json.loads(r["detail"]).get("reason") == "agent_lost"]
        assert lost == [("complete", "a1")]
        call = await run.call(call_id)
        assert call["outcome"] == "answered"
        assert run.app.agents is not None
        view = await run.app.agents.get("a1")
        assert (view.state, view.reason) == ("break", "phone_lost")
