"""Agents, skills and queues added and removed through the API take effect at once,
on two acd nodes sharing Redis, and outlive a restart (PostgreSQL keeps them)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from acd.api.app import make_api
from acd.app import App
from acd.routing.model import Offer, QueueRequest
from tests.api.conftest import Api, api_over
from tests.e2e.conftest import FLOWS, e2e_settings, running_harness

BILLING_FLOW = """
name: billing_line
numbers: ["150"]
start: billing
nodes:
  billing:
    type: queue
    queue: billing
    skills: {billing: 1}
"""


@pytest.fixture
async def two(redis_prefix: str, redis_client: Any, pg_dsn: str,
              tmp_path: Path) -> AsyncIterator[tuple[Api, App, TestClient[Any, Any]]]:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "main.yaml").write_text((FLOWS / "main.yaml").read_text())
    (flows / "billing.yaml").write_text(BILLING_FLOW)
    settings = e2e_settings(redis_prefix, pg_dsn, tmp_path, flows=str(flows))
    async with running_harness(settings) as h:
        async for api in api_over(h):
            # Node 2: the same Redis, PostgreSQL and simulator, its own Stasis app.
            s2 = settings.model_copy(deep=True, update={"node_id": f"{redis_prefix}-n2"})
            s2.ari.app = f"{settings.ari.app}-n2"
            node2 = App(s2, clock=h.clock, simulator=h.sim, start_api=False)
            await node2.start()
            client2: TestClient[Any, Any] = TestClient(TestServer(make_api(node2),
                                                                  host="127.0.0.1"))
            await client2.start_server()
            try:
                await h.wait_for(connected(node2), "node 2 to connect")
                yield api, node2, client2
            finally:
                await client2.close()
                await node2.stop()


def connected(app: App) -> Any:
    return lambda: bool(app.stream and app.stream.connected)


async def until(what: str, pred: Any, timeout: float = 1.0) -> float:
    start = time.monotonic()
    while not pred():
        assert time.monotonic() - start < timeout, f"{what} not within {timeout} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


async def test_agents_and_queues_change_at_run_time_on_two_nodes(
        two: tuple[Api, App, TestClient[Any, Any]]) -> None:
    api, node2, client2 = two
    h = api.h
    assert node2.router is not None and node2.agents is not None
    resp = await api.call("PUT", "/api/definitions/queues/billing", user="super",
                          body={"skills": {"billing": 1}, "ring_timeout": 10, "wrapup": 1})
    assert resp.status == 200, await resp.text()
    await until("billing on node 2", lambda: "billing" in node2.router.queues)
    resp = await api.call("PUT", "/api/definitions/agents/b1", user="super",
                          body={"name": "Bea", "endpoint": "PJSIP/agent109",
                                "skills": {"billing": 5}})
    assert resp.status == 200, await resp.text()
    await until("b1 on node 2", lambda: "b1" in node2.agents.defs)
    h.sim.set_endpoint("PJSIP", "agent109", "answer", answer_after=0.5)

    # Bea logs in through node 2; a call node 2 queues in billing is offered to her.
    # (Through routing: flows are checked against the queues acd started with, so a
    # flow naming a queue added at run time waits for the flows' next reload.)
    hdrs = {**api.auth("super"), "Content-Type": "application/json"}
    resp = await client2.post("/api/agents/b1/login", json={}, headers=hdrs)
    assert resp.status == 200 and (await resp.json())["state"] == "available"
    offers: list[Offer] = []

    async def capture(offer: Offer) -> None:
        offers.append(offer)
    node2.router.on_offer = capture
    res = await node2.router.enqueue(QueueRequest(call_id="c-billing", queue="billing",
                                                  enqueued_at_ms=h.clock.ms()))
    assert res.accepted
    await until("an offer to b1", lambda: bool(offers))
    assert (offers[0].agent_id, offers[0].queue) == ("b1", "billing")
    assert await h.agent_state("b1") == "reserved"
    await node2.router.dequeue("c-billing")
    await h.wait_agent("b1", "available")

    # Skills changed through node 2 reach node 1's routing.
    resp = await client2.put("/api/definitions/agents/b1/skills",
                             json={"skills": {"billing": 5, "sales": 2}}, headers=hdrs)
    assert resp.status == 200
    assert h.app.agents is not None and h.app.router is not None
    await until("b1's sales skill on node 1",
                lambda: h.app.agents.defs["b1"].skills.get("sales") == 2)  # type: ignore[union-attr]
    assert (await h.app.agents.get("b1")).skills == {"billing": 5, "sales": 2}
    bad = await api.call("PUT", "/api/definitions/agents/b1/skills", user="super",
                         body={"skills": {"sales": 11}})
    assert bad.status == 400

    # A restarted node reads them from PostgreSQL, though its YAML never had them.
    node3 = App(h.app.settings.model_copy(deep=True, update={
        "node_id": f"{h.prefix}-n3", "agents": [], "queues": []}),
        clock=h.clock, simulator=h.sim, start_api=False)
    node3.settings.ari.app = f"{h.app.settings.ari.app}-n3"
    await node3.start()
    try:
        assert node3.router is not None and "billing" in node3.router.queues
        assert {"a1", "b1"} <= set(node3.settings.agents[i].id
                                   for i in range(len(node3.settings.agents)))
    finally:
        await node3.stop()

    # Removed: gone from both nodes and from Redis.
    resp = await api.call("DELETE", "/api/definitions/agents/b1", user="super")
    assert resp.status == 200, await resp.text()
    resp = await api.call("DELETE", "/api/definitions/queues/billing", user="admin")
    assert resp.status == 200, await resp.text()
    await until("b1 gone from node 2", lambda: "b1" not in node2.agents.defs)  # type: ignore[union-attr]
    await until("billing gone from node 2", lambda: "billing" not in node2.router.queues)  # type: ignore[union-attr]
    listed = await (await api.call("GET", "/api/agents", user="super")).json()
    assert "b1" not in [a["id"] for a in listed]
    rows = await h.pg.fetch("SELECT what FROM audit WHERE what LIKE '%definitions%'")
    assert len(rows) == 6  # every change, and the refused one


async def test_a_queue_with_calls_or_an_agent_on_a_call_stays(
        two: tuple[Api, App, TestClient[Any, Any]]) -> None:
    api, _, _ = two
    h = api.h
    await api.call("POST", "/api/agents/a1/logout", user="super")
    await api.call("POST", "/api/agents/a2/logout", user="super")
    channel = h.sim.place_call("+15550151", "100", app=h.app.settings.ari.app,
                               dtmf=[(6.0, "1")])
    assert h.app.router is not None
    await h.wait_for(lambda: h.app.router.waiting("sales"), "a caller waiting")  # type: ignore[union-attr]
    resp = await api.call("DELETE", "/api/definitions/queues/sales", user="super")
    assert (resp.status, (await resp.json())["error_id"]) == (409, "conflict")
    await api.call("POST", "/api/agents/a1/login", user="super")
    await h.wait_agent("a1", "on_call")
    resp = await api.call("DELETE", "/api/definitions/agents/a1", user="super")
    assert resp.status == 409
    assert "sales" in h.app.router.queues
    h.sim.remote_hangup(channel)


@pytest.mark.parametrize(("text", "skills"), [
    ("", {}), ("sales:5", {"sales": 5}), ("sales:5, support:2", {"sales": 5, "support": 2}),
    ("sales:5,", {"sales": 5}),
])
def test_parse_skills(text: str, skills: dict[str, int]) -> None:
    from acd.cli_defs import parse_skills

    assert parse_skills(text) == skills


@pytest.mark.parametrize("text", ["sales", "sales:x", ":3", "sales:-1"])
def test_parse_skills_refuses(text: str) -> None:
    from acd.cli_defs import parse_skills

    with pytest.raises(ValueError, match="skills read like"):
        parse_skills(text)
