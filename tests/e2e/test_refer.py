"""The agent phone's own transfer button (issue 17): a blind REFER on the agent's leg
(ChannelTransfer, PJSIP_TRANSFER_HANDLING ari-only) carried out like the desktop's
transfer, the phone told with transfer_progress (its NOTIFYs), on the simulator
with real Redis and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.e2e.test_transfers import api, bridged_with, channel, connected_to_a1, transfer_events

__all__ = ["api"]  # the fixture


def agent_leg(api: Api, endpoint: str = "PJSIP/agent100") -> str:
    legs = [x["id"] for x in api.h.sim.state()["channels"] if x["endpoint"] == endpoint]
    assert len(legs) == 1, legs
    return str(legs[0])


async def test_a_blind_refer_to_another_agent(api: Api) -> None:
    h = api.h
    ch = await connected_to_a1(api, "+15550901")
    notifies = h.sim.phone_refer(agent_leg(api), "101")
    await h.wait_agent("a2", "on_call")
    await h.wait_for(lambda: bridged_with(api, ch) == {"PJSIP/agent101"}, "caller with a2")
    await h.wait_for(lambda: notifies[-1:] == ["200"], "the phone's NOTIFY 200")
    assert notifies == ["100", "200"] and not channel(api, ch)["moh"]
    # The phone did not hang up its leg: acd does a little later; a1 wraps up.
    await h.wait_for(lambda: not [x for x in h.sim.state()["channels"]
                                  if x["endpoint"] == "PJSIP/agent100"], "a1's leg to go")
    assert await h.agent_state("a1") in ("wrap_up", "available")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    detail = (await transfer_events(api, call_id))[0]
    assert (detail["via"], detail["by"], detail["to"], detail["result"]) == (
        "phone", "phone:a1", "agent:a2", "completed")
    legs = await h.legs(call_id)
    assert [(x["kind"], x["agent_id"]) for x in legs][1:] == [("agent", "a1"), ("transfer", "a2")]
    await h.assert_clean()


@pytest.mark.parametrize(("behaviour", "notify"), [("busy", "603"), ("noanswer", "503")])
async def test_a_blind_refer_whose_target_fails(api: Api, behaviour: str, notify: str) -> None:
    h = api.h
    h.sim.set_endpoint("PJSIP", "agent101", behaviour)
    ch = await connected_to_a1(api, "+15550902")
    notifies = h.sim.phone_refer(agent_leg(api), "101")
    await h.wait_for(lambda: len(notifies) == 2, "the phone's final NOTIFY", timeout=20)
    assert notifies == ["100", notify]
    await h.wait_for(lambda: not channel(api, ch)["moh"], "the caller's music to stop")
    assert bridged_with(api, ch) == {"PJSIP/agent100"}  # still talking to a1
    assert await h.agent_state("a1") == "on_call"
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    await h.assert_clean()


@pytest.mark.parametrize("destination", ["999", "8999"])
async def test_a_refer_acd_cannot_carry_out_is_declined(api: Api, destination: str) -> None:
    h = api.h
    ch = await connected_to_a1(api, "+15550903")
    notifies = h.sim.phone_refer(agent_leg(api), destination)
    await h.wait_for(lambda: len(notifies) == 2, "the phone's final NOTIFY")
    assert notifies == ["100", "603"]
    assert bridged_with(api, ch) == {"PJSIP/agent100"} and not channel(api, ch)["moh"]
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    await h.assert_clean()


async def test_a_blind_refer_to_an_outside_number(api: Api) -> None:
    h = api.h
    ch = await connected_to_a1(api, "+15550904")
    notifies = h.sim.phone_refer(agent_leg(api), "05551234")
    call_id = await h.finished(ch)
    await h.wait_for(lambda: notifies[-1:] == ["200"], "the phone's NOTIFY 200")
    call = await h.call(call_id)
    assert (call["outcome"], call["agent_id"]) == ("transferred", "a1")
    await h.assert_clean()


async def test_a_blind_refer_to_8_and_an_acd_number_runs_its_flow(api: Api) -> None:
    h = api.h
    ch = await connected_to_a1(api, "+15550905")
    notifies = h.sim.phone_refer(agent_leg(api), "8100")
    await h.wait_for(lambda: notifies[-1:] == ["200"], "the phone's NOTIFY 200")
    await h.wait_for(lambda: h.live(ch).phase.value == "ivr", "the flow to run")
    assert h.live(ch).flow_name == "e2e_main"
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    await h.assert_clean()
