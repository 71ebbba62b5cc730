"""Moves refused while another runs (acd.calls.phases.conflicts), end to end: acd on
the simulator with real Redis and PostgreSQL, the moves asked over the REST API.
A refused move is a 409 with its `error_id` and leaves the call as it was (who is in
which bridge, who hears music); the status lists only the moves the call takes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from acd.reports import sql
from acd.reports.kpi import QueueRules
from tests.api.conftest import Api
from tests.e2e.test_consult import api, consulting
from tests.e2e.test_consult import move as consult_move
from tests.e2e.test_record_pay import (
    CARD,
    EXPIRY,
    agent_channel,
    bridge_music,
    channel,
    connect,
    desk,
    hears_prompt,
    move,
    moves,
)
from tests.e2e.test_transfers import bridged_with

__all__ = ["api", "desk"]  # the fixtures


async def test_moves_during_a_payment_are_refused_and_change_nothing(desk: Api) -> None:
    api = desk
    h = api.h
    ch, call_id = await connect(api)
    assert {"hold", "transfer", "payment"} <= set((await moves(api))["moves"].split(","))
    await move(api, "payment")
    await h.wait_for(lambda: hears_prompt(api, ch), "the caller to hear the payment flow")
    listed = set((await moves(api))["moves"].split(","))
    assert not {"hold", "unhold", "transfer", "consult", "escalate", "payment", "barge",
                "whisper", "record_resume"} & listed, listed

    refused: dict[str, Any] = {}
    for name, args in [("hold", {}), ("transfer", {"to": "queue:sales"}),
                       ("escalate", {"reason": "x"}), ("payment", {}),
                       ("record_resume", {})]:
        refused[name] = (await move(api, name, status=409, **args))["error_id"]
    resp = await api.call("POST", f"/api/calls/{call_id}/moves/barge", user="super",
                          body={"endpoint": "PJSIP/super1"})
    refused["barge"] = (resp.status, (await resp.json())["error_id"])
    assert refused == {"hold": "payment_running", "transfer": "payment_running",
                       "escalate": "payment_running", "payment": "payment_running",
                       "record_resume": "payment_running",
                       "barge": (409, "payment_running")}
    # The agent's phone presses hold meanwhile: no hold of the caller is counted.
    h.sim.phone_hold(agent_channel(api, call_id)["id"])
    await h.clock.sleep(0.5)
    assert h.live(ch).held_ms is None

    # Nothing was half done: the caller in the flow without music, the agent on the
    # bridge's music, the caller's keys still reach the flow.
    assert channel(api, ch)["bridge"] is None and not channel(api, ch)["moh"]
    assert bridge_music(api, call_id)
    payment = h.live(ch).payment
    assert payment is not None and payment.ivr is not None and payment.ivr.node == "card"
    h.sim.press(ch, CARD + "#")
    await h.wait_for(lambda: (p := h.live(ch).payment) is not None and p.ivr is not None
                     and p.ivr.node == "expiry", "the flow to ask for the expiry")
    h.sim.press(ch, EXPIRY)
    await h.wait_for(lambda: h.live(ch).payment is None, "the payment flow to end")
    await h.wait_for(lambda: channel(api, ch)["bridge"] == f"acd-{call_id}",
                     "the caller back with the agent")
    # Back with the agent: the moves come back.
    status = await moves(api)
    assert status["payment"] == "paid"
    assert {"hold", "transfer"} <= set(status["moves"].split(","))
    assert (await move(api, "hold"))["held"] is True
    await api.call("POST", "/api/desk/agents/a1/hangup", user="alice")
    await h.finished(ch)
    events = [x[0] for x in await h.queue_events(call_id)]
    assert events.count("hold") == 1 and "transfer" not in events, events
    await h.wait_agent("a1", "wrap_up")
    await h.assert_clean()


async def test_moves_during_a_consult_are_refused(api: Api) -> None:
    h = api.h
    ch = await consulting(api, "+15551131")
    for name, args in [("hold", {}), ("transfer", {"to": "queue:sales"}),
                       ("consult", {"to": "agent:a3"}), ("payment", {})]:
        status, body = await consult_move(api, name, **args)
        assert (status, body["error_id"]) == (409, "consult_running"), (name, body)
    status, body = await consult_move(api, "status")
    assert status == 200, body
    assert set(body["moves"].split(",")) >= {"complete", "cancel", "conference"}
    assert not {"hold", "transfer", "consult", "payment"} & set(body["moves"].split(","))
    # Untouched: the caller alone on music, the consult goes on and can be cancelled.
    assert bridged_with(api, ch) == set() and channel(api, ch)["moh"]
    status, body = await consult_move(api, "cancel")
    assert (status, body["state"]) == (200, "cancelled"), body
    await h.wait_for(lambda: bridged_with(api, ch) == {"PJSIP/agent100"}, "caller with a1")
    assert not channel(api, ch)["moh"]
    status, body = await consult_move(api, "hold")
    assert (status, body["held"]) == (200, True), body
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    await h.wait_agent("a1", "wrap_up")
    await h.assert_clean()


async def test_a_transfer_answered_by_another_agent_counts_in_the_reports(api: Api) -> None:
    """The call ends `answered` (by a2); the reports count a1's transfer all the same.
    The session's database holds other tests' rows: what this call adds is compared."""
    h = api.h
    wide = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    rules = {"*": QueueRules()}

    async def counts() -> tuple[tuple[int, int], dict[str, int]]:
        queues = {r["queue"]: (r["transfers"], r["transfers_attended"])
                  for r in await sql.queue_report(h.pg, *wide, "UTC", rules)}
        agents = {r["agent_id"]: r["transfers"]
                  for r in await sql.agent_report(h.pg, *wide, "UTC")}
        return queues.get("sales", (0, 0)), agents

    assert h.app.writer is not None
    await h.app.writer.flush()
    before_queue, before_agents = await counts()
    ch = await consulting(api, "+15551132")
    status, body = await consult_move(api, "complete")
    assert (status, body["state"]) == (200, "completed"), body
    await h.wait_for(lambda: bridged_with(api, ch) == {"PJSIP/agent101"}, "caller with a2")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    assert (await h.call(call_id))["outcome"] == "answered"
    await h.app.writer.flush()
    queue, agents = await counts()
    assert (queue[0] - before_queue[0], queue[1] - before_queue[1]) == (1, 1)
    added = {a: agents.get(a, 0) - before_agents.get(a, 0) for a in ("a1", "a2")}
    assert added == {"a1": 1, "a2": 0}, (agents, before_agents)
    await h.assert_clean()
