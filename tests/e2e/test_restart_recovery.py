"""acd stops without cleanup (as after kill -9) with calls in the IVR, waiting and
talking; some hang up while no acd runs. After a restart every call that reached
acd has exactly one `calls` row, nobody is stranded, nothing is left behind."""

from __future__ import annotations

from tests.e2e.conftest import Harness

PRESS_SALES = [(1.0, "1")]
PRESS_SUPPORT = [(1.0, "2")]


async def test_calls_that_end_while_acd_is_down_get_their_rows(harness: Harness) -> None:
    h = harness
    assert h.app.agents is not None and h.app.router is not None
    router = h.app.router
    await h.app.agents.set_break("a2", "meeting")
    await h.app.agents.set_break("a3", "meeting")
    talking = h.sim.place_call("+15559101", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a1", "on_call")
    waiting = h.sim.place_call("+15559102", "100", dtmf=PRESS_SALES)
    staying = h.sim.place_call("+15559103", "100", dtmf=PRESS_SUPPORT)
    in_ivr = h.sim.place_call("+15559104", "100")  # listens to the menu, presses nothing

    async def queued() -> bool:
        return await router.waiting("sales") == 1 and await router.waiting("support") == 1
    await h.wait_for(queued, "two callers waiting")
    await h.wait_for(lambda: h.call_on(in_ivr) is not None, "the IVR caller")
    leg = h.live(talking).connected_leg
    assert leg is not None
    ids = {ch: h.live(ch).call_id for ch in (talking, waiting, staying, in_ivr)}
    enqueued = h.live(waiting).enqueued_ms
    assert enqueued is not None

    stopped_ms = 0

    async def they_hang_up() -> None:
        nonlocal stopped_ms
        stopped_ms = h.clock.ms()
        for ch in (talking, leg.channel_id, waiting, in_ivr):
            h.sim.remote_hangup(ch)
        await h.clock.sleep(5.0)
    app = await h.restart(they_hang_up)
    assert app.agents is not None and app.router is not None
    await h.rows_written(ids[c] for c in (talking, waiting, in_ivr))
    rows = {ch: await h.call(ids[ch]) for ch in (talking, waiting, in_ivr)}
    assert {ch: (r["outcome"], r["ended_by"], r["end_detail"]) for ch, r in rows.items()} == {
        talking: ("answered", "unknown", "acd_down"),
        waiting: ("abandoned", "caller", "acd_down"),
        in_ivr: ("ivr_hangup", "caller", "acd_down")}
    assert rows[talking]["agent_id"] == "a1" and rows[talking]["talk_ms"] > 0
    # The wait runs up to the last time acd saw the caller: its node's last tick
    # before the stop (under load that tick may lag the stop by more than one).
    wait = rows[waiting]["wait_ms"]
    last_tick = app.router.resumed_from_ms
    assert last_tick is not None and last_tick <= stopped_ms
    assert last_tick - enqueued <= wait <= stopped_ms - enqueued + 100, (wait, last_tick)
    legs = await h.legs(ids[talking])
    assert [(x["kind"], x["outcome"], x["hangup_cause"]) for x in legs] == [
        ("caller", "answered", 16), ("agent", "answered", 16)]
    assert [e for e, _ in await h.queue_events(ids[waiting])] == ["enter", "abandon"]
    assert await app.router.waiting("sales") == 0
    await h.wait_agent("a1", "available")

    # The caller who stayed is still served, by the new acd.
    await h.wait_for(lambda: h.call_on(staying) is not None, "the waiting caller adopted")
    await app.agents.available("a3")
    await h.wait_agent("a3", "on_call")
    h.sim.remote_hangup(staying)
    row = await h.call(await h.finished(staying))
    assert (row["call_id"], row["outcome"], row["agent_id"]) == (
        ids[staying], "answered", "a3")
    for ch in (talking, waiting, staying, in_ivr):
        n = await h.pg.fetchval("SELECT count(*) FROM calls WHERE call_id=$1", ids[ch])
        assert n == 1, ch
    await h.wait_agent("a3", "available")
    await h.assert_clean()


async def test_a_waiting_caller_is_found_by_its_channel_when_redis_lost_everything(
        harness: Harness) -> None:
    """acd stops with a caller waiting, and Redis loses every key meanwhile (no
    re-adoption record, no queue): the restarted acd finds the call by the ids on
    its channel, queues it again at its original enqueue time, and connects it."""
    h = harness
    assert h.app.agents is not None and h.app.router is not None and h.app.redis is not None
    for agent in ("a1", "a2", "a3"):
        await h.app.agents.set_break(agent, "meeting")
    ch = h.sim.place_call("+15559105", "100", dtmf=PRESS_SALES)
    router = h.app.router

    async def waiting() -> bool:
        return await router.waiting("sales") == 1
    await h.wait_for(waiting, "the caller waiting")
    call_id, enqueued = h.live(ch).call_id, h.live(ch).enqueued_ms

    redis = h.app.redis

    async def redis_restarted_empty() -> None:
        keys = [k async for k in redis.scan_iter(match=f"*{h.prefix}*")]
        assert keys
        await redis.delete(*keys)
    await h.restart(redis_restarted_empty)
    await h.wait_for(lambda: h.call_on(ch) is not None, "the call re-adopted")
    call = h.live(ch)
    assert (call.call_id, call.queue, call.enqueued_ms) == (call_id, "sales", enqueued)
    # The agents are back as the configuration and PostgreSQL say: one of them
    # takes the caller, who kept their place (the original enqueue time).
    await h.wait_for(lambda: h.live(ch).answer_recorded, "the caller served")
    h.sim.remote_hangup(ch)
    assert await h.finished(ch) == call_id
    row = await h.call(call_id)
    assert row["outcome"] == "answered" and row["agent_id"] in ("a1", "a2", "a3")
    assert row["enqueued_at"].timestamp() * 1000 == enqueued
    await h.assert_clean()
