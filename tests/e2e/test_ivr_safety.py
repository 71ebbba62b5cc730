"""IVR safety end to end (simulator, real Redis and PostgreSQL): a masked card number
is nowhere in clear once a payment call is over; a flow reloaded while calls are in it
leaves those calls on the version they started with; a broken file in a running acd is
refused, reported with file, line and reason, and the previous version keeps working.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from acd.ivr.model import Flow
from acd.ivr.registry import FlowRegistry
from tests.conftest import REDIS_URL
from tests.e2e.ivr_harness import IvrHarness, copy_examples, ivr_harness
from tests.e2e.leaks import (
    file_texts,
    find_secret,
    log_texts,
    pg_texts,
    redis_texts,
    secret_pattern,
)

CARD = "4111111111111111"
MASKED = "************1111"


# ------------------------------------------------------------ the leak search itself


@pytest.mark.parametrize(("text", "found"), [
    (f"card={CARD}", True),
    ("4111 1111 1111 1111", True),
    ("4111-1111-1111-1111", True),
    ('["4", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1", "1"]', True),
    ("b'4111111111111111#'", True),
    (MASKED, False),
    ("411111111111111", False),  # one digit short
    ("4111a1111b1111c1111", False),  # letters are not separators
    ("4111111111111112", False),
])
def test_secret_pattern(text: str, found: bool) -> None:
    assert bool(secret_pattern(CARD).search(text)) is found
    assert bool(find_secret(CARD, [("here", text)])) is found


# -------------------------------------------------------- the card number, nowhere


@pytest.fixture
async def examples(redis_prefix: str, redis_client: Any, pg_dsn: str, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[IvrHarness]:
    flows = copy_examples(tmp_path / "flows")
    async with ivr_harness(redis_prefix, pg_dsn, tmp_path, flows, monkeypatch) as h:
        yield h


async def test_card_number_is_nowhere_in_clear(examples: IvrHarness, tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    h = examples
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level > logging.DEBUG:
            caplog.set_level(logging.DEBUG, logger=name)
    deaf = [lg for lg in logging.root.manager.loggerDict.values()
            if isinstance(lg, logging.Logger) and not lg.propagate]
    for lg in deaf:  # loggers that do not reach the root handler: listen to them too
        lg.addHandler(caplog.handler)
    try:
        ch = h.dial("+15551008", "104", dtmf=[(0.5, CARD + "#")])
        await h.wait_path(ch, "expiry")
        h.sim.press(ch, "1228")
        snap, row = await h.result(ch)
    finally:
        for lg in deaf:
            lg.removeHandler(caplog.handler)
    assert h.app.writer is not None
    await h.app.writer.flush()
    # The call really went through the payment: the card reached the payment service.
    assert snap.path == ("card", "expiry", "pay", "paid", "done")
    (payment,) = h.demo.backends.payments
    assert (payment.caller, payment.card_digits) == ("+15551008", 16)

    logs = log_texts(caplog.records)
    assert any(snap.call_id[:8] in text for _, text in logs), "acd's own logs were not captured"
    prefixed, n_prefixed = await redis_texts(REDIS_URL, match=f"*{h.prefix}*")
    assert n_prefixed > 0, "nothing under the test prefix: the Redis search saw nothing"
    everything, n_all = await redis_texts(REDIS_URL)
    assert n_all >= n_prefixed
    rows, tables = await pg_texts(h.pg)
    assert {"calls", "legs", "queue_events", "agent_states"} <= set(tables)
    spool = file_texts(tmp_path / "spool")

    leaks = find_secret(CARD, [*logs, *prefixed, *everything, *rows, *spool])
    assert leaks == [], "the card number in clear:\n" + "\n".join(leaks)

    # The masked form is there, so the search above looked at the right rows.
    (call_json,) = [text for where, text in rows
                    if where.startswith("table calls ") and snap.call_id in text]
    assert MASKED in call_json
    assert json.loads(row["variables"])["card"] == MASKED
    await h.assert_clean()


# ------------------------------------------------------- reloads with calls inside

FLOW = """\
# A menu that waits a long time: calls sit in it while the file changes.
name: safety
numbers: ["100"]
start: menu
nodes:
  menu:
    type: menu
    prompt: sound:acd-main-menu
    options:
      "1": {target}
    timeout: 600
    retries: 1
    on_invalid: goodbye
    on_timeout: goodbye
  sales:
    type: queue
    queue: sales
    on_exit: goodbye
  support:
    type: queue
    queue: support
    on_exit: goodbye
  goodbye:
    type: hangup
    prompt: sound:acd-goodbye
