"""Channels acd did not start are never taken for callers (issue 17): a Local
channel's half entering the app (a core transfer from a phone without ari-only
transfer handling), a channel replacing another, or a leg of a call acd no longer
holds is hung up; no IVR runs for it, it writes no `calls` row. A caller whose
channel is an agent's phone (8 + an acd number) is a caller like any other."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Harness


@pytest.mark.parametrize(("endpoint", "exten", "context"), [
    ("Local/101@agents;1", "101", "agents"),
    ("Local/101@agents;2", "101", "agents"),
    # What the real Asterisk did (tests/asterisk/test_acd_transfers.py): POST /channels
    # endpoint=Local/100@from-pstn app=acd; its ;2 half runs from-pstn 100 and enters
    # Stasis(acd) first, as "Local/100@from-pstn-00000000;2", no args.
    ("Local/100@from-pstn;2", "100", "from-pstn"),
])
async def test_a_local_channel_is_hung_up_and_writes_no_call(
        harness: Harness, endpoint: str, exten: str, context: str) -> None:
    h = harness
    assert h.app.calls is not None
    before = await h.pg.fetchval("SELECT count(*) FROM calls")
    legs_before = await h.pg.fetchval("SELECT count(*) FROM legs")
    ch = h.sim.place_call("", exten, endpoint=endpoint, context=context)
    assert h.sim.world.channels[ch].name.startswith(endpoint.partition(";")[0] + "-")
    await h.wait_for(lambda: ch not in h.sim.world.channels, "the Local channel to go")
    assert h.app.calls.strangers == 1
    assert h.call_on(ch) is None and ch not in h.ended
    # Nothing played to it, nothing answered: it never reached a flow.
    assert not any(p for p in h.sim.state()["playbacks"])
    assert h.app.writer is not None
    await h.app.writer.flush()
    assert await h.pg.fetchval("SELECT count(*) FROM calls") == before
    assert await h.pg.fetchval("SELECT count(*) FROM legs") == legs_before
    # acd goes on taking real callers.
    caller = h.sim.place_call("+15551071", "100", dtmf=[(1.0, "1")])
    await h.wait_agent("a1", "on_call")
    h.sim.remote_hangup(caller)
    call_id = await h.finished(caller)
    assert (await h.call(call_id))["outcome"] == "answered"
    await h.assert_clean()


async def test_an_agent_phone_dialling_acd_is_a_caller(harness: Harness) -> None:
    h = harness
    ch = h.sim.place_call("102", "100", endpoint="PJSIP/agent102", dtmf=[(1.0, "1")])
    await h.wait_agent("a1", "on_call")
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    call = await h.call(call_id)
    assert (call["outcome"], call["caller_number"]) == ("answered", "102")
    await h.assert_clean()
