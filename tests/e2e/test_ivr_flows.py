"""Every example flow of ivr_flows/ end to end: simulator, real Redis and PostgreSQL,
with the configuration as shipped (config/acd.yaml: its queues, chain, agents, lists,
schedules and allow-list; only where things run is the test's).

Each scenario asserts the path the call took through the flow, the prompts the
simulator played (seen on an ARI event tap of our own), the queue events and
the call row in PostgreSQL, and the agents' states. The flows' web services are
the demo back-ends (acd.api.demo) on an ephemeral port, reached through the
flows' `settings` (ACD_FLOW_*_URL).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from acd.api.demo import Account, DemoBackends
from acd.ari import events as ev
from tests.e2e.ivr_harness import IvrHarness, copy_examples, ivr_harness

KEY_CLIENT = "+33140000001"


@pytest.fixture
async def ivr(redis_prefix: str, redis_client: Any, pg_dsn: str, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[IvrHarness]:
    backends = DemoBackends()
    backends.accounts[KEY_CLIENT] = Account("Dupont SA", manager="101")
    flows = copy_examples(tmp_path / "flows")
    async with ivr_harness(redis_prefix, pg_dsn, tmp_path, flows, monkeypatch, backends) as h:
        yield h


def sounds(*names: str) -> list[str]:
    return [f"sound:{n}" for n in names]


def connected(agent: str) -> list[tuple[str, str | None]]:
    return [("enter", None), ("offer", agent), ("connect", agent), ("complete", agent)]


async def hang_up_on_agent(h: IvrHarness, channel_id: str, agent: str) -> None:
    await h.wait_agent(agent, "on_call")
    h.sim.remote_hangup(channel_id)


def version(h: IvrHarness, flow: str) -> str:
    assert h.app.flows is not None
    found = h.app.flows.get(flow)
    assert found is not None
    return found.version


# ------------------------------------------------------------------ main.yaml


# The shipped agents log in in order: Alice (100) has been idle longest, and has
# both sales and support.
SHIPPED_AGENTS = ("100", "101", "102", "103", "104")


@pytest.mark.parametrize(("key", "queue", "agent"), [("1", "sales", "100"),
                                                      ("2", "support", "100")])
async def test_main_menu_key_leads_to_its_queue(ivr: IvrHarness, key: str, queue: str,
                                                agent: str) -> None:
    h = ivr
    ch = h.dial("+15551001", "100", dtmf=[(0.5, key)])
    await hang_up_on_agent(h, ch, agent)
    snap, row = await h.result(ch)

    assert snap.path == ("welcome", queue)
    assert snap.variables["menu_choice"] == key
    assert h.prompts(ch) == sounds("acd-welcome")
    assert await h.queue_events(snap.call_id) == connected(agent)
    assert (row["flow"], row["flow_version"]) == ("main", version(h, "main"))
    assert (row["queue"], row["agent_id"], row["outcome"]) == (queue, agent, "answered")
    await h.wait_agent(agent, "available")
    await h.assert_clean()


async def test_main_menu_silence_ends_with_goodbye(ivr: IvrHarness) -> None:
    h = ivr
    ch = h.dial("+15551002", "100")
    snap, row = await h.result(ch)

    assert snap.path[0] == "welcome" and snap.path[-1] == "goodbye"
    assert h.prompts(ch) == sounds("acd-welcome", "acd-welcome", "acd-welcome", "acd-goodbye")
    assert await h.queue_events(snap.call_id) == []
    assert (row["queue"], row["outcome"]) == (None, "ivr_hangup")
    for agent in SHIPPED_AGENTS:
        assert await h.agent_state(agent) == "available"
    await h.assert_clean()


# --------------------------------------------------------------- hotline.yaml

HOTLINE_ENTRY = ("blocked", "key_account", "hours")


async def test_hotline_refuses_a_blocked_caller(ivr: IvrHarness) -> None:
    h = ivr
    await h.put("/api/lists/blocked/%2B15550666")
    assert "+15550666" in await h.get("/api/lists/blocked")
    ch = h.dial("+15550666", "101")
    snap, row = await h.result(ch)

    assert snap.path == ("blocked", "refuse")
    assert h.prompts(ch) == sounds("acd-blocked")
    assert await h.queue_events(snap.call_id) == []
    assert (row["flow"], row["queue"], row["outcome"]) == ("hotline", None, "ivr_hangup")
    await h.assert_clean()


@pytest.mark.parametrize(("override", "dtmf", "tail", "queue", "agent"), [
    ("open", [(2.5, "1")], ("welcome", "main_menu", "sales"), "sales", "100"),
    ("emergency", [], ("emergency",), "support", "100"),
])
async def test_hotline_override_open_or_emergency(
        ivr: IvrHarness, override: str, dtmf: list[tuple[float, str]],
        tail: tuple[str, ...], queue: str, agent: str) -> None:
    h = ivr
    assert (await h.put("/api/schedules/hotline/override", {"override": override}))[
        "override"] == override
    ch = h.dial("+15551003", "101", dtmf=dtmf)
    await hang_up_on_agent(h, ch, agent)
    snap, row = await h.result(ch)

    assert snap.path == (*HOTLINE_ENTRY, *tail)
    assert snap.variables["schedule"] == override
    expected = sounds("acd-welcome-hotline", "acd-main-menu") if override == "open" else []
    assert h.prompts(ch) == expected
    assert await h.queue_events(snap.call_id) == connected(agent)
    assert (row["queue"], row["agent_id"], row["outcome"]) == (queue, agent, "answered")
    await h.wait_agent(agent, "available")
    await h.assert_clean()


async def test_hotline_closed_takes_a_message(ivr: IvrHarness) -> None:
    h = ivr
    await h.put("/api/schedules/hotline/override", {"override": "closed"})
    ch = h.dial("+15551004", "101")
    assert h.tap is not None
    tap = h.tap
    await h.wait_for(lambda: bool(tap.of(ch, ev.RecordingStarted)), "the voicemail recording")
    await h.clock.sleep(3.0)
    h.sim.remote_hangup(ch)
    snap, row = await h.result(ch)

    assert snap.path == (*HOTLINE_ENTRY, "closed", "voicemail")
    assert snap.variables["schedule"] == "closed"
    assert h.prompts(ch) == sounds("acd-closed", "acd-leave-message")
    assert await h.queue_events(snap.call_id) == []
    assert row["queue"] is None and row["agent_id"] is None
    for agent in SHIPPED_AGENTS:
        assert await h.agent_state(agent) == "available"
    await h.assert_clean()


async def test_hotline_holiday_from_the_flow_file(ivr: IvrHarness) -> None:
    """Today made a holiday in the hotline's file (reloaded): no override needed."""
    h = ivr
    assert h.app.flows is not None
    today = h.clock.now().astimezone(ZoneInfo("Europe/Paris")).date().isoformat()
    path = h.app.flows.folder / "hotline.yaml"
    text, n = re.subn(r"holidays: \[", f'holidays: ["{today}", ', path.read_text())
    assert n == 1
    path.write_text(text)
    assert h.app.flows.load(), h.app.flows.errors
    ch = h.dial("+15551005", "101")
    snap, row = await h.result(ch)

    assert snap.path == (*HOTLINE_ENTRY, "holiday")
    assert snap.variables["schedule"] == "holiday"
    assert h.prompts(ch) == sounds("acd-holiday", "acd-goodbye")
    assert row["flow_version"] == version(h, "hotline")
    assert await h.queue_events(snap.call_id) == []
    await h.assert_clean()


