"""What a call holds of the moves in its middle (issue 17): a supervisor's
monitoring, a transfer, a bridge recording, a payment; part of acd.calls.model,
which re-exports them."""

from __future__ import annotations

from dataclasses import dataclass

from acd.ivr.runtime import IvrState

# ---- monitoring (issue 17: a supervisor listens, whispers or barges)


@dataclass(frozen=True, slots=True)
class Monitor:
    """A supervisor on the call: their own phone leg, bridged in a monitor bridge with
    a snoop on the agent's leg (listen, whisper), or in the call's bridge (barge).
    A mode switch makes a new snoop first and drops the old one after, so the
    supervisor's phone never leaves (acd.calls.phases.monitor)."""

    n: int  # the call's n-th monitoring (ids of its channels and bridge)
    supervisor: str  # the user who asked
    endpoint: str
    mode: str  # the mode running (or, before the first answer, asked)
    started_ms: int
    channel: str  # the supervisor's phone leg
    request_id: str | None = None  # the move waiting for its answer
    asked: str | None = None  # the mode a pending switch goes to
    dialled: bool = False
    answered_ms: int | None = None
    active: bool = False  # the supervisor hears the call (the first mode is set up)
    bridge: str | None = None  # the monitor bridge, once made
    snoop: str | None = None  # the snoop in use (None in barge)
    snoop_mode: str | None = None
    snoop_ms: int = 0
    next_snoop: str | None = None  # a switch's new snoop, not yet bridged
    snoops: int = 0  # snoops made (their ids)
    modes: tuple[str, ...] = ()
    cause: int | None = None
# ---- transfer (issue 17)
@dataclass(frozen=True, slots=True)
class Transfer:
    """A blind transfer under way: the caller hears music until the target answers;
    the agent who asked stays bridged with the caller meanwhile (they come back
    together if the target fails)."""

    target: str  # "agent:a7" | "queue:sales" | "flow:billing" | "number:0555..."
    by: str
    via: str = "desktop"  # or "phone" (a REFER)
    request_id: str | None = None  # the move still waiting for its answer
    channel_id: str | None = None  # the target's leg once it exists
    refer_channel: str | None = None  # the agent leg a REFER came on (transfer_progress)
    mode: str = "blind"  # or "attended": a consult first (acd.calls.phases.consult)
    consult_bridge: str | None = None  # the agent and the target talking (attended)
    conference: bool = False  # all three in the call's bridge
    # the agent phone's own second call (a consult dialled from the phone, in Stasis as
    # `phone,<number>`; acd.calls.phases.phone_consult): it talks to the target
    phone_leg: str | None = None

    @property
    def kind(self) -> str:
        return self.target.partition(":")[0]

    @property
    def name(self) -> str:
        return self.target.partition(":")[2]
# ---- recording and payment (#17, acd.calls.phases.record / .payment)


@dataclass(frozen=True, slots=True)
class BridgeRecording:
    """The recording of the call's bridge. It is paused while any reason in `holds`
    stands (agent, supervisor: a move; collect: a masked collect; payment); each
    paused interval is kept as (from ms, to ms, reason of the pause's start)."""

    name: str
    fmt: str
    started_ms: int
    request_id: str | None = None  # a record_start move answered once Asterisk records
    confirmed: bool = False
    holds: frozenset[str] = frozenset()
    paused_since: int | None = None
    pause_reason: str | None = None
    paused: tuple[tuple[int, int, str], ...] = ()

    @property
    def state(self) -> str:
        return "paused" if self.paused_since is not None else "active"


@dataclass(frozen=True, slots=True)
class Payment:
    """The caller in a payment flow while their agent waits on the call (on music).
    The flow's IVR state is its own: the call's `ivr` (the flow that queued the
    caller) stays as it was."""

    request_id: str | None  # the payment move, answered once the flow is found
    flow: str
    started_ms: int
    ivr: IvrState | None = None  # None while the flow is looked up
    timers: frozenset[int] = frozenset()
    returning: bool = False  # the flow is over: the caller goes back to the bridge
    agent_gone: bool = False  # the agent hung up meanwhile
    result: str | None = None
    reference: str | None = None


# ---- monitoring (issue 17): ids of a monitoring's channels and bridge
def supervisor_channel_id(call_id: str, n: int) -> str:
    return f"acd-{call_id[:16]}-sv{n}"


def snoop_channel_id(call_id: str, n: int, k: int) -> str:
    return f"acd-{call_id[:16]}-sn{n}-{k}"


def monitor_bridge_id(call_id: str, n: int) -> str:
    return f"acd-{call_id}-mon{n}"
