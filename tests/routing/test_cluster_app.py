"""The whole acd on a Redis Cluster (`redis_cluster: true`): one answered call
through the simulator, routing and the call room's own keys on three masters."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster

from tests.e2e.conftest import Harness, e2e_settings, running_harness
from tests.routing.cluster import LocalCluster


@pytest.fixture
async def cluster_harness(redis_cluster: LocalCluster, redis_prefix: str, pg_dsn: str,
                          tmp_path: Path) -> AsyncIterator[Harness]:
    settings = e2e_settings(redis_prefix, pg_dsn, tmp_path, redis_url=redis_cluster.url,
                            redis_cluster=True)
    try:
        async with running_harness(settings, cls=Harness) as h:
            yield h
    finally:
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
