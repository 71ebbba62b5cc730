"""The whole acd on a Redis Cluster (`redis_cluster: true`): one answered call
through the simulator, routing and the call room's own keys on three masters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from redis.asyncio.cluster import RedisCluster

from acd.app import App
from acd.clock import Clock
from acd.sim.server import Simulator
from tests.e2e.conftest import SPEED, Harness, e2e_settings
from tests.routing.cluster import LocalCluster


@pytest.fixture
async def cluster_harness(redis_cluster: LocalCluster, redis_prefix: str, pg_dsn: str,
                          tmp_path: Path) -> AsyncIterator[Harness]:
    clock = Clock(SPEED)
    sim = Simulator(clock, user="acd", password="acd-test-secret")
    port = await sim.start("127.0.0.1", 0)
    settings = e2e_settings(redis_prefix, pg_dsn, tmp_path, redis_url=redis_cluster.url,
                            redis_cluster=True)
    settings.ari.url = f"http://127.0.0.1:{port}"
    for agent in settings.agents:
        tech, _, resource = agent.endpoint.partition("/")
        sim.set_endpoint(tech, resource, "answer", answer_after=0.5)
    app = App(settings, clock=clock, simulator=sim, start_api=False)
    await app.start()
    pool = await asyncpg.create_pool(settings.pg_dsn.get_secret_value(), min_size=1, max_size=2)
    assert pool is not None
    h = Harness(app=app, sim=sim, clock=clock, pg=pool, prefix=redis_prefix, ended={})
    assert app.calls is not None

    def on_end(call: Any) -> None:
        h.ended[call.channel_id] = call.call_id

    app.calls.on_call_ended = on_end
    try:
        await h.wait_for(lambda: bool(app.stream and app.stream.connected), "ARI to connect")
        yield h
    finally:
        await app.stop()
        await pool.close()
        await sim.stop()
        cleanup = RedisCluster(host=redis_cluster.host, port=redis_cluster.ports[0])
        keys = [k async for k in cleanup.scan_iter(match=f"*{redis_prefix}*")]
        if keys:
            await cleanup.delete(*keys)
        await cleanup.aclose()


async def test_answered_call_on_a_cluster(cluster_harness: Harness) -> None:
    h = cluster_harness
    assert isinstance(h.app.redis, RedisCluster)
    ch = h.sim.place_call("+15551001", "100", dtmf=[(1.0, "1")])
    await h.wait_agent("a1", "on_call")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    assert await h.queue_events(call_id) == [
        ("enter", None), ("offer", "a1"), ("connect", "a1"), ("complete", "a1")]
    await h.wait_agent("a1", "available")
    await h.assert_clean()
