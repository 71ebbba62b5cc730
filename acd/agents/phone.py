"""The phone behind an agent, pure: what Asterisk says of it, and what routing does with it.

Asterisk tells an ARI application subscribed to `endpoint:PJSIP/agentN` and
`deviceState:PJSIP/agentN` (acd/agents/phones.py subscribes) how the phone is:

    EndpointStateChange  endpoint.state       online | offline (any contact usable?)
    PeerStatusChange     peer.peer_status     Reachable | Unreachable (same, for PJSIP)
    ContactStatusChange  contact_info.contact_status
                                              Reachable | NonQualified | Unknown (registered),
                                              Unreachable (qualify failed), Removed
    DeviceStateChanged   device_state.state   NOT_INUSE | INUSE | BUSY | RINGING | RINGINUSE
                                              | ONHOLD | UNAVAILABLE | INVALID | UNKNOWN

They fold into a `Phone`: its registration and its device state. `offerable`
says whether routing may ring it (app_queue's rules: an unregistered or
unreachable phone never, one in use or ringing only with the queue's
`ring_in_use`); `after_change` says what an agent's state does when the phone
comes back or goes away (the agent's `phone_policy`). The Lua side mirrors
`offerable` (`phone_ok` in acd/routing/lua/_lib.lua); tests/routing/
test_phone_rules.py holds both to one table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal

Registration = Literal["unknown", "registered", "unregistered", "unreachable"]
Device = Literal["unknown", "idle", "ringing", "in_use", "unavailable"]
PhoneState = Literal["unknown", "registered", "unregistered", "unreachable", "in_use"]
PHONE_STATES: tuple[PhoneState, ...] = (
    "unknown", "registered", "unregistered", "unreachable", "in_use")
REGISTRATIONS: tuple[Registration, ...] = (
    "unknown", "registered", "unregistered", "unreachable")
DEVICES: tuple[Device, ...] = ("unknown", "idle", "ringing", "in_use", "unavailable")

# What an agent's state does when the phone changes (AgentSettings.phone_policy):
#   keep       nothing: a phone away only stops offers, one back lets them resume
#   available  an agent paused by acd (missed offers, phone lost) is made available
#              when the phone registers again
#   login      as `available`, and a logged-out agent is logged in (the demo)
#   pause      as `available`, and an available agent whose phone goes away is put
#              on break ("phone_lost"), so the wallboard shows who cannot take calls
Policy = Literal["keep", "available", "login", "pause"]
POLICIES: tuple[Policy, ...] = ("keep", "available", "login", "pause")
PHONE_BACK = "phone_registered"   # reason recorded for an agent the phone brought back
PHONE_LOST = "phone_lost"         # reason of the break an agent whose phone went away gets
# Breaks acd itself put an agent on; a phone coming back may end them.
AUTO_BREAKS: frozenset[str] = frozenset({"missed_offers", PHONE_LOST})

@dataclass(frozen=True, slots=True)
class Phone:
    reg: Registration = "unknown"
    dev: Device = "unknown"


def state_of(p: Phone) -> PhoneState:
    """One word for the API, the CLI and /metrics."""
    if p.reg in ("unregistered", "unreachable"):
        return p.reg
    if p.dev == "unavailable":
        return "unregistered"
    if p.dev in ("in_use", "ringing"):
        return "in_use"
    if p.reg == "registered" or p.dev == "idle":
        return "registered"
    return "unknown"


def present(p: Phone) -> bool:
    """The phone can be reached (registered, maybe busy)."""
    return state_of(p) in ("registered", "in_use")


def offerable(p: Phone, ring_in_use: bool) -> bool:
    """May routing ring this phone? Unknown (no word from Asterisk) counts as yes."""
    if p.reg in ("unregistered", "unreachable") or p.dev == "unavailable":
        return False
    if p.dev in ("in_use", "ringing"):
        return ring_in_use
    return True


def may_offer(agent_state: str, p: Phone, ring_in_use: bool) -> bool:
    """An agent is offered a call when available and their phone can take it."""
    return agent_state == "available" and offerable(p, ring_in_use)


# ------------------------------------------------------------ events -> Phone


def on_endpoint_state(p: Phone, state: str) -> Phone:
    """EndpointStateChange (and GET /endpoints): online / offline."""
    if state == "online":
        return replace(p, reg="registered")
    if state == "offline":
        return replace(p, reg="unreachable" if p.reg == "unreachable" else "unregistered")
    return p


def on_peer_status(p: Phone, status: str) -> Phone:
    """PeerStatusChange: PJSIP says Reachable / Unreachable as its endpoint goes
    online / offline."""
    return on_endpoint_state(p, {"Reachable": "online", "Unreachable": "offline"}.get(
        status, ""))


def on_contact_status(p: Phone, status: str) -> Phone:
    """ContactStatusChange for the phone's contact (one contact per agent AOR)."""
    if status in ("Reachable", "NonQualified"):
        return replace(p, reg="registered")
    if status == "Unreachable":
        return replace(p, reg="unreachable")
    if status == "Removed":
        return replace(p, reg="unregistered")
    if status == "Unknown" and p.reg in ("unknown", "unregistered"):
        return replace(p, reg="registered")  # a new contact, not yet qualified
    return p


