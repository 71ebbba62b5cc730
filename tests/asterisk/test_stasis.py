"""A SIPp caller reaches Stasis(acd) on a real Asterisk; without acd the fallback runs."""

from __future__ import annotations

import asyncio

import pytest

from tests.asterisk.ari_probe import AriProbe, of_type
from tests.asterisk.conftest import AgentsFactory, CallerFactory
from tests.asterisk.harness import BENCH_CALLER_IP, AsteriskInstance

pytestmark = pytest.mark.asterisk


async def test_caller_reaches_stasis_answer_play_dtmf_hangup(
    asterisk: AsteriskInstance, ari_probe: AriProbe, sipp_caller: CallerFactory,
) -> None:
    await ari_probe.connect()
    call = sipp_caller(exten="100", caller_id="+15551", dtmf=[(2.0, "1")], hold=30.0)
    start = await ari_probe.wait_event(of_type("StasisStart"))
    channel = start["channel"]
    cid = channel["id"]
    assert channel["dialplan"]["exten"] == "100"
    assert channel["dialplan"]["context"] == "from-pstn"
    assert channel["caller"]["number"] == "+15551"
    assert channel["name"].startswith("PJSIP/caller-trunk-")
    assert channel["state"] == "Ring"  # the dialplan does not answer: acd does

    assert (await ari_probe.request("POST", f"/channels/{cid}/answer"))[0] == 204
    status, _playback = await ari_probe.request("POST", f"/channels/{cid}/play",
                                               media="sound:hello-world", lang="en")
    assert status == 201
    await ari_probe.wait_event(of_type("PlaybackStarted"))
    dtmf = await ari_probe.wait_event(of_type("ChannelDtmfReceived", cid), timeout=10)
    assert dtmf["digit"] == "1"

    assert (await ari_probe.request("DELETE", f"/channels/{cid}"))[0] == 204
    # Nothing follows StasisEnd: Stasis was the app's only subscription to this
    # caller (test_findings.py).
    await ari_probe.wait_event(of_type("StasisEnd", cid))
    result = await call.wait(timeout=15)
    assert result.ok, result
    assert "acd:remote-bye" in result.markers
    assert await ari_probe.wait_no_channels() == []
    assert await ari_probe.bridges() == []


async def test_caller_hangs_up_during_prompt(
    asterisk: AsteriskInstance, ari_probe: AriProbe, sipp_caller: CallerFactory,
) -> None:
    await ari_probe.connect()
    call = sipp_caller(dtmf=[], hold=1.0)
    start = await ari_probe.wait_event(of_type("StasisStart"))
    cid = start["channel"]["id"]
    await ari_probe.request("POST", f"/channels/{cid}/answer")
    await ari_probe.request("POST", f"/channels/{cid}/play", media="sound:acd-welcome")
    await ari_probe.wait_event(of_type("StasisEnd", cid), timeout=10)
    result = await call.wait(timeout=10)
    assert result.ok and "acd:local-bye" in result.markers, result
    kinds = [e["type"] for e in ari_probe.events]
    # seen on the real Asterisk: hang-up request, the prompt fails, then StasisEnd
    assert kinds.index("ChannelHangupRequest") < kinds.index("PlaybackFinished") \
        < kinds.index("StasisEnd")
    finished = next(e for e in ari_probe.events if e["type"] == "PlaybackFinished")
    assert finished["playback"]["state"] == "failed"
    assert await ari_probe.wait_no_channels() == []


async def test_without_acd_the_dialplan_fallback_takes_the_call(
    asterisk: AsteriskInstance, ari_probe: AriProbe, sipp_caller: CallerFactory,
    sipp_agents: AgentsFactory,
) -> None:
    apps = await ari_probe.get("/applications")
    assert "acd" not in [a["name"] for a in apps]  # nobody is connected as acd
    phones = sipp_agents(ring=0.2, behaviours=("answer",))
    asterisk.mark_log()
    call = sipp_caller(dtmf=[], hold=8.0)
    await call.wait_marker("acd:answered", timeout=10)  # the fallback answers at once
    # ... apologises, then app_queue rings an agent, who answers
    await phones["answer"].wait_marker("acd:agent-answered", timeout=10)
    chans = asterisk.channels_concise()
    caller_leg = [c for c in chans if c[0].startswith("PJSIP/caller-trunk-")]
    assert caller_leg and caller_leg[0][1] == "acd-fallback" and caller_leg[0][5] == "Queue", chans
    result = await call.wait(timeout=20)
    assert result.ok, result
    log = asterisk.log_since_mark()
    assert "Stasis app 'acd' doesn't exist" in log
    for _ in range(50):
        if not asterisk.channels_concise():
            break
        await asyncio.sleep(0.1)
    assert asterisk.channels_concise() == []


async def test_bench_trunk_goes_straight_to_app_queue(
    asterisk: AsteriskInstance, ari_probe: AriProbe, sipp_caller: CallerFactory,
    sipp_agents: AgentsFactory,
) -> None:
    await ari_probe.connect()  # acd is there, but this trunk does not go through it
    asterisk.mark_log()
    phones = sipp_agents(ring=0.2, behaviours=("answer",))
    call = sipp_caller(dtmf=[], hold=3.0, source_ip=BENCH_CALLER_IP, caller_id="+15552")
    await phones["answer"].wait_marker("acd:agent-answered", timeout=10)
    chans = asterisk.channels_concise()
    assert any(c[0].startswith("PJSIP/bench-trunk-") and c[1] == "queue-bench"
               and c[5] == "Queue" for c in chans), chans
    result = await call.wait(timeout=15)
    assert result.ok, result
    assert [e for e in ari_probe.events if e["type"] == "StasisStart"] == []
    assert asterisk.taskprocessor_warnings(asterisk.log_since_mark()) == []


async def test_a_leg_created_while_no_client_listens_never_reaches_the_app(
    asterisk: AsteriskInstance, ari_probe: AriProbe, sipp_agents: AgentsFactory,
) -> None:
    """An agent leg created into the app while no events socket is open (acd's HTTP
    came back before its WebSocket did): Asterisk answers the create with 200, then
    drops the channel at once, silently (nobody listens), and the phone never rings.
    acd therefore creates no channel into an app it is not listening to
    (`CallDeps.listening`); the simulator does the same (acd/sim)."""
    phones = sipp_agents(ring=0.2, behaviours=("answer",))
    apps = await ari_probe.get("/applications")
    assert "acd" not in [a["name"] for a in apps]
    leg = "acd-probe-unheard"
    status, body = await ari_probe.request(
        "POST", "/channels/create", endpoint="PJSIP/agent100", app="acd", channelId=leg)
    assert status == 200 and body["id"] == leg, (status, body)
    status, body = await ari_probe.request("POST", f"/channels/{leg}/dial", timeout="10")
    assert status == 404, (status, body)
    await asyncio.sleep(1.0)
    status, _ = await ari_probe.request("GET", f"/channels/{leg}")
    assert status == 404
    assert "acd:agent-answered" not in phones["answer"].markers()
    assert asterisk.channels_concise() == []
