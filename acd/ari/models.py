"""ARI resources as slotted dataclasses, parsed straight from ARI JSON.

Parsing is on the hot path (every event carries a channel snapshot), so each
`from_json` reads only the keys acd uses, with plain dict lookups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]


def target_of(uri: str | None) -> tuple[str | None, str | None]:
    """Split a `target_uri` such as `channel:<id>` into (`channel`, `<id>`)."""
    if not uri:
        return None, None
    kind, sep, ident = uri.partition(":")
    if not sep:
        return None, None
    return kind, ident


@dataclass(slots=True)
class Channel:
    id: str
    name: str = ""
    state: str = ""
    caller_number: str = ""
    caller_name: str = ""
    exten: str = ""
    context: str = ""
    language: str = ""
    creationtime: str = ""
    connected_number: str = ""
    connected_name: str = ""

    @classmethod
    def from_json(cls, d: JsonDict) -> Channel:
        caller = d.get("caller") or {}
        connected = d.get("connected") or {}
        dialplan = d.get("dialplan") or {}
        return cls(
            id=d["id"],
            name=d.get("name", ""),
            state=d.get("state", ""),
            caller_number=caller.get("number", ""),
            caller_name=caller.get("name", ""),
            exten=dialplan.get("exten", ""),
            context=dialplan.get("context", ""),
            language=d.get("language", ""),
            creationtime=d.get("creationtime", ""),
            connected_number=connected.get("number", ""),
            connected_name=connected.get("name", ""),
        )


@dataclass(slots=True)
class Bridge:
    id: str
    bridge_type: str = ""
    name: str = ""
    channels: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, d: JsonDict) -> Bridge:
        return cls(
            id=d["id"],
            bridge_type=d.get("bridge_type", ""),
            name=d.get("name", ""),
            channels=list(d.get("channels") or ()),
        )


@dataclass(slots=True)
class Playback:
    id: str
    media_uri: str = ""
    target_uri: str = ""
    state: str = ""
    language: str = ""
    next_media_uri: str | None = None

    @classmethod
    def from_json(cls, d: JsonDict) -> Playback:
        return cls(
            id=d["id"],
            media_uri=d.get("media_uri", ""),
            target_uri=d.get("target_uri", ""),
            state=d.get("state", ""),
            language=d.get("language", ""),
            next_media_uri=d.get("next_media_uri"),
        )


@dataclass(slots=True)
class LiveRecording:
    name: str
    state: str = ""
    target_uri: str = ""
    format: str = ""
    duration: int | None = None
    cause: str | None = None

    @classmethod
    def from_json(cls, d: JsonDict) -> LiveRecording:
        return cls(
            name=d["name"],
            state=d.get("state", ""),
            target_uri=d.get("target_uri", ""),
            format=d.get("format", ""),
            duration=d.get("duration"),
            cause=d.get("cause"),
        )


@dataclass(slots=True)
class StoredRecording:
    name: str
    format: str = ""

    @classmethod
    def from_json(cls, d: JsonDict) -> StoredRecording:
        return cls(name=d["name"], format=d.get("format", ""))


@dataclass(slots=True)
class Application:
    name: str
    channel_ids: list[str] = field(default_factory=list)
    bridge_ids: list[str] = field(default_factory=list)
    endpoint_ids: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, d: JsonDict) -> Application:
        return cls(
            name=d["name"],
            channel_ids=list(d.get("channel_ids") or ()),
            bridge_ids=list(d.get("bridge_ids") or ()),
            endpoint_ids=list(d.get("endpoint_ids") or ()),
        )


@dataclass(slots=True)
class Endpoint:
    technology: str
    resource: str
    state: str = ""
    channel_ids: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, d: JsonDict) -> Endpoint:
        return cls(
            technology=d["technology"],
            resource=d["resource"],
            state=d.get("state", ""),
            channel_ids=list(d.get("channel_ids") or ()),
        )


@dataclass(slots=True)
class AsteriskInfo:
    raw: JsonDict

    @classmethod
    def from_json(cls, d: JsonDict) -> AsteriskInfo:
        return cls(raw=dict(d))

    @property
    def version(self) -> str | None:
        system = self.raw.get("system") or {}
        version = system.get("version")
        return version if isinstance(version, str) else None
