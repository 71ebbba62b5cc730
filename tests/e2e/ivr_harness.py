"""A harness for the IVR flows end to end: the e2e `Harness` on a folder of flows,
with the demo back-ends on their own port, the REST API, and an ARI event tap.

The tap is a second events WebSocket on acd's Stasis application: it sees what
the simulator did (prompts started, digits, hang-ups) independently of acd.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import yaml

from acd.api.demo import DemoBackends, DemoServer
from acd.app import App
from acd.ari import events as ev
from acd.calls.model import CallState as Call
from acd.clock import Clock
from acd.config import Settings
from acd.ivr.loader import read_sounds
from acd.sim.server import Simulator
from tests.e2e.conftest import SPEED, Harness, e2e_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "ivr_flows"
USER, PASSWORD = "acd", "acd-test-secret"
PROMPT_SECONDS = 1.0  # every acd-* prompt of the examples plays this long in the simulator

SHIPPED_CONFIG = EXAMPLES.parent / "config" / "acd.yaml"
# What the tests change in the shipped configuration: where things run, never what
# the flows rely on (queues, chains, agents, lists, schedules, allow-list).
INFRA = ("ari", "api", "sim", "redis_url", "redis_prefix", "redis_cluster", "pg_dsn", "flows",
         "node_id", "writer")


def shipped_settings(prefix: str, dsn: str, tmp: Path, flows: Path,
                     allow: list[str]) -> Settings:
    """config/acd.yaml as shipped, run on this test's Redis prefix, database, simulator
    and flows folder; `allow` adds the test's own demo back-end to ivr.http_allow."""
    shipped = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    infra = e2e_settings(prefix, dsn, tmp, flows=str(flows)).model_dump(
        mode="json", include=set(INFRA))
    infra["pg_dsn"] = dsn
    infra["ari"]["password"] = "acd-test-secret"
    data = {k: v for k, v in shipped.items() if k not in INFRA} | infra
    data["ivr"] = {**data.get("ivr", {}),
                   "http_allow": [*data.get("ivr", {}).get("http_allow", []), *allow]}
    return Settings.model_validate(data)


@dataclass(frozen=True)
class Ended:
    """What a call looked like when acd finished it."""

    call_id: str
    path: tuple[str, ...]
    variables: dict[str, str]
    flow: str | None
    flow_version: str | None
    outcome: str | None


class EventTap:
    """Every ARI event of one Stasis application, read off its own WebSocket."""

    def __init__(self, base_url: str, app: str) -> None:
        self.url = f"{base_url.replace('http', 'ws', 1)}/ari/events?app={app}&subscribeAll=false"
        self.app_url = f"{base_url}/ari/applications/{app}"
        self.events: list[ev.Event] = []
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        self._session = aiohttp.ClientSession(headers={"Authorization": f"Basic {token}"})
        ws = await self._session.ws_connect(self.url)
        self._task = asyncio.create_task(self._read(ws))
        await self._let_playbacks_through()

    async def _let_playbacks_through(self, timeout: float = 5.0) -> None:
        """acd's allow list (`ari.event_filter`) admits only the events acd uses, and
        the filter is the application's, so this tap's too: once acd has set it, add
        the PlaybackStarted and RecordingStarted this tap's tests read."""
        assert self._session is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            async with self._session.get(self.app_url) as resp:
                allowed = (await resp.json()).get("events_allowed") or []
            if allowed:
                more = [{"type": t} for t in ("PlaybackStarted", "RecordingStarted")
                        if {"type": t} not in allowed]
                if more:
                    body = {"allowed": [*allowed, *more]}
                    async with self._session.put(f"{self.app_url}/eventFilter", json=body):
                        pass
                return
            await asyncio.sleep(0.05)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                self.events.append(ev.parse_event(msg.json()))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    def prompts(self, channel_id: str) -> list[str]:
        """The media the simulator started playing to a channel, in order (each item of
        a playlist has its own PlaybackStarted, as on Asterisk)."""
        return [
            e.playback.media_uri for e in self.events
            if isinstance(e, ev.PlaybackStarted) and e.channel_id == channel_id
        ]

    def of(self, channel_id: str, kind: type[ev.Event]) -> list[ev.Event]:
        return [e for e in self.events if isinstance(e, kind) and e.channel_id == channel_id]


