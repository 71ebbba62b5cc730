"""The call room's front door: ARI events, offers and timers in, one mailbox per call.

Each call is a `CallState` value stepped by the pure machine (acd.calls.machine);
the executor (acd.calls.effects) carries its commands out and feeds results and
failures back, in the call's mailbox, one item at a time. Anything that goes wrong
for a caller we own ends with the caller sent back to the dialplan or hung up
politely, never left in Stasis in silence: an unexpected exception in a call's
handling is fed to the machine as `Crashed` (its safety net).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import cast

from acd.ari import events as ev
from acd.ari.client import AriClient
from acd.ari.errors import AriError
from acd.calls import commands as c
from acd.calls import events as e
from acd.calls import phone_calls, strangers
from acd.calls.adopt import readopt
from acd.calls.agent_events import to_call_event
from acd.calls.deps import CallDeps
from acd.calls.effects import Executor
from acd.calls.lookups import Lookups
from acd.calls.machine import step_recorded as step  # the moves kept in the record
from acd.calls.mailbox import Mailbox, stop_all
from acd.calls.model import (
    IN_QUEUE,
    CallState,
    Phase,
    call_of_recording,
    callback_channel_id,
)
from acd.calls.phases import control
from acd.calls.reconcile import Reconciled, Reconciler
from acd.calls.records import Records
from acd.calls.replies import Replies
from acd.ivr.engine import IvrContext
from acd.outage import report
from acd.routing.model import Offer

logger = logging.getLogger(__name__)

AGENT_ARG = "agent"
CALLBACK_ARG = "callback"
# A callback task offered while the caller who asked for it is still on the line
# (hearing "we will call you back"): the agent is released and the task tried again
# this many seconds later, still in its place.
STILL_ON_LINE_RETRY = 10.0


class CommandFailed(Exception):
    """Carrying out one of a call's commands raised what no client should (a bug):
    the command was failed ("error") and the rest of the step carried out."""


class CallService:
    """Owns the calls of this acd process."""

    def __init__(self, deps: CallDeps) -> None:
        self.deps = deps
        self.ari: AriClient = deps.ari
        self.records = Records(deps.redis, deps.redis_prefix, deps.clock)
        self.lookups = Lookups(deps.redis, deps.redis_prefix, deps.http_policy)
        self.replies = Replies()
        self.executor = Executor(deps, self.records, self.lookups, self.replies)
        self.calls: dict[str, CallState] = {}  # by call id
        self._by_channel: dict[str, str] = {}  # channel id -> call id
        self._by_routing: dict[str, str] = {}  # routing id -> call id (callbacks)
        self._boxes: dict[str, Mailbox] = {}
        self._phone_legs: dict[str, list[str]] = {}  # call id -> its agent phone's 2nd calls
        self.accepting = True
        self.calls_started = 0
        self.calls_ended = 0
        self.handler_errors = 0
        self.strangers = 0  # channels acd did not make that entered the app (hung up)
        self.on_call_ended: Callable[[CallState], Awaitable[None] | None] | None = None
        self.on_reconciled: Callable[[Reconciled], None] | None = None
        self.reconciler = Reconciler(self)
        self.adopted = False  # the first re-adoption after start is done
        self._reconciling: asyncio.Task[None] | None = None
        self._spawned: set[asyncio.Task[None]] = set()

    # ----------------------------------------------------------------- calls

    def lane_of(self, event: ev.Event) -> str | None:
        """The event stream's lane for an event: the call id when we know it."""
        cid = event.channel_id
        if cid is None and isinstance(event, ev.RecordingEvent):
            return call_of_recording(event.recording.name)  # #17: the bridge's recording
        return None if cid is None else self._by_channel.get(cid)

    def by_channel(self, channel_id: str) -> str | None:
        """The id of the call a channel belongs to, if any."""
        return self._by_channel.get(channel_id)

    def adopt(self, state: CallState, first: e.Event | None, *legs: str) -> None:
        """Hold `state` (a new or re-adopted call) and post its first event."""
        self.calls[state.call_id] = state
        for channel_id in (state.channel_id, *legs):
            self._by_channel[channel_id] = state.call_id
        if state.routing_id is not None:
            self._by_routing[state.routing_id] = state.call_id
        self.calls_started += 1
        if first is not None:
            self.post(state.call_id, first)

    def bind_phone_leg(self, channel_id: str, call_id: str) -> None:
        """An agent phone's second call belongs to `call_id` (a consult, #17)."""
        self._by_channel[channel_id] = call_id
        self._phone_legs.setdefault(call_id, []).append(channel_id)

    def post(self, call_id: str, item: e.Event) -> None:
        if call_id not in self.calls:
            return  # finished and forgotten: late timers and events have nothing to do
        box = self._boxes.get(call_id)
        if box is None:
            async def handler(item: object, cid: str = call_id) -> None:
                await self._handle(cid, item)

            async def on_error(item: object, exc: BaseException, cid: str = call_id) -> None:
                await self._crashed(cid, item)

            box = Mailbox(call_id[:8], handler, on_error, self.deps.clock)
            self._boxes[call_id] = box
        box.post(item)

    async def _handle(self, call_id: str, item: object) -> None:
        """One item of a call's mailbox: step the machine, carry the commands out,
        then step the results (before the next item: as if each request were
        awaited in place)."""
        todo: deque[e.Event] = deque([cast(e.Event, item)])  # only events are posted
        box = self._boxes[call_id]
        if isinstance(item, e.Control) and call_id not in self.calls:
            self.replies.deliver(control.ended(item))  # it ended while the move waited
        bug: Exception | None = None
        while todo:
            state = self.calls.get(call_id)
            if state is None:
                break
            state, commands = step(state, todo.popleft(), self.deps.clock.now())
            self.calls[call_id] = state
            results: list[e.Event] = []
            for cmd in commands:
                if isinstance(cmd, c.CreateChannel | c.StartSnoop):
                    # Bound first: its StasisStart may come before the create's answer.
                    self._by_channel[cmd.channel_id] = call_id
                try:
                    results += await self.executor.run(call_id, cmd, box)
                except Exception as exc:
                    # A bug carrying this command out: the machine already counts on
                    # the rest of the step (its rows, its timers), so that still
                    # happens; the safety net follows (the mailbox's on_error).
                    bug = bug or exc
                    results.append(e.Failed(cmd, "error"))
                if isinstance(cmd, c.Finished):
                    self._forget(state)
            todo.extendleft(reversed(results))
        if bug is not None:
            raise CommandFailed(f"call {call_id[:8]}: a command failed: {bug!r}") from bug

    async def _crashed(self, call_id: str, item: object) -> None:
        """The per-call safety net: a caller not talking to an agent goes back to
        the dialplan (its fallback serves them); connected parties stay bridged."""
        self.handler_errors += 1
        if isinstance(item, e.Control):
            self.replies.deliver(c.Reply(item.request_id, False, "failed",
                                         f"the move {item.action!r} failed"))
        if not isinstance(item, e.Crashed):
            try:
                await self._handle(call_id, e.Crashed())
                return
            except CommandFailed:
                # The machine heard of it ("error") and has done what it does then.
                logger.exception("call %s: a command of its safety net failed", call_id[:8])
                return
            except Exception:
                logger.exception("call %s: failed in its safety net", call_id[:8])
        # The safety net itself failed: the last resort is to let the caller go.
        state = self.calls.get(call_id)
        if state is not None:
            logger.error("call %s: the safety net failed too; hanging up", call_id)
            try:
                await self.ari.hangup(state.channel_id)
            except AriError as exc:
                logger.info("call %s: last-resort hang-up: %s", call_id, exc)

    def _forget(self, state: CallState) -> None:
        """Drop a finished call (its rows are queued): its mailbox closes with its
        timers and tasks."""
        self.calls.pop(state.call_id, None)
        box = self._boxes.pop(state.call_id, None)
        if box is not None:
            box.close()
        for channel_id in (state.channel_id, *(leg.channel_id for leg in state.legs),
                           *state.monitor_ids, *self._phone_legs.pop(state.call_id, ())):
            if self._by_channel.get(channel_id) == state.call_id:
                del self._by_channel[channel_id]
        if state.routing_id is not None and self._by_routing.get(state.routing_id) == \
                state.call_id:
            del self._by_routing[state.routing_id]
        self.calls_ended += 1
        logger.info("call %s: ended (%s)", state.call_id[:8], state.outcome)
        if self.on_call_ended is not None:
            result = self.on_call_ended(state)
            if asyncio.iscoroutine(result):
                self._spawn(result)

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro
        task = asyncio.get_running_loop().create_task(run())
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    # ---------------------------------------------------------------- events

    async def handle_event(self, event: ev.Event) -> None:
        """Entry point for every ARI event (already in its lane)."""
        if isinstance(event, ev.StasisStart):
            kind = strangers.kind_of(event)
            if kind == "caller":
                await self._stasis_start(event)
                return
            if kind == "phone":  # an agent's phone dialled a colleague (#17)
                await phone_calls.arrive(self, event)
                return
            if kind != "role":  # never a caller: no IVR, no calls row
                logger.warning("%s channel %s (%s) entered the app: hung up", kind,
                               event.channel.id, event.channel.name)
                self.strangers += 1
                await self._safe(self.ari.hangup(event.channel.id), f"hang up {kind} channel")
                return
        cid = event.channel_id
        call_id = self._by_channel.get(cid) if cid is not None else None
        if cid is None and isinstance(event, ev.RecordingEvent):
            call_id = call_of_recording(event.recording.name)  # #17: the bridge's recording
        state = self.calls.get(call_id) if call_id is not None else None
        if state is None:
            if isinstance(event, ev.StasisStart) and cid is not None:
                # A leg from a previous life of acd (or of a finished call).
                await self._safe(self.ari.hangup(cid), "orphan agent leg")
            return
        mapped = to_call_event(state, event)
        if mapped is not None:
            self.post(state.call_id, mapped)

    async def _stasis_start(self, event: ev.StasisStart) -> None:
        channel = event.channel
        if channel.id in self._by_channel:
            return
        if not self.accepting:
            # Shutting down: let the dialplan's fallback take the caller.
            await self._safe(self.ari.continue_in_dialplan(channel.id), "send back to dialplan")
            return
        call_id = uuid.uuid4().hex
        state = CallState(
            call_id=call_id, channel_id=channel.id, caller_number=channel.caller_number,
            caller_name=channel.caller_name, dialled=channel.exten,
            started_ms=self.deps.clock.ms(), language=channel.language or "en",
            settings=self.deps.call_settings())
        self.adopt(state, self.start_event(state))

    def start_event(self, state: CallState) -> e.Start:
        """The IVR's start for `state`: the flow for its number, or none."""
        flow = self.deps.flows.for_number(state.dialled)
        if flow is None:
            logger.warning("call %s: no flow for %r; back to the dialplan", state.call_id,
                           state.dialled)
            return e.Start(None)
        return e.Start(flow, IvrContext(
            call_id=state.call_id, caller_number=state.caller_number, dialled=state.dialled,
            language=state.language, flows=self.deps.flows.snapshot()))

    def find(self, call_id: str) -> CallState | None:
        """A call this node holds, by its call id or its id in routing."""
        return self._routed(call_id) or self.calls.get(call_id)

    def _routed(self, routing_id: str) -> CallState | None:
        call_id = self._by_routing.get(routing_id)
        return self.calls.get(call_id) if call_id is not None else None

    async def on_offer(self, offer: Offer) -> None:
        """The router reserved an agent for one of our calls (or callback tasks)."""
        call = self._routed(offer.call_id) or self.calls.get(offer.call_id)
        if offer.callback is not None and (call is None or call.routing_id is None):
            if call is not None and call.phase not in (Phase.ENDING, Phase.ENDED):
                # The caller who asked is still on the line: try a little later.
                await self._safe(self.deps.router.callback_failed(offer, STILL_ON_LINE_RETRY),
                                 "postpone callback")
                return
            await self._start_callback(offer)
            return
        if call is None or call.phase in (Phase.ENDING, Phase.ENDED):
            logger.info("offer for unknown or finished call %s: released", offer.call_id)
            # Dequeue (not offer_failed): the call has nobody to connect any more.
            await self._safe(self.deps.router.dequeue(offer.call_id), "release offer")
            return
        qdef = self.deps.queues.get(offer.queue)
        self.post(call.call_id, e.OfferArrived(
            offer, ring_all=qdef is not None and qdef.strategy == "ring_all"))

    async def _start_callback(self, offer: Offer) -> None:
        """An agent is reserved for a callback task: a new call, to the caller."""
        assert offer.callback is not None
        attempt = await self.records.callback_attempt(offer.call_id)
        call_id = uuid.uuid4().hex
        state = CallState(
            call_id=call_id, channel_id=callback_channel_id(call_id),
            caller_number=offer.callback, dialled="callback",
            started_ms=self.deps.clock.ms(), phase=Phase.DIALLING, routing_id=offer.call_id,
            channel_created=False, settings=self.deps.call_settings())
        self.adopt(state, e.StartCallback(offer, attempt))

    def requeue_waiting(self, lost: bool = False) -> None:
        """Put every caller this node holds as waiting back in routing (kept places
        stay; lost ones come back with their original enqueue time). With `lost`
        (Redis lost its data) offered calls too, and connected calls write their
        re-adoption records again."""
        phases = (*IN_QUEUE, Phase.CONNECTED) if lost else (Phase.QUEUED,)
        for call in list(self.calls.values()):
            if call.phase in phases:
                self.post(call.call_id, e.Requeue(lost))

    def on_queue_exit(self, call_id: str, reason: str) -> None:
        """Routing gave a waiting call back (its queue has nobody logged in)."""
        call = self._routed(call_id) or self.calls.get(call_id)
        if call is not None:
            self.post(call.call_id, e.LeftQueue(reason))

    async def on_connect(self, channel_ids: list[str]) -> None:
        """After every (re)connect: re-adopt the channels still in our app, ask every
        call what it missed, then end what is gone (see acd.calls.reconcile)."""
        await readopt(self, channel_ids)
        if self.adopted:
            for call_id in list(self.calls):
                self.post(call_id, e.Reconnected())
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
            except Exception as exc:  # an outage is logged once, not once per period
                report(logger, exc, "periodic reconciliation failed")

    async def stop(self) -> None:
        """Stop taking calls; live calls stay in Asterisk for a restarted acd."""
        self.accepting = False
        if self._reconciling is not None:
            self._reconciling.cancel()
            await asyncio.gather(self._reconciling, return_exceptions=True)
            self._reconciling = None
        # Bounded as a whole, not per call: 2 s however many calls are live.
        await stop_all(self._boxes.values(), timeout=2.0)

    async def close(self) -> None:
        await self.lookups.close()
        await self.records.close()
        for task in list(self._spawned):
            task.cancel()

    async def drain(self, timeout: float) -> None:
        """Wait until every call mailbox is idle (tests and benchmarks)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while any(box.busy for box in self._boxes.values()) and loop.time() < end:
            await asyncio.sleep(0.01)

    async def _safe(self, coro: Awaitable[object], what: str) -> None:
        try:
            await coro
        except AriError as exc:
            logger.info("%s failed: %s", what, exc)
        except Exception:
            logger.exception("%s failed", what)
