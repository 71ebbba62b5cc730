"""Routing test helpers: nodes (AgentService + Router) on one real Redis.

Every routing test runs twice: on the plain Redis of the other tiers
("single") and on a local three-master Redis Cluster ("cluster", started once per
session by tests/routing/cluster.py), through the `redis_client` fixture below.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from acd.agents.model import AgentDef, AgentStateChange
from acd.clock import Clock
from acd.routing.agents import AgentService
from acd.routing.client import RedisClient
from acd.routing.model import Offer, QueueDef, RoutingSettings
from acd.routing.scripts import ScriptName
from acd.routing.service import Router
from tests.conftest import REDIS_URL
from tests.routing.cluster import LocalCluster, local_cluster

KINDS = ["single", "cluster"]


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    with local_cluster() as cluster:
        yield cluster


def client_for(kind: str, cluster: LocalCluster | None) -> RedisClient:
    if kind == "cluster":
        assert cluster is not None
        return RedisCluster(host=cluster.host, port=cluster.ports[0], decode_responses=True)
    return aioredis.Redis.from_url(REDIS_URL, decode_responses=True)


@pytest.fixture(params=KINDS)
def redis_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def redis_client(request: pytest.FixtureRequest, redis_kind: str,
                       redis_prefix: str) -> AsyncIterator[RedisClient]:
    """Overrides tests/conftest.py's: the same client on one Redis or the cluster."""
    cluster = request.getfixturevalue("redis_cluster") if redis_kind == "cluster" else None
    client = client_for(redis_kind, cluster)
    yield client
    keys = [k async for k in client.scan_iter(match=f"*{redis_prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


class ManualClock(Clock):
    """A clock that moves only when a test moves it (`advance`)."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        super().__init__()
        self.now_ms = start_ms

    def ms(self) -> int:
        return self.now_ms

    def advance(self, seconds: float) -> None:
        self.now_ms += int(seconds * 1000)


async def wait_until(predicate: Callable[[], Awaitable[bool]], what: str,
                     timeout: float = 10.0) -> None:
    """Poll `predicate` until it holds (a wait for a condition, not a timing)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await predicate():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class SettlingRouter(Router):
    """A Router whose operations return once the offers they produced have gone
    through the offer bus (as in production: by the bus's task, not inline), so
    a test can read what was offered right after the operation. The bus itself
    is tested in test_bus.py."""

    async def _run(self, name: ScriptName, *args: str | int) -> dict[str, Any]:
        res = await super()._run(name, *args)
        if not self.bus.delivering():
            await self.settled()
        return res


@dataclass
class Node:
    node_id: str
    agents: AgentService
    router: Router
    offers: list[Offer] = field(default_factory=list)
    changes: list[AgentStateChange] = field(default_factory=list)
    exits: list[tuple[str, str]] = field(default_factory=list)


NodeFactory = Callable[..., Awaitable[Node]]


@pytest.fixture
async def make_node(redis_client: RedisClient, redis_prefix: str) -> AsyncIterator[NodeFactory]:
    nodes: list[Node] = []

    async def make(node_id: str = "n1", *, agents: list[AgentDef], queues: list[QueueDef],
                   settings: RoutingSettings | None = None, clock: Clock | None = None,
                   start: bool = False) -> Node:
        clk = clock or Clock()
        st = settings or RoutingSettings()
        changes: list[AgentStateChange] = []
        svc = AgentService(redis_client, prefix=redis_prefix, clock=clk, agents=agents,
                           on_change=changes.append, settings=st)
        await svc.sync_definitions()
        offers: list[Offer] = []
        exits: list[tuple[str, str]] = []

        async def on_offer(offer: Offer) -> None:
            offers.append(offer)

        async def on_exit(call_id: str, reason: str) -> None:
            exits.append((call_id, reason))

        router = SettlingRouter(redis_client, prefix=redis_prefix, node_id=node_id, clock=clk,
                        queues=queues, agents=svc, settings=st, on_offer=on_offer,
                        on_exit=on_exit)
        node = Node(node_id, svc, router, offers, changes, exits)
        nodes.append(node)
        if start:
            await router.start()
        return node

    yield make
    for n in nodes:
        await n.router.stop()
