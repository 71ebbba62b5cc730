"""Simulated phones and callers, driven over plain HTTP and WebSocket."""

from __future__ import annotations

import pytest

from acd.sim.sounds import NEVER, SOUNDS, media_length
from tests.sim.conftest import Ari

RING = ["ChannelDialplan", "ChannelVarset:", "StasisStart", "Dial:"]


async def _agent(ari: Ari, endpoint: str, timeout: int) -> str:
    status, body = await ari.call("POST", "/ari/channels/create", endpoint=endpoint,
                                  app="acd", appArgs="agent")
    assert status == 200
    cid = str(body["id"])
    await ari.until(lambda: "StasisStart" in ari.of(cid), "the agent leg in Stasis")
    status, _ = await ari.call("POST", f"/ari/channels/{cid}/dial", timeout=str(timeout))
    assert status == 204
    return cid


@pytest.mark.parametrize(("behaviour", "timeout", "expected"), [
    ("answer", 3, [*RING, "ChannelStateChange:Ringing", "Dial:RINGING",
                   "ChannelStateChange:Up", "Dial:ANSWER"]),
    # create + dial: busy and ring timeout end with no BUSY / NOANSWER Dial event.
    ("busy", 3, [*RING, "ChannelHangupRequest:17", "StasisEnd", "ChannelVarset:SUCCESS",
                 "ChannelDestroyed:17"]),
    ("noanswer", 1, [*RING, "ChannelStateChange:Ringing", "Dial:RINGING",
                     "ChannelHangupRequest:32", "StasisEnd", "ChannelVarset:SUCCESS",
                     "ChannelDestroyed:19"]),
])
async def test_dialled_phone_behaviours(ari: Ari, behaviour: str, timeout: int,
                                        expected: list[str]) -> None:
    await ari.connect()
    ari.sim.set_endpoint("PJSIP", "desk1", behaviour, answer_after=0.5)
    cid = await _agent(ari, "PJSIP/desk1", timeout)
    await ari.clock.sleep(timeout + 0.5)
    await ari.until(lambda: len(ari.of(cid)) >= len(expected), f"{behaviour} events")
    assert ari.of(cid) == expected


async def test_a_phone_that_never_answers_rings_until_hung_up(ari: Ari) -> None:
    await ari.connect()
    ari.sim.set_endpoint("PJSIP", "desk2", "noanswer")
    cid = await _agent(ari, "PJSIP/desk2", 0)
    await ari.clock.sleep(60)
    assert ari.sim.state()["channels"][0]["state"] == "Ringing"
    status, _ = await ari.call("DELETE", f"/ari/channels/{cid}", reason="answered_elsewhere")
    assert status == 204
    await ari.until(lambda: "ChannelDestroyed:26" in ari.of(cid), "the leg to end")


async def test_an_unreachable_phone_cannot_be_called(ari: Ari) -> None:
    ari.sim.set_endpoint("PJSIP", "agent150", "unreachable")
    for path in ("/ari/channels/create", "/ari/channels"):
        status, body = await ari.call("POST", path, endpoint="PJSIP/agent150", app="acd")
        assert (status, body) == (500, {"error": "Allocation failed"})
    status, body = await ari.call("GET", "/ari/endpoints/PJSIP/agent150")
    assert status == 200 and body["state"] == "offline"


async def test_an_answered_phone_hangs_up_after_its_talk_time(ari: Ari) -> None:
    await ari.connect()
    ari.sim.set_endpoint("PJSIP", "desk3", "answer", answer_after=0.2, hangup_after=1.0)
    cid = await _agent(ari, "PJSIP/desk3", 5)
    await ari.until(lambda: "ChannelDestroyed:16" in ari.of(cid), "the agent to hang up")
    assert ari.of(cid)[-4:] == ["ChannelHangupRequest", "StasisEnd", "ChannelVarset:SUCCESS",
                               "ChannelDestroyed:16"]


async def test_a_caller_script_presses_keys_then_hangs_up(ari: Ari) -> None:
    await ari.connect()
    status, body = await ari.call("POST", "/sim/calls", json={
        "caller": "+15550001", "exten": "100", "caller_name": "Ann",
        "dtmf": [[0.5, "12"], [2.0, "#"]], "hangup_after": 3.0})
    assert status == 201 and body["in_stasis"] is True
    cid = body["channel_id"]
    await ari.until(lambda: "StasisEnd" in ari.of(cid), "the caller to hang up")
    await ari.until(lambda: not ari.sim.state()["channels"], "the caller's channel to go")
    await ari.call("POST", "/sim/calls", json={"caller": "+15550002", "exten": "100"})
    await ari.until(lambda: sum(e["type"] == "StasisStart" for e in ari.events) == 2,
                    "a later call, so that every event about the first has arrived")
    dtmf = [(e["digit"], e["duration_ms"]) for e in ari.events
            if e["type"] == "ChannelDtmfReceived"]
    assert dtmf == [("1", 280), ("2", 280), ("#", 280)]
    start = next(e for e in ari.events if e["type"] == "StasisStart")
    assert start["channel"]["caller"] == {"name": "Ann", "number": "+15550001"}
    assert start["channel"]["dialplan"]["exten"] == "100"
    # Stasis was the app's only interest in the caller: nothing follows StasisEnd
    # (tests/sim/test_asterisk_findings.py has the case with an agent leg made for it).
    assert ari.of(cid) == ["StasisStart", "ChannelDtmfReceived", "ChannelDtmfReceived",
                           "ChannelDtmfReceived", "ChannelHangupRequest", "StasisEnd"]


@pytest.mark.parametrize(("uri", "seconds"), [
    ("sound:acd-welcome", 4.2), ("sound:hello-world", SOUNDS["hello-world"]),
    ("sound:digits/7", 0.75), ("sound:fr/acd-welcome", 4.2), ("sound:fr/nope", None),
    ("sound:no-such-prompt", None), ("bogus:thing", NEVER),
    ("nocolon", NEVER), ("digits:123", 2.1), ("number:42", 1.4), ("number:x", None),
    ("tone:ring", 3600.0), ("recording:call-1", 7.5), ("recording:nope", None),
])
def test_prompt_lengths(uri: str, seconds: float | None) -> None:
    got = media_length(uri, SOUNDS, {"call-1": 7.5})
    assert got == (pytest.approx(seconds) if seconds is not None else None)
