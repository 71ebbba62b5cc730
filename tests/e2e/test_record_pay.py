"""Recording and agent-assisted payment end to end (#17): acd on the simulator with
real Redis and PostgreSQL, the moves asked over the REST API by the agent (alice,
a1) or a supervisor, the payment flow as shipped (ivr_flows/payment.yaml) calling
the demo payment service.

What each party hears is read off the simulator: the caller's prompts (its
playbacks) and bridge, the agent's music (the bridge's, the agent alone in it), and the keys a
recording heard (`recordings.heard`: pressed by a channel of the recorded bridge
while it was recording).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from acd.api.demo import DemoServer
from acd.ivr.loader import read_sounds
from tests.api.conftest import Api, api_over
from tests.conftest import REDIS_URL
from tests.e2e.conftest import e2e_settings, running_harness
from tests.e2e.leaks import (
    every_log,
    file_texts,
    find_secret,
    log_texts,
    pg_texts,
    redis_texts,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "ivr_flows"
CARD = "4111111111111111"
BAD_CARD = "4111111111111112"  # fails the Luhn check: the flow declines it
EXPIRY = "1228"
CALLER = "+15550888"
QUEUES = [
    {"name": "sales", "skills": {"sales": 1}, "ring_timeout": 3, "wrapup": 600,
     "recording": "always"},
    {"name": "support", "skills": {"support": 1}, "ring_timeout": 3, "wrapup": 600,
     "recording": "on_demand"},
    # A format Asterisk (and the simulator: 422) does not know: the recording fails.
    {"name": "faulty", "skills": {"support": 1}, "ring_timeout": 3, "wrapup": 600,
     "recording": "always", "recording_format": "mp3"},
]
QUEUE_FLOW = """\
name: {queue}
numbers: ["{number}"]
start: wait
nodes:
  wait:
    type: queue
    queue: {queue}
    on_exit: bye
  bye:
    type: hangup
"""


@pytest.fixture
async def desk(redis_prefix: str, redis_client: Any, pg_dsn: str, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Api]:
    demo = DemoServer()
    await demo.start()
    try:
        flows = tmp_path / "flows"
        flows.mkdir()
        shutil.copy(EXAMPLES / "payment.yaml", flows / "payment.yaml")
        for queue, number in (("sales", "100"), ("support", "101"), ("faulty", "102")):
            (flows / f"{queue}.yaml").write_text(QUEUE_FLOW.format(queue=queue, number=number))
        monkeypatch.setenv("ACD_FLOW_PAYMENTS_URL", f"{demo.url}/payments")
        settings = e2e_settings(redis_prefix, pg_dsn, tmp_path, queues=QUEUES,
                                flows=str(flows), ivr={"http_allow": [f"{demo.url}/"]})
        async with running_harness(settings) as h:
            for sound in read_sounds(EXAMPLES / "sounds.txt"):
                h.sim.sounds[sound.removeprefix("sound:")] = 1.0
            async for api in api_over(h):
                api.demo = demo  # type: ignore[attr-defined]
                yield api
    finally:
        await demo.stop()


async def connect(api: Api, number: str = "100") -> tuple[str, str]:
    """A caller reaches a1 (a2 on break); the caller's channel and the call id."""
    assert (await api.call("POST", "/api/agents/a2/break", user="super",
                           body={"reason": "x"})).status == 200
    channel = api.h.sim.place_call(CALLER, number, app=api.h.app.settings.ari.app)
    await api.h.wait_agent("a1" if number == "100" else "a3", "on_call")
    return channel, api.h.live(channel).call_id


async def move(api: Api, name: str, user: str = "alice", agent: str = "a1",
               status: int = 200, **args: Any) -> dict[str, Any]:
    resp = await api.call("POST", f"/api/desk/agents/{agent}/call/{name}", user=user,
                          body=args)
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    return body


async def moves(api: Api, agent: str = "a1") -> dict[str, Any]:
    resp = await api.call("GET", f"/api/desk/agents/{agent}/call/moves", user="super")
    body: dict[str, Any] = await resp.json()
    assert resp.status == 200, body
    return body


def channel(api: Api, channel_id: str) -> dict[str, Any]:
    chans = {c["id"]: c for c in api.h.sim.state()["channels"]}
    return chans[channel_id]


def agent_channel(api: Api, call_id: str) -> dict[str, Any]:
    leg = api.h.app.calls.calls[call_id].connected_leg  # type: ignore[union-attr]
    assert leg is not None
    return channel(api, leg.channel_id)


