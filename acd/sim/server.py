"""The ARI simulator: an aiohttp server speaking Asterisk 22's ARI, plus simulated phones.

    sim = Simulator(Clock(20), user="acd", password="secret")
    port = await sim.start("127.0.0.1", 0)
    sim.set_endpoint("PJSIP", "agent100", "answer", answer_after=0.5)
    channel_id = sim.place_call("+15551001", "100", dtmf=[(1.0, "1")], hangup_after=30)
    ...
    await sim.stop()

The same control is available over HTTP under `/sim` (acd/sim/README.md).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from acd.clock import Clock
from acd.sim import ari_channels, ari_other, simapi
from acd.sim.core import World
from acd.sim.hub import Hub
from acd.sim.lines import Lines
from acd.sim.model import Phone
from acd.sim.state import snapshot
from acd.sim.web import WORLD, make_middleware

logger = logging.getLogger(__name__)


class Simulator:
    """A simulated Asterisk with its phones, driven by `clock`."""

    def __init__(self, clock: Clock, user: str | None = None, password: str | None = None,
                 api_key: str | None = None) -> None:
        self.clock = clock
        if api_key is not None:
            self._secret: str | None = api_key
        elif user is not None or password is not None:
            self._secret = f"{user or ''}:{password or ''}"
        else:
            self._secret = None
        self.hub = Hub()
        self.world = World(clock, self.hub)
        self.rest_requests = 0
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- server ----------------------------------------------------------------------
    def _count(self) -> None:
        self.rest_requests += 1

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[make_middleware(self._secret, self._count)])
        app[WORLD] = self.world
        app[ari_other.CONNECTIONS] = set()
        app.add_routes(ari_channels.routes)
        app.add_routes(ari_other.routes)
        app.add_routes(simapi.routes)

        async def on_shutdown(_: web.Application) -> None:
            await self.hub.close_all()
        app.on_shutdown.append(on_shutdown)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 8088) -> int:
        """Serve on host:port (0 = any free port); return the bound port."""
        self._runner = web.AppRunner(self.make_app(), access_log=None,
                                     handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else port
        logger.info("ARI simulator listening on %s:%d", host, self.port)
        return self.port

    async def stop(self) -> None:
        for ch in list(self.world.channels.values()):
            ch.cancel_timers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the phones' side (same as the /sim HTTP API) -------------------------------------
    def place_call(self, caller: str, exten: str, *, caller_name: str = "",
                   context: str = "from-pstn", app: str | None = None,
                   dtmf: list[tuple[float, str]] | tuple[()] = (),
                   hangup_after: float | None = None,
                   endpoint: str = "PJSIP/caller-trunk",
                   args: tuple[str, ...] = ()) -> str:
        """A caller dials `exten`; returns the new channel id.

        `dtmf` lists (seconds after the call enters Stasis, digits); `hangup_after`
        is when the caller hangs up, in seconds after it enters Stasis. `app` is
        the Stasis app the dialplan runs: by default the only app with a client
        connected, else "acd". `endpoint` names the channel ("Local/101@agents;1":
        a Local channel's half, which acd must never take for a caller). `args` are
        the dialplan's Stasis args (`("phone", "150")`: an agent's phone dialling a
        colleague through `[agents]`, extensions.conf).
        """
        return self.world.place_call(caller, exten, caller_name=caller_name, context=context,
                                     app=app, dtmf=list(dtmf), hangup_after=hangup_after,
                                     endpoint=endpoint, args=args)

    def press(self, channel_id: str, digits: str) -> None:
        """The phone on `channel_id` presses `digits` (ChannelDtmfReceived each)."""
        self.world.press(channel_id, digits)

    def remote_hangup(self, channel_id: str, cause: int = 16) -> None:
        """The phone on `channel_id` hangs up."""
        self.world.remote_hangup(channel_id, cause)

    def phone_hold(self, channel_id: str, musicclass: str = "default") -> None:
        """The phone on `channel_id` presses hold (a re-INVITE with a=sendonly)."""
        self.world.transfers.hold(self.world.channel(channel_id), musicclass)

    def phone_unhold(self, channel_id: str) -> None:
        """The phone on `channel_id` takes the call off hold (a=sendrecv)."""
        self.world.transfers.unhold(self.world.channel(channel_id))

    def phone_refer(self, channel_id: str, destination: str,
                    replaces: str | None = None) -> list[str]:
        """The phone on `channel_id` presses transfer: a REFER to `destination` (blind)
        or, with `replaces` (the channel of its other call), attended. Returns the
        NOTIFY statuses the phone gets, a list that grows ("100" at once)."""
        other = self.world.channel(replaces) if replaces else None
        return self.world.transfers.refer(self.world.channel(channel_id), destination,
                                          other).notifies

    def set_endpoint(self, tech: str, resource: str, behaviour: str,
                     answer_after: float = 0.5, hangup_after: float | None = None,
                     ring: bool = True) -> Phone:
        """How the phone behind tech/resource answers: answer, busy, noanswer, unreachable."""
        return self.world.set_endpoint(tech, resource, behaviour, answer_after=answer_after,
                                       hangup_after=hangup_after, ring=ring)

    @property
    def lines(self) -> Lines:
        """The phones' registrations and health (acd/sim/lines.py)."""
        return self.world.lines

    def state(self) -> dict[str, Any]:
        """Channels, bridges, playbacks, recordings, apps and counters, as JSON-able data."""
        return snapshot(self.world)

    async def drop_websockets(self, app: str | None = None) -> int:
        """Close the events WebSockets (of `app` or all), as a network drop would."""
        return await self.world.drop_websockets(app)

    @property
    def default_behaviour(self) -> Any:
        return self.world.default_behaviour

    @default_behaviour.setter
    def default_behaviour(self, fn: Any) -> None:
        self.world.default_behaviour = fn

    @property
    def sounds(self) -> dict[str, float]:
        return self.world.media.sounds

    @property
    def channels(self) -> int:
        return len(self.world.channels)

    @property
    def bridges(self) -> int:
        return len(self.world.bridges)
