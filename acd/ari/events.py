"""Typed ARI events, parsed once from the WebSocket's JSON.

Every event is a slotted dataclass with `type`, `application`, `timestamp` (the
ARI string, unparsed: most handlers never look at it) and `raw` (the decoded
JSON, for the rare field not modelled here). `channel_id` / `bridge_id` name the
channel and bridge an event is about; the event stream uses them as lanes.
Event types not modelled here come back as `UnknownEvent`, never as an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from acd.ari.models import Bridge, Channel, JsonDict, LiveRecording, Playback, target_of

logger = logging.getLogger(__name__)


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


def _head(d: JsonDict) -> dict[str, Any]:
    return {
        "type": d["type"],
        "application": d.get("application", ""),
        "timestamp": d.get("timestamp", ""),
        "raw": d,
    }


def _opt_channel(d: JsonDict, key: str) -> Channel | None:
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
        return cls(**_head(d))


# ------------------------------------------------------------------ channels


@dataclass(slots=True, kw_only=True)
class ChannelEvent(Event):
    """An event about one channel, carrying its snapshot."""

    channel: Channel

    @property
    def channel_id(self) -> str | None:
        return self.channel.id

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(channel=Channel.from_json(d["channel"]), **_head(d))


@dataclass(slots=True, kw_only=True)
class StasisStart(ChannelEvent):
    args: list[str] = field(default_factory=list)
    replace_channel: Channel | None = None

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(
            channel=Channel.from_json(d["channel"]),
            args=list(d.get("args") or ()),
            replace_channel=_opt_channel(d, "replace_channel"),
            **_head(d),
        )


@dataclass(slots=True, kw_only=True)
class StasisEnd(ChannelEvent):
    pass


@dataclass(slots=True, kw_only=True)
class ChannelCreated(ChannelEvent):
    pass


@dataclass(slots=True, kw_only=True)
class ChannelStateChange(ChannelEvent):
    pass


@dataclass(slots=True, kw_only=True)
class ChannelConnectedLine(ChannelEvent):
    pass


@dataclass(slots=True, kw_only=True)
class ChannelUnhold(ChannelEvent):
    pass


@dataclass(slots=True, kw_only=True)
class ChannelTalkingStarted(ChannelEvent):
    pass


@dataclass(slots=True, kw_only=True)
class ChannelToneDetected(ChannelEvent):
    pass


@dataclass(slots=True, kw_only=True)
class ChannelDtmfReceived(ChannelEvent):
    digit: str = ""
    duration_ms: int = 0

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(
            channel=Channel.from_json(d["channel"]),
            digit=d.get("digit", ""),
            duration_ms=int(d.get("duration_ms") or 0),
            **_head(d),
        )


@dataclass(slots=True, kw_only=True)
class ChannelHangupRequest(ChannelEvent):
    cause: int | None = None
    soft: bool = False

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(
            channel=Channel.from_json(d["channel"]),
            cause=d.get("cause"),
            soft=bool(d.get("soft", False)),
            **_head(d),
        )


@dataclass(slots=True, kw_only=True)
class ChannelDestroyed(ChannelEvent):
    cause: int = 0
    cause_txt: str = ""

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(
            channel=Channel.from_json(d["channel"]),
            cause=int(d.get("cause") or 0),
            cause_txt=d.get("cause_txt", ""),
            **_head(d),
        )


@dataclass(slots=True, kw_only=True)
class ChannelDialplan(ChannelEvent):
    dialplan_app: str = ""
    dialplan_app_data: str = ""

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(
            channel=Channel.from_json(d["channel"]),
            dialplan_app=d.get("dialplan_app", ""),
            dialplan_app_data=d.get("dialplan_app_data", ""),
            **_head(d),
        )


@dataclass(slots=True, kw_only=True)
class ChannelHold(ChannelEvent):
    musicclass: str | None = None

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(
            channel=Channel.from_json(d["channel"]), musicclass=d.get("musicclass"), **_head(d)
        )


@dataclass(slots=True, kw_only=True)
class ChannelTalkingFinished(ChannelEvent):
    duration: int = 0

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(
            channel=Channel.from_json(d["channel"]),
            duration=int(d.get("duration") or 0),
            **_head(d),
        )


@dataclass(slots=True, kw_only=True)
class ChannelCallerId(ChannelEvent):
    caller_presentation: int = 0
    caller_presentation_txt: str = ""

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(
            channel=Channel.from_json(d["channel"]),
            caller_presentation=int(d.get("caller_presentation") or 0),
            caller_presentation_txt=d.get("caller_presentation_txt", ""),
            **_head(d),
        )


@dataclass(slots=True, kw_only=True)
class ChannelVarset(Event):
    """A channel (or, with `channel` None, a global) variable was set."""

    channel: Channel | None = None
    variable: str = ""
    value: str = ""

    @property
    def channel_id(self) -> str | None:
        return self.channel.id if self.channel is not None else None

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(
            channel=_opt_channel(d, "channel"),
            variable=d.get("variable", ""),
            value=d.get("value", ""),
            **_head(d),
        )


@dataclass(slots=True, kw_only=True)
class ChannelUserevent(Event):
    eventname: str = ""
    channel: Channel | None = None
    bridge: Bridge | None = None
    userevent: JsonDict = field(default_factory=dict)

    @property
    def channel_id(self) -> str | None:
        return self.channel.id if self.channel is not None else None

    @property
    def bridge_id(self) -> str | None:
        return self.bridge.id if self.bridge is not None else None

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        bridge = d.get("bridge")
        return cls(
            eventname=d.get("eventname", ""),
            channel=_opt_channel(d, "channel"),
            bridge=Bridge.from_json(bridge) if bridge else None,
            userevent=dict(d.get("userevent") or {}),
            **_head(d),
        )


@dataclass(slots=True, kw_only=True)
class Dial(Event):
    """Progress of a dial; about the `peer` (the channel being dialled)."""

    peer: Channel
    caller: Channel | None = None
    dialstatus: str = ""
    forwarded: Channel | None = None
    forward: str = ""
    dialstring: str = ""

    @property
    def channel_id(self) -> str | None:
        return self.peer.id

    @property
    def caller_id(self) -> str | None:
        return self.caller.id if self.caller is not None else None

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(
            peer=Channel.from_json(d["peer"]),
            caller=_opt_channel(d, "caller"),
            dialstatus=d.get("dialstatus", ""),
            forwarded=_opt_channel(d, "forwarded"),
            forward=d.get("forward", ""),
            dialstring=d.get("dialstring", ""),
            **_head(d),
        )


# ------------------------------------------------------------------- bridges


@dataclass(slots=True, kw_only=True)
class BridgeEvent(Event):
    bridge: Bridge

    @property
    def bridge_id(self) -> str | None:
        return self.bridge.id

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(bridge=Bridge.from_json(d["bridge"]), **_head(d))


@dataclass(slots=True, kw_only=True)
class BridgeCreated(BridgeEvent):
    pass


@dataclass(slots=True, kw_only=True)
class BridgeDestroyed(BridgeEvent):
    pass


@dataclass(slots=True, kw_only=True)
class BridgeMerged(BridgeEvent):
    bridge_from: Bridge | None = None

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        source = d.get("bridge_from")
        return cls(
            bridge=Bridge.from_json(d["bridge"]),
            bridge_from=Bridge.from_json(source) if source else None,
            **_head(d),
        )


@dataclass(slots=True, kw_only=True)
class BridgeChannelEvent(BridgeEvent):
    """A channel entering or leaving a bridge."""

    channel: Channel | None = None

    @property
    def channel_id(self) -> str | None:
        return self.channel.id if self.channel is not None else None

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(
            bridge=Bridge.from_json(d["bridge"]), channel=_opt_channel(d, "channel"), **_head(d)
        )


@dataclass(slots=True, kw_only=True)
class ChannelEnteredBridge(BridgeChannelEvent):
    pass


@dataclass(slots=True, kw_only=True)
class ChannelLeftBridge(BridgeChannelEvent):
    pass


# --------------------------------------------------------- playbacks, records


@dataclass(slots=True, kw_only=True)
class PlaybackEvent(Event):
    playback: Playback

    @property
    def channel_id(self) -> str | None:
        kind, ident = target_of(self.playback.target_uri)
        return ident if kind == "channel" else None

    @property
    def bridge_id(self) -> str | None:
        kind, ident = target_of(self.playback.target_uri)
        return ident if kind == "bridge" else None

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(playback=Playback.from_json(d["playback"]), **_head(d))


@dataclass(slots=True, kw_only=True)
class PlaybackStarted(PlaybackEvent):
    pass


@dataclass(slots=True, kw_only=True)
class PlaybackContinuing(PlaybackEvent):
    pass


@dataclass(slots=True, kw_only=True)
class PlaybackFinished(PlaybackEvent):
    pass


@dataclass(slots=True, kw_only=True)
class RecordingEvent(Event):
    recording: LiveRecording

    @property
    def channel_id(self) -> str | None:
        kind, ident = target_of(self.recording.target_uri)
        return ident if kind == "channel" else None

    @property
    def bridge_id(self) -> str | None:
        kind, ident = target_of(self.recording.target_uri)
        return ident if kind == "bridge" else None

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(recording=LiveRecording.from_json(d["recording"]), **_head(d))


@dataclass(slots=True, kw_only=True)
class RecordingStarted(RecordingEvent):
    pass


@dataclass(slots=True, kw_only=True)
class RecordingFinished(RecordingEvent):
    pass


@dataclass(slots=True, kw_only=True)
class RecordingFailed(RecordingEvent):
    pass


@dataclass(slots=True, kw_only=True)
class ChannelTransfer(Event):
    """A REFER from a phone whose channel has PJSIP_TRANSFER_HANDLING(ari-only): Asterisk
    did nothing but answer 202 and NOTIFY "100 Trying"; the app carries the transfer
    out and reports with transfer_progress, each report echoed as another
    ChannelTransfer whose `state` is the one sent (docs/call-control.md).

    About `source` (the channel the REFER came on). Blind: `destination` is the
    Refer-To user part. Attended (`protocol_id`, the Replaces Call-ID, is set):
    `destination_channel` is the channel of the replaced dialog, `connected_channel`
    the one bridged with it in `bridge`."""

    source: Channel
    state: str | None = None
    destination: str | None = None
    protocol_id: str | None = None
    protocol_params: dict[str, str] = field(default_factory=dict)
    destination_channel: Channel | None = None
    connected_channel: Channel | None = None
    destination_bridge_id: str | None = None
    source_connected: Channel | None = None
    source_bridge_id: str | None = None

    @property
    def attended(self) -> bool:
        return self.protocol_id is not None

    @property
    def channel_id(self) -> str | None:
        return self.source.id

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        to, by = d["refer_to"], d["referred_by"]
        dest = to.get("requested_destination") or {}
        return cls(
            source=Channel.from_json(by["source_channel"]),
            state=d.get("state"),
            destination=dest.get("destination"),
            protocol_id=dest.get("protocol_id"),
            protocol_params={str(p["parameter_name"]): str(p["parameter_value"])
                             for p in dest.get("additional_protocol_params") or ()},
            destination_channel=_opt_channel(to, "destination_channel"),
            connected_channel=_opt_channel(to, "connected_channel"),
            destination_bridge_id=(to.get("bridge") or {}).get("id"),
            source_connected=_opt_channel(by, "connected_channel"),
            source_bridge_id=(by.get("bridge") or {}).get("id"),
            **_head(d),
        )


_MODELLED: tuple[Any, ...] = (
    ApplicationReplaced, StasisStart, StasisEnd, ChannelCreated, ChannelStateChange,
    ChannelConnectedLine, ChannelUnhold, ChannelTalkingStarted, ChannelToneDetected,
    ChannelDtmfReceived, ChannelHangupRequest, ChannelDestroyed, ChannelDialplan, ChannelHold,
    ChannelTalkingFinished, ChannelCallerId, ChannelVarset, ChannelUserevent, Dial,
    BridgeCreated, BridgeDestroyed, BridgeMerged, ChannelEnteredBridge, ChannelLeftBridge,
    PlaybackStarted, PlaybackContinuing, PlaybackFinished,
    RecordingStarted, RecordingFinished, RecordingFailed, ChannelTransfer,
)
_PARSERS: dict[str, Callable[[JsonDict], Event]] = {c.__name__: c.from_json for c in _MODELLED}
EVENT_TYPES: frozenset[str] = frozenset(_PARSERS)


def parse_event(d: JsonDict) -> Event:
    """The typed event for one decoded ARI event message (never raises)."""
    kind = d.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is not None:
        try:
            return parser(d)
        except (KeyError, TypeError, ValueError, AttributeError):
            logger.warning("malformed ARI %s event; passing it on as UnknownEvent", kind)
    return UnknownEvent(
        type=str(kind or "?"),
        application=str(d.get("application", "")),
        timestamp=str(d.get("timestamp", "")),
        raw=d,
    )
