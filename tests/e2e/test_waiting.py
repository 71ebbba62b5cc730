"""Waiting callers end to end: position announcements as the queue moves, and the
callback that keeps the caller's place (tests/e2e/flows/waiting.yaml, number 150).

Through the simulator with real Redis and PostgreSQL; what callers heard is read
off a second ARI event socket (EventTap), independently of acd.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.ivr_harness import EventTap

WAITING = "150"


@pytest.fixture
async def tap(harness: Harness) -> AsyncIterator[EventTap]:
    for sound in ("acd-callback-offer", "acd-callback-confirmed", "acd-callback-connecting"):
        harness.sim.sounds[sound] = 1.0
    t = EventTap(harness.app.settings.ari.url, harness.app.settings.ari.app)
    await t.start()
    yield t
    await t.stop()


def positions_heard(prompts: list[str]) -> list[int]:
    """The positions announced, in order: "you are next" is 1, "you are currently
    caller number N ..." is N."""
    out: list[int] = []
    for i, media in enumerate(prompts):
        if media == "sound:queue-youarenext":
            out.append(1)
        elif media == "sound:queue-thereare" and i + 1 < len(prompts):
            out.append(int(prompts[i + 1].removeprefix("sound:digits/")))
    return out


@pytest.mark.parametrize(("prompts", "heard"), [
    ([], []),
    (["sound:queue-thereare", "sound:digits/3", "sound:queue-callswaiting"], [3]),
    (["sound:queue-thereare", "sound:digits/12", "sound:queue-callswaiting",
      "sound:acd-callback-offer", "sound:queue-youarenext"], [12, 1]),
])
def test_positions_heard(prompts: list[str], heard: list[int]) -> None:
    assert positions_heard(prompts) == heard


async def wait_waiting(h: Harness, n: int) -> None:
    assert h.app.router is not None
    router = h.app.router

    async def ok() -> bool:
        return await router.waiting("sales") == n
    await h.wait_for(ok, f"{n} calls waiting in sales")


async def test_position_announcements_follow_the_queue(harness: Harness,
                                                       tap: EventTap) -> None:
    h = harness
    assert h.app.agents is not None and h.app.router is not None
    for agent in ("a1", "a2"):
        await h.app.agents.set_break(agent, "meeting")
    chans = []
    for n in range(3):
        chans.append(h.sim.place_call(f"+1555300{n}", WAITING))
        await wait_waiting(h, n + 1)
    first, second, third = chans

    await h.wait_for(lambda: positions_heard(tap.prompts(third))[-1:] == [3],
                     "the third caller to hear position 3")
    assert positions_heard(tap.prompts(first))[-1:] == [1]

    # The head of the queue is answered: everybody behind moves up one place.
    await h.app.agents.available("a1")
    await h.wait_agent("a1", "on_call")
    assert h.live(first).connected_leg is not None
    await h.wait_for(lambda: positions_heard(tap.prompts(third))[-1:] == [2],
                     "the third caller to hear position 2")
    await h.wait_for(lambda: positions_heard(tap.prompts(second))[-1:] == [1],
                     "the second caller to hear they are next")

    await h.app.agents.available("a2")
    await h.wait_agent("a2", "on_call")
    await h.wait_for(lambda: positions_heard(tap.prompts(third))[-1:] == [1],
                     "the third caller to hear they are next")

    # Never a position that goes up, never one wrong for the queue at that time.
    heard = positions_heard(tap.prompts(third))
    assert heard == sorted(heard, reverse=True) and set(heard) == {1, 2, 3}, heard
    # The first caller, answered at once after their announcement, heard nothing more.
    assert positions_heard(tap.prompts(first)) and set(positions_heard(
        tap.prompts(first))) == {1}
    # Between announcements the caller hears music again.
    def music(ch: str) -> bool:
        return any(c["id"] == ch and c["moh"] for c in h.sim.state()["channels"])
    await h.wait_for(lambda: music(third), "music on hold after the announcement")

    for ch in chans:
        h.sim.remote_hangup(ch)
    for ch in chans[:2]:
        call_id = await h.finished(ch)
        assert (await h.call(call_id))["outcome"] == "answered"
    call_id = await h.finished(third)
    row = await h.call(call_id)
    assert row["outcome"] == "abandoned"
    await h.wait_agent("a1", "available")
    await h.wait_agent("a2", "available")
    await h.assert_clean()


