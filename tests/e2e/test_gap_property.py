"""A property over whole calls through acd and the simulator: whatever stage a call
is in when its events are lost (ARI cut, or events dropped with the socket up),
whichever parties hang up in the gap and however long it lasts, afterwards the
call has exactly one `calls` row, no channel or bridge is left, no agent is stuck
busy, and an agent is never charged a miss for the gap.

A small sample of the scenarios per run (each is a whole acd on its own Redis
prefix, about 1.3 s); ACD_GAP_EXAMPLES=60 ran green in 48 s.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Harness, e2e_settings, running_harness

EXAMPLES = int(os.environ.get("ACD_GAP_EXAMPLES", "12"))
PRESS_SALES = [(1.0, "1")]


async def _scenario(dsn: str, stage: str, cut: bool, caller_leaves: bool, agent_leaves: bool,
                    gap: float) -> None:
    prefix = f"acdt-{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory() as tmp:
        settings_ = e2e_settings(prefix, dsn, Path(tmp), reconcile_every=5.0)
        phones = {"agent100": {"behaviour": "noanswer"}} if stage == "ringing" else None
        async with running_harness(settings_, phones=phones, ari_proxy=True) as h:
            try:
                await _run(h, stage, cut, caller_leaves, agent_leaves, gap)
            finally:
                assert h.app.redis is not None
                keys = [k async for k in h.app.redis.scan_iter(match=f"*{prefix}*")]
                if keys:
                    await h.app.redis.delete(*keys)


async def _run(h: Harness, stage: str, cut: bool, caller_leaves: bool, agent_leaves: bool,
               gap: float) -> None:
    agents, router = h.app.agents, h.app.router
    assert agents is not None and router is not None and h.ari_proxy is not None
    await agents.set_break("a2", "meeting")
    if stage == "queued":
        await agents.set_break("a1", "meeting")
    ch = h.sim.place_call("+15559301", "100", dtmf=[] if stage == "ivr" else PRESS_SALES)
    if stage == "ivr":
        await h.wait_for(lambda: h.call_on(ch) is not None, "the call in the IVR")
    elif stage == "queued":
        async def waiting() -> bool:
            return await router.waiting("sales") == 1
        await h.wait_for(waiting, "the caller waiting")
    else:
        await h.wait_agent("a1", "ringing" if stage == "ringing" else "on_call")
    call = h.live(ch)
    legs = [leg.channel_id for leg in call.live_legs()]

    hub = h.sim.world.hub
    conns = [c for app in hub.apps.values() for c in app.connections]
    if cut:
        await h.ari_proxy.down()
    else:
        for conn in conns:
            hub.detach(conn)
    if caller_leaves:
        h.sim.remote_hangup(ch)
    if agent_leaves:
        for leg in legs:
            h.sim.remote_hangup(leg)
    await h.clock.sleep(gap)
    if cut:
        await h.ari_proxy.up()
    else:
        for conn in conns:
            hub.attach(conn)
    await h.clock.sleep(1.0)
    if any(c["id"] == ch for c in h.sim.state()["channels"]):
        h.sim.remote_hangup(ch)  # the caller ends the call in the end

    call_id = await h.finished(ch)  # exactly one calls row (asserted there)
    n = await h.pg.fetchval("SELECT count(*) FROM calls WHERE call_id=$1", call_id)
    assert n == 1
    await h.assert_clean()  # no channel, no bridge, nothing held, no agent busy
    await h.wait_agent("a1", "break" if stage == "queued" else "available")
    view = await agents.get("a1")
    if stage != "ringing":  # a phone that never answers may earn a real miss
        assert view.missed_in_row == 0, view


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(stage=st.sampled_from(["ivr", "queued", "ringing", "connected"]), cut=st.booleans(),
       caller_leaves=st.booleans(), agent_leaves=st.booleans(),
       gap=st.floats(min_value=0.5, max_value=12.0))
def test_no_gap_strands_anyone(pg_dsn: str, stage: str, cut: bool, caller_leaves: bool,
                               agent_leaves: bool, gap: float) -> None:
    asyncio.run(_scenario(pg_dsn, stage, cut, caller_leaves, agent_leaves, gap))
