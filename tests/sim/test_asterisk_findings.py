"""What comparing acd's event sequences on a real Asterisk 22 with the simulator's found.

Each test pins one behaviour the simulator got wrong until the real-Asterisk tier
(tests/asterisk/test_acd_scenarios.py) compared the two; the recordings that show it
are kept in tests/asterisk/traces/ (tests/asterisk/test_findings.py checks the
real side), the sources cited are Asterisk 22.10.1's.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.sim.conftest import Ari


async def _caller(ari: Ari) -> str:
    status, body = await ari.call("POST", "/sim/calls",
                                  json={"caller": "+15550002", "exten": "100"})
    assert status == 201
    cid = str(body["channel_id"])
    await ari.until(lambda: "StasisStart" in ari.of(cid), "the caller in Stasis")
    return cid


async def _all_events_in(ari: Ari) -> None:
    """Every event sent so far has arrived: a later call's StasisStart follows them."""
    before = sum(e["type"] == "StasisStart" for e in ari.events)
    await ari.call("POST", "/sim/calls", json={"caller": "+15550009", "exten": "100"})
    await ari.until(lambda: sum(e["type"] == "StasisStart" for e in ari.events) > before,
                    "a later call")


async def _agent(ari: Ari, endpoint: str = "PJSIP/agent100",
                 originator: str | None = None) -> tuple[int, Any]:
    extra = {"originator": originator} if originator else {}
    return await ari.call("POST", "/ari/channels/create", endpoint=endpoint, app="acd",
                          appArgs="agent", **extra)


# -- 1. After StasisEnd the app hears of a channel only if it subscribed to it otherwise.
# res/res_stasis.c unsubscribes the app before sending StasisEnd; /channels/create
# with `app` subscribes it to the new channel and to the `originator`
# (res/ari/resource_channels.c). Real: after_stasis_end_the_app_hears_only_what_it_
# subscribed_to.jsonl, acd_caller_abandons_in_queue.jsonl and caller_hangs_up_during_
# prompt.jsonl (nothing after StasisEnd), acd_caller_hangs_up_while_agent_rings.jsonl
# (an agent leg made for the caller: the rest follows).

@pytest.mark.parametrize(("how", "expected"), [
    ("phone", ["StasisStart", "ChannelHangupRequest", "StasisEnd"]),
    ("app", ["StasisStart", "ChannelHangupRequest:32", "StasisEnd"]),
])
async def test_nothing_follows_stasis_end_of_a_channel_only_stasis_held(
        ari: Ari, how: str, expected: list[str]) -> None:
    await ari.connect()
    cid = await _caller(ari)
    if how == "phone":
        ari.sim.remote_hangup(cid)
    else:
        assert (await ari.call("DELETE", f"/ari/channels/{cid}"))[0] == 204
    await _all_events_in(ari)
    assert ari.of(cid) == expected


@pytest.mark.parametrize("endpoint", ["PJSIP/agent100", "PJSIP/nobody"])
async def test_the_originator_of_an_agent_leg_stays_subscribed(ari: Ari, endpoint: str) -> None:
    await ari.connect()
    cid = await _caller(ari)
    status, _ = await _agent(ari, endpoint, originator=cid)
    # The subscription comes before the channel is requested: it holds even when the
    # request fails (500 Allocation failed for an endpoint that does not exist).
    assert status == (200 if endpoint == "PJSIP/agent100" else 500)
    ari.sim.remote_hangup(cid)
    await _all_events_in(ari)
    assert ari.of(cid) == ["StasisStart", "ChannelHangupRequest", "StasisEnd",
                           "ChannelVarset:SUCCESS", "ChannelHangupRequest:16",
                           "ChannelDestroyed:0"]
    if endpoint == "PJSIP/agent100":
        status, app = await ari.call("GET", "/ari/applications/acd")
        assert status == 200
        assert cid not in app["channel_ids"]     # destroyed, so no longer listed


# -- 2. A dialled leg in a bridge, hung up by its phone, carries cause 16.
# Real: acd_agent_hangs_up_first.jsonl (agent1 ChannelHangupRequest(16)) and
# a_bridged_agent_leg_hung_up_by_its_phone_has_cause_16.jsonl (alone in a mixing
# bridge); unbridged it has no cause (agent_hangs_up_after_talk_time.jsonl), nor has
# a caller's, bridged or not (acd_answered_call.jsonl).

