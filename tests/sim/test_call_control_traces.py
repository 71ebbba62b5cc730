"""The call-control scenarios of the real-Asterisk tier (tests/asterisk/
test_call_control.py), run on the simulator and compared with what the real Asterisk
22.10.1 did (tests/asterisk/traces/control_<scenario>.jsonl): each role's event
sequence, the status of every probed request, and the NOTIFYs the transferring
phone got. The phone's moves, made by SIPp on the real side, are the simulator's
phone_hold / phone_unhold / phone_refer / remote_hangup here."""

from __future__ import annotations

from typing import Any

import pytest

from acd.sim.transfers import STATES, transfer_handling
from tests.asterisk import control_scenarios as sc
from tests.asterisk import control_script as cs
from tests.sim.conftest import Ari

PHONE = "PJSIP/agent285"


class SimDriver:
    """control_script.Driver on the simulator."""

    def __init__(self, ari: Ari) -> None:
        self.ari = ari
        self.events = ari.events
        self.destination = ""
        self.replaces: str | None = None
        self.notifies: list[str] = []

    async def request(self, method: str, path: str, **params: str) -> tuple[int, Any]:
        return await self.ari.call(method, "/ari" + path, **params)

    async def wait_event(self, predicate: cs.Predicate, timeout: float = 10.0,
                         start: int = 0) -> cs.Event:
        found: list[cs.Event] = []

        def seen() -> bool:
            found[:] = [e for e in self.events[start:] if predicate(e)][:1]
            return bool(found)
        await self.ari.until(seen, "an event", timeout)
        return found[0]

    async def caller(self, hangs_up_after: float | None = None) -> str:
        start = len(self.events)
        self.ari.sim.place_call("+15551", "100", caller_name="Caller",
                                hangup_after=hangs_up_after)
        return str((await self.wait_event(cs.of("StasisStart"), start=start))["channel"]["id"])

    def phone_channel(self) -> str:
        chans = [c for c in self.ari.sim.world.channels.values()
                 if c.name.startswith(PHONE + "-")]
        assert len(chans) == 1, chans
        return chans[0].id

    async def phone_event(self, what: str) -> None:
        sim, cid = self.ari.sim, self.phone_channel()
        if what == "held":
            sim.phone_hold(cid)
        elif what == "unheld":
            sim.phone_unhold(cid)
        elif what == "refer-accepted":
            self.notifies = sim.phone_refer(cid, self.destination, self.replaces)
        elif what == "refer-done":
            await self.ari.until(lambda: self.notifies[-1] != "100", "the final NOTIFY")
        elif what == "hung-up":
            sim.remote_hangup(cid)
        else:
            raise AssertionError(what)


@pytest.fixture
def sim(ari: Ari) -> SimDriver:
    ari.sim.set_endpoint("PJSIP", "agent285", "answer", answer_after=0.3)
    for n in (101, 102):
        ari.sim.set_endpoint("PJSIP", f"agent{n}", "answer", answer_after=0.3)
    return SimDriver(ari)


def assert_like_real(scenario: str, s: cs.Script) -> None:
    real_seqs, real_answers = cs.load(cs.TRACES / f"control_{scenario}.jsonl")
    diff = cs.differences(real_seqs, s.sequences())
    assert not diff, "real Asterisk | simulator\n" + diff
    statuses = {k: v[0] for k, v in s.answers.items()}
    assert statuses == {k: v[0] for k, v in real_answers.items()}
    for label, (status, body) in real_answers.items():
        if status >= 400 or label == "phone_notifies":
            assert s.answers[label][1] == body, label


async def test_hold_from_the_phone(ari: Ari, sim: SimDriver) -> None:
    await ari.connect()
    s = cs.Script(sim)
    await sc.hold_from_phone(s, PHONE)
    assert_like_real("hold_from_phone", s)
    held = next(e for e in ari.events if e["type"] == "ChannelHold")
    assert held["musicclass"] == "default"


async def test_hold_from_ari(ari: Ari, sim: SimDriver) -> None:
    await ari.connect()
    s = cs.Script(sim)
    await sc.hold_from_ari(s, "PJSIP/agent101", ari.clock.sleep)
    assert_like_real("hold_from_ari", s)


async def test_blind_refer(ari: Ari, sim: SimDriver) -> None:
    await ari.connect()
    sim.destination = "102"
    s = cs.Script(sim)
    event = await sc.blind_refer(s, PHONE, "PJSIP/agent102")
    s.answers["phone_notifies"] = (0, list(sim.notifies))
    assert_like_real("blind_refer", s)
    assert event["refer_to"]["requested_destination"] == {"destination": "102"}
    assert s.roles[event["referred_by"]["connected_channel"]["id"]] == "caller"
    assert s.roles[event["referred_by"]["bridge"]["id"]] == "bridge"


@pytest.mark.parametrize(("target", "timeout", "state"), [
    ("PJSIP/agent290", "10", "channel_declined"),
    ("PJSIP/agent280", "2", "channel_unavailable"),
])
async def test_blind_refer_to_a_target_that_fails(ari: Ari, sim: SimDriver, target: str,
                                                  timeout: str, state: str) -> None:
    await ari.connect()
    sim.destination = target[-3:]
    s = cs.Script(sim)
    await sc.blind_refer_target_fails(s, PHONE, target, timeout, state)
    s.answers["phone_notifies"] = (0, list(sim.notifies))
    assert_like_real(f"blind_refer_{state}", s)


