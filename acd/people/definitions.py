"""Agents and queues defined at run time: kept in PostgreSQL, effective at once on
every node.

The YAML configuration seeds a fresh installation (one Redis prefix); from then
on the tables are the truth. A change is written to PostgreSQL, applied to this
node (its agents' records in Redis, the routing key layout, the call room's
queues), then announced on `{P}:defs`; every other node reads the tables again
and applies them the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING

import asyncpg

from acd.agents.model import AgentDef
from acd.config import AgentSettings
from acd.errors import Conflict, NotFound
from acd.routing.keys import Layout
from acd.routing.model import QueueDef
from acd.routing.scripts import Scripts

if TYPE_CHECKING:
    from acd.app import App

logger = logging.getLogger(__name__)
LOCK_KEY = 0x6163_642D_6465_6673  # "acd-defs"


class Definitions:
    """The agent and queue tables of one installation."""

    def __init__(self, pool: asyncpg.Pool, installation: str) -> None:
        self.pool = pool
        self.installation = installation

    async def seed_or_load(self, agents: list[AgentSettings], queues: list[QueueDef]
                           ) -> tuple[list[AgentSettings], list[QueueDef]]:
        """The definitions in force: the tables, filled from `agents` and `queues`
        (the YAML) the first time this installation starts."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)
            done = await conn.fetchval(
                "INSERT INTO definitions_seeded (installation) VALUES ($1) "
                "ON CONFLICT DO NOTHING RETURNING installation", self.installation)
            if done is not None:
                for a in agents:
                    await self._put_agent(conn, a)
                for q in queues:
                    await self._put_queue(conn, q)
                logger.info("definitions seeded from the configuration: %d agents, "
                            "%d queues", len(agents), len(queues))
        return await self.load()

    async def load(self) -> tuple[list[AgentSettings], list[QueueDef]]:
        agents = await self.pool.fetch(
            "SELECT definition FROM agent_defs WHERE installation=$1 ORDER BY seq",
            self.installation)
        queues = await self.pool.fetch(
            "SELECT definition FROM queue_defs WHERE installation=$1 ORDER BY seq",
            self.installation)
        return ([AgentSettings.model_validate_json(r["definition"]) for r in agents],
                [QueueDef.model_validate_json(r["definition"]) for r in queues])

    async def _put_agent(self, conn: asyncpg.Connection | asyncpg.Pool,
                         a: AgentSettings) -> None:
        await conn.execute(
            "INSERT INTO agent_defs (installation, id, definition) VALUES ($1,$2,$3::jsonb) "
            "ON CONFLICT (installation, id) DO UPDATE SET definition=EXCLUDED.definition, "
            "updated_at=now()", self.installation, a.id, a.model_dump_json())

    async def _put_queue(self, conn: asyncpg.Connection | asyncpg.Pool, q: QueueDef) -> None:
        await conn.execute(
            "INSERT INTO queue_defs (installation, name, definition) VALUES ($1,$2,$3::jsonb) "
            "ON CONFLICT (installation, name) DO UPDATE SET definition=EXCLUDED.definition, "
            "updated_at=now()", self.installation, q.name, q.model_dump_json())

    async def put_agent(self, a: AgentSettings) -> None:
        AgentDef(id=a.id, name=a.name, endpoint=a.endpoint, skills=a.skills, order=a.order)
        await self._put_agent(self.pool, a)

    async def put_queue(self, q: QueueDef) -> None:
        await self._put_queue(self.pool, q)

    async def delete_agent(self, agent_id: str) -> None:
        done = await self.pool.execute(
            "DELETE FROM agent_defs WHERE installation=$1 AND id=$2", self.installation, agent_id)
        if done.endswith(" 0"):
            raise NotFound(f"no agent {agent_id!r}", agent_id=agent_id)

    async def delete_queue(self, name: str) -> None:
        done = await self.pool.execute(
            "DELETE FROM queue_defs WHERE installation=$1 AND name=$2", self.installation, name)
        if done.endswith(" 0"):
            raise NotFound(f"no queue {name!r}", queue=name)


