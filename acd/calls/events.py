"""What can happen to a call, as the machine sees it.

The service maps ARI events onto these (by channel: the caller's or one of the
call's agent legs), the router's offers and exits, timers, the results of the
executor's requests and its failures, and what reconciliation found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from acd.calls.commands import Command, ControlArg
from acd.ivr.actions import IvrEvent
from acd.ivr.model import Flow
from acd.ivr.runtime import IvrContext
from acd.routing.model import EnqueueResult, Offer

# How a command failed, as the executor classifies it:
#   gone         the channel / bridge / playback acted on no longer exists
#   unreachable  Asterisk says the endpoint cannot be reached (the agent's phone)
#   refused      another 4xx: acd asked for something Asterisk or routing refuses
#   error        acd's own trouble: no answer, a timeout, a 5xx, Redis away
Fault = Literal["gone", "unreachable", "refused", "error"]


# ------------------------------------------------------------------ the caller


@dataclass(frozen=True, slots=True)
class Start:
    """The caller entered Stasis (or was re-adopted at the flow's start); `flow` is
    the flow for the dialled number, None when there is none."""

    flow: Flow | None
    ctx: IvrContext | None = None


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str


@dataclass(frozen=True, slots=True)
class PlaybackDone:
    playback_id: str


@dataclass(frozen=True, slots=True)
class RecordingDone:
    name: str
    ok: bool


@dataclass(frozen=True, slots=True)
class CallerHangupRequest:
    cause: int | None


@dataclass(frozen=True, slots=True)
class CallerLeft:
    """StasisEnd (`cause` None) or ChannelDestroyed of the caller's channel."""

    cause: int | None
    destroyed: bool = True


# ------------------------------------------------------------------- agent legs


@dataclass(frozen=True, slots=True)
class LegInStasis:
    channel_id: str


@dataclass(frozen=True, slots=True)
class LegRinging:
    channel_id: str


@dataclass(frozen=True, slots=True)
class LegAnswered:
    channel_id: str


@dataclass(frozen=True, slots=True)
class LegHangupRequest:
    channel_id: str
    cause: int | None
    from_device: bool = False  # the channel driver ends it (RTP timeout...)


@dataclass(frozen=True, slots=True)
class LegDestroyed:
    channel_id: str
    cause: int | None


# -------------------------------------------------------------------- callbacks


@dataclass(frozen=True, slots=True)
class StartCallback:
    """An agent is reserved for a callback task: call the customer (attempt n)."""

    offer: Offer
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class CustomerInStasis:
    """The callback channel acd created entered Stasis: it may be dialled now."""


@dataclass(frozen=True, slots=True)
class CustomerAnswered:
    pass


@dataclass(frozen=True, slots=True)
class CustomerDialStatus:
    status: str


# ------------------------------------------------------------------ from routing


@dataclass(frozen=True, slots=True)
class OfferArrived:
    offer: Offer
    ring_all: bool = False


@dataclass(frozen=True, slots=True)
class LeftQueue:
    """Routing took the waiting call out of its queue (max wait, nobody staffing)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Requeue:
    """Put a waiting call back in routing, its place kept; `lost`: Redis lost its
    data (a ringing offer is gone, a connected call writes its record again)."""

    lost: bool = False


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Created:
    """Asterisk confirmed a channel acd created (an agent leg, a callback)."""

    channel_id: str


@dataclass(frozen=True, slots=True)
class Bridged:
    bridge_id: str


@dataclass(frozen=True, slots=True)
class Enqueued:
    result: EnqueueResult


@dataclass(frozen=True, slots=True)
class Standing:
    position: int | None
    wait_s: float | None


@dataclass(frozen=True, slots=True)
class AnswerRecorded:
    """Routing's word on an agent's answer: False when the offer had gone stale."""

    channel_id: str
    fresh: bool


@dataclass(frozen=True, slots=True)
class CallbackAccepted:
    ok: bool


@dataclass(frozen=True, slots=True)
class IvrResult:
    """A result for the IVR engine (an HTTP response, a list look-up...)."""

    event: IvrEvent


@dataclass(frozen=True, slots=True)
class Failed:
    """The executor could not carry `command` out."""

    command: Command
    fault: Fault


# ------------------------------------------------------------------ timers


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer the machine started (`StartTimer.key`) went off."""

    key: str


# ------------------------------------------------------------- reconciliation


@dataclass(frozen=True, slots=True)
class Vanished:
    """Asterisk no longer has these channels of the call (their events were lost)."""

    channel_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The events socket is back after a gap: what the call missed is asked for."""


@dataclass(frozen=True, slots=True)
class Reap:
    """End the call whatever state it is in (its safety net fired, acd stops it)."""


@dataclass(frozen=True, slots=True)
class Readopted:
    """A restarted acd took the call back with moves half-done (acd.calls.move_record):
    end them (acd.calls.phases.readopt). `gone`: channels of the call Asterisk no
    longer has (a `Vanished` of them follows)."""

    gone: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Crashed:
    """Handling the call's last event raised unexpectedly (a bug): the per-call
    safety net sends a caller not talking to an agent back to the dialplan."""


@dataclass(frozen=True, slots=True)
class Control:
    """Somebody asks the call for a move (hold, transfer, monitor...): from the
    desktop, the API or another node (acd.calls.control). The machine answers every
    one with exactly one `Reply` command, refusals included. `args` were checked for
    shape and size by the API; what they mean is the machine's to judge."""

    request_id: str
    action: str
    args: Mapping[str, ControlArg]
    by: str  # who asked: "agent:<id>", "user:<name>", "phone:<channel>"


# ---- monitoring (issue 17): what happens to a supervisor's leg or a snoop


@dataclass(frozen=True, slots=True)
class MonitorChannel:
    """An ARI event of one of the monitoring's channels (the supervisor's phone leg
    or a snoop). `what`: stasis (StasisStart), answered, hangup (ChannelHangupRequest),
    gone (ChannelDestroyed), left (StasisEnd: all a snoop says when its target goes)."""

    channel_id: str
    what: Literal["stasis", "answered", "hangup", "gone", "left"]
    cause: int | None = None
# ---- transfer (issue 17)


@dataclass(frozen=True, slots=True)
class TransferReserved:
    """Routing's word on the named agent a transfer asked for: their offer, or None
    and why (their state, no_agent, phone, error)."""

    offer: Offer | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FlowLoaded:
    """The flow a transfer sends the caller to; None when there is none."""

    name: str
    flow: Flow | None
    ctx: IvrContext | None = None


@dataclass(frozen=True, slots=True)
class PhoneRefer:
    """The agent's phone sent a REFER (ChannelTransfer without a state) on its leg:
    blind to `destination` (the Refer-To user part), or attended (Replaces); `replaces`:
    the channel of the replaced dialog (refer_to.destination_channel), when Asterisk
    knows it."""

    channel_id: str
    destination: str
    attended: bool = False
    replaces: str | None = None


@dataclass(frozen=True, slots=True)
class PhoneConsult:
    """The connected agent's phone dialled a colleague's number (its second call, in
    Stasis as `phone,<number>` from the `[agents]` dialplan): a consult from the phone."""

    channel_id: str
    number: str


@dataclass(frozen=True, slots=True)
class PhoneLegGone:
    """The phone's second call (a phone consult) hung up or left acd's app."""

    channel_id: str
# ---- hold (acd.calls.phases.hold)


@dataclass(frozen=True, slots=True)
class PhoneHold:
    """The agent's phone pressed hold (ChannelHold: a re-INVITE a=sendonly; Asterisk
    plays the caller music itself) or took the call back (ChannelUnhold)."""

    channel_id: str
    held: bool


@dataclass(frozen=True, slots=True)
class HoldDone:
    """Asterisk carried a `HoldCaller` / `UnholdCaller` out."""

    request_id: str | None
    held: bool
# ---- recording and payment (#17)


@dataclass(frozen=True, slots=True)
class RecordingOn:
    """Asterisk started recording the call's bridge (`StartBridgeRecording` answered)."""

    name: str


@dataclass(frozen=True, slots=True)
class RecordingOff:
    """RecordingFinished / RecordingFailed of the call's bridge recording."""

    name: str
    ok: bool


@dataclass(frozen=True, slots=True)
class PaymentFlowFound:
    """The answer to `FindPaymentFlow`: the flow (None: no such flow), and the flows
    it may call as subflows."""

    name: str
    flow: Flow | None
    flows: Mapping[str, Flow] = field(default_factory=dict)


Event = (
    TransferReserved | FlowLoaded | PhoneRefer | PhoneConsult | PhoneLegGone
    | Control | Start | Dtmf | PlaybackDone | RecordingDone | CallerHangupRequest | CallerLeft
    | LegInStasis | LegRinging | LegAnswered | LegHangupRequest | LegDestroyed
    | StartCallback | CustomerInStasis | CustomerAnswered | CustomerDialStatus
    | OfferArrived | LeftQueue | Requeue | Created | Bridged | Enqueued | Standing | AnswerRecorded
    | CallbackAccepted | IvrResult | Failed | TimerFired | Vanished | Reconnected | Reap
    | Crashed | Readopted
    | MonitorChannel
    | PhoneHold | HoldDone
    | RecordingOn | RecordingOff | PaymentFlowFound
)
