"""What a call leaves behind: PostgreSQL rows, and its re-adoption record in Redis."""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from acd.ari.errors import AriAllocationFailed, AriError
from acd.calls.call import AgentLeg, Call, Phase
from acd.calls.endings import agent_leg_cause, call_ending
from acd.calls.messages import Reap, Requeue, Start
from acd.outage import report
from acd.routing.model import FailReason, Offer, QueueRequest
from acd.store.rows import CallRow, LegRow, QueueEventRow

if TYPE_CHECKING:
    from acd.calls.flow import CallDeps, CallFlow
    from acd.calls.service import CallService

logger = logging.getLogger(__name__)


def ts(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def queue_request(call: Call, queue: str, skills: dict[str, int], priority: int,
                  chain: str | None, preferred_agent: str | None,
                  max_wait: float | None = None) -> QueueRequest:
    assert call.enqueued_ms is not None
    return QueueRequest(
        call_id=call.rid, queue=queue, skills=skills, priority=priority,
        enqueued_at_ms=call.enqueued_ms, caller=call.caller_number, chain=chain,
        preferred_agent=preferred_agent, max_wait=max_wait,
    )


ExitReason = Literal["max_wait", "callback", "no_agents", "full"]


def exit_reason(reason: str | None) -> ExitReason:
    if reason in ("max_wait", "callback", "no_agents", "full"):
        return reason  # type: ignore[return-value]
    return "full"


def create_failure(exc: AriError) -> FailReason:
    """Why an agent leg could not be created or dialled: "unreachable" (counted
    against the agent) only when Asterisk says the phone cannot be reached; acd's
    own trouble (no answer from ARI, a timeout, a 5xx, a gone channel) is "error",
    which is never charged to an agent."""
    return "unreachable" if isinstance(exc, AriAllocationFailed) else "error"


def fail_event(reason: str) -> str:
    return {"busy": "busy", "unreachable": "unreachable"}.get(reason, "no_answer")


def _wait_ms(call: Call, until: int | None) -> int | None:
    if call.enqueued_ms is None:
        return None
    end = until if until is not None else call.ended_ms
    return None if end is None else max(0, end - call.enqueued_ms)


# Event ids sort in the order the events happened, even within one millisecond, so
# that `ORDER BY at, event_id` replays a call's queue story in order.
_SEQ = itertools.count()


def queue_event_row(call: Call, event: str, agent_id: str | None, at_ms: int,
                    detail: dict[str, object]) -> QueueEventRow:
    return QueueEventRow(
        event_id=f"{at_ms:013x}{next(_SEQ) % 16**8:08x}{uuid.uuid4().hex[:11]}",
        call_id=call.call_id, queue=call.queue or "",
        event=event, agent_id=agent_id, at=ts(at_ms), wait_ms=_wait_ms(call, at_ms),
        detail=detail or None,
    )


def agent_leg_row(call: Call, leg: AgentLeg) -> LegRow:
    return LegRow(
        leg_id=leg.leg_id, call_id=call.call_id, kind="agent", channel_id=leg.channel_id,
        endpoint=leg.endpoint, agent_id=leg.agent_id, queue=call.queue,
        started_at=ts(leg.started_ms), answered_at=ts(leg.answered_ms),
        ended_at=ts(leg.ended_ms), hangup_cause=agent_leg_cause(leg.outcome, leg.cause),
        wait_ms=_wait_ms(call, leg.answered_ms or leg.started_ms), outcome=leg.outcome,
    )


def caller_leg_row(call: Call) -> LegRow:
    leg = call.connected_leg
    return LegRow(
        leg_id=f"{call.call_id}-0", call_id=call.call_id, kind="caller",
        channel_id=call.channel_id, endpoint=None,
        agent_id=leg.agent_id if leg else None, queue=call.queue,
        started_at=ts(call.started_ms), answered_at=ts(call.answered_ms),
        ended_at=ts(call.ended_ms),
        hangup_cause=call_ending(call.outcome, call.ended_by, call.caller_cause).caller_cause,
        wait_ms=_wait_ms(call, leg.answered_ms if leg else None), outcome=call.outcome,
    )


def call_row(call: Call) -> CallRow:
    leg = call.connected_leg
    talk = None
    if leg is not None and leg.answered_ms is not None:
        end = leg.ended_ms or call.ended_ms
        talk = None if end is None else max(0, end - leg.answered_ms)
    variables = dict(call.ivr.variables) if call.ivr is not None else {}
    ending = call_ending(call.outcome, call.ended_by, call.caller_cause)
    return CallRow(
        call_id=call.call_id, channel_id=call.channel_id, caller_number=call.caller_number,
        dialled=call.dialled, flow=call.flow_name, flow_version=call.flow_version,
        started_at=ts(call.started_ms), queue=call.queue, enqueued_at=ts(call.enqueued_ms),
        answered_at=ts(leg.answered_ms if leg else None), ended_at=ts(call.ended_ms),
        agent_id=leg.agent_id if leg else None, outcome=call.outcome or "failed",
        hangup_cause=ending.caller_cause,
        wait_ms=_wait_ms(call, leg.answered_ms if leg else None), talk_ms=talk,
        variables=variables or None, callback_of=call.routing_id,
        ended_by=ending.ended_by, end_detail=call.end_detail,
    )


# ----------------------------------------------------------------- re-adoption


def record_key(deps: CallDeps, channel_id: str) -> str:
    """The Redis key of a channel's re-adoption record."""
    return f"{deps.redis_prefix}:chan:{channel_id}"


_key = record_key


async def remember_call(deps: CallDeps, call: Call) -> None:
    """Write what a restarted acd needs to find this call again."""
    fields: dict[str, str | int] = {
        "call_id": call.call_id, "phase": call.phase.value, "queue": call.queue or "",
        "enqueued_ms": call.enqueued_ms or 0, "started_ms": call.started_ms,
        "caller": call.caller_number, "dialled": call.dialled,
        "routing_id": call.routing_id or "",
        # What a call that ends while no acd listens is written with (recovery.py).
        "node": deps.router.node_id, "seen_ms": deps.clock.ms(),
        "answered_ms": call.answered_ms or 0, "outcome": call.outcome or "",
        "flow": call.flow_name or "",
    }
    fields.update(_connected_fields(call))
    try:
        # One round trip for both commands: this runs twice on every call's hot path.
        async with deps.redis.pipeline(transaction=False) as pipe:
            pipe.hset(_key(deps, call.channel_id), mapping=fields)  # type: ignore[arg-type]
            pipe.expire(_key(deps, call.channel_id), 6 * 3600)
            await pipe.execute()
    except Exception as exc:
        report(logger, exc, "call %s: could not write its re-adoption record", call.call_id)


# Seconds (clock time) between attempts to delete a finished call's record while
# Redis is away; after the last one the record's own 6-hour expiry is the net.
FORGET_RETRIES = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_forgetting: set[asyncio.Task[None]] = set()


def _connected_fields(call: Call) -> dict[str, str | int]:
    """What a restarted acd needs to keep a connected call talking: the agent leg,
    its offer (for routing) and the bridge."""
    leg = call.connected_leg
    if leg is None or call.phase is not Phase.CONNECTED:
        return {}
    return {
        "offer": leg.offer.model_dump_json(), "leg_id": leg.leg_id,
        "leg_channel": leg.channel_id, "leg_started_ms": leg.started_ms,
        "leg_answered_ms": leg.answered_ms or 0, "bridge_id": call.bridge_id or "",
    }


def _adopt_connected(deps: CallDeps, svc: CallService, call: Call, record: dict[str, str],
                     live: set[str]) -> bool:
    """Take back a call that was talking to an agent: same bridge, same legs. False
    when the record does not describe one."""
    if record.get("phase") != Phase.CONNECTED.value or not record.get("offer"):
        return False
    offer = Offer.model_validate_json(record["offer"])
    leg = AgentLeg(
        leg_id=record.get("leg_id") or f"{call.call_id}-1",
        channel_id=record.get("leg_channel") or "", agent_id=offer.agent_id,
        endpoint=offer.endpoint, offer=offer,
        started_ms=int(record.get("leg_started_ms") or call.started_ms),
        answered_ms=int(record.get("leg_answered_ms") or 0) or None, extra_dialled=True,
    )
    call.legs[leg.channel_id] = leg
    call.connected_leg = leg
    call.phase = Phase.CONNECTED
    call.outcome = "answered"
    call.queue = offer.queue
    call.enqueued_ms = offer.enqueued_at_ms
    call.answered_ms = int(record.get("answered_ms") or 0) or None
    call.bridge_id = record.get("bridge_id") or None
    call.attempts = offer.attempt
    deps.router.hold_connected(offer)
    if leg.channel_id in live:
        svc.bind_channel(leg.channel_id, call)
    else:
        # The agent hung up while no acd was listening: end the call now.
        leg.ended_ms = deps.clock.ms()
        leg.outcome = "answered"
        svc.post(call, Reap())
    return True


async def forget_call(deps: CallDeps, call: Call) -> None:
    key = _key(deps, call.channel_id)
    try:
        await deps.redis.delete(key)
    except Exception:
        logger.warning("call %s: could not delete its re-adoption record; retrying",
                       call.call_id)
        task = asyncio.get_running_loop().create_task(_forget_later(deps, key))
        _forgetting.add(task)
        task.add_done_callback(_forgetting.discard)


async def _forget_later(deps: CallDeps, key: str) -> None:
    for delay in FORGET_RETRIES:
        await deps.clock.sleep(delay)
        try:
            await deps.redis.delete(key)
            return
        except Exception:
            continue
    logger.error("re-adoption record %s not deleted; it expires on its own", key)


async def readopt(deps: CallDeps, svc: CallService, flow: CallFlow,
                  channel_ids: list[str]) -> None:
    """Take back the channels still in our Stasis app after a (re)connect."""
    live = set(channel_ids)
    found: list[tuple[str, dict[str, str]]] = []
    for channel_id in channel_ids:
        if channel_id in svc._by_channel:
            continue
        record: dict[str, str] = {}
        try:
            raw = await deps.redis.hgetall(_key(deps, channel_id))
            record = {str(k): str(v) for k, v in raw.items()}
        except Exception as exc:
            report(logger, exc, "re-adopt %s: Redis unreachable", channel_id)
        found.append((channel_id, record))
    # Calls first: a connected call takes its agent leg with it, which must not be
    # hung up as a leg nobody owns.
    found.sort(key=lambda item: not item[1])
    for channel_id, record in found:
        if channel_id in svc._by_channel:
            continue
        try:
            channel = await deps.ari.get_channel(channel_id)
        except Exception:
            continue  # gone meanwhile
        if channel_id in svc._by_channel:
            continue  # its StasisStart was handled while we looked it up
        if not record:
            if channel_id.startswith("acd-"):
                await flow._hangup(channel_id)  # an agent leg nobody owns any more
                continue
            record = {}
        call = Call(
            call_id=record.get("call_id") or uuid.uuid4().hex, channel_id=channel_id,
            caller_number=channel.caller_number, caller_name=channel.caller_name,
            dialled=record.get("dialled") or channel.exten,
            started_ms=int(record.get("started_ms") or deps.clock.ms()),
            language=channel.language or "en",
        )
        call.routing_id = record.get("routing_id") or None
        svc.calls[call.call_id] = call
        svc.bind_channel(channel_id, call)
        if call.routing_id is not None:
            svc.bind_routing(call)
        logger.info("re-adopted call %s on channel %s (was %s)", call.call_id, channel_id,
                    record.get("phase", "unknown"))
        if _adopt_connected(deps, svc, call, record, live):
            logger.info("call %s: still talking to agent %s", call.call_id,
                        call.connected_leg.agent_id if call.connected_leg else "?")
        elif record.get("phase") in (Phase.QUEUED.value, Phase.OFFERING.value) and record.get(
            "queue"
        ):
            call.enqueued_ms = int(record.get("enqueued_ms") or deps.clock.ms())
            call.phase = Phase.QUEUED
            call.queue = record["queue"]
            svc.post(call, Requeue())
        else:
            # Mid-IVR (or unknown): the caller hears the flow from its start.
            svc.post(call, Start())



# -------------------------------------------------------------------- callbacks


def _cb_key(deps: CallDeps, routing_id: str) -> str:
    return f"{deps.redis_prefix}:callback:{routing_id}"


CALLBACK_TTL_S = 7 * 24 * 3600


async def remember_callback(deps: CallDeps, call: Call, number: str) -> None:
    """The callback task's details next to routing's record: who asked, when, how
    many times acd has tried. Failing to write it only loses the attempt count."""
    key = _cb_key(deps, call.rid)
    try:
        async with deps.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, mapping={
                "origin": call.call_id, "number": number, "queue": call.queue or "",
                "caller_name": call.caller_name, "requested_ms": deps.clock.ms(), "tries": 0,
            })
            pipe.expire(key, CALLBACK_TTL_S)
            await pipe.execute()
    except Exception as exc:
        report(logger, exc, "call %s: could not write its callback record", call.call_id)


async def callback_attempt(deps: CallDeps, routing_id: str) -> int:
    """Count one more attempt to call back; returns the attempt number (1 = first)."""
    key = _cb_key(deps, routing_id)
    try:
        async with deps.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(key, "tries", 1)
            pipe.expire(key, CALLBACK_TTL_S)
            tries, _ = await pipe.execute()
        return int(tries)
    except Exception as exc:
        report(logger, exc, "callback %s: could not count the attempt", routing_id)
        return 1


async def forget_callback(deps: CallDeps, routing_id: str) -> None:
    try:
        await deps.redis.delete(_cb_key(deps, routing_id))
    except Exception as exc:
        report(logger, exc, "callback %s: could not delete its record", routing_id)
