"""What the real Asterisk does where the simulator was found wrong (tests/sim/
test_asterisk_findings.py holds the simulator to the same). Raw ARI, no acd; run with
ACD_RECORD_TRACES=1 to keep the traces in tests/asterisk/traces/<test name>.jsonl."""

from __future__ import annotations

import pytest

from tests.asterisk.ari_probe import AriProbe, of_type
from tests.asterisk.conftest import AgentsFactory, CallerFactory
from tests.asterisk.harness import AsteriskInstance
from tests.asterisk.sipp import Sipp

pytestmark = pytest.mark.asterisk


def keys(probe: AriProbe, cid: str) -> list[str]:
    """Event types about one channel, as tests/sim/conftest.py's Ari.of writes them."""
    out = []
    for e in probe.events:
        chan = e.get("channel") or e.get("peer") or {}
        if chan.get("id") != cid or e["type"] in ("ChannelDialplan", "ChannelConnectedLine"):
            continue
        if e["type"] == "ChannelVarset" and e["variable"] != "STASISSTATUS":
            continue
        extra = e.get("dialstatus", e.get("cause", e.get("value")))
        if e["type"] == "ChannelStateChange":
            extra = chan["state"]
        out.append(e["type"] if extra is None else f"{e['type']}:{extra}")
    return out


async def _caller(probe: AriProbe, sipp_caller: CallerFactory, hold: float) -> tuple[str, Sipp]:
    start = len(probe.events)
    call = sipp_caller(dtmf=[], hold=hold)
    ev = await probe.wait_event(of_type("StasisStart"), start=start)
    cid = str(ev["channel"]["id"])
    assert (await probe.request("POST", f"/channels/{cid}/answer"))[0] == 204
    await call.wait_marker("acd:answered")    # its ACK is out: a BYE is no surprise now
    return cid, call


async def test_after_stasis_end_the_app_hears_only_what_it_subscribed_to(
        asterisk: AsteriskInstance, ari_probe: AriProbe, sipp_caller: CallerFactory) -> None:
    await ari_probe.connect()
    # A caller only Stasis held: the app hangs it up; nothing follows StasisEnd.
    alone, call1 = await _caller(ari_probe, sipp_caller, hold=10.0)
    assert (await ari_probe.request("DELETE", f"/channels/{alone}"))[0] == 204
    await ari_probe.wait_event(of_type("StasisEnd", alone))
    assert await ari_probe.wait_no_channels() == []
    # A caller named as the originator of a /channels/create with an app (here one
    # that fails): the app stays subscribed and hears the rest after StasisEnd.
    named, call2 = await _caller(ari_probe, sipp_caller, hold=1.0)
    status, body = await ari_probe.request("POST", "/channels/create", endpoint="PJSIP/nobody",
                                           app="acd", originator=named)
    assert (status, body) == (500, {"error": "Allocation failed"})
    await ari_probe.wait_event(of_type("ChannelDestroyed", named), timeout=5)
    assert keys(ari_probe, alone) == ["StasisStart", "ChannelStateChange:Up",
                                      "ChannelHangupRequest:32", "StasisEnd"]
    assert keys(ari_probe, named)[2:] == [
        "ChannelHangupRequest", "StasisEnd", "ChannelVarset:SUCCESS",
        "ChannelHangupRequest:16", "ChannelDestroyed:0"]
    for call in (call1, call2):
        assert (await call.wait(timeout=10)).ok
    assert await ari_probe.wait_no_channels() == []


async def test_a_bridged_agent_leg_hung_up_by_its_phone_has_cause_16(
        asterisk: AsteriskInstance, ari_probe: AriProbe, sipp_agents: AgentsFactory) -> None:
    phones = sipp_agents(ring=0.2, talk=1.0, behaviours=("answer",))
    await ari_probe.connect()
    status, chan = await ari_probe.request("POST", "/channels/create", endpoint="PJSIP/agent101",
                                           app="acd", appArgs="agent")
    assert status == 200
    cid = str(chan["id"])
    await ari_probe.wait_event(of_type("StasisStart", cid))
    assert (await ari_probe.request("POST", f"/channels/{cid}/dial", timeout="5"))[0] == 204
    await ari_probe.wait_event(of_type("Dial", cid, dialstatus="ANSWER"), timeout=5)
    status, bridge = await ari_probe.request("POST", "/bridges", type="mixing")
    assert status == 200
    assert (await ari_probe.request("POST", f"/bridges/{bridge['id']}/addChannel",
                                    channel=cid))[0] == 204
    await ari_probe.wait_event(of_type("ChannelDestroyed", cid), timeout=5)
    # Unbridged, the same phone's BYE gives a ChannelHangupRequest without a cause
    # (agent_hangs_up_after_talk_time.jsonl).
    assert keys(ari_probe, cid)[-6:] == [
        "ChannelEnteredBridge", "ChannelHangupRequest:16", "ChannelLeftBridge", "StasisEnd",
        "ChannelVarset:SUCCESS", "ChannelDestroyed:16"]
    assert (await ari_probe.request("DELETE", f"/bridges/{bridge['id']}"))[0] == 204
    await phones["answer"].wait_marker("acd:agent-local-bye")
    assert await ari_probe.wait_no_channels() == []


PLAYLISTS = ["sound:digits/9,sound:digits/2", "sound:no-such,sound:digits/2",
             "bogus:thing,sound:digits/2"]


async def test_a_playlist_announces_each_item(
        asterisk: AsteriskInstance, ari_probe: AriProbe, sipp_caller: CallerFactory) -> None:
    await ari_probe.connect()
    cid, call = await _caller(ari_probe, sipp_caller, hold=20.0)
    for media in PLAYLISTS:       # queued: they play one after the other
        assert (await ari_probe.request("POST", f"/channels/{cid}/play", media=media))[0] == 201
    start = 0
    for _ in PLAYLISTS:
        done = await ari_probe.wait_event(of_type("PlaybackFinished"), start=start, timeout=10)
        start = ari_probe.events.index(done) + 1
    got = [(e["type"], e["playback"]["media_uri"], e["playback"].get("next_media_uri"),
            e["playback"]["state"]) for e in ari_probe.events if e["type"].startswith("Playback")]
    assert got == [
        ("PlaybackStarted", "sound:digits/9", "sound:digits/2", "playing"),
        ("PlaybackContinuing", "sound:digits/9", "sound:digits/2", "continuing"),
        ("PlaybackStarted", "sound:digits/2", None, "playing"),
        ("PlaybackFinished", "sound:digits/2", None, "done"),
        ("PlaybackStarted", "sound:no-such", "sound:digits/2", "playing"),
        ("PlaybackContinuing", "sound:no-such", "sound:digits/2", "continuing"),
        ("PlaybackStarted", "sound:digits/2", None, "playing"),
        ("PlaybackFinished", "sound:digits/2", None, "done"),
        ("PlaybackStarted", "bogus:thing", "sound:digits/2", "playing"),
        ("PlaybackStarted", "sound:digits/2", None, "playing"),
        ("PlaybackFinished", "sound:digits/2", None, "done")]
    assert (await ari_probe.request("DELETE", f"/channels/{cid}"))[0] == 204
    assert (await call.wait(timeout=10)).ok
    assert await ari_probe.wait_no_channels() == []

