"""The agent desktop's Hold / Resume panel (acd/api/web/agent-hold.js) in Chromium, with
acd on its simulator and real Redis and PostgreSQL: the agent holds and resumes with
the keyboard, the caller hears music meanwhile, and a hold from the phone's own
button is shown once the desktop reads the call again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Browser

from tests.web.conftest import screenshot_path
from tests.web.desk_harness import desk_harness
from tests.web.test_desk import take_call

CALLER = "+15550123"


async def test_hold_and_resume_on_the_desktop(
        browser: Browser, redis_prefix: str, redis_client: Any, pg_dsn: str,
        tmp_path: Path) -> None:
    async with desk_harness(redis_prefix, pg_dsn, tmp_path) as d:
        agent = await d.page(browser, "/agent", "alice")
        channel = d.dial(CALLER)
        await agent.focus("#go-available")
        await agent.keyboard.press("Enter")
        await take_call(d, agent)
        await agent.wait_for_selector("#panel-hold #hold")
        assert await agent.locator("#hold-state").count() == 0

        def caller_hears() -> list[str]:
            [c] = [c for c in d.h.sim.state()["channels"] if c["id"] == channel]
            return list(c["hears"])

        # Hold with the keyboard: "on hold" with a running timer, a Resume button.
        await agent.focus("#hold")
        await agent.keyboard.press("Enter")
        await agent.wait_for_selector("#panel-hold[data-held='1'] #unhold")
        assert (await agent.text_content("#hold-state") or "").startswith("on hold")
        assert caller_hears() == ["moh"]
        await agent.wait_for_function(
            "() => document.getElementById('hold-timer').textContent === '0:02'", timeout=4000)
        await agent.screenshot(path=str(screenshot_path("agent-desktop-hold")), full_page=True)

        await agent.focus("#unhold")
        await agent.keyboard.press("Enter")
        await agent.wait_for_selector("#panel-hold[data-held='0'] #hold")
        assert await agent.locator("#hold-state").count() == 0
        assert caller_hears() == [d.h.live(channel).connected]

        # The phone's own hold button: the live stream does not carry it (no browser
        # polls); Hold then says the phone holds the call, and the panel shows it.
        leg = d.h.live(channel).connected
        assert leg is not None
        d.h.sim.phone_hold(leg)
        await d.h.wait_for(lambda: d.h.live(channel).held_by == "phone", "the phone's hold")
        await agent.focus("#hold")
        await agent.keyboard.press("Enter")
        await agent.wait_for_selector("#panel-hold[data-held='1'] #unhold")
        assert "already on hold (by phone)" in (await agent.text_content("#moves-msg") or "")
        assert "(phone)" in (await agent.text_content("#hold-state") or "")
        await agent.screenshot(path=str(screenshot_path("agent-desktop-hold-phone")),
                               full_page=True)
        d.h.sim.phone_unhold(leg)
        await d.h.wait_for(lambda: d.h.live(channel).held_ms is None, "the phone's unhold")

        await agent.focus("#hangup")
        await agent.keyboard.press("Enter")
        call_id = await d.h.finished(channel)
        events = await d.h.pg.fetch("SELECT event, detail->>'by' AS by FROM queue_events "
                                    "WHERE call_id=$1 AND event IN ('hold', 'unhold') "
                                    "ORDER BY at, event_id", call_id)
        assert [(r["event"], r["by"]) for r in events] == [
            ("hold", "desktop"), ("unhold", "desktop"), ("hold", "phone"), ("unhold", "phone")]
        # The panel is gone with the call.
        await agent.wait_for_selector("#moves", state="hidden")
