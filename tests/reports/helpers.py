"""Hand-made rows and a runner that computes a report both ways (SQL and Python)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from acd.reports import kpi, moves, sql
from acd.reports.kpi import QueueRules
from acd.store.rows import AgentStateRow, CallRow

DAY = datetime(2026, 3, 10, tzinfo=UTC)
WIDE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
_ids = itertools.count()


def at(hms: str, day: datetime = DAY) -> datetime:
    h, m, s = (float(x) for x in hms.split(":"))
    return day + timedelta(hours=h, minutes=m, seconds=s)


def call(enq: datetime, wait_s: float, outcome: str = "answered", *, queue: str = "q",
         talk_s: float | None = 60.0, agent: str | None = "a1",
         callback_of: str | None = None, call_id: str | None = None,
         caller: str = "+15550100", hold_s: float | None = None) -> CallRow:
    """A queue call that entered at `enq`; answered (by `agent`) unless the outcome
    says otherwise ('abandoned', 'callback', or answered=None via agent=None)."""
    answered = outcome in ("answered", "transferred") and agent is not None
    wait_ms = round(wait_s * 1000)
    ans_at = enq + timedelta(milliseconds=wait_ms) if answered else None
    end = (ans_at + timedelta(seconds=talk_s or 0)) if ans_at else enq + timedelta(
        milliseconds=wait_ms)
    return CallRow(
        call_id=call_id or f"c{next(_ids):06d}", channel_id="ch", caller_number=caller,
        dialled="100", flow="main", flow_version="1", started_at=enq - timedelta(seconds=10),
        queue=queue, enqueued_at=enq, answered_at=ans_at, ended_at=end,
        agent_id=agent if answered else None, outcome=outcome, hangup_cause=16,
        wait_ms=wait_ms, talk_ms=round((talk_s or 0) * 1000) if answered else None,
        variables=None, callback_of=callback_of,
        hold_ms=round(hold_s * 1000) if hold_s is not None else None)


def state(agent: str, st: str, when: datetime, reason: str | None = None) -> AgentStateRow:
    return AgentStateRow(event_id=f"e{next(_ids):08d}", agent_id=agent, state=st,
                         reason=reason, previous=None, at=when)


async def insert(conn: asyncpg.Connection, calls: Sequence[CallRow],
                 states: Sequence[AgentStateRow], *, batches: int = 1) -> None:
    """Rows in as the writer puts them: calls, then states in `batches` statements."""
    if calls:
        await conn.copy_records_to_table("calls", records=[c.record() for c in calls],
                                         columns=CallRow.COLUMNS)
    size = max(1, -(-len(states) // batches))
    for i in range(0, len(states), size):
        part = [s.record() for s in states[i:i + size]]
        await conn.execute(
            "INSERT INTO agent_states SELECT * FROM unnest($1::text[], $2::text[], "
            "$3::text[], $4::text[], $5::text[], $6::timestamptz[])",
            *[list(col) for col in zip(*part, strict=True)])


async def both_queues(conn: asyncpg.Connection, calls: Sequence[CallRow],
                      states: Sequence[AgentStateRow], rules: dict[str, QueueRules],
                      tz: str = "UTC", group: sql.Group = "queue", minutes: int = 30,
                      events: Sequence[Any] = ()
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(SQL rows, Python rows) of the queue report over everything inserted."""
    rows = await sql.queue_report(conn, *WIDE, tz, rules, group=group, minutes=minutes)
    py = kpi.queue_rows(kpi.queue_buckets(calls, states, rules), rules, ZoneInfo(tz),
                        group=group, minutes=minutes)
    moves.merge_queues(py, moves.move_counts(events, calls, ZoneInfo(tz), by="queue",
                                             group=group, minutes=minutes))
    return rows, py


async def both_agents(conn: asyncpg.Connection, calls: Sequence[CallRow],
                      states: Sequence[AgentStateRow], tz: str = "UTC",
                      group: sql.Group = "queue", minutes: int = 30, events: Sequence[Any] = ()
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows = await sql.agent_report(conn, *WIDE, tz, group=group, minutes=minutes)
    py = kpi.agent_rows(kpi.agent_buckets(calls, states), ZoneInfo(tz), group=group,
                        minutes=minutes)
    moves.merge_agents(py, moves.move_counts(events, calls, ZoneInfo(tz), by="agent",
                                             group=group, minutes=minutes))
    return rows, py


def same(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> None:
    """Equal rows, floats to 1e-9 relative."""
    key = lambda r: tuple(str(r.get(k)) for k in ("interval", "day", "queue", "agent_id"))  # noqa: E731
    a, b = sorted(a, key=key), sorted(b, key=key)
    assert [key(r) for r in a] == [key(r) for r in b]
    for ra, rb in zip(a, b, strict=True):
        assert ra.keys() == rb.keys(), (ra, rb)
        for k in ra:
            va, vb = ra[k], rb[k]
            if isinstance(va, float) or isinstance(vb, float):
                assert va is not None and vb is not None, (k, ra, rb)
                assert abs(va - vb) <= 1e-9 * max(1.0, abs(va)), (k, va, vb)
            else:
                assert va == vb, (k, va, vb, ra, rb)
