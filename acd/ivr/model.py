"""The flow model: the node types, and the immutable `Flow` that holds them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel

from acd.ivr.nodes import (
    DIGITS,
    GOODBYE,
    INVALID,
    QUEUE_EXIT_REASONS,
    WEEKDAYS,
    Case,
    CollectNode,
    Edge,
    GotoNode,
    HangupNode,
    HttpNode,
    LanguageNode,
    ListNode,
    MenuNode,
    NodeBase,
    PlayNode,
    QueueAnnounce,
    QueueNode,
    ReturnNode,
    SayNode,
    ScheduleNode,
    SetNode,
    SubflowNode,
    SwitchNode,
    TimeRange,
    TransferNode,
    VoicemailNode,
    parse_range,
)

__all__ = [
    "DIGITS",
    "GOODBYE",
    "INSTANT_TYPES",
    "INVALID",
    "NODE_TYPES",
    "QUEUE_EXIT_REASONS",
    "TERMINAL_TYPES",
    "WEEKDAYS",
    "Case",
    "CollectNode",
    "Edge",
    "Flow",
    "GotoNode",
    "HangupNode",
    "HttpNode",
    "LanguageNode",
    "ListNode",
    "Mark",
    "MenuNode",
    "Node",
    "NodeBase",
    "PlayNode",
    "QueueAnnounce",
    "QueueNode",
    "ReturnNode",
    "SayNode",
    "ScheduleNode",
    "SetNode",
    "SubflowNode",
    "SwitchNode",
    "TimeRange",
    "TransferNode",
    "VoicemailNode",
    "field_names",
    "parse_range",
]

Node = (
    PlayNode
    | MenuNode
    | QueueNode
    | HangupNode
    | GotoNode
    | SayNode
    | CollectNode
    | SetNode
    | SwitchNode
    | ScheduleNode
    | ListNode
    | HttpNode
    | TransferNode
    | VoicemailNode
    | LanguageNode
    | SubflowNode
    | ReturnNode
)

NODE_TYPES: dict[str, type[NodeBase]] = {
    "play": PlayNode,
    "say": SayNode,
    "menu": MenuNode,
    "collect": CollectNode,
    "set": SetNode,
    "switch": SwitchNode,
    "schedule": ScheduleNode,
    "list": ListNode,
    "http": HttpNode,
    "queue": QueueNode,
    "transfer": TransferNode,
    "voicemail": VoicemailNode,
    "language": LanguageNode,
    "goto": GotoNode,
    "subflow": SubflowNode,
    "return": ReturnNode,
    "hangup": HangupNode,
}

# Nodes after which the caller has left the IVR (or may, on the node's own terms).
TERMINAL_TYPES = frozenset({"hangup", "transfer", "queue", "voicemail", "return"})
# Nodes that never wait for anything: a cycle made only of them never ends.
INSTANT_TYPES = frozenset({"goto", "set", "switch", "language"})


def field_names(model: type[BaseModel]) -> list[str]:
    """The names an operator writes in YAML (aliases where a field has one)."""
    return [f.alias or name for name, f in model.model_fields.items()]


@dataclass(frozen=True, slots=True)
class Mark:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True, eq=False)
class Flow:
    """One validated flow. Immutable: a live call keeps the object it started with."""

    name: str
    numbers: tuple[str, ...]
    start: str
    nodes: Mapping[str, Node] = field(repr=False)
    language: str = "en"
    default: bool = False
    source: str = ""
    digest: str = ""
    loaded_at: datetime | None = None
    key_marks: Mapping[tuple[str, ...], Mark] = field(default_factory=dict, repr=False)
    value_marks: Mapping[tuple[str, ...], Mark] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return f"Flow(name={self.name!r}, version={self.version!r}, source={self.source!r})"

    @property
    def version(self) -> str:
        """Content hash and load time, e.g. `3f2a9c1b04de@2026-11-23T14:40:00Z`."""
        when = self.loaded_at.strftime("%Y-%m-%dT%H:%M:%SZ") if self.loaded_at else "-"
        return f"{self.digest}@{when}"

    def mark(self, *path: str) -> Mark:
        """Where `path` (e.g. "nodes", "menu1") is written, best effort."""
        p = tuple(path)
        while p:
            if p in self.value_marks:
                return self.key_marks.get(p, self.value_marks[p])
            p = p[:-1]
        return Mark(1, 1)
