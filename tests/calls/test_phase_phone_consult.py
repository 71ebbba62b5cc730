"""Table tests of the attended transfer from the agent's own phone
(acd.calls.phases.phone_consult): the phone's second call to a colleague becomes a
consult of its acd call, its REFER with Replaces completes it (words:
tests/calls/driver.py; `phone2` is the phone's second call)."""

from __future__ import annotations

import pytest

from acd.calls.model import CallSettings
from acd.store.rows import CallRow, LegRow, QueueEventRow
from tests.calls.driver import CALLER_ENDS, CallDriver, check

SETTINGS = CallSettings(agent_numbers=(("100", "a100"), ("150", "a150")))
RINGING = "CONNECTED; phone-hold leg1; phone-call phone2 150; reserved a150; stasis xfer1"
TALKING = f"{RINGING}; answer xfer1"
REFER = "refer leg1 150 attended replaces=phone2"

CASES = [
    # The phone dials a colleague during its acd call: routing reserves them.
    ("CONNECTED", "phone-call phone2 150", ["reserve a150"], "CONNECTED"),
    ("CONNECTED; phone-call phone2 150", "reserved a150",
     ["moh on", "create xfer1 PJSIP/a150", "timer xfer:xfer1 20"], "CONNECTED"),
    # Not available, not a colleague's number, the agent themself: the 2nd call is let go.
    ("CONNECTED; phone-call phone2 150", "unreserved busy", ["hangup phone2"], "CONNECTED"),
    ("CONNECTED", "phone-call phone2 199", ["hangup phone2 busy"], "CONNECTED"),
    ("CONNECTED", "phone-call phone2 100", ["hangup phone2 busy"], "CONNECTED"),
    ("CONNECTED; move consult to=agent:a150", "phone-call phone2 150", ["hangup phone2 busy"],
     "CONNECTED"),
    ("QUEUED", "phone-call phone2 150", ["hangup phone2 busy"], "QUEUED"),
    # The colleague's phone rings: so does the agent's phone (its own ringback), once.
    (RINGING, "ringing xfer1", ["ringback phone2"], "CONNECTED"),
    (f"{RINGING}; ringing xfer1", "ringing xfer1", [], "CONNECTED"),
    # A desktop consult has no second call of the phone's to ring.
    ("CONNECTED; move consult to=agent:a150; reserved a150; stasis xfer1", "ringing xfer1",
     [], "CONNECTED"),
    # Answered: the phone's 2nd call answered and bridged with the colleague; the
    # agent's first leg stays in the call's bridge (the caller on hold).
    (RINGING, "answer xfer1",
     ["cancel xfer:xfer1", "answered a150", "answer", "bridge create consult",
      "bridge add phone2,xfer1", "event consult"], "CONNECTED"),
    (f"{TALKING}; bridged", "fresh xfer1", [], "CONNECTED"),
    # The phone's transfer button (REFER with Replaces naming the 2nd call): done like
    # the desktop's complete; the phone told (NOTIFY 200) and hangs up its first call.
    (TALKING, REFER,
     ["event transfer", "event consult_end", "report leg1 answered", "unhold caller music",
      "event unhold transfer", "timer hangup:leg1 5", "wrapup a100", "event complete",
      "bridge remove xfer1", "moh off", "bridge add xfer1", "bridge destroy",
      "event connect", "remember connected", "hangup phone2"], "CONNECTED"),
    (f"{TALKING}; {REFER}", "hangup-req leg1 16", [], "CONNECTED"),
    (f"{TALKING}; {REFER}", "fire hangup:leg1", ["hangup leg1"], "CONNECTED"),
    (f"{TALKING}; {REFER}", "phone-gone phone2", [], "CONNECTED"),
    # A REFER naming another dialog, or with no consult: the phone is told no.
    (TALKING, "refer leg1 150 attended replaces=phone9", ["report leg1 declined"],
     "CONNECTED"),
    ("CONNECTED", REFER, ["report leg1 declined"], "CONNECTED"),
    # Transferred while the colleague still rings: they take the caller on answer.
    (RINGING, REFER, ["report leg1 progress", "hangup phone2"], "CONNECTED"),
    (f"{RINGING}; {REFER}", "phone-gone phone2", [], "CONNECTED"),
    (f"{RINGING}; {REFER}", "answer xfer1",
     ["cancel xfer:xfer1", "event transfer", "report leg1 answered", "timer hangup:leg1 5",
      "wrapup a100", "event complete", "moh off", "bridge add xfer1"], "CONNECTED"),
    (f"{RINGING}; {REFER}", "destroyed xfer1 17",
     ["cancel xfer:xfer1", "row xfer1 busy 17", "event busy", "offer-failed a150 busy",
      "event transfer", "report leg1 declined", "moh off"], "CONNECTED"),
    # The agent hangs the 2nd call up before transferring: back to the caller on hold.
    (TALKING, "phone-gone phone2",
     ["hangup xfer1", "wrapup a150", "event complete", "moh off", "bridge destroy",
      "event consult_end"], "CONNECTED"),
    (RINGING, "phone-gone phone2",
     ["hangup xfer1", "cancel xfer:xfer1", "dequeue", "moh off", "event consult_end"],
     "CONNECTED"),
    # The colleague is busy, does not answer, hangs up during the consult.
    (RINGING, "destroyed xfer1 17",
     ["cancel xfer:xfer1", "row xfer1 busy 17", "event busy", "offer-failed a150 busy",
      "event transfer", "moh off", "hangup phone2"], "CONNECTED"),
    (RINGING, "fire xfer:xfer1",
     ["hangup xfer1", "cancel xfer:xfer1", "row xfer1 noanswer 19", "event no_answer",
      "offer-failed a150 noanswer", "event transfer", "moh off", "hangup phone2"],
     "CONNECTED"),
    (TALKING, "hangup-req xfer1 16",
     ["wrapup a150", "event complete", "moh off", "bridge destroy", "event consult_end",
      "hangup phone2"], "CONNECTED"),
    # The caller hangs up during it: everything ends, the 2nd call too.
    (TALKING, "caller-hangup 16",
     ["hangup xfer1", "wrapup a150", "event complete", "bridge destroy", "event consult_end",
      "event transfer", *CALLER_ENDS, "hangup phone2"], "ENDING"),
    (RINGING, "caller-hangup 16",
     ["hangup xfer1", "cancel xfer:xfer1", "dequeue", "event transfer", *CALLER_ENDS,
      "hangup phone2"], "ENDING"),
    # The desktop's moves on a phone consult: cancel works, conference is refused.
    (TALKING, "move cancel",
     ["hangup xfer1", "wrapup a150", "event complete", "moh off", "bridge destroy",
      "event consult_end", "reply ok state=cancelled", "hangup phone2"], "CONNECTED"),
    (TALKING, "move conference", ["reply no phone_consult"], "CONNECTED"),
    # The call ended before its agent's phone call to a colleague came in.
    ("CONNECTED; caller-hangup 16; destroyed leg1 16; caller-destroyed 16",
     "phone-call phone2 150", ["hangup phone2 busy"], "ENDED"),
]


