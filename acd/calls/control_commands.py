"""The commands of the moves in the middle of a call (issue 17: monitoring,
transfers, recording and payment, hold); part of acd.calls.commands, which
re-exports them (`c.HoldCaller`...)."""

from __future__ import annotations

from dataclasses import dataclass

# ---- monitoring (issue 17)


@dataclass(frozen=True, slots=True)
class StartSnoop:
    """A snoop channel (`channel_id`, acd's id) on `target` into acd's app with
    `app_args`: `spy` what it hears of the target, `whisper` where what it is fed
    goes (in, out, both, none). Its StasisStart says it is there."""

    channel_id: str
    target: str
    spy: str
    whisper: str
    app_args: str


@dataclass(frozen=True, slots=True)
class MoveSupervisor:
    """The supervisor's leg out of `source` (when in a bridge) into `bridge_id`, with
    `also` (a new snoop); answered by `Bridged(bridge_id)`."""

    channel_id: str
    source: str | None
    bridge_id: str
    also: tuple[str, ...] = ()
# ---- transfer (issue 17)


@dataclass(frozen=True, slots=True)
class ReserveAgent:
    """Reserve one named agent (or, `agent_id` empty, the first available agent of
    `queue`) for a transfer task (routing id `task_id`); answered by
    `TransferReserved`."""

    task_id: str
    agent_id: str
    queue: str
    enqueued_at_ms: int
    caller: str


@dataclass(frozen=True, slots=True)
class LoadFlow:
    """Look up flow `name` for a transfer; answered by `FlowLoaded`."""

    name: str  # a flow's name, or "#<number>": the flow for that acd number
    call_id: str
    caller: str
    dialled: str
    language: str


@dataclass(frozen=True, slots=True)
class ReportTransfer:
    """Tell the phone that sent a REFER how its transfer goes (transfer_progress:
    channel_progress, channel_answered, channel_declined, channel_unavailable)."""

    channel_id: str
    state: str
# ---- recording and payment (#17)


@dataclass(frozen=True, slots=True)
class StartBridgeRecording:
    """POST /bridges/{id}/record; answered by `RecordingOn`."""

    bridge_id: str
    name: str
    fmt: str


@dataclass(frozen=True, slots=True)
class PauseRecording:
    name: str


@dataclass(frozen=True, slots=True)
class ResumeRecording:
    name: str


@dataclass(frozen=True, slots=True)
class Ringback:
    """POST /channels/{id}/ring: the agent's phone, calling a colleague for a consult
    (its second call, not answered yet), hears them ringing (180 Ringing)."""

    channel_id: str


@dataclass(frozen=True, slots=True)
class StopRecording:
    """POST /recordings/live/{name}/stop: the file is kept."""

    name: str


@dataclass(frozen=True, slots=True)
class RemoveFromBridge:
    bridge_id: str
    channel_ids: tuple[str, ...]


# ---- hold (acd.calls.phases.hold)


@dataclass(frozen=True, slots=True)
class HoldCaller:
    """Music on the caller's channel, which stays in the call's mixing bridge, and the
    caller muted toward it (the agent hears nothing of the caller meanwhile). Answered
    by `HoldDone(request_id, True)`."""

    channel_id: str
    moh_class: str
    request_id: str | None


@dataclass(frozen=True, slots=True)
class UnholdCaller:
    """Undo a hold: the caller's music off (`music`) and their voice back (`unmute`).
    Answered by `HoldDone(request_id, False)`."""

    channel_id: str
    request_id: str | None
    music: bool = True
    unmute: bool = True


@dataclass(frozen=True, slots=True)
class BridgeMusicOn:
    """POST /bridges/{id}/moh: music to everyone in the bridge."""

    bridge_id: str
    moh_class: str


@dataclass(frozen=True, slots=True)
class BridgeMusicOff:
    bridge_id: str


@dataclass(frozen=True, slots=True)
class FindPaymentFlow:
    """Look a flow up for a payment; answered by `PaymentFlowFound`."""

    name: str
