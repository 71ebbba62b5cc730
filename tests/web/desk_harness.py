"""acd on its simulator with the REST API on a real port, a supervisor and an agent
user, and two browser pages: the agent desktop and the wallboard."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page

from acd.api.app import make_api
from tests.e2e.conftest import Harness, e2e_settings, running_harness

FLOWS = Path(__file__).parent / "flows"
USERS = {"alice": ("agent", "a1", "alice-pass-1234"),
         "super": ("supervisor", None, "super-pass-1234")}
PIN = "9876"


def desk_settings(prefix: str, dsn: str, tmp: Path) -> Any:
    return e2e_settings(
        prefix, dsn, tmp, flows=str(FLOWS),
        # Long wrap-ups (the clock runs 20x): the agent fills the form in time.
        queues=[{"name": "sales", "skills": {"sales": 1}, "ring_timeout": 15, "wrapup": 600},
                {"name": "support", "skills": {"support": 1}, "ring_timeout": 15,
                 "wrapup": 600}],
        agents=[{"id": "a1", "name": "Alice", "endpoint": "PJSIP/agent100",
                 "skills": {"sales": 5}, "login": False},
                {"id": "a2", "name": "Bob", "endpoint": "PJSIP/agent101",
                 "skills": {"support": 3}}],
        desk={"queues": {"sales": {"dispositions": ["sale", "no_sale", "resolved"],
                                   "waiting_warn": 1, "waiting_alert": 3}}})


@dataclass
class Desk:
    h: Harness
    base: str

    def dial(self, caller: str) -> str:
        """A caller dials 300, keys the account 4321 and the PIN (masked)."""
        self.h.sim.sounds["acd-enter-pin"] = 1.0
        digits = [(3.0 + i * 0.1, d) for i, d in enumerate("4321")]
        digits += [(5.0 + i * 0.1, d) for i, d in enumerate(PIN)]
        return self.h.sim.place_call(caller, "300", app=self.h.app.settings.ari.app,
                                     dtmf=digits)

    async def waiting(self, n: int) -> float:
        """Wait until routing holds `n` callers in sales; the time it saw them."""
        router = self.h.app.router
        assert router is not None
        loop = asyncio.get_running_loop()
        end = loop.time() + 15
        while await router.waiting("sales") != n:
            assert loop.time() < end, f"never {n} waiting in sales"
            await asyncio.sleep(0.005)
        return time.monotonic()

    async def page(self, browser: Browser, path: str, user: str) -> Page:
        """A fresh browser context on `path`, logged in as `user` with the keyboard."""
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        page = await context.new_page()
        page.on("pageerror", lambda exc: print(f"page error on {path}: {exc}"))
        await page.goto(self.base + path)
        await page.wait_for_selector("#login:not([hidden])")
        await page.keyboard.type(user)  # the name field has the focus
        await page.keyboard.press("Tab")
        await page.keyboard.type(USERS[user][2])
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#login", state="hidden")
        await page.wait_for_function(
            "() => document.getElementById('live-status').dataset.up === '1'")
        return page

    async def on_call(self, browser: Browser, caller: str) -> tuple[Page, str]:
        """Alice's desktop, available; `caller` dials and is put through to her:
        (her page, the caller's channel)."""
        agent = await self.page(browser, "/agent", "alice")
        await agent.click("#go-available")
        await state_is(agent, "available")
        channel = self.dial(caller)
        await state_is(agent, "on_call", timeout=15000)
        return agent, channel


async def state_is(page: Page, state: str, timeout: float = 5000) -> None:
    await page.wait_for_function(
        "s => document.getElementById('state').dataset.state === s", arg=state, timeout=timeout)


@asynccontextmanager
async def desk_harness(prefix: str, dsn: str, tmp: Path) -> AsyncIterator[Desk]:
    async with serve_desk(desk_settings(prefix, dsn, tmp)) as d:
        yield d


@asynccontextmanager
async def serve_desk(settings: Any) -> AsyncIterator[Desk]:
    """acd on `settings` with USERS (and nothing else) as its people, its API served."""
    async with running_harness(settings) as h:
        assert h.app.people is not None
        await h.pg.execute("TRUNCATE users, api_tokens, audit, dispositions")
        for name, (role, agent, password) in USERS.items():
            await h.app.people.users.add(name, role, password, agent)
        server = TestServer(make_api(h.app), host="127.0.0.1")
        await server.start_server()
        try:
            yield Desk(h, str(server.make_url("")).rstrip("/"))
        finally:
            await server.close()
