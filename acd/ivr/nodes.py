"""One pydantic model per node type.

Each validates one YAML node (the loader maps their errors back to a file, line
and column). `edges()` lists every node a node can lead to, with the field it
came from, so that the loader, the graph and the analysis agree on the shape of
a flow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from acd.ivr.pattern import problem as pattern_problem

DIGITS = "0123456789*#"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
QUEUE_EXIT_REASONS = ("max_wait", "callback", "no_agents", "full")
GOODBYE = "sound:acd-goodbye"
INVALID = "sound:acd-invalid"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class Edge(NamedTuple):
    label: str
    target: str
    loc: tuple[str, ...]


def _prompts(value: Any) -> Any:
    """A prompt field takes one media URI or a list; bare names mean `sound:<name>`."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        return value
    return [p if not isinstance(p, str) or ":" in p else f"sound:{p}" for p in items]


def _text(value: Any) -> Any:
    """YAML reads `100` and `3.5` as numbers; fields that hold text take them as text."""
    if isinstance(value, bool):
        return value
    return str(value) if isinstance(value, int | float) else value


def _text_map(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _text(v) for k, v in value.items()}
    return value


def _text_list(value: Any) -> Any:
    return [_text(v) for v in value] if isinstance(value, list) else value


Prompts = Annotated[list[str], BeforeValidator(_prompts)]
TextList = Annotated[list[str], BeforeValidator(_text_list)]
Text = Annotated[str, BeforeValidator(_text)]
TextMap = Annotated[dict[str, str], BeforeValidator(_text_map)]


def _check_names(names: Mapping[str, object], what: str) -> None:
    for name in names:
        if not _NAME.match(name):
            raise ValueError(f"{what} name {name!r} must be letters, digits and _")


class NodeBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    description: str | None = None

    def edges(self) -> list[Edge]:
        return []


def _edge(label: str, target: str | None, *loc: str) -> list[Edge]:
    return [] if target is None else [Edge(label, target, loc)]


# ------------------------------------------------------------------ call-path subset


class PlayNode(NodeBase):
    type: Literal["play"]
    prompt: Prompts = Field(min_length=1)
    interruptible: bool = True
    language: str | None = None
    next: str

    def edges(self) -> list[Edge]:
        return _edge("", self.next, "next")


class MenuNode(NodeBase):
    type: Literal["menu"]
    prompt: Prompts = Field(min_length=1)
    options: TextMap = Field(min_length=1)
    timeout: float = Field(default=5.0, gt=0, le=600)
    retries: int = Field(default=2, ge=0, le=20)
    invalid_prompt: Prompts = Field(default_factory=lambda: [INVALID])
    timeout_prompt: Prompts = Field(default_factory=list)
    on_invalid: str | None = None
    on_timeout: str | None = None
    language: str | None = None

    @field_validator("options")
    @classmethod
    def _digit_keys(cls, v: dict[str, str]) -> dict[str, str]:
        for key in v:
            if len(key) != 1 or key not in DIGITS:
                raise ValueError(f"option {key!r} is not a single key of 0-9, * or #")
        return v

    def edges(self) -> list[Edge]:
        out = [Edge(k, t, ("options", k)) for k, t in self.options.items()]
        out += _edge("invalid", self.on_invalid, "on_invalid")
        return out + _edge("timeout", self.on_timeout, "on_timeout")


class QueueAnnounce(BaseModel):
    """What a waiting caller hears every `every` seconds, the first time after
    `first` seconds (default: `every`): the `prompt` (a periodic message), then the
    caller's position and the expected wait when asked for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    position: bool = True
    wait_time: bool = False
    every: float = Field(default=30.0, gt=0)
    first: float | None = Field(default=None, ge=0)
    prompt: Prompts = Field(default_factory=list)
    moh_class: str | None = None


class QueueCallback(BaseModel):
    """"Press 1 to be called back": the caller leaves the queue but keeps their place.

    The `offer` prompt is played with every announcement; pressing `key` turns the
    waiting call into a callback task (same place, same enqueue time) and the flow
    goes on at `on_exit: callback` (say "we will call you back", hang up). When an
    agent is reserved for the task, acd calls `number` back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = "1"
    number: str = "${caller}"
    offer: Prompts = Field(default_factory=lambda: ["sound:acd-callback-offer"])

    @field_validator("key")
    @classmethod
    def _one_key(cls, v: str) -> str:
        if len(v) != 1 or v not in DIGITS:
            raise ValueError(f"key {v!r} is not a single key of 0-9, * or #")
        return v


