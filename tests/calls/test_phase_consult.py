"""Table tests of attended transfers (acd.calls.phases.consult): consult, complete,
cancel, conference, escalate, and who may leave meanwhile (words:
tests/calls/driver.py)."""

from __future__ import annotations

import pytest

from acd.calls.model import CallSettings
from tests.calls.driver import AGENT_ENDS, CALLER_ENDS, CallDriver, check

SETTINGS = CallSettings(transfer_queues=(("sales", 0, True), ("supervisors", 0, True)))
RINGING = "CONNECTED; move consult to=agent:a101; reserved a101; stasis xfer1"
TALKING = f"{RINGING}; answer xfer1"
CONFERENCE = f"{TALKING}; move conference"

CASES = [
    ("CONNECTED", "move consult to=agent:a101", ["reserve a101"], "CONNECTED"),
    ("CONNECTED; move consult to=agent:a101", "reserved a101",
     ["reply ok state=ringing target=agent:a101", "moh on", "create xfer1 PJSIP/a101",
      "timer xfer:xfer1 20"], "CONNECTED"),
    ("CONNECTED", "move consult to=flow:billing", ["reply no bad_target"], "CONNECTED"),
    ("CONNECTED", "move consult to=queue:nope", ["reply no unknown_target"], "CONNECTED"),
    # Answered: the agent's leg to a consult bridge with the target; the caller on music.
    (RINGING, "answer xfer1",
     ["cancel xfer:xfer1", "answered a101", "bridge remove leg1", "bridge create consult",
      "bridge add leg1,xfer1", "event consult"], "CONNECTED"),
    (f"{TALKING}; bridged", "fresh xfer1", [], "CONNECTED"),  # not yet the caller's agent
    (TALKING, "move complete",
     ["event transfer", "event consult_end", "hangup leg1", "wrapup a100", "event complete",
      "bridge remove xfer1", "moh off", "bridge add xfer1", "bridge destroy", "event connect",
      "remember connected", "reply ok agent_id=a101 state=completed"], "CONNECTED"),
    (f"{TALKING}; move complete", "bridged", [], "CONNECTED"),  # answer already recorded
    (TALKING, "move cancel",
     ["hangup xfer1", "wrapup a101", "event complete", "bridge remove leg1", "bridge add leg1",
      "moh off", "bridge destroy", "event consult_end", "reply ok state=cancelled"],
     "CONNECTED"),
    (RINGING, "move cancel",
     ["hangup xfer1", "cancel xfer:xfer1", "dequeue", "moh off", "event consult_end",
      "reply ok state=cancelled"], "CONNECTED"),
    (f"{RINGING}; move cancel", "destroyed xfer1 16", ["row xfer1 cancelled 16"], "CONNECTED"),
    (TALKING, "move conference",
     ["bridge remove leg1,xfer1", "moh off", "bridge add leg1,xfer1", "bridge destroy",
      "event conference", "reply ok agent_id=a101 state=conference"], "CONNECTED"),
    ("CONNECTED", "move complete", ["reply no no_consult"], "CONNECTED"),
    ("CONNECTED", "move conference", ["reply no no_consult"], "CONNECTED"),
    ("CONNECTED", "move cancel", ["reply no no_consult"], "CONNECTED"),
    (RINGING, "move complete", ["reply no no_consult"], "CONNECTED"),
    # The target does not answer / is busy: the agent is still with the caller.
    (RINGING, "destroyed xfer1 17",
     ["cancel xfer:xfer1", "row xfer1 busy 17", "event busy", "offer-failed a101 busy",
      "event transfer", "moh off"], "CONNECTED"),
    # The target hangs up during the consult: the agent back with the caller.
    (TALKING, "hangup-req xfer1 16",
     ["wrapup a101", "event complete", "bridge remove leg1", "bridge add leg1", "moh off",
      "bridge destroy", "event consult_end"], "CONNECTED"),
    # The agent hangs up during the consult: the transfer completes.
    (TALKING, "hangup-req leg1 16",
     ["event transfer", "event consult_end", "wrapup a100", "event complete",
      "bridge remove xfer1", "moh off", "bridge add xfer1", "bridge destroy", "event connect",
      "remember connected"], "CONNECTED"),
    # The caller hangs up during the consult: it ends for everyone.
    (TALKING, "caller-hangup 16",
     ["hangup xfer1", "wrapup a101", "event complete", "bridge destroy", "event consult_end",
      "event transfer", *CALLER_ENDS], "ENDING"),
    # In a conference either agent may leave; the other stays with the caller.
    (CONFERENCE, "hangup-req leg1 16",
     ["wrapup a100", "event complete", "event connect", "remember connected"], "CONNECTED"),
    (CONFERENCE, "hangup-req xfer1 16", ["wrapup a101", "event complete"], "CONNECTED"),
    (f"{CONFERENCE}; hangup-req xfer1 16", "hangup-req leg1 16",
     AGENT_ENDS, "ENDING"),
    # Escalate: a consult with the first available supervisor, the reason written.
    ("CONNECTED", "move escalate reason=abusive", ["event escalate", "reserve "], "CONNECTED"),
    ("CONNECTED; move escalate reason=abusive", "reserved s1",
     ["reply ok state=ringing target=queue:supervisors", "moh on", "create xfer1 PJSIP/s1",
      "timer xfer:xfer1 20"], "CONNECTED"),
    ("CONNECTED; move escalate reason=abusive", "unreserved nobody_available",
     ["reply no target_unavailable"], "CONNECTED"),
]


@pytest.mark.parametrize(("setup", "script", "commands", "phase"), CASES,
                         ids=[f"{i}-{x[1]}" for i, x in enumerate(CASES)])
def test_attended_transfer(setup: str, script: str, commands: list[str], phase: str) -> None:
    check("plain", setup, script, commands, phase, settings=SETTINGS)


def test_the_consult_leg_row_says_attended() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(f"{TALKING}; move complete; hangup-req xfer1 16; destroyed leg1 16")
    d.run("destroyed xfer1 16")
    rows = d.rows
    legs = [r for r in rows if getattr(r, "kind", None) == "transfer"]
    assert [(r.detail, r.outcome) for r in legs] == [
        ({"target": "agent:a101", "mode": "attended"}, "answered")]
