"""Nodes that hand the call on: to a queue of agents, another number, a subflow
(and back), or the end of the call."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from acd.ivr.nodes.base import DIGITS, QUEUE_EXIT_REASONS, Edge, NodeBase, Prompts, Text, edge


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
        return edge("exit", self.on_exit, "on_exit")


class HangupNode(NodeBase):
    type: Literal["hangup"]
    prompt: Prompts = Field(default_factory=list)
    reason: Literal["normal", "busy", "congestion", "no_answer"] = "normal"


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


class SubflowNode(NodeBase):
    type: Literal["subflow"]
    flow: str
    next: str

    def edges(self) -> list[Edge]:
        return edge("return", self.next, "next")


class ReturnNode(NodeBase):
    type: Literal["return"]
