"""The events WebSocket: reconnect and resync, lanes, a reader that never blocks."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.ari import events as ev
from acd.ari.config import AriConfig
from acd.ari.models import Bridge, Channel
from acd.ari.stream import EventStream, LaneDispatcher
from tests.ari.fake_ari import FakeAri, channel, dtmf, event


class Recorder:
    """A handler and on_connect that remember what they saw, and can be waited on."""

    def __init__(self) -> None:
        self.events: list[ev.Event] = []
        self.connects: list[list[str]] = []
        self.changed = asyncio.Condition()
        self.gates: dict[str, asyncio.Event] = {}
        self.started: list[tuple[str | None, str]] = []

    async def handle(self, event: ev.Event) -> None:
        digit = event.digit if isinstance(event, ev.ChannelDtmfReceived) else event.type
        self.started.append((event.channel_id, digit))
        gate = self.gates.get(event.channel_id or "")
        if gate is not None:
            await gate.wait()
        if digit == "boom":
            raise RuntimeError("handler bug")
        async with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    async def on_connect(self, channel_ids: list[str]) -> None:
        async with self.changed:
            self.connects.append(channel_ids)
            self.changed.notify_all()

    async def until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(predicate)

    def of(self, cid: str) -> list[str]:
        return [e.digit if isinstance(e, ev.ChannelDtmfReceived) else e.type
                for e in self.events if e.channel_id == cid]


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
async def stream(config: AriConfig, rec: Recorder) -> AsyncIterator[EventStream]:
    s = EventStream(config, rec.handle, on_connect=rec.on_connect,
                    disallow=("ChannelVarset", "ChannelDialplan"), backoff_base=0.05)
    await s.start()
    yield s
    await s.stop()


async def test_dropped_socket_resumes_and_readopts_live_channels(
    fake: FakeAri, stream: EventStream, rec: Recorder
) -> None:
    await rec.until(lambda: len(rec.connects) == 1)
    assert rec.connects == [[]]
    assert fake.ws_queries == [{"app": "acd", "subscribeAll": "false"}]

    await fake.send(event("StasisStart", args=[], channel=channel("c1")))
    await fake.send(dtmf("c1", "1"))
    fake.app_channels = ["c1"]  # Asterisk keeps the call in the app across the drop
    await rec.until(lambda: len(rec.events) == 2)

    fake.cut()  # mid-call, no close handshake
    await rec.until(lambda: len(rec.connects) == 2)
    assert rec.connects[1] == ["c1"]
    assert stream.connected and stream.connects == 2
    await fake.send(dtmf("c1", "2"))
    await rec.until(lambda: len(rec.events) == 3)
    assert rec.of("c1") == ["StasisStart", "1", "2"]
    assert stream.events_received == 3

    # Every (re)connect: the event filter first, then the application's channels.
    rest = [(r.method, r.raw_path, r.body) for r in fake.requests]
    flt = ("PUT", "/applications/acd/eventFilter",
           {"disallowed": [{"type": "ChannelVarset"}, {"type": "ChannelDialplan"}]})
    assert rest == [flt, ("GET", "/applications/acd", None)] * 2


async def test_keeps_retrying_until_the_server_accepts(
    fake: FakeAri, config: AriConfig, rec: Recorder
) -> None:
    fake.ws_refused = 3
    s = EventStream(config, rec.handle, on_connect=rec.on_connect, backoff_base=0.02)
    await s.start()
    try:
        await rec.until(lambda: len(rec.connects) == 1)
        assert fake.ws_refused == 0 and s.connects == 1
        assert [r.method for r in fake.requests] == ["GET"]  # no disallow: no filter call
    finally:
        await s.stop()
    assert not s.connected


async def test_slow_handler_does_not_delay_other_channels(
    fake: FakeAri, stream: EventStream, rec: Recorder
) -> None:
    await rec.until(lambda: len(rec.connects) == 1)
    rec.gates["slow"] = asyncio.Event()
    await fake.send(dtmf("slow", "1"))
    await fake.send(dtmf("slow", "2"))
    for i in range(30):
        await fake.send(dtmf(f"fast{i % 3}", str(i)))
    await rec.until(lambda: len(rec.events) == 30, timeout=5)
    # The slow lane started its first event only; everything else went past it.
    assert [s for s in rec.started if s[0] == "slow"] == [("slow", "1")]
    assert stream.events_received == 32
    for k in range(3):
        assert rec.of(f"fast{k}") == [str(i) for i in range(k, 30, 3)]
    assert max(stream.lag_samples()) < 2.0
    rec.gates["slow"].set()
    await rec.until(lambda: len(rec.events) == 32)
    assert rec.of("slow") == ["1", "2"]
    stats = stream.lag_stats()
    assert stats["count"] == 32 and 0 <= stats["p50"] <= stats["max"]


async def test_handler_error_is_logged_and_the_lane_goes_on(
    fake: FakeAri, stream: EventStream, rec: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    await rec.until(lambda: len(rec.connects) == 1)
    await fake.send(dtmf("c1", "boom"))
    await fake.send(dtmf("c1", "2"))
    await rec.until(lambda: len(rec.events) == 1)
    assert rec.of("c1") == ["2"]
    assert stream.handler_errors == 1
    assert "handler failed" in caplog.text


async def test_custom_lane_serialises_two_channels(fake: FakeAri, config: AriConfig) -> None:
    rec = Recorder()
    calls = {"a": "call-1", "b": "call-1"}
    s = EventStream(config, rec.handle, on_connect=rec.on_connect,
                    lane_of=lambda e: calls.get(e.channel_id or ""))
    await s.start()
    try:
        await rec.until(lambda: len(rec.connects) == 1)
        rec.gates["a"] = asyncio.Event()
        for cid in ("a", "b", "other"):
            await fake.send(dtmf(cid, "1"))
        await rec.until(lambda: len(rec.events) == 1)  # "other" has its own lane
        assert rec.of("other") == ["1"] and rec.of("b") == []
        rec.gates["a"].set()
        await rec.until(lambda: len(rec.events) == 3)
        assert [e.channel_id for e in rec.events] == ["other", "a", "b"]
    finally:
        await s.stop()


async def test_bad_frames_are_skipped(fake: FakeAri, stream: EventStream, rec: Recorder) -> None:
    await rec.until(lambda: len(rec.connects) == 1)
    for ws, _ in fake.sockets:
        await ws.send_str("not json")
        await ws.send_str("[1, 2]")
    await fake.send(event("SomethingNew", thing=1))
    await rec.until(lambda: len(rec.events) == 1)
    assert isinstance(rec.events[0], ev.UnknownEvent) and rec.events[0].type == "SomethingNew"
    assert stream.events_received == 1


async def test_stop_cancels_busy_lanes(fake: FakeAri, config: AriConfig) -> None:
    rec = Recorder()
    rec.gates["c1"] = asyncio.Event()  # never set
    s = EventStream(config, rec.handle, on_connect=rec.on_connect)
    await s.start()
    await rec.until(lambda: len(rec.connects) == 1)
    await fake.send(dtmf("c1", "1"))
    async with asyncio.timeout(5):
        while not rec.started:
            await asyncio.sleep(0.01)
    await s.stop()
    assert not s.connected and s.pending == 0
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert all("LaneDispatcher" not in repr(t) and "EventStream" not in repr(t) for t in others)


# ------------------------------------------------------- dispatcher property

def _ev(lane: int, seq: int) -> ev.Event:
    return ev.StasisEnd(channel=Channel(id=f"c{lane}"), raw={"seq": seq})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3)), max_size=60),
       st.booleans())
def test_dispatcher_orders_within_a_lane_and_overlaps_across(
    plan: list[tuple[int, int]], post_while_running: bool
) -> None:
    async def run() -> None:
        seen: dict[str | None, list[int]] = defaultdict(list)
        running: dict[str | None, int] = defaultdict(int)
        overlap = {"max_lanes": 0}
        yields = {seq: y for seq, (_, y) in enumerate(plan)}

        async def handler(e: ev.Event) -> None:
            running[e.channel_id] += 1
            assert running[e.channel_id] == 1, "two events of one lane at once"
            overlap["max_lanes"] = max(overlap["max_lanes"], sum(running.values()))
            seq: Any = e.raw["seq"]
            for _ in range(yields[seq]):
                await asyncio.sleep(0)
            seen[e.channel_id].append(seq)
            running[e.channel_id] -= 1

        d = LaneDispatcher(handler)
        for seq, (lane, _) in enumerate(plan):
            d.post(_ev(lane, seq))
            if post_while_running:
                await asyncio.sleep(0)
        await d.drain()
        expected: dict[str | None, list[int]] = defaultdict(list)
        for seq, (lane, _) in enumerate(plan):
            expected[f"c{lane}"].append(seq)
        assert seen == expected
        assert d.handled == len(plan) and d.pending == 0 and d.active_lanes == 0
        lanes_with_waits = {lane for lane, y in plan if y > 0}
        if not post_while_running and len(lanes_with_waits) > 1:
            assert overlap["max_lanes"] > 1, "lanes did not run concurrently"
        assert len(d.lag_samples()) == len(plan)

    asyncio.run(run())


async def test_lag_samples_are_bounded() -> None:
    async def handler(e: ev.Event) -> None:
        return None

    d = LaneDispatcher(handler, max_samples=10)
    for i in range(50):
        d.post(_ev(i % 7, i))
    await d.drain()
    assert len(d.lag_samples()) == 10 and d.handled == 50


async def test_lane_of_failure_falls_back_to_the_channel(caplog: pytest.LogCaptureFixture) -> None:
    got: list[str | None] = []

    async def handler(e: ev.Event) -> None:
        got.append(e.channel_id)

    def bad_lane(e: ev.Event) -> str | None:
        raise KeyError("oops")

    d = LaneDispatcher(handler, bad_lane)
    assert d.lane_for(_ev(1, 0)) == "c1"
    assert d.lane_for(ev.BridgeCreated(bridge=Bridge(id="b"))) == "b"
    assert d.lane_for(ev.ApplicationReplaced()) == "app"
    d.post(_ev(1, 0))
    await d.drain()
    assert got == ["c1"]
    assert caplog.records and caplog.records[0].levelno == logging.ERROR
