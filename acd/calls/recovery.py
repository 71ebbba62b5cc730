"""Calls that ended while no acd was listening, written from their re-adoption records.

Every call acd answers has a re-adoption record in Redis (records.remember_call)
until its rows are written. A record whose channel Asterisk no longer has, that
no live call holds, and whose node is this one or is dead, belongs to a call that
ended unseen (acd was killed or stopped, and the caller hung up meanwhile): it is
written out with what is known (outcome from its phase, the wait up to when its
node was last seen alive, `end_detail` "acd_down") and deleted; an agent it held
wraps up, a place it held in a queue is released. The moves of #17 it had under
way (acd.calls.move_record) are ended too: a transfer's target hung up and
released with its leg's row, a monitoring's channels and bridges gone with their
rows, a recording's row, a payment written "abandoned". Rows already written by a
live acd win (the writer never overwrites a row).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from acd import metrics
from acd.ari.errors import AriError
from acd.calls import move_record, rows
from acd.calls.deps import CallDeps
from acd.calls.model import CallState, Leg, Phase
from acd.calls.monitor_rows import snoop_row, supervisor_row
from acd.calls.phases import record as recording
from acd.calls.records import record_key
from acd.routing.model import Offer

if TYPE_CHECKING:
    from acd.calls.service import CallService

logger = logging.getLogger(__name__)

ACD_DOWN = "acd_down"
# The last queue event of a call written here sorts after every event its earlier
# life wrote in the same millisecond (event ids: time, then this sequence).
LAST_SEQ = 16**8 - 1


async def recover(deps: CallDeps, svc: CallService, live: set[str]) -> int:
    """Write out the calls whose channels are gone and that nobody holds; returns
    how many."""
    prefix = record_key(deps.redis_prefix, "")
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
    started = _int(record, "started_ms") or now
    st = CallState(call_id=record["call_id"], channel_id=channel_id,
                   caller_number=record.get("caller", ""), dialled=record.get("dialled", ""),
                   started_ms=started, routing_id=record.get("routing_id") or None,
                   queue=record.get("queue") or None, enqueued_ms=_int(record, "enqueued_ms"),
                   answered_ms=_int(record, "answered_ms"), flow_name=record.get("flow") or None,
                   ended_ms=min(now, max(seen, started)), end_detail=ACD_DOWN,
                   caller_destroyed=True, caller_gone=True, phase=Phase.ENDED,
                   seq=LAST_SEQ)
    ended = min(now, max(seen, started))
    phase = record.get("phase")
    if phase in (Phase.CONNECTED.value, Phase.ENDING.value) and record.get("offer"):
        st = await _connected(deps, st, record, ending=phase == Phase.ENDING.value)
    elif phase in (Phase.QUEUED.value, Phase.OFFERING.value) and st.queue:
        st = replace(st, outcome="abandoned", ended_by="caller")
        try:
            await deps.router.dequeue(st.rid)
        except Exception as exc:
            logger.info("call %s: releasing its place failed (%s); the reconciliation "
                        "of routing releases it", st.call_id, exc)
        deps.writer.write(rows.queue_event_row(st, "abandon", None, ended,
                                               {"detail": ACD_DOWN}))
    else:
        st = replace(st, outcome=record.get("outcome") or "ivr_hangup", ended_by="caller")
    deps.writer.write(rows.caller_leg_row(st))
    deps.writer.write(rows.call_row(st))
    metrics.CALLS.labels(st.outcome or "failed").inc()
    logger.warning("call %s ended while acd was down: written as %s (last seen %.0f s "
                   "before)", st.call_id[:8], st.outcome, (now - (st.ended_ms or now)) / 1000)


async def _connected(deps: CallDeps, st: CallState, record: dict[str, str], *,
                     ending: bool) -> CallState:
    """A connected call whose parties both left while acd was down: answered, who
    hung up unknown; its agent wraps up now. An `ending` one (its agent had left)
    already wrote its `complete` event, and its leg's row once `leg_ended_ms`."""
    offer = Offer.model_validate_json(record["offer"])
    ended = st.ended_ms or deps.clock.ms()
    answered = _int(record, "leg_answered_ms")
    # The agent's own hang-up, when known, is when their leg ended (Leg.hung_up_ms).
    leg_ended = _int(record, "leg_hung_up_ms") or ended
    leg = Leg(leg_id=record.get("leg_id") or f"{st.call_id}-1",
              channel_id=record.get("leg_channel") or "", agent_id=offer.agent_id,
              endpoint=offer.endpoint, offer=offer,
              started_ms=_int(record, "leg_started_ms") or st.started_ms,
              answered_ms=answered, created=True,
              ended_ms=max(leg_ended, answered or 0), outcome="answered")
    st = replace(st, legs=(leg,), connected=leg.channel_id, queue=offer.queue,
                 enqueued_ms=offer.enqueued_at_ms, outcome="answered",
                 ended_by=(record.get("ended_by") or "agent") if ending else "unknown")
    if ending:
        st = replace(st, ended_ms=_int(record, "ended_ms") or st.ended_ms)
        if not _int(record, "leg_ended_ms"):
            deps.writer.write(rows.agent_leg_row(st, leg))
        return st
    bridge_id = record.get("bridge_id")
    if bridge_id:
        try:
            await deps.ari.destroy_bridge(bridge_id)
        except AriError:
            pass  # gone with its channels, as it should be
    moves = move_record.decode(record.get(move_record.FIELD))
    if record.get("agent_left") == "1" and (moves.transfer is not None
                                            or moves.outside is not None):
        # The agent who began a transfer had left: wrap-up sent, their row written
        # once their leg ended.
        if not _int(record, "leg_ended_ms"):
            deps.writer.write(rows.agent_leg_row(st, leg))
        await _moves(deps, st, moves, ended)
        return st
    try:
        await deps.router.call_ended(offer)
    except Exception as exc:
        logger.info("call %s: wrap-up of agent %s not recorded (%s); the on-call "
                    "deadline frees them", st.call_id, offer.agent_id, exc)
    deps.writer.write(rows.agent_leg_row(st, leg))
    deps.writer.write(rows.queue_event_row(st, "complete", offer.agent_id, ended,
                                           {"ended_by": "unknown", "detail": ACD_DOWN},
                                           rows.complete_key(leg)))
    await _moves(deps, st, moves, ended)
    return st


