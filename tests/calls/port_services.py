"""The ARI client and the router the executor talks to, as the model world
answers them (see tests.calls.ports): a channel that is gone answers 404 (or 409
out of Stasis) as Asterisk 22 does; routing's bookkeeping is the world's."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from acd.ari import errors as ae
from acd.ari.models import Channel
from acd.calls import events as e
from acd.routing.model import EnqueueResult, Offer, QueueRequest
from tests.calls.world import Chan

if TYPE_CHECKING:
    from tests.calls.ports import PortWorld

Request = Callable[..., Awaitable[None]]


def acting(request: Request) -> Request:
    """An ARI request that changes something: with a "late" fault Asterisk did
    it and its answer was lost (the client's timeout after the fact)."""
    @functools.wraps(request)
    async def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = await request(self, *args, **kwargs)
        self.w.landed()
        return out
    return run


class WorldAri:
    """acd.ari.client.AriClient as the world answers it."""

    def __init__(self, w: PortWorld) -> None:
        self.w = w

    def _chan(self, ch: str, stasis: bool = True) -> Chan:
        self.w.fault("ari")
        return self.w.live(ch, stasis)

    @acting
    async def answer(self, cid: str) -> None:
        self._chan(cid)

    @acting
    async def play(self, cid: str, media: list[str], lang: str | None = None,
                   playback_id: str | None = None) -> None:
        self._chan(cid).playing.add(str(playback_id))

    @acting
    async def stop_playback(self, pid: str) -> None:
        self.w.fault("ari")
        playing = [x for x in self.w.chans.values() if pid in x.playing]
        if not playing:
            raise self.w.gone(ae.AriNotFound("Playback not found", status=404))
        for x in playing:
            x.playing.discard(pid)

    @acting
    async def start_moh(self, cid: str, moh_class: str | None = None) -> None:
        self._chan(cid).moh = True

    @acting
    async def stop_moh(self, cid: str) -> None:
        self._chan(cid).moh = False

    @acting
    async def mute(self, cid: str, direction: str = "both") -> None:
        self._chan(cid).muted = True

    @acting
    async def unmute(self, cid: str, direction: str = "both") -> None:
        self._chan(cid).muted = False

    @acting
    async def hangup(self, cid: str, reason: str = "normal") -> None:
        self._chan(cid, stasis=False)  # Asterisk hangs up channels outside Stasis too
        self.w.kill(cid, 16, requested=False)

    @acting
    async def set_var(self, cid: str, name: str, value: str) -> None:
        self._chan(cid).vars[name] = value

    @acting
    async def continue_in_dialplan(self, cid: str, **_: object) -> None:
        self._to_dialplan(self._chan(cid))

    @acting
    async def redirect(self, cid: str, endpoint: str) -> None:
        self._to_dialplan(self._chan(cid))

    def _to_dialplan(self, x: Chan) -> None:
        x.stasis = x.moh = False
        x.playing.clear()
        self.w.in_dialplan = True
        self.w.asterisk(e.CallerLeft(None, destroyed=False))

    @acting
    async def record(self, cid: str, name: str, fmt: str = "wav", **_: object) -> None:
        self._chan(cid)

    @acting
    async def create_channel(self, endpoint: str, app: str, *, channel_id: str,
                             **_: object) -> None:
        self.w.fault("ari")
        self._create(channel_id, endpoint)

    def _create(self, ch: str, endpoint: str) -> None:
        self.w.chans[ch] = Chan("leg", stasis=True, agent=endpoint.split("/")[-1])
        self.w.asterisk(e.LegInStasis(ch))

    @acting
    async def dial(self, cid: str, caller: str | None = None, timeout: int | None = None
                   ) -> None:
        self._chan(cid).dialled = True
        self.w.asterisk(e.LegRinging(cid))

    @acting
    async def create_bridge(self, bridge_id: str, **_: object) -> None:
        self.w.fault("ari")

    @acting
    async def add_channel(self, bid: str, channel: list[str]) -> None:
        self.w.fault("ari")
        for ch in channel:
            x = self.w.chans.get(ch)
            if x is None or not x.alive:
                raise self.w.gone(ae.AriBadRequest("Channel not found", status=400))
            if not x.stasis:
                raise self.w.gone(ae.AriUnprocessable("Channel not in Stasis application",
                                                      status=422))
        for ch in channel:
            self.w.chans[ch].bridge = bid
            self.w.chans[ch].moh = False

    @acting
    async def destroy_bridge(self, bid: str) -> None:
        self.w.fault("ari")
        for x in self.w.chans.values():
            if x.bridge == bid:
                x.bridge = None

    async def get_channel(self, cid: str) -> Channel:
        self.w.fault("ari", read=True)
        x = self.w.chans.get(cid)
        if x is None or not x.alive:
            raise ae.AriNotFound("Channel not found", status=404)  # the executor's answer
        return Channel(id=cid, state="Up" if x.answered or x.kind == "caller" else "Ringing")

    async def get_playback(self, pid: str) -> object:
        self.w.fault("ari", read=True)
        if not any(pid in x.playing for x in self.w.chans.values()):
            raise ae.AriNotFound("Playback not found", status=404)
        return object()


class WorldRouter:
    """acd.routing.service.Router as the world's routing answers it."""

    node_id = "node-1"

    def __init__(self, w: PortWorld) -> None:
        self.w = w
        self.agents = self

    @acting
    async def adopt(self, req: QueueRequest) -> None:
        self.w.fault("redis")
        self.w.queued = True

    @acting
    async def enqueue(self, req: QueueRequest) -> EnqueueResult:
        self.w.fault("redis")
        self.w.queued = True
        return EnqueueResult(accepted=True, position=1)

    @acting
    async def dequeue(self, call_id: str) -> None:
        self._fault(None, all_reserved=True)
        self.w.queued = False
        for agent in list(self.w.reserved):
            self.w._free(agent)

    @acting
    async def offer_ringing(self, offer: Offer) -> None:
        self.w.fault("redis")

    @acting
    async def offer_answered(self, offer: Offer) -> bool:
        self._fault(offer, all_reserved=True)
        w = self.w
        if w.reserved.get(offer.agent_id) != offer:
            return False
        del w.reserved[offer.agent_id]
        w.agents[offer.agent_id] = "on_call"
        w.queued = False
        for agent in list(w.reserved):  # ring-all: routing lets the rest go
            w._free(agent)
        return True

    @acting
    async def offer_failed(self, offer: Offer, reason: str) -> None:
        self._fault(offer)
        if self.w.reserved.get(offer.agent_id) == offer:
            self.w._free(offer.agent_id)

    @acting
    async def call_ended(self, offer: Offer) -> None:
        self._fault(offer)
        self.w.wrapups += 1
        if self.w.agents[offer.agent_id] == "on_call":
            self.w.agents[offer.agent_id] = "wrapup"

    @acting
    async def callback_failed(self, offer: Offer, retry_in: float | None) -> None:
        self.w.fault("redis")

    @acting
    async def to_callback(self, call_id: str, number: str) -> bool:
        self.w.fault("redis")
        self.w.queued = False  # a callback task now, served by another call
        return True

    @acting
    async def standing(self, call_id: str, with_wait: bool) -> tuple[int, float]:
        self.w.fault("redis")
        return 1, 30.0

    @acting
    async def set_break(self, agent_id: str, reason: str) -> None:
        self.w.fault("redis")
        self.w.agents[agent_id] = "paused"

    async def last_seen_ms(self, node_id: str) -> int | None:
        return None  # the record's own `seen_ms` tells

    def _fault(self, offer: Offer | None, all_reserved: bool = False) -> None:
        try:
            self.w.fault("redis")
        except BaseException:
            self.w.routing_lost(offer, all_reserved)
            raise
