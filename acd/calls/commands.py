"""What a call asks for: the machine's output, the executor's input.

Each command names everything it acts on, ids included (chosen by the machine from
the call id, see acd.calls.model), so that carrying it out twice cannot create two
of anything. The executor answers a command with an event only where the machine
needs the result (`Created`, `Bridged`, `Enqueued`...) or when it failed (`Failed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# The moves' commands (issue 17), re-exported.
from acd.calls.control_commands import (
    BridgeMusicOff as BridgeMusicOff,
)
from acd.calls.control_commands import (
    BridgeMusicOn as BridgeMusicOn,
)
from acd.calls.control_commands import (
    FindPaymentFlow as FindPaymentFlow,
)
from acd.calls.control_commands import (
    HoldCaller as HoldCaller,
)
from acd.calls.control_commands import (
    LoadFlow as LoadFlow,
)
from acd.calls.control_commands import (
    MoveSupervisor as MoveSupervisor,
)
from acd.calls.control_commands import (
    PauseRecording as PauseRecording,
)
from acd.calls.control_commands import (
    RemoveFromBridge as RemoveFromBridge,
)
from acd.calls.control_commands import (
    ReportTransfer as ReportTransfer,
)
from acd.calls.control_commands import (
    ReserveAgent as ReserveAgent,
)
from acd.calls.control_commands import (
    ResumeRecording as ResumeRecording,
)
from acd.calls.control_commands import (
    Ringback as Ringback,
)
from acd.calls.control_commands import (
    StartBridgeRecording as StartBridgeRecording,
)
from acd.calls.control_commands import (
    StartSnoop as StartSnoop,
)
from acd.calls.control_commands import (
    StopRecording as StopRecording,
)
from acd.calls.control_commands import (
    UnholdCaller as UnholdCaller,
)
from acd.ivr import actions as ivr
from acd.routing.model import FailReason, Offer, QueueRequest
from acd.store.rows import CallRow, LegRow, QueueEventRow, RecordingRow

# ------------------------------------------------------------------------ ARI


@dataclass(frozen=True, slots=True)
class Answer:
    channel_id: str


@dataclass(frozen=True, slots=True)
class Play:
    channel_id: str
    playback_id: str
    prompts: tuple[str, ...]
    language: str


@dataclass(frozen=True, slots=True)
class StopPlayback:
    playback_id: str


@dataclass(frozen=True, slots=True)
class MusicOn:
    channel_id: str
    moh_class: str


@dataclass(frozen=True, slots=True)
class MusicOff:
    channel_id: str


@dataclass(frozen=True, slots=True)
class Hangup:
    channel_id: str
    reason: str = "normal"


@dataclass(frozen=True, slots=True)
class SetVar:
    """A channel variable: domain ids ride on the caller's channel (ACD_CALL_ID,
    ACD_QUEUE "<queue>:<enqueued ms>") so that a restarted acd finds its calls
    even when Redis lost their records (acd.calls.adopt)."""

    channel_id: str
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class ToDialplan:
    """Continue in the dialplan: where the channel came from (no context), or at
    `context`,`extension`,`priority` (a transfer)."""

    channel_id: str
    context: str | None = None
    extension: str | None = None
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class Redirect:
    channel_id: str
    endpoint: str


@dataclass(frozen=True, slots=True)
class Record:
    channel_id: str
    name: str
    max_seconds: int
    beep: bool


@dataclass(frozen=True, slots=True)
class CreateChannel:
    """Create (not yet dial) a channel into acd's app; answered by `Created`."""

    channel_id: str
    endpoint: str
    app_args: str
    originator: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Dial:
    channel_id: str
    caller: str | None
    timeout: int


@dataclass(frozen=True, slots=True)
class CreateBridge:
    bridge_id: str


@dataclass(frozen=True, slots=True)
class AddToBridge:
    """Answered by `Bridged` once both channels are in."""

    bridge_id: str
    channel_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DestroyBridge:
    bridge_id: str


@dataclass(frozen=True, slots=True)
class CheckChannels:
    """Ask Asterisk which of these channels still exist; answered by `Vanished`."""

    channel_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Resync:
    """After a gap in the events: look the call's channels and playbacks up and
    answer with the events that were lost (`Vanished` for channels gone,
    `LegInStasis` / `LegAnswered` for legs there or up, `PlaybackDone` for
    playbacks over)."""

    channel_ids: tuple[str, ...]
    playback_ids: tuple[str, ...]
    attempt: int = 1  # asked again after a failure (acd.calls.machine)


# -------------------------------------------------------------------- routing


