"""The agent state machine: a table of transitions, and the Lua side agreeing on all."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import pytest
import redis.asyncio as aioredis

from acd.agents import machine as m
from acd.agents.model import AGENT_STATES, AgentDef, AgentState
from acd.agents.service import AgentService
from acd.clock import Clock
from acd.errors import Conflict
from acd.routing.model import RoutingSettings

NOW = 1_000_000
LATER = NOW + 10_000
EARLIER = NOW - 1


def status(state: AgentState, *, missed: int = 0, expired: bool = False) -> m.Status:
    on_call = state in ("reserved", "ringing", "on_call", "wrap_up")
    return m.Status(
        state=state, reason="lunch" if state == "break" else "", since_ms=NOW - 5000,
        missed=missed, call="c1" if on_call else "", reservation="r1" if on_call else "",
        deadline_ms=(EARLIER if expired else LATER)
        if state in ("reserved", "ringing", "on_call", "wrap_up") else 0,
    )


TABLE: list[tuple[AgentState, m.Event, AgentState | None, str]] = [
    # state, event, expected state (None = Conflict), expected reason
    ("logged_out", m.Login(), "available", ""),
    ("logged_out", m.Login("training"), "break", "training"),
    ("available", m.Login(), "available", ""),
    ("break", m.Login(), "break", "lunch"),
    ("on_call", m.Login(), "on_call", ""),
    ("available", m.Logout(), "logged_out", ""),
    ("break", m.Logout(), "logged_out", ""),
    ("wrap_up", m.Logout(), "logged_out", ""),
    ("logged_out", m.Logout(), "logged_out", ""),
    ("reserved", m.Logout(), None, ""),
    ("ringing", m.Logout(), None, ""),
    ("on_call", m.Logout(), None, ""),
    ("break", m.MakeAvailable(), "available", ""),
    ("wrap_up", m.MakeAvailable(), "available", ""),
    ("available", m.MakeAvailable(), "available", ""),
    ("logged_out", m.MakeAvailable(), None, ""),
    ("on_call", m.MakeAvailable(), None, ""),
    ("available", m.Break("lunch"), "break", "lunch"),
    ("break", m.Break("coffee"), "break", "coffee"),
    ("wrap_up", m.Break("coffee"), "break", "coffee"),
    ("logged_out", m.Break("lunch"), None, ""),
    ("ringing", m.Break("lunch"), None, ""),
    ("available", m.Break(""), None, ""),
    ("available", m.Reserve("c2", "r2", LATER), "reserved", ""),
    ("break", m.Reserve("c2", "r2", LATER), None, ""),
    ("reserved", m.Ringing("r1", LATER), "ringing", ""),
    ("reserved", m.Ringing("r9", LATER), "reserved", ""),
    ("ringing", m.Answered("r1", LATER), "on_call", ""),
    ("reserved", m.Answered("r1", LATER), "on_call", ""),
    ("ringing", m.Answered("r9", LATER), "ringing", ""),
    ("on_call", m.Answered("r1", LATER), "on_call", ""),
    ("ringing", m.Failed("r1"), "available", ""),
    ("ringing", m.Failed("r9"), "ringing", ""),
    ("reserved", m.Released("r1"), "available", ""),
    ("on_call", m.Failed("r1"), "on_call", ""),
    ("on_call", m.Ended("r1", LATER), "wrap_up", ""),
    ("on_call", m.Ended("r1", NOW), "available", ""),
    ("on_call", m.Ended("r9", LATER), "on_call", ""),
    ("wrap_up", m.Ended("r1", LATER), "wrap_up", ""),
    ("wrap_up", m.Expire(), "wrap_up", ""),  # deadline not reached
    ("available", m.Expire(), "available", ""),
    ("on_call", m.Expire(LATER), "on_call", ""),  # the owner renews it: deadline not reached
    ("on_call", m.Renew("r1", LATER + 5000), "on_call", ""),
    ("on_call", m.Renew("r9", LATER + 5000), "on_call", ""),
    ("ringing", m.Renew("r1", LATER + 5000), "ringing", ""),
    ("wrap_up", m.Renew("r1", LATER + 5000), "wrap_up", ""),
    # The phone (acd/agents/phone.py after_change): back ends acd's own breaks only.
    ("break", m.PhoneBack(), "break", "lunch"),
    ("logged_out", m.PhoneBack(), "logged_out", ""),
    ("logged_out", m.PhoneBack(login=True), "available", "phone_registered"),
    ("available", m.PhoneBack(login=True), "available", ""),
    ("on_call", m.PhoneBack(login=True), "on_call", ""),
    ("available", m.PhoneLost(), "break", "phone_lost"),
    ("on_call", m.PhoneLost(), "on_call", ""),
    ("wrap_up", m.PhoneLost(), "wrap_up", ""),
    ("logged_out", m.PhoneLost(), "logged_out", ""),
]


@pytest.mark.parametrize(("state", "event", "expected", "reason"), TABLE)
def test_transition_table(state: AgentState, event: m.Event, expected: AgentState | None,
                          reason: str) -> None:
    s = status(state)
    if expected is None:
        with pytest.raises(Conflict) as err:
            m.step(s, event, NOW, max_missed=3, agent="a1")
        assert "a1" in err.value.message
        return
    t = m.step(s, event, NOW, max_missed=3, agent="a1")
    assert t.status.state == expected
    assert t.status.reason == reason
    assert t.changed == (expected != state or (reason != s.reason))


@pytest.mark.parametrize("state", ["reserved", "ringing", "wrap_up"])
def test_every_transient_state_expires(state: AgentState) -> None:
    t = m.step(status(state, expired=True), m.Expire(), NOW, max_missed=3)
    assert t.status.state == "available"
    assert t.status.call == "" and t.status.deadline_ms == 0


@pytest.mark.parametrize(("expire", "state", "reason", "deadline"), [
    (m.Expire(LATER), "wrap_up", "orphaned", LATER),   # the queue's wrap-up, then available
    (m.Expire(NOW), "available", "orphaned", 0),       # no wrap-up: available at once
    (m.Expire(), "available", "orphaned", 0),          # call unknown: available at once
])
def test_orphaned_on_call_expires(expire: m.Expire, state: str, reason: str,
                                  deadline: int) -> None:
    t = m.step(status("on_call", expired=True), expire, NOW, max_missed=3)
    assert (t.status.state, t.status.reason, t.status.deadline_ms) == (state, reason, deadline)
    assert t.changed
    if state == "wrap_up":  # and the wrap-up runs out like any other
        later = m.step(t.status, m.Expire(), LATER, max_missed=3).status
        assert (later.state, later.reason, later.call) == ("available", "", "")


@pytest.mark.parametrize(("event", "deadline"), [
    (m.Answered("r1", LATER), LATER),             # an answer sets the on_call deadline
    (m.Renew("r1", LATER + 5000), LATER + 5000),  # the owner pushes it, no change row
    (m.Renew("r9", LATER + 5000), LATER),         # about another call: ignored
    (m.Ended("r1", LATER + 1), LATER + 1),        # wrap-up deadline replaces it
    (m.Ended("r1", NOW), 0),
])
def test_on_call_deadline(event: m.Event, deadline: int) -> None:
    start = status("ringing") if isinstance(event, m.Answered) else status("on_call")
    t = m.step(start, event, NOW, max_missed=3)
    assert t.status.deadline_ms == deadline
    if isinstance(event, m.Renew):
        assert not t.changed and t.status.state == "on_call"


@pytest.mark.parametrize(("missed", "max_missed", "counted", "state", "after"), [
    (0, 3, True, "available", 1),
    (1, 3, True, "available", 2),
    (2, 3, True, "break", 3),
    (2, 3, False, "available", 2),
    (5, 0, True, "available", 6),
    (0, 1, True, "break", 1),
])
def test_missed_offers_pause(missed: int, max_missed: int, counted: bool, state: str,
                             after: int) -> None:
    t = m.step(status("ringing", missed=missed), m.Failed("r1", counted), NOW,
               max_missed=max_missed)
    assert (t.status.state, t.status.missed) == (state, after)
    if state == "break":
        assert t.status.reason == "missed_offers"


@pytest.mark.parametrize(("reason", "state"), [
    ("missed_offers", "available"), ("phone_lost", "available"), ("lunch", "break"),
])
def test_phone_back_ends_only_breaks_acd_gave(reason: str, state: str) -> None:
    paused = m.Status(state="break", reason=reason, missed=3)
    t = m.step(paused, m.PhoneBack(), NOW, max_missed=3)
    assert t.status.state == state
    if state == "available":
        assert (t.status.reason, t.status.missed, t.changed) == ("phone_registered", 0, True)


def test_answer_resets_missed_and_available_after_pause_resets_too() -> None:
    t = m.step(status("ringing", missed=2), m.Answered("r1", LATER), NOW, max_missed=3)
    assert t.status.missed == 0
    paused = m.Status(state="break", reason="missed_offers", missed=3)
    assert m.step(paused, m.MakeAvailable(), NOW, max_missed=3).status.missed == 0


# ------------------------------------------------- the Lua side agrees on all


EVENTS: list[m.Event] = [
    m.Login(), m.Login("training"), m.Logout(), m.MakeAvailable(), m.Break("lunch"),
    m.Break("coffee"), m.Break(""), m.Reserve("c2", "r2", LATER), m.Ringing("r1", LATER),
    m.Ringing("r9", LATER), m.Answered("r1", LATER), m.Answered("r9", LATER), m.Failed("r1", True),
    m.Failed("r1", False), m.Failed("r9", True), m.Released("r1"), m.Released("r9"),
    m.Ended("r1", LATER), m.Ended("r1", NOW), m.Ended("r9", LATER), m.Expire(),
    m.Expire(LATER), m.Renew("r1", LATER + 5000), m.Renew("r9", LATER + 5000),
    m.PhoneBack(), m.PhoneBack(login=True), m.PhoneLost(),
]
LUA_NAMES = {
    m.Login: "login", m.Logout: "logout", m.MakeAvailable: "available", m.Break: "break",
    m.Reserve: "reserve", m.Ringing: "ringing", m.Answered: "answered", m.Failed: "failed",
    m.Released: "released", m.Ended: "ended", m.Expire: "expire", m.Renew: "renew",
    m.PhoneBack: "phone_back", m.PhoneLost: "phone_lost",
}


def lua_event(ev: m.Event) -> dict[str, Any]:
    out: dict[str, Any] = {"ev": LUA_NAMES[type(ev)]}
    for k, v in asdict(ev).items():
        out[{"reservation": "res", "deadline_ms": "dl"}.get(k, k)] = v
    return out


def record(s: m.Status) -> dict[str, Any]:
    return {"id": "a1", "name": "A", "endpoint": "PJSIP/a1", "order": 0, "skills": {"en": 5},
            "state": s.state, "reason": s.reason, "since": s.since_ms, "missed": s.missed,
            "call": s.call, "res": s.reservation, "dl": s.deadline_ms, "calls": 0, "talk": 0,
            "lastoff": 0, "ans": 0, "queue": ""}


class FixedClock(Clock):
    def ms(self) -> int:
        return NOW


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: repr(e))
@pytest.mark.parametrize("state", AGENT_STATES)
@pytest.mark.parametrize(("missed", "expired"), [(0, False), (2, True)])
async def test_lua_agrees_with_machine(redis_client: aioredis.Redis, redis_prefix: str,
                                       state: AgentState, event: m.Event, missed: int,
                                       expired: bool) -> None:
    svc = AgentService(redis_client, prefix=redis_prefix, clock=FixedClock(),
                       agents=[AgentDef(id="a1", endpoint="PJSIP/a1", skills={"en": 5})],
                       settings=RoutingSettings(max_missed=3))
    before = status(state, missed=missed, expired=expired)
    await redis_client.hset(svc.keys.agents, "a1", json.dumps(record(before)))
    try:
        want: m.Transition | None = m.step(before, event, NOW, max_missed=3, agent="a1")
    except Conflict:
        want = None
    res = await svc.apply("a1", lua_event(event))
    if want is None:
        assert res.get("err"), f"Lua allowed {event} from {state}"
        return
    assert not res.get("err"), f"Lua refused {event} from {state}: {res.get('err')}"
    got = res["agent"]
    w = want.status
    assert (got["state"], got["reason"], got["missed"], got["call"], got["res"], got["dl"]) == (
        w.state, w.reason, w.missed, w.call, w.reservation, w.deadline_ms)
    assert bool(res["changes"]) == want.changed
    # The indexes follow the state: idle sets hold exactly the available agents,
    # the timer set exactly the agents in a transient state.
    idle = await redis_client.zscore(svc.keys.idle, "a1")
    idle_en = await redis_client.zscore(svc.keys.idle_skill("en"), "a1")
    timer = await redis_client.zscore(svc.keys.agent_timers, "a1")
    if want.changed:
        assert (idle is not None) == (w.state == "available")
        assert (idle_en is not None) == (w.state == "available")
    # The timer set holds exactly the agents with a deadline (on_call too), at it.
    if want.changed or w.deadline_ms != before.deadline_ms:
        assert (timer is not None) == (w.state in ("reserved", "ringing", "on_call", "wrap_up"))
        assert timer is None or int(timer) == w.deadline_ms
