"""Calls that ended while no acd was listening, written from their re-adoption records.

Every call acd answers has a re-adoption record in Redis (records.remember_call)
until its rows are written. A record whose channel Asterisk no longer has, that
no live call holds, and whose node is this one or is dead, belongs to a call that
ended unseen (acd was killed or stopped, and the caller hung up meanwhile): it is
written out with what is known (outcome from its phase, the wait up to when its
node was last seen alive, `end_detail` "acd_down") and deleted; an agent it held
wraps up, a place it held in a queue is released. Rows already written by a live
acd win (the writer never overwrites a row).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from acd import metrics
from acd.ari.errors import AriError
from acd.calls import records
from acd.calls.call import AgentLeg, Call, Phase
from acd.routing.model import Offer

if TYPE_CHECKING:
    from acd.calls.flow import CallDeps
    from acd.calls.service import CallService

logger = logging.getLogger(__name__)

ACD_DOWN = "acd_down"


async def recover(deps: CallDeps, svc: CallService, live: set[str]) -> int:
    """Write out the calls whose channels are gone and that nobody holds; returns
    how many."""
    prefix = records.record_key(deps, "")
    n = 0
    async for raw_key in deps.redis.scan_iter(match=prefix + "*", count=500):
        key = str(raw_key)
        channel_id = key[len(prefix):]
        if channel_id in live or svc.by_channel(channel_id) is not None:
            continue
        raw = await deps.redis.hgetall(key)
        record = {str(k): str(v) for k, v in raw.items()}
        if not record.get("call_id"):
            continue
        node = record.get("node", "")
        if node and node != deps.router.node_id and await deps.router.node_alive(node):
            continue  # a live node's call: it writes its own rows
        if not await _gone(deps, channel_id):
            continue
        await _write(deps, record, channel_id)
        await deps.redis.delete(key)
        n += 1
    return n


async def _gone(deps: CallDeps, channel_id: str) -> bool:
    try:
        await deps.ari.get_channel(channel_id)
    except AriError as exc:
        return exc.status == 404
    return False  # alive, only not in our application (sent to the dialplan)


def _int(record: dict[str, str], name: str) -> int | None:
    try:
        return int(record.get(name) or 0) or None
    except ValueError:
        return None


async def _write(deps: CallDeps, record: dict[str, str], channel_id: str) -> None:
    now = deps.clock.ms()
    node = record.get("node") or deps.router.node_id
    seen = max(_int(record, "seen_ms") or 0, await deps.router.last_seen_ms(node) or 0)
    call = Call(call_id=record["call_id"], channel_id=channel_id,
                caller_number=record.get("caller", ""), caller_name="",
                dialled=record.get("dialled", ""),
                started_ms=_int(record, "started_ms") or now)
    call.routing_id = record.get("routing_id") or None
    call.queue = record.get("queue") or None
    call.enqueued_ms = _int(record, "enqueued_ms")
    call.answered_ms = _int(record, "answered_ms")
    call.flow_name = record.get("flow") or None
    call.ended_ms = min(now, max(seen, call.started_ms))
    call.end_detail = ACD_DOWN
    call.caller_destroyed = call.caller_gone = call.written = True
    phase = record.get("phase")
    if phase == Phase.CONNECTED.value and record.get("offer"):
        await _connected(deps, call, record)
    elif phase in (Phase.QUEUED.value, Phase.OFFERING.value) and call.queue:
        call.outcome, call.ended_by = "abandoned", "caller"
        try:
            await deps.router.dequeue(call.rid)
        except Exception as exc:
            logger.info("call %s: releasing its place failed (%s); the reconciliation "
                        "of routing releases it", call.call_id, exc)
        deps.writer.write(records.queue_event_row(call, "abandon", None, call.ended_ms,
                                                  {"detail": ACD_DOWN}))
    else:
        call.outcome = record.get("outcome") or "ivr_hangup"
        call.ended_by = "caller"
    deps.writer.write(records.caller_leg_row(call))
    deps.writer.write(records.call_row(call))
    metrics.CALLS.labels(call.outcome or "failed").inc()
    logger.warning("call %s ended while acd was down: written as %s (last seen %.0f s "
                   "before)", call.call_id[:8], call.outcome, (now - call.ended_ms) / 1000)


async def _connected(deps: CallDeps, call: Call, record: dict[str, str]) -> None:
    """A connected call whose parties both left while acd was down: answered, who
    hung up unknown; its agent wraps up now."""
    offer = Offer.model_validate_json(record["offer"])
    leg = AgentLeg(leg_id=record.get("leg_id") or f"{call.call_id}-1",
                   channel_id=record.get("leg_channel") or "", agent_id=offer.agent_id,
                   endpoint=offer.endpoint, offer=offer,
                   started_ms=_int(record, "leg_started_ms") or call.started_ms,
                   answered_ms=_int(record, "leg_answered_ms"), created=True)
    assert call.ended_ms is not None
    leg.ended_ms = max(call.ended_ms, leg.answered_ms or 0)
    leg.outcome = "answered"
    call.connected_leg = leg
    call.legs[leg.channel_id] = leg
    call.queue = offer.queue
    call.enqueued_ms = offer.enqueued_at_ms
    call.outcome, call.ended_by = "answered", "unknown"
    bridge_id = record.get("bridge_id")
    if bridge_id:
        try:
            await deps.ari.destroy_bridge(bridge_id)
        except AriError:
            pass  # gone with its channels, as it should be
    try:
        await deps.router.call_ended(offer)
    except Exception as exc:
        logger.info("call %s: wrap-up of agent %s not recorded (%s); the on-call "
                    "deadline frees them", call.call_id, offer.agent_id, exc)
    deps.writer.write(records.agent_leg_row(call, leg))
    deps.writer.write(records.queue_event_row(call, "complete", offer.agent_id, call.ended_ms,
                                              {"ended_by": "unknown", "detail": ACD_DOWN}))