async def test_expected_wait_is_announced_once_handle_times_are_known(
        harness: Harness, tap: EventTap) -> None:
    h = harness
    assert h.app.agents is not None
    await h.app.agents.set_break("a2", "meeting")
    # One call handled by a1 gives the queue a handle time.
    ch = h.sim.place_call("+15553100", WAITING)
    await h.wait_agent("a1", "on_call")
    await h.clock.sleep(30.0)
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    await h.wait_agent("a1", "available")
    # a1 takes a second call and stays on it: staffed, but not free.
    busy = h.sim.place_call("+15553102", WAITING)
    await h.wait_agent("a1", "on_call")

    waiting = h.sim.place_call("+15553101", WAITING)
    def announced() -> bool:
        prompts = tap.prompts(waiting)
        return ("sound:queue-holdtime" in prompts
                and prompts[-1] == "sound:acd-callback-offer")
    await h.wait_for(announced, "the expected wait to be announced in full")
    prompts = tap.prompts(waiting)
    i = prompts.index("sound:queue-holdtime")
    # ~30 s of handle time, first in line, one agent staffed: under a minute.
    assert prompts[i + 1:i + 4] == ["sound:queue-less-than", "sound:digits/1",
                                    "sound:queue-minute"], prompts
    assert prompts[-1] == "sound:acd-callback-offer"
    for channel in (waiting, busy):
        h.sim.remote_hangup(channel)
        await h.finished(channel)
    await h.wait_agent("a1", "available")
    await h.assert_clean()


async def test_callback_keeps_the_callers_place(harness: Harness, tap: EventTap) -> None:
    h = harness
    assert h.app.agents is not None and h.app.router is not None and h.app.redis
    router = h.app.router
    for agent in ("a1", "a2"):
        await h.app.agents.set_break(agent, "meeting")
    first = h.sim.place_call("+15554001", WAITING)
    await wait_waiting(h, 1)
    second = h.sim.place_call("+15554002", WAITING)
    await wait_waiting(h, 2)
    first_id = h.live(first).call_id
    second_id = h.live(second).call_id

    # The first caller asks to be called back, hears so, and is hung up.
    await h.wait_for(lambda: "sound:acd-callback-offer" in tap.prompts(first),
                     "the callback offer")
    h.sim.press(first, "1")
    assert await h.finished(first) == first_id
    row = await h.call(first_id)
    assert row["outcome"] == "callback"
    assert await h.queue_events(first_id) == [("enter", None), ("callback", None)]
    assert "sound:acd-callback-confirmed" in tap.prompts(first)

    # Their place is kept: still first, ahead of the caller who was behind them.
    third = h.sim.place_call("+15554003", WAITING)
    await wait_waiting(h, 3)
    assert await router.position(first_id) == 1
    assert await router.position(second_id) == 2
    assert await router.position(h.live(third).call_id) == 3

    # An agent frees up: acd calls the first caller back, then rings the agent.
    h.sim.set_endpoint("PJSIP", "+15554001@caller-trunk", "answer", answer_after=2.0)
    await h.app.agents.available("a1")
    await h.wait_agent("a1", "on_call")
    assert h.app.calls is not None
    callback = h.app.calls._routed(first_id)
    assert callback is not None and callback.caller_number == "+15554001"
    assert await router.position(second_id) == 1  # the others waited on
    assert "sound:acd-callback-connecting" in tap.prompts(callback.channel_id)

    h.sim.remote_hangup(callback.channel_id)
    cb_id = await h.finished(callback.channel_id)
    cb = await h.call(cb_id)
    assert cb["outcome"] == "answered" and cb["agent_id"] == "a1"
    assert cb["callback_of"] == first_id and cb["queue"] == "sales"
    # The wait counts from the original call's enqueue time.
    assert cb["enqueued_at"] == row["enqueued_at"]
    assert await h.queue_events(cb_id) == [
        ("enter", None), ("offer", "a1"), ("connect", "a1"), ("complete", "a1")]
    assert not await h.app.redis.exists(f"{h.prefix}:callback:{first_id}")

    for ch in (second, third):
        h.sim.remote_hangup(ch)
        await h.finished(ch)
    await h.wait_agent("a1", "available")
    await h.assert_clean()


