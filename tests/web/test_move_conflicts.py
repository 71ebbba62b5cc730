"""The agent desktop shows only the moves the call takes now (status.moves; see
acd.calls.phases.conflicts), in Chromium: no Hold, Transfer, Record or Take payment
during a consult, nothing but the result while the caller pays; and they come back
after. Screenshots: /work/runs/ when it exists (else var/screenshots)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page

from tests.web.conftest import screenshot_path
from tests.web.desk_harness import desk_harness
from tests.web.test_record_pay import recorded_desk

RUNS = Path("/work/runs")
# Buttons that start a move away from the caller, or into their bridge.
STARTERS = ("#hold", "#unhold", "#xfer-blind", "#xfer-consult", "#xfer-escalate",
            "#pay-start", "#rec-start", "#rec-resume")


def shot(name: str) -> str:
    return str(RUNS / f"{name}.png") if RUNS.is_dir() else str(screenshot_path(name))


async def shown(page: Page) -> set[str]:
    return {s for s in STARTERS if await page.locator(f"#moves-panels {s}").count()}


async def test_a_consult_shows_only_complete_conference_and_cancel(
        browser: Browser, redis_prefix: str, redis_client: Any, pg_dsn: str,
        tmp_path: Path) -> None:
    async with desk_harness(redis_prefix, pg_dsn, tmp_path) as d:
        agent, channel = await d.on_call(browser, "+15550457")
        await agent.wait_for_selector("#panel-transfer #xfer-consult")
        assert {"#hold", "#xfer-blind", "#xfer-consult", "#pay-start"} <= await shown(agent)

        await agent.fill("#xfer-to", "a2")
        await agent.click("#xfer-consult")
        await agent.wait_for_selector("#xfer-busy[data-state='consulting']", timeout=10000)
        await agent.wait_for_selector("#xfer-complete")
        assert await shown(agent) == set()
        for button in ("#xfer-complete", "#xfer-conference", "#xfer-cancel"):
            assert await agent.locator(button).count() == 1, button
        await agent.screenshot(path=shot("desk-consult-moves"))

        await agent.click("#xfer-cancel")
        await agent.wait_for_selector("#panel-hold #hold", timeout=10000)
        assert {"#hold", "#xfer-blind", "#pay-start"} <= await shown(agent)
        await agent.click("#hold")
        await agent.wait_for_selector("#panel-hold #unhold")
        # Held: Resume, and nothing that would leave the caller muted.
        assert await shown(agent) == {"#unhold"}
        await agent.screenshot(path=shot("desk-held-moves"))
        d.h.sim.remote_hangup(channel)
        await d.h.finished(channel)


async def test_while_the_caller_pays_the_desktop_offers_no_move(
        browser: Browser, redis_prefix: str, redis_client: Any, pg_dsn: str, tmp_path: Path,
        monkeypatch: Any) -> None:
    async with recorded_desk(redis_prefix, pg_dsn, tmp_path, monkeypatch) as d:
        agent, channel = await d.on_call(browser, "+15550125")
        await agent.wait_for_selector("#panel-record #pay-start", timeout=15000)
        await agent.click("#pay-start")
        await agent.wait_for_selector("#pay-result[data-payment='running']")
        assert await shown(agent) == set()
        assert await agent.locator("#panel-transfer *").count() == 0
        await agent.screenshot(path=shot("desk-payment-moves"))
        await d.pay(channel)
        await agent.wait_for_selector("#pay-result[data-payment='paid']", timeout=10000)
        await agent.wait_for_selector("#panel-hold #hold")
        assert {"#hold", "#xfer-blind", "#pay-start"} <= await shown(agent)
        await agent.click("#hangup")
        await d.h.finished(channel)
