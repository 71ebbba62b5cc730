"""Reports and staffing over HTTP, and the reports page (supervisors and admins).

GET /api/reports/{queues|agents|intervals|days|abandoned|dispositions}
    ?from=YYYY-MM-DD&to=YYYY-MM-DD&queue=&agent=&interval=15|30|60&by=interval|day
    &format=json|csv
GET /api/staffing?calls_per_hour=&aht=&target=80/20&asa=&patience=&shrinkage=
GET /api/staffing/forecast?date=YYYY-MM-DD&queue=&weeks=
GET /api/staffing/now?queue=     agents needed now (the wallboard adds who is available)
GET /reports                     the page (plain HTML and JS, uPlot vendored)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

import asyncpg
from aiohttp import web

from acd.api.access import ADMIN, SUPERVISOR, allow
from acd.errors import InvalidRequest
from acd.reports import service
from acd.reports.settings import ReportSettings
from acd.store.migrate import migrate

# The page's files: name -> (package folder, content type). Nothing else is served.
STATIC = {
    "reports.js": ("reports", "application/javascript"),
    "reports.css": ("reports", "text/css"),
    "uPlot.iife.min.js": ("vendor/uplot", "application/javascript"),
    "uPlot.min.css": ("vendor/uplot", "text/css"),
}


@dataclass
class ReportsContext:
    """Where reports read from: a small pool of their own, opened on first use."""

    dsn: str
    settings: ReportSettings
    pool: asyncpg.Pool | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def acquire_pool(self) -> asyncpg.Pool:
        async with self._lock:
            if self.pool is None:
                pool = await asyncpg.create_pool(self.dsn, min_size=0, max_size=3)
                async with pool.acquire() as conn:
                    await migrate(conn)
                self.pool = pool
            return self.pool

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None


CTX_KEY: web.AppKey[ReportsContext] = web.AppKey("acd_reports", ReportsContext)


def _ctx(request: web.Request) -> ReportsContext:
    return request.app[CTX_KEY]


def _float(request: web.Request, name: str, default: float | None = None) -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be a number", field=name, got=raw[:40]) from exc


def _respond(request: web.Request, kind: str, body: dict[str, Any]) -> web.Response:
    if request.query.get("format") == "csv":
        return web.Response(text=service.to_csv(body["rows"]), content_type="text/csv",
                            headers={"Content-Disposition":
                                     f'attachment; filename="acd-{kind}.csv"'})
    return web.json_response(body)


@allow(SUPERVISOR, ADMIN)
async def get_report(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    kind = request.match_info["kind"]
    q = request.query
    start, end = service.parse_range(q.get("from"), q.get("to"), ctx.settings,
                                     datetime.now(ctx.settings.zone()).date())
    minutes = _float(request, "interval")
    pool = await ctx.acquire_pool()
    async with pool.acquire() as conn:
        rows = await service.report(conn, ctx.settings, kind, start, end,
                                    queue=q.get("queue") or None,
                                    agent=q.get("agent") or None,
                                    minutes=int(minutes) if minutes else None,
                                    by=q.get("by") or None)
    return _respond(request, kind, {
        "report": kind, "from": start.isoformat(), "to": end.isoformat(),
        "timezone": ctx.settings.timezone,
        "interval_minutes": int(minutes) if minutes else ctx.settings.interval_minutes,
        "rows": rows})


@allow(SUPERVISOR, ADMIN)
async def get_staffing(request: web.Request) -> web.Response:
    calls = _float(request, "calls_per_hour")
    aht = _float(request, "aht")
    if calls is None or aht is None:
        raise InvalidRequest("calls_per_hour and aht (seconds) are required",
                             field="calls_per_hour")
    out = service.staffing(calls, aht, request.query.get("target", "80/20"),
                           _float(request, "asa"), _float(request, "patience"),
                           _float(request, "shrinkage", 0.0) or 0.0)
    return web.json_response(out)


@allow(SUPERVISOR, ADMIN)
async def get_forecast(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    raw = request.query.get("date")
    try:
        day = date.fromisoformat(raw) if raw else datetime.now(ctx.settings.zone()).date()
    except ValueError as exc:
        raise service.bad_request("bad_date", "date must be YYYY-MM-DD", field="date",
                           got=(raw or "")[:40]) from exc
    weeks = _float(request, "weeks")
    if weeks is not None and not 1 <= weeks <= 52:
        raise InvalidRequest("weeks must be 1 to 52", field="weeks")
    pool = await ctx.acquire_pool()
    async with pool.acquire() as conn:
        rows = await service.forecast_for(conn, ctx.settings, day,
                                          request.query.get("queue") or None,
                                          int(weeks) if weeks else None)
    return _respond(request, "forecast", {
        "date": day.isoformat(), "timezone": ctx.settings.timezone,
        "weeks": int(weeks) if weeks else ctx.settings.forecast_weeks,
        "shrinkage": ctx.settings.shrinkage, "rows": rows})


@allow(SUPERVISOR, ADMIN)
async def get_staffing_now(request: web.Request) -> web.Response:
    ctx = _ctx(request)
    pool = await ctx.acquire_pool()
    async with pool.acquire() as conn:
        rows = await service.staffing_now(conn, ctx.settings, datetime.now(UTC),
                                          request.query.get("queue") or None)
    return web.json_response({"timezone": ctx.settings.timezone, "rows": rows})


def _read(folder: str, name: str) -> bytes:
    return resources.files("acd.api").joinpath("web", folder, name).read_bytes()


@allow(SUPERVISOR, ADMIN)
async def reports_page(request: web.Request) -> web.Response:
    return web.Response(body=_read("reports", "reports.html"),
                        content_type="text/html", charset="utf-8")


@allow(SUPERVISOR, ADMIN)
async def reports_static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    folder, ctype = STATIC[name]
    return web.Response(body=_read(folder, name), content_type=ctype,
                        headers={"Cache-Control": "max-age=300"})


def add_report_routes(app: web.Application, dsn: str, settings: ReportSettings) -> None:
    """Add the reports API and page, reading PostgreSQL at `dsn`."""
    ctx = ReportsContext(dsn, settings)
    app[CTX_KEY] = ctx

    async def close(_: web.Application) -> None:
        await ctx.close()

    app.on_cleanup.append(close)
    app.router.add_get("/api/staffing", get_staffing)
    app.router.add_get("/api/staffing/forecast", get_forecast)
    app.router.add_get("/api/staffing/now", get_staffing_now)
    app.router.add_get("/api/reports/{kind}", get_report)
    app.router.add_get("/reports", reports_page)
    app.router.add_get("/reports/static/{name}", reports_static)
