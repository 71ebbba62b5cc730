"""What every node model shares: the base class, its `edges()`, and the field
types that read YAML the way flow authors write it (a prompt as one URI or a list,
numbers in text fields as text)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, BeforeValidator, ConfigDict

DIGITS = "0123456789*#"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
QUEUE_EXIT_REASONS = ("max_wait", "callback", "no_agents", "full")
GOODBYE = "sound:acd-goodbye"
INVALID = "sound:acd-invalid"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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


def check_names(names: Mapping[str, object], what: str) -> None:
    """Raise ValueError unless every name is an identifier (letters, digits, _)."""
    for name in names:
        if not _NAME.match(name):
            raise ValueError(f"{what} name {name!r} must be letters, digits and _")


class NodeBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    description: str | None = None

    def edges(self) -> list[Edge]:
        return []


def edge(label: str, target: str | None, *loc: str) -> list[Edge]:
    """The one edge to `target` (none when the field is unset), found at `loc`."""
    return [] if target is None else [Edge(label, target, loc)]

