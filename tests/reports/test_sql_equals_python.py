"""The KPIs computed by SQL equal those computed in Python from the raw rows: on a
synthetic month (through the triggers, and through the bulk rebuild) and on random
call histories (rows arriving in random order and batches)."""

from __future__ import annotations

import asyncio
import os
import random
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.reports.history import generate
from acd.reports.kpi import QueueRules, disposition_rows
from acd.reports.load import load_history
from acd.reports.sql import disposition_report, sync_rules
from acd.store.rows import AgentStateRow, CallRow
from tests.reports.helpers import WIDE, both_agents, both_queues, insert, same

EXAMPLES = int(os.environ.get("ACD_PROPERTY_EXAMPLES", "40"))
TZ = "Europe/Paris"
RULES = {"*": QueueRules(), "support": QueueRules(short_abandon_s=8, sl_threshold_s=30,
                                                  abandon_policy="good_within"),
         "billing": QueueRules(abandon_policy="ignore")}
# 28 days over the autumn DST change.
MONTH = generate(28, date(2026, 11, 8), __import__("zoneinfo").ZoneInfo(TZ),
                 calls_per_day=300, seed=7)


async def _compare(conn: asyncpg.Connection, calls: list[CallRow],
                   states: list[AgentStateRow]) -> None:
    for group, minutes in (("queue", 30), ("interval", 15), ("interval", 60), ("day", 30)):
        rows, py = await both_queues(conn, calls, states, RULES, TZ, group, minutes)
        assert rows, group
        same(rows, py)
    for group in ("queue", "day"):
        agents, apy = await both_agents(conn, calls, states, TZ, group)
        same(agents, apy)


@pytest.mark.parametrize("triggers", [True, False], ids=["triggers", "rebuild"])
async def test_synthetic_month(conn: asyncpg.Connection, triggers: bool) -> None:
    await sync_rules(conn, RULES)
    await load_history(conn, MONTH, triggers=triggers)
    assert len(MONTH.calls) > 5000
    await _compare(conn, MONTH.calls, MONTH.agent_states)
    got = await disposition_report(conn, *WIDE)
    assert got == disposition_rows(
        {"queue": d[2], "code": d[3], "at": d[5]} for d in MONTH.dispositions)
    assert sum(r["calls"] for r in got) == len(MONTH.dispositions)


async def test_changed_thresholds_rebuild_the_summaries(conn: asyncpg.Connection) -> None:
    await load_history(conn, MONTH, triggers=True)
    assert await sync_rules(conn, RULES) is True
    await _compare(conn, MONTH.calls, MONTH.agent_states)
    assert await sync_rules(conn, RULES) is False


BASE = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # the night of a DST change in Paris


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[CallRow], list[AgentStateRow], int, int]:
    agents = ["a1", "a2", "a3"]
    states: list[AgentStateRow] = []
    for agent in agents:
        t = BASE + timedelta(seconds=draw(st.integers(0, 3600)))
        for i in range(draw(st.integers(0, 8))):
            state = draw(st.sampled_from(["available", "on_call", "wrap_up", "break",
                                          "logged_out", "ringing"]))
            reason = draw(st.sampled_from([None, "lunch", "coffee"])) if state == "break" \
                else None
            states.append(AgentStateRow(f"{agent}-{i:03d}", agent, state, reason, None, t))
            t += timedelta(milliseconds=draw(st.sampled_from(
                [0, 1, 999, 30_000, 900_000, 3_600_000, 7_777_777])))
    calls: list[CallRow] = []
    for i in range(draw(st.integers(0, 25))):
        enq = BASE + timedelta(milliseconds=draw(st.integers(0, 6 * 3600 * 1000)))
        wait = draw(st.sampled_from([0, 4999, 5000, 5001, 7999, 8000, 20000, 20001,
                                     30000, 123456]))
        outcome = draw(st.sampled_from(["answered", "abandoned", "callback", "transferred",
                                        "failed"]))
        answered = outcome in ("answered", "transferred") and draw(st.booleans())
        agent = draw(st.sampled_from(agents)) if answered else None
        cb = draw(st.sampled_from([None, None, None, "c000"]))
        ans_at = enq + timedelta(milliseconds=wait) if answered else None
        calls.append(CallRow(
            f"c{i:03d}", "ch", "+1555", "100", None, None, enq - timedelta(seconds=3),
            draw(st.sampled_from(["sales", "support", "billing"])), enq, ans_at,
            enq + timedelta(milliseconds=wait + 60_000), agent, outcome, None, wait,
            draw(st.integers(0, 600_000)) if answered else None, None, cb))
    return calls, states, draw(st.integers(1, 4)), draw(st.integers(0, 2**31))


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(histories())
def test_random_histories(report_dsn: str,
                          h: tuple[list[CallRow], list[AgentStateRow], int, int]) -> None:
    calls, states, batches, seed = h
    shuffled = list(states)
    random.Random(seed).shuffle(shuffled)

    async def run() -> None:
        conn = await asyncpg.connect(report_dsn)
        try:
            await conn.execute("TRUNCATE calls, agent_states, report_queue_intervals, "
                               "report_queue_waits, report_agent_time, report_agent_calls")
            await sync_rules(conn, RULES)
            await insert(conn, calls, shuffled, batches=batches)
            await _compare_all(conn, calls, states)
        finally:
            await conn.close()

    asyncio.run(run())


async def _compare_all(conn: asyncpg.Connection, calls: list[CallRow],
                       states: list[AgentStateRow]) -> None:
    for group, minutes in (("queue", 30), ("interval", 30), ("day", 30)):
        rows, py = await both_queues(conn, calls, states, RULES, TZ, group, minutes)
        same(rows, py)
        agents, apy = await both_agents(conn, calls, states, TZ, group, minutes)
        same(agents, apy)
