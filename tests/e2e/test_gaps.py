"""Events lost in a gap (ARI cut through a proxy, or events silently dropped):
reconciliation ends what is gone, frees the agents, writes the rows, and never
charges an agent for acd's own trouble reaching Asterisk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import SPEED, Harness, e2e_settings, running_harness
from tests.store.proxy import TcpProxy

PRESS_SALES = [(1.0, "1")]
WRAPUP = 2.0  # the sales queue's, in e2e_settings
# How long (real seconds) an agent may take to be available after ARI is back: the
# reconnect backoff cap (1 s), then wrap-up + 5 s of clock time, and slack for a
# machine shared with other test runs.
BACK_WITHIN = 1.0 + (WRAPUP + 5.0) / SPEED + 1.5


@pytest.fixture
async def gap(redis_prefix: str, redis_client: Any, pg_dsn: str,
              tmp_path: Path) -> AsyncIterator[Harness]:
    # No periodic reconciliation: what these tests see is the one after the reconnect.
    # Rings long enough (30 s) that no ring times out while ARI is cut: the reconnect
    # may take up to its 1 s backoff cap (20 s of this clock).
    settings = e2e_settings(redis_prefix, pg_dsn, tmp_path, reconcile_every=0)
    settings.queues = [q.model_copy(update={"ring_timeout": 30.0}) for q in settings.queues]
    async with running_harness(settings, ari_proxy=True) as h:
        yield h


def proxy(h: Harness) -> TcpProxy:
    assert h.ari_proxy is not None
    return h.ari_proxy


async def back_up(h: Harness) -> float:
    """ARI reachable again; returns the loop time it came back."""
    await proxy(h).up()
    return asyncio.get_running_loop().time()


async def one_row(h: Harness, channel_id: str) -> Any:
    call_id = await h.finished(channel_id)
    n = await h.pg.fetchval("SELECT count(*) FROM calls WHERE call_id=$1", call_id)
    assert n == 1
    return await h.call(call_id)


async def available_soon(h: Harness, agent: str, since: float) -> None:
    await h.wait_agent(agent, "available", timeout=BACK_WITHIN + 1)
    took = asyncio.get_running_loop().time() - since
    assert took <= BACK_WITHIN, f"{agent} available {took:.2f} s after ARI came back"


async def test_connected_call_whose_parties_hang_up_in_the_gap(gap: Harness) -> None:
    h = gap
    ch = h.sim.place_call("+15557001", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a1", "on_call")
    leg = h.live(ch).connected_leg
    assert leg is not None
    await proxy(h).down()
    h.sim.remote_hangup(ch)
    h.sim.remote_hangup(leg.channel_id)
    await h.clock.sleep(3.0)
    assert h.sim.channels == 0 and h.call_on(ch) is not None  # acd cannot know yet
    since = await back_up(h)
    row = await one_row(h, ch)
    assert (row["outcome"], row["agent_id"]) == ("answered", "a1")
    legs = await h.legs(row["call_id"])
    assert [(x["kind"], x["outcome"]) for x in legs] == [
        ("caller", "answered"), ("agent", "answered")]
    assert [e for e, _ in await h.queue_events(row["call_id"])] == [
        "enter", "offer", "connect", "complete"]
    await available_soon(h, "a1", since)
    assert (await h.app.agents.get("a1")).missed_in_row == 0  # type: ignore[union-attr]
    await h.assert_clean()


async def test_waiting_caller_who_hangs_up_in_the_gap_is_no_ghost(gap: Harness) -> None:
    h = gap
    assert h.app.agents is not None and h.app.router is not None
    router = h.app.router
    for agent in ("a1", "a2"):
        await h.app.agents.set_break(agent, "meeting")
    ch = h.sim.place_call("+15557002", "100", dtmf=PRESS_SALES)

    async def waiting() -> bool:
        return await router.waiting("sales") == 1
    await h.wait_for(waiting, "the caller to wait in sales")
    await proxy(h).down()
    h.sim.remote_hangup(ch)
    await h.clock.sleep(3.0)
    await back_up(h)
    row = await one_row(h, ch)
    assert row["outcome"] == "abandoned"
    assert await router.waiting("sales") == 0
    # Nobody is offered the ghost: the agent stays available, no phone rings.
    await h.app.agents.available("a1")
    await h.clock.sleep(5.0)
    assert await h.agent_state("a1") == "available"
    assert h.sim.channels == 0
    await h.assert_clean()


@pytest.mark.parametrize("agent_too", [False, True], ids=["caller", "caller-and-agent"])
async def test_caller_hangs_up_in_the_gap_while_the_agent_rings(gap: Harness,
                                                                agent_too: bool) -> None:
    h = gap
    h.sim.set_endpoint("PJSIP", "agent100", "noanswer")
    ch = h.sim.place_call("+15557003", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a1", "ringing")
    (leg,) = h.live(ch).live_legs()
    await proxy(h).down()
    h.sim.remote_hangup(ch)
    if agent_too:
        h.sim.remote_hangup(leg.channel_id)
    await h.clock.sleep(1.0)
    since = await back_up(h)
    row = await one_row(h, ch)
    assert row["outcome"] == "abandoned"
    await available_soon(h, "a1", since)
    view = await h.app.agents.get("a1")  # type: ignore[union-attr]
    assert view.missed_in_row == 0, "a ring cut short by the gap was charged to a1"
    await h.assert_clean()


async def test_acd_failing_to_reach_asterisk_is_not_charged_to_agents(gap: Harness) -> None:
    """ARI is unreachable while agents become available for a waiting caller: every
    offer fails on acd's side; no agent is counted a miss or paused for it, and the
    caller is connected once ARI is back."""
    h = gap
    assert h.app.agents is not None and h.app.router is not None
    changes: list[Any] = []
    logged = h.app.agents.on_change

    def spy(change: Any) -> None:
        changes.append(change)
        if logged is not None:
            logged(change)
    h.app.agents.on_change = spy
    for agent in ("a1", "a2"):
        await h.app.agents.set_break(agent, "meeting")
    ch = h.sim.place_call("+15557004", "100", dtmf=PRESS_SALES)
    router = h.app.router

    async def waiting() -> bool:
        return await router.waiting("sales") == 1
    await h.wait_for(waiting, "the caller to wait in sales")
    await proxy(h).down()
    await h.app.agents.available("a1")
    await h.app.agents.available("a2")
    await h.clock.sleep(20.0)  # several offers fail meanwhile (max_missed is 2)
    for agent in ("a1", "a2"):
        view = await h.app.agents.get(agent)
        assert view.state != "break" and view.missed_in_row == 0, view
    await back_up(h)

    def bridged() -> bool:
        return any(c["id"] == ch and c["bridge"] for c in h.sim.state()["channels"])
    await h.wait_for(bridged, "the caller connected", timeout=10)
    h.sim.remote_hangup(ch)
    row = await one_row(h, ch)
    assert row["outcome"] == "answered"
    assert changes, "the spy saw no agent state change"
    assert not [c for c in changes if c.reason == "missed_offers"]
    legs = await h.legs(row["call_id"])
    assert {x["outcome"] for x in legs if x["kind"] == "agent"} <= {"error", "answered"}
    await h.wait_agent(str(row["agent_id"]), "available")
    await h.assert_clean()


async def test_no_agent_leg_is_made_while_only_the_events_socket_is_down(
        gap: Harness) -> None:
    """ARI's HTTP answers but acd's events socket is not back yet (CI saw it on the
    real Asterisk: HTTP back 0.5 s before the socket). A channel created into the app
    then dies unheard (tests/asterisk/test_stasis.py), so acd makes no agent leg
    until it listens again: the agent is not charged and the caller is connected
    once the socket is back, with no leg "lost"."""
    h = gap
    stream = h.app.stream
    assert h.app.agents is not None and stream is not None
    await h.app.agents.set_break("a2", "meeting")
    await h.app.agents.set_break("a1", "meeting")
    ch = h.sim.place_call("+15557007", "100", dtmf=PRESS_SALES)
    router = h.app.router
    assert router is not None

    async def waiting() -> bool:
        return await router.waiting("sales") == 1
    await h.wait_for(waiting, "the caller to wait in sales")
    held = asyncio.Event()
    connect = stream._connect

    async def held_back(quiet: bool = False) -> Any:
        await held.wait()
        return await connect(quiet)
    stream._connect = held_back  # type: ignore[method-assign]
    assert await h.sim.drop_websockets(stream.config.app) == 1
    await h.wait_for(lambda: not stream.connected, "the events socket down")
    await h.app.agents.available("a1")
    await h.clock.sleep(10.0)  # offers come and fail on acd's side meanwhile
    assert h.sim.state()["channels"] and all(
        c["id"] == ch for c in h.sim.state()["channels"]), "an agent leg was made"
    held.set()
    await h.wait_agent("a1", "on_call", timeout=10)
    h.sim.remote_hangup(ch)
    row = await one_row(h, ch)
    assert (row["outcome"], row["agent_id"]) == ("answered", "a1")
    legs = await h.legs(row["call_id"])
    outcomes = [x["outcome"] for x in legs if x["kind"] == "agent"]
    assert outcomes[-1] == "answered" and set(outcomes) <= {"error", "answered"}, outcomes
    view = await h.app.agents.get("a1")
    assert view.missed_in_row == 0
    await h.wait_agent("a1", "available")
    await h.assert_clean()


async def test_events_lost_without_a_drop_are_found_by_the_periodic_check(
        redis_prefix: str, redis_client: Any, pg_dsn: str, tmp_path: Path) -> None:
    """The socket stays up but events go missing (a slow consumer dropped, a bug):
    the periodic reconciliation still ends the call and frees the agent."""
    settings = e2e_settings(redis_prefix, pg_dsn, tmp_path, reconcile_every=5.0)
    async with running_harness(settings) as h:
        ch = h.sim.place_call("+15557005", "100", dtmf=PRESS_SALES)
        await h.wait_agent("a1", "on_call")
        leg = h.live(ch).connected_leg
        assert leg is not None
        hub = h.sim.world.hub
        conns = [c for app in hub.apps.values() for c in app.connections]
        for conn in conns:
            hub.detach(conn)
        h.sim.remote_hangup(ch)
        h.sim.remote_hangup(leg.channel_id)
        await h.clock.sleep(0.5)
        for conn in conns:
            hub.attach(conn)
        row = await one_row(h, ch)
        assert row["outcome"] == "answered"
        await h.wait_agent("a1", "available")
        assert h.app.calls is not None and h.app.calls.reconciler.totals.calls_ended >= 1
        await h.assert_clean()


async def test_an_agent_leg_made_though_its_creation_seemed_to_fail_is_hung_up(
        gap: Harness) -> None:
    """create_channel's reply is lost (a timeout) but Asterisk made the channel: it
    enters Stasis, nobody dials it, and acd hangs it up at once instead of leaving
    it; the agent is not charged and the caller is connected on the next offer."""
    from acd.ari.errors import AriUnavailable

    h = gap  # no periodic reconciliation: the leg is hung up when it shows up
    assert h.app.ari is not None and h.app.calls is not None
    ari = h.app.ari
    real = ari.create_channel
    made: list[str] = []

    async def reply_lost(*args: Any, **kwargs: Any) -> Any:
        channel = await real(*args, **kwargs)
        if not made:
            made.append(kwargs["channel_id"])
            raise AriUnavailable("no answer within 5s", method="POST", path="/channels/create")
        return channel
    ari.create_channel = reply_lost  # type: ignore[method-assign]
    await h.app.agents.set_break("a2", "meeting")  # type: ignore[union-attr]
    ch = h.sim.place_call("+15557006", "100", dtmf=PRESS_SALES)
    await h.wait_for(lambda: bool(made), "the first agent leg")
    await h.wait_agent("a1", "on_call")
    assert not [c for c in h.sim.state()["channels"] if c["id"] == made[0]], \
        "the leg acd took for failed is still up"
    view = await h.app.agents.get("a1")  # type: ignore[union-attr]
    assert view.missed_in_row == 0
    h.sim.remote_hangup(ch)
    row = await one_row(h, ch)
    assert (row["outcome"], row["agent_id"]) == ("answered", "a1")
    legs = await h.legs(row["call_id"])
    assert [(x["kind"], x["outcome"]) for x in legs] == [
        ("caller", "answered"), ("agent", "error"), ("agent", "answered")]
    assert [x["hangup_cause"] for x in legs] == [16, 41, 16]
    await h.wait_agent("a1", "available")
    await h.assert_clean()


async def test_the_events_socket_reconnects_at_once_after_a_drop(harness: Harness) -> None:
    h = harness
    stream = h.app.stream
    assert stream is not None
    loop = asyncio.get_running_loop()
    for _ in range(3):
        before = stream.connects
        began = loop.time()
        assert await h.sim.drop_websockets() == 2  # the calls app and the phones app
        await h.wait_for(lambda n=before: stream.connects > n and stream.connected,
                         "the events socket back")
        assert loop.time() - began < 0.5
        await asyncio.sleep(1.1)  # a connection that lived past the cap: at once again
