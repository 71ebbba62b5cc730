"""acd stops without cleanup (as after kill -9) with calls in the IVR, waiting and
talking; some hang up while no acd runs. After a restart every call that reached
acd has exactly one `calls` row, nobody is stranded, nothing is left behind."""

from __future__ import annotations

from acd.app import App
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

    await h.app.stop()  # no rows written for live calls: they are left for a new acd
    stopped_ms = h.clock.ms()
    for ch in (talking, leg.channel_id, waiting, in_ivr):
        h.sim.remote_hangup(ch)
    await h.clock.sleep(5.0)

    app = App(h.app.settings, clock=h.clock, simulator=h.sim, start_api=False)
    h.app = app
    await app.start()
    h.watch(app)
    try:
        assert app.writer is not None and app.agents is not None and app.router is not None

        async def written() -> bool:
            await app.writer.flush()  # type: ignore[union-attr]
            n = await h.pg.fetchval("SELECT count(*) FROM calls WHERE call_id = ANY($1)",
                                    [ids[c] for c in (talking, waiting, in_ivr)])
            return bool(n == 3)
        await h.wait_for(written, "rows for the calls that ended while acd was down")
        rows = {ch: await h.call(ids[ch]) for ch in (talking, waiting, in_ivr)}
        assert {ch: (r["outcome"], r["ended_by"], r["end_detail"]) for ch, r in rows.items()} == {
            talking: ("answered", "unknown", "acd_down"),
            waiting: ("abandoned", "caller", "acd_down"),
            in_ivr: ("ivr_hangup", "caller", "acd_down")}
        assert rows[talking]["agent_id"] == "a1" and rows[talking]["talk_ms"] > 0
        # The wait runs up to the last time acd saw the caller (its last tick).
        wait = rows[waiting]["wait_ms"]
        tick = int(app.settings.routing.tick * 1000)
        assert stopped_ms - enqueued - 2 * tick <= wait <= stopped_ms - enqueued + 100, wait
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
    finally:
        await app.stop()
