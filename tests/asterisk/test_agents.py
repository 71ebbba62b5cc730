"""Agent legs made over ARI (POST /channels/create + /dial) to SIPp phones."""

from __future__ import annotations

import pytest

from tests.asterisk.ari_probe import AriProbe, of_type
from tests.asterisk.conftest import AgentsFactory
from tests.asterisk.harness import AsteriskInstance

pytestmark = pytest.mark.asterisk


async def _create_and_dial(probe: AriProbe, endpoint: str, timeout: int) -> str:
    status, chan = await probe.request("POST", "/channels/create", endpoint=endpoint,
                                       app="acd", appArgs="agent")
    assert status == 200, chan
    cid = str(chan["id"])
    assert chan["state"] == "Down"
    # /dial right after /create can be refused 409 "Channel not in Stasis application":
    # the channel enters Stasis a moment after /create returns. Wait for StasisStart.
    await probe.wait_event(of_type("StasisStart", cid))
    assert (await probe.request("POST", f"/channels/{cid}/dial", timeout=str(timeout)))[0] == 204
    return cid


async def test_agent_answers(
    asterisk: AsteriskInstance, ari_probe: AriProbe, sipp_agents: AgentsFactory
) -> None:
    phones = sipp_agents(ring=0.5)
    await ari_probe.connect()
    cid = await _create_and_dial(ari_probe, "PJSIP/agent100", timeout=5)
    start = await ari_probe.wait_event(of_type("StasisStart", cid), timeout=0)
    assert start["args"] == ["agent"]
    await ari_probe.wait_event(of_type("Dial", cid, dialstatus="RINGING"))
    await ari_probe.wait_event(of_type("Dial", cid, dialstatus="ANSWER"), timeout=5)
    up = await ari_probe.wait_event(
        lambda e: of_type("ChannelStateChange", cid)(e) and e["channel"]["state"] == "Up")
    assert up["channel"]["name"].startswith("PJSIP/agent100-")
    await phones["answer"].wait_marker("acd:agent-answered")
    assert (await ari_probe.request("DELETE", f"/channels/{cid}"))[0] == 204
    await ari_probe.wait_event(of_type("StasisEnd", cid))
    await phones["answer"].wait_marker("acd:agent-remote-bye")
    assert await ari_probe.wait_no_channels() == []


async def test_agent_hangs_up_after_talk_time(
    asterisk: AsteriskInstance, ari_probe: AriProbe, sipp_agents: AgentsFactory
) -> None:
    phones = sipp_agents(ring=0.2, talk=1.0, behaviours=("answer",))
    await ari_probe.connect()
    cid = await _create_and_dial(ari_probe, "PJSIP/agent101", timeout=5)
    await ari_probe.wait_event(of_type("Dial", cid, dialstatus="ANSWER"), timeout=5)
    await ari_probe.wait_event(of_type("ChannelHangupRequest", cid), timeout=5)
    await ari_probe.wait_event(of_type("StasisEnd", cid))
    # the phone's BYE: ChannelHangupRequest without a cause (unbridged), StasisEnd, then
    # ChannelDestroyed with cause 16 (the app stays subscribed to a channel it made)
    destroyed = await ari_probe.wait_event(of_type("ChannelDestroyed", cid), timeout=2)
    assert destroyed["cause"] == 16
    await phones["answer"].wait_marker("acd:agent-local-bye")
    assert await ari_probe.wait_no_channels() == []


@pytest.mark.parametrize(
    ("endpoint", "timeout", "cause", "marker"),
    [
        ("PJSIP/agent290", 5, 17, "acd:agent-busy"),  # 486 Busy Here
        ("PJSIP/agent280", 2, 19, "acd:agent-cancelled"),  # rings until the dial timeout
    ],
    ids=["busy", "noanswer"],
)
async def test_agent_does_not_answer(
    asterisk: AsteriskInstance, ari_probe: AriProbe, sipp_agents: AgentsFactory,
    endpoint: str, timeout: int, cause: int, marker: str,
) -> None:
    phones = sipp_agents()
    await ari_probe.connect()
    cid = await _create_and_dial(ari_probe, endpoint, timeout=timeout)
    destroyed = await ari_probe.wait_event(of_type("ChannelDestroyed", cid), timeout=timeout + 5)
    assert destroyed["cause"] == cause
    # seen on the real Asterisk: no Dial event with BUSY / NOANSWER for create + dial
    statuses = [e["dialstatus"] for e in ari_probe.events if of_type("Dial", cid)(e)]
    assert "BUSY" not in statuses and "NOANSWER" not in statuses and "ANSWER" not in statuses
    behaviour = "busy" if cause == 17 else "noanswer"
    await phones[behaviour].wait_marker(marker)
    assert await ari_probe.wait_no_channels() == []
