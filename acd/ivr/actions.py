"""The contract between the pure IVR engine and the runner that talks to ARI.

The engine (`acd.ivr.engine`) never does I/O: it takes an `IvrEvent` and returns
a new state plus a list of `Action`s. The runner (`acd.calls`) carries each
action out on the channel and feeds what happened back as events. Ids on
actions (`play_id`, `timer_id`, `request_id`) let the engine ignore a stale
completion that arrives after it has moved on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class Play:
    """Play `prompts` (ARI media URIs, e.g. "sound:acd-welcome") one after another.

    When the last one ends the runner sends `PromptsDone(play_id)`. Digits are
    always forwarded as `Digit` events; the engine decides whether they
    interrupt (it then emits `StopPrompts`).
    """

    play_id: int
    prompts: tuple[str, ...]
    interruptible: bool = True
    language: str | None = None


@dataclass(frozen=True, slots=True)
class StopPrompts:
    """Stop whatever prompts are playing (no `PromptsDone` follows)."""


@dataclass(frozen=True, slots=True)
class StartTimer:
    """After `seconds`, send `TimerFired(timer_id)`."""

    timer_id: int
    seconds: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer_id: int


@dataclass(frozen=True, slots=True)
class Enqueue:
    """Hand the caller to the routing engine.

    The IVR is suspended, not finished: if the queue gives the call back (maximum
    wait reached, caller asked for a callback, no agents) the runner sends
    `QueueExit(reason)` and the engine continues at the node's exit target.
    """

    queue: str
    skills: Mapping[str, int] = field(default_factory=dict)
    priority: int = 0
    max_wait: float | None = None
    chain: str | None = None
    preferred_agent: str | None = None
    announce: Mapping[str, object] = field(default_factory=dict)
    # "Press <key> to be called back on <number>" while waiting; None: not offered.
    callback_key: str | None = None
    callback_number: str | None = None
    callback_offer: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Hangup:
    """Hang the caller up. Terminal."""

    reason: str = "normal"


@dataclass(frozen=True, slots=True)
class Transfer:
    """Leave acd. Terminal.

    kind "endpoint": dial `target` (e.g. "PJSIP/200") and bridge;
    kind "extension": continue in the dialplan at `context`,`target`,1;
    kind "external": continue in the dialplan at `context` with `target` as the number.
    """

    kind: Literal["endpoint", "extension", "external"]
    target: str
    context: str | None = None


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """Make an HTTP request; the runner answers with `HttpResult(request_id, ...)`."""

    request_id: int
    method: Literal["GET", "POST"]
    url: str
    timeout: float
    params: Mapping[str, str] = field(default_factory=dict)
    json_body: Mapping[str, object] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckList:
    """Is `number` on the named list? Answered by `ListResult`."""

    request_id: int
    list_name: str
    number: str


@dataclass(frozen=True, slots=True)
class CheckOverride:
    """Read the supervisor's override for a schedule. Answered by `OverrideResult`."""

    request_id: int
    schedule: str


@dataclass(frozen=True, slots=True)
class Record:
    """Record the caller (voicemail). Answered by `RecordingDone`."""

    request_id: int
    max_seconds: float
    beep: bool = True


@dataclass(frozen=True, slots=True)
class SetLanguage:
    language: str


Action = (
    Play
    | StopPrompts
    | StartTimer
    | CancelTimer
    | Enqueue
    | Hangup
    | Transfer
    | HttpRequest
    | CheckList
    | CheckOverride
    | Record
    | SetLanguage
)

# ---------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Digit:
    digit: str


@dataclass(frozen=True, slots=True)
class PromptsDone:
    play_id: int


@dataclass(frozen=True, slots=True)
class TimerFired:
    timer_id: int


@dataclass(frozen=True, slots=True)
class HttpResult:
    """`status` is None when the request failed or timed out (`error` says which)."""

    request_id: int
    status: int | None
    body: object = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ListResult:
    request_id: int
    member: bool


@dataclass(frozen=True, slots=True)
class OverrideResult:
    request_id: int
    override: Literal["open", "closed", "emergency"] | None


@dataclass(frozen=True, slots=True)
class RecordingDone:
    request_id: int
    name: str | None


@dataclass(frozen=True, slots=True)
class QueueExit:
    """The queue gave the caller back to the IVR."""

    reason: Literal["max_wait", "callback", "no_agents", "full"]


IvrEvent = (
    Digit
    | PromptsDone
    | TimerFired
    | HttpResult
    | ListResult
    | OverrideResult
    | RecordingDone
    | QueueExit
)
