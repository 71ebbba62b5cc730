"""Who ended a call and the Q.850 causes of its legs, for every way a call ends."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acd.calls.endings import Ending, agent_leg_cause, call_ending, q850


@pytest.mark.parametrize(("how", "outcome", "first", "reported", "expected"), [
    ("caller hangs up in the IVR", "ivr_hangup", "caller", 16, ("caller", 16)),
    ("caller hangs up in the IVR, StasisEnd the last word", "ivr_hangup", "caller", None,
     ("caller", 16)),
    ("the flow's hang-up node", "ivr_hangup", "acd", 16, ("acd", 16)),
    ("the flow's hang-up node, reason busy", "ivr_hangup", "acd", 17, ("acd", 17)),
    ("caller abandons in the queue (no cause)", "abandoned", "caller", None, ("caller", 16)),
    ("caller abandons while the agent rings (ARI says 0)", "abandoned", "caller", 0,
     ("caller", 16)),
    ("caller abandons, network cause kept", "abandoned", "caller", 127, ("caller", 127)),
    ("caller hangs up while talking", "answered", "caller", 16, ("caller", 16)),
    ("agent hangs up first; acd hangs up the caller (soft 32)", "answered", "agent", 32,
     ("agent", 16)),
    ("safety net ends a call that should be over", "answered", "acd", None, ("acd", 16)),
    ("both sides gone in a socket gap", "answered", None, None, ("unknown", 16)),
    ("both sides gone, recorded as unknown", "answered", "unknown", None, ("unknown", 16)),
    ("transferred by the flow, caller hangs up later", "transferred", "caller", 16,
     ("acd", 16)),
    ("sent to the dialplan after a failure", "failed", "acd", None, ("acd", 16)),
    ("caller asked for a callback and hung up", "callback", "caller", 16, ("caller", 16)),
    ("callback not picked up", "no_answer", "caller", 19, ("caller", 19)),
    ("voicemail left, caller hangs up", "voicemail", "caller", 16, ("caller", 16)),
    ("queue refused, flow hangs up", "ivr_hangup", "acd", 32, ("acd", 16)),
    ("a cause out of range", "abandoned", "caller", 200, ("caller", 16)),
    ("no outcome at all (written by the reaper)", None, None, None, ("unknown", 16)),
])
def test_call_ending(how: str, outcome: str | None, first: str | None, reported: int | None,
                     expected: tuple[str, int]) -> None:
    assert call_ending(outcome, first, reported) == Ending(*expected), how  # type: ignore[arg-type]


@pytest.mark.parametrize(("outcome", "reported", "cause"), [
    ("answered", 16, 16),
    ("answered", None, 16),
    ("answered", 32, 16),  # acd hung the agent up after the caller left
    ("answered", 0, 16),
    ("busy", None, 17),
    ("busy", 16, 17),
    ("noanswer", 19, 19),
    ("noanswer", None, 19),  # the ring guard hung it up
    ("rejected", 21, 21),
    ("answered_elsewhere", 26, 26),
    ("answered_elsewhere", 16, 26),
    ("unreachable", None, 20),
    ("unreachable", 3, 3),  # Asterisk's own cause (no route) is kept
    ("error", None, 41),  # acd could not reach Asterisk
    ("stale", 16, 16),
    ("abandoned", None, 16),
    ("abandoned", 0, 16),
    ("lost", None, 16),  # gone in a socket gap
    ("failed", None, 16),  # answered, but the bridge failed
    ("reaped", None, 16),
    (None, 0, 16),
])
def test_agent_leg_cause(outcome: str | None, reported: int | None, cause: int) -> None:
    assert agent_leg_cause(outcome, reported) == cause


@pytest.mark.parametrize(("reported", "valid"), [
    (None, None), (0, None), (32, None), (-1, None), (128, None), (1, 1), (16, 16),
    (31, 31), (127, 127)])
def test_q850(reported: int | None, valid: int | None) -> None:
    assert q850(reported) == valid


OUTCOMES = st.sampled_from([None, "answered", "abandoned", "ivr_hangup", "transferred",
                            "failed", "callback", "voicemail", "no_answer", "busy",
                            "noanswer", "rejected", "answered_elsewhere", "unreachable",
                            "error", "stale", "lost", "reaped", "whatever"])
CAUSES = st.one_of(st.none(), st.integers(min_value=-5, max_value=300))


@given(outcome=OUTCOMES, first=st.sampled_from([None, "caller", "agent", "acd", "unknown",
                                                 "nonsense"]), reported=CAUSES)
def test_every_ending_has_a_q850_cause_and_a_known_side(
        outcome: str | None, first: str | None, reported: int | None) -> None:
    ending = call_ending(outcome, first, reported)
    assert ending.ended_by in ("caller", "agent", "acd", "unknown")
    assert 1 <= ending.caller_cause <= 127 and ending.caller_cause != 32
    leg = agent_leg_cause(outcome, reported)
    assert 1 <= leg <= 127 and leg != 32
    if q850(reported) is not None and outcome not in (
            "busy", "noanswer", "no_answer", "rejected", "answered_elsewhere"):
        assert leg == reported  # what Asterisk said is kept when it is a cause
