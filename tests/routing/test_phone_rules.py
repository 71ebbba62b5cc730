"""The phone's rules as tables: Asterisk's events -> phone, phone x agent x queue -> offer,
phone changes -> agent events, leg hang-up causes -> failure reasons; and the Lua side
(`phone_ok`, `phone_set`) agreeing with the Python side on every combination."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.agents import phone as ph
from acd.agents.model import AGENT_STATES, AgentDef
from acd.agents.phone import Phone
from acd.agents.phones import PhoneWatcher
from acd.agents.startup import restored
from acd.clock import Clock
from acd.routing.model import QueueDef, QueueRequest
from tests.routing.conftest import NodeFactory

P = Phone


@pytest.mark.parametrize(("phone", "state"), [
    (P(), "unknown"),
    (P("registered"), "registered"),
    (P("registered", "idle"), "registered"),
    (P("unknown", "idle"), "registered"),
    (P("registered", "in_use"), "in_use"),
    (P("registered", "ringing"), "in_use"),
    (P("unregistered"), "unregistered"),
    (P("unregistered", "in_use"), "unregistered"),
    (P("unreachable", "idle"), "unreachable"),
    (P("registered", "unavailable"), "unregistered"),
    (P("unknown", "unavailable"), "unregistered"),
])
def test_state_of(phone: Phone, state: str) -> None:
    assert ph.state_of(phone) == state


# phone registration x device x ring_in_use -> may the phone be rung
OFFERABLE: list[tuple[str, str, bool, bool]] = [
    ("unknown", "unknown", False, True),       # no word from Asterisk: ring it
    ("registered", "unknown", False, True),
    ("registered", "idle", False, True),
    ("registered", "in_use", False, False),    # busy on a call acd did not place
    ("registered", "in_use", True, True),      # ...unless the queue rings in use
    ("registered", "ringing", False, False),
    ("registered", "ringing", True, True),
    ("registered", "unavailable", True, False),
    ("unregistered", "unknown", True, False),
    ("unregistered", "idle", True, False),
    ("unreachable", "idle", True, False),      # qualify failed: a dead phone
    ("unreachable", "unknown", False, False),
    ("unknown", "in_use", False, False),
    ("unknown", "unavailable", False, False),
]


@pytest.mark.parametrize(("reg", "dev", "riu", "ok"), OFFERABLE)
def test_offerable(reg: ph.Registration, dev: ph.Device, riu: bool, ok: bool) -> None:
    assert ph.offerable(P(reg, dev), riu) is ok


@pytest.mark.parametrize("agent_state", AGENT_STATES)
@pytest.mark.parametrize(("reg", "dev", "riu", "ok"), OFFERABLE)
def test_may_offer_needs_an_available_agent_and_a_phone(
        agent_state: str, reg: ph.Registration, dev: ph.Device, riu: bool, ok: bool) -> None:
    assert ph.may_offer(agent_state, P(reg, dev), riu) is (ok and agent_state == "available")


@pytest.mark.parametrize(("before", "kind", "value", "after"), [
    (P(), "endpoint", "online", P("registered")),
    (P("registered", "idle"), "endpoint", "offline", P("unregistered", "idle")),
    (P("unreachable"), "endpoint", "offline", P("unreachable")),   # keeps the finer word
    (P("unreachable"), "endpoint", "online", P("registered")),
    (P("registered"), "endpoint", "unknown", P("registered")),
    (P(), "peer", "Reachable", P("registered")),
    (P("registered"), "peer", "Unreachable", P("unregistered")),
    (P("registered"), "peer", "Gibberish", P("registered")),
    (P(), "contact", "NonQualified", P("registered")),
    (P("unreachable"), "contact", "Reachable", P("registered")),
    (P("registered"), "contact", "Unreachable", P("unreachable")),
    (P("registered"), "contact", "Removed", P("unregistered")),
    (P("unregistered"), "contact", "Unknown", P("registered")),    # new, not qualified yet
    (P("unreachable"), "contact", "Unknown", P("unreachable")),
    (P("registered"), "device", "INUSE", P("registered", "in_use")),
    (P("registered"), "device", "BUSY", P("registered", "in_use")),
    (P("registered"), "device", "ONHOLD", P("registered", "in_use")),
    (P("registered"), "device", "RINGINUSE", P("registered", "in_use")),
    (P("registered"), "device", "RINGING", P("registered", "ringing")),
    (P("registered", "in_use"), "device", "NOT_INUSE", P("registered", "idle")),
    (P("unregistered"), "device", "NOT_INUSE", P("registered", "idle")),
    (P("registered", "idle"), "device", "UNAVAILABLE", P("registered", "unavailable")),
    (P("registered", "idle"), "device", "INVALID", P("registered", "unknown")),
    (P("registered", "idle"), "device", "nonsense", P("registered", "unknown")),
])
def test_events_fold_into_the_phone(before: Phone, kind: str, value: str,
                                    after: Phone) -> None:
    fold = {"endpoint": ph.on_endpoint_state, "peer": ph.on_peer_status,
            "contact": ph.on_contact_status, "device": ph.on_device_state}[kind]
    assert fold(before, value) == after


UP, DOWN, GONE, BUSY = P("registered", "idle"), P(), P("unregistered"), P("registered", "in_use")


@pytest.mark.parametrize(("before", "after", "state", "reason", "policy", "action"), [
    (GONE, UP, "break", "missed_offers", "available", "phone_back"),
    (GONE, UP, "break", "phone_lost", "available", "phone_back"),
    (GONE, UP, "break", "lunch", "available", None),          # the agent's own break
    (GONE, UP, "break", "missed_offers", "keep", None),
    (GONE, UP, "logged_out", "", "available", None),
    (GONE, UP, "logged_out", "", "login", "phone_back_login"),
    (DOWN, UP, "logged_out", "", "login", "phone_back_login"),  # first word at start-up
    (UP, BUSY, "logged_out", "", "login", None),                # not a return
    (UP, UP, "break", "missed_offers", "available", None),
    (P("unreachable"), BUSY, "break", "missed_offers", "pause", "phone_back"),
    (UP, GONE, "available", "", "pause", "phone_lost"),
    (UP, P("unreachable"), "available", "", "pause", "phone_lost"),
    (UP, GONE, "available", "", "available", None),
    (UP, GONE, "on_call", "", "pause", None),
    (DOWN, GONE, "available", "", "pause", None),              # never seen: not lost
])
def test_after_change(before: Phone, after: Phone, state: str, reason: str,
                      policy: ph.Policy, action: ph.Action) -> None:
    assert ph.after_change(before, after, state, reason, policy) == action


@pytest.mark.parametrize(("phone", "agent_state", "kept"), [
    (BUSY, "on_call", UP),                       # acd's own call
    (P("registered", "ringing"), "ringing", UP),
    (P("registered", "ringing"), "reserved", UP),
    (BUSY, "available", BUSY),                   # a call acd did not place
    (BUSY, "wrap_up", BUSY),
    (BUSY, "break", BUSY),
    (GONE, "on_call", GONE),
    (P("registered", "unavailable"), "on_call", P("registered", "unavailable")),
])
def test_own_calls_do_not_make_the_phone_busy(phone: Phone, agent_state: str,
                                              kept: Phone) -> None:
    assert ph.without_own_calls(phone, agent_state) == kept


SALES, SUPPORT = {"sales": 1}, {"support": 3}


@pytest.mark.parametrize(("skills", "own", "queues", "policy"), [
    ({"sales": 5}, "keep", [(SALES, "login")], "keep"),            # the agent's own wins
    ({"sales": 5}, None, [(SALES, "login")], "login"),             # their queue's
    ({"sales": 5}, None, [(SUPPORT, "pause"), (SALES, "login")], "login"),
    ({"support": 2}, None, [(SUPPORT, "pause")], "available"),     # cannot take it
    ({"sales": 5, "support": 5}, None, [(SUPPORT, "pause"), (SALES, "login")], "pause"),
    ({"sales": 5}, None, [(SALES, None)], "available"),            # the default
    ({}, None, [({}, "keep")], "keep"),                            # a queue with no skills
])
def test_effective_policy(skills: dict[str, int], own: ph.Policy | None,
                          queues: list[tuple[dict[str, int], ph.Policy | None]],
                          policy: str) -> None:
    assert ph.effective_policy(skills, own, queues, "available") == policy


@pytest.mark.parametrize(("cause", "early", "reason"), [
    (17, False, "busy"), (17, True, "busy"), (21, True, "rejected"),
    (19, False, "noanswer"), (19, True, "unreachable"),   # ring timeout vs SIP 480
    (1, True, "unreachable"), (34, True, "unreachable"), (38, False, "unreachable"),
    (18, True, "unreachable"), (44, False, "unreachable"), (None, True, "unreachable"),
])
def test_leg_failure(cause: int | None, early: bool, reason: str) -> None:
    assert ph.leg_failure(cause, early) == reason


# ------------------------------------------------ the Lua side agrees (phone_ok)


@pytest.mark.parametrize("riu", [False, True])
async def test_lua_offers_exactly_where_python_would(make_node: NodeFactory,
                                                     riu: bool) -> None:
    """One agent per (registration, device), all available; a call of a queue with
    ring_in_use `riu` is offered to each agent Python's `offerable` allows, never to
    another (dequeued and re-enqueued between agents)."""
    pairs = list(itertools.product(ph.REGISTRATIONS, ph.DEVICES))
    agents = [AgentDef(id=f"{r}-{d}", endpoint=f"PJSIP/{r}-{d}", skills={"en": 1},
                       order=i) for i, (r, d) in enumerate(pairs)]
    queue = QueueDef(name="q", skills={"en": 1}, strategy="top_down", ring_in_use=riu)
    clock = Clock()
    n = await make_node(agents=agents, queues=[queue], clock=clock)
    for (r, d), a in zip(pairs, agents, strict=True):
        await n.agents.phone_set(a.id, P(r, d), None)
        await n.agents.login(a.id)
    want = [a.id for (r, d), a in zip(pairs, agents, strict=True) if ph.offerable(P(r, d), riu)]
    assert n.offers == []  # nothing waits yet
    got: list[str] = []
    for i in range(len(agents)):
        await n.router.enqueue(QueueRequest(call_id=f"c{i}", queue="q",
                                            enqueued_at_ms=clock.ms()))
        if not n.offers:
            break
        got.append(n.offers.pop().agent_id)
    assert got == want


async def test_phone_back_makes_a_paused_agent_available_and_matches(
        make_node: NodeFactory) -> None:
    clock = Clock()
    n = await make_node(agents=[AgentDef(id="a1", endpoint="PJSIP/a1", skills={"en": 1})],
                        queues=[QueueDef(name="q", skills={"en": 1})], clock=clock)
    await n.agents.login("a1")
    view = await n.agents.phone_set("a1", GONE, None)
    assert view is not None and (view.state, view.phone) == ("available", "unregistered")
    await n.router.enqueue(QueueRequest(call_id="c1", queue="q", enqueued_at_ms=clock.ms()))
    assert n.offers == []  # its phone is gone
    await n.agents.apply("a1", {"ev": "break", "reason": "missed_offers"})
    view = await n.agents.phone_set("a1", UP, "phone_back")
    assert view is not None and (view.state, view.reason) == ("available", "phone_registered")
    view = await n.agents.get("a1")
    assert (view.state, view.phone) == ("reserved", "registered")
    assert [(c.state, c.reason) for c in n.changes[-2:]] == [
        ("available", "phone_registered"), ("reserved", None)]
    assert [o.agent_id for o in n.offers] == ["a1"]
    assert await n.agents.phone_set("nobody", UP, None) is None


# ------------------------------------------- events as they come off the wire

EP = {"technology": "PJSIP", "resource": "agent100", "state": "offline", "channel_ids": []}


@pytest.mark.parametrize(("raw", "name", "after"), [
    ({"type": "EndpointStateChange", "endpoint": EP}, "PJSIP/agent100", P("unregistered")),
    ({"type": "PeerStatusChange", "endpoint": EP, "peer": {"peer_status": "Unreachable"}},
     "PJSIP/agent100", P("unregistered")),
    ({"type": "ContactStatusChange", "endpoint": EP,
      "contact_info": {"contact_status": "Unreachable", "uri": "sip:x", "aor": "agent100"}},
     "PJSIP/agent100", P("unreachable")),
    ({"type": "DeviceStateChanged", "device_state": {"name": "PJSIP/agent100",
                                                     "state": "INUSE"}},
     "PJSIP/agent100", P("registered", "in_use")),
    # Hostile or broken input is ignored, never an error.
    ({"type": "DeviceStateChanged"}, None, None),
    ({"type": "DeviceStateChanged", "device_state": "INUSE"}, None, None),
    ({"type": "DeviceStateChanged", "device_state": {"name": 5, "state": "INUSE"}}, None, None),
    ({"type": "DeviceStateChanged", "device_state": {"name": "x" * 500, "state": "INUSE"}},
     None, None),
    ({"type": "EndpointStateChange", "endpoint": ["PJSIP"]}, None, None),
    ({"type": "EndpointStateChange", "endpoint": {"technology": "PJSIP"}}, None, None),
    ({"type": "PeerStatusChange", "endpoint": EP, "peer": "down"}, "PJSIP/agent100",
     P("registered")),
    ({"type": "ChannelCreated", "endpoint": EP}, None, None),
])
def test_parse_events(raw: dict[str, object], name: str | None, after: Phone | None) -> None:
    got_name, fold = PhoneWatcher._parse(raw)
    assert got_name == name
    if after is not None:
        assert fold(P("registered")) == after


@pytest.mark.parametrize(("last", "login", "reason"), [
    (None, False, None),                         # never seen: logged out
    (("logged_out", None), False, None),
    (("available", None), True, None),
    (("break", "lunch"), True, "lunch"),
    (("break", None), True, "break"),
    (("on_call", None), True, None),             # a call acd no longer holds
    (("wrap_up", None), True, None),
])
def test_restored_state(last: tuple[str, str | None] | None, login: bool,
                        reason: str | None) -> None:
    assert restored(last) == (login, reason)


# ------------------------------------- order of Asterisk's events (property test)

FOLDS = {"endpoint": ph.on_endpoint_state, "peer": ph.on_peer_status,
         "contact": ph.on_contact_status, "device": ph.on_device_state}
ANY_EVENT = st.one_of(
    st.tuples(st.just("endpoint"), st.sampled_from(["online", "offline", "unknown"])),
    st.tuples(st.just("peer"), st.sampled_from(["Reachable", "Unreachable"])),
    st.tuples(st.just("contact"), st.sampled_from(
        ["Reachable", "NonQualified", "Unknown", "Unreachable", "Removed"])),
    st.tuples(st.just("device"), st.sampled_from(list(ph.DEVICE_STATES))),
)
# What a real Asterisk 22 sends (tests/asterisk/test_phones.py): endpoint and peer
# first, then device state and contact in either order.
REGISTER = [("endpoint", "online"), ("peer", "Reachable")], [
    ("contact", "NonQualified"), ("device", "NOT_INUSE")]
UNREGISTER = [("endpoint", "offline"), ("peer", "Unreachable")], [
    ("contact", "Removed"), ("device", "UNAVAILABLE")]


def fold_all(p: Phone, events: list[tuple[str, str]]) -> Phone:
    for kind, value in events:
        p = FOLDS[kind](p, value)
    return p


@given(history=st.lists(ANY_EVENT, max_size=12), swap=st.booleans())
@settings(max_examples=300, deadline=None)
def test_whatever_came_before_a_registration_decides(history: list[tuple[str, str]],
                                                       swap: bool) -> None:
    """Whatever the phone went through, a registration leaves it offerable and an
    unregistration leaves it unregistered, in either order of the last two events."""
    before = fold_all(P(), history)
    for (head, tail), state in ((REGISTER, "registered"), (UNREGISTER, "unregistered")):
        after = fold_all(before, head + (tail[::-1] if swap else tail))
        assert ph.state_of(after) == state
        assert ph.offerable(after, False) is (state == "registered")