async def test_hotline_french_then_order_status_then_sales(ivr: IvrHarness) -> None:
    """Menu 9 (French), menu 4 (the order status subflow and back), then menu 1."""
    h = ivr
    await h.put("/api/schedules/hotline/override", {"override": "open"})
    ch = h.dial("+15551006", "101", dtmf=[(2.5, "9")])
    await h.wait_path(ch, "language_fr", "main_menu")
    h.sim.press(ch, "4")
    await h.wait_path(ch, "order_status/ask")
    h.sim.press(ch, "123456#")
    await h.wait_path(ch, "order_status/done", "main_menu")
    h.sim.press(ch, "1")
    await hang_up_on_agent(h, ch, "100")
    snap, row = await h.result(ch)

    assert snap.path == (*HOTLINE_ENTRY, "welcome", "main_menu", "language_fr", "main_menu",
                         "order_status", "order_status/ask", "order_status/lookup",
                         "order_status/which", "order_status/shipped", "order_status/done",
                         "main_menu", "sales")
    assert (snap.variables["order_state"], snap.variables["eta_days"]) == ("shipped", "3")
    assert h.prompts(ch) == sounds(
        "acd-welcome-hotline", "acd-main-menu", "acd-main-menu", "acd-enter-order-number",
        "acd-order-shipped", "digits/3", "acd-days", "acd-main-menu")
    assert h.tap is not None
    languages = [e.playback.language for e in h.tap.of(ch, ev.PlaybackStarted)
                 if isinstance(e, ev.PlaybackStarted)]
    assert languages[:2] == ["en", "en"] and set(languages[2:]) == {"fr"}
    assert h.demo.backends.requests == 1
    assert await h.queue_events(snap.call_id) == connected("100")
    assert (row["flow"], row["queue"], row["outcome"]) == ("hotline", "sales", "answered")
    await h.wait_agent("100", "available")
    await h.assert_clean()


