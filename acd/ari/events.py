"""Typed ARI events, parsed once from the WebSocket's JSON.

Every event is a slotted dataclass with `type`, `application`, `timestamp` (the
ARI string, unparsed: most handlers never look at it) and `raw` (the decoded
JSON, for the rare field not modelled here). `channel_id` / `bridge_id` name the
channel and bridge an event is about; the event stream uses them as lanes.
Event types not modelled here come back as `UnknownEvent`, never as an error.

The classes live by resource (`event_base`, `channel_events`, `bridge_events`,
`media_events`); this module parses and re-exports them, so `acd.ari.events.X`
names every event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from acd.ari.bridge_events import (
    BridgeChannelEvent,
    BridgeCreated,
    BridgeDestroyed,
    BridgeEvent,
    BridgeMerged,
    ChannelEnteredBridge,
    ChannelLeftBridge,
)
from acd.ari.channel_events import (
    ChannelCallerId,
    ChannelConnectedLine,
    ChannelCreated,
    ChannelDestroyed,
    ChannelDialplan,
    ChannelDtmfReceived,
    ChannelEvent,
    ChannelHangupRequest,
    ChannelHold,
    ChannelStateChange,
    ChannelTalkingFinished,
    ChannelTalkingStarted,
    ChannelToneDetected,
    ChannelTransfer,
    ChannelUnhold,
    ChannelUserevent,
    ChannelVarset,
    Dial,
    StasisEnd,
    StasisStart,
)
from acd.ari.event_base import (
    ApplicationReplaced,
    Event,
    UnknownEvent,
)
from acd.ari.media_events import (
    PlaybackContinuing,
    PlaybackEvent,
    PlaybackFinished,
    PlaybackStarted,
    RecordingEvent,
    RecordingFailed,
    RecordingFinished,
    RecordingStarted,
)
from acd.ari.models import JsonDict

__all__ = [
    "EVENT_TYPES",
    "ApplicationReplaced",
    "BridgeChannelEvent",
    "BridgeCreated",
    "BridgeDestroyed",
    "BridgeEvent",
    "BridgeMerged",
    "ChannelCallerId",
    "ChannelConnectedLine",
    "ChannelCreated",
    "ChannelDestroyed",
    "ChannelDialplan",
    "ChannelDtmfReceived",
    "ChannelEnteredBridge",
    "ChannelEvent",
    "ChannelHangupRequest",
    "ChannelHold",
    "ChannelLeftBridge",
    "ChannelStateChange",
    "ChannelTalkingFinished",
    "ChannelTalkingStarted",
    "ChannelToneDetected",
    "ChannelTransfer",
    "ChannelUnhold",
    "ChannelUserevent",
    "ChannelVarset",
    "Dial",
    "Event",
    "PlaybackContinuing",
    "PlaybackEvent",
    "PlaybackFinished",
    "PlaybackStarted",
    "RecordingEvent",
    "RecordingFailed",
    "RecordingFinished",
    "RecordingStarted",
    "StasisEnd",
    "StasisStart",
    "UnknownEvent",
    "parse_event",
]

logger = logging.getLogger(__name__)

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
