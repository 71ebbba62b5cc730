"""One call's state as a value: frozen dataclasses, no free-form dict.

The machine (`acd.calls.machine`) turns a `CallState` and an event into a new
`CallState` and commands; nothing here changes in place. Every id the call creates
in Asterisk (agent leg channels, its bridge, playbacks, recordings) is derived from
the call id and a counter kept here, so a request that is retried cannot create a
second object: Asterisk answers the second attempt with a conflict, not a twin.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from acd.calls.control_model import BridgeRecording as BridgeRecording

# What the call holds of the moves in its middle (issue 17), re-exported.
from acd.calls.control_model import Monitor as Monitor
from acd.calls.control_model import Payment as Payment
from acd.calls.control_model import Transfer as Transfer
from acd.calls.control_model import monitor_bridge_id as monitor_bridge_id
from acd.calls.control_model import snoop_channel_id as snoop_channel_id
from acd.calls.control_model import supervisor_channel_id as supervisor_channel_id
from acd.ivr.runtime import IvrState
from acd.routing.model import Offer, QueueRequest


class Phase(enum.StrEnum):
    DIALLING = "dialling"  # a callback: ringing the caller who asked for it
    IVR = "ivr"
    QUEUED = "queued"
    OFFERING = "offering"
    CONNECTED = "connected"
    ENDING = "ending"
    ENDED = "ended"


# Phases in which the caller is in acd's queue (routing holds a place for them).
IN_QUEUE = (Phase.QUEUED, Phase.OFFERING)


@dataclass(frozen=True, slots=True)
class QueueControl:
    """What a queue's configuration says of its calls' recording and payment (#17)."""

    recording: str = "never"  # always | never | on_demand
    recording_format: str = "wav"
    payment_flow: str = "payment"


NO_CONTROL = QueueControl()


@dataclass(frozen=True, slots=True)
class CallSettings:
    """What the machine needs of acd's configuration, fixed for one call."""

    app: str = "acd"
    moh_class: str = "default"
    callback_endpoint: str = "PJSIP/{number}@caller-trunk"
    callback_ring_timeout: float = 25.0
    callback_retry_delay: float = 300.0
    callback_max_attempts: int = 3
    callback_caller_id: str = ""
    callback_prompt: tuple[str, ...] = ("sound:acd-callback-connecting",)
    agent_lost: str = "requeue"  # or "hangup"
    agent_lost_prompt: tuple[str, ...] = ("sound:acd-please-hold",)
    agent_lost_hangup_after: float = 4.0
    max_requeues: int = 2
    reap_after: float = 60.0  # the safety net of a call that should be over
    ring_guard_margin: float = 5.0
    # ---- transfer (issue 17): queue name -> (priority raise, keep the enqueue time)
    # for the queues a caller may be transferred to; the dialplan context that
    # takes a caller transferred to a number (config/asterisk/extensions.conf).
    transfer_queues: tuple[tuple[str, int, bool], ...] = ()
    transfer_context: str = "agents"
    number_ring_timeout: float = 30.0  # a consulted number rings this long (seconds)
    agent_numbers: tuple[tuple[str, str], ...] = ()  # phone number -> agent id (REFER)
    supervisors_queue: str = "supervisors"  # escalate: the first available of this queue
    # ---- recording and payment (#17): each queue's policy, by queue name
    queue_control: tuple[tuple[str, QueueControl], ...] = ()

    def control_of(self, queue: str | None) -> QueueControl:
        for name, qc in self.queue_control:
            if name == queue:
                return qc
        return NO_CONTROL


@dataclass(frozen=True, slots=True)
class Announcements:
    """What a queue node asked a waiting caller to hear (see QueueAnnounce)."""

    position: bool = False
    wait_time: bool = False
    prompt: tuple[str, ...] = ()
    every: float = 30.0
    first: float | None = None
    moh_class: str | None = None

    @classmethod
    def of(cls, raw: Mapping[str, object]) -> Announcements:
        prompt = raw.get("prompt") or ()
        every = raw.get("every")
        first = raw.get("first")
        moh = raw.get("moh_class")
        return cls(
            position=bool(raw.get("position")), wait_time=bool(raw.get("wait_time")),
            prompt=tuple(str(p) for p in prompt) if isinstance(prompt, list | tuple) else (),
            every=float(every) if isinstance(every, int | float) and every else 30.0,
            first=float(first) if isinstance(first, int | float) else None,
            moh_class=moh if isinstance(moh, str) and moh else None,
        )


@dataclass(frozen=True, slots=True)
class Waiting:
    """The caller's place in routing and what they hear meanwhile."""

    request: QueueRequest
    announce: Announcements = field(default_factory=Announcements)
    callback_key: str | None = None
    callback_number: str | None = None
    callback_offer: tuple[str, ...] = ()
    generation: int = 0  # tells a stale announcement timer from the current one

    @property
    def announces(self) -> bool:
        a = self.announce
        return bool(a.position or a.wait_time or a.prompt or self.callback_offer)


@dataclass(frozen=True, slots=True)
class Leg:
    """One attempt to reach an agent's phone, or (`offer` None) an outside party: a
    consult to a number (acd.calls.phases.consult_number), whom routing knows
    nothing of: no agent (`agent_id` ""), no reservation, no wrap-up."""

    leg_id: str
    channel_id: str
    agent_id: str
    endpoint: str
    offer: Offer | None
    started_ms: int
    created: bool = False  # Asterisk confirmed the channel (create answered / re-adopted)
    dialled: bool = False  # its StasisStart came and acd answered it (dial or hang-up)
    rang_ms: int | None = None
    answered_ms: int | None = None
    ended_ms: int | None = None
    cause: int | None = None
    outcome: str | None = None
    hangup_requested: bool = False
    hung_up_ms: int | None = None  # the agent's own hang-up: when their leg ended for them
    # ---- transfer (issue 17): "transfer" for a transfer target's leg, its target
    kind: str = "agent"
    target: str | None = None
    mode: str = "blind"

    @property
    def live(self) -> bool:
        return self.ended_ms is None

    @property
    def outside(self) -> bool:
        """An outside party (a number), not an agent."""
        return self.offer is None


@dataclass(frozen=True, slots=True)
class Callback:
    """A callback call: acd rings the caller who asked, for a reserved agent."""

    offer: Offer
    attempt: int = 1
    dialstatus: str | None = None


@dataclass(frozen=True, slots=True)
class CallState:
    call_id: str
    channel_id: str
    caller_number: str
    dialled: str
    started_ms: int
    settings: CallSettings = field(default_factory=CallSettings)
    caller_name: str = ""
    language: str = "en"
    phase: Phase = Phase.IVR
    flow_name: str | None = None
    flow_version: str | None = None
    ivr: IvrState | None = None
    ivr_timers: frozenset[int] = frozenset()
    # Playbacks acd started on the caller: ARI playback id -> engine play id
    # (ANNOUNCEMENT for a waiting caller's announcement).
    playing: tuple[tuple[str, int], ...] = ()
    recording: tuple[int, str] | None = None  # (IVR request id, recording name)
    queue: str | None = None
    enqueued_ms: int | None = None
    waiting: Waiting | None = None
    moh: bool = False
    moh_retries: int = 0  # music that failed to start for acd's own trouble
    answered_ms: int | None = None
    bridge_id: str | None = None
    legs: tuple[Leg, ...] = ()
    connected: str | None = None  # the connected leg's channel id
    answer_recorded: bool = False  # routing has the connected agent on call
    attempts: int = 0
    seq: int = 0  # ids of playbacks, recordings and queue events
    outcome: str | None = None
    ended_by: str | None = None
    end_detail: str | None = None
    ended_ms: int | None = None
    caller_cause: int | None = None
    caller_gone: bool = False
    caller_destroyed: bool = False
    channel_created: bool = True  # False while acd still creates a callback's channel
    transferred: bool = False
    complete_sent: bool = False  # the connected agent went to wrap-up
    ending_recorded: bool = False  # the re-adoption record says "ending" (agent left)
    agent_lost_count: int = 0
    routing_id: str | None = None
    callback: Callback | None = None
    # ---- monitoring (issue 17)
    monitor: Monitor | None = None
    monitors: int = 0  # monitorings so far (the next one's ids)
    monitor_ids: tuple[str, ...] = ()  # every channel monitoring made (the service unbinds them)
    # ---- transfer (issue 17)
    transfer: Transfer | None = None
    transfers: int = 0  # transfer targets tried (their leg and task ids)
    rebridging: bool = False  # a talking leg is being put back in the call's bridge
    # ---- hold (issue 17, acd.calls.phases.hold): the connected caller on hold
    held_ms: int | None = None  # since when the caller is held (None: not held)
    held_by: str | None = None  # desktop, supervisor or phone
    hold_music: bool = False  # acd started the caller's music and muted them (not the phone)
    hold_ms: int = 0  # every hold that ended, added up
    hold_request: str | None = None  # a hold/unhold move waiting for Asterisk's word
    unhold_due: bool = False  # an unhold Asterisk failed: tried again until it works
    unmute_once: bool = False  # re-adopted into the queue not knowing of a hold: unmute
    # ---- recording and payment (#17)
    bridge_rec: BridgeRecording | None = None
    recordings_made: int = 0
    payment: Payment | None = None
    payment_result: tuple[str, str | None] | None = None  # the last one: (result, reference)

    @property
    def rid(self) -> str:
        """The call's id in routing (a callback serves the task of the call that asked)."""
        return self.routing_id or self.call_id

    def leg(self, channel_id: str) -> Leg | None:
        for leg in self.legs:
            if leg.channel_id == channel_id:
                return leg
        return None

    @property
    def connected_leg(self) -> Leg | None:
        return None if self.connected is None else self.leg(self.connected)

    @property
    def agent_leg(self) -> Leg | None:
        """The leg of the agent the call is counted for: the connected one, or, once
        a consult handed the caller to an outside number, the last agent who talked."""
        leg = self.connected_leg
        if leg is None or not leg.outside:
            return leg
        for other in reversed(self.legs):
            if not other.outside and other.answered_ms is not None:
                return other
        return None

    def ring_timeout(self, leg: Leg) -> float:
        """How long `leg` rings: its offer's, or a consulted number's."""
        return leg.offer.ring_timeout if leg.offer is not None \
            else self.settings.number_ring_timeout

    def live_legs(self) -> tuple[Leg, ...]:
        return tuple(leg for leg in self.legs if leg.live)

    def with_leg(self, leg: Leg) -> CallState:
        legs = tuple(leg if x.channel_id == leg.channel_id else x for x in self.legs)
        if all(x.channel_id != leg.channel_id for x in self.legs):
            legs = (*self.legs, leg)
        return replace(self, legs=legs)

    def hold_total(self, end_ms: int | None) -> int:
        """All the caller's hold time until `end_ms` (a hold still on counts until then)."""
        if self.held_ms is None or end_ms is None:
            return self.hold_ms
        return self.hold_ms + max(0, end_ms - self.held_ms)

    def channels(self) -> tuple[str, ...]:
        """Every channel of the call acd may still have to hang up."""
        mine = () if self.caller_destroyed or not self.channel_created else (self.channel_id,)
        return mine + tuple(leg.channel_id for leg in self.live_legs())


# ------------------------------------------------------------- derived ids

# Domain ids on the caller's channel, for a restarted acd that finds no record in
# Redis (acd.calls.adopt): the call id, and "<queue>:<enqueued ms>" once queued.
CALL_ID_VAR = "ACD_CALL_ID"
QUEUE_VAR = "ACD_QUEUE"


def leg_channel_id(call_id: str, attempt: int) -> str:
    return f"acd-{call_id[:16]}-{attempt}"


def bridge_id(call_id: str) -> str:
    return f"acd-{call_id}"


def playback_id(call_id: str, seq: int) -> str:
    return f"acd-{call_id[:16]}-p{seq}"


def recording_name(call_id: str, request_id: int) -> str:
    return f"voicemail-{call_id}-{request_id}"


def transfer_channel_id(call_id: str, n: int) -> str:
    return f"acd-{call_id[:16]}-t{n}"


def consult_bridge_id(call_id: str, n: int) -> str:
    return f"acd-{call_id}-c{n}"


def transfer_task_id(call_id: str, n: int) -> str:
    """The routing id of a transfer to a named agent (acd.routing reserve_agent)."""
    return f"{call_id}-t{n}"
def bridge_recording_name(call_id: str, n: int) -> str:
    """The recording of the call's bridge (and its file): from the call id."""
    return f"acd-rec-{call_id}" + (f"-{n}" if n > 1 else "")


def call_of_recording(name: str) -> str | None:
    """The call id in a name `bridge_recording_name` made."""
    if not name.startswith("acd-rec-"):
        return None
    return name[len("acd-rec-"):].split("-", 1)[0] or None


def callback_channel_id(call_id: str) -> str:
    return f"acd-cb-{call_id[:16]}"


def monitor_channels(st: CallState) -> tuple[str, ...]:
    """The live channels of the call's monitoring (supervisor leg, snoops)."""
    m = st.monitor
    if m is None:
        return ()
    return tuple(x for x in (m.channel, m.snoop, m.next_snoop) if x is not None)


# The engine never hands out this play id: a waiting caller's announcement.
ANNOUNCEMENT = -1