# ---------------------------------------------------------- order_status.yaml


@pytest.mark.parametrize(("order", "path", "heard"), [
    ("123456", ("lookup", "which", "shipped"), ("acd-order-shipped", "digits/3", "acd-days")),
    ("234567", ("lookup", "which", "preparing"), ("acd-order-preparing",)),
    ("999999", ("lookup", "not_found"), ("acd-order-not-found",)),  # a 404 is a failure
])
async def test_order_status_by_phone(ivr: IvrHarness, order: str, path: tuple[str, ...],
                                     heard: tuple[str, ...]) -> None:
    h = ivr
    ch = h.dial("+15551007", "102", dtmf=[(0.5, order + "#")])
    snap, row = await h.result(ch)

    assert snap.path == ("ask", *path, "done")
    assert snap.variables["order_number"] == order
    assert snap.variables["http_status"] == ("404" if "not_found" in path else "200")
    assert h.prompts(ch) == sounds("acd-enter-order-number", *heard, "acd-goodbye")
    assert h.demo.backends.requests == 1
    assert (row["flow"], row["queue"], row["outcome"]) == ("order_status", None, "ivr_hangup")
    assert await h.queue_events(snap.call_id) == []
    await h.assert_clean()


# ----------------------------------------------------------- key_clients.yaml


@pytest.mark.parametrize(("dialled", "entry"), [
    ("103", ("check", "lookup", "greet", "key_queue")),
    ("101", ("blocked", "key_account", "key_clients", "key_clients/check",
             "key_clients/lookup", "key_clients/greet", "key_clients/key_queue")),
])
async def test_key_client_goes_to_their_manager(ivr: IvrHarness, dialled: str,
                                                entry: tuple[str, ...]) -> None:
    h = ivr
    await h.put(f"/api/lists/key_accounts/%2B{KEY_CLIENT[1:]}")
    ch = h.dial(KEY_CLIENT, dialled)
    await hang_up_on_agent(h, ch, "101")
    assert await h.agent_state("100") == "available"  # longest idle, but not the manager
    snap, row = await h.result(ch)

    assert snap.path == entry
    assert snap.variables["account_manager"] == "101"
    assert h.prompts(ch) == sounds("acd-welcome-key-client")
    assert await h.queue_events(snap.call_id) == connected("101")
    assert (row["queue"], row["agent_id"], row["outcome"]) == ("sales", "101", "answered")
    await h.wait_agent("101", "available")
    await h.assert_clean()


