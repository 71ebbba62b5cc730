"""Nodes that decide where a flow goes: goto, set, switch, schedule (opening
hours), list membership, and an HTTP lookup."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from acd.ivr.nodes.base import Edge, NodeBase, Text, TextList, TextMap, check_names, edge

_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


class GotoNode(NodeBase):
    type: Literal["goto"]
    target: str

    def edges(self) -> list[Edge]:
        return edge("", self.target, "target")


class SetNode(NodeBase):
    type: Literal["set"]
    variables: TextMap = Field(min_length=1)
    next: str

    @field_validator("variables")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        check_names(v, "variable")
        return v

    def edges(self) -> list[Edge]:
        return edge("", self.next, "next")


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
        out = edge("open", self.open, "open") + edge("closed", self.closed, "closed")
        out += edge("holiday", self.holiday, "holiday")
        return out + edge("emergency", self.emergency, "emergency")


class ListNode(NodeBase):
    type: Literal["list"]
    list_name: str = Field(alias="list")
    number: Text = "${caller}"
    member: str
    not_member: str

    def edges(self) -> list[Edge]:
        return edge("member", self.member, "member") + edge(
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
        check_names(self.response, "variable")
        return self

    def edges(self) -> list[Edge]:
        out = edge("ok", self.next, "next") + edge("failure", self.on_failure, "on_failure")
        return out + edge("timeout", self.on_timeout, "on_timeout")
