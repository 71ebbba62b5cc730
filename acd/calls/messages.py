"""Internal messages posted into a call's lane next to ARI events."""

from __future__ import annotations

from dataclasses import dataclass

from acd.ivr.actions import IvrEvent
from acd.routing.model import Offer


@dataclass(frozen=True, slots=True)
class Start:
    """Begin the call's life (after StasisStart or re-adoption)."""


@dataclass(frozen=True, slots=True)
class FeedIvr:
    """Hand an event to the IVR engine (timer, HTTP result, list lookup...)."""

    event: IvrEvent


@dataclass(frozen=True, slots=True)
class OfferMsg:
    offer: Offer


@dataclass(frozen=True, slots=True)
class RingGuard:
    """A ring that has gone on longer than the dial timeout allows."""

    channel_id: str


@dataclass(frozen=True, slots=True)
class Reap:
    """Make sure a call that should be over is written and forgotten."""


@dataclass(frozen=True, slots=True)
class Requeue:
    """A re-adopted call that was waiting: music again, same place in the queue.
    `lost`: Redis lost its data; an offered call's ringing legs stop (their offers
    are gone) and a connected call writes its re-adoption record again."""

    lost: bool = False


@dataclass(frozen=True, slots=True)
class Announce:
    """Time for the waiting caller's periodic announcement (`generation` tells a
    stale timer from the current one: each queue visit starts a new generation)."""

    generation: int


@dataclass(frozen=True, slots=True)
class StartCallback:
    """An agent is reserved for a callback task: call the caller back."""

    offer: Offer


@dataclass(frozen=True, slots=True)
class LeftQueue:
    """Routing took the waiting call out of its queue (nobody staffs it any more)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Vanished:
    """Reconciliation found channels of this call that Asterisk no longer has (their
    hang-up events were lost, e.g. while the events socket was down)."""

    channel_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class Verify:
    """Ask Asterisk whether this call's channels still exist (after a request that
    failed as if one were gone, with no hang-up event to follow)."""
