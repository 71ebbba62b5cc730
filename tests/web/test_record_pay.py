"""The agent desktop's recording and payment panel (acd/api/web/agent-record.js) in
Chromium: the recording indicator, pause and resume, the Payment button, and the
result the agent sees (paid and a reference, never a digit)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page

from acd.api.demo import DemoServer
from tests.web.conftest import screenshot_path
from tests.web.desk_harness import FLOWS, Desk, desk_settings, serve_desk

EXAMPLES = Path(__file__).resolve().parents[2] / "ivr_flows"
CALLER = "+15550124"
CARD = "4111111111111111"


@dataclass
class PayDesk(Desk):
    demo: DemoServer  # the payment service the shipped flow calls

    async def pay(self, channel: str) -> None:
        """The caller keys the card, then the expiry, into the payment flow."""
        h = self.h
        await h.wait_for(lambda: (p := h.live(channel).payment) is not None
                         and p.ivr is not None, "the payment flow")
        h.sim.press(channel, CARD + "#")
        await h.wait_for(lambda: (p := h.live(channel).payment) is not None
                         and p.ivr is not None and p.ivr.node == "expiry", "the expiry")
        h.sim.press(channel, "1228")


@asynccontextmanager
async def recorded_desk(prefix: str, dsn: str, tmp: Path,
                        monkeypatch: Any) -> AsyncIterator[PayDesk]:
    """The desk harness, its sales queue recorded (always), the shipped payment flow
    paying at a demo payment service."""
    demo = DemoServer()
    await demo.start()
    try:
        flows = tmp / "flows"
        shutil.copytree(FLOWS, flows)
        shutil.copy(EXAMPLES / "payment.yaml", flows / "payment.yaml")
        monkeypatch.setenv("ACD_FLOW_PAYMENTS_URL", f"{demo.url}/payments")
        data = desk_settings(prefix, dsn, tmp).model_dump(mode="json")
        data["pg_dsn"] = dsn
        data["ari"]["password"] = "acd-test-secret"
        data["flows"] = str(flows)
        data["queues"][0]["recording"] = "always"
        data["ivr"]["http_allow"] = [f"{demo.url}/"]
        settings = type(desk_settings(prefix, dsn, tmp)).model_validate(data)
        async with serve_desk(settings) as d:
            for sound in ("acd-enter-card-number", "acd-enter-expiry", "acd-payment-accepted",
                          "acd-enter-account", "acd-enter-pin"):
                d.h.sim.sounds[sound] = 1.0
            yield PayDesk(d.h, d.base, demo)
    finally:
        await demo.stop()


async def panel(page: Page, selector: str) -> None:
    await page.wait_for_selector(f"#panel-record {selector}", timeout=5000)


async def test_recording_and_payment_from_the_desktop(
        browser: Browser, redis_prefix: str, redis_client: Any, pg_dsn: str, tmp_path: Path,
        monkeypatch: Any) -> None:
    async with recorded_desk(redis_prefix, pg_dsn, tmp_path, monkeypatch) as d:
        agent, channel = await d.on_call(browser, CALLER)
        await panel(agent, "#rec-state[data-recording='active']")
        await agent.click("#rec-pause")
        await panel(agent, "#rec-state[data-recording='paused']")
        await agent.screenshot(path=screenshot_path("desk-recording-paused"))
        await agent.click("#rec-resume")
        await panel(agent, "#rec-state[data-recording='active']")

        await agent.click("#pay-start")
        await panel(agent, "#pay-result[data-payment='running']")
        await panel(agent, "#rec-state[data-recording='paused']")
        assert await agent.query_selector("#rec-resume") is None  # not while paying
        await agent.screenshot(path=screenshot_path("desk-payment-running"))
        await d.pay(channel)
        (payment,) = await _payments(d.h, d.demo)
        await panel(agent, "#pay-result[data-payment='paid']")
        text = await agent.text_content("#pay-result") or ""
        assert payment.payment_id in text and "paid" in text
        await panel(agent, "#rec-state[data-recording='active']")
        await agent.screenshot(path=screenshot_path("desk-payment-paid"))
        assert CARD not in await agent.content() and "1111" not in await agent.content()
        await agent.click("#hangup")
        await d.h.finished(channel)


async def _payments(h: Any, demo: DemoServer) -> list[Any]:
    await h.wait_for(lambda: bool(demo.backends.payments), "the payment service paid")
    return list(demo.backends.payments)
