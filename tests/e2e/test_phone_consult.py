"""The agent phone's attended transfer (issue 17): the phone holds the caller, dials a
colleague (its second call, handed to acd by `[agents]` as `phone,<number>`), talks
to them, then REFERs acd's call with Replaces naming the second call; acd carries it
out like the desktop's complete. On the simulator with real Redis and PostgreSQL."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.e2e.test_refer import agent_leg
from tests.e2e.test_transfers import api, bridged_with, channel, connected_to_a1, transfer_events

__all__ = ["api"]  # the fixture


def second_call(api: Api, number: str = "101") -> str:
    """agent100's phone dials a colleague through [agents] (Stasis(acd,phone,<number>))."""
    return api.h.sim.place_call("", number, context="agents", endpoint="PJSIP/agent100",
                                app=api.h.app.settings.ari.app, args=("phone", number))


def alive(api: Api, channel_id: str) -> bool:
    return any(x["id"] == channel_id for x in api.h.sim.state()["channels"])


async def consulting(api: Api, number: str) -> tuple[str, str, str]:
    """The caller held by a1's phone; a1's second call talks to a2."""
    h = api.h
    ch = await connected_to_a1(api, number)
    first = agent_leg(api)
    h.sim.phone_hold(first)
    second = second_call(api)
    await h.wait_agent("a2", "on_call")
    await h.wait_for(lambda: bridged_with(api, second) == {"PJSIP/agent101"},
                     "the 2nd call bridged with a2")
    assert bridged_with(api, ch) == {"PJSIP/agent100"}  # a1's first leg stays
    assert await h.agent_state("a1") == "on_call"
    return ch, first, second


async def events_of(api: Api, call_id: str) -> list[tuple[str, str | None]]:
    rows = await api.h.pg.fetch("SELECT event, agent_id FROM queue_events WHERE call_id=$1 "
                                "ORDER BY at, event_id", call_id)
    return [(r["event"], r["agent_id"]) for r in rows]


async def test_an_attended_refer_hands_the_caller_to_the_colleague(api: Api) -> None:
    h = api.h
    ch, first, second = await consulting(api, "+15551701")
    notifies = h.sim.phone_refer(first, "101", replaces=second)
    await h.wait_for(lambda: bridged_with(api, ch) == {"PJSIP/agent101"}, "caller with a2")
    await h.wait_for(lambda: notifies[-1:] == ["200"], "the phone's NOTIFY 200")
    assert notifies == ["100", "200"]
    assert not channel(api, ch)["moh"]
    await h.wait_for(lambda: not alive(api, second) and not alive(api, first),
                     "a1's two calls to go")
    assert await h.agent_state("a1") in ("wrap_up", "available")
    assert await h.agent_state("a2") == "on_call"
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    events = await events_of(api, call_id)
    assert [x for x in events if x[0] not in ("enter", "offer", "ringing")][1:] == [
        ("hold", "a1"), ("consult", "a1"), ("transfer", "a1"), ("consult_end", "a1"),
        ("unhold", "a1"), ("complete", "a1"), ("connect", "a2"), ("complete", "a2")], events
    detail = (await transfer_events(api, call_id))[0]
    assert (detail["via"], detail["mode"], detail["to"], detail["result"]) == (
        "phone", "attended", "agent:a2", "completed")
    legs = await h.legs(call_id)
    assert [(x["kind"], x["agent_id"], x["outcome"]) for x in legs] == [
        ("caller", "a2", "answered"), ("agent", "a1", "answered"),
        ("transfer", "a2", "answered")]
    assert (await h.call(call_id))["agent_id"] == "a2"
    assert h.app.calls is not None
    assert h.app.calls.calls_started == 1  # the phone's second call is no call of its own
    await h.assert_clean()


async def test_the_agent_hangs_up_the_second_call_first(api: Api) -> None:
    h = api.h
    ch, first, second = await consulting(api, "+15551702")
    h.sim.remote_hangup(second)
    await h.wait_agent("a2", "wrap_up")
    assert bridged_with(api, ch) == {"PJSIP/agent100"}
    assert await h.agent_state("a1") == "on_call"
    h.sim.phone_unhold(first)
    h.sim.remote_hangup(ch)
    call_id = await h.finished(ch)
    assert ("consult_end", "a1") in await events_of(api, call_id)
    await h.assert_clean()


async def test_a_busy_colleague_lets_the_second_call_go(api: Api) -> None:
    h = api.h
    h.sim.set_endpoint("PJSIP", "agent101", "busy")
    ch = await connected_to_a1(api, "+15551703")
    second = second_call(api)
    await h.wait_for(lambda: not alive(api, second), "the 2nd call hung up")
    assert bridged_with(api, ch) == {"PJSIP/agent100"} and not channel(api, ch)["moh"]
    assert await h.agent_state("a1") == "on_call"
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    await h.assert_clean()


async def test_the_caller_hangs_up_during_the_phone_consult(api: Api) -> None:
    h = api.h
    ch, _, second = await consulting(api, "+15551704")
    h.sim.remote_hangup(ch)
    await h.finished(ch)
    await h.wait_for(lambda: not alive(api, second), "the 2nd call hung up")
    await h.wait_agent("a2", "wrap_up")
    await h.assert_clean()


async def test_with_no_acd_call_the_colleague_is_dialled_outside_acd(api: Api) -> None:
    h = api.h
    second = second_call(api)
    await h.wait_for(lambda: channel(api, second)["phase"] == "dialplan"
                     if alive(api, second) else True, "the call sent on in the dialplan")
    await h.assert_clean()
    assert h.app.calls is not None and h.app.calls.calls_started == 0  # no call, no row