@pytest.mark.parametrize(("bridged", "cause"), [(True, ":16"), (False, "")])
async def test_a_dialled_leg_hung_up_by_its_phone(ari: Ari, bridged: bool, cause: str) -> None:
    await ari.connect()
    caller = await _caller(ari)
    status, chan = await _agent(ari, originator=caller)
    assert status == 200
    agent = str(chan["id"])
    await ari.until(lambda: "StasisStart" in ari.of(agent), "the agent leg in Stasis")
    assert (await ari.call("POST", f"/ari/channels/{agent}/dial", timeout="5"))[0] == 204
    await ari.until(lambda: "Dial:ANSWER" in ari.of(agent), "the agent to answer")
    if bridged:
        status, bridge = await ari.call("POST", "/ari/bridges", type="mixing")
        assert status == 200
        members = f"{caller},{agent}"
        status, _ = await ari.call("POST", f"/ari/bridges/{bridge['id']}/addChannel",
                                   channel=members)
        assert status == 204
    ari.sim.remote_hangup(agent)
    ari.sim.remote_hangup(caller)
    await _all_events_in(ari)
    hangups = [k for k in ari.of(agent) if k.startswith("ChannelHangupRequest")]
    assert hangups == [f"ChannelHangupRequest{cause}"]
    assert [k for k in ari.of(caller) if k.startswith("ChannelHangupRequest")] == [
        "ChannelHangupRequest", "ChannelHangupRequest:16"]


# -- 3. A playlist: each item starts with PlaybackStarted; one that ends with another
# after it gives PlaybackContinuing naming the item that ended (res_stasis_playback.c
# play_on_channel). Real: acd_invalid_key_then_valid_key.jsonl (the menu's
# invalid_prompt then its prompt: sound:digits/9,sound:digits/2) and
# a_playlist_announces_each_item.jsonl (all three cases below).

def _playbacks(ari: Ari) -> list[tuple[str, str, str | None, str]]:
    return [(e["type"], e["playback"]["media_uri"], e["playback"].get("next_media_uri"),
             e["playback"]["state"]) for e in ari.events if e["type"].startswith("Playback")]


@pytest.mark.parametrize(("media", "expected"), [
    ("sound:digits/9,sound:digits/2", [
        ("PlaybackStarted", "sound:digits/9", "sound:digits/2", "playing"),
        ("PlaybackContinuing", "sound:digits/9", "sound:digits/2", "continuing"),
        ("PlaybackStarted", "sound:digits/2", None, "playing"),
        ("PlaybackFinished", "sound:digits/2", None, "done")]),
    # A missing sound that is not last fails into "continuing" (a WARNING in the log).
    ("sound:no-such,sound:digits/2", [
        ("PlaybackStarted", "sound:no-such", "sound:digits/2", "playing"),
        ("PlaybackContinuing", "sound:no-such", "sound:digits/2", "continuing"),
        ("PlaybackStarted", "sound:digits/2", None, "playing"),
        ("PlaybackFinished", "sound:digits/2", None, "done")]),
    # An unsupported scheme gets no final update: the next item just starts.
    ("bogus:thing,sound:digits/2", [
        ("PlaybackStarted", "bogus:thing", "sound:digits/2", "playing"),
        ("PlaybackStarted", "sound:digits/2", None, "playing"),
        ("PlaybackFinished", "sound:digits/2", None, "done")]),
])
async def test_a_playlist_announces_each_item(ari: Ari, media: str,
                                              expected: list[tuple[str, str, str | None, str]]
                                              ) -> None:
    await ari.connect()
    cid = await _caller(ari)
    status, body = await ari.call("POST", f"/ari/channels/{cid}/play", media=media)
    assert status == 201 and body["state"] == "queued"
    await ari.until(lambda: any(e["type"] == "PlaybackFinished" for e in ari.events),
                    "the playlist to end")
    assert _playbacks(ari) == expected
    # The prompt held the channel's queue until its last item ended.
    assert (await ari.call("POST", f"/ari/channels/{cid}/answer"))[0] == 204


# -- 4. A channel created into an app nobody listens to dies at once, unheard: the
# create answers 200, the dial 404, the phone never rings. Real:
# tests/asterisk/test_stasis.py::test_a_leg_created_while_no_client_listens_never_
# reaches_the_app (CI saw acd's agent leg vanish so when its HTTP came back before its
# events socket did).

async def test_a_leg_created_while_no_client_listens_is_dropped(ari: Ari) -> None:
    ari.sim.set_endpoint("PJSIP", "agent100", "answer", answer_after=0.1)
    status, body = await _agent(ari)
    assert status == 200, body
    leg = str(body["id"])
    status, body = await ari.call("POST", f"/ari/channels/{leg}/dial")
    assert status == 404, body
    status, _ = await ari.call("GET", f"/ari/channels/{leg}")
    assert status == 404
    assert ari.sim.channels == 0
