"""The browser tier itself works: Chromium renders a page acd-style code serves."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Page

from tests.web.conftest import screenshot_path


async def test_chromium_renders_a_served_page_and_runs_its_script(page: Page) -> None:
    async def index(_: web.Request) -> web.Response:
        html = (
            "<!doctype html><title>probe</title><p id=out>static</p>"
            "<script>document.getElementById('out').textContent = 'scripted ' + (6 * 7)</script>"
        )
        return web.Response(text=html, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        await page.goto(str(server.make_url("/")))
        assert await page.text_content("#out") == "scripted 42"
        shot = screenshot_path("browser-probe")
        await page.screenshot(path=str(shot))
        assert shot.stat().st_size > 1000
    finally:
        await server.close()
