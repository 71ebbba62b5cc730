"""Transfers and holds in the reports, from the calls' queue events (acd.reports.moves,
acd.reports.sql.move_report), on hand-made rows in real PostgreSQL: the figures a
person works out by hand, the same in Python and in SQL, by queue and by agent."""

from __future__ import annotations

import itertools
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from acd.reports import moves, sql
from acd.reports.kpi import QueueRules
from acd.store.rows import QueueEventRow
from tests.reports.helpers import WIDE, at, both_agents, both_queues, call, insert, same

_ids = itertools.count()
R = {"*": QueueRules()}

# c1: a1 takes it, holds it twice (the second ended by a requeue), a transfer to a2
# fails (busy), then a blind transfer to a2 completes. c2: a2 consults and completes
# (attended), and holds it till the call ends. c3 (queue r): a3 sends the caller to a
# queue, then the caller hangs up during another transfer (not counted).
C1 = call(at("10:00:00"), 5, agent="a1", call_id="c1", talk_s=300)
C2 = call(at("10:04:00"), 5, agent="a2", call_id="c2", talk_s=175)  # ends 10:07:00
C3 = call(at("10:20:00"), 5, agent="a3", call_id="c3", queue="r")
CALLS = [C1, C2, C3]


def ev(call_id: str, event: str, agent: str | None, hms: str, queue: str = "q",
       **detail: object) -> QueueEventRow:
    return QueueEventRow(event_id=f"ev{next(_ids):06d}", call_id=call_id, queue=queue,
                         event=event, agent_id=agent, at=at(hms), wait_ms=None,
                         detail=detail or None)


EVENTS = [
    ev("c1", "hold", "a1", "10:00:10", by="desktop"),
    ev("c1", "unhold", "a1", "10:00:40", by="desktop"),
    ev("c1", "transfer", "a1", "10:01:00", mode="blind", result="failed:busy"),
    ev("c1", "hold", "a1", "10:01:30", by="phone"),
    ev("c1", "unhold", None, "10:01:35", by="requeue"),
    ev("c1", "transfer", "a1", "10:02:00", mode="blind", result="completed"),
    ev("c2", "consult", "a2", "10:05:00"),
    ev("c2", "transfer", "a2", "10:05:30", mode="attended", result="completed"),
    ev("c2", "hold", "a2", "10:06:00", by="desktop"),  # held till the end (10:07)
    ev("c3", "transfer", "a3", "10:21:00", "r", mode="blind", result="queued"),
    ev("c3", "transfer", "a3", "10:22:00", "r", mode="blind", result="caller_gone"),
    ev("c3", "transfer", "a3", "10:23:00", "r", mode="blind", result="dialplan"),
]

# (by, group) -> {(key, group key): (transfers, attended, holds, hold ms)}
EXPECTED: dict[tuple[moves.By, sql.Group], dict[tuple[str, str], tuple[int, ...]]] = {
    ("queue", "queue"): {("q", ""): (2, 1, 3, 95_000), ("r", ""): (2, 0, 0, 0)},
    ("agent", "queue"): {("a1", ""): (1, 0, 2, 35_000), ("a2", ""): (1, 1, 1, 60_000),
                         ("a3", ""): (2, 0, 0, 0)},
    ("queue", "interval"): {("q", at("10:00:00").isoformat()): (2, 1, 3, 95_000),
                            ("r", at("10:15:00").isoformat()): (2, 0, 0, 0)},
    ("agent", "day"): {("a1", "2026-03-10"): (1, 0, 2, 35_000),
                       ("a2", "2026-03-10"): (1, 1, 1, 60_000),
                       ("a3", "2026-03-10"): (2, 0, 0, 0)},
}


async def _insert(conn: asyncpg.Connection) -> None:
    await insert(conn, CALLS, [])
    await conn.copy_records_to_table("queue_events", records=[e.record() for e in EVENTS],
                                     columns=QueueEventRow.COLUMNS)


def _flat(counts: moves.Counts) -> dict[tuple[str, str], tuple[int, ...]]:
    return {k: (m.transfers, m.attended, m.holds, m.hold_ms) for k, m in counts.items()}


@pytest.mark.parametrize(("by", "group"), list(EXPECTED))
async def test_transfers_and_holds_by_hand(conn: asyncpg.Connection, by: moves.By,
                                           group: sql.Group) -> None:
    await _insert(conn)
    minutes = 15
    got = await sql.move_report(conn, *WIDE, "UTC", by=by, group=group, minutes=minutes)
    py = moves.move_counts(EVENTS, CALLS, ZoneInfo("UTC"), by=by, group=group,
                           minutes=minutes)
    assert _flat(got) == EXPECTED[(by, group)]
    assert _flat(py) == EXPECTED[(by, group)]


async def test_a_range_counts_the_moves_that_began_in_it(conn: asyncpg.Connection) -> None:
    """A hold counts where it began, all of it (its unhold may come after the range)."""
    await _insert(conn)
    start, end = at("10:01:00"), at("10:01:31")
    got = await sql.move_report(conn, start, end, "UTC", by="agent")
    py = moves.move_counts(EVENTS, CALLS, ZoneInfo("UTC"), by="agent", start=start, end=end)
    assert _flat(got) == _flat(py) == {("a1", ""): (0, 0, 1, 5_000)}


async def test_the_reports_carry_them(conn: asyncpg.Connection) -> None:
    await _insert(conn)
    rows, py = await both_queues(conn, CALLS, [], R, events=EVENTS)
    same(rows, py)
    got: dict[str, Any] = {r["queue"]: (r["transfers"], r["transfers_blind"],
                                        r["transfers_attended"], r["holds"]) for r in rows}
    assert got == {"q": (2, 1, 1, 3), "r": (2, 2, 0, 0)}
    rows, py = await both_agents(conn, CALLS, [], events=EVENTS)
    same(rows, py)
    assert {r["agent_id"]: (r["transfers"], r["holds"], r["hold_s"]) for r in rows} == {
        "a1": (1, 2, 35.0), "a2": (1, 1, 60.0), "a3": (2, 0, 0.0)}
