"""The base of every typed ARI event, and the pieces each event's parser shares.

Every event is a slotted dataclass with `type`, `application`, `timestamp` (the
ARI string, unparsed: most handlers never look at it) and `raw` (the decoded
JSON, for the rare field not modelled here). `channel_id` / `bridge_id` name the
channel and bridge an event is about; the event stream uses them as lanes.
The events themselves live by resource (`channel_events`, `bridge_events`,
`media_events`); `acd.ari.events` parses and re-exports them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from acd.ari.models import Channel, JsonDict


@dataclass(slots=True, kw_only=True)
class Event:
    """Base of every ARI event."""

    type: str = ""
    application: str = ""
    timestamp: str = ""
    raw: JsonDict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.type:
            self.type = type(self).__name__

    @property
    def channel_id(self) -> str | None:
        """The channel this event is about, if any."""
        return None

    @property
    def bridge_id(self) -> str | None:
        """The bridge this event is about, if any."""
        return None


def head(d: JsonDict) -> dict[str, Any]:
    """The fields every event shares, from one decoded event message."""
    return {
        "type": d["type"],
        "application": d.get("application", ""),
        "timestamp": d.get("timestamp", ""),
        "raw": d,
    }


def opt_channel(d: JsonDict, key: str) -> Channel | None:
    """The channel snapshot under `key`, or None when the message has none."""
    value = d.get(key)
    return Channel.from_json(value) if value else None


@dataclass(slots=True, kw_only=True)
class UnknownEvent(Event):
    """An event type acd does not model; see `raw`."""


@dataclass(slots=True, kw_only=True)
class ApplicationReplaced(Event):
    """Another client took over this application's WebSocket."""

    @classmethod
    def from_json(cls, d: JsonDict) -> ApplicationReplaced:
        return cls(**head(d))