@dataclass
class IvrHarness(Harness):
    demo: DemoServer = field(default_factory=DemoServer)
    tap: EventTap | None = None
    snapshots: dict[str, Ended] = field(default_factory=dict)  # by caller channel id
    api: aiohttp.ClientSession | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.app.api_port}"

    def dial(self, caller: str, exten: str, dtmf: list[tuple[float, str]] | None = None,
             hangup_after: float | None = None) -> str:
        """A caller dials `exten` into acd's Stasis application; returns the channel id."""
        return self.sim.place_call(caller, exten, app=self.app.settings.ari.app,
                                   dtmf=dtmf or [], hangup_after=hangup_after)

    def prompts(self, channel_id: str) -> list[str]:
        assert self.tap is not None
        return self.tap.prompts(channel_id)

    async def result(self, channel_id: str) -> tuple[Ended, asyncpg.Record]:
        """Wait for the call to be over and written: (its last IVR state, its calls row)."""
        call_id = await self.finished(channel_id)
        return self.snapshots[channel_id], await self.call(call_id)

    async def wait_node(self, channel_id: str, node: str, timeout: float = 15.0) -> None:
        def there() -> bool:
            call = self.call_on(channel_id)
            return call is not None and call.ivr is not None and call.ivr.node == node
        await self.wait_for(there, f"the call on {channel_id} to reach node {node}", timeout)

    async def wait_path(self, channel_id: str, *nodes: str, timeout: float = 15.0) -> None:
        """Wait until the live call's path ends with `nodes`."""
        def there() -> bool:
            call = self.call_on(channel_id)
            return (call is not None and call.ivr is not None
                    and tuple(call.ivr.path[-len(nodes):]) == nodes)
        await self.wait_for(there, f"the call on {channel_id} to go through {nodes}", timeout)

    async def put(self, path: str, body: dict[str, Any] | None = None) -> Any:
        assert self.api is not None
        async with self.api.put(self.api_url + path, json=body or {}) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def get(self, path: str) -> Any:
        assert self.api is not None
        async with self.api.get(self.api_url + path) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()

    async def wait_waiting(self, queue: str, n: int, timeout: float = 15.0) -> None:
        assert self.app.router is not None
        router = self.app.router

        async def count() -> bool:
            snap = await router.snapshot()
            return any(q["name"] == queue and q["waiting"] == n for q in snap["queues"])
        await self.wait_for(count, f"{n} call(s) waiting in {queue}", timeout)


async def admin_session(app: App) -> aiohttp.ClientSession:
    """An HTTP session that calls acd's API with a fresh admin's token."""
    assert app.people is not None
    users = app.people.users
    name = f"admin-{secrets.token_hex(4)}"
    await users.add(name, "admin", secrets.token_urlsafe(12))
    _, token = await users.create_token(name, "e2e tests")
    return aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"})


def copy_examples(dest: Path) -> Path:
    shutil.copytree(EXAMPLES, dest)
    return dest


@contextlib.asynccontextmanager
async def ivr_harness(prefix: str, dsn: str, tmp: Path, flows: Path,
                      monkeypatch: pytest.MonkeyPatch,
                      backends: DemoBackends | None = None,
                      allow: tuple[str, ...] = ()) -> AsyncIterator[IvrHarness]:
    async with contextlib.AsyncExitStack() as stack:
        demo = DemoServer(backends)
        await demo.start()
        stack.push_async_callback(demo.stop)
        # The example flows' service URLs are settings: point them at this demo server.
        monkeypatch.setenv("ACD_FLOW_ORDERS_URL", f"{demo.url}/orders")
        monkeypatch.setenv("ACD_FLOW_CRM_URL", f"{demo.url}/crm")
        monkeypatch.setenv("ACD_FLOW_PAYMENTS_URL", f"{demo.url}/payments")
        clock = Clock(SPEED)
        sim = Simulator(clock, user=USER, password=PASSWORD)
        port = await sim.start("127.0.0.1", 0)
        stack.push_async_callback(sim.stop)
        for sound in read_sounds(EXAMPLES / "sounds.txt"):
            sim.sounds[sound.removeprefix("sound:")] = PROMPT_SECONDS
        settings = shipped_settings(prefix, dsn, tmp, flows, allow=[f"{demo.url}/", *allow])
        settings.ari.url = f"http://127.0.0.1:{port}"
        for agent in settings.agents:
            # Logged in at start as an operator would have them (a fresh start would
            # otherwise restore the last state another test of the session left).
            agent.login = True
            tech, _, resource = agent.endpoint.partition("/")
            sim.set_endpoint(tech, resource, "answer", answer_after=0.5)
        pool = await asyncpg.create_pool(settings.pg_dsn.get_secret_value(), min_size=1,
                                         max_size=2)
        assert pool is not None
        stack.push_async_callback(pool.close)
        tap = EventTap(f"http://127.0.0.1:{port}", settings.ari.app)
        stack.push_async_callback(tap.stop)
        app = App(settings, clock=clock, simulator=sim, start_api=True)
        stack.push_async_callback(app.stop)
        await app.start()
        await tap.start()
        api = await admin_session(app)
        stack.push_async_callback(api.close)
        assert app.router is not None and app.calls is not None
        h = IvrHarness(app=app, sim=sim, clock=clock, pg=pool, prefix=prefix, ended={},
                       demo=demo, tap=tap, api=api)

        def on_end(call: Call) -> None:
            ivr = call.ivr
            h.snapshots[call.channel_id] = Ended(
                call.call_id, tuple(ivr.path) if ivr else (),
                dict(ivr.variables) if ivr else {}, call.flow_name, call.flow_version,
                call.outcome)
            h.ended[call.channel_id] = call.call_id

        app.calls.on_call_ended = on_end
        await h.wait_for(lambda: bool(app.stream and app.stream.connected), "ARI to connect")
        agents = app.agents
        assert agents is not None

        async def phones_registered() -> bool:
            # Before a test moves an agent: a registration heard later could log back
            # in an agent the test logged out (phones.policy: login).
            return all(v.phone_registration == "registered" for v in await agents.list())
        await h.wait_for(phones_registered, "the agents' phones to register")
        yield h

