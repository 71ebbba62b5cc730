"""Routing test helpers: nodes (AgentService + Router) on one real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from acd.agents.model import AgentDef, AgentStateChange
from acd.agents.service import AgentService
from acd.clock import Clock
from acd.routing.model import Offer, QueueDef, RoutingSettings
from acd.routing.service import Router


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
async def make_node(redis_client: aioredis.Redis, redis_prefix: str) -> AsyncIterator[NodeFactory]:
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

        router = Router(redis_client, prefix=redis_prefix, node_id=node_id, clock=clk,
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
