"""The ARI events WebSocket: one reader, per-lane dispatch, reconnect, resync.

Asterisk drops a client that reads too slowly, and one slow call must never
delay another, so the reader only reads frames, parses them and appends them to
per-lane queues; it never awaits a handler. Events of one lane (by default the
channel, else the bridge, else "app") are handled in order, one at a time, by a
worker task that exists only while the lane has work; lanes run concurrently.

A dropped socket loses events but not calls: after every (re)connect the stream
asks ARI which channels the application still holds and hands their ids to
`on_connect`, so the owner can re-adopt them.

One socket serves every application of the config (`AriConfig.all_apps`,
`app=acd-0,acd-1,...`): Asterisk runs each application's events on a thread of its
own, so calls spread over several applications are not serialised on one. After
each connect each application gets the event filter: `allow` (only these types
reach acd) or else `disallow` (these do not).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from time import perf_counter
from urllib.parse import quote

import aiohttp
import orjson

from acd import metrics
from acd.ari.client import AriClient
from acd.ari.config import AriConfig
from acd.ari.errors import AriError
from acd.ari.events import Event, parse_event
from acd.ari.transport import describe_failure

logger = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]
OnConnect = Callable[[list[str]], Awaitable[None]]
LaneOf = Callable[[Event], "str | None"]


class LaneDispatcher:
    """Ordered within a lane, concurrent across lanes; `post()` never blocks."""

    def __init__(
        self, handler: Handler, lane_of: LaneOf | None = None, max_samples: int = 10_000
    ) -> None:
        self._handler = handler
        self._lane_of = lane_of
        self._lanes: dict[str, deque[tuple[Event, float]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._lag: deque[float] = deque(maxlen=max_samples)
        self.handled = 0
        self.handler_errors = 0

    def lane_for(self, event: Event) -> str:
        if self._lane_of is not None:
            try:
                lane = self._lane_of(event)
            except Exception:
                logger.exception("lane_of failed on %s; using the default lane", event.type)
                lane = None
            if lane is not None:
                return lane
        return event.channel_id or event.bridge_id or "app"

    def post(self, event: Event, received_at: float | None = None) -> None:
        """Queue `event` on its lane (`received_at` is a `perf_counter()` reading)."""
        item = (event, perf_counter() if received_at is None else received_at)
        lane = self.lane_for(event)
        queue = self._lanes.get(lane)
        if queue is not None:
            queue.append(item)
            return
        queue = deque((item,))
        self._lanes[lane] = queue
        task = asyncio.get_running_loop().create_task(self._work(lane, queue))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self, lane: str, queue: deque[tuple[Event, float]]) -> None:
        try:
            while queue:
                event, received_at = queue.popleft()
                lag = perf_counter() - received_at
                self._lag.append(lag)
                metrics.EVENT_LAG.observe(lag)
                try:
                    await self._handler(event)
                except Exception:
                    self.handler_errors += 1
                    logger.exception("ARI event handler failed on %s (lane %s)", event.type, lane)
                self.handled += 1
        finally:
            # No await between the empty check and this: post() sees either the
            # live queue or no lane at all, never a queue nobody will drain.
            if self._lanes.get(lane) is queue:
                del self._lanes[lane]

    @property
    def active_lanes(self) -> int:
        return len(self._lanes)

    @property
    def pending(self) -> int:
        """Events queued and not yet handed to the handler."""
        return sum(len(q) for q in self._lanes.values())

    def lag_samples(self) -> list[float]:
        return list(self._lag)

    async def drain(self) -> None:
        """Wait until every queued event has been handled."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self) -> None:
        """Cancel every lane; queued events are dropped."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._lanes.clear()


class EventStream:
    """The events WebSocket of one ARI application, kept connected until `stop()`."""

    def __init__(
        self,
        config: AriConfig,
        handler: Handler,
        on_connect: OnConnect | None = None,
        lane_of: LaneOf | None = None,
        disallow: Sequence[str] = (),
        *,
        allow: Sequence[str] = (),
        session: aiohttp.ClientSession | None = None,
        backoff_base: float = 0.1,
        backoff_cap: float = 1.0,
        heartbeat: float | None = 20.0,
        max_lag_samples: int = 10_000,
    ) -> None:
        self.config = config
        self._on_connect = on_connect
        self._disallow = tuple(disallow)
        self._allow = tuple(allow)
        self._session = session
        self._own_session = session is None
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._heartbeat = heartbeat
        self._dispatch = LaneDispatcher(handler, lane_of, max_lag_samples)
        self._client: AriClient | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._resyncs: set[asyncio.Task[None]] = set()
        self._on_connect_lock = asyncio.Lock()
        self._stopping = False
        apps = ",".join(config.all_apps)
        self._params = {"app": apps, "subscribeAll": "false", **config.auth_params()}
        # What logs may show: the URL without the api_key.
        self.log_url = f"{config.ws_base}?app={quote(apps, safe=',')}&subscribeAll=false"
        self.connected = False
        self.events_received = 0
        self.connects = 0
        self.resyncs = 0

    def __repr__(self) -> str:
        return f"EventStream({self.config!r}, connected={self.connected})"

    # ------------------------------------------------------------ statistics

    def lag_samples(self) -> list[float]:
        """Recent lags (seconds from reading an event off the socket to its handler)."""
        return self._dispatch.lag_samples()

    def lag_stats(self) -> dict[str, float]:
        """count, p50, p95, p99 and max of the recent lag samples, in seconds."""
        samples = sorted(self._dispatch.lag_samples())
        if not samples:
            return {"count": 0, "p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
        n = len(samples)

        def at(q: float) -> float:
            return samples[min(n - 1, int(q * n))]

        return {"count": n, "p50": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": samples[-1]}

    @property
    def handler_errors(self) -> int:
        return self._dispatch.handler_errors

    @property
    def pending(self) -> int:
        return self._dispatch.pending

    async def drain(self) -> None:
        """Wait until every event read so far has been handled."""
        await self._dispatch.drain()

    # ------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._run_task is not None:
            return
        self._stopping = False
        if self._session is None:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        self._client = AriClient(self.config, self._session)
        self._run_task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stopping = True
        task, self._run_task = self._run_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for resync in set(self._resyncs):
            resync.cancel()
        if self._resyncs:
            await asyncio.gather(*self._resyncs, return_exceptions=True)
        await self._dispatch.close()
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None
        self.connected = False

    # ------------------------------------------------------------ connection

    async def _run(self) -> None:
        """Connect, read until the socket drops, reconnect: the first attempt after a
        drop at once, then with a backoff capped at `backoff_cap` seconds, so acd is
        back within about that long of Asterisk. An outage is logged when it starts
        and when it ends (with its length and attempts), not once per attempt."""
        failures = 0
        loop = asyncio.get_running_loop()
        down_since: float | None = None
        while not self._stopping:
            if failures:
                await self._backoff(failures)
            ws = await self._connect(quiet=failures > 0)
            if ws is None:
                failures += 1
                if down_since is None:
                    down_since = loop.time()
                continue
            opened = loop.time()
            self.connected = True
            self.connects += 1
            if down_since is not None:
                logger.warning("ARI events connected to %s again after %.1f s (%d attempts)",
                               self.log_url, opened - down_since, failures + 1)
            else:
                logger.info("ARI events connected to %s", self.log_url)
            down_since = None
            resync = loop.create_task(self._resync(ws))
            self._resyncs.add(resync)
            resync.add_done_callback(self._resyncs.discard)
            try:
                await self._read(ws)
            finally:
                self.connected = False
                self._ws = None
                await ws.close()
            # A connection that lived a while earns an immediate reconnect; one that
            # keeps dying at once backs off towards the cap.
            failures = 0 if loop.time() - opened >= self._backoff_cap else failures + 1
            down_since = loop.time()
            logger.warning("ARI events connection to %s lost (close code %s); reconnecting",
                           self.log_url, ws.close_code)

    async def _connect(self, quiet: bool = False) -> aiohttp.ClientWebSocketResponse | None:
        assert self._session is not None
        try:
            async with asyncio.timeout(self.config.timeout):
                ws = await self._session.ws_connect(
                    self.config.ws_base, params=self._params,
                    headers=self.config.auth_headers(), heartbeat=self._heartbeat,
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            logger.log(logging.DEBUG if quiet else logging.WARNING,
                       "ARI events: cannot connect to %s: %s", self.log_url,
                       describe_failure(exc, self.config))
            return None
        self._ws = ws
        return ws

    async def _backoff(self, failures: int) -> None:
        """Exponential backoff with jitter, capped."""
        ceiling = min(self._backoff_cap, self._backoff_base * 2 ** min(failures - 1, 30))
        await asyncio.sleep(random.uniform(ceiling / 2, ceiling))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        # The only await here is the socket: handlers run in lane tasks.
        receive = ws.receive
        text = aiohttp.WSMsgType.TEXT
        while True:
            msg = await receive()
            if msg.type is text:
                self._on_text(msg.data)
            elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                              aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                return

    def _on_text(self, data: str) -> None:
        received_at = perf_counter()
        try:
            decoded = orjson.loads(data)
        except orjson.JSONDecodeError:
            logger.warning("ARI events: skipped a frame that is not JSON")
            return
        if not isinstance(decoded, dict):
            logger.warning("ARI events: skipped a frame that is not a JSON object")
            return
        self.events_received += 1
        self._dispatch.post(parse_event(decoded), received_at)

    async def _resync(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Filter events at the source, then hand the app's live channels to on_connect."""
        client = self._client
        assert client is not None
        failures = 0
        while True:
            if ws.closed or self._stopping:
                return
            try:
                channel_ids: list[str] = []
                for name in self.config.all_apps:
                    if self._allow or self._disallow:
                        await self._set_filter(client, name)
                    channel_ids += (await client.get_application(name)).channel_ids
                break
            except AriError as exc:
                failures += 1
                logger.warning("ARI events: resync after connect failed: %s", exc)
                await self._backoff(failures)
        if self._on_connect is not None and not ws.closed:
            # Serialised: a quick reconnect must not run two adoptions at once.
            async with self._on_connect_lock:
                try:
                    await self._on_connect(channel_ids)
                except Exception:
                    logger.exception("ARI events: on_connect failed")
        self.resyncs += 1

    async def _set_filter(self, client: AriClient, app: str) -> None:
        try:
            if self._allow:
                # The allow list alone decides; a disallow list left from before is cleared.
                await client.set_event_filter([{"type": t} for t in self._allow], [], app=app)
            else:
                await client.set_event_filter(None, [{"type": t} for t in self._disallow],
                                              app=app)
        except AriError as exc:
            if exc.status is None:
                raise
            # An ARI without filters still works, only with more traffic.
            logger.warning("ARI events: event filter refused (%s); continuing without it", exc)