def apply(app: App, agents: list[AgentSettings], queues: list[QueueDef]) -> None:
    """Make `agents` and `queues` this node's definitions (no I/O: the key layout,
    the scripts' KEYS, the call room's queues)."""
    svc, router, calls, redis = app.agents, app.router, app.calls, app.redis
    assert svc is not None and router is not None and calls is not None and redis is not None
    svc.defs = {a.id: AgentDef(id=a.id, name=a.name, endpoint=a.endpoint, skills=a.skills,
                               order=a.order) for a in agents}
    svc.scripts = Scripts(redis, Layout.build(svc.keys, (), svc.skills()), svc.settings)
    router.queues = {q.name: q for q in queues}
    skills = set(svc.skills())
    for q in queues:
        skills.update(q.skills)
    for chain in router.settings.chains:
        for step in chain.steps:
            skills.update(step.skills or {})
            skills.update(step.add_skills)
    router.layout = Layout.build(router.keys, router.queues, skills)
    router.scripts = Scripts(redis, router.layout, router.settings)
    router.definitions_changed()
    calls.deps.queues.clear()
    calls.deps.queues.update(router.queues)
    app.settings.agents = list(agents)
    app.settings.queues = list(queues)


class DefinitionService:
    """Run-time changes of one node, and the listener for the other nodes'."""

    def __init__(self, app: App, defs: Definitions, channel: str) -> None:
        self.app = app
        self.defs = defs
        self.channel = channel
        self._task: asyncio.Task[None] | None = None
        self.reloads = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="definitions")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=2.0)  # never hang a stop

    async def _announce(self) -> None:
        assert self.app.redis is not None
        await self.app.redis.publish(self.channel, json.dumps({"node": self.app.node_id}))

    async def reload(self) -> None:
        agents, queues = await self.defs.load()
        apply(self.app, agents, queues)
        self.reloads += 1
        if self.app.people is not None:
            self.app.people.changed()

    async def _changed(self) -> None:
        """Apply the tables here, write the agents to Redis, tell the other nodes."""
        await self.reload()
        assert self.app.agents is not None
        await self.app.agents.sync_definitions()
        await self._announce()

    async def put_agent(self, a: AgentSettings) -> None:
        await self.defs.put_agent(a)
        await self._changed()

    async def put_queue(self, q: QueueDef) -> None:
        await self.defs.put_queue(q)
        await self._changed()

    async def remove_agent(self, agent_id: str) -> None:
        """Log the agent out (refused while on a call) and forget them."""
        svc = self.app.agents
        assert svc is not None and self.app.redis is not None
        if agent_id not in svc.defs:
            raise NotFound(f"no agent {agent_id!r}", agent_id=agent_id)
        view = await svc.get(agent_id)
        if view.state != "logged_out":
            await svc.logout(agent_id)  # Conflict while reserved, ringing or on a call
        await self.defs.delete_agent(agent_id)
        await self.app.redis.hdel(svc.keys.agents, agent_id)
        await self._changed()

    async def remove_queue(self, name: str) -> None:
        router = self.app.router
        assert router is not None
        router.queue_def(name)
        snap = await router.snapshot()
        busy = next((q for q in snap["queues"] if q["name"] == name), None)
        if busy and (busy["waiting"] or busy["offered"] or busy["connected"]):
            raise Conflict(f"queue {name!r} still has calls; remove it when it is empty",
                           queue=name, waiting=busy["waiting"])
        await self.defs.delete_queue(name)
        await self._changed()

    async def _listen(self) -> None:
        redis = self.app.redis
        assert redis is not None
        first = True
        while True:
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                if not first:  # changes may have been announced while away
                    await self.reload()
                first = False
                while True:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is not None and json.loads(msg["data"]).get("node") != \
                            self.app.node_id:
                        await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("definitions: listener lost Redis (%s); listening again", exc)
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

