"""Re-adoption: after a (re)connect, take back the channels still in our Stasis
application that this process does not hold (a restarted acd), from their
re-adoption records in Redis (acd.calls.records)."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

from acd.ari.errors import AriError
from acd.calls.adoption import adopted, base_state, from_variables
from acd.calls.model import CALL_ID_VAR, QUEUE_VAR, CallState
from acd.calls.records import record_key
from acd.outage import report

if TYPE_CHECKING:
    from acd.calls.service import CallService

logger = logging.getLogger(__name__)


async def readopt(svc: CallService, channel_ids: list[str]) -> None:
    """Take back the channels still in our Stasis app after a (re)connect."""
    d = svc.deps
    live = set(channel_ids)
    found: list[tuple[str, dict[str, str]]] = []
    for channel_id in channel_ids:
        if svc.by_channel(channel_id) is not None:
            continue
        record: dict[str, str] = {}
        try:
            raw = await d.redis.hgetall(record_key(d.redis_prefix, channel_id))
            record = {str(k): str(v) for k, v in raw.items()}
        except Exception as exc:
            report(logger, exc, "re-adopt %s: Redis unreachable", channel_id)
        found.append((channel_id, record))
    # Calls first: a connected call takes its agent leg with it, which must not be
    # hung up as a leg nobody owns.
    found.sort(key=lambda item: not item[1])
    for channel_id, record in found:
        if svc.by_channel(channel_id) is not None:
            continue
        try:
            channel = await d.ari.get_channel(channel_id)
        except AriError:
            continue  # gone meanwhile
        if svc.by_channel(channel_id) is not None:
            continue  # its StasisStart was handled while we looked it up
        if not record and (channel_id.startswith("acd-") or channel.name.startswith("Local/")
                           or channel.context == d.call_settings().transfer_context):
            # An acd leg nobody owns, a Local channel, or an agent phone's second call
            # (`phone,<number>` from [agents]) of a consult (never callers: strangers.py).
            await svc._safe(d.ari.hangup(channel_id), "hang up a channel nobody owns")
            continue
        if not record:
            record = await _from_variables(svc, channel_id)
        state = base_state(
            record, channel_id, fallback_id=uuid.uuid4().hex,
            caller_number=channel.caller_number, caller_name=channel.caller_name,
            exten=channel.exten, language=channel.language, settings=d.call_settings(),
            now_ms=d.clock.ms())
        logger.info("re-adopted call %s on channel %s (was %s)", state.call_id, channel_id,
                    record.get("phase", "unknown"))
        _adopt(svc, state, record, live)


async def _from_variables(svc: CallService, channel_id: str) -> dict[str, str]:
    """What the caller's channel says of its call when Redis lost its record: the
    call id, and the queue and enqueue time of a caller who was waiting."""
    try:
        call_id = await svc.deps.ari.get_var(channel_id, CALL_ID_VAR)
        queued = await svc.deps.ari.get_var(channel_id, QUEUE_VAR)
    except AriError as exc:
        logger.info("re-adopt %s: channel variables not read: %s", channel_id, exc)
        return {}
    record = from_variables(call_id, queued)
    queue = record.get("queue")
    if record:
        logger.warning("re-adopt %s: no record in Redis; the channel names call %s%s",
                       channel_id, call_id, f" waiting in {queue}" if queue else "")
    return record


def _adopt(svc: CallService, state: CallState, record: dict[str, str], live: set[str]
           ) -> None:
    a = adopted(state, record, live, svc.deps.clock.ms())
    if a.hold is not None:
        svc.deps.router.hold_connected(a.hold)
        logger.info("call %s: still talking to agent %s", state.call_id, a.hold.agent_id)
    first = svc.start_event(a.state) if a.from_start else a.first
    if a.readopted is not None:
        logger.info("call %s: ending the moves it had under way", state.call_id)
        svc.adopt(a.state, a.readopted, *a.legs)
        if first is not None:
            svc.post(a.state.call_id, first)
        return
    svc.adopt(a.state, first, *a.legs)