"""
MENU_TYPE_LINE = 7  # "    type: menu"


@pytest.fixture
async def small(redis_prefix: str, redis_client: Any, pg_dsn: str, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[IvrHarness]:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "safety.yaml").write_text(FLOW.format(target="sales"))
    async with ivr_harness(redis_prefix, pg_dsn, tmp_path, flows, monkeypatch) as h:
        yield h


def registry(h: IvrHarness) -> FlowRegistry:
    assert h.app.flows is not None
    return h.app.flows


def in_force(h: IvrHarness) -> Flow:
    flow = registry(h).for_number("100")
    assert flow is not None and flow.name == "safety"
    return flow


async def talk_then_hang_up(h: IvrHarness, channel_id: str, agent: str) -> None:
    await h.wait_agent(agent, "on_call")
    h.sim.remote_hangup(channel_id)


async def test_reload_leaves_calls_on_their_version(small: IvrHarness) -> None:
    h = small
    assert h.app.agents is not None
    # Alice (100) has sales and support: on a break, each queue has one agent first in line.
    await h.app.agents.set_break("100", "lunch")
    reg = registry(h)
    assert reg.errors == []
    old = in_force(h)
    a = h.dial("+15553001", "100")
    await h.wait_node(a, "menu")
    assert h.live(a).flow_version == old.version

    path = reg.folder / "safety.yaml"
    path.write_text(FLOW.format(target="support"))
    assert reg.load(), reg.errors
    new = in_force(h)
    assert new is not old and new.version != old.version
    b = h.dial("+15553002", "100")
    await h.wait_node(b, "menu")
    assert h.live(b).flow_version == new.version
    assert h.live(a).flow_version == old.version

    h.sim.press(a, "1")
    h.sim.press(b, "1")
    await talk_then_hang_up(h, a, "101")
    await talk_then_hang_up(h, b, "102")
    (sa, ra), (sb, rb) = await h.result(a), await h.result(b)

    assert sa.path == ("menu", "sales") and sb.path == ("menu", "support")
    assert (ra["flow"], ra["flow_version"], ra["queue"], ra["agent_id"], ra["outcome"]) == (
        "safety", old.version, "sales", "101", "answered")
    assert (rb["flow"], rb["flow_version"], rb["queue"], rb["agent_id"], rb["outcome"]) == (
        "safety", new.version, "support", "102", "answered")
    await h.wait_agent("101", "available")
    await h.wait_agent("102", "available")
    await h.assert_clean()


async def test_broken_file_is_refused_and_the_previous_version_runs(
        small: IvrHarness) -> None:
    h = small
    reg = registry(h)
    old = in_force(h)
    loads = reg.loads
    path = reg.folder / "safety.yaml"
    broken = FLOW.format(target="sales").replace("type: menu", "type: menuu")
    assert broken.splitlines()[MENU_TYPE_LINE - 1] == "    type: menuu"
    path.write_text(broken)
    # The running acd's watcher reloads the folder by itself.
    await h.wait_for(lambda: reg.loads > loads and bool(reg.errors), "the watcher's reload",
                     timeout=20.0)

    (err,) = reg.errors
    assert (Path(err.file), err.line, err.node) == (path, MENU_TYPE_LINE, "menu")
    assert "unknown node type 'menuu'" in str(err) and err.suggestion == "menu"
    assert in_force(h) is old
    listed = await h.get("/api/flows")
    assert [(f["name"], f["version"]) for f in listed["flows"]] == [("safety", old.version)]
    (shown,) = listed["errors"]
    assert f"{path}:{MENU_TYPE_LINE}:" in shown and "unknown node type 'menuu'" in shown

    ch = h.dial("+15553003", "100", dtmf=[(0.5, "1")])
    await talk_then_hang_up(h, ch, "100")
    snap, row = await h.result(ch)
    assert snap.path == ("menu", "sales")
    assert (row["flow"], row["flow_version"], row["queue"], row["agent_id"],
            row["outcome"]) == ("safety", old.version, "sales", "100", "answered")
    assert await h.queue_events(snap.call_id) == [
        ("enter", None), ("offer", "100"), ("connect", "100"), ("complete", "100")]
    assert reg.errors, "the broken file is still there: its error must stay reported"
    await h.wait_agent("100", "available")
    await h.assert_clean()
