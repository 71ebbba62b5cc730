"""Typed ARI events about bridges: creation, destruction, merges, and channels
entering and leaving."""

from __future__ import annotations

from dataclasses import dataclass

from acd.ari.event_base import Event, head, opt_channel
from acd.ari.models import Bridge, Channel, JsonDict


@dataclass(slots=True, kw_only=True)
class BridgeEvent(Event):
    bridge: Bridge

    @property
    def bridge_id(self) -> str | None:
        return self.bridge.id

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(bridge=Bridge.from_json(d["bridge"]), **head(d))


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
            **head(d),
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
            bridge=Bridge.from_json(d["bridge"]), channel=opt_channel(d, "channel"), **head(d)
        )


@dataclass(slots=True, kw_only=True)
class ChannelEnteredBridge(BridgeChannelEvent):
    pass


@dataclass(slots=True, kw_only=True)
class ChannelLeftBridge(BridgeChannelEvent):
    pass
