"""Simulated phones that register, unregister, go unreachable, are busy on another call
and die mid-call, with the events an app subscribed to them hears (acd/sim/lines.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sim.conftest import Ari

PHONE = "/sim/endpoints/PJSIP/desk1"


def phone_events(ari: Ari) -> list[str]:
    """Endpoint and device events, one word each: type:detail."""
    out = []
    for e in ari.events:
        t = e["type"]
        if t == "ContactStatusChange":
            out.append(f"{t}:{e['contact_info']['contact_status']}")
        elif t == "PeerStatusChange":
            out.append(f"{t}:{e['peer']['peer_status']}")
        elif t == "EndpointStateChange":
            out.append(f"{t}:{e['endpoint']['state']}")
        elif t == "DeviceStateChanged":
            out.append(f"{t}:{e['device_state']['state']}")
    return out


async def subscribed(ari: Ari) -> None:
    await ari.connect()
    ari.sim.set_endpoint("PJSIP", "desk1", "answer", answer_after=0.5)
    status, body = await ari.call("POST", "/ari/applications/acd/subscription",
                                  eventSource="endpoint:PJSIP/desk1,deviceState:PJSIP/desk1")
    assert status == 200
    assert (body["endpoint_ids"], body["device_names"]) == (["PJSIP/desk1"], ["PJSIP/desk1"])


async def settle(ari: Ari, n: int) -> list[str]:
    await ari.until(lambda: len(phone_events(ari)) >= n, f"{n} phone events")
    return phone_events(ari)


async def test_unregister_register_and_qualify(ari: Ari) -> None:
    await subscribed(ari)
    status, body = await ari.call("POST", f"{PHONE}/unregister")
    assert (status, body["registered"], body["device_state"]) == (200, False, "UNAVAILABLE")
    # The order the real Asterisk 22 tier recorded (tests/asterisk/test_phones.py).
    gone = ["EndpointStateChange:offline", "PeerStatusChange:Unreachable",
            "DeviceStateChanged:UNAVAILABLE", "ContactStatusChange:Removed"]
    assert await settle(ari, 4) == gone
    status, ep = await ari.call("GET", "/ari/endpoints/PJSIP/desk1")
    assert (status, ep["state"]) == (200, "offline")
    # An unregistered phone cannot be called: chan_pjsip has no contact.
    status, body = await ari.call("POST", "/ari/channels/create", endpoint="PJSIP/desk1",
                                  app="acd")
    assert (status, body) == (500, {"error": "Allocation failed"})
    await ari.call("POST", f"{PHONE}/register")
    back = ["EndpointStateChange:online", "PeerStatusChange:Reachable",
            "ContactStatusChange:NonQualified", "DeviceStateChanged:NOT_INUSE"]
    assert await settle(ari, 8) == gone + back
    await ari.call("POST", f"{PHONE}/unreachable")
    assert (await settle(ari, 12))[8:] == [
        "EndpointStateChange:offline", "PeerStatusChange:Unreachable",
        "DeviceStateChanged:UNAVAILABLE", "ContactStatusChange:Unreachable"]
    await ari.call("POST", f"{PHONE}/reachable")
    assert (await settle(ari, 16))[12:] == [
        "EndpointStateChange:online", "PeerStatusChange:Reachable",
        "ContactStatusChange:Reachable", "DeviceStateChanged:NOT_INUSE"]
    contact = next(e for e in ari.events if e["type"] == "ContactStatusChange")
    assert contact["endpoint"]["resource"] == "desk1" and contact["contact_info"]["aor"] == "desk1"


async def test_a_call_acd_did_not_place_makes_the_device_in_use(ari: Ari) -> None:
    await subscribed(ari)
    status, body = await ari.call("POST", f"{PHONE}/calls")
    assert (status, body["other_calls"], body["device_state"]) == (200, 1, "INUSE")
    await ari.call("DELETE", f"{PHONE}/calls")
    assert await settle(ari, 2) == ["DeviceStateChanged:INUSE", "DeviceStateChanged:NOT_INUSE"]
    status, _ = await ari.call("DELETE", f"{PHONE}/calls")
    assert status == 404


async def test_the_device_follows_the_calls_acd_places(ari: Ari) -> None:
    await subscribed(ari)
    _status, body = await ari.call("POST", "/ari/channels/create", endpoint="PJSIP/desk1",
                                  app="acd", appArgs="agent")
    cid = body["id"]
    await ari.until(lambda: "StasisStart" in ari.of(cid), "the leg in Stasis")
    await ari.call("POST", f"/ari/channels/{cid}/dial", timeout="5")
    await settle(ari, 2)
    await ari.call("DELETE", f"/ari/channels/{cid}")
    assert await settle(ari, 3) == ["DeviceStateChanged:RINGING", "DeviceStateChanged:INUSE",
                                    "DeviceStateChanged:NOT_INUSE"]


async def dialled_and_up(ari: Ari, **line: Any) -> str:
    await subscribed(ari)
    status, _ = await ari.call("PUT", PHONE, json={"behaviour": "answer", "answer_after": 0.5,
                                                   **line})
    assert status == 200
    status, body = await ari.call("POST", "/ari/channels/create", endpoint="PJSIP/desk1",
                                  app="acd", appArgs="agent")
    cid = str(body["id"])
    await ari.until(lambda: "StasisStart" in ari.of(cid), "the leg in Stasis")
    await ari.call("POST", f"/ari/channels/{cid}/dial", timeout="5")
    await ari.until(lambda: "Dial:ANSWER" in ari.of(cid), "the answer")
    return cid


async def test_a_phone_dying_mid_call_ends_it_after_rtp_timeout(ari: Ari) -> None:
    cid = await dialled_and_up(ari, rtp_timeout=2, qualify=1)
    status, body = await ari.call("POST", f"{PHONE}/die")
    assert (status, body["dead"], body["registered"]) == (200, True, True)
    start = ari.clock.time()
    await ari.until(lambda: "ChannelDestroyed:44" in ari.of(cid), "the RTP timeout")
    assert ari.clock.time() - start >= 1.9
    assert ari.of(cid)[-4:] == ["ChannelHangupRequest:1", "StasisEnd",
                                "ChannelVarset:SUCCESS", "ChannelDestroyed:44"]
    # qualify noticed the dead phone too
    assert "ContactStatusChange:Unreachable" in phone_events(ari)
    status, body = await ari.call("POST", "/ari/channels/create", endpoint="PJSIP/desk1",
                                  app="acd")
    assert (status, body) == (500, {"error": "Allocation failed"})


async def test_a_dead_phone_without_timeouts_keeps_its_silent_call(ari: Ari) -> None:
    cid = await dialled_and_up(ari)
    await ari.call("POST", f"{PHONE}/die")
    await ari.clock.sleep(60)
    assert [c["id"] for c in ari.sim.state()["channels"]] == [cid]
    assert "ContactStatusChange:Unreachable" not in phone_events(ari)
    # ...and a new call rings into nothing, without a 180
    _status, body = await ari.call("POST", "/ari/channels/create", endpoint="PJSIP/desk1",
                                  app="acd", appArgs="agent")
    other = str(body["id"])
    await ari.until(lambda: "StasisStart" in ari.of(other), "the leg in Stasis")
    await ari.call("POST", f"/ari/channels/{other}/dial", timeout="1")
    await ari.until(lambda: "ChannelDestroyed:19" in ari.of(other), "the ring timeout")
    assert "Dial:RINGING" not in ari.of(other)


@pytest.mark.parametrize(("method", "path", "params", "status"), [
    ("POST", "/ari/applications/acd/subscription", {}, 400),
    ("POST", "/ari/applications/acd/subscription", {"eventSource": "nothing:x"}, 400),
    ("POST", "/ari/applications/acd/subscription", {"eventSource": "endpoint:PJSIP/zz"}, 422),
    ("POST", "/ari/applications/nope/subscription", {"eventSource": "endpoint:PJSIP"}, 404),
    ("DELETE", "/ari/applications/acd/subscription",
     {"eventSource": "endpoint:PJSIP/desk1"}, 409),
    ("POST", "/sim/endpoints/PJSIP/zz/register", {}, 404),
    ("POST", f"{PHONE}/explode", {}, 404),
])
async def test_bad_requests(ari: Ari, method: str, path: str, params: dict[str, str],
                            status: int) -> None:
    await ari.connect()
    ari.sim.set_endpoint("PJSIP", "desk1", "answer")
    got, body = await ari.call(method, path, **params)
    assert got == status, body


async def test_unsubscribed_apps_hear_nothing(ari: Ari) -> None:
    await ari.connect()
    ari.sim.set_endpoint("PJSIP", "desk1", "answer")
    await ari.call("POST", f"{PHONE}/unregister")
    await ari.call("POST", f"{PHONE}/calls")
    await ari.clock.sleep(1)
    assert phone_events(ari) == []
    status, _body = await ari.call("POST", "/ari/applications/acd/subscription",
                                  eventSource="endpoint:PJSIP")
    await ari.call("DELETE", "/ari/applications/acd/subscription", eventSource="endpoint:PJSIP")
    await ari.call("POST", f"{PHONE}/register")
    await ari.clock.sleep(1)
    assert (status, phone_events(ari)) == (200, [])
