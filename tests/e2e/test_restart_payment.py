"""acd stops without cleanup (as after kill -9) while the caller keys their card in
the agent-assisted payment flow (#17 / #12), and a new acd starts on the same
simulator: the caller is back with the same agent, the bridge's music off, the
payment written "interrupted", the recording's paused interval kept in its row,
and the keys the caller pressed nowhere (Redis, PostgreSQL)."""

from __future__ import annotations

import json

from tests.api.conftest import Api
from tests.conftest import REDIS_URL
from tests.e2e.leaks import find_secret, pg_texts, redis_texts
from tests.e2e.test_record_pay import (
    bridge_music,
    channel,
    connect,
    desk,
    hears_prompt,
    move,
    recording,
    recording_row,
)

__all__ = ["desk"]  # the fixture, shared with the recording and payment tests
PARTIAL = "41114111"  # half a card: the caller is keying it when acd dies


async def test_a_payment_under_way_is_interrupted_by_the_new_acd(desk: Api) -> None:
    api = desk
    h = api.h
    ch, call_id = await connect(api)
    name = f"acd-rec-{call_id}"
    await h.wait_for(lambda: recording(api, name) is not None, "the recording")
    await move(api, "payment")
    await h.wait_for(lambda: hears_prompt(api, ch), "the caller to hear the payment flow")
    assert channel(api, ch)["bridge"] is None and bridge_music(api, call_id)
    h.sim.press(ch, PARTIAL)
    await h.clock.sleep(1)

    await h.restart()
    await h.wait_for(lambda: channel(api, ch)["bridge"] == f"acd-{call_id}",
                     "the caller back in the bridge")
    assert not bridge_music(api, call_id)
    # The recording goes on, no longer paused for the payment the restart ended.
    await h.wait_for(lambda: (recording(api, name) or {}).get("state") == "recording",
                     "the recording resumed")
    h.sim.press(ch, "4")  # keys after the restart go nowhere either
    await h.clock.sleep(1)
    h.sim.remote_hangup(ch)
    assert await h.finished(ch) == call_id
    detail = await h.pg.fetchval("SELECT detail FROM queue_events WHERE call_id=$1 AND "
                                 "event='payment'", call_id)
    assert json.loads(detail) == {"result": "interrupted", "reference": None}
    row = await recording_row(api, call_id)
    assert row["outcome"] == "done"
    assert [p["reason"] for p in json.loads(row["paused"])] == ["payment"]
    keys, _ = await redis_texts(REDIS_URL, match=f"*{h.prefix}*")
    rows, _ = await pg_texts(h.pg)
    assert find_secret(PARTIAL, keys + rows) == []
    await h.wait_agent("a1", "wrap_up")
    await h.assert_clean()
