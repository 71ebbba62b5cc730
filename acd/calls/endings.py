"""How a call ended, in words and in Q.850 causes: pure decisions, no I/O.

Who ended the call (`ended_by`, written to the `calls` row and to the `complete`
queue event): the side acd saw leave first.

    caller   the caller hung up (in the IVR, waiting, while an agent rang, talking)
    agent    the agent hung up first on a connected call; acd then hung up the caller
    acd      acd ended it: the flow's hang-up node, a transfer, the dialplan
             fallback after a failure, the safety net of a call that should be over
    unknown  both sides were gone before acd could see who left first (their events
             were lost in a gap: a dropped events socket, acd down)

Hang-up causes are ITU-T Q.850 cause values on every leg, never NULL, 0 or 32:
ARI reports 0 when it knows no cause and, in a ChannelHangupRequest that the
application itself asked for, the soft-hangup flag (32, AST_SOFTHANGUP_EXPLICIT),
neither of which is a Q.850 cause.

    caller leg  the cause the network gave if it is a Q.850 cause, else 16 (normal
                clearing): a caller who hangs up, or whom acd hangs up, is cleared
                normally whatever ARI's soft-hangup code says.
    agent leg   busy 17, no answer 19, rejected 21, answered elsewhere 26 (these
                say what happened whatever ARI reported); otherwise the cause
                Asterisk gave if it is a Q.850 cause, else: unreachable 20
                (subscriber absent), acd's own failure 41 (temporary failure),
                anything else 16 (normal clearing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EndedBy = Literal["caller", "agent", "acd", "unknown"]
ENDED_BY: tuple[EndedBy, ...] = ("caller", "agent", "acd", "unknown")

NORMAL_CLEARING = 16
USER_BUSY = 17
NO_ANSWER = 19
SUBSCRIBER_ABSENT = 20
CALL_REJECTED = 21
ANSWERED_ELSEWHERE = 26
TEMPORARY_FAILURE = 41
# Not Q.850 causes, though ARI puts them where a cause goes.
NO_CAUSE = 0
SOFT_HANGUP = 32

# Agent-leg outcomes that say the cause by themselves.
_LEG_OUTCOME_CAUSE: dict[str, int] = {
    "busy": USER_BUSY, "noanswer": NO_ANSWER, "no_answer": NO_ANSWER,
    "rejected": CALL_REJECTED, "answered_elsewhere": ANSWERED_ELSEWHERE,
}
# The cause of an agent leg whose end Asterisk gave no Q.850 cause for.
_LEG_DEFAULT_CAUSE: dict[str, int] = {
    "unreachable": SUBSCRIBER_ABSENT, "error": TEMPORARY_FAILURE,
}


def q850(reported: int | None) -> int | None:
    """`reported` when it is a Q.850 cause value (1-127, not ARI's soft-hangup
    flag), else None."""
    if reported is None or not 1 <= reported <= 127 or reported == SOFT_HANGUP:
        return None
    return reported


@dataclass(frozen=True, slots=True)
class Ending:
    ended_by: EndedBy
    caller_cause: int  # Q.850


def call_ending(outcome: str | None, first: str | None, reported: int | None) -> Ending:
    """How a call ended. `outcome` is the call's; `first` the side acd saw leave
    first (caller, agent, acd, or None/unknown when it saw neither); `reported`
    the caller channel's cause as ARI gave it (or None)."""
    ended_by: EndedBy
    if outcome == "transferred":
        ended_by = "acd"  # acd sent the caller on, whatever came after
    elif first in ("caller", "agent", "acd"):
        ended_by = first  # type: ignore[assignment]
    else:
        ended_by = "unknown"
    return Ending(ended_by, q850(reported) or NORMAL_CLEARING)


def agent_leg_cause(outcome: str | None, reported: int | None) -> int:
    """The Q.850 cause of an agent leg that ended with `outcome`."""
    fixed = _LEG_OUTCOME_CAUSE.get(outcome or "")
    if fixed is not None:
        return fixed
    return q850(reported) or _LEG_DEFAULT_CAUSE.get(outcome or "", NORMAL_CLEARING)
