"""Supervisor monitoring in Chromium (issue 17): the wallboard's Listen / Whisper /
Barge / Stop buttons on an agent's call, and the agent desktop's indicator that a
supervisor is on the call; acd on its simulator, real Redis and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page

from tests.web.conftest import screenshot_path
from tests.web.desk_harness import desk_harness
from tests.web.test_desk import state_is, take_call

CALLER = "+15550123"
PHONE = "PJSIP/super1"


async def indicator(agent: Page, mode: str | None, timeout: float = 8000) -> None:
    """The desktop shows (or no longer shows) a supervisor on the call."""
    if mode is None:
        await agent.wait_for_selector("#monitored", state="detached", timeout=timeout)
    else:
        await agent.wait_for_selector(f"#monitored[data-mode='{mode}']", timeout=timeout)


async def test_a_supervisor_monitors_from_the_wallboard_and_the_agent_sees_it(
        browser: Browser, redis_prefix: str, redis_client: Any, pg_dsn: str,
        tmp_path: Path) -> None:
    async with desk_harness(redis_prefix, pg_dsn, tmp_path) as d:
        d.h.sim.set_endpoint("PJSIP", "super1", "answer", answer_after=0.5)
        board = await d.page(browser, "/wallboard", "super")
        agent = await d.page(browser, "/agent", "alice")
        await agent.focus("#go-available")
        await agent.keyboard.press("Enter")
        channel = d.dial(CALLER)
        await take_call(d, agent)
        assert await agent.query_selector("#monitored") is None
        # No monitoring buttons on the agent's desktop: the moves are the supervisor's.
        assert await agent.query_selector("#panel-monitor button") is None

        # The wallboard: buttons on the on-call agent only.
        await board.wait_for_selector("#agent-a1[data-state='on_call'] #mon-listen-a1")
        assert await board.query_selector("#agent-a2 .monitor-moves") is None
        assert await board.query_selector("#mon-monitor_stop-a1") is None
        # Without a phone the call refuses: said on the wallboard, nothing rings.
        await board.click("#mon-listen-a1")
        await board.wait_for_function(
            "() => document.getElementById('monitor-msg').textContent.includes('endpoint')")
        await board.fill("#monitor-phone", PHONE)
        await board.click("#mon-listen-a1")
        await board.wait_for_selector("#agent-a1 .monitor-moves[data-monitoring='listen']")
        assert await board.get_attribute("#mon-listen-a1", "aria-pressed") == "true"
        assert await board.text_content("#monitor-msg") == ""
        await indicator(agent, "listen")
        assert "listening" in (await agent.text_content("#monitored") or "")
        await board.screenshot(path=str(screenshot_path("wallboard-monitor-listen")),
                               full_page=True)
        await agent.screenshot(path=str(screenshot_path("agent-desktop-monitored")),
                               full_page=True)

        # Whisper, then barge: the same supervisor leg, the agent told each time.
        sup = [c["id"] for c in d.h.sim.state()["channels"] if c["endpoint"] == PHONE]
        await board.click("#mon-whisper-a1")
        await board.wait_for_selector("#agent-a1 .monitor-moves[data-monitoring='whisper']")
        await indicator(agent, "whisper")
        assert "coaching" in (await agent.text_content("#monitored") or "")
        await board.click("#mon-barge-a1")
        await board.wait_for_selector("#agent-a1 .monitor-moves[data-monitoring='barge']")
        await indicator(agent, "barge")
        await agent.screenshot(path=str(screenshot_path("agent-desktop-barged")),
                               full_page=True)
        assert [c["id"] for c in d.h.sim.state()["channels"]
                if c["endpoint"] == PHONE] == sup
        # The phone typed is kept in this browser for the next time.
        assert await board.evaluate("localStorage.getItem('acd-monitor-phone')") == PHONE

        await board.click("#mon-monitor_stop-a1")
        await board.wait_for_selector("#agent-a1 .monitor-moves[data-monitoring='']")
        await indicator(agent, None)
        assert not [c for c in d.h.sim.state()["channels"] if c["endpoint"] == PHONE]
        await board.screenshot(path=str(screenshot_path("wallboard-monitor-stopped")),
                               full_page=True)
        await state_is(agent, "on_call")

        await agent.focus("#hangup")
        await agent.keyboard.press("Enter")
        call_id = await d.h.finished(channel)
        await board.wait_for_selector("#agent-a1[data-state='wrap_up']")
        assert await board.query_selector("#agent-a1 .monitor-moves") is None
        events = await d.h.pg.fetch("SELECT event FROM queue_events WHERE call_id=$1 AND "
                                    "event LIKE 'monitor%' ORDER BY at, event_id", call_id)
        assert [r["event"] for r in events] == ["monitor"] * 3 + ["monitor_end"]
