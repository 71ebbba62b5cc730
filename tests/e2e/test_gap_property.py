"""A property over whole calls through acd and the simulator: whatever stage a call
is in when a fault strikes (ARI cut, ARI answering 500 to every other request,
events dropped with the socket up, Redis cut, acd stopped and started again),
whichever parties hang up meanwhile and however long it lasts, afterwards the
call has exactly one `calls` row, no channel or bridge is left, no agent is stuck
busy, and an agent is never charged a miss for the fault.

A small sample of the scenarios per run (each is a whole acd on its own Redis
prefix, about 1.3 s); ACD_GAP_EXAMPLES=60 ran green in 48 s.
"""

from __future__ import annotations

import asyncio
import gc
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd.app import App
from acd.ari.errors import AriError
from tests.e2e.conftest import Harness, e2e_settings, running_harness
from tests.store.proxy import TcpProxy

EXAMPLES = int(os.environ.get("ACD_GAP_EXAMPLES", "12"))
PRESS_SALES = [(1.0, "1")]


async def _scenario(dsn: str, stage: str, fault: str, caller_leaves: bool,
                    agent_leaves: bool, gap: float) -> None:
    prefix = f"acdt-{uuid.uuid4().hex[:10]}"
    redis = TcpProxy("127.0.0.1", 6379)
    await redis.up()
    with tempfile.TemporaryDirectory() as tmp:
        settings_ = e2e_settings(prefix, dsn, Path(tmp), reconcile_every=5.0,
                                 redis_url=f"redis://127.0.0.1:{redis.port}/0")
        phones = {"agent100": {"behaviour": "noanswer"}} if stage == "ringing" else None
        try:
            async with running_harness(settings_, phones=phones, ari_proxy=True) as h:
                try:
                    await _run(h, redis, stage, fault, caller_leaves, agent_leaves, gap)
                finally:
                    await redis.up()
                    assert h.app.redis is not None
                    keys = [k async for k in h.app.redis.scan_iter(match=f"*{prefix}*")]
                    if keys:
                        await h.app.redis.delete(*keys)
        finally:
            await redis.close()


async def _reach(h: Harness, stage: str, ch: str) -> None:
    router = h.app.router
    assert router is not None
    if stage == "ivr":
        await h.wait_for(lambda: h.call_on(ch) is not None, "the call in the IVR")
    elif stage == "queued":
        async def waiting() -> bool:
            return await router.waiting("sales") == 1
        await h.wait_for(waiting, "the caller waiting")
    else:
        await h.wait_agent("a1", "ringing" if stage == "ringing" else "on_call")


class Fault:
    """One fault, struck and then lifted."""

    def __init__(self, h: Harness, redis: TcpProxy, kind: str) -> None:
        self.h, self.redis, self.kind = h, redis, kind
        hub = h.sim.world.hub
        self.conns = [c for app in hub.apps.values() for c in app.connections]

    async def strike(self) -> None:
        h = self.h
        assert h.ari_proxy is not None
        if self.kind == "ari_cut":
            await h.ari_proxy.down()
        elif self.kind == "events_lost":
            for conn in self.conns:
                h.sim.world.hub.detach(conn)
        elif self.kind == "redis_cut":
            await self.redis.down()
        elif self.kind == "ari_errors":
            self._answer_500_to_every_other_request()
        else:
            await h.app.stop()  # as after kill -9: live calls are left as they are

    def _answer_500_to_every_other_request(self) -> None:
        """Asterisk answers 500 to every other request (alternately, so that a
        retry can succeed): acd's requests fail mid-call, whatever they were."""
        ari = self.h.app.ari
        assert ari is not None
        real = ari.request
        count = [0]

        async def flaky(method: str, path: str, params: Any = None, body: Any = None) -> Any:
            count[0] += 1
            if count[0] % 2:
                raise AriError("Internal Server Error", status=500, method=method, path=path)
            return await real(method, path, params, body)
        ari.request = flaky  # type: ignore[method-assign]

    async def lift(self) -> None:
        h = self.h
        assert h.ari_proxy is not None
        if self.kind == "ari_cut":
            await h.ari_proxy.up()
        elif self.kind == "events_lost":
            for conn in self.conns:
                h.sim.world.hub.attach(conn)
        elif self.kind == "redis_cut":
            await self.redis.up()
        elif self.kind == "ari_errors":
            assert h.app.ari is not None
            del h.app.ari.request  # the class's own again
        else:
            app = App(h.app.settings, clock=h.clock, simulator=h.sim, start_api=False)
            h.app = app
            await app.start()
            h.watch(app)


async def _run(h: Harness, redis: TcpProxy, stage: str, fault: str, caller_leaves: bool,
               agent_leaves: bool, gap: float) -> None:
    assert h.app.agents is not None
    await h.app.agents.set_break("a2", "meeting")
    if stage == "queued":
        await h.app.agents.set_break("a1", "meeting")
    ch = h.sim.place_call("+15559301", "100", dtmf=[] if stage == "ivr" else PRESS_SALES)
    await _reach(h, stage, ch)
    call = h.live(ch)
    call_id, legs = call.call_id, [leg.channel_id for leg in call.live_legs()]

    trouble = Fault(h, redis, fault)
    await trouble.strike()
    if caller_leaves:
        h.sim.remote_hangup(ch)
    if agent_leaves:
        for leg in legs:
            h.sim.remote_hangup(leg)
    await h.clock.sleep(gap)
    await trouble.lift()
    await h.clock.sleep(1.0)
    if any(c["id"] == ch for c in h.sim.state()["channels"]):
        h.sim.remote_hangup(ch)  # the caller ends the call in the end

    async def written() -> bool:
        assert h.app.writer is not None
        await h.app.writer.flush()
        n = await h.pg.fetchval("SELECT count(*) FROM calls WHERE call_id=$1", call_id)
        return bool(n == 1)  # the primary key allows no second one
    await h.wait_for(written, f"the row of call {call_id}")
    await h.assert_clean()  # no channel, no bridge, nothing held, no agent busy
    await h.wait_agent("a1", "break" if stage == "queued" else "available")
    view = await h.app.agents.get("a1")  # type: ignore[union-attr]
    if stage != "ringing":  # a phone that never answers may earn a real miss
        assert view.missed_in_row == 0, view


# Each example runs its own event loop (asyncio.run); sockets the Redis client and
# the TCP proxies cut mid-use are collected after their loop closed, which Python
# reports as ResourceWarnings ("loop is closed", "unclosed socket") through the
# unraisable hook. They say nothing about acd's behaviour, which the assertions
# check, so they are not turned into failures here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(stage=st.sampled_from(["ivr", "queued", "ringing", "connected"]),
       fault=st.sampled_from(["ari_cut", "events_lost", "redis_cut", "restart",
                              "ari_errors"]),
       caller_leaves=st.booleans(), agent_leaves=st.booleans(),
       gap=st.floats(min_value=0.5, max_value=12.0))
def test_no_fault_strands_anyone(pg_dsn: str, stage: str, fault: str, caller_leaves: bool,
                                 agent_leaves: bool, gap: float) -> None:
    asyncio.run(_scenario(pg_dsn, stage, fault, caller_leaves, agent_leaves, gap))
    gc.collect()  # within this test: what the example's closed loop left is reported here