async def _moves(deps: CallDeps, st: CallState, moves: move_record.Moves, ended: int) -> None:
    """What the moves of #17 under way leave (acd.calls.move_record): their channels
    hung up and bridges destroyed if still there, their agents released, their rows
    written as they stood when acd was last seen."""
    for channel_id in moves.channels():
        try:
            await deps.ari.hangup(channel_id)
        except AriError:
            pass  # gone with the call, as it should be
    for bridge_id in moves.bridges():
        try:
            await deps.ari.destroy_bridge(bridge_id)
        except AriError:
            pass
    target = moves.target
    if target is not None:
        answered = target.answered_ms is not None
        target = replace(target, ended_ms=max(ended, target.answered_ms or 0),
                         outcome="answered" if answered else "cancelled")
        try:
            if target.offer is None:
                pass  # an outside party (a consulted number): routing never knew it
            elif answered:
                await deps.router.call_ended(target.offer)
            else:
                await deps.router.dequeue(target.offer.call_id)
        except Exception as exc:
            logger.info("call %s: agent %s of its transfer not released (%s); routing's "
                        "deadlines free them", st.call_id, target.agent_id, exc)
        deps.writer.write(rows.agent_leg_row(st, target))
    if moves.outside is not None:  # a consulted number the caller was handed to
        far = moves.outside
        deps.writer.write(rows.agent_leg_row(st, replace(
            far, ended_ms=max(ended, far.answered_ms or 0), outcome="answered")))
    m = moves.monitor
    if m is not None:
        if m.snoop is not None and m.snoop_mode is not None:
            deps.writer.write(snoop_row(st, m, m.snoop, m.snoop_mode, m.snoop_ms, ended))
        outcome = "answered" if m.answered_ms is not None else "cancelled"
        deps.writer.write(supervisor_row(st, m, ended, outcome, None))
    rec = moves.recording
    if rec is not None:
        if rec.paused_since is not None:  # closed where the call ended
            rec = replace(rec, paused_since=None, paused=(
                *rec.paused, (rec.paused_since, ended, rec.pause_reason or "agent")))
        deps.writer.write(recording.row(st, rec, max(ended, rec.started_ms),
                                        "done" if rec.confirmed else "failed"))
    if moves.payment is not None:
        deps.writer.write(rows.queue_event_row(
            replace(st, seq=LAST_SEQ - 1), "payment", st.connected_leg.agent_id
            if st.connected_leg else None, ended,
            {"result": "abandoned", "reference": None, "detail": ACD_DOWN}))
