"""Nodes that talk with the caller: play, menu, say, collect, voicemail, language."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from acd.ivr.nodes.base import (
    DIGITS,
    GOODBYE,
    INVALID,
    Edge,
    NodeBase,
    Prompts,
    Text,
    TextMap,
    check_names,
    edge,
)
from acd.ivr.pattern import problem as pattern_problem


class PlayNode(NodeBase):
    type: Literal["play"]
    prompt: Prompts = Field(min_length=1)
    interruptible: bool = True
    language: str | None = None
    next: str

    def edges(self) -> list[Edge]:
        return edge("", self.next, "next")


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
        out += edge("invalid", self.on_invalid, "on_invalid")
        return out + edge("timeout", self.on_timeout, "on_timeout")


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
        return edge("", self.next, "next")


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
        check_names({v: None}, "variable")
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
        out = edge("", self.next, "next") + edge("invalid", self.on_invalid, "on_invalid")
        return out + edge("timeout", self.on_timeout, "on_timeout")


class VoicemailNode(NodeBase):
    type: Literal["voicemail"]
    prompt: Prompts = Field(default_factory=lambda: ["sound:acd-leave-message"])
    max_seconds: float = Field(default=120.0, gt=0, le=3600)
    beep: bool = True
    variable: str = "voicemail"
    goodbye: Prompts = Field(default_factory=lambda: [GOODBYE])
    next: str | None = None

    def edges(self) -> list[Edge]:
        return edge("", self.next, "next")


class LanguageNode(NodeBase):
    type: Literal["language"]
    language: str = Field(pattern=r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$")
    next: str

    def edges(self) -> list[Edge]:
        return edge("", self.next, "next")
