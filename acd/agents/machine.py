r"""The agent state machine, pure: `step(status, event, now_ms, max_missed)`.

    logged_out -> available -> reserved -> ringing -> on_call -> wrap_up -> available
                     ^  \-> break(reason) -/                     |
                     \-----------------------------------------/

Every transient state (reserved, ringing, wrap_up) carries a deadline; `Expire`
past it returns the agent to available, so none can stick. on_call carries one
too: the node owning the call pushes it (`Renew`) while it lives; past it the
agent is orphaned: `Expire(deadline_ms)` starts a wrap-up until `deadline_ms`
(the queue's wrap-up), or makes them available when that is already past, both
with reason "orphaned" (kept until the agent's next change). Offers the agent let
fail are counted; after `max_missed` in a row the agent is paused with reason
"missed_offers". Router events carry the reservation id and are ignored when it
is not the agent's current one, so replays and stale reports are harmless.

The Lua scripts (acd/routing/lua/_lib.lua, `agent_step`) implement the same
table; tests/routing/test_machine.py runs every transition through both.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from acd.agents.model import MISSED_OFFERS, ORPHANED, TIMED_STATES, AgentState
from acd.agents.phone import AUTO_BREAKS, PHONE_BACK, PHONE_LOST
from acd.errors import Conflict

BUSY: frozenset[str] = frozenset({"reserved", "ringing", "on_call"})


@dataclass(frozen=True, slots=True)
class Status:
    state: AgentState = "logged_out"
    reason: str = ""
    since_ms: int = 0
    missed: int = 0
    call: str = ""
    reservation: str = ""
    deadline_ms: int = 0


# ------------------------------------------------------------------ events


@dataclass(frozen=True, slots=True)
class Login:
    reason: str = ""  # given: logged in but on break with this reason


@dataclass(frozen=True, slots=True)
class Logout:
    pass


@dataclass(frozen=True, slots=True)
class MakeAvailable:
    pass


@dataclass(frozen=True, slots=True)
class Break:
    reason: str


@dataclass(frozen=True, slots=True)
class Reserve:
    call: str
    reservation: str
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class Ringing:
    reservation: str
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class Answered:
    reservation: str
    deadline_ms: int  # on_call until then unless renewed


@dataclass(frozen=True, slots=True)
class Renew:
    reservation: str
    deadline_ms: int  # the owner of the call lives: on_call until then (no change row)


@dataclass(frozen=True, slots=True)
class Failed:
    reservation: str
    counted: bool = True


@dataclass(frozen=True, slots=True)
class Released:
    reservation: str


@dataclass(frozen=True, slots=True)
class Ended:
    reservation: str
    deadline_ms: int  # end of wrap-up; <= now means straight back to available


@dataclass(frozen=True, slots=True)
class PhoneBack:
    """The phone registered again (acd.agents.phone.after_change): an agent on a
    break acd gave (missed offers, phone lost) is available again; with `login`, a
    logged-out agent is logged in. Reason "phone_registered"."""

    login: bool = False


@dataclass(frozen=True, slots=True)
class PhoneLost:
    """The phone went away: an available agent goes on break ("phone_lost")."""


@dataclass(frozen=True, slots=True)
class Expire:
    deadline_ms: int = 0  # end of the wrap-up of an orphaned on_call agent


Event = (
    Login | Logout | MakeAvailable | Break | Reserve | Ringing | Answered | Renew | Failed
    | Released | Ended | Expire | PhoneBack | PhoneLost
)


@dataclass(frozen=True, slots=True)
class Transition:
    status: Status
    changed: bool  # the state or reason changed (an AgentStateChange is due)


CONFLICTS: dict[str, str] = {
    "busy": "agent {agent} is {state}; wait until the call is over",
    "logged_out": "agent {agent} is logged out; log in first",
    "no_reason": "agent {agent}: a break needs a reason",
    "not_available": "agent {agent} is {state}, not available",
}


def conflict_message(code: str, agent: str, state: str) -> str:
    """The words for a refused transition (shared by the machine and the Lua side)."""
    template = CONFLICTS.get(code, "agent {agent} cannot do that while {state}")
    return template.format(agent=agent, state=state.replace("_", " "))


def _conflict(code: str, agent: str, s: Status) -> Conflict:
    return Conflict(conflict_message(code, agent, s.state), agent_id=agent, state=s.state,
                    code=code)


def _to(s: Status, state: AgentState, now_ms: int, **kw: object) -> Status:
    fields: dict[str, object] = {"state": state, "reason": "", "since_ms": now_ms}
    if state not in TIMED_STATES:
        fields["deadline_ms"] = 0
    if state in ("available", "break", "logged_out"):
        fields["call"] = ""
        fields["reservation"] = ""
    fields.update(kw)
    return replace(s, **fields)  # type: ignore[arg-type]


def _same(s: Status) -> Transition:
    return Transition(s, False)


def _command(s: Status, ev: Login | Logout | MakeAvailable | Break, now_ms: int,
             agent: str) -> Transition:
    if isinstance(ev, Login):
        if s.state != "logged_out":
            return _same(s)
        if ev.reason:
            return Transition(_to(s, "break", now_ms, reason=ev.reason, missed=0), True)
        return Transition(_to(s, "available", now_ms, missed=0), True)
    if s.state in BUSY:
        raise _conflict("busy", agent, s)
    if isinstance(ev, Logout):
        if s.state == "logged_out":
            return _same(s)
        return Transition(_to(s, "logged_out", now_ms, missed=0), True)
    if s.state == "logged_out":
        raise _conflict("logged_out", agent, s)
    if isinstance(ev, MakeAvailable):
        if s.state == "available":
            return _same(s)
        return Transition(_to(s, "available", now_ms, missed=0), True)
    if not ev.reason:
        raise _conflict("no_reason", agent, s)
    if s.state == "break" and s.reason == ev.reason:
        return _same(s)
    return Transition(_to(s, "break", now_ms, reason=ev.reason), True)


def step(s: Status, ev: Event, now_ms: int, *, max_missed: int, agent: str = "") -> Transition:
    """Apply one event; raise Conflict for a command the agent's state forbids."""
    if isinstance(ev, Login | Logout | MakeAvailable | Break):
        return _command(s, ev, now_ms, agent)
    if isinstance(ev, Reserve):
        if s.state != "available":
            raise _conflict("not_available", agent, s)
        return Transition(_to(s, "reserved", now_ms, call=ev.call, reservation=ev.reservation,
                              deadline_ms=ev.deadline_ms), True)
    if isinstance(ev, Expire):
        return _expire(s, ev, now_ms)
    if isinstance(ev, PhoneBack | PhoneLost):
        return _phone(s, ev, now_ms)
    if ev.reservation == "" or ev.reservation != s.reservation:
        return _same(s)  # stale or replayed report about another offer
    return _offer_event(s, ev, now_ms, max_missed)


