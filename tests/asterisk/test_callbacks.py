"""A callback on the real Asterisk: the caller asks to be called back, hangs up,
and acd calls them back through the carrier trunk once an agent is free.

SIPp plays the caller, the agent's phone and the caller's phone that acd calls
back (on its own loopback address); real Redis and PostgreSQL.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.asterisk import sipp
from tests.asterisk.acd_runner import acd_settings, running_acd
from tests.asterisk.ari_probe import AriProbe
from tests.asterisk.conftest import AgentsFactory, CallerFactory
from tests.asterisk.harness import AsteriskInstance, free_port
from tests.asterisk.test_acd_scenarios import assert_hygiene

pytestmark = pytest.mark.asterisk

CUSTOMER_IP = "127.0.0.14"  # the phone acd calls back, reached through caller-trunk
FLOW = """\
name: kit_callback
numbers: ["101"]
start: sales
nodes:
  sales:
    type: queue
    queue: sales
    skills: {sales: 1}
    announce: {position: false}
    callback: {key: "2", offer: []}
    on_exit: {callback: confirmed, default: goodbye}
  confirmed:
    type: hangup
    prompt: sound:vm-goodbye
  goodbye:
    type: hangup
"""


@pytest.fixture
async def probe(asterisk: AsteriskInstance) -> AsyncIterator[AriProbe]:
    async with AriProbe(asterisk.ari_url, asterisk.user, asterisk.password) as p:
        yield p


async def test_callback_through_the_carrier_trunk(
        asterisk: AsteriskInstance, probe: AriProbe, sipp_caller: CallerFactory,
        sipp_agents: AgentsFactory, redis_prefix: str, redis_client: object, pg_dsn: str,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asterisk.mark_log()
    phones = sipp_agents(ring=0.5, behaviours=("answer",))
    port = free_port(CUSTOMER_IP, socket.SOCK_DGRAM)
    customer = sipp.phone(tmp_path / "customer", "answer", CUSTOMER_IP, port, ring=0.5,
                          talk=3.0).start()
    try:
        settings = acd_settings(asterisk.ari_url, asterisk.user, asterisk.password,
                                redis_prefix, pg_dsn, tmp_path / "real")
        (Path(settings.flows) / "callback.yaml").write_text(FLOW)
        # The carrier trunk's settings, this test's phone as the carrier.
        settings.callbacks.endpoint = f"PJSIP/caller-trunk/sip:{{number}}@{CUSTOMER_IP}:{port}"
        settings.callbacks.prompt = ["sound:hello-world"]
        settings.callbacks.ring_timeout = 10.0
        async with running_acd(settings, monkeypatch) as h:
            assert h.app.agents is not None and h.app.writer is not None
            for agent in ("a1", "a2"):
                await h.app.agents.set_break(agent, "meeting")
            caller = sipp_caller(exten="101", caller_id="+15551", dtmf=[(2.0, "2")],
                                 hold=15.0)
            result = await caller.wait(timeout=25)
            assert result.ok and "acd:remote-bye" in result.markers, result
            await h.wait_for(lambda: len(h.ended) == 1, "the caller's call to be written")
            (origin,) = h.ended.values()
            await h.app.writer.flush()
            assert (await h.call(origin))["outcome"] == "callback"

            await h.app.agents.available("a1")
            await h.wait_agent("a1", "on_call", timeout=20)
            await customer.wait_marker("acd:agent-answered")
            await h.wait_for(lambda: len(h.ended) == 2, "the callback to end", timeout=20)
            (callback,) = [cid for cid in h.ended.values() if cid != origin]
            await h.app.writer.flush()
            row = await h.call(callback)
            assert (row["outcome"], row["agent_id"], row["callback_of"]) == (
                "answered", "a1", origin)
            assert row["caller_number"] == "+15551" and row["talk_ms"] >= 1000
            assert await h.queue_events(callback) == [
                ("enter", None), ("offer", "a1"), ("connect", "a1"), ("complete", "a1")]
            await h.wait_agent("a1", "available")
            await h.assert_acd_clean()
        await assert_hygiene(asterisk, probe, {"agent": phones["answer"], "customer": customer})
    finally:
        customer.stop()
