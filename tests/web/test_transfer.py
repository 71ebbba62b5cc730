"""The transfer panel of the agent desktop in Chromium (issue 17): acd on its
simulator with real Redis and PostgreSQL; the agent consults a colleague, completes
the transfer, and leaves for wrap-up; a refused transfer shows why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Browser

from tests.web.conftest import screenshot_path
from tests.web.desk_harness import desk_harness, state_is


def endpoints_with(d: Any, channel: str) -> set[str]:
    chans = d.h.sim.state()["channels"]
    bridge = next(c["bridge"] for c in chans if c["id"] == channel)
    return {c["endpoint"] for c in chans if bridge and c["bridge"] == bridge
            and c["id"] != channel}


async def test_consult_then_complete_from_the_desktop(
        browser: Browser, redis_prefix: str, redis_client: Any, pg_dsn: str,
        tmp_path: Path) -> None:
    async with desk_harness(redis_prefix, pg_dsn, tmp_path) as d:
        agent, channel = await d.on_call(browser, "+15550456")
        await agent.wait_for_selector("#panel-transfer #xfer-consult")

        # A transfer the call refuses: its reason is shown, the call goes on.
        await agent.select_option("#xfer-kind", "agent")
        await agent.fill("#xfer-to", "nobody")
        await agent.click("#xfer-blind")
        await agent.wait_for_function(
            "() => document.getElementById('moves-msg').textContent.includes('not available')")
        assert endpoints_with(d, channel) == {"PJSIP/agent100"}
        await agent.screenshot(path=str(screenshot_path("desk-transfer-refused")))

        # Consult Bob: the caller hears music while Alice talks to him.
        await agent.fill("#xfer-to", "a2")
        await agent.click("#xfer-consult")
        await agent.wait_for_selector("#xfer-busy[data-state='consulting']", timeout=10000)
        await agent.wait_for_selector("#xfer-complete")
        await agent.wait_for_selector("#xfer-conference")
        assert "Consulting agent:a2" in (await agent.text_content("#xfer-busy") or "")
        caller = next(c for c in d.h.sim.state()["channels"] if c["id"] == channel)
        assert caller["moh"] and endpoints_with(d, channel) == set()
        await agent.screenshot(path=str(screenshot_path("desk-transfer-consulting")))

        # Complete: the caller talks to Bob, Alice wraps up.
        await agent.click("#xfer-complete")
        await state_is(agent, "wrap_up")
        await d.h.wait_for(lambda: endpoints_with(d, channel) == {"PJSIP/agent101"},
                           "the caller with Bob")
        await agent.wait_for_selector("#wrapup:not([hidden])")
        await agent.screenshot(path=str(screenshot_path("desk-transfer-completed")))
        d.h.sim.remote_hangup(channel)
        call_id = await d.h.finished(channel)
        assert (await d.h.call(call_id))["agent_id"] == "a2"


async def test_consult_a_number_from_the_desktop(
        browser: Browser, redis_prefix: str, redis_client: Any, pg_dsn: str,
        tmp_path: Path) -> None:
    """The same picker consults an outside number; cancel brings the caller back."""
    async with desk_harness(redis_prefix, pg_dsn, tmp_path) as d:
        agent, channel = await d.on_call(browser, "+15550457")
        await agent.wait_for_selector("#panel-transfer #xfer-consult")
        await agent.select_option("#xfer-kind", "number")
        await agent.fill("#xfer-to", "05550123")
        await agent.click("#xfer-consult")
        await agent.wait_for_selector("#xfer-busy[data-state='consulting']", timeout=10000)
        assert "Consulting number:05550123" in (await agent.text_content("#xfer-busy") or "")
        assert endpoints_with(d, channel) == set()
        await agent.click("#xfer-cancel")
        await d.h.wait_for(lambda: endpoints_with(d, channel) == {"PJSIP/agent100"},
                           "the caller back with Alice")
        await state_is(agent, "on_call")
        d.h.sim.remote_hangup(channel)
        call_id = await d.h.finished(channel)
        assert (await d.h.call(call_id))["agent_id"] == "a1"
