"""The per-call mailbox: order, one item at a time, timers and tasks owned by the
call, the safety net on a handler's failure, and a stop bounded as a whole."""

from __future__ import annotations

import asyncio
import time

from hypothesis import given, settings
from hypothesis import strategies as hs

from acd.calls.mailbox import Mailbox, stop_all
from acd.clock import Clock


class Recorder:
    def __init__(self, delay: float = 0.0, fail_on: object = None) -> None:
        self.seen: list[object] = []
        self.errors: list[object] = []
        self.running = 0
        self.overlap = False
        self.delay = delay
        self.fail_on = fail_on

    async def handle(self, item: object) -> None:
        self.running += 1
        self.overlap |= self.running > 1
        try:
            await asyncio.sleep(self.delay)
            if item == self.fail_on:
                raise RuntimeError("injected")
            self.seen.append(item)
        finally:
            self.running -= 1

    async def on_error(self, item: object, exc: BaseException) -> None:
        self.errors.append((item, type(exc).__name__))


def box(rec: Recorder, name: str = "c1") -> Mailbox:
    return Mailbox(name, rec.handle, rec.on_error, Clock())


async def test_items_in_order_one_at_a_time() -> None:
    rec = Recorder(delay=0.001)
    b = box(rec)
    for i in range(20):
        b.post(i)
    assert b.busy
    await b.idle()
    assert rec.seen == list(range(20)) and not rec.overlap and not b.busy


async def test_a_failing_item_goes_to_the_safety_net_and_later_items_still_run() -> None:
    rec = Recorder(fail_on="bad")
    b = box(rec)
    for item in ("a", "bad", "b"):
        b.post(item)
    await b.idle()
    assert rec.seen == ["a", "b"]
    assert rec.errors == [("bad", "RuntimeError")]


async def test_timers_replace_cancel_and_fire_into_the_mailbox() -> None:
    rec = Recorder()
    b = box(rec)
    b.start_timer("ring", 0.05, "first")
    b.start_timer("ring", 0.01, "second")  # replaces the first
    b.start_timer("reap", 0.01, "reap")
    b.cancel_timer("reap")
    assert b.timers == {"ring"}
    await asyncio.sleep(0.1)
    await b.idle()
    assert rec.seen == ["second"] and b.timers == frozenset()


async def test_close_cancels_the_calls_timers_and_tasks_and_drops_late_items() -> None:
    rec = Recorder()
    b = box(rec)
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def lookup() -> None:
        started.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise
    b.spawn(lookup())
    b.start_timer("announce", 0.01, "announce")
    await started.wait()
    assert b.tasks == 1
    b.close()
    await asyncio.wait_for(cancelled.wait(), 1.0)
    b.post("late")
    b.start_timer("x", 0.0, "x")
    await asyncio.sleep(0.05)
    assert rec.seen == [] and b.tasks == 0 and b.timers == frozenset() and not b.busy


async def test_spawn_after_close_does_not_run() -> None:
    b = box(Recorder())
    b.close()
    ran = False

    async def never() -> None:
        nonlocal ran
        ran = True
    b.spawn(never())
    await asyncio.sleep(0.01)
    assert not ran


async def test_stop_all_is_bounded_as_a_whole_not_per_call() -> None:
    recs = [Recorder(delay=10.0) for _ in range(50)]
    boxes = [box(r, f"c{i}") for i, r in enumerate(recs)]
    for b in boxes:
        b.post("stuck")
        b.post("never")
        b.start_timer("reap", 60.0, "reap")
    await asyncio.sleep(0)
    t0 = time.monotonic()
    cancelled = await stop_all(boxes, timeout=0.2)
    assert time.monotonic() - t0 < 1.0  # 50 stuck calls: one bound, not 50
    assert cancelled == 50
    assert all(not b.busy and b.timers == frozenset() for b in boxes)
    assert all(r.seen == [] for r in recs)


async def test_stop_all_lets_quick_work_finish() -> None:
    rec = Recorder(delay=0.01)
    b = box(rec)
    b.post("current")
    b.post("next")
    await asyncio.sleep(0)
    assert await stop_all([b], timeout=1.0) == 0
    assert rec.seen == ["current"]  # what it was on finishes; nothing new is taken


@settings(max_examples=50, deadline=None)
@given(posts=hs.lists(hs.tuples(hs.integers(0, 3), hs.integers(0, 2)), max_size=40))
async def test_each_call_sees_its_items_in_order_never_two_at_once(
        posts: list[tuple[int, int]]) -> None:
    recs = [Recorder() for _ in range(4)]
    boxes = [box(r, f"c{i}") for i, r in enumerate(recs)]
    sent: list[list[int]] = [[] for _ in range(4)]
    for n, (which, pause) in enumerate(posts):
        boxes[which].post(n)
        sent[which].append(n)
        for _ in range(pause):
            await asyncio.sleep(0)
    for b in boxes:
        await b.idle()
    assert [r.seen for r in recs] == sent
    assert not any(r.overlap for r in recs)
