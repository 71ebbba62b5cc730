"""The call room's front door: ARI events in, one lane per call.

Stasis handlers look the call up and delegate to `CallFlow`. Anything that goes
wrong for a caller we own ends with the caller sent back to the dialplan or
hung up politely, never left in Stasis in silence.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from acd.ari import events as ev
from acd.ari.client import AriClient
from acd.ari.errors import AriError
from acd.calls.call import Call, Phase
from acd.calls.flow import CallDeps, CallFlow
from acd.calls.lane import Lane
from acd.calls.messages import LeftQueue, OfferMsg, Reap, Requeue, Start, StartCallback
from acd.calls.reconcile import Reconciled, Reconciler
from acd.routing.model import Offer

logger = logging.getLogger(__name__)

AGENT_ARG = "agent"
CALLBACK_ARG = "callback"
# A callback task offered while the caller who asked for it is still on the line
# (hearing "we will call you back"): the agent is released and the task tried again
# this many seconds later, still in its place.
STILL_ON_LINE_RETRY = 10.0


class CallService:
    """Owns the calls of this acd process."""

    def __init__(self, deps: CallDeps) -> None:
        self.deps = deps
        self.ari: AriClient = deps.ari
        self.flow = CallFlow(deps, self)
        self.calls: dict[str, Call] = {}  # by call id
        self._by_channel: dict[str, str] = {}  # channel id -> call id
        self._by_routing: dict[str, str] = {}  # routing id -> call id (callbacks)
        self._lanes: dict[str, Lane] = {}
        self.accepting = True
        self.calls_started = 0
        self.calls_ended = 0
        self.on_call_ended: Callable[[Call], Awaitable[None] | None] | None = None
        self.on_reconciled: Callable[[Reconciled], None] | None = None
        self.reconciler = Reconciler(self)
        self.adopted = False  # the first re-adoption after start is done
        self._reconciling: asyncio.Task[None] | None = None

    # ----------------------------------------------------------------- lanes

    def lane_of(self, event: ev.Event) -> str | None:
        """The event stream's lane for an event: the call id when we know it."""
        cid = event.channel_id
        if cid is None:
            return None
        return self._by_channel.get(cid)

    def by_channel(self, channel_id: str) -> str | None:
        """The id of the call a channel belongs to, if any."""
        return self._by_channel.get(channel_id)

    def bind_channel(self, channel_id: str, call: Call) -> None:
        self._by_channel[channel_id] = call.call_id

    def unbind_channel(self, channel_id: str) -> None:
        self._by_channel.pop(channel_id, None)

    def bind_routing(self, call: Call) -> None:
        """A callback call serves another call's routing task: find it by that id."""
        if call.routing_id is not None:
            self._by_routing[call.routing_id] = call.call_id

    def _routed(self, routing_id: str) -> Call | None:
        call_id = self._by_routing.get(routing_id)
        return self.calls.get(call_id) if call_id is not None else None

    def post(self, call: Call, item: object) -> None:
        if call.call_id not in self.calls:
            return  # finished and forgotten: late timers and events have nothing to do
        lane = self._lanes.get(call.call_id)
        if lane is None:
            flow = self.flow

            async def handler(item: object, c: Call = call) -> None:
                await flow.handle(c, item)

            lane = Lane(call.call_id, handler)
            self._lanes[call.call_id] = lane
        lane.post(item)

    def forget(self, call: Call) -> None:
        """Drop a finished call from memory (its rows are already queued)."""
        self.calls.pop(call.call_id, None)
        self._lanes.pop(call.call_id, None)
        self.unbind_channel(call.channel_id)
        if call.routing_id is not None and self._by_routing.get(call.routing_id) == call.call_id:
            del self._by_routing[call.routing_id]
        if call.announce_timer is not None:
            call.announce_timer.cancel()
        for leg in call.legs.values():
            self.unbind_channel(leg.channel_id)
        self.calls_ended += 1
        if self.on_call_ended is not None:
            result = self.on_call_ended(call)
            if asyncio.iscoroutine(result):
                asyncio.get_running_loop().create_task(result)

    # ---------------------------------------------------------------- events

    async def handle_event(self, event: ev.Event) -> None:
        """Entry point for every ARI event (already in its lane)."""
        cid = event.channel_id
        if isinstance(event, ev.StasisStart):
            await self._stasis_start(event)
            return
        if cid is None:
            return
        call_id = self._by_channel.get(cid)
        if call_id is None:
            return
        call = self.calls.get(call_id)
        if call is not None:
            self.post(call, event)

    async def _stasis_start(self, event: ev.StasisStart) -> None:
        channel = event.channel
        if event.args and event.args[0] in (AGENT_ARG, CALLBACK_ARG):
            # Our own agent leg (or callback) entering Stasis: only now may it be
            # dialled (a real Asterisk answers 409 "Channel not in Stasis
            # application" before this).
            call_id = self._by_channel.get(channel.id)
            call = self.calls.get(call_id) if call_id is not None else None
            if call is None:
                # A leg from a previous life of acd with nobody to talk to.
                await self._safe(self.ari.hangup(channel.id), "orphan agent leg")
                return
            self.post(call, event)
            return
        if channel.id in self._by_channel:
            return
        if not self.accepting:
            # Shutting down: let the dialplan's fallback take the caller.
            await self._safe(self.ari.continue_in_dialplan(channel.id), "send back to dialplan")
            return
        call = Call(
            call_id=uuid.uuid4().hex,
            channel_id=channel.id,
            caller_number=channel.caller_number,
            caller_name=channel.caller_name,
            dialled=channel.exten,
            started_ms=self.deps.clock.ms(),
            language=channel.language or "en",
        )
        self.calls[call.call_id] = call
        self.bind_channel(channel.id, call)
        self.calls_started += 1
        self.post(call, Start())

    async def on_offer(self, offer: Offer) -> None:
        """The router reserved an agent for one of our calls (or callback tasks)."""
        call = self._routed(offer.call_id) or self.calls.get(offer.call_id)
        if offer.callback is not None and (call is None or call.routing_id is None):
            if call is not None and call.phase not in (Phase.ENDING, Phase.ENDED):
                # The caller who asked is still on the line: try a little later.
                await self._safe(self.deps.router.callback_failed(offer, STILL_ON_LINE_RETRY),
                                 "postpone callback")
                return
            self._start_callback(offer)
            return
        if call is None or call.phase in (Phase.ENDING, Phase.ENDED):
            logger.info("offer for unknown or finished call %s: released", offer.call_id)
            # Dequeue (not offer_failed): the call has nobody to connect any more.
            await self._safe(self.deps.router.dequeue(offer.call_id), "release offer")
            return
        self.post(call, OfferMsg(offer))

    def _start_callback(self, offer: Offer) -> None:
        """An agent is reserved for a callback task: a new call, to the caller."""
        assert offer.callback is not None
        call_id = uuid.uuid4().hex
        call = Call(
            call_id=call_id, channel_id=f"acd-cb-{call_id[:16]}",
            caller_number=offer.callback, caller_name="", dialled="callback",
            started_ms=self.deps.clock.ms(), phase=Phase.DIALLING, queue=offer.queue,
            enqueued_ms=offer.enqueued_at_ms, routing_id=offer.call_id,
            channel_created=False,
        )
        self.calls[call.call_id] = call
        self.bind_channel(call.channel_id, call)
        self.bind_routing(call)
        self.calls_started += 1
        self.post(call, StartCallback(offer))

    def requeue_waiting(self, lost: bool = False) -> None:
        """Put every caller this node holds as waiting back in routing (kept places
        stay; lost ones come back with their original enqueue time). With `lost`
        (Redis lost its data) offered calls too, and connected calls write their
        re-adoption records again."""
        phases = (Phase.QUEUED, Phase.OFFERING, Phase.CONNECTED) if lost else (Phase.QUEUED,)
        for call in list(self.calls.values()):
            if call.phase in phases:
                self.post(call, Requeue(lost))

    def on_queue_exit(self, call_id: str, reason: str) -> None:
        """Routing gave a waiting call back (its queue has nobody logged in)."""
        call = self._routed(call_id) or self.calls.get(call_id)
        if call is not None:
            self.post(call, LeftQueue(reason))

    async def on_connect(self, channel_ids: list[str]) -> None:
        """After every (re)connect: re-adopt the channels still in our app, then
        end what is gone (see acd.calls.reconcile)."""
        await self.flow.readopt(channel_ids)
        self.adopted = True
        await self.reconciler.run("connect")

    def start_reconciling(self, every: float) -> None:
        """Reconcile every `every` clock seconds too (events can be lost without
        the socket dropping: a slow consumer, a bug)."""
        if self._reconciling is None and every > 0:
            self._reconciling = asyncio.get_running_loop().create_task(
                self._reconcile_loop(every))

    async def _reconcile_loop(self, every: float) -> None:
        while self.accepting:
            await self.deps.clock.sleep(every)
            if not self.adopted:
                continue
            try:
                await self.reconciler.run("periodic")
            except Exception:
                logger.exception("periodic reconciliation failed")

    async def stop(self) -> None:
        """Stop taking calls; live calls stay in Asterisk for a restarted acd."""
        self.accepting = False
        if self._reconciling is not None:
            self._reconciling.cancel()
            await asyncio.gather(self._reconciling, return_exceptions=True)
            self._reconciling = None
        for call in list(self.calls.values()):
            for handle in call.timers.values():
                handle.cancel()
            if call.announce_timer is not None:
                call.announce_timer.cancel()
        # Bounded as a whole, not per call: 2 s however many calls are live.
        lanes = [lane for lane in self._lanes.values() if lane.busy]
        if lanes:
            try:
                await asyncio.wait_for(asyncio.gather(*(lane.idle() for lane in lanes)),
                                       timeout=2.0)
            except TimeoutError:
                logger.warning("%d call lanes did not finish within 2 s at shutdown",
                               sum(1 for lane in lanes if lane.busy))

    async def drain(self, timeout: float) -> None:
        """Wait until every call lane is idle (tests and benchmarks)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while any(lane.busy for lane in self._lanes.values()) and loop.time() < end:
            await asyncio.sleep(0.01)

    def reap_all(self) -> None:
        for call in list(self.calls.values()):
            self.post(call, Reap())

    async def _safe(self, coro: Awaitable[object], what: str) -> None:
        try:
            await coro
        except AriError as exc:
            logger.info("%s failed: %s", what, exc)
        except Exception:
            logger.exception("%s failed", what)