async def test_unanswered_callback_is_retried_then_given_up(harness: Harness,
                                                           tap: EventTap) -> None:
    h = harness
    assert h.app.agents is not None and h.app.router is not None and h.app.calls
    cfg = h.app.calls.deps.callbacks
    cfg.ring_timeout, cfg.retry_delay, cfg.max_attempts = 4.0, 40.0, 2
    for agent in ("a1", "a2"):
        await h.app.agents.set_break(agent, "meeting")
    h.sim.set_endpoint("PJSIP", "+15555001@caller-trunk", "noanswer")
    first = h.sim.place_call("+15555001", WAITING, dtmf=[(3.0, "1")])
    first_id = await h.finished(first)
    assert (await h.call(first_id))["outcome"] == "callback"
    second = h.sim.place_call("+15555002", WAITING)
    await wait_waiting(h, 2)

    # First attempt: nobody answers; the agent is free again at once, unpunished,
    # and serves the caller behind while the callback waits for its retry.
    await h.app.agents.available("a1")
    await h.wait_agent("a1", "on_call", timeout=30)
    assert h.live(second).connected_leg is not None
    assert (await h.app.agents.get("a1")).missed_in_row == 0
    assert h.app.writer is not None
    writer = h.app.writer

    async def first_attempt_written() -> bool:
        # The attempt's row is written when its leg ends, which may be just after
        # the agent took the next caller: flush, then look.
        await writer.flush()
        return bool(await h.pg.fetch("SELECT 1 FROM calls WHERE callback_of=$1", first_id))
    await h.wait_for(first_attempt_written, "the first attempt's row", timeout=10)
    rows = await h.pg.fetch("SELECT * FROM calls WHERE callback_of=$1", first_id)
    assert [r["outcome"] for r in rows] == ["no_answer"]
    assert await h.app.router.position(first_id) == 1  # still first in line

    # Second (last) attempt after the retry delay, also unanswered: given up.
    await h.app.agents.available("a2")
    assert h.app.redis is not None

    async def gone() -> bool:
        return await h.app.router.position(first_id) is None and not await h.app.redis.exists(
            f"{h.prefix}:callback:{first_id}")
    await h.wait_for(gone, "the callback to be given up", timeout=30)
    assert h.app.writer is not None
    await h.app.writer.flush()
    rows = await h.pg.fetch(
        "SELECT * FROM calls WHERE callback_of=$1 ORDER BY started_at", first_id)
    assert [r["outcome"] for r in rows] == ["no_answer", "no_answer"]
    gap = (rows[1]["started_at"] - rows[0]["ended_at"]).total_seconds()
    assert gap >= 40.0 - 1.0, f"retried after {gap:.1f} s, before the 40 s delay"
    events = await h.pg.fetch(
        "SELECT detail FROM queue_events WHERE call_id=$1 AND event='callback'", rows[1]["call_id"])
    assert len(events) == 1
    await h.wait_agent("a2", "available")
    assert (await h.app.agents.get("a2")).missed_in_row == 0

    h.sim.remote_hangup(second)
    await h.finished(second)
    await h.wait_agent("a1", "available")
    await h.assert_clean()


@pytest.mark.parametrize("rule", ["join_empty", "leave_empty"])
async def test_a_queue_nobody_staffs_sends_callers_on(harness: Harness, tap: EventTap,
                                                      rule: str) -> None:
    h = harness
    assert h.app.agents is not None and h.app.router is not None
    router = h.app.router
    sales = router.queues["sales"]
    router.queues["sales"] = sales.model_copy(
        update={"join_empty": rule != "join_empty", "leave_empty": rule == "leave_empty"})
    await h.app.agents.logout("a2")
    await h.app.agents.set_break("a1", "meeting")  # on break still staffs the queue
    if rule == "join_empty":
        await h.app.agents.logout("a1")
    ch = h.sim.place_call("+15557001", WAITING)
    if rule == "leave_empty":
        await wait_waiting(h, 1)
        await h.clock.sleep(3.0)  # a few router ticks: still staffed, still waiting
        assert await router.waiting("sales") == 1
        await h.app.agents.logout("a1")
    call_id = await h.finished(ch)
    expected = [("enter", None), ("exit", None)] if rule == "leave_empty" else [("exit", None)]
    assert await h.queue_events(call_id) == expected
    detail = await h.pg.fetchval(
        "SELECT detail->>'reason' FROM queue_events WHERE call_id=$1 AND event='exit'", call_id)
    assert detail == "no_agents"
    assert tap.prompts(ch)[-1] == "sound:acd-goodbye"
    assert (await h.call(call_id))["outcome"] == "ivr_hangup"
    await h.assert_clean()
