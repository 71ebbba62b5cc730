"""The model world (tests.calls.world) behind the executor's ports: the call's
commands are carried out by the real executor (acd.calls.effects) on an ARI
client, a router, re-adoption records, a row writer and a mailbox that the world
serves, so the executor's own work (which port for which command, the result
events it builds, its fault translation) is part of every step.

Faults are raised at the port as the real clients raise them: ARI answers 400,
409, 412, 422, 500 and "Allocation failed", no answer (a timeout), Redis errors,
dropped connections, timeouts after the request was carried out ("late": the
channel hung up, the call queued, the reply lost), and exceptions no port should
raise (a bug: the executor lets it through, the service's safety net takes over,
see `PortWorld.feed`).
A channel that is gone answers 404 (or 409 out of Stasis) as Asterisk 22 does.
Each injected fault must come back as `Failed(command, fault)` with the fault
that `EXPECTED` gives for it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any, cast

import redis.exceptions as rx

from acd.ari import errors as ae
from acd.calls import commands as c
from acd.calls import events as e
from acd.calls.deps import CallDeps
from acd.calls.effects import Executor
from acd.calls.model import Phase
from acd.calls.recovery import _write as recover_call
from acd.ivr.model import Flow
from acd.routing.model import Offer
from tests.calls.driver import CALL_ID, CALLER
from tests.calls.port_services import WorldAri, WorldRouter
from tests.calls.world import Chan, World

# (command being carried out, port family "ari" | "redis") -> a fault kind or None.
PortDraw = Callable[[c.Command, str], str | None]


class Bug(Exception):
    """What no port should raise: the executor must not hide it."""


def _ari(kind: str) -> BaseException:
    match kind:
        case "400":
            return ae.AriBadRequest("Invalid parameters", status=400)
        case "409":
            return ae.AriConflict("Channel is in use", status=409)
        case "412":
            return ae.AriError("Channel in invalid state", status=412)
        case "422":
            return ae.AriUnprocessable("Bridge not in Stasis application", status=422)
        case "500":
            return ae.AriServerError("Internal Server Error", status=500)
        case "alloc":
            return ae.AriAllocationFailed("Allocation failed", status=500)
        case "timeout":
            return ae.AriUnavailable("timed out after 5 s")
    return _redis(kind)


def _redis(kind: str) -> BaseException:
    match kind:
        case "redis":
            return rx.ResponseError("BUSY Redis is busy running a script")
        case "redis-conn":
            return rx.ConnectionError("Connection reset by peer")
        case "redis-timeout":
            return rx.TimeoutError("Timeout reading from socket")
        case "conn":
            return ConnectionResetError("Connection reset by peer")
        case "timeout":
            return TimeoutError()
    return Bug(kind)


# "late": Asterisk did it, and its answer never came (a timeout after the fact).
ARI_KINDS = ("400", "409", "412", "422", "500", "alloc", "timeout", "late", "bug")
REDIS_KINDS = ("redis", "redis-conn", "redis-timeout", "conn", "timeout", "late", "bug")
EXPECTED: dict[str, e.Fault] = {
    "400": "refused", "409": "refused", "412": "refused", "422": "refused",
    "500": "error", "alloc": "unreachable", "timeout": "error", "late": "error",
    "redis": "error",
    "redis-conn": "error", "redis-timeout": "error", "conn": "error",
    "gone": "gone",
}


def run_now(coro: Coroutine[Any, Any, list[e.Event]]) -> list[e.Event]:
    """Run a coroutine whose awaits all complete at once (the world's ports)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return cast(list[e.Event], done.value)
    coro.close()
    raise AssertionError("a port suspended")


class PortWorld(World):
    def __init__(self, flow: Flow, draw: PortDraw, ring_all: bool = False) -> None:
        super().__init__(flow, lambda cmd: None, ring_all)
        self.draw = draw
        deps = CallDeps(ari=cast(Any, WorldAri(self)), router=cast(Any, WorldRouter(self)),
                        writer=cast(Any, self), flows=cast(Any, None),
                        clock=cast(Any, WorldClock(self)), redis=cast(Any, None),
                        redis_prefix="t", queues={}, app="acd")
        self.deps = deps
        self.executor = Executor(deps, cast(Any, WorldRecords(self)), cast(Any, None))
        self.box = cast(Any, WorldBox(self))
        self.cmd: c.Command = c.Finished()
        self.raised: str | None = None  # the fault raised for the command in hand
        self.faults_raised = 0  # all but "gone": the executor counts them as failures
        self.bugs = 0
        self.recovering = False
        self.late = ""  # the port family whose answer will be lost ("late")
        self.wrapups = 0  # routing heard "the call ended" (router.call_ended)
        self.once_dropped = 0  # queue events the database would drop (their once_key)

    # ------------------------------------------------------------ feeding

    def feed(self, event: e.Event) -> None:
        """As the service does (acd.calls.service): results before the next event;
        an exception the executor lets through fails its command ("error"), the
        rest goes on, then `Crashed` is fed (once: a command of the safety net
        that fails so is only failed)."""
        bugs = self.bugs
        super().feed(event)
        if self.bugs > bugs and not isinstance(event, e.Crashed):
            self.feed(e.Crashed())

    def carry_out(self, cmd: c.Command) -> list[e.Event]:
        try:
            return self.execute(cmd)
        except Bug:
            self.log.append(f"   bug in {type(cmd).__name__}")
            self.bugs += 1
            return [e.Failed(cmd, "error")]

    def execute(self, cmd: c.Command) -> list[e.Event]:
        if isinstance(cmd, c.Reply):
            self.replies.append(cmd.request_id)  # the executor hands it to its asker
        if isinstance(cmd, c.Finished):
            self.finished += 1
            self.timers.clear()
        self.cmd, self.raised, self.late = cmd, None, ""
        failures = self.executor.failures
        out = run_now(self.executor.run(CALL_ID, cmd, self.box))
        if self.raised is not None:
            self.log.append(f"   fault {self.raised} on {type(cmd).__name__} -> {out}")
            assert out == [e.Failed(cmd, EXPECTED[self.raised])], (self.raised, cmd, out)
            assert self.executor.failures == failures + (self.raised != "gone")
        else:
            assert self.executor.failures == failures, (cmd, out)
        return out

    def write(self, row: object) -> None:  # the row writer (never fails: it buffers)
        """As the database keeps it: a queue event whose once_key was written before
        is dropped (migration 0008). Rows sharing a primary key are all kept here, so
        that `assert_whole` can see a leg written twice."""
        key = getattr(row, "once_key", None)
        if key is not None and any(getattr(x, "once_key", None) == key for x in self.rows):
            self.once_dropped += 1
            return
        self.rows.append(row)

    def recover(self, record: dict[str, str]) -> bool:
        """acd.calls.recovery writes the call whose caller left while acd was down."""
        self.cmd, self.recovering = c.Finished(), True
        try:
            run_now(recover_call(self.deps, record, CALLER))
        finally:
            self.recovering = False
        self.record = None
        self.finished += 1
        # Its legs are those of an earlier acd (legs_seen); the e2e tests check
        # which rows recovery writes for them.
        self.state = replace(self.state, phase=Phase.ENDED, legs=())
        return True

    # ------------------------------------------------------------- faults

    def fault(self, family: str, read: bool = False) -> None:
        """Raise the fault drawn for this port call, if one is."""
        kind = self.draw(self.cmd, family)
        if kind is None:
            return
        if kind == "alloc" and not isinstance(self.cmd, c.CreateChannel | c.Dial):
            kind = "500"
        if kind == "bug" and self.recovering:
            kind = "500" if family == "ari" else "redis"  # recovery is not a call's step
        if kind == "late" and read:
            kind = "timeout"  # nothing done that could be lost
        if kind != "bug":
            self.raised = kind
            self.faults_raised += 1
        if kind == "late":
            self.late = family  # raised once the request has done its work (landed)
            return
        raise _ari(kind) if family == "ari" else _redis(kind)

    def landed(self) -> None:
        """A request did its work; its answer is lost if it was to be late."""
        family, self.late = self.late, ""
        if family:
            raise _ari("timeout") if family == "ari" else _redis("redis-timeout")

    def gone(self, exc: ae.AriError) -> ae.AriError:
        self.raised = "gone"
        return exc

    def live(self, ch: str, stasis: bool = True) -> Chan:
        """The channel an ARI request acts on, as Asterisk finds it."""
        x = self.chans.get(ch)
        if x is None or not x.alive:
            raise self.gone(ae.AriNotFound("Channel not found", status=404))
        if stasis and not x.stasis:
            raise self.gone(ae.AriConflict("Channel not in Stasis application", status=409))
        return x

    def routing_lost(self, offer: Offer | None, all_reserved: bool = False) -> None:
        """Routing did not hear it: the reservation (or the on-call deadline the
        owner stops renewing) expires and routing frees the agent itself."""
        if offer is not None:
            self.expired_ok.add(offer.agent_id)
        if all_reserved:
            self.expired_ok.update(self.reserved)


class WorldRecords:
    """acd.calls.records.Records on the world's Redis."""

    def __init__(self, w: PortWorld) -> None:
        self.w = w

    async def remember(self, channel_id: str, fields: Mapping[str, str | int]) -> None:
        self.w.fault("redis")
        self.w.record = {**(self.w.record or {}), **{k: str(v) for k, v in fields.items()}}
        self.w.landed()

    async def forget(self, channel_id: str) -> None:
        self.w.record = None  # Records.forget retries on its own until it is gone

    async def remember_callback(self, routing_id: str, fields: Mapping[str, str | int]
                                ) -> None:
        self.w.fault("redis")
        self.w.landed()

    async def forget_callback(self, routing_id: str) -> None:
        self.w.fault("redis")
        self.w.landed()


class WorldClock:
    def __init__(self, w: PortWorld) -> None:
        self.w = w

    def ms(self) -> int:
        return self.w.ms


class WorldBox:
    """The call's mailbox: its timers are the world's."""

    def __init__(self, w: PortWorld) -> None:
        self.w = w

    def start_timer(self, key: str, seconds: float, item: object) -> None:
        self.w.timers[key] = self.w.now + timedelta(seconds=seconds)

    def cancel_timer(self, key: str) -> None:
        self.w.timers.pop(key, None)

    def post(self, item: object) -> None:
        raise AssertionError("no look-ups in these flows")

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        coro.close()
        raise AssertionError("no look-ups in these flows")