# ------------------------------------------------------------- emergency.yaml


async def test_emergency_jumps_the_queue(ivr: IvrHarness) -> None:
    """Two support callers wait; an emergency arrives later and is served first."""
    h = ivr
    assert h.app.agents is not None
    for agent in ("100", "102"):  # support; Carol (102) has medical too
        await h.app.agents.set_break(agent, "lunch")
    await h.app.agents.logout("103")  # Dave: support and medical
    first = h.dial("+15552001", "100", dtmf=[(0.5, "2")])
    await h.wait_waiting("support", 1)
    second = h.dial("+15552002", "100", dtmf=[(0.5, "2")])
    await h.wait_waiting("support", 2)
    urgent = h.dial("+15552999", "190")
    await h.wait_waiting("medical_emergency", 1)
    await h.app.agents.login("103")  # medical and support: takes the emergency first
    await h.wait_agent("103", "on_call")
    assert (await h.app.agents.get("103")).current_call == h.live(urgent).call_id
    await h.wait_waiting("support", 2)
    h.sim.remote_hangup(urgent)
    # After wrap-up, the longest-waiting support caller.
    await h.wait_for(lambda: h.live(first).connected_leg is not None, "the first caller served")
    await h.wait_agent("103", "on_call")
    assert (await h.app.agents.get("103")).current_call == h.live(first).call_id
    assert h.live(second).connected_leg is None
    for ch in (first, second):
        h.sim.remote_hangup(ch)
    (u, urow), (f, frow) = await h.result(urgent), await h.result(first)
    s, srow = await h.result(second)

    assert u.path == ("announce", "queue")
    assert h.prompts(urgent) == sounds("acd-emergency")
    assert await h.queue_events(u.call_id) == connected("103")
    assert await h.queue_events(f.call_id) == connected("103")
    assert await h.queue_events(s.call_id) == [("enter", None), ("abandon", None)]
    assert urow["enqueued_at"] > frow["enqueued_at"] > srow["enqueued_at"] or (
        urow["enqueued_at"] > srow["enqueued_at"] > frow["enqueued_at"])
    assert urow["answered_at"] < frow["answered_at"]
    assert (urow["queue"], urow["agent_id"]) == ("medical_emergency", "103")
    assert (srow["outcome"], srow["agent_id"]) == ("abandoned", None)
    rows = await h.pg.fetch("SELECT state FROM agent_states WHERE agent_id='103' ORDER BY at")
    assert [r["state"] for r in rows].count("on_call") == 2
    await h.assert_clean()


# --------------------------------------------------------------- payment.yaml


async def test_card_payment(ivr: IvrHarness) -> None:
    h = ivr
    ch = h.dial("+15551008", "104", dtmf=[(0.5, "4111111111111111#")])
    await h.wait_path(ch, "expiry")
    h.sim.press(ch, "1228")
    snap, row = await h.result(ch)

    assert snap.path == ("card", "expiry", "pay", "paid", "done")
    assert snap.variables["card"] == "************1111"
    (payment,) = h.demo.backends.payments
    assert (payment.caller, payment.card_digits) == ("+15551008", 16)
    assert snap.variables["payment_id"] == payment.payment_id
    assert h.prompts(ch) == sounds("acd-enter-card-number", "acd-enter-expiry",
                                   "acd-payment-accepted",
                                   *(f"digits/{d}" for d in payment.payment_id), "acd-goodbye")
    assert (row["flow"], row["outcome"]) == ("payment", "ivr_hangup")
    assert row["variables"] is not None and "************1111" in row["variables"]
    await h.assert_clean()
