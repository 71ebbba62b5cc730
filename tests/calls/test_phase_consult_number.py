"""Table tests of a consult to an outside number (acd.calls.phases.consult): acd
rings a Local channel into the dialplan itself, routing is never asked (no reserve,
no ringing/answered/wrap-up/offer-failed for the outside party); answered, complete,
cancel, conference, no answer, busy, either party hanging up, and a restart
mid-consult (words: tests/calls/driver.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from acd.calls import commands as c
from acd.calls import move_record, rows
from acd.calls.model import CallSettings
from acd.calls.phases.consult import number_endpoint
from acd.calls.phases.control import available
from acd.store.rows import CallRow, LegRow, QueueEventRow
from tests.calls.driver import CallDriver
from tests.calls.test_readopt_moves import restart

SETTINGS = CallSettings(transfer_context="agents", number_ring_timeout=30)
ASKED = "CONNECTED; move consult to=number:0555"
RINGING = f"{ASKED}; stasis xfer1"
TALKING = f"{RINGING}; answer xfer1"
COMPLETED = f"{TALKING}; move complete; bridged"
CONFERENCE = f"{TALKING}; move conference"

CASES = [
    ("CONNECTED", "move consult to=number:0555",
     ["reply ok state=ringing target=number:0555", "moh on",
      "create xfer1 Local/0555@agents/n", "timer xfer:xfer1 35"], "CONNECTED"),
    ("CONNECTED", "move consult to=number:abc", ["reply no bad_target"], "CONNECTED"),
    ("CONNECTED", "move consult to=number:+4930123", [
        "reply ok state=ringing target=number:+4930123", "moh on",
        "create xfer1 Local/+4930123@agents/n", "timer xfer:xfer1 35"], "CONNECTED"),
    # In acd's app: dialled for the number's ring time; nobody told it rings.
    (ASKED, "stasis xfer1", ["dial xfer1"], "CONNECTED"),
    (RINGING, "ringing xfer1", [], "CONNECTED"),
    # Answered: agent and outside party in the consult bridge; no routing answer.
    (RINGING, "answer xfer1",
     ["cancel xfer:xfer1", "bridge remove leg1", "bridge create consult",
      "bridge add leg1,xfer1", "event consult"], "CONNECTED"),
    (TALKING, "answer xfer1", [], "CONNECTED"),  # Dial ANSWER after the state change
    # Complete: the outside party with the caller, the agent to wrap-up.
    (TALKING, "move complete",
     ["event transfer", "event consult_end", "hangup leg1", "wrapup a100", "event complete",
      "bridge remove xfer1", "moh off", "bridge add xfer1", "bridge destroy", "event connect",
      "remember connected", "reply ok agent_id=None state=completed"], "CONNECTED"),
    (f"{TALKING}; move complete", "bridged", [], "CONNECTED"),
    # Then no move needs an agent: there is none on the call.
    (COMPLETED, "smove listen endpoint=PJSIP/super1", ["reply no not_connected"], "CONNECTED"),
    (COMPLETED, "move hold", ["reply no not_connected"], "CONNECTED"),
    # ... then the caller or the outside party hangs up: the call ends (no wrap-up).
    (COMPLETED, "caller-hangup 16",
     ["timer reap 60", "cancel announce:1", "hangup xfer1", "bridge destroy",
      "remember ending"], "ENDING"),
    (COMPLETED, "hangup-req xfer1 16",
     ["timer reap 60", "hangup caller", "bridge destroy", "remember ending"], "ENDING"),
    # Cancel: answered (hung up, the agent back with the caller) or still ringing.
    (TALKING, "move cancel",
     ["hangup xfer1", "bridge remove leg1", "bridge add leg1", "moh off", "bridge destroy",
      "event consult_end", "reply ok state=cancelled"], "CONNECTED"),
    (RINGING, "move cancel",
     ["hangup xfer1", "cancel xfer:xfer1", "moh off", "event consult_end",
      "reply ok state=cancelled"], "CONNECTED"),
    (f"{RINGING}; move cancel", "destroyed xfer1 16", ["row xfer1 cancelled 16"], "CONNECTED"),
    # Conference: all three; either may leave.
    (TALKING, "move conference",
     ["bridge remove leg1,xfer1", "moh off", "bridge add leg1,xfer1", "bridge destroy",
      "event conference", "reply ok agent_id=None state=conference"], "CONNECTED"),
    (CONFERENCE, "hangup-req xfer1 16", [], "CONNECTED"),
    (CONFERENCE, "hangup-req leg1 16",
     ["wrapup a100", "event complete", "event connect", "remember connected"], "CONNECTED"),
    # No answer (acd's ring guard, or the dialplan's Dial giving up), busy: the agent
    # is still with the caller; the leg's row, the transfer event; no routing.
    (RINGING, "fire xfer:xfer1",
     ["hangup xfer1", "cancel xfer:xfer1", "row xfer1 noanswer 19", "event transfer",
      "moh off"], "CONNECTED"),
    (f"{RINGING}; ringing xfer1", "destroyed xfer1 19",
     ["cancel xfer:xfer1", "row xfer1 noanswer 19", "event transfer", "moh off"], "CONNECTED"),
    (RINGING, "destroyed xfer1 17",
     ["cancel xfer:xfer1", "row xfer1 busy 17", "event transfer", "moh off"], "CONNECTED"),
    # The outside party hangs up during the consult: the agent back with the caller.
    (TALKING, "hangup-req xfer1 16",
     ["bridge remove leg1", "bridge add leg1", "moh off", "bridge destroy",
      "event consult_end"], "CONNECTED"),
    # The agent hangs up during the consult: the outside party takes the caller.
    (TALKING, "hangup-req leg1 16",
     ["event transfer", "event consult_end", "wrapup a100", "event complete",
      "bridge remove xfer1", "moh off", "bridge add xfer1", "bridge destroy", "event connect",
      "remember connected"], "CONNECTED"),
    # The caller hangs up during the consult, or while the number rings.
    (TALKING, "caller-hangup 16",
     ["hangup xfer1", "bridge destroy", "event consult_end", "event transfer", "timer reap 60",
      "cancel announce:1", "hangup leg1", "bridge destroy", "wrapup a100", "event complete",
      "remember ending"], "ENDING"),
    (RINGING, "caller-hangup 16",
     ["hangup xfer1", "cancel xfer:xfer1", "event transfer", "timer reap 60",
      "cancel announce:1", "hangup leg1", "bridge destroy", "wrapup a100",
      "event complete", "remember ending"], "ENDING"),
    # The consult leg could not be made: the agent still with the caller.
    (ASKED, "fail CreateChannel refused",
     ["cancel xfer:xfer1", "row xfer1 error 41", "event transfer", "moh off"],
     "CONNECTED"),
]


@pytest.mark.parametrize(("setup", "script", "commands", "phase"), CASES,
                         ids=[f"{i}-{x[1]}" for i, x in enumerate(CASES)])
def test_consult_to_a_number(setup: str, script: str, commands: list[str], phase: str) -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(setup)
    assert d.run(script) == commands
    assert d.phase.name == phase


def _rows(d: CallDriver) -> list[object]:
    return [cmd.row for cmd in d.history if isinstance(cmd, c.WriteRow)]


def test_routing_never_hears_of_the_outside_party() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(f"{COMPLETED}; hangup-req xfer1 16; destroyed xfer1 16; destroyed leg1 16; "
          "caller-destroyed 16")
    routing = [cmd for cmd in d.history
               if isinstance(cmd, c.ReserveAgent | c.OfferRinging | c.RecordAnswer
                             | c.CallEnded | c.OfferFailed | c.Dequeue)]
    assert [getattr(cmd, "offer", None) and cmd.offer.agent_id  # type: ignore[union-attr]
            for cmd in routing] == ["a100", "a100", "a100"]  # ringing, answered, wrap-up


def test_the_call_is_written_once_for_the_first_agent() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(f"{COMPLETED}; hangup-req xfer1 16; destroyed xfer1 16; destroyed leg1 16; "
          "caller-destroyed 16")
    rows = _rows(d)
    calls = [r for r in rows if isinstance(r, CallRow)]
    assert [(r.outcome, r.agent_id) for r in calls] == [("answered", "a100")]
    legs = {r.kind: r for r in rows if isinstance(r, LegRow)}
    xfer = legs["transfer"]
    assert (xfer.agent_id, xfer.outcome, xfer.detail, xfer.endpoint) == (
        None, "answered", {"target": "number:0555", "mode": "attended"},
        "Local/0555@agents/n")
    assert legs["caller"].agent_id == "a100"
    events = [(r.event, r.agent_id, (r.detail or {}).get("target_agent"))
              for r in rows if isinstance(r, QueueEventRow)]
    assert ("consult", "a100", None) in events
    assert ("connect", None, None) in events  # the outside party took the caller
    assert [x for x in events if x[0] == "complete"] == [("complete", "a100", None)]
    assert d.phase.name == "ENDED"


def test_a_call_handed_to_a_number_offers_no_moves() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(TALKING)
    assert {"complete", "cancel", "conference"} <= available(d.state)
    d.run("move complete; bridged")
    assert available(d.state) == {"status"}


def test_the_endpoint_names_the_transfer_context() -> None:
    assert number_endpoint("0555", "outbound") == "Local/0555@outbound/n"


# ---------------------------------------------------------------- a restart
# (restart: the record's fields, the adoption, its first events; tests/calls/
# test_readopt_moves.py)


def test_a_restart_mid_consult_ends_the_consult() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(TALKING)
    moves = move_record.decode(move_record.encode(d.state))
    assert moves.target is not None and moves.target.offer is None  # an outside party
    assert restart(d) == ["hangup xfer1", "bridge remove leg1", "bridge add leg1", "moh off",
                          "bridge destroy", "event consult_end"]
    assert d.state.transfer is None and d.state.connected == d.chan("leg1")
    assert d.run("destroyed xfer1 16") == ["row xfer1 answered 16"]


def test_a_restart_while_the_number_rings_cancels_it() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(RINGING)
    assert restart(d) == ["hangup xfer1", "moh off", "event consult_end"]  # no dequeue
    assert d.run("destroyed xfer1 16") == ["row xfer1 cancelled 16"]


def test_a_restart_finding_the_outside_party_gone() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(TALKING)
    assert restart(d, ("xfer1",)) == [
        "bridge remove leg1", "bridge add leg1", "moh off", "bridge destroy",
        "event consult_end", "row xfer1 answered 16"]


AFTER = f"{COMPLETED}; destroyed leg1 16"  # the first agent's leg ended too


@pytest.mark.parametrize("setup", [COMPLETED, AFTER])
def test_a_restart_after_complete_keeps_the_caller_with_the_outside_party(setup: str) -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(setup)
    record = rows.record_fields(d.state, d.ms)
    assert (record["leg_channel"], record["agent_left"]) == (d.chan("leg1"), 1)
    assert restart(d) == []
    assert d.state.connected == d.chan("xfer1") and d.state.answer_recorded
    out = d.run("hangup-req xfer1 16")
    assert out == ["timer reap 60", "hangup caller", "bridge destroy", "remember ending"]
    d.run("destroyed xfer1 16; caller-destroyed 16" + (
        "; destroyed leg1 16" if setup == COMPLETED else ""))
    assert d.phase.name == "ENDED"
    summaries = [d.summary(x) for x in d.history]
    assert summaries.count("row leg1 answered 16") == 1
    assert summaries.count("wrapup a100") == 1  # before the restart only
    (call,) = [r for r in _rows(d) if isinstance(r, CallRow)]
    assert (call.outcome, call.agent_id) == ("answered", "a100")


def test_a_restart_after_complete_finding_the_outside_party_gone_ends_the_call() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(AFTER)
    out = restart(d, ("xfer1",))
    assert out == ["row xfer1 answered 16", "timer reap 60", "hangup caller",
                   "bridge destroy", "remember ending"]
    assert d.run("caller-destroyed 16")[-2:] == ["forget", "finished"]
    (call,) = [r for r in _rows(d) if isinstance(r, CallRow)]
    assert (call.outcome, call.agent_id) == ("answered", "a100")


def test_recovery_after_complete_writes_the_outside_party_and_the_first_agent() -> None:
    """Caller and outside party both left while acd was down: recovery writes the
    outside party's leg (no agent) and the call for the first agent; no wrap-up."""
    from tests.calls.ports import PortWorld
    from tests.calls.test_machine_property import FLOWS

    d = CallDriver(settings=SETTINGS)
    d.run(AFTER)
    record = {k: str(v) for k, v in rows.record_fields(d.state, d.ms).items()}
    w = PortWorld(FLOWS["plain"], lambda cmd, family: None)
    w.now = d.now + timedelta(minutes=10)
    assert w.recover(record)
    legs = [r for r in w.rows if isinstance(r, LegRow)]
    assert [(r.kind, r.agent_id, r.outcome) for r in legs if r.kind != "caller"] == [
        ("transfer", None, "answered")]
    (call,) = [r for r in w.rows if isinstance(r, CallRow)]
    assert (call.outcome, call.agent_id) == ("answered", "a100")
