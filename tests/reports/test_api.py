"""The reports REST API on a synthetic month in real PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from acd.api.access import roles_of
from acd.api.app import errors_middleware
from acd.api.reports import add_report_routes
from acd.reports import sql
from acd.reports.history import generate
from acd.reports.load import load_history
from acd.reports.settings import ReportSettings

TZ = "Europe/Paris"
END = date(2026, 11, 30)
SETTINGS = ReportSettings(timezone=TZ, interval_minutes=60,
                          queues={"support": {"sl_threshold_s": 30}})  # type: ignore[dict-item]


async def serve(dsn: str, settings: ReportSettings = SETTINGS) -> TestClient:
    app = web.Application(middlewares=[errors_middleware])
    add_report_routes(app, dsn, settings)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def client(conn: asyncpg.Connection, report_dsn: str) -> AsyncIterator[TestClient]:
    await load_history(conn, generate(28, END, ZoneInfo(TZ), 200, seed=5))
    c = await serve(report_dsn)
    yield c
    await c.close()


async def test_queue_report_json_is_the_sql_report(client: TestClient,
                                                   conn: asyncpg.Connection) -> None:
    resp = await client.get("/api/reports/queues?from=2026-11-02&to=2026-11-29")
    assert resp.status == 200
    body = await resp.json()
    assert body["timezone"] == TZ and body["from"] == "2026-11-02T00:00:00+01:00"
    assert body["to"] == "2026-11-30T00:00:00+01:00"
    start, end = date(2026, 11, 2), date(2026, 11, 30)
    from datetime import datetime

    direct = await sql.queue_report(
        conn, datetime.combine(start, datetime.min.time(), ZoneInfo(TZ)),
        datetime.combine(end, datetime.min.time(), ZoneInfo(TZ)), TZ, SETTINGS.rules())
    assert body["rows"] == direct
    assert {r["queue"] for r in body["rows"]} == {"sales", "support", "billing"}
    support = next(r for r in body["rows"] if r["queue"] == "support")
    assert support["sl_threshold_s"] == 30.0 and support["offered"] > 100


@pytest.mark.parametrize("kind", ["queues", "agents", "intervals", "days", "abandoned",
                                  "dispositions"])
async def test_every_report_as_csv(client: TestClient, kind: str) -> None:
    json_rows = (await (await client.get(
        f"/api/reports/{kind}?from=2026-11-20&to=2026-11-21")).json())["rows"]
    resp = await client.get(f"/api/reports/{kind}?from=2026-11-20&to=2026-11-21&format=csv")
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert f'filename="acd-{kind}.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    assert len(rows) == len(json_rows) > 0


async def test_intervals_carry_staffing(client: TestClient) -> None:
    body = await (await client.get(
        "/api/reports/intervals?from=2026-11-24&to=2026-11-24&queue=sales")).json()
    busy = [r for r in body["rows"] if r["offered"] >= 10]
    assert busy and all(r["agents_needed"] >= 1 for r in busy)
    assert all(r["scheduled"] >= r["agents_needed"] for r in body["rows"])
    assert max(r["agents_logged_in"] for r in body["rows"]) > 1


@pytest.mark.parametrize(("url", "error_id"), [
    ("/api/reports/queues?from=2026-02-30", "bad_date"),
    ("/api/reports/queues?from=yesterday", "bad_date"),
    ("/api/reports/queues?from=2026-11-10&to=2026-11-01", "bad_range"),
    ("/api/reports/queues?from=2020-01-01&to=2026-01-01", "range_too_long"),
    ("/api/reports/queues?interval=20", "bad_interval"),
    ("/api/reports/queues?interval=abc", "invalid_request"),
    ("/api/reports/nope", "unknown_report"),
    ("/api/reports/agents?by=week", "bad_group"),
    ("/api/staffing?calls_per_hour=100&aht=180&target=80-20", "bad_target"),
    ("/api/staffing?calls_per_hour=100", "invalid_request"),
    ("/api/staffing?calls_per_hour=-5&aht=180", "bad_staffing"),
    ("/api/staffing/forecast?date=31/12/2026", "bad_date"),
])
async def test_bad_input_gets_a_400_with_an_error_id(client: TestClient, url: str,
                                                     error_id: str) -> None:
    resp = await client.get(url)
    assert resp.status == 400
    body = await resp.json()
    assert body["error_id"] == error_id and body["message"]


async def test_staffing_endpoint(client: TestClient) -> None:
    body = await (await client.get("/api/staffing?calls_per_hour=360&aht=240&target=80/20"
                                   "&shrinkage=0.25")).json()
    assert body["agents"] == 29 and body["service_level"] == pytest.approx(0.8403, abs=1e-4)
    assert body["asa_s"] == pytest.approx(11.63, abs=0.01) and body["scheduled"] == 39
    assert body["with_one_less"]["service_level"] < 0.8
    a = await (await client.get("/api/staffing?calls_per_hour=360&aht=240&patience=120")
               ).json()
    assert a["model"] == "erlang_a" and a["agents"] < 29 and a["p_abandon"] > 0


async def test_forecast_uses_the_same_weekday(client: TestClient) -> None:
    monday = END + timedelta(days=(7 - END.weekday()) % 7)
    body = await (await client.get(f"/api/staffing/forecast?date={monday}&queue=sales")
                  ).json()
    rows = body["rows"]
    assert rows and {r["queue"] for r in rows} == {"sales"}
    assert all(r["interval"].startswith(monday.isoformat()) for r in rows)
    assert max(r["agents_needed"] for r in rows) >= 2
    sunday = await (await client.get(
        f"/api/staffing/forecast?date={monday + timedelta(days=6)}&queue=sales")).json()
    # Sundays are the quietest day of the synthetic week.
    assert sum(r["offered"] for r in sunday["rows"]) < sum(r["offered"] for r in rows) / 2


async def test_staffing_now_answers(client: TestClient) -> None:
    resp = await client.get("/api/staffing/now")
    assert resp.status == 200
    assert isinstance((await resp.json())["rows"], list)


async def test_page_and_its_files_are_served(client: TestClient) -> None:
    page = await client.get("/reports")
    assert page.status == 200 and "uPlot.iife.min.js" in await page.text()
    lib = await client.get("/reports/static/uPlot.iife.min.js")
    assert lib.status == 200 and len(await lib.read()) > 40_000
    assert (await client.get("/reports/static/..%2Fapp.py")).status == 404
    assert (await client.get("/reports/static/secret.txt")).status == 404


async def test_every_route_declares_supervisor_and_admin(report_dsn: str) -> None:
    app = web.Application()
    add_report_routes(app, report_dsn, SETTINGS)
    handlers = [r.handler for r in app.router.routes() if r.method != "HEAD"]
    assert len(handlers) == 6
    assert all(roles_of(h) == {"supervisor", "admin"} for h in handlers)


async def test_agents_by_day_add_up_to_the_range(client: TestClient) -> None:
    q = "from=2026-11-16&to=2026-11-22&agent=100"
    total = (await (await client.get(f"/api/reports/agents?{q}")).json())["rows"]
    days = (await (await client.get(f"/api/reports/agents?{q}&by=day")).json())["rows"]
    hours = (await (await client.get(f"/api/reports/agents?{q}&by=interval&interval=60")
                    ).json())["rows"]
    assert len(total) == 1 and 1 < len(days) <= 7 and len(hours) > len(days)
    for parts in (days, hours):
        assert sum(r["answered"] for r in parts) == total[0]["answered"]
        assert sum(r["logged_in_s"] for r in parts) == pytest.approx(total[0]["logged_in_s"])