def bridge_music(api: Api, call_id: str) -> bool:
    bridge = api.h.sim.world.bridges.get(f"acd-{call_id}")
    return bridge is not None and bridge.moh_id is not None


def hears_prompt(api: Api, channel_id: str) -> bool:
    return any(p["target_uri"] == f"channel:{channel_id}" and p["state"] == "playing"
               for p in api.h.sim.state()["playbacks"])


def recording(api: Api, name: str) -> dict[str, Any] | None:
    live = api.h.sim.state()["recordings"]["live"]
    return next((r for r in live if r["name"] == name), None)


async def recording_row(api: Api, call_id: str) -> Any:
    assert api.h.app.writer is not None
    await api.h.app.writer.flush()
    rows = await api.h.pg.fetch("SELECT * FROM recordings WHERE call_id=$1", call_id)
    assert len(rows) == 1, rows
    return rows[0]


def ms(at: str) -> float:
    return datetime.fromisoformat(at).timestamp() * 1000


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with every_log(caplog) as captured:
        yield captured


# ------------------------------------------------------------------- recording


async def test_a_recorded_call_paused_and_resumed(desk: Api) -> None:
    api = desk
    h = api.h
    ch, call_id = await connect(api)
    name = f"acd-rec-{call_id}"
    await h.wait_for(lambda: (recording(api, name) or {}).get("state") == "recording",
                     "the bridge recorded (queue policy always)")
    assert (recording(api, name) or {})["target_uri"] == f"bridge:acd-{call_id}"
    assert (await moves(api))["recording"] == "active"
    h.sim.press(ch, "5")  # heard by the recording: the check below can see keys
    await h.clock.sleep(1)
    assert (await move(api, "record_pause"))["recording"] == "paused"
    assert (recording(api, name) or {})["state"] == "paused"
    h.sim.press(ch, "7")  # not heard: paused
    await h.clock.sleep(2)
    # A supervisor resumes (on any call, by its id).
    resp = await api.call("POST", f"/api/calls/{call_id}/moves/record_resume", user="super")
    assert resp.status == 200 and (await resp.json())["recording"] == "active"
    assert (recording(api, name) or {})["state"] == "recording"
    await h.clock.sleep(1)
    await move(api, "record_pause", status=200)
    body = await move(api, "record_start", status=409)
    assert body["error_id"] == "recording"
    await api.call("POST", "/api/desk/agents/a1/hangup", user="alice")
    await h.finished(ch)

    row = await recording_row(api, call_id)
    assert (row["recording_id"], row["file"], row["format"], row["outcome"]) == (
        name, f"{name}.wav", "wav", "done")
    paused = json.loads(row["paused"])
    assert [p["reason"] for p in paused] == ["agent", "agent"]
    first = paused[0]
    assert 1900 <= ms(first["to"]) - ms(first["from"]) <= 5000  # 2 s, and the API at 20x
    # The file is as long as the row says: recorded time less the paused intervals.
    fmt, seconds = h.sim.world.media.stored[name]
    # (acd times its own requests: the simulator runs 20x faster, 1 s is 50 ms of load)
    assert fmt == "wav" and abs(seconds * 1000 - row["duration_ms"]) < 1000
    total = (row["ended_at"] - row["started_at"]).total_seconds() * 1000
    assert abs(total - sum(ms(p["to"]) - ms(p["from"]) for p in paused)
               - row["duration_ms"]) < 5
    assert h.sim.state()["recordings"]["heard"][name] == "5"
    events = await h.queue_events(call_id)
    assert [x for x in events if x[0].startswith("record_")] == [
        ("record_pause", "a1"), ("record_resume", "a1"), ("record_pause", "a1")]
    await h.wait_agent("a1", "wrap_up")
    await h.assert_clean()


async def test_on_demand_recording_is_started_by_a_move(desk: Api) -> None:
    api = desk
    h = api.h
    ch, call_id = await connect(api, "101")
    assert (await moves(api, "a3"))["recording"] is None
    assert h.sim.state()["recordings"]["live"] == []
    resp = await api.call("POST", f"/api/calls/{call_id}/moves/record_start", user="super")
    assert resp.status == 200 and (await resp.json())["recording"] == "active"
    assert recording(api, f"acd-rec-{call_id}") is not None
    await h.clock.sleep(2)
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    row = await recording_row(api, call_id)
    assert row["outcome"] == "done" and 1900 <= row["duration_ms"] <= 5000
    await h.assert_clean()


