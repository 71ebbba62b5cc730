"""Table tests of blind transfers (acd.calls.phases.transfer): the move, routing's
answer, the target's leg, and every way it fails (words: tests/calls/driver.py)."""

from __future__ import annotations

import pytest

from acd.calls.model import CallSettings
from tests.calls.driver import CALLER_ENDS, CallDriver, check

SETTINGS = CallSettings(transfer_queues=(("support", 5, True), ("sales", 0, True)),
                        agent_numbers=(("100", "a100"), ("101", "a101")))
TO_A101 = "CONNECTED; move transfer to=agent:a101"
RINGING = f"{TO_A101}; reserved a101; stasis xfer1"

CASES = [
    # An agent: routing reserves them, their phone rings, the caller hears music.
    ("CONNECTED", "move transfer to=agent:a101", ["reserve a101"], "CONNECTED"),
    (TO_A101, "reserved a101",
     ["reply ok state=ringing target=agent:a101", "moh on", "create xfer1 PJSIP/a101",
      "timer xfer:xfer1 20"], "CONNECTED"),
    (TO_A101, "unreserved on_call", ["reply no target_unavailable"], "CONNECTED"),
    ("CONNECTED", "move transfer to=agent:a100", ["reply no target_unavailable"], "CONNECTED"),
    (f"{TO_A101}; reserved a101", "stasis xfer1", ["dial xfer1", "ringing a101"], "CONNECTED"),
    # Answered: the first agent leaves to wrap-up, the target joins the bridge.
    (RINGING, "answer xfer1",
     ["cancel xfer:xfer1", "event transfer", "hangup leg1", "wrapup a100", "event complete",
      "moh off", "bridge add xfer1"], "CONNECTED"),
    (f"{RINGING}; answer xfer1", "bridged", ["answered a101"], "CONNECTED"),
    (f"{RINGING}; answer xfer1; bridged", "fresh xfer1",
     ["event connect", "remember connected"], "CONNECTED"),
    # Busy, no answer: back to the first agent (music off).
    (RINGING, "destroyed xfer1 17",
     ["cancel xfer:xfer1", "row xfer1 busy 17", "event busy", "offer-failed a101 busy",
      "event transfer", "moh off"], "CONNECTED"),
    (RINGING, "fire xfer:xfer1",
     ["hangup xfer1", "cancel xfer:xfer1", "row xfer1 noanswer 19", "event no_answer",
      "offer-failed a101 noanswer", "event transfer", "moh off"], "CONNECTED"),
    (RINGING, "fail Dial gone",
     ["hangup xfer1", "cancel xfer:xfer1", "row xfer1 error 41", "offer-failed a101 error",
      "event transfer", "moh off"], "CONNECTED"),
    # The first agent hangs up while the target rings: they wrap up, the caller waits.
    (RINGING, "hangup-req leg1 16", ["wrapup a100", "event complete"], "CONNECTED"),
    (f"{RINGING}; hangup-req leg1 16; destroyed leg1 16", "answer xfer1",
     ["cancel xfer:xfer1", "event transfer", "moh off", "bridge add xfer1"], "CONNECTED"),
    # ... and the target fails too: back to the head of the queue, on music.
    (f"{RINGING}; hangup-req leg1 16; destroyed leg1 16", "destroyed xfer1 17",
     ["cancel xfer:xfer1", "row xfer1 busy 17", "event busy", "offer-failed a101 busy",
      "event transfer", "bridge destroy", "adopt sales", "event enter"], "QUEUED"),
    # The caller hangs up while the target rings: everything stops, the target is freed.
    (RINGING, "caller-hangup 16",
     ["hangup xfer1", "cancel xfer:xfer1", "dequeue", "event transfer", *CALLER_ENDS],
     "ENDING"),
    # A queue: the agent leaves, the caller queues again on music.
    ("CONNECTED", "move transfer to=queue:support",
     ["event transfer", "reply ok state=queued target=queue:support", "hangup leg1",
      "wrapup a100", "event complete", "bridge destroy", "moh on", "enqueue support",
      "var ACD_QUEUE"], "QUEUED"),
    ("CONNECTED", "move transfer to=queue:nope", ["reply no unknown_target"], "CONNECTED"),
    # A flow: the agent leaves, the flow starts again.
    ("CONNECTED", "move transfer to=flow:t", ["load-flow t"], "CONNECTED"),
    ("CONNECTED; move transfer to=flow:t", "flow-loaded t",
     ["event transfer", "reply ok state=flow target=flow:t", "hangup leg1", "wrapup a100",
      "event complete", "bridge destroy", "play acd-welcome", "remember ivr"], "IVR"),
    ("CONNECTED; move transfer to=flow:nope", "flow-loaded nope", ["reply no unknown_target"],
     "CONNECTED"),
    # A number: the caller continues in the dialplan, the agent leaves.
    ("CONNECTED", "move transfer to=number:05551234",
     ["event transfer", "reply ok state=dialplan target=number:05551234", "hangup leg1",
      "wrapup a100", "event complete", "bridge destroy", "dialplan agents,05551234"], "IVR"),
    ("CONNECTED", "move transfer to=number:12x", ["reply no bad_target"], "CONNECTED"),
    ("CONNECTED", "move transfer to=fax:1", ["reply no bad_target"], "CONNECTED"),
    ("CONNECTED", "move transfer", ["reply no bad_target"], "CONNECTED"),
    # One at a time; only while connected.
    (TO_A101, "move transfer to=queue:sales", ["reply no transfer_in_progress"], "CONNECTED"),
    ("QUEUED", "move transfer to=queue:sales", ["reply no not_connected"], "QUEUED"),
    # The phone's REFER: progress at once, the end reported (its NOTIFY), the phone
    # hangs its leg up itself (acd only after a while).
    ("CONNECTED", "refer leg1 101", ["report leg1 progress", "reserve a101"], "CONNECTED"),
    ("CONNECTED; refer leg1 101; reserved a101; stasis xfer1", "answer xfer1",
     ["cancel xfer:xfer1", "event transfer", "report leg1 answered", "timer hangup:leg1 5",
      "wrapup a100", "event complete", "moh off", "bridge add xfer1"], "CONNECTED"),
    ("CONNECTED; refer leg1 101; reserved a101; stasis xfer1", "destroyed xfer1 17",
     ["cancel xfer:xfer1", "row xfer1 busy 17", "event busy", "offer-failed a101 busy",
      "event transfer", "report leg1 declined", "moh off"], "CONNECTED"),
    ("CONNECTED; refer leg1 101; reserved a101; stasis xfer1", "fire xfer:xfer1",
     ["hangup xfer1", "cancel xfer:xfer1", "row xfer1 noanswer 19", "event no_answer",
      "offer-failed a101 noanswer", "event transfer", "report leg1 unavailable", "moh off"],
     "CONNECTED"),
    ("CONNECTED; refer leg1 101", "unreserved on_call",
     ["report leg1 declined"], "CONNECTED"),  # no move to answer: only the phone is told
    ("CONNECTED", "refer leg1 05551234",
     ["report leg1 progress", "event transfer", "report leg1 answered",
      "timer hangup:leg1 5", "wrapup a100", "event complete", "bridge destroy",
      "dialplan agents,05551234"], "IVR"),
    ("CONNECTED", "refer leg1 8100", ["report leg1 progress", "load-flow #100"], "CONNECTED"),
    ("CONNECTED", "refer leg1 999", ["report leg1 declined"], "CONNECTED"),
    ("CONNECTED", "refer leg1 101 attended", ["report leg1 declined"], "CONNECTED"),
    ("RINGING", "refer leg1 101", ["report leg1 declined"], "OFFERING"),
]


@pytest.mark.parametrize(("setup", "script", "commands", "phase"), CASES,
                         ids=[f"{i}-{x[1]}" for i, x in enumerate(CASES)])
def test_blind_transfer(setup: str, script: str, commands: list[str], phase: str) -> None:
    check("plain", setup, script, commands, phase, settings=SETTINGS)


def test_a_transfer_to_a_number_writes_the_call_transferred() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run("CONNECTED; move transfer to=number:05551234; hangup-req leg1 32; destroyed leg1 16")
    out = d.run("stasis-end")
    assert "row call transferred acd 16" in out, out
    assert d.state.end_detail == "transfer:number"


def test_a_call_ending_before_routing_answers_still_answers_the_move() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(TO_A101)
    out = d.run("caller-hangup 16")
    assert out.count("reply no call_ended") == 1, out
    assert d.run("reserved a101") == ["offer-failed a101 rejected"]
