"""The per-channel control queue: order, holding, release, and abort on hang-up."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.sim.control import ChannelGone, ControlQueue, Release


async def test_a_command_waits_for_the_one_holding_the_queue() -> None:
    q = ControlQueue()
    held: list[Release] = []
    q.cast(held.append)                      # a "prompt" that holds the queue
    fut = q.call(lambda: "answered")
    await asyncio.sleep(0)
    assert q.busy and not fut.done() and len(q) == 1
    held[0]()
    assert await fut == "answered"
    assert not q.busy and len(q) == 0


async def test_release_twice_or_late_does_not_skip_a_command() -> None:
    q = ControlQueue()
    held: list[Release] = []
    q.cast(held.append)
    q.cast(held.append)
    held[0]()
    held[0]()                                # a stale second release changes nothing
    assert len(held) == 2 and q.busy
    held[1]()
    assert not q.busy


async def test_close_aborts_waiting_commands_in_order() -> None:
    q = ControlQueue()
    order: list[str] = []
    q.cast(lambda release: None)             # holds forever
    q.cast(lambda release: order.append("ran"), lambda: order.append("abort-1"))
    fut = q.call(lambda: 1)
    q.cast(lambda release: order.append("ran"), lambda: order.append("abort-3"))
    q.close()
    assert order == ["abort-1", "abort-3"]
    with pytest.raises(ChannelGone):
        await fut
    q.cast(lambda release: order.append("ran"), lambda: order.append("after-close"))
    assert order[-1] == "after-close"


async def test_a_failing_command_reaches_its_caller_and_frees_the_queue() -> None:
    q = ControlQueue()

    def boom() -> None:
        raise ValueError("bad")
    with pytest.raises(ValueError):
        await q.call(boom)
    assert await q.call(lambda: 2) == 2


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3)), min_size=1, max_size=12))
def test_commands_run_one_at_a_time_in_submission_order(
        plan: list[tuple[bool, int]]) -> None:
    """Whatever holds and releases when, commands start in order and never overlap."""

    async def scenario() -> None:
        q = ControlQueue()
        started: list[int] = []
        running: list[int] = []
        loop = asyncio.get_running_loop()
        for i, (holds, ticks) in enumerate(plan):
            def run(release: Release, i: int = i, holds: bool = holds,
                    ticks: int = ticks) -> None:
                assert not running, "two commands at once"
                started.append(i)
                running.append(i)

                def done() -> None:
                    running.remove(i)
                    release()
                if holds:
                    loop.call_later(ticks * 0.001, done)
                else:
                    done()
            q.cast(run)
        for _ in range(200):
            if len(started) == len(plan) and not running:
                break
            await asyncio.sleep(0.001)
        assert started == list(range(len(plan)))
        assert not q.busy

    asyncio.run(scenario())
