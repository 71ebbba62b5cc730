"""acd dies while a connected call is ending: one party hung up, acd wrote the
`complete` event, sent the agent to wrap-up and marked the re-adoption record
'ending', and died before the rest of the call's end. The restarted acd's
recovery (acd.calls.recovery, its `ending` branch) writes the call once: no
second `complete`, no second wrap-up, the agent leg's row, who hung up.

The same when Redis failed that record write (both tries) before acd died: the
record still says 'connected', recovery writes the segment's `complete` again, and
the database keeps the first (its once_key, migration 0008)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.e2e.conftest import Harness

PRESS_SALES = [(1.0, "1")]


@pytest.mark.parametrize("record", ["written", "lost"])
@pytest.mark.parametrize("who", ["agent", "caller"])
async def test_a_call_ending_when_acd_dies_is_written_once(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, who: str, record: str) -> None:
    h = harness
    assert h.app.calls is not None and h.app.agents is not None
    await h.app.agents.set_break("a2", "meeting")
    await h.app.agents.set_break("a3", "meeting")
    talking = h.sim.place_call("+15559111", "100", dtmf=PRESS_SALES)
    await h.wait_agent("a1", "on_call")
    await h.wait_for(lambda: h.live(talking).answer_recorded, "the caller talking")
    call = h.live(talking)
    leg = call.connected_leg
    assert leg is not None

    records = h.app.calls.records
    real = records._remember
    ending = asyncio.Event()
    tries = 0

    async def remember(channel_id: str, fields: Mapping[str, str | int]) -> None:
        nonlocal tries
        if fields.get("phase") != "ending":
            return await real(channel_id, fields)
        tries += 1
        if record == "lost" and tries == 1:
            raise RedisConnectionError("Connection reset by peer")
        if record == "written":
            await real(channel_id, fields)
        ending.set()
        await asyncio.Event().wait()  # acd is killed here: nothing more of this call
    monkeypatch.setattr(records, "_remember", remember)

    h.sim.remote_hangup(leg.channel_id if who == "agent" else talking)
    await h.wait_for(ending.is_set, "the record says 'ending'")
    await h.restart()
    await h.rows_written([call.call_id])
    row = await h.call(call.call_id)
    # Who hung up is known from the record only if it was written.
    assert (row["outcome"], row["ended_by"], row["end_detail"], row["agent_id"]) == (
        "answered", who if record == "written" else "unknown", "acd_down", "a1")
    assert row["talk_ms"] is not None and row["talk_ms"] >= 0
    legs = await h.legs(call.call_id)
    assert [(x["kind"], x["outcome"]) for x in legs] == [
        ("caller", "answered"), ("agent", "answered")]
    events = [e for e, _ in await h.queue_events(call.call_id)]
    assert events.count("complete") == 1 and events[-1] == "complete", events
    detail = await h.pg.fetchval("SELECT detail FROM queue_events WHERE call_id=$1 AND "
                                 "event='complete'", call.call_id)
    assert json.loads(detail)["ended_by"] == who  # the first acd's, who knew
    await h.wait_agent("a1", "available")
    await h.assert_clean()
