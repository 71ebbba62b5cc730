"""Reports on rows acd itself writes: a call through the simulator lands in the
interval summaries (triggers on the writer's inserts) and in the REST report, with
the same figures as the Python definitions computed from the raw rows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from acd.api.app import make_api
from acd.reports import kpi, moves, sql
from tests.conftest import PG_ADMIN_DSN
from tests.e2e.conftest import Harness, e2e_settings, running_harness
from tests.reports.helpers import same

PRESS_SALES = [(1.0, "1")]
WIDE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


@pytest.fixture
async def harness(redis_prefix: str, redis_client: Any, tmp_path: Path) -> AsyncIterator[Harness]:
    """acd on a database of its own: the session's database holds other tests' rows
    for the same agent ids, written on simulated clocks that overlap in time, which
    no real contact center's rows do."""
    name = f"acd_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dsn = f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    try:
        async with running_harness(e2e_settings(redis_prefix, dsn, tmp_path)) as h:
            yield h
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def test_an_answered_call_is_reported(harness: Harness) -> None:
    h = harness
    settings = h.app.settings.reports
    ch = h.sim.place_call("+15551001", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a1", "on_call")
    await h.clock.sleep(2.0)
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    await h.wait_agent("a1", "available")  # the wrap-up has ended: its span is closed
    assert h.app.writer is not None
    await h.app.writer.flush()
    row = await h.call(call_id)

    async with h.pg.acquire() as conn:
        calls = [dict(r) for r in await conn.fetch("SELECT * FROM calls")]
        states = [dict(r) for r in await conn.fetch("SELECT * FROM agent_states")]
        events = [dict(r) for r in await conn.fetch("SELECT * FROM queue_events")]
        rules = settings.rules()
        await sql.sync_rules(conn, rules)
        got = await sql.queue_report(conn, *WIDE, "UTC", rules)
        agents = await sql.agent_report(conn, *WIDE, "UTC")
    py = kpi.queue_rows(kpi.queue_buckets(calls, states, rules), rules, ZoneInfo("UTC"))
    # Transfers and holds come from the queue events (acd.reports.moves).
    moves.merge_queues(py, moves.move_counts(events, calls, ZoneInfo("UTC"), by="queue"))
    same(got, py)
    py = kpi.agent_rows(kpi.agent_buckets(calls, states), ZoneInfo("UTC"))
    moves.merge_agents(py, moves.move_counts(events, calls, ZoneInfo("UTC"), by="agent"))
    same(agents, py)
    sales = next(r for r in got if r["queue"] == "sales")
    assert sales["answered"] >= 1 and sales["wrap_s"] > 0
    a1 = next(r for r in agents if r["agent_id"] == "a1")
    assert a1["answered"] >= 1 and a1["states_s"]["on_call"] >= 1.5

    # The same through the REST API acd serves (make_api wires the reports in).
    client = TestClient(TestServer(make_api(h.app), host="127.0.0.1"), headers=h.api_headers)
    await client.start_server()
    try:
        day = row["enqueued_at"].astimezone(settings.zone()).date()
        resp = await client.get(f"/api/reports/queues?from={day}&to={day}&queue=sales")
        assert resp.status == 200
        (api_row,) = (await resp.json())["rows"]
        assert api_row["answered"] >= 1
        listed = await client.get(
            f"/api/reports/intervals?from={day - timedelta(days=1)}&to={day}")
        assert listed.status == 200
    finally:
        await client.close()
