"""An agent made available over HTTP gets the waiting call through the offer bus:
the request answers before the offer is handled (it is never run inside the
request), and the offer is still handled afterwards."""

from __future__ import annotations

import asyncio

from acd.routing.model import Offer
from tests.api.conftest import Api

WAITING = "150"  # tests/e2e/flows/waiting.yaml: straight to the sales queue


async def test_available_returns_before_the_offer_is_handled(api: Api) -> None:
    h = api.h
    router, agents = h.app.router, h.app.agents
    assert router is not None and agents is not None
    for agent in ("a1", "a2"):
        await agents.set_break(agent, "meeting")
    channel = h.sim.place_call("+15556001", WAITING)

    async def queued() -> bool:
        return await router.waiting("sales") == 1
    await h.wait_for(queued, "the call waiting in sales")

    gate = asyncio.Event()
    handled: list[Offer] = []
    deliver = router.on_offer

    async def gated(offer: Offer) -> None:
        await gate.wait()  # the call side is slow to take the offer
        handled.append(offer)
        await deliver(offer)
    router.on_offer = gated

    # Were the offer handled inside the request, this would wait on the gate.
    resp = await asyncio.wait_for(api.call("POST", "/api/agents/a1/available", user="alice"),
                                  timeout=10)
    assert resp.status == 200
    assert handled == []
    assert await h.agent_state("a1") == "reserved"  # the agent is held meanwhile

    gate.set()
    await h.wait_for(lambda: len(handled) == 1, "the offer to be handled")
    assert (handled[0].agent_id, handled[0].queue) == ("a1", "sales")
    await h.wait_agent("a1", "on_call")
    h.sim.remote_hangup(channel)
    call_id = await h.finished(channel)
    assert (await h.call(call_id))["outcome"] == "answered"
    await h.wait_agent("a1", "available")
    await h.assert_clean()