class QueueNode(NodeBase):
    type: Literal["queue"]
    queue: str
    skills: dict[str, int] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=0, le=100)
    max_wait: float | None = Field(default=None, gt=0)
    chain: str | None = None
    preferred_agent: str | None = None
    announce: QueueAnnounce = Field(default_factory=QueueAnnounce)
    callback: QueueCallback | None = None
    on_exit: str | dict[str, str] | None = None

    @field_validator("on_exit")
    @classmethod
    def _exit_reasons(cls, v: str | dict[str, str] | None) -> str | dict[str, str] | None:
        if isinstance(v, dict):
            for reason in v:
                if reason not in (*QUEUE_EXIT_REASONS, "default"):
                    allowed = ", ".join((*QUEUE_EXIT_REASONS, "default"))
                    raise ValueError(f"unknown exit reason {reason!r} (one of {allowed})")
        return v

    def exit_target(self, reason: str) -> str | None:
        if isinstance(self.on_exit, dict):
            return self.on_exit.get(reason, self.on_exit.get("default"))
        return self.on_exit

    def edges(self) -> list[Edge]:
        if isinstance(self.on_exit, dict):
            return [Edge(r, t, ("on_exit", r)) for r, t in self.on_exit.items()]
        return _edge("exit", self.on_exit, "on_exit")


class HangupNode(NodeBase):
    type: Literal["hangup"]
    prompt: Prompts = Field(default_factory=list)
    reason: Literal["normal", "busy", "congestion", "no_answer"] = "normal"


class GotoNode(NodeBase):
    type: Literal["goto"]
    target: str

    def edges(self) -> list[Edge]:
        return _edge("", self.target, "target")


# --------------------------------------------------------------------- the rest


class SayNode(NodeBase):
    type: Literal["say"]
    value: Text
    say_as: Literal["number", "digits", "duration", "date"] = Field(alias="as")
    before: Prompts = Field(default_factory=list)
    after: Prompts = Field(default_factory=list)
    interruptible: bool = True
    language: str | None = None
    next: str

    def edges(self) -> list[Edge]:
        return _edge("", self.next, "next")


class CollectNode(NodeBase):
    type: Literal["collect"]
    prompt: Prompts = Field(min_length=1)
    variable: str
    min_digits: int = Field(default=1, ge=0, le=64)
    max_digits: int = Field(default=20, ge=1, le=64)
    terminator: Literal["#", "*"] | None = "#"
    timeout: float = Field(default=5.0, gt=0, le=600)
    inter_digit_timeout: float = Field(default=3.0, gt=0, le=600)
    retries: int = Field(default=2, ge=0, le=20)
    pattern: str | None = None
    luhn: bool = False
    masked: bool = False
    invalid_prompt: Prompts = Field(default_factory=lambda: [INVALID])
    timeout_prompt: Prompts = Field(default_factory=list)
    next: str
    on_invalid: str | None = None
    on_timeout: str | None = None
    language: str | None = None

    @field_validator("variable")
    @classmethod
    def _name(cls, v: str) -> str:
        _check_names({v: None}, "variable")
        return v

    @field_validator("pattern")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        why = None if v is None else pattern_problem(v)
        if why is not None:
            raise ValueError(why)
        return v

    @model_validator(mode="after")
    def _bounds(self) -> CollectNode:
        if self.min_digits > self.max_digits:
            raise ValueError(f"min_digits ({self.min_digits}) > max_digits ({self.max_digits})")
        return self

    def edges(self) -> list[Edge]:
        out = _edge("", self.next, "next") + _edge("invalid", self.on_invalid, "on_invalid")
        return out + _edge("timeout", self.on_timeout, "on_timeout")


class SetNode(NodeBase):
    type: Literal["set"]
    variables: TextMap = Field(min_length=1)
    next: str

    @field_validator("variables")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        _check_names(v, "variable")
        return v

    def edges(self) -> list[Edge]:
        return _edge("", self.next, "next")


