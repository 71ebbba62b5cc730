"""The reports page in headless Chromium on a synthetic month: the plots are drawn
(canvas pixels, not just elements) and the CSV downloads."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Page

from acd.api.app import errors_middleware
from acd.api.reports import add_report_routes
from acd.reports.history import generate
from acd.reports.load import load_history
from acd.reports.settings import ReportSettings
from acd.store.migrate import migrate
from tests.web.conftest import screenshot_path

TZ = "Europe/Paris"
SETTINGS = ReportSettings(timezone=TZ, interval_minutes=60)
PLOTS = ("plot-volume", "plot-sl", "plot-asa", "plot-agents", "plot-forecast")


@pytest.fixture
def month_dsn(pg_dsn: str) -> Iterator[str]:
    schema = f"w_{uuid.uuid4().hex[:12]}"
    dsn = f"{pg_dsn}?search_path={schema}"

    async def up() -> None:
        conn = await asyncpg.connect(pg_dsn)
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.close()
        conn = await asyncpg.connect(dsn)
        await migrate(conn)
        await load_history(conn, generate(28, date(2026, 11, 30), ZoneInfo(TZ), 400, seed=11))
        await conn.close()

    async def down() -> None:
        conn = await asyncpg.connect(pg_dsn)
        await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        await conn.close()

    asyncio.run(up())
    yield dsn
    asyncio.run(down())


@pytest.fixture
async def server(month_dsn: str) -> AsyncIterator[TestServer]:
    app = web.Application(middlewares=[errors_middleware])
    add_report_routes(app, month_dsn, SETTINGS)
    srv = TestServer(app, host="127.0.0.1")
    await srv.start_server()
    yield srv
    await srv.close()


_PIXELS = """(id) => {
  const c = document.querySelector(`#${id} canvas`);
  if (!c || !c.width || !c.height) return 0;
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
  return n;
}"""


async def test_reports_page_draws_plots_and_downloads_csv(page: Page,
                                                          server: TestServer) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    url = server.make_url("/reports?from=2026-11-16&to=2026-11-22&interval=60&queue=sales")
    await page.goto(str(url))
    await page.wait_for_selector("#status[data-ready='1']", timeout=30_000)
    assert errors == []
    status = await page.text_content("#status")
    assert status is not None and "Europe/Paris" in status
    for plot in PLOTS:
        drawn = await page.evaluate(_PIXELS, plot)
        assert drawn > 2_000, f"{plot}: {drawn} pixels drawn"
        # Each series has a legend entry with its label.
        assert await page.locator(f"#{plot} .u-legend .u-series").count() >= 3
    assert await page.locator("#queues tbody tr").count() == 1  # the chosen queue
    assert await page.text_content("#queues tbody td") == "sales"
    assert await page.locator("#queue option").count() == 3
    assert await page.locator("#agents tbody tr").count() > 5
    assert await page.locator("#abandoned tbody tr").count() > 5
    await page.screenshot(path=str(screenshot_path("reports-page")), full_page=True)

    async with page.expect_download() as info:
        await page.click("#csv-intervals")
    download = await info.value
    assert download.suggested_filename == "acd-intervals.csv"
    text = Path(await download.path()).read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    api = await page.evaluate("""async () => (await (await fetch(
        '/api/reports/intervals?from=2026-11-16&to=2026-11-22&interval=60&queue=sales'
    )).json()).rows""")
    assert len(rows) == len(api) > 50
    assert {r["queue"] for r in rows} == {"sales"}
    assert [int(r["offered"]) for r in rows] == [r["offered"] for r in api]
    assert "agents_needed" in rows[0] and "service_level" in rows[0]
    json.dumps(api)  # the API's rows are plain JSON


async def test_reports_page_says_when_the_range_is_wrong(page: Page,
                                                         server: TestServer) -> None:
    await page.goto(str(server.make_url("/reports?from=2026-11-22&to=2026-11-16")))
    await page.wait_for_selector("#status.error", timeout=30_000)
    text = await page.text_content("#status")
    assert text is not None and "'to' must come after 'from'" in text
