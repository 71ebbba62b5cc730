"""Table tests for the pure re-adoption (acd.calls.adoption): what a restarted acd
makes of a call from its record, or from its caller's channel variables."""

from __future__ import annotations

from datetime import timedelta

import pytest

from acd.calls import events as e
from acd.calls import rows
from acd.calls.adoption import adopted, base_state, from_variables
from acd.calls.model import CallSettings, CallState, Phase
from tests.calls.driver import CALL_ID, CALLER, FLOW, CallDriver, ended, offer

NOW = 1_800_000_000_000
LEG = "acd-c0ffee0123456789-2"
CONNECTED = {"call_id": CALL_ID, "phase": "connected", "offer": offer("a101", 2).model_dump_json(),
             "leg_id": f"{CALL_ID}-2", "leg_channel": LEG, "leg_started_ms": "1000",
             "leg_answered_ms": "2000", "answered_ms": "2000", "bridge_id": "b1",
             "started_ms": "500"}


def base(record: dict[str, str]) -> CallState:
    return base_state(record, CALLER, fallback_id="new", caller_number="5551234",
                      caller_name="", exten="100", language="", settings=CallSettings(),
                      now_ms=NOW)


@pytest.mark.parametrize(("record", "live", "phase", "first", "from_start", "legs", "hold"), [
    ({"call_id": CALL_ID, "phase": "ivr"}, {CALLER}, Phase.IVR, None, True, (), None),
    ({}, {CALLER}, Phase.IVR, None, True, (), None),
    ({"call_id": CALL_ID, "phase": "queued"}, {CALLER}, Phase.IVR, None, True, (), None),
    ({"call_id": CALL_ID, "phase": "queued", "queue": "sales", "enqueued_ms": "700"},
     {CALLER}, Phase.QUEUED, e.Requeue(), False, (), None),
    ({"call_id": CALL_ID, "phase": "offering", "queue": "sales"}, {CALLER, LEG},
     Phase.QUEUED, e.Requeue(), False, (), None),
    (CONNECTED, {CALLER, LEG}, Phase.CONNECTED, None, False, (LEG,), "a101"),
    (CONNECTED, {CALLER}, Phase.CONNECTED, e.Vanished(frozenset({LEG})), False, (), "a101"),
    ({**CONNECTED, "offer": ""}, {CALLER, LEG}, Phase.IVR, None, True, (), None),
])
def test_adopted(record: dict[str, str], live: set[str], phase: Phase, first: e.Event | None,
                 from_start: bool, legs: tuple[str, ...], hold: str | None) -> None:
    a = adopted(base(record), record, live, NOW)
    assert (a.state.phase, a.first, a.from_start, a.legs) == (phase, first, from_start, legs)
    assert (a.hold.agent_id if a.hold else None) == hold


def test_adopted_connected_state() -> None:
    st = adopted(base(CONNECTED), CONNECTED, {CALLER, LEG}, NOW).state
    leg = st.connected_leg
    assert leg is not None
    assert (leg.leg_id, leg.channel_id, leg.agent_id, leg.started_ms, leg.answered_ms) == (
        f"{CALL_ID}-2", LEG, "a101", 1000, 2000)
    assert (st.started_ms, st.answered_ms, st.bridge_id, st.queue, st.attempts) == (
        500, 2000, "b1", "sales", 2)


@pytest.mark.parametrize(("record", "call_id", "started", "language"), [
    ({}, "new", NOW, "en"),
    ({"call_id": "x", "started_ms": "5"}, "x", 5, "en"),
])
def test_base_state(record: dict[str, str], call_id: str, started: int, language: str) -> None:
    st = base(record)
    assert (st.call_id, st.started_ms, st.language, st.dialled) == (
        call_id, started, language, "100")


@pytest.mark.parametrize(("call_id", "queued", "record"), [
    (None, None, {}),
    ("c1", None, {"call_id": "c1"}),
    ("c1", "sales:700", {"call_id": "c1", "phase": "queued", "queue": "sales",
                         "enqueued_ms": "700"}),
    ("c1", "a:b:700", {"call_id": "c1", "phase": "queued", "queue": "a:b",
                       "enqueued_ms": "700"}),
    ("c1", "sales:", {"call_id": "c1"}),
    ("c1", "sales", {"call_id": "c1"}),
    ("", ":700", {}),
])
def test_from_variables(call_id: str | None, queued: str | None, record: dict[str, str]
                        ) -> None:
    assert from_variables(call_id, queued) == record


def test_readopted_waiting_caller_leaving_the_queue_goes_to_the_dialplan() -> None:
    """Found by the restart property: no IVR to go on with, the caller was left in
    silence when routing let the call go."""
    d = CallDriver(FLOW)
    record = {"call_id": CALL_ID, "phase": "queued", "queue": "sales", "enqueued_ms": "7"}
    d.state = adopted(base(record), record, {CALLER}, NOW).state
    # (hold: a re-adopted waiting caller is unmuted once, held before or not)
    assert d.send(e.Requeue()) == ["moh on", "adopt sales", "unhold caller unmute"]
    assert d.run("left max_wait") == ["moh off", "event exit", "remember ivr", "dialplan"]
    assert d.phase is Phase.IVR


# ------------------------------------- #12 A: leg ids never repeat across processes

