"""The /sim control API, credentials, the events socket's life, and queued operations."""

from __future__ import annotations

import asyncio
import base64

import aiohttp
import pytest

from acd.sim.cli import run_cli
from tests.sim.conftest import Ari


async def _caller(ari: Ari, **extra: object) -> str:
    status, body = await ari.call("POST", "/sim/calls",
                                  json={"caller": "+15550002", "exten": "100", **extra})
    assert status == 201
    return str(body["channel_id"])


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("POST", "/sim/calls", {"exten": "100"}, 400),
    ("POST", "/sim/calls", {"caller": "1", "exten": "100", "dtmf": [[1, 2]]}, 400),
    ("POST", "/sim/calls", {"caller": "1", "exten": "100", "hangup_after": -1}, 400),
    ("PUT", "/sim/endpoints/PJSIP/agent7", {"behaviour": "sometimes"}, 400),
    ("PUT", "/sim/endpoints/PJSIP/agent7", {"behaviour": "busy"}, 200),
    ("POST", "/sim/channels/nope/dtmf", {"digits": "1"}, 404),
    ("POST", "/sim/channels/nope/dtmf", {"digits": "x"}, 400),
    ("DELETE", "/sim/channels/nope", None, 404),
])
async def test_sim_api_answers(ari: Ari, method: str, path: str, body: object,
                               status: int) -> None:
    got, _ = await ari.call(method, path, json=body)
    assert got == status


async def test_sim_api_drives_a_call(ari: Ari) -> None:
    await ari.connect()
    status, body = await ari.call("PUT", "/sim/endpoints/PJSIP/agent7",
                                  json={"behaviour": "noanswer", "ring": False})
    assert (status, body["behaviour"], body["ring"]) == (200, "noanswer", False)
    cid = await _caller(ari)
    assert (await ari.call("POST", f"/sim/channels/{cid}/dtmf", json={"digits": "5"}))[0] == 204
    await ari.until(lambda: "ChannelDtmfReceived" in ari.of(cid), "the key press")
    _, state = await ari.call("GET", "/sim/state")
    assert [c["id"] for c in state["channels"]] == [cid]
    assert state["channels"][0]["phase"] == "stasis" and state["apps"] == {"acd": 1}
    assert (await ari.call("DELETE", f"/sim/channels/{cid}"))[0] == 204
    _, state = await ari.call("GET", "/sim/state")
    assert state["channels"] == [] and state["counters"]["calls_placed"] == 1


async def test_without_a_client_a_call_fails_stasis_and_leaves(ari: Ari) -> None:
    cid = await _caller(ari)
    [chan] = ari.sim.state()["channels"]
    assert (chan["id"], chan["phase"], chan["variables"]) == (
        cid, "dialplan", {"STASISSTATUS": "FAILED"})
    await ari.clock.sleep(ari.sim.world.dialplan_linger + 0.3)
    assert ari.sim.channels == 0 and ari.sim.state()["counters"]["stasis_failures"] == 1


async def test_a_dropped_socket_keeps_calls_and_loses_the_gap(ari: Ari) -> None:
    await ari.connect()
    cid = await _caller(ari)
    await ari.until(lambda: "StasisStart" in ari.of(cid), "StasisStart")
    assert (await ari.call("POST", "/sim/apps/acd/drop"))[1] == {"dropped": 1}
    await ari.until(lambda: not ari.sim.hub.connected("acd"), "the drop")
    ari.sim.press(cid, "7")                              # in the gap: lost
    status, app = await ari.call("GET", "/ari/applications/acd")
    assert status == 200 and app["channel_ids"] == [cid]
    ari.events.clear()
    await ari.connect()
    ari.sim.press(cid, "8")
    await ari.until(lambda: "ChannelDtmfReceived" in ari.of(cid), "a key after reconnect")
    assert [e["digit"] for e in ari.events if e["type"] == "ChannelDtmfReceived"] == ["8"]


async def test_operations_wait_behind_a_prompt_and_sent_dtmf(ari: Ari) -> None:
    await ari.connect()
    cid = await _caller(ari)
    await ari.call("POST", f"/ari/channels/{cid}/answer")
    start = ari.clock.monotonic()  # before the prompt: a slow box cannot eat the margin
    status, _ = await ari.call("POST", f"/ari/channels/{cid}/play", media="sound:hello-world")
    assert status == 201
    assert (await ari.call("POST", f"/ari/channels/{cid}/dtmf", dtmf="123"))[0] == 204
    status, _ = await ari.call("POST", f"/ari/channels/{cid}/variable",
                               variable="ACD_X", value="1")
    waited = ari.clock.monotonic() - start
    # hello-world (1.1 s) then 3 digits x (100 ms + 100 ms) before the variable is set.
    assert status == 204 and waited >= 1.1 + 0.6 - 0.05
    assert ari.of(cid)[-2:] == ["PlaybackFinished:done", "ChannelVarset:1"]
    # A stop and a hang-up do not queue.
    await ari.call("POST", f"/ari/channels/{cid}/play", media="sound:acd-welcome",
                   playbackId="long")
    start = ari.clock.monotonic()
    assert (await ari.call("DELETE", "/ari/playbacks/long"))[0] == 204
    assert (await ari.call("DELETE", f"/ari/channels/{cid}"))[0] == 204
    assert ari.clock.monotonic() - start < 0.5


async def test_hang_up_fails_the_prompt_and_aborts_waiting_requests(ari: Ari) -> None:
    await ari.connect()
    cid = await _caller(ari)
    await ari.call("POST", f"/ari/channels/{cid}/play", media="sound:acd-welcome")
    waiting = asyncio.create_task(ari.call("POST", f"/ari/channels/{cid}/answer"))
    await ari.clock.sleep(0.5)
    assert not waiting.done()
    ari.sim.remote_hangup(cid)
    assert await waiting == (404, {"message": "Channel not found"})
    assert ari.of(cid)[1:4] == ["PlaybackStarted:playing", "ChannelHangupRequest",
                                "PlaybackFinished:failed"]


async def test_event_filter_drops_events_at_the_source(ari: Ari) -> None:
    await ari.connect()
    status, app = await ari.call("PUT", "/ari/applications/acd/eventFilter",
                                 json={"disallowed": [{"type": "ChannelVarset"}]})
    assert status == 200 and app["events_disallowed"] == [{"type": "ChannelVarset"}]
    cid = await _caller(ari)
    await ari.call("POST", f"/ari/channels/{cid}/variable", variable="ACD_Y", value="2")
    ari.sim.remote_hangup(cid)
    await ari.until(lambda: any(e["type"] == "StasisEnd" for e in ari.events), "end")
    assert not [e for e in ari.events if e["type"] == "ChannelVarset"]


@pytest.mark.parametrize(("query", "header", "status"), [
    ("", None, 401),
    ("?api_key=acd:s3cret", None, 200),
    ("?api_key=acd:nope", None, 401),
    ("", "acd:s3cret", 200),
    ("", "acd:wrong", 401),
])
async def test_credentials(ari: Ari, query: str, header: str | None, status: int) -> None:
    headers = {"Authorization": "Basic " + base64.b64encode(header.encode()).decode()} \
        if header else {}
    async with aiohttp.ClientSession(headers=headers) as session, \
            session.get(f"{ari.base}/ari/channels{query}") as resp:
        assert resp.status == status
        if status == 401:
            assert await resp.json() == {"message": "Authentication required"}


def test_cli_refuses_a_bad_speed() -> None:
    assert run_cli(["--speed", "0"]) == 2
