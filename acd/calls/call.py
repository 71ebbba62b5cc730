"""One call's state, kept by the process that owns the caller's channel."""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from acd.ivr.engine import IvrState
    from acd.routing.model import Offer


class Phase(enum.StrEnum):
    DIALLING = "dialling"  # a callback: ringing the caller who asked for it
    IVR = "ivr"
    QUEUED = "queued"
    OFFERING = "offering"
    CONNECTED = "connected"
    ENDING = "ending"
    ENDED = "ended"


@dataclass(slots=True)
class AgentLeg:
    """One attempt to reach an agent's phone."""

    leg_id: str
    channel_id: str
    agent_id: str
    endpoint: str
    offer: Offer
    started_ms: int
    answered_ms: int | None = None
    rang_ms: int | None = None  # the phone said it rings (180)
    ended_ms: int | None = None
    cause: int | None = None
    outcome: str | None = None
    hangup_requested: bool = False
    extra_dialled: bool = False


@dataclass(slots=True)
class Call:
    call_id: str
    channel_id: str
    caller_number: str
    caller_name: str
    dialled: str
    started_ms: int
    language: str = "en"
    flow_name: str | None = None
    flow_version: str | None = None
    phase: Phase = Phase.IVR
    ivr: IvrState | None = None
    # The playback the IVR waits on: ARI playback id -> engine play_id.
    playing: dict[str, int] = field(default_factory=dict)
    timers: dict[int, asyncio.TimerHandle] = field(default_factory=dict)
    queue: str | None = None
    enqueued_ms: int | None = None
    moh_on: bool = False
    answered_ms: int | None = None
    bridge_id: str | None = None
    legs: dict[str, AgentLeg] = field(default_factory=dict)  # by channel id
    connected_leg: AgentLeg | None = None
    attempts: int = 0
    outcome: str | None = None
    ended_ms: int | None = None
    caller_cause: int | None = None
    caller_gone: bool = False
    caller_destroyed: bool = False
    transferred: bool = False
    written: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    # What the queue node asked for while waiting: announcements (QueueAnnounce as a
    # dict) and the callback key, number and offer prompt.
    announce: dict[str, Any] = field(default_factory=dict)
    announce_timer: asyncio.TimerHandle | None = None
    callback_key: str | None = None
    callback_number: str | None = None
    callback_offer: tuple[str, ...] = ()
    # A callback call serves the routing task of the call that asked for it: the
    # task keeps that call's id (and its place). None for an ordinary call.
    routing_id: str | None = None
    callback_attempt: int = 0

    @property
    def rid(self) -> str:
        """The call's id in routing."""
        return self.routing_id or self.call_id

    def live_legs(self) -> list[AgentLeg]:
        return [leg for leg in self.legs.values() if leg.ended_ms is None]