@pytest.mark.parametrize(("made", "attempt", "leg"), [
    ("", 1, 1),  # nothing known: the first leg
    ("1", 1, 2),  # the record counts a leg the earlier process made
    ("", 2, 2),  # routing's attempt (it keeps counting across the restart)
    ("3", 2, 4),
    ("2", 5, 5),
])
def test_readopted_queued_call_numbers_its_legs_on(made: str, attempt: int, leg: int) -> None:
    """Found by the restart property: rejected leg -1, restart, the next offer made
    leg -1 again (its row dropped by the writer)."""
    d = CallDriver(FLOW)
    record = {"call_id": CALL_ID, "phase": "queued", "queue": "sales", "attempts": made}
    d.state = adopted(base(record), record, {CALLER}, NOW).state
    d.send(e.Requeue())
    out = d.run(f"offer a100 {attempt}")
    assert f"create leg{leg} PJSIP/a100" in out
    assert d.state.legs[-1].leg_id == f"{CALL_ID}-{leg}"


def test_rejected_leg_then_restart_makes_a_new_leg_id() -> None:
    """The deterministic example of #12: offer, leg rejected (17), restart, requeue,
    offer again (routing's attempt 2): two different agent leg rows."""
    d = CallDriver(FLOW)
    d.run("QUEUED; offer a100 1; stasis leg1; destroyed leg1 17")
    record = {k: str(v) for k, v in rows.record_fields(d.state, NOW).items()}
    first = [x.leg_id for x in d.state.legs]
    d.state = adopted(base(record), record, {CALLER}, NOW).state
    d.send(e.Requeue())
    d.run("offer a100 2")
    assert first == [f"{CALL_ID}-1"]
    assert [x.leg_id for x in d.state.legs] == [f"{CALL_ID}-2"]


# ------------------------- #12 C: a call re-adopted while ending ends only once

AGENT_LEFT = "CONNECTED; hangup-req leg1 16"
LEG_GONE = "CONNECTED; hangup-req leg1 16; destroyed leg1 16"


@pytest.mark.parametrize(("script", "live", "out"), [
    # The leg's row is written: only the caller is hung up and the call written.
    (LEG_GONE, {CALLER}, ["hangup caller", "timer reap 60", *ended("answered", "agent")]),
    # The leg's row not yet: the leg is ended (its row) with the caller.
    (AGENT_LEFT, {CALLER}, ["hangup leg1", "row leg1 answered 16", "remember ending",
                            "hangup caller", "timer reap 60", *ended("answered", "agent")]),
    (AGENT_LEFT, {CALLER, LEG}, ["hangup leg1", "row leg1 answered 16", "remember ending",
                                 "hangup caller", "timer reap 60", *ended("answered", "agent")]),
])
def test_readopted_ending_call_ends_once(script: str, live: set[str], out: list[str]) -> None:
    """Found by the restart property: re-adopted as connected, the call wrote its
    leg row and its `complete` event a second time."""
    d = CallDriver(FLOW)
    d.run(script)
    record = {k: str(v) for k, v in rows.record_fields(d.state, NOW).items()}
    assert record["phase"] == "ending"
    a = adopted(base(record), record, live, NOW)
    assert (a.first, a.hold) == (e.Reap(), None)
    d.state = a.state
    assert d.send(e.Reap()) == out
    assert "event complete" not in out and "wrapup a100" not in out
    assert d.state.ended_ms == int(record["ended_ms"])


def test_readopted_ending_call_ends_the_agents_leg_when_the_agent_hung_up() -> None:
    """The agent hung up, acd died before the leg's channel ended: the restarted acd
    ends the leg at the agent's hang-up (Leg.hung_up_ms, kept in the record), not
    when it found the channel gone."""
    d = CallDriver(FLOW)
    d.run(AGENT_LEFT)
    leg = d.state.connected_leg
    assert leg is not None and leg.hung_up_ms == d.ms
    hung_up = d.ms
    record = {k: str(v) for k, v in rows.record_fields(d.state, d.ms).items()}
    assert record["leg_hung_up_ms"] == str(hung_up)
    d.run("tick 40")  # acd down for 40 s
    d.state = adopted(base(record), record, {CALLER}, d.ms).state
    d.send(e.Reap())
    (ended,) = [x for x in d.state.legs if x.leg_id == leg.leg_id]
    assert ended.ended_ms == hung_up and d.ms - hung_up == 40_000


def test_recovery_ends_the_agents_leg_when_the_agent_hung_up() -> None:
    """The same when the caller left too while acd was down: recovery writes the
    agent's leg ended at their hang-up."""
    from acd.store.rows import LegRow
    from tests.calls.ports import PortWorld
    from tests.calls.test_machine_property import FLOWS

    d = CallDriver(FLOW)
    d.run(AGENT_LEFT)
    leg = d.state.connected_leg
    assert leg is not None and leg.hung_up_ms is not None
    d.run("tick 5")  # acd was last seen 5 s after the hang-up, then died
    record = {k: str(v) for k, v in rows.record_fields(d.state, d.ms).items()}
    w = PortWorld(FLOWS["plain"], lambda cmd, family: None)
    w.now = d.now + timedelta(minutes=10)  # acd came back 10 min later
    assert w.recover(record)
    (row,) = [r for r in w.rows if isinstance(r, LegRow) and r.leg_id == leg.leg_id]
    assert row.ended_at == rows.ts(leg.hung_up_ms) and d.ms - leg.hung_up_ms == 5000