DEVICE_STATES: dict[str, Device] = {
    "NOT_INUSE": "idle", "INUSE": "in_use", "BUSY": "in_use", "ONHOLD": "in_use",
    "RINGINUSE": "in_use", "RINGING": "ringing", "UNAVAILABLE": "unavailable",
    "INVALID": "unknown", "UNKNOWN": "unknown",
}


def on_device_state(p: Phone, state: str) -> Phone:
    """DeviceStateChanged for the agent's device (`PJSIP/agentN`)."""
    dev = DEVICE_STATES.get(state, "unknown")
    if dev == "idle" and p.reg in ("unregistered", "unknown"):
        return replace(p, reg="registered", dev=dev)  # NOT_INUSE: it has a contact
    return replace(p, dev=dev)


# States in which a busy device is acd's own doing (it rings or talks for acd).
OWN_CALL_STATES: frozenset[str] = frozenset({"reserved", "ringing", "on_call"})


def without_own_calls(p: Phone, agent_state: str) -> Phone:
    """The phone as routing should keep it: a device ringing or in use while the
    agent is reserved, ringing or on a call for acd is busy with acd's own call,
    which ends with the agent's state; keeping it busy would block the agent for a
    moment after each call (the device's NOT_INUSE may come after the agent is free)."""
    if agent_state in OWN_CALL_STATES and p.dev in ("in_use", "ringing"):
        return replace(p, dev="idle")
    return p


# ------------------------------------------------------- the agent's state

Action = Literal["phone_back", "phone_back_login", "phone_lost"] | None


def after_change(before: Phone, after: Phone, agent_state: str, reason: str,
                 policy: Policy) -> Action:
    """What the agent's state does when the phone goes from `before` to `after`:
    an agent event for the machine (acd.agents.machine PhoneBack / PhoneLost), or None."""
    if policy == "keep":
        return None
    if present(after) and not present(before):
        if agent_state == "break" and reason in AUTO_BREAKS:
            return "phone_back"
        if agent_state == "logged_out" and policy == "login":
            return "phone_back_login"
        return None
    gone = state_of(after) in ("unregistered", "unreachable")
    if gone and present(before) and policy == "pause" and agent_state == "available":
        return "phone_lost"
    return None


def effective_policy(agent_skills: Mapping[str, int], own: Policy | None,
                     queues: Sequence[tuple[Mapping[str, int], Policy | None]],
                     default: Policy) -> Policy:
    """An agent's phone policy: their own; else that of the first queue (in the
    configuration's order) that sets one and whose calls they can take; else the
    default (phones.policy)."""
    if own is not None:
        return own
    for skills, policy in queues:
        if policy is not None and all(agent_skills.get(s, 0) >= lvl
                                      for s, lvl in skills.items()):
            return policy
    return default


def leg_failure(cause: int | None, early: bool) -> str:
    """Why a dialled agent leg ended before it was answered: "busy", "noanswer",
    "rejected" or "unreachable" (which counts no miss against the agent). Cause 19
    is Asterisk's for both a ring timeout and a SIP 480: `early` (before any ringing
    and well before the ring timeout) it is the phone that cannot be reached."""
    if cause == 17:
        return "busy"
    if cause == 21:
        return "rejected"
    if cause == 19:
        return "unreachable" if early else "noanswer"
    # Anything else: Asterisk's SIP -> cause map gives 404 -> 1, 408 -> 18, 410 -> 22,
    # 500 -> 38, 502 -> 27, 503 -> 34; 20 subscriber absent, 44 channel unavailable.
    return "unreachable"