async def test_attended_refer(ari: Ari, sim: SimDriver) -> None:
    await ari.connect()
    s = cs.Script(sim)
    consult = await sc.consult(s, "PJSIP/agent101", "PJSIP/agent102")
    sim.destination, sim.replaces = "101", consult.leg
    event = await sc.attended_refer(s, PHONE, consult)
    s.answers["phone_notifies"] = (0, list(sim.notifies))
    assert_like_real("attended_refer", s)
    refer_to = event["refer_to"]
    assert s.roles[refer_to["destination_channel"]["id"]] == "consult"
    assert s.roles[refer_to["connected_channel"]["id"]] == "party"
    assert s.roles[refer_to["bridge"]["id"]] == "consult_bridge"


async def test_attended_refer_dropping_the_consult_bridge_first(ari: Ari, sim: SimDriver
                                                               ) -> None:
    await ari.connect()
    s = cs.Script(sim)
    consult = await sc.consult(s, "PJSIP/agent101", "PJSIP/agent102")
    sim.destination, sim.replaces = "101", consult.leg
    await sc.attended_refer(s, PHONE, consult, drop_consult_bridge_first=True)
    s.answers["phone_notifies"] = (0, list(sim.notifies))
    assert_like_real("attended_refer_consult_bridge_dropped_first", s)


async def test_a_bridge_deleted_with_a_member(ari: Ari, sim: SimDriver) -> None:
    await ari.connect()
    s = cs.Script(sim)
    await sc.bridge_deleted_with_a_member(s, "PJSIP/agent101", "PJSIP/agent102")
    assert_like_real("bridge_deleted_with_a_member", s)


async def test_monitor_and_record(ari: Ari, sim: SimDriver) -> None:
    await ari.connect()
    s = cs.Script(sim)
    t = await sc.monitor_and_record(s, "PJSIP/agent101", "PJSIP/agent102", "rec-1",
                                    ari.clock.monotonic, ari.clock.sleep)
    assert_like_real("monitor_and_record", s)
    _, seconds = ari.sim.world.media.stored["rec-1"]
    assert seconds == pytest.approx(t.recorded - t.paused, abs=0.3)
    snoops = [c for c in s.roles if s.roles[c].startswith("snoop")]
    assert len(snoops) == 2


@pytest.mark.parametrize(("tech", "resource", "variables", "expected"), [
    ("PJSIP", "agent100", {}, "ari-only"),        # pjsip_wizard.conf's set_var
    ("PJSIP", "caller-trunk", {}, "core"),
    ("PJSIP", "agent100", {"PJSIP_TRANSFER_HANDLING()": "core"}, "core"),
    ("Local", "agent100", {}, "core"),
])
def test_transfer_handling(tech: str, resource: str, variables: dict[str, str],
                           expected: str) -> None:
    assert transfer_handling(tech, resource, variables) == expected


async def test_transfer_progress_states(ari: Ari, sim: SimDriver) -> None:
    """Every state ARI takes is accepted on a channel in Stasis; a REFER on a channel
    with core handling is not simulated (refused loudly, not silently)."""
    await ari.connect()
    cid = await sim.caller()
    for state in STATES:
        status, _ = await ari.call("POST", f"/ari/channels/{cid}/transfer_progress",
                                   states=state)
        assert status == 204, state
    with pytest.raises(ValueError, match="not simulated"):
        ari.sim.phone_refer(cid, "102")


# -- the same phone buttons over the /sim HTTP API -------------------------------------

@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("POST", "/sim/channels/nope/hold", None, 404),
    ("DELETE", "/sim/channels/nope/hold", None, 404),
    ("POST", "/sim/channels/nope/refer", {"destination": "102"}, 404),
    ("GET", "/sim/channels/nope/refer", None, 404),
])
async def test_sim_api_phone_buttons_on_no_channel(ari: Ari, method: str, path: str,
                                                   body: object, status: int) -> None:
    assert (await ari.call(method, path, json=body))[0] == status


async def test_sim_api_phone_buttons(ari: Ari, sim: SimDriver) -> None:
    await ari.connect()
    s = cs.Script(sim)
    caller = await s.answered_caller()
    agent = await s.leg(PHONE, "agent", originator=caller)
    await s.bridge("bridge", caller, agent)
    assert (await ari.call("POST", f"/sim/channels/{agent}/hold"))[0] == 204
    assert (await ari.call("DELETE", f"/sim/channels/{agent}/hold"))[0] == 204
    await sim.wait_event(cs.of("ChannelUnhold", agent))
    # A caller's channel has core transfer handling: its REFER is not simulated.
    status, body = await ari.call("POST", f"/sim/channels/{caller}/refer",
                                  json={"destination": "102"})
    assert status == 409 and "not simulated" in body["message"]
    for bad in ({}, {"destination": ""}, {"destination": "102", "replaces": 7}):
        assert (await ari.call("POST", f"/sim/channels/{agent}/refer", json=bad))[0] == 400
    status, body = await ari.call("POST", f"/sim/channels/{agent}/refer",
                                  json={"destination": "102"})
    assert (status, body) == (201, {"notifies": ["100"]})
    event = await sim.wait_event(cs.of("ChannelTransfer"))
    assert event["referred_by"]["source_channel"]["id"] == agent
    assert (await ari.call("POST", f"/ari/channels/{agent}/transfer_progress",
                           states="channel_answered"))[0] == 204
    status, body = await ari.call("GET", f"/sim/channels/{agent}/refer")
    assert (status, body) == (200, {"destination": "102", "notifies": ["100", "200"],
                                    "ended": True})
    assert [k for k in ari.of(agent) if k.startswith("Channel") and "Hold" in k] == [
        "ChannelHold"]


async def test_the_caller_hangs_up_during_a_consult(ari: Ari, sim: SimDriver) -> None:
    await ari.connect()
    s = cs.Script(sim)
    await sc.caller_hangs_up_during_a_consult(s, "PJSIP/agent101", "PJSIP/agent102", 6.0)
    assert_like_real("caller_hangs_up_during_a_consult", s)