class Case(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    when: Text
    goto: str


class SwitchNode(NodeBase):
    type: Literal["switch"]
    cases: list[Case] = Field(min_length=1)
    default: str
    timezone: str = "UTC"

    def edges(self) -> list[Edge]:
        out = [Edge(c.when, c.goto, ("cases", str(i), "goto")) for i, c in enumerate(self.cases)]
        return [*out, Edge("default", self.default, ("default",))]


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: int  # minutes after midnight
    end: int


def parse_range(text: str) -> TimeRange:
    m = _RANGE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a time range like '08:30-17:00'")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60:
        raise ValueError(f"{text!r} is not a valid time range")
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts (split ranges that cross midnight)")
    return TimeRange(start, end)


def _hours(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    out: dict[Any, Any] = {}
    for day, spec in value.items():
        out[day] = [] if spec in ("closed", None) else [spec] if isinstance(spec, str) else spec
    return out


class ScheduleNode(NodeBase):
    type: Literal["schedule"]
    name: str | None = None
    timezone: str
    hours: Annotated[
        dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[str]],
        BeforeValidator(_hours),
    ]
    holidays: TextList = Field(default_factory=list)
    open: str
    closed: str
    holiday: str | None = None
    emergency: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (e.g. 'Europe/Paris')") from None
        return v

    @field_validator("hours")
    @classmethod
    def _ranges(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for ranges in v.values():
            for r in ranges:
                parse_range(r)
        return v

    @field_validator("holidays")
    @classmethod
    def _dates(cls, v: list[str]) -> list[str]:
        for d in v:
            if not re.match(r"^(\d{4}-)?\d{2}-\d{2}$", d):
                raise ValueError(f"holiday {d!r} is not YYYY-MM-DD or MM-DD (every year)")
            try:
                datetime.strptime(d if len(d) == 10 else f"2000-{d}", "%Y-%m-%d")
            except ValueError:
                raise ValueError(f"holiday {d!r} is not a real date") from None
        return v

    def edges(self) -> list[Edge]:
        out = _edge("open", self.open, "open") + _edge("closed", self.closed, "closed")
        out += _edge("holiday", self.holiday, "holiday")
        return out + _edge("emergency", self.emergency, "emergency")


class ListNode(NodeBase):
    type: Literal["list"]
    list_name: str = Field(alias="list")
    number: Text = "${caller}"
    member: str
    not_member: str

    def edges(self) -> list[Edge]:
        return _edge("member", self.member, "member") + _edge(
            "not member", self.not_member, "not_member"
        )


class HttpNode(NodeBase):
    type: Literal["http"]
    method: Literal["GET", "POST"] = "GET"
    url: str
    params: TextMap = Field(default_factory=dict)
    headers: TextMap = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    timeout: float = Field(default=5.0, gt=0, le=10)  # http_policy.MAX_TIMEOUT
    response: TextMap = Field(default_factory=dict)
    next: str
    on_failure: str
    on_timeout: str | None = None

    @field_validator("url")
    @classmethod
    def _web(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s$]", v):
            raise ValueError("the url must start with http:// or https:// and a host name")
        return v

    @model_validator(mode="after")
    def _post_body(self) -> HttpNode:
        if self.body is not None and self.method != "POST":
            raise ValueError("a body needs method: POST")
        _check_names(self.response, "variable")
        return self

    def edges(self) -> list[Edge]:
        out = _edge("ok", self.next, "next") + _edge("failure", self.on_failure, "on_failure")
        return out + _edge("timeout", self.on_timeout, "on_timeout")


class TransferNode(NodeBase):
    type: Literal["transfer"]
    endpoint: str | None = None
    extension: Text | None = None
    number: Text | None = None
    context: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> TransferNode:
        given = [f for f in ("endpoint", "extension", "number") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of endpoint, extension or number")
        return self


class VoicemailNode(NodeBase):
    type: Literal["voicemail"]
    prompt: Prompts = Field(default_factory=lambda: ["sound:acd-leave-message"])
    max_seconds: float = Field(default=120.0, gt=0, le=3600)
    beep: bool = True
    variable: str = "voicemail"
    goodbye: Prompts = Field(default_factory=lambda: [GOODBYE])
    next: str | None = None

    def edges(self) -> list[Edge]:
        return _edge("", self.next, "next")


class LanguageNode(NodeBase):
    type: Literal["language"]
    language: str = Field(pattern=r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$")
    next: str

    def edges(self) -> list[Edge]:
        return _edge("", self.next, "next")


class SubflowNode(NodeBase):
    type: Literal["subflow"]
    flow: str
    next: str

    def edges(self) -> list[Edge]:
        return _edge("return", self.next, "next")


class ReturnNode(NodeBase):
    type: Literal["return"]