async def test_a_recording_that_fails_leaves_the_call_alone(desk: Api) -> None:
    api = desk
    h = api.h
    ch, call_id = await connect(api, "102")
    await h.wait_for(lambda: h.live(ch).recordings_made == 1 and h.live(ch).bridge_rec is None,
                     "the recording to be tried and given up")
    status = await moves(api, "a3")
    assert (status["phase"], status["recording"]) == ("connected", None)
    resp = await api.call("POST", f"/api/calls/{call_id}/moves/record_pause", user="super")
    assert (resp.status, (await resp.json())["error_id"]) == (409, "not_recording")
    # Caller and agent still talk.
    assert channel(api, ch)["bridge"] == f"acd-{call_id}"
    assert agent_channel(api, call_id)["bridge"] == f"acd-{call_id}"
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    assert_row = await recording_row(api, call_id)
    assert (assert_row["outcome"], assert_row["duration_ms"], assert_row["format"]) == (
        "failed", 0, "mp3")
    assert (await h.call(call_id))["outcome"] == "answered"
    await h.wait_agent("a3", "wrap_up")
    await h.assert_clean()


# --------------------------------------------------------------------- payment


async def paying(api: Api) -> tuple[str, str]:
    """A caller with a1, sent to the payment flow and hearing it: (channel, call id)."""
    ch, call_id = await connect(api)
    await move(api, "payment")
    await api.h.wait_for(lambda: hears_prompt(api, ch), "the payment flow")
    return ch, call_id


async def pay(api: Api, ch: str, call_id: str, card: str) -> tuple[float, float]:
    """The agent sends the caller to the payment flow, the caller keys `card`
    and the expiry; the clock (ms) before the first key and after the last."""
    h = api.h
    body = await move(api, "payment")
    assert (body["payment"], body["flow"]) == ("running", "payment")
    # The caller left the bridge and hears the flow; the agent stays, on music.
    await h.wait_for(lambda: hears_prompt(api, ch), "the caller to hear the payment flow")
    assert channel(api, ch)["bridge"] is None
    assert agent_channel(api, call_id)["bridge"] == f"acd-{call_id}"
    assert bridge_music(api, call_id)  # the agent, alone in the bridge, hears its music
    assert (await moves(api))["payment"] == "running"
    first = h.clock.ms()
    h.sim.press(ch, card + "#")

    def at(node: str) -> bool:
        p = h.live(ch).payment
        return p is not None and p.ivr is not None and p.ivr.node == node
    if card == CARD:
        await h.wait_for(lambda: at("expiry"), "the flow to ask for the expiry")
        h.sim.press(ch, EXPIRY)
        await h.wait_for(lambda: not at("expiry"), "the expiry keyed")
    else:
        await h.wait_for(lambda: not at("card"), "the card keyed")
    last = h.clock.ms()  # every key is in
    await h.wait_for(lambda: h.live(ch).payment is None, "the payment flow to end")
    return first, last


