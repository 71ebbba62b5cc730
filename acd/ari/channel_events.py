"""Typed ARI events about channels: Stasis entry and exit, state, DTMF, hangup,
variables, user events, dial progress and REFER transfers."""

from __future__ import annotations

from dataclasses import dataclass, field

from acd.ari.event_base import Event, head, opt_channel
from acd.ari.models import Bridge, Channel, JsonDict


@dataclass(slots=True, kw_only=True)
class ChannelEvent(Event):
    """An event about one channel, carrying its snapshot."""

    channel: Channel

    @property
    def channel_id(self) -> str | None:
        return self.channel.id

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(channel=Channel.from_json(d["channel"]), **head(d))


@dataclass(slots=True, kw_only=True)
class StasisStart(ChannelEvent):
    args: list[str] = field(default_factory=list)
    replace_channel: Channel | None = None

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(
            channel=Channel.from_json(d["channel"]),
            args=list(d.get("args") or ()),
            replace_channel=opt_channel(d, "replace_channel"),
            **head(d),
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
            **head(d),
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
            **head(d),
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
            **head(d),
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
            **head(d),
        )


@dataclass(slots=True, kw_only=True)
class ChannelHold(ChannelEvent):
    musicclass: str | None = None

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(
            channel=Channel.from_json(d["channel"]), musicclass=d.get("musicclass"), **head(d)
        )


@dataclass(slots=True, kw_only=True)
class ChannelTalkingFinished(ChannelEvent):
    duration: int = 0

    @classmethod
    def from_json(cls, d: JsonDict) -> Event:
        return cls(
            channel=Channel.from_json(d["channel"]),
            duration=int(d.get("duration") or 0),
            **head(d),
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
            **head(d),
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
            channel=opt_channel(d, "channel"),
            variable=d.get("variable", ""),
            value=d.get("value", ""),
            **head(d),
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
            channel=opt_channel(d, "channel"),
            bridge=Bridge.from_json(bridge) if bridge else None,
            userevent=dict(d.get("userevent") or {}),
            **head(d),
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
            caller=opt_channel(d, "caller"),
            dialstatus=d.get("dialstatus", ""),
            forwarded=opt_channel(d, "forwarded"),
            forward=d.get("forward", ""),
            dialstring=d.get("dialstring", ""),
            **head(d),
        )


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
            destination_channel=opt_channel(to, "destination_channel"),
            connected_channel=opt_channel(to, "connected_channel"),
            destination_bridge_id=(to.get("bridge") or {}).get("id"),
            source_connected=opt_channel(by, "connected_channel"),
            source_bridge_id=(by.get("bridge") or {}).get("id"),
            **head(d),
        )