@dataclass(frozen=True, slots=True)
class Enqueue:
    """Into routing; `adopt` keeps the original enqueue time (a place kept or
    given back). Answered by `Enqueued`."""

    request: QueueRequest
    adopt: bool = False


@dataclass(frozen=True, slots=True)
class Dequeue:
    routing_id: str


@dataclass(frozen=True, slots=True)
class OfferRinging:
    offer: Offer


@dataclass(frozen=True, slots=True)
class RecordAnswer:
    """The agent answered and is bridged; answered by `AnswerRecorded`."""

    channel_id: str
    offer: Offer


@dataclass(frozen=True, slots=True)
class OfferFailed:
    offer: Offer
    reason: FailReason


@dataclass(frozen=True, slots=True)
class CallEnded:
    """The connected agent goes to wrap-up."""

    offer: Offer


@dataclass(frozen=True, slots=True)
class CallbackFailed:
    offer: Offer
    retry_in: float | None


@dataclass(frozen=True, slots=True)
class AskCallback:
    """Turn the waiting call into a callback task; answered by `CallbackAccepted`."""

    routing_id: str
    number: str


@dataclass(frozen=True, slots=True)
class AskStanding:
    """Position and expected wait; answered by `Standing`."""

    routing_id: str
    with_wait: bool


@dataclass(frozen=True, slots=True)
class AgentBreak:
    agent_id: str
    reason: str


# ------------------------------------------------------------ IVR look-ups


@dataclass(frozen=True, slots=True)
class IvrLookup:
    """An HTTP request, list or schedule look-up; always answered by `IvrResult`."""

    action: ivr.HttpRequest | ivr.CheckList | ivr.CheckOverride


# ------------------------------------------------------------ rows, records


@dataclass(frozen=True, slots=True)
class WriteRow:
    row: CallRow | LegRow | QueueEventRow | RecordingRow  # RecordingRow: #17


@dataclass(frozen=True, slots=True)
class Remember:
    """Write the call's re-adoption record (what a restarted acd needs)."""

    channel_id: str
    fields: Mapping[str, str | int]


@dataclass(frozen=True, slots=True)
class Forget:
    channel_id: str


@dataclass(frozen=True, slots=True)
class RememberCallback:
    routing_id: str
    fields: Mapping[str, str | int]


@dataclass(frozen=True, slots=True)
class ForgetCallback:
    routing_id: str


# ------------------------------------------------------------------ timers


@dataclass(frozen=True, slots=True)
class StartTimer:
    """After `seconds`, `TimerFired(key)`; a timer with the same key is replaced."""

    key: str
    seconds: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    key: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The call is written: its mailbox closes (timers and tasks with it)."""


# ---------------------------------------------------------------- call control

# What a move's arguments and answer data may hold (JSON scalars).
ControlArg = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to one `Control` event: ok, or refused with an error id (a slug the
    API returns as `error_id`) and a message a person can act on."""

    request_id: str
    ok: bool
    error_id: str | None = None
    message: str = ""
    data: Mapping[str, ControlArg] = field(default_factory=dict)


Command = (
    ReserveAgent | LoadFlow | ReportTransfer | RemoveFromBridge
    | Reply | Answer | Play | StopPlayback | MusicOn | MusicOff | Hangup | SetVar | ToDialplan
    | Redirect
    | Record | CreateChannel | Dial | CreateBridge | AddToBridge | DestroyBridge
    | CheckChannels | Resync | Enqueue | Dequeue | OfferRinging | RecordAnswer | OfferFailed
    | CallEnded | CallbackFailed | AskCallback | AskStanding | AgentBreak | IvrLookup
    | WriteRow | Remember | Forget | RememberCallback | ForgetCallback | StartTimer
    | CancelTimer | Finished
    | StartSnoop | MoveSupervisor
    | HoldCaller | UnholdCaller | Ringback
    | StartBridgeRecording | PauseRecording | ResumeRecording | StopRecording
    | RemoveFromBridge | BridgeMusicOn | BridgeMusicOff | FindPaymentFlow
)

# Commands that act on one channel (a failure "gone" is about that channel).
ON_CHANNEL = (Answer, Play, MusicOn, MusicOff, Hangup, SetVar, ToDialplan, Redirect, Record,
              CreateChannel, Dial,
              HoldCaller, UnholdCaller, Ringback)

# Commands carried out by a request to Asterisk (one answered: ARI is reachable).
ON_ARI = (*ON_CHANNEL, StopPlayback, CreateBridge, AddToBridge, DestroyBridge, CheckChannels,
          StartSnoop, ReportTransfer, RemoveFromBridge, StartBridgeRecording,
          PauseRecording, ResumeRecording, StopRecording, BridgeMusicOn, BridgeMusicOff)
