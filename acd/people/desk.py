"""What the agent desktop reads and writes (a room that talks): screen pops in
Redis, a caller's earlier calls and the dispositions in PostgreSQL.

A pop is written by the node that owns the call when an agent is offered it, so
that the agent's desktop, on whichever node it is served, can show the caller's
number, queue, wait, IVR variables (masked ones stay masked: the IVR keeps only
their mask) and the path through the flow.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from acd.errors import InvalidRequest
from acd.people.keys import PeopleKeys
from acd.routing.client import RedisClient

if TYPE_CHECKING:
    from acd.calls.model import CallState as Call
    from acd.routing.model import Offer

POP_TTL_S = 4 * 3600
HISTORY_LIMIT = 10
MAX_NOTES = 4000


def pop_of(call: Call, offer: Offer) -> dict[str, Any]:
    ivr = call.ivr
    return {
        "call_id": call.call_id, "channel_id": call.channel_id,
        "caller": call.caller_number, "caller_name": call.caller_name,
        "dialled": call.dialled, "queue": offer.queue, "flow": call.flow_name,
        "enqueued_ms": offer.enqueued_at_ms, "started_ms": call.started_ms,
        "variables": {k: str(v) for k, v in (ivr.variables.items() if ivr else ())},
        "path": list(ivr.path) if ivr else [], "callback": offer.callback,
    }


async def write_pop(redis: RedisClient, keys: PeopleKeys, pop: dict[str, Any]) -> None:
    await redis.set(keys.pop(pop["call_id"]), json.dumps(pop), ex=POP_TTL_S)


async def read_pop(redis: RedisClient, keys: PeopleKeys, call_id: str) -> dict[str, Any] | None:
    raw = await redis.get(keys.pop(call_id))
    return json.loads(raw) if raw else None


async def caller_history(pool: asyncpg.Pool, caller: str, *, before_call: str | None = None,
                         limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
    """The caller's earlier calls, newest first: date, queue, agent, outcome, and
    the disposition and notes agents gave them."""
    rows = await pool.fetch(
        "SELECT c.call_id, c.started_at, c.queue, c.agent_id, c.outcome, d.code, d.notes, "
        "d.agent_id AS disposed_by FROM calls c "
        "LEFT JOIN dispositions d ON d.call_id = c.call_id "
        "WHERE c.caller_number = $1 AND c.call_id IS DISTINCT FROM $2 "
        "ORDER BY c.started_at DESC, d.at DESC LIMIT $3", caller, before_call, limit)
    return [{"call_id": r["call_id"], "at": r["started_at"].isoformat(), "queue": r["queue"],
             "agent_id": r["agent_id"] or r["disposed_by"], "outcome": r["outcome"],
             "disposition": r["code"], "notes": r["notes"]} for r in rows]


def check_disposition(code: object, notes: object, allowed: list[str]) -> tuple[str, str]:
    """The code and notes of a wrap-up form, or a specific refusal."""
    if not isinstance(code, str) or code not in allowed:
        raise InvalidRequest(f"disposition must be one of {', '.join(allowed)}",
                             field="code", got=str(code)[:64])
    if notes is None:
        notes = ""
    if not isinstance(notes, str) or len(notes) > MAX_NOTES:
        raise InvalidRequest(f"notes are text of at most {MAX_NOTES} characters",
                             field="notes")
    return code, notes


async def save_disposition(pool: asyncpg.Pool, call_id: str, agent_id: str,
                           queue: str | None, code: str, notes: str) -> None:
    await pool.execute(
        "INSERT INTO dispositions (call_id, agent_id, queue, code, notes, at) "
        "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (call_id, agent_id) DO UPDATE "
        "SET code = EXCLUDED.code, notes = EXCLUDED.notes, at = EXCLUDED.at",
        call_id, agent_id, queue, code, notes, datetime.now(UTC))