def _phone(s: Status, ev: PhoneBack | PhoneLost, now_ms: int) -> Transition:
    if isinstance(ev, PhoneLost):
        if s.state != "available":
            return _same(s)
        return Transition(_to(s, "break", now_ms, reason=PHONE_LOST), True)
    if (s.state == "break" and s.reason in AUTO_BREAKS) or (
            s.state == "logged_out" and ev.login):
        return Transition(_to(s, "available", now_ms, reason=PHONE_BACK, missed=0), True)
    return _same(s)


def _expire(s: Status, ev: Expire, now_ms: int) -> Transition:
    if s.state not in TIMED_STATES or s.deadline_ms > now_ms:
        return _same(s)
    if s.state != "on_call":
        return Transition(_to(s, "available", now_ms), True)
    if ev.deadline_ms > now_ms:
        return Transition(_to(s, "wrap_up", now_ms, reason=ORPHANED,
                              deadline_ms=ev.deadline_ms), True)
    return Transition(_to(s, "available", now_ms, reason=ORPHANED), True)


def _offer_event(s: Status, ev: Ringing | Answered | Renew | Ended | Failed | Released,
                 now_ms: int, max_missed: int) -> Transition:
    if isinstance(ev, Ringing):
        if s.state != "reserved":
            return _same(s)
        return Transition(_to(s, "ringing", now_ms, deadline_ms=ev.deadline_ms), True)
    if isinstance(ev, Answered):
        if s.state not in ("reserved", "ringing"):
            return _same(s)
        return Transition(_to(s, "on_call", now_ms, missed=0, deadline_ms=ev.deadline_ms), True)
    if isinstance(ev, Renew):
        if s.state != "on_call":
            return _same(s)
        return Transition(replace(s, deadline_ms=ev.deadline_ms), False)
    if isinstance(ev, Ended):
        if s.state != "on_call":
            return _same(s)
        if ev.deadline_ms <= now_ms:
            return Transition(_to(s, "available", now_ms), True)
        return Transition(_to(s, "wrap_up", now_ms, deadline_ms=ev.deadline_ms), True)
    if s.state not in ("reserved", "ringing"):
        return _same(s)
    if isinstance(ev, Released) or not ev.counted:
        return Transition(_to(s, "available", now_ms), True)
    missed = s.missed + 1
    if max_missed > 0 and missed >= max_missed:
        return Transition(_to(s, "break", now_ms, reason=MISSED_OFFERS, missed=missed), True)
    return Transition(_to(s, "available", now_ms, missed=missed), True)
