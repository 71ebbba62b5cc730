"""A consult to an outside number on the real Asterisk (issue 17): a1, on a SIPp
caller's call, consults `number:0...`; acd creates `Local/<number>@agents/n` into its
app and dials it; its ;2 half runs the shipped [agents] rule for 0... (Dial through
the carrier trunk, whose contact is sip:127.0.0.2:5060 as shipped), where a SIPp
phone answers. a1 and the outside party talk in the consult bridge while the caller
hears music; complete: the caller with the outside party, a1 to wrap-up; the caller
hangs up: the call is written once (answered, agent a1). Hygiene afterwards."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from tests.asterisk import sipp
from tests.asterisk.ari_probe import AriProbe
from tests.asterisk.conftest import AgentsFactory, CallerFactory
from tests.asterisk.harness import AsteriskInstance
from tests.asterisk.test_acd_scenarios import Starter, acd, assert_hygiene
from tests.asterisk.test_acd_transfers import ask, on_call_with_a1, wait_bridged

pytestmark = pytest.mark.asterisk
__all__ = ["acd"]  # the fixture
CARRIER = ("127.0.0.2", 5060)  # config/asterisk/pjsip.conf [caller-trunk] aor contact
NUMBER = "05550001"
LOCAL = f"Local/{NUMBER}@agents"  # either half (the names up to the "-")


def _carrier_phone(workdir: Path, behaviour: str = "answer") -> sipp.Sipp:
    """A SIPp phone at the carrier trunk's shipped address (answers after 0.5 s, rings
    until cancelled, or answers 486 Busy)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(CARRIER)
        except OSError:
            pytest.fail(f"{CARRIER[0]}:{CARRIER[1]} (the carrier trunk's contact) is in use")
    return sipp.phone(workdir, behaviour, *CARRIER, ring=0.5).start()


async def test_consult_a_number_then_complete(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter, sipp_caller: CallerFactory,
        sipp_agents: AgentsFactory, tmp_path: Path) -> None:
    phones = sipp_agents(ring=0.5, behaviours=("answer",))
    carrier = _carrier_phone(tmp_path / "carrier")
    try:
        async with acd() as h:
            call, call_id = await on_call_with_a1(h, sipp_caller, hold=9.0)
            reply = await ask(h, call_id, "consult", to=f"number:{NUMBER}")
            assert (reply["state"], reply["target"]) == ("ringing", f"number:{NUMBER}")
            # The consult: a1 with the ;1 half acd holds; the caller alone (music). The
            # ;2 half's Dial() bridges it with the carrier's leg (PJSIP/caller-trunk-...).
            await wait_bridged(rest, [[LOCAL, "PJSIP/agent100"], [LOCAL, "PJSIP/caller"],
                                      ["PJSIP/caller"]])
            await asyncio.sleep(1.0)
            assert (await ask(h, call_id, "complete"))["state"] == "completed"
            await wait_bridged(rest, [[LOCAL, "PJSIP/caller"], [LOCAL, "PJSIP/caller"]])
            await h.wait_agent("a1", "wrap_up")
            result = await call.wait(timeout=20)
            assert result.ok, result
            assert await h.finished() == call_id
            events = await h.queue_events(call_id)
            assert events[2:] == [("connect", "a1"), ("consult", "a1"), ("transfer", "a1"),
                                  ("consult_end", "a1"), ("complete", "a1"),
                                  ("connect", None)], events
            legs = await h.legs(call_id)
            assert [(x["kind"], x["agent_id"], x["outcome"]) for x in legs] == [
                ("caller", "a1", "answered"), ("agent", "a1", "answered"),
                ("transfer", None, "answered")]
            assert json.loads(legs[2]["detail"]) == {"target": f"number:{NUMBER}",
                                                     "mode": "attended"}
            row = await h.call(call_id)
            assert (row["outcome"], row["agent_id"]) == ("answered", "a1")
            await h.assert_acd_clean()
        await assert_hygiene(asterisk, rest, {**phones, "carrier": carrier})
    finally:
        carrier.stop()


@pytest.mark.parametrize(("behaviour", "outcome"), [("noanswer", "cancelled"),
                                                    ("busy", "busy")])
async def test_consult_a_number_not_answered(
        asterisk: AsteriskInstance, rest: AriProbe, acd: Starter, sipp_caller: CallerFactory,
        sipp_agents: AgentsFactory, tmp_path: Path, behaviour: str, outcome: str) -> None:
    """The outside party rings and a1 cancels, or it is busy: a1 back with the caller
    (music off), the leg's row says why, a1 is not charged, nothing left up."""
    phones = sipp_agents(ring=0.5, behaviours=("answer",))
    carrier = _carrier_phone(tmp_path / "carrier", behaviour)
    try:
        async with acd() as h:
            call, call_id = await on_call_with_a1(h, sipp_caller, hold=6.0)
            reply = await ask(h, call_id, "consult", to=f"number:{NUMBER}")
            assert reply["state"] == "ringing", reply
            if behaviour == "noanswer":
                async def ringing() -> bool:
                    return any(c["name"].startswith(LOCAL) and c["state"] == "Ringing"
                               for c in await rest.channels())
                await h.wait_for(ringing, "the outside party ringing", timeout=10)
                assert (await ask(h, call_id, "cancel"))["state"] == "cancelled"
                await carrier.wait_marker("acd:agent-cancelled", timeout=10)
            await wait_bridged(rest, [["PJSIP/agent100", "PJSIP/caller"]])
            assert await h.agent_state("a1") == "on_call"
            result = await call.wait(timeout=20)
            assert result.ok, result
            assert await h.finished() == call_id
            legs = await h.legs(call_id)
            assert [(x["kind"], x["agent_id"], x["outcome"]) for x in legs] == [
                ("caller", "a1", "answered"), ("agent", "a1", "answered"),
                ("transfer", None, outcome)], legs
            row = await h.call(call_id)
            assert (row["outcome"], row["agent_id"]) == ("answered", "a1")
            await h.wait_agent("a1", "available")
            await h.assert_acd_clean()
        await assert_hygiene(asterisk, rest, {**phones, "carrier": carrier})
    finally:
        carrier.stop()
