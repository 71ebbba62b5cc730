"""The composition root: builds every part, hands them on, owns start and stop."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import uuid
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from acd import startup
from acd.agents.model import AgentDef
from acd.agents.phone import effective_policy
from acd.api.app import make_api
from acd.ari.client import AriClient
from acd.ari.config import AriConfig
from acd.ari.stream import EventStream
from acd.calls.control import CallControl
from acd.calls.deps import CallDeps
from acd.calls.service import CallService
from acd.clock import Clock
from acd.config import Settings, api_base_url
from acd.ivr.catalog import catalog_from_settings
from acd.ivr.flow_settings import settings_from_env
from acd.ivr.registry import FlowRegistry
from acd.people.definitions import Definitions, DefinitionService
from acd.people.service import People
from acd.routing.agent_startup import restore_states
from acd.routing.agents import AgentService, AgentStateChange
from acd.routing.client import RedisClient
from acd.routing.model import Offer
from acd.routing.phones import PhoneWatcher, phones_app
from acd.routing.service import Router
from acd.sim.server import Simulator
from acd.store.migrate import migrate
from acd.store.null_writer import NullWriter
from acd.store.rows import AgentStateRow
from acd.store.writer import RowWriter

logger = logging.getLogger(__name__)

# The only events the calls use (tests/test_event_filter.py checks that every event
# type acd/calls names is here): Asterisk drops the others before they cost a frame
# and a parse (`ari.event_filter: allow`, the default). `disallow` sends all but these:
CALL_EVENTS = ("StasisStart", "StasisEnd", "ChannelStateChange", "ChannelHangupRequest",
               "ChannelDestroyed", "Dial", "ChannelDtmfReceived", "PlaybackFinished",
               "RecordingFinished", "RecordingFailed", "ChannelHold", "ChannelUnhold",
               "ChannelTransfer", "ApplicationReplaced")
DISALLOWED_EVENTS = ("ChannelVarset", "ChannelDialplan", "ChannelConnectedLine",
                     "ChannelTalkingStarted", "ChannelTalkingFinished")


async def ensure_database(dsn: str) -> None:
    """Create the configured database when it does not exist yet (first run)."""
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except asyncpg.InvalidCatalogNameError:
        base, name = dsn.rsplit("/", 1)
        name = name.split("?", 1)[0]
        admin = await asyncpg.connect(f"{base}/postgres", timeout=5)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            logger.info("created database %s", name)
        except asyncpg.DuplicateDatabaseError:
            pass
        finally:
            await admin.close()
        return
    await conn.close()


@dataclass
class App:
    settings: Settings
    clock: Clock | None = None
    simulator: Simulator | None = None
    start_api: bool = True
    # False: no PostgreSQL at all, rows are dropped (`acd ivr try` without --record).
    record: bool = True
    node_id: str = ""
    # Built at start:
    redis: RedisClient | None = None
    writer: RowWriter | None = None
    flows: FlowRegistry | None = None
    agents: AgentService | None = None
    router: Router | None = None
    ari: AriClient | None = None
    stream: EventStream | None = None
    calls: CallService | None = None
    control: CallControl | None = None  # moves asked of calls (hold, transfer...)
    people: People | None = None
    definitions: DefinitionService | None = None
    pg: asyncpg.Pool | None = None
    phones: PhoneWatcher | None = None
    phone_stream: EventStream | None = None
    api_runner: web.AppRunner | None = None
    api_port: int | None = None
    own_simulator: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopped: bool = False

    async def start(self) -> None:
        s = self.settings
        self.clock = self.clock or Clock(s.clock_speed)
        self.node_id = self.node_id or s.resolved_node_id()
        ari_cfg = self._ari_config()
        startup.check_ari_password(s.ari.url, ari_cfg.password,
                                   s.ari.simulated or self.simulator is not None)
        if s.ari.simulated and self.simulator is None:
            self.simulator = Simulator(
                self.clock, user=s.ari.user,
                password=s.ari.password.get_secret_value() if s.ari.password else None,
            )
            port = await startup.listening(
                "the ARI simulator", s.sim.host, s.sim.port, "sim.host/sim.port, ACD_SIM_PORT",
                self.simulator.start(s.sim.host, s.sim.port))
            self.own_simulator = True
            ari_cfg = AriConfig(url=f"http://{s.sim.host}:{port}", app=s.ari.app,
                                apps=ari_cfg.apps, user=ari_cfg.user, password=ari_cfg.password,
                                api_key=ari_cfg.api_key, timeout=ari_cfg.timeout)
            logger.info("no Asterisk configured: built-in simulator on %s:%d", s.sim.host, port)

        # A blocking pool: under a burst, a call path waits a moment for a connection
        # instead of failing with "Too many connections" and stranding a caller.
        # After an outage the pool still holds connections the server closed: a
        # command on one is retried on a fresh connection (redis-py's Retry) rather
        # than failing a caller's step. Routing's scripts are safe to replay.
        retrying: dict[str, Any] = {
            "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=3),
            "retry_on_error": [RedisConnectionError, RedisTimeoutError]}
        if s.redis_cluster:  # the other nodes are found from redis_url's
            self.redis = RedisCluster.from_url(s.redis_url, decode_responses=True, **retrying)
        else:
            pool = aioredis.BlockingConnectionPool.from_url(
                s.redis_url, decode_responses=True, max_connections=64, timeout=10, **retrying)
            self.redis = aioredis.Redis.from_pool(pool)  # closes the pool with the client
        await startup.reach_redis(self.redis, s.redis_url)
        dsn = s.pg_dsn.get_secret_value()
        definitions: Definitions | None = None
        if self.record:
            await startup.reach_postgres(ensure_database(dsn), dsn)
            conn = await startup.reach_postgres(asyncpg.connect(dsn, timeout=10), dsn)
            try:
                await startup.reach_postgres(migrate(conn), dsn)
            finally:
                await conn.close()
            self.pg = await asyncpg.create_pool(dsn, min_size=1, max_size=5)
            self.people = People(s, self.redis, self.pg)
            # Agents and queues: the YAML seeds a fresh installation; then PostgreSQL.
            definitions = Definitions(self.pg, s.redis_prefix)
            s.agents, s.queues = await definitions.seed_or_load(list(s.agents),
                                                                list(s.queues))
            self.writer = RowWriter(dsn, batch_size=s.writer.batch_size,
                                    flush_interval=s.writer.flush_interval,
                                    spool_dir=Path(s.writer.spool_dir))
        else:
            self.writer = NullWriter()
        await self.writer.start()

        # Flow settings: acd's own API address, then the file's, then ACD_FLOW_*.
        catalog = catalog_from_settings(s)
        self.flows = FlowRegistry(Path(s.flows), settings={
            "api_url": api_base_url(s), **s.flow_settings, **settings_from_env()},
            catalog=catalog)
        await self.flows.load_async(in_process=False)  # no call is served yet
        for err in self.flows.errors:
            logger.error("IVR flow refused: %s", err)
        self._tasks.append(asyncio.create_task(self.flows.watch()))

        agent_defs = [AgentDef(id=a.id, name=a.name, endpoint=a.endpoint, skills=a.skills,
                               order=a.order) for a in s.agents]
        writer = self.writer
        clock = self.clock

        def on_agent_change(change: AgentStateChange) -> None:
            if self.people is not None:
                self.people.changed()
            writer.write(AgentStateRow(
                event_id=uuid.uuid4().hex, agent_id=change.agent_id, state=change.state,
                reason=change.reason, previous=change.previous,
                at=datetime.fromtimestamp(change.at_ms / 1000, tz=UTC)))

        self.agents = AgentService(self.redis, prefix=s.redis_prefix, clock=clock,
                                   agents=agent_defs, on_change=on_agent_change)
        fresh = await self.agents.sync_definitions()
        queue_defs = list(s.queues)
        routing = s.routing

        async def on_offer(offer: Offer) -> None:
            assert self.calls is not None
            call = self.calls.calls.get(offer.call_id)
            if call is not None and self.people is not None:
                await self.people.offered(call, offer)  # the agent's screen pop
            await self.calls.on_offer(offer)

        async def on_exit(call_id: str, reason: str) -> None:
            assert self.calls is not None
            self.calls.on_queue_exit(call_id, reason)

        # Routing gives a waiting call back (maximum wait, queue left unstaffed);
        # the call room takes the caller on to the IVR's exit.
        async def on_revived() -> None:
            assert self.calls is not None
            self.calls.requeue_waiting()

        # Redis lost its data: agents as last seen, logins from the configuration,
        # this node's calls queued again (see Router._heartbeat).
        async def on_lost() -> None:
            assert self.calls is not None and self.router is not None
            assert self.agents is not None
            restored = await self.router.restore_agents()
            # Agents this node never saw: as at start-up (configured login, else the
            # last state PostgreSQL recorded).
            unseen = [a for a in s.agents if a.id not in self.agents.known]
            await restore_states(self.agents, unseen, [a.id for a in unseen], dsn)
            self.calls.requeue_waiting(lost=True)
            logger.warning("Redis restored: %d agents in their last known state, %d calls "
                           "held here queued again", restored, len(self.calls.calls))
            await self.router.kick()

        self.router = Router(self.redis, prefix=s.redis_prefix, node_id=self.node_id,
                             clock=clock, queues=queue_defs, agents=self.agents,
                             settings=routing, on_offer=on_offer, on_exit=on_exit,
                             on_revived=on_revived, on_lost=on_lost)
        self.ari = AriClient(ari_cfg)
        await self.ari.start()
        self.calls = CallService(CallDeps(
            ari=self.ari, router=self.router, writer=self.writer, flows=self.flows,
            clock=clock, redis=self.redis, redis_prefix=s.redis_prefix,
            queues={q.name: q for q in queue_defs}, app=s.ari.app, moh_class=s.moh_class,
            callbacks=s.callbacks, http_policy=catalog.http, phones=s.phones,
            transfers=s.transfers,
            listening=lambda: self.stream is not None and self.stream.connected,
        ))
        await self.router.start()
        self.control = CallControl(self.calls, self.redis, self.router.keys, self.node_id)
        self.control.start()
        await restore_states(self.agents, s.agents, fresh, dsn)
        # The phones' events come on an app of their own: an endpoint subscription
        # also forwards every event of the endpoint's channels, which the calls' app
        # must not hear twice.
        phones_cfg = dataclasses.replace(ari_cfg, app=phones_app(s.ari.app), apps=())
        self.phones = PhoneWatcher(
            self.ari, self.agents, app=phones_cfg.app,
            endpoints={a.id: a.endpoint for a in s.agents},
            policies={a.id: effective_policy(
                a.skills, a.phone_policy, [(q.skills, q.phone_policy) for q in s.queues],
                s.phones.policy) for a in s.agents})
        phones = self.phones
        self.phone_stream = EventStream(phones_cfg, phones.handle,
                                        on_connect=lambda _ids: phones.sync())
        await self.phone_stream.start()
        if self.people is not None and definitions is not None:
            await self.people.start_live(self.router, self.clock)
            self.definitions = DefinitionService(self, definitions, self.people.keys.defs)
            await self.definitions.start()
        kind = s.ari.event_filter
        self.stream = EventStream(ari_cfg, self.calls.handle_event,
                                  on_connect=self.calls.on_connect, lane_of=self.calls.lane_of,
                                  disallow=DISALLOWED_EVENTS if kind == "disallow" else (),
                                  allow=CALL_EVENTS if kind == "allow" else ())
        await self.stream.start()
        self.calls.start_reconciling(s.reconcile_every)
        if self.start_api:
            await self._start_api()
        logger.info("acd %s attached to ARI app %r at %s", self.node_id, s.ari.app, ari_cfg.url)
        # What start-up built lives as long as acd: frozen out of the collector's full
        # passes, which then cost what calls and reloads allocate, not the whole heap
        # (a full pass stalled the event loop 100-600 ms when a large flow was loaded).
        with warnings.catch_warnings():
            # Finalizers of garbage others left (an unclosed socket) are not start-up's
            # to report: this pass is only here to freeze what start-up built.
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
        gc.freeze()

    def _ari_config(self) -> AriConfig:
        a = self.settings.ari
        return AriConfig(
            url=a.url if not a.simulated else "http://127.0.0.1:8088", app=a.app, user=a.user,
            password=a.password.get_secret_value() if a.password else None,
            api_key=a.api_key.get_secret_value() if a.api_key else None, timeout=a.timeout,
            apps=tuple(a.apps),
        )

    async def _start_api(self) -> None:
        api = make_api(self)
        self.api_runner = web.AppRunner(api, access_log=None)
        await self.api_runner.setup()
        host, port = self.settings.api.host, self.settings.api.port
        site = web.TCPSite(self.api_runner, host, port)
        await startup.listening("the REST API", host, port, "api.host/api.port, ACD_API_PORT",
                                site.start())
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.api_port = sockets[0].getsockname()[1] if sockets else self.settings.api.port
        logger.info("REST API on http://%s:%s/api", self.settings.api.host, self.api_port)

    async def _stop_people(self) -> None:
        if self.people is not None:
            await self.people.stop()
        if self.definitions is not None:
            await self.definitions.stop()

    async def stop(self) -> None:
        """Stop taking calls; leave live calls for a restarted acd to re-adopt.
        Stopping twice is harmless."""
        if self._stopped:
            return
        self._stopped = True
        if self.calls is not None:
            await self.calls.stop()
        if self.stream is not None:
            await self.stream.stop()
        if self.phone_stream is not None:
            await self.phone_stream.stop()
        if self.control is not None:
            await self.control.stop()
        if self.router is not None:
            await self.router.stop()
        await self._stop_people()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.api_runner is not None:
            await self.api_runner.cleanup()
        if self.calls is not None:
            await self.calls.close()
        if self.ari is not None:
            await self.ari.close()
        if self.writer is not None:
            await self.writer.stop()
        if self.pg is not None:
            await self.pg.close()
        if self.redis is not None:
            await self.redis.aclose()
        if self.own_simulator and self.simulator is not None:
            await self.simulator.stop()
        logger.info("acd %s stopped", self.node_id)
