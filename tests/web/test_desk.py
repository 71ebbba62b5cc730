"""The agent desktop and the wallboard in Chromium, with acd on its simulator and
real Redis and PostgreSQL: the whole day of one agent and one supervisor."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page

from tests.web.conftest import screenshot_path
from tests.web.desk_harness import PIN, Desk, desk_harness, state_is

CALLER = "+15550123"
SECOND = 1000  # ms: what "live" means on these pages


async def board_agent(page: Page, agent: str, state: str, timeout: float = 5000) -> None:
    await page.wait_for_selector(f"#agent-{agent}[data-state='{state}']", timeout=timeout)


async def board_waiting(page: Page, n: int, timeout: float = SECOND) -> None:
    await page.wait_for_selector(f"#q-sales td[data-waiting='{n}']", timeout=timeout)


async def take_call(d: Desk, agent: Page) -> None:
    """The simulated phone answered: the desktop shows the call and a hang-up button."""
    await state_is(agent, "on_call")
    await agent.wait_for_selector("#hangup:not([hidden])")
    assert await agent.text_content("#pop-caller") == CALLER
    assert await agent.text_content("#pop-queue") == "sales"
    assert await agent.text_content("dd[data-var='account']") == "4321"
    assert await agent.text_content("dd[data-var='pin']") == "****"
    assert PIN not in await agent.content()
    assert "account" in (await agent.text_content("#pop-path") or "")
    # The moves panel reads the call's state from the call itself.
    await agent.wait_for_selector("#moves:not([hidden]) #moves-status[data-phase='connected']")


async def hang_up_and_dispose(d: Desk, agent: Page, channel: str, code: str,
                              notes: str) -> str:
    await agent.focus("#hangup")
    await agent.keyboard.press("Enter")
    call_id = await d.h.finished(channel)
    await state_is(agent, "wrap_up")
    await agent.wait_for_selector("#wrapup:not([hidden])")
    await agent.select_option("#disposition", code)
    await agent.fill("#notes", notes)
    await agent.focus("#wrapup-form button[type=submit]")
    await agent.keyboard.press("Enter")
    await agent.wait_for_selector(f"#wrapup-msg[data-saved='{call_id}']", state="attached")
    await state_is(agent, "available")  # submitting ends the wrap-up
    return call_id


async def test_an_agents_day_on_the_desktop_and_the_wallboard(
        browser: Browser, redis_prefix: str, redis_client: Any, pg_dsn: str,
        tmp_path: Path) -> None:
    async with desk_harness(redis_prefix, pg_dsn, tmp_path) as d:
        board = await d.page(browser, "/wallboard", "super")
        agent = await d.page(browser, "/agent", "alice")
        await state_is(agent, "logged_out")
        await board_agent(board, "a1", "logged_out")

        # A caller keys digits and waits: nobody takes sales yet.
        channel = d.dial(CALLER)
        seen = await d.waiting(1)
        await board_waiting(board, 1)
        assert time.monotonic() - seen < 1.0
        await board.wait_for_selector("#q-sales td.warn[data-waiting='1']")
        await board.screenshot(path=str(screenshot_path("wallboard-waiting")))

        # The agent logs in, available (keyboard only): the call is offered at once.
        await agent.focus("#go-available")
        await agent.keyboard.press("Enter")
        await take_call(d, agent)
        seen = await d.waiting(0)
        await board_waiting(board, 0)
        assert time.monotonic() - seen < 1.0
        await board_agent(board, "a1", "on_call", timeout=SECOND)
        first = await hang_up_and_dispose(d, agent, channel, "sale", "wants the blue one")
        row = await d.h.pg.fetchrow("SELECT * FROM dispositions WHERE call_id=$1", first)
        assert (row["agent_id"], row["queue"], row["code"], row["notes"]) == (
            "a1", "sales", "sale", "wants the blue one")
        call = await d.h.call(first)
        assert (call["caller_number"], call["outcome"], call["agent_id"]) == (
            CALLER, "answered", "a1")

        # The same caller again: the desktop shows the first call and its notes.
        channel = d.dial(CALLER)
        await take_call(d, agent)
        history = agent.locator("#pop-history tr")
        await history.first.wait_for()
        assert await history.count() == 1
        cells = await history.first.locator("td").all_text_contents()
        assert cells[1:] == ["sales", "a1", "answered", "sale", "wants the blue one"]
        await agent.screenshot(path=str(screenshot_path("agent-desktop-pop")), full_page=True)
        second = await hang_up_and_dispose(d, agent, channel, "resolved", "")
        assert second != first

        # The supervisor puts the agent on break from the wallboard.
        await board.select_option("#reason-a1", "training")
        started = time.monotonic()
        await board.click("#break-a1")
        await state_is(agent, "break", timeout=SECOND)
        assert time.monotonic() - started < 1.0
        assert await agent.text_content("#reason") == "(training)"
        assert await agent.is_hidden("#wrapup") and await agent.is_hidden("#pop")
        await board_agent(board, "a1", "break", timeout=SECOND)
        await agent.screenshot(path=str(screenshot_path("agent-desktop-break")), full_page=True)
        await board.screenshot(path=str(screenshot_path("wallboard")), full_page=True)
        audit = await d.h.pg.fetch("SELECT who, what, details FROM audit ORDER BY id")
        assert any(r["who"] == "super" and r["what"].endswith("/{action}")
                   and '"training"' in r["details"] for r in audit)
        # The supervisor changes the agent's skills from the wallboard.
        await board.fill("#skills-a1", "sales:4, support:1")
        await board.click("#agent-a1 td:nth-child(9) button")
        agents = d.h.app.agents
        assert agents is not None
        await d.h.wait_for(lambda: agents.defs["a1"].skills == {"sales": 4, "support": 1},
                           "a1's new skills")
        await board.wait_for_selector("#skills-a1[value='sales:4, support:1']")
        assert await board.text_content("#action-error") == ""
        # Today's figures reach the wallboard's grid (one database serves the whole
        # test session: other tests' calls of a1 count too).
        calls = await d.h.pg.fetchval(
            "SELECT count(*) FROM calls WHERE agent_id='a1' AND outcome='answered' "
            "AND started_at >= date_trunc('day', now())")
        assert calls >= 2
        await board.wait_for_function(
            "n => document.querySelector('#agent-a1 td:nth-child(8)').textContent === n",
            arg=str(calls), timeout=15000)
