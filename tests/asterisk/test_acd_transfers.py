"""acd's transfers on the real Asterisk (issue 17): SIPp caller and agent phones,
real Redis and PostgreSQL. A blind transfer to another agent (the move), an attended
transfer completed and one cancelled (consult over the API's moves), and a SIPp
agent phone's own blind REFER that acd carries out (the phone gets NOTIFY 200), and
its attended transfer: its second call through `[agents]` into acd, then its REFER
with Replaces naming that call, or its own hang-up of that call (a hand-written
phone, tests/asterisk/sip_phone.py: SIPp cannot build that Replaces).
Each asserts the bridges on the real Asterisk, the rows, the agents' states, then
hygiene (no channel, no bridge, no SIPp call left)."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.asterisk.acd_runner import AcdRun
from tests.asterisk.ari_probe import AriProbe
from tests.asterisk.conftest import AgentsFactory, CallerFactory
from tests.asterisk.harness import SOFTPHONE_IP, AsteriskInstance, free_port, free_udp_pair
from tests.asterisk.sequences import differences, load_trace, sequences
from tests.asterisk.sip_phone import Dialog, SipPhone
from tests.asterisk.sipp import SIP_TEST, Sipp, _set_timeout, phone_call
from tests.asterisk.test_acd_scenarios import PRESS_SALES, Starter, acd, assert_hygiene
from tests.asterisk.transfer_twins import run_on_simulator, trace_path

pytestmark = pytest.mark.asterisk
__all__ = ["acd"]  # the fixture
SameOnSim = Callable[[AcdRun], Awaitable[None]]


@pytest.fixture
def same_on_simulator(request: pytest.FixtureRequest, redis_prefix: str, pg_dsn: str,
                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SameOnSim:
    """check(real): keep the real sequences (on request, or when none are kept), play
    the scenario on the simulator (tests/asterisk/transfer_twins.py), compare."""
    scenario = request.node.name.removeprefix("test_")

    async def check(real: AcdRun) -> None:
        path = trace_path(scenario)
        stale = differences(sequences(load_trace(path)), real.per_role()) if (
            path.exists()) else "no kept trace"
        if stale and (os.environ.get("ACD_RECORD_TRACES") == "1" or not path.exists()):
            real.save_trace(path)
        elif stale:
            pytest.fail(f"{scenario}: the real Asterisk's sequences differ from the kept "
                        f"{path.name}:\n{stale}", pytrace=False)
        sim = await run_on_simulator(scenario, f"{redis_prefix}-sim", pg_dsn,
                                     tmp_path / "sim", monkeypatch)
        diff = differences(real.per_role(), sim.per_role())
        assert diff == "", f"{scenario} (real Asterisk | simulator):\n{diff}"
    return check


async def on_call_with_a1(h: AcdRun, sipp_caller: CallerFactory, hold: float) -> tuple[Sipp, str]:
    """A SIPp caller keys sales; a1 answers (a2 on break meanwhile, then available)."""
    assert h.app.agents is not None and h.app.calls is not None
    await h.app.agents.set_break("a2", "x")
    call = sipp_caller(dtmf=PRESS_SALES, hold=hold)
    await h.wait_agent("a1", "on_call", timeout=20)
    await h.app.agents.available("a2")
    (state,) = h.app.calls.calls.values()
    return call, state.call_id


async def bridged(rest: AriProbe) -> list[list[str]]:
    """The channel names in each bridge on the real Asterisk."""
    names = {str(c["id"]): str(c["name"]) for c in await rest.channels()}
    return sorted(sorted(names.get(ch, ch).split("-")[0] for ch in b["channels"])
                  for b in await rest.bridges())


async def wait_bridged(rest: AriProbe, expected: list[list[str]], timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while (seen := await bridged(rest)) != expected:
        assert loop.time() < end, f"bridges {seen}, expected {expected}"
        await asyncio.sleep(0.1)


async def ask(h: AcdRun, call_id: str, move: str, **args: Any) -> dict[str, Any]:
    assert h.app.control is not None
    reply = await h.app.control.ask(call_id, move, args, by="agent:a1")
    assert reply.ok, reply
    return dict(reply.data)


async def transferred_to_a2(h: AcdRun, call_id: str) -> None:
    """The call a1 took ended with a2 (the transfer's leg answered): its legs, its
    agent; a2 available again; nothing left in acd."""
    legs = await h.legs(call_id)
    assert [(x["kind"], x["agent_id"], x["outcome"]) for x in legs] == [
        ("caller", "a2", "answered"), ("agent", "a1", "answered"),
        ("transfer", "a2", "answered")]
    assert (await h.call(call_id))["agent_id"] == "a2"
    await h.wait_agent("a2", "available")
    await h.assert_acd_clean()


async def test_blind_transfer_to_another_agent(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory,
        same_on_simulator: SameOnSim) -> None:
    phones = sipp_agents(ring=0.5, behaviours=("answer",))
    async with acd() as h:
        call, call_id = await on_call_with_a1(h, sipp_caller, hold=8.0)
        assert (await ask(h, call_id, "transfer", to="agent:a2"))["state"] == "ringing"
        await h.wait_agent("a2", "on_call")
        await wait_bridged(rest, [["PJSIP/agent101", "PJSIP/caller"]])
        await h.wait_agent("a1", "wrap_up")
        result = await call.wait(timeout=20)
        assert result.ok, result
        assert await h.finished() == call_id
        assert await h.queue_events(call_id) == [
            ("enter", None), ("offer", "a1"), ("connect", "a1"), ("transfer", "a1"),
            ("complete", "a1"), ("connect", "a2"), ("complete", "a2")]
        await transferred_to_a2(h, call_id)
    await assert_hygiene(asterisk, rest, phones)
    await same_on_simulator(h)


@pytest.mark.parametrize("end", ["complete", "cancel"])
async def test_attended_transfer(asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
                                 sipp_caller: CallerFactory, sipp_agents: AgentsFactory,
                                 same_on_simulator: SameOnSim, end: str) -> None:
    phones = sipp_agents(ring=0.5, behaviours=("answer",))
    async with acd() as h:
        call, call_id = await on_call_with_a1(h, sipp_caller, hold=9.0)
        assert (await ask(h, call_id, "consult", to="agent:a2"))["state"] == "ringing"
        await h.wait_agent("a2", "on_call")
        # The consult: a1 and a2 in their bridge, the caller alone in the call's (music).
        await wait_bridged(rest, [["PJSIP/agent100", "PJSIP/agent101"], ["PJSIP/caller"]])
        await asyncio.sleep(1.0)
        assert (await ask(h, call_id, end))["state"] == {"complete": "completed",
                                                          "cancel": "cancelled"}[end]
        stays, leaves = ("PJSIP/agent101", "a1") if end == "complete" else (
            "PJSIP/agent100", "a2")
        await wait_bridged(rest, [[stays, "PJSIP/caller"]])
        await h.wait_agent(leaves, "wrap_up")
        result = await call.wait(timeout=20)
        assert result.ok, result
        assert await h.finished() == call_id
        events = await h.queue_events(call_id)
        assert ("consult", "a1") in events and ("consult_end", "a1") in events, events
        assert (("transfer", "a1") in events) == (end == "complete")
        legs = await h.legs(call_id)
        assert [x["kind"] for x in legs] == ["caller", "agent", "transfer"]
        assert (await h.call(call_id))["agent_id"] == ("a2" if end == "complete" else "a1")
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)
    await same_on_simulator(h)


class PhoneConsult(NamedTuple):
    h: AcdRun
    phone: SipPhone
    call: Sipp  # the SIPp caller
    call_id: str
    first: Dialog  # the phone's acd call
    second: Dialog  # its own call to 101, acd's consult


@asynccontextmanager
async def phone_consulting(asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
                           sipp_caller: CallerFactory, sipp_agents: AgentsFactory,
                           hold: float) -> AsyncIterator[PhoneConsult]:
    """a1's phone (sip_phone.SipPhone as agent285) takes the call and dials 101 itself:
    a2 rung by acd and bridged with that second call, the caller with a1. After the body
    (acd stopped): hygiene, then the phone closed."""
    phones = sipp_agents(ring=0.5, behaviours=("answer",))
    port = free_port(SOFTPHONE_IP, socket.SOCK_DGRAM)
    phone = await SipPhone(SOFTPHONE_IP, port, "agent285", asterisk.agent_password("agent285"),
                           (asterisk.sip_host, asterisk.sip_port)).start()
    try:
        async with acd(endpoints=(f"PJSIP/agent285/sip:agent285@{SOFTPHONE_IP}:{port}",
                                  "PJSIP/agent101")) as h:
            call, call_id = await on_call_with_a1(h, sipp_caller, hold=hold)
            first = await asyncio.wait_for(phone.incoming.get(), 10)
            second = await phone.call("101")
            # The phone heard a2 ringing before they answered (acd's Ringback).
            assert f"< SIP/2.0 180 Ringing ({second.call_id[:12]})" in phone.log, phone.log
            await h.wait_agent("a2", "on_call", timeout=20)
            await wait_bridged(rest, [["PJSIP/agent101", "PJSIP/agent285"],
                                      ["PJSIP/agent285", "PJSIP/caller"]])
            yield PhoneConsult(h, phone, call, call_id, first, second)
        await assert_hygiene(asterisk, rest, phones)
    finally:
        phone.close()


def refer_phone(workdir: Path, refer_to: str) -> tuple[Sipp, str]:
    """The SIPp agent phone that answers and, 1.5 s later, REFERs (sip_test/agent_refer.xml);
    the endpoint acd dials it at."""
    workdir.mkdir(parents=True, exist_ok=True)
    text = (SIP_TEST / "agent_refer.xml").read_text()
    text = _set_timeout(_set_timeout(text, "refer_ms", 1.5), "talk_ms", 0.5)
    xml = workdir / "phone_agent_refer.xml"
    xml.write_text(text)
    port = free_port(SOFTPHONE_IP, socket.SOCK_DGRAM)
    args = ["-sf", str(xml), "-i", SOFTPHONE_IP, "-p", str(port), "-mi", SOFTPHONE_IP,
            "-mp", str(free_udp_pair(SOFTPHONE_IP)), "-d", "300", "-m", "1",
            "-key", "refer_to", refer_to]
    return Sipp(name=xml.stem, workdir=workdir, args=args).start(), \
        f"PJSIP/agent285/sip:agent285@{SOFTPHONE_IP}:{port}"


async def test_a_blind_refer_from_the_agent_phone(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory, tmp_path: Path,
        same_on_simulator: SameOnSim) -> None:
    phones = sipp_agents(ring=0.5, behaviours=("answer",))
    phone, endpoint = refer_phone(
        tmp_path / "sipp", f"<sip:101@{asterisk.sip_host}:{asterisk.sip_port}>")
    try:
        async with acd(endpoints=(endpoint, "PJSIP/agent101")) as h:
            call, call_id = await on_call_with_a1(h, sipp_caller, hold=9.0)
            await phone.wait_marker("acd:refer-accepted", timeout=15)
            await h.wait_agent("a2", "on_call")
            await wait_bridged(rest, [["PJSIP/agent101", "PJSIP/caller"]])
            assert (await phone.wait(timeout=15)).ok, phone.markers()
            notifies = [m.removeprefix("acd:notify-") for m in phone.markers()
                        if m.startswith("acd:notify-")]
            assert notifies[0] == "100" and notifies[-1] == "200", notifies
            await h.wait_agent("a1", "wrap_up")
            result = await call.wait(timeout=20)
            assert result.ok, result
            assert await h.finished() == call_id
            rows = await h.pg.fetch("SELECT detail FROM queue_events WHERE call_id=$1 AND "
                                    "event='transfer'", call_id)
            assert len(rows) == 1 and '"via": "phone"' in str(rows[0]["detail"])
            assert (await h.call(call_id))["agent_id"] == "a2"
            await h.assert_acd_clean()
        await assert_hygiene(asterisk, rest, phones)
    finally:
        phone.stop()
    await same_on_simulator(h)


async def test_an_attended_refer_from_the_agent_phone(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory,
        same_on_simulator: SameOnSim) -> None:
    """a1's phone (sip_phone.SipPhone as agent285) takes the call, dials 101 (a2 rung
    by acd, bridged with its second call) and presses transfer: a REFER on acd's leg
    replacing the second call. acd completes it: NOTIFY 200 to the phone, the caller
    with a2, a1 to wrap-up; the phone hangs its first call up, acd the second."""
    async with phone_consulting(asterisk, rest, acd, sipp_caller, sipp_agents,
                                hold=15.0) as pc:
        h, phone, call, call_id, first, second = pc
        assert (await phone.refer_replacing(first, "101", second)).status == 202
        await h.wait_for(lambda: any("terminated" in s for _, s in phone.notifies),
                         "the last NOTIFY", timeout=10)
        assert [status for status, _ in phone.notifies][-1] == "200", phone.notifies
        assert (await phone.bye(first)).status == 200  # as a phone does once told
        await wait_bridged(rest, [["PJSIP/agent101", "PJSIP/caller"]])
        await asyncio.wait_for(second.ended.wait(), 10)
        assert second.ended_by == "them", phone.log  # acd let the second call go
        await h.wait_agent("a1", "wrap_up")
        assert await h.agent_state("a2") == "on_call"
        await h.wait_agent("a1", "available")
        result = await call.wait(timeout=30)  # the caller hangs up, talking to a2
        assert result.ok, result
        assert await h.finished() == call_id
        events = await h.queue_events(call_id)
        assert [x for x in events if x[0] in ("consult", "consult_end", "transfer",
                                              "connect")] == [
            ("connect", "a1"), ("consult", "a1"), ("transfer", "a1"),
            ("consult_end", "a1"), ("connect", "a2")], events
        (detail,) = await h.pg.fetch("SELECT detail FROM queue_events WHERE "
                                     "call_id=$1 AND event='transfer'", call_id)
        assert '"mode": "attended"' in str(detail["detail"]), detail
        assert '"via": "phone"' in str(detail["detail"]), detail
        await transferred_to_a2(h, call_id)
    assert all(d.ended.is_set() for d in phone.dialogs.values()), phone.log
    await same_on_simulator(h)


async def test_the_agent_phone_hangs_its_consult_call_up(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory,
        same_on_simulator: SameOnSim) -> None:
    """The phone's own BYE on its second call (no REFER): the consult ends at once, a2
    wraps up, the caller is back with a1 (docs/call-control.md: SIPp's BYE there left
    the channel up for seconds)."""
    async with phone_consulting(asterisk, rest, acd, sipp_caller, sipp_agents,
                                hold=12.0) as pc:
        h, phone, call, call_id, first, second = pc
        assert (await phone.bye(second)).status == 200
        await wait_bridged(rest, [["PJSIP/agent285", "PJSIP/caller"]], timeout=2)
        await h.wait_agent("a2", "wrap_up", timeout=2)
        assert await h.agent_state("a1") == "on_call"
        await asyncio.wait_for(first.ended.wait(), 20)  # the caller hangs up
        assert first.ended_by == "them", phone.log
        assert (await call.wait(timeout=20)).ok
        assert await h.finished() == call_id
        events = await h.queue_events(call_id)
        assert ("consult_end", "a1") in events and ("transfer", "a1") not in events
        assert (await h.call(call_id))["agent_id"] == "a1"
        await h.assert_acd_clean()
    await same_on_simulator(h)


async def test_a_local_channel_is_never_taken_for_a_caller(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter) -> None:
    """A Local channel into acd's app (the issue's phantom call: a core transfer puts
    `Local/<number>@<context>-...;1` where the agent was): hung up, no IVR, no row."""
    async with acd() as h:
        assert h.app.calls is not None and h.app.writer is not None
        before = await h.pg.fetchval("SELECT count(*) FROM calls")
        status, body = await rest.request("POST", "/channels", endpoint="Local/100@from-pstn",
                                          app="acd")
        assert status == 200, body
        assert str(body["name"]).startswith("Local/100@from-pstn-")
        assert str(body["name"]).endswith(";1")
        await h.wait_for(lambda: h.app.calls.strangers >= 1, "acd to refuse the Local channel")
        assert await rest.wait_no_channels(5) == []
        await asyncio.sleep(0.5)
        assert h.app.calls.calls == {} and h.ended == {}
        await h.app.writer.flush()
        assert await h.pg.fetchval("SELECT count(*) FROM calls") == before
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, {})


async def test_a_consult_from_the_agent_phone_through_agents(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter,
        sipp_caller: CallerFactory, sipp_agents: AgentsFactory, tmp_path: Path,
        same_on_simulator: SameOnSim) -> None:
    """agent100's phone, on an acd call, dials 101 itself: `[agents]` hands that call
    to acd (`Stasis(acd,phone,101)`), which rings a2 and bridges them in a consult
    bridge; the second call ends: the consult ends, a2 wraps up, the caller is still
    with a1. (The phone's REFER with Replaces naming that second call:
    test_an_attended_refer_from_the_agent_phone, with a phone SIPp is not.)"""
    phones = sipp_agents(ring=0.5, behaviours=("answer",))
    async with acd() as h:
        call, call_id = await on_call_with_a1(h, sipp_caller, hold=20.0)
        second = phone_call(tmp_path / "sipp", "second", asterisk.sip_host, asterisk.sip_port,
                            number="101", agent="agent100",
                            password=asterisk.agent_password("agent100"), ip=SOFTPHONE_IP,
                            hold=60.0).start()
        try:
            await h.wait_agent("a2", "on_call", timeout=20)
            await wait_bridged(rest, [["PJSIP/agent100", "PJSIP/agent101"],
                                      ["PJSIP/agent100", "PJSIP/caller"]])
            # The second call ends, hung up from Asterisk's side (SIPp's own BYE here got
            # its 200 but the channel stayed up for seconds: not understood yet).
            (leg,) = [str(x["id"]) for x in await rest.channels()
                      if str(x["name"]).startswith("PJSIP/agent100-")
                      and not str(x["id"]).startswith("acd-")]
            assert (await rest.request("DELETE", f"/channels/{leg}"))[0] == 204
            await h.wait_agent("a2", "wrap_up")
            await wait_bridged(rest, [["PJSIP/agent100", "PJSIP/caller"]])
            assert await h.agent_state("a1") == "on_call"
        finally:
            second.stop()
        result = await call.wait(timeout=30)
        assert result.ok, result
        assert await h.finished() == call_id
        events = await h.queue_events(call_id)
        assert ("consult", "a1") in events and ("consult_end", "a1") in events, events
        assert ("transfer", "a1") not in events
        legs = await h.legs(call_id)
        assert [(x["kind"], x["agent_id"]) for x in legs] == [
            ("caller", "a1"), ("agent", "a1"), ("transfer", "a2")]
        assert await h.pg.fetchval("SELECT count(*) FROM calls WHERE call_id<>$1 AND "
                                   "started_at >= (SELECT started_at FROM calls WHERE "
                                   "call_id=$1)", call_id) == 0
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, phones)
    await same_on_simulator(h)
