"""The tick's sweep (the safety net) is bounded whatever the number of queues and
callers: `scan_limit` waiting calls per sweep in all, going round the queues."""

from __future__ import annotations

from acd.agents.model import AgentDef
from acd.clock import Clock
from acd.routing.model import QueueDef, QueueRequest, RoutingSettings
from tests.routing.conftest import NodeFactory

QUEUES = [QueueDef(name=f"q{i}", skills={f"s{i}": 1}) for i in (1, 2, 3)]


async def test_each_sweep_examines_a_bounded_share_and_goes_round(
        make_node: NodeFactory) -> None:
    clock = Clock()
    n = await make_node(agents=[AgentDef(id="x", endpoint="PJSIP/x", skills={"s3": 1})],
                        queues=QUEUES, clock=clock, settings=RoutingSettings(scan_limit=1))
    for q in QUEUES:
        for k in range(2):
            await n.router.enqueue(QueueRequest(call_id=f"{q.name}-{k}", queue=q.name,
                                                enqueued_at_ms=clock.ms()))
    # Logged in without the matching an agent's own command does: only a sweep
    # can find x a call, and only q3's calls fit.
    await n.agents.apply("x", {"ev": "login"})
    assert (await n.agents.get("x")).state == "available" and not n.offers
    assert [await n.router.sweep() for _ in range(2)] == [0, 0]  # q1, then q2: one call each
    assert await n.router.sweep() == 1  # q3's turn
    assert [(o.call_id, o.agent_id) for o in n.offers] == [("q3-0", "x")]
    assert [await n.router.waiting(q.name) for q in QUEUES] == [2, 2, 1]
