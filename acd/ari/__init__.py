"""acd.ari: a thin asyncio client for Asterisk's REST Interface and its events.

`AriClient` makes REST calls and returns models, `EventStream` keeps the events
WebSocket up and dispatches typed events per lane; failures are `AriError`s.
"""

from acd.ari.client import AriClient
from acd.ari.config import AriConfig
from acd.ari.errors import (
    AriAllocationFailed,
    AriBadRequest,
    AriConflict,
    AriError,
    AriNotFound,
    AriServerError,
    AriUnauthorized,
    AriUnavailable,
    AriUnprocessable,
)
from acd.ari.events import Event, UnknownEvent, parse_event
from acd.ari.stream import EventStream, LaneDispatcher

__all__ = [
    "AriAllocationFailed",
    "AriBadRequest",
    "AriClient",
    "AriConfig",
    "AriConflict",
    "AriError",
    "AriNotFound",
    "AriServerError",
    "AriUnauthorized",
    "AriUnavailable",
    "AriUnprocessable",
    "Event",
    "EventStream",
    "LaneDispatcher",
    "UnknownEvent",
    "parse_event",
]