@pytest.mark.parametrize(("setup", "script", "commands", "phase"), CASES)
def test_phone_consult(setup: str, script: str, commands: list[str], phase: str) -> None:
    check("plain", setup, script, commands, phase, settings=SETTINGS)


def test_a_completed_phone_transfer_writes_the_colleague_as_the_calls_agent() -> None:
    d = CallDriver(settings=SETTINGS)
    d.run(f"{TALKING}; bridged; fresh xfer1; {REFER}; bridged")
    d.run("hangup-req leg1 16; destroyed leg1 16; phone-gone phone2")
    d.run("tick 10; caller-hangup 16; destroyed xfer1 16; caller-destroyed 16")
    rows = d.rows
    calls = [r for r in rows if isinstance(r, CallRow)]
    assert len(calls) == 1 and calls[0].agent_id == "a150", calls
    legs = [(r.agent_id, r.kind, r.outcome, r.detail) for r in rows if isinstance(r, LegRow)]
    assert ("a150", "transfer", "answered", {"target": "agent:a150", "mode": "attended"}) \
        in legs
    events = [(r.event, r.detail.get("via"), r.detail.get("result"), r.detail.get("mode"))
              for r in rows if isinstance(r, QueueEventRow)
              and r.event in ("consult", "consult_end", "transfer")]
    assert events == [("consult", "phone", None, None),
                      ("transfer", "phone", "completed", "attended"),
                      ("consult_end", None, "completed", None)]