async def test_a_paid_payment_leaves_no_digit_anywhere(desk: Api, tmp_path: Path,
                                                       logs: Any) -> None:
    api = desk
    h = api.h
    ch, call_id = await connect(api)
    name = f"acd-rec-{call_id}"
    await h.wait_for(lambda: recording(api, name) is not None, "the recording")
    first, last = await pay(api, ch, call_id, CARD)

    # Back with the same agent, who sees the result and the reference only.
    status = await moves(api)
    (payment,) = api.demo.backends.payments  # type: ignore[attr-defined]
    assert (status["payment"], status["payment_reference"]) == ("paid", payment.payment_id)
    assert (status["agent_id"], status["recording"]) == ("a1", "active")
    await h.wait_for(lambda: channel(api, ch)["bridge"] == f"acd-{call_id}",
                     "the caller back in the bridge")
    assert not bridge_music(api, call_id)
    assert (payment.caller, payment.card_digits) == (CALLER, 16)
    await h.clock.sleep(1)
    await api.call("POST", "/api/desk/agents/a1/hangup", user="alice")
    await h.finished(ch)
    await h.wait_agent("a1", "wrap_up")

    row = await recording_row(api, call_id)
    (interval,) = json.loads(row["paused"])
    assert interval["reason"] == "payment"
    assert ms(interval["from"]) <= first and last <= ms(interval["to"])
    assert h.sim.state()["recordings"]["heard"].get(name, "") == ""
    events = await h.queue_events(call_id)
    assert ("payment", "a1") in events
    detail = await h.pg.fetchval("SELECT detail FROM queue_events WHERE call_id=$1 AND "
                                 "event='payment'", call_id)
    assert json.loads(detail) == {"result": "paid",
                                                "reference": payment.payment_id}
    assert (await h.call(call_id))["outcome"] == "answered"

    # The card number: in no log line, Redis key or value, row, spool file, recording.
    logs = log_texts(logs.records)
    assert any(call_id[:8] in text for _, text in logs), "acd's logs were not captured"
    keys, n = await redis_texts(REDIS_URL, match=f"*{h.prefix}*")
    assert n > 0
    rows, tables = await pg_texts(h.pg)
    assert {"calls", "legs", "queue_events", "recordings", "audit"} <= set(tables)
    heard = [(f"recording {k}", v) for k, v in h.sim.state()["recordings"]["heard"].items()]
    leaks = find_secret(CARD, [*logs, *keys, *rows, *file_texts(tmp_path / "spool"), *heard])
    assert leaks == [], "the card number in clear:\n" + "\n".join(leaks)
    await h.assert_clean()


async def test_a_declined_payment_returns_the_caller_to_the_agent(desk: Api) -> None:
    api = desk
    h = api.h
    ch, call_id = await connect(api)
    await pay(api, ch, call_id, BAD_CARD)
    status = await moves(api)
    assert (status["payment"], status["payment_reference"]) == ("declined", None)
    await h.wait_for(lambda: channel(api, ch)["bridge"] == f"acd-{call_id}",
                     "the caller back in the bridge")
    assert api.demo.backends.payments == []  # type: ignore[attr-defined]
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    await h.wait_agent("a1", "wrap_up")
    detail = await h.pg.fetchval("SELECT detail FROM queue_events WHERE call_id=$1 AND "
                                 "event='payment'", call_id)
    assert json.loads(detail) == {"result": "declined", "reference": None}
    await h.assert_clean()


async def test_the_caller_hangs_up_while_paying(desk: Api) -> None:
    api = desk
    h = api.h
    ch, call_id = await paying(api)
    h.sim.press(ch, "4111")
    await h.clock.sleep(1)
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    await h.wait_agent("a1", "wrap_up")
    row = await recording_row(api, call_id)
    assert [p["reason"] for p in json.loads(row["paused"])] == ["payment"]
    events = [x[0] for x in await h.queue_events(call_id)]
    assert events[-2:] == ["payment", "complete"] or events[-3:-1] == ["payment", "complete"]
    call = await h.call(call_id)
    assert (call["outcome"], call["ended_by"]) == ("answered", "caller")
    legs = await h.legs(call_id)
    assert [leg["outcome"] for leg in legs if leg["kind"] == "agent"] == ["answered"]
    await h.assert_clean()


async def test_the_agent_hangs_up_while_the_caller_pays(desk: Api) -> None:
    api = desk
    h = api.h
    ch, call_id = await paying(api)
    h.sim.remote_hangup(agent_channel(api, call_id)["id"])  # the agent's phone hangs up
    await h.wait_agent("a1", "wrap_up")
    assert h.live(ch).payment is not None  # the caller pays on
    # a2 back from break: the caller goes to them once paid (head of the queue).
    assert (await api.call("POST", "/api/agents/a2/available", user="super")).status == 200
    h.sim.press(ch, CARD + "#")
    await h.wait_for(lambda: (p := h.live(ch).payment) is not None and p.ivr is not None
                     and p.ivr.node == "expiry", "the expiry")
    h.sim.press(ch, EXPIRY)
    await h.wait_agent("a2", "on_call")
    assert h.live(ch).payment_result is not None and h.live(ch).payment_result[0] == "paid"
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    events = [x for x in await h.queue_events(call_id)
              if x[0] in ("connect", "complete", "payment", "enter")]
    assert events == [("enter", None), ("connect", "a1"), ("complete", "a1"),
                      ("payment", "a1"), ("enter", None), ("connect", "a2"),
                      ("complete", "a2")], events
    call = await h.call(call_id)
    assert (call["agent_id"], call["outcome"]) == ("a2", "answered")
    await h.assert_clean()
