"""Joining and leaving a queue nobody staffs (QueueDef.join_empty / leave_empty)."""

from __future__ import annotations

import pytest

from acd.agents.model import AgentDef
from acd.clock import Clock
from acd.routing.model import Offer, QueueDef, QueueRequest
from tests.routing.conftest import NodeFactory

AGENTS = [AgentDef(id="fr", endpoint="PJSIP/fr", skills={"fr": 5}),
          AgentDef(id="en", endpoint="PJSIP/en", skills={"en": 5})]


def call(call_id: str, clock: Clock) -> QueueRequest:
    return QueueRequest(call_id=call_id, queue="french", enqueued_at_ms=clock.ms())


@pytest.mark.parametrize(("fr_state", "join_empty", "accepted"), [
    ("logged_out", True, True),     # the default: wait for someone to log in
    ("logged_out", False, False),   # nobody able to take it: refused at once
    ("break", False, True),         # on break is staffed: wait for them
    ("available", False, True),
])
async def test_join_empty(make_node: NodeFactory, fr_state: str, join_empty: bool,
                          accepted: bool) -> None:
    clock = Clock()
    queue = QueueDef(name="french", skills={"fr": 1}, join_empty=join_empty)
    n = await make_node(agents=AGENTS, queues=[queue], clock=clock)
    await n.agents.login("en")  # logged in, but without the skill: does not count
    if fr_state != "logged_out":
        await n.agents.login("fr", reason="lunch" if fr_state == "break" else None)
    result = await n.router.enqueue(call("c1", clock))
    assert result.accepted is accepted
    assert result.reason == (None if accepted else "no_agents")
    assert await n.router.waiting("french") == (1 if accepted and fr_state != "available"
                                                 else 0)


@pytest.mark.parametrize("leave_empty", [True, False])
async def test_leave_empty_when_the_last_agent_logs_out(make_node: NodeFactory,
                                                        leave_empty: bool) -> None:
    clock = Clock()
    queue = QueueDef(name="french", skills={"fr": 1}, leave_empty=leave_empty)
    n = await make_node(agents=AGENTS, queues=[queue], clock=clock)
    await n.agents.login("fr", reason="lunch")
    for cid in ("c1", "c2", "cb"):
        assert (await n.router.enqueue(call(cid, clock))).accepted
    assert await n.router.to_callback("cb", "+15550001")
    other = await make_node("n2", agents=AGENTS, queues=[queue], clock=clock)
    assert await n.router.leave_empty() == 0  # still staffed
    await n.agents.logout("fr")

    assert await other.router.leave_empty() == 0  # not its callers
    left = await n.router.leave_empty()
    if not leave_empty:
        assert left == 0 and n.exits == [] and await n.router.waiting("french") == 3
        return
    assert left == 2
    assert sorted(n.exits) == [("c1", "no_agents"), ("c2", "no_agents")]
    # The callback task has nobody on the line: it keeps its place for later.
    assert await n.router.position("cb") == 1
    assert await n.router.waiting("french") == 1
    # Somebody logs in again: the task is offered, carrying its number.
    await n.agents.login("fr")
    offers: list[Offer] = n.offers
    assert [(o.call_id, o.callback) for o in offers] == [("cb", "+15550001")]
