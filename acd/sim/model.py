"""What the simulator keeps: channels, bridges, playbacks, recordings, phones.

Plain slotted objects. Each knows how to write itself as ARI JSON; a channel's
JSON is cached and rebuilt only when the channel changes, because every event
about a channel carries its snapshot and the simulator must stay cheap at
hundreds of new calls a second.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from acd.sim.control import ControlQueue

JsonDict = dict[str, Any]
Behaviour = Literal["answer", "busy", "noanswer", "unreachable"]
BEHAVIOURS: tuple[str, ...] = ("answer", "busy", "noanswer", "unreachable")
_AGENT = re.compile(r"agent(\d+)")

CAUSE_TEXT: dict[int, str] = {
    0: "Unknown", 1: "Unallocated (unassigned) number", 16: "Normal Clearing",
    17: "User busy", 18: "No user responding", 19: "User alerting, no answer",
    20: "Subscriber absent", 21: "Call Rejected", 26: "Answered elsewhere",
    27: "Destination out of order", 28: "Invalid number format",
    31: "Normal, unspecified", 32: "Normal", 34: "Circuit/channel congestion",
    38: "Network out of order", 58: "Bearer capability not available",
    127: "Interworking, unspecified",
}

# DELETE /channels/{id}?reason=... -> hang-up cause (Asterisk's ari/resource_channels.c).
HANGUP_REASONS: dict[str, int] = {
    "normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 18,
    "rejected": 21, "unallocated": 1, "normal_unspecified": 31, "number_incomplete": 28,
    "codec_mismatch": 58, "interworking": 127, "failure": 38, "answered_elsewhere": 26,
}


def ari_time(epoch: float) -> str:
    """`2026-11-23T07:48:19.236+0000`, the way Asterisk writes times."""
    ms = int(epoch * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{ms:03d}+0000"


def dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


@dataclass(slots=True)
class Phone:
    """How a simulated phone behind an endpoint reacts to being dialled."""

    behaviour: Behaviour = "answer"
    answer_after: float = 0.5
    hangup_after: float | None = None
    ring: bool = True            # sends 180 Ringing (Dial RINGING); some never do

    def as_json(self) -> JsonDict:
        return {"behaviour": self.behaviour, "answer_after": self.answer_after,
                "hangup_after": self.hangup_after, "ring": self.ring}


@dataclass(slots=True, eq=False)
class Channel:
    id: str
    name: str
    tech: str
    resource: str
    kind: Literal["inbound", "outbound", "originate", "snoop"]
    creationtime: str
    state: str = "Down"
    protocol_id: str = ""
    caller_name: str = ""
    caller_number: str = ""
    connected_name: str = ""
    connected_number: str = ""
    context: str = "default"
    exten: str = "s"
    priority: int = 1
    app_name: str = ""
    app_data: str = ""
    language: str = "en"
    app: str | None = None           # the Stasis app subscribed to it
    in_stasis: bool = False
    # The app's subscriptions to this channel besides Stasis itself: one for a
    # channel made with /channels/create or /channels with an app, one each time it
    # is the `originator` of a /channels/create with an app. None is ever undone, and
    # only they make the app hear what follows StasisEnd (res_stasis.c unsubscribes
    # before sending StasisEnd).
    subscribed: int = 0
    phase: str = "new"               # new, stasis, dialplan, dialing, gone
    phone: Phone | None = None
    args: list[str] = field(default_factory=list)   # appArgs, for an originate's StasisStart
    dialed: bool = False
    answered: bool = False
    ever_bridged: bool = False
    taken_out: bool = False          # removed from a bridge alive (removeChannel) once
    hangup_cause: int | None = None
    bridge: Bridge | None = None
    moh: str | None = None
    on_hold: bool = False
    muted: frozenset[str] = frozenset()  # ARI mute: "in" (what it says), "out" (hears)
    snoops: list[Channel] = field(default_factory=list)
    snoop_of: Channel | None = None
    spy: str = "none"                # a snoop's directions: what it hears of its target
    whisper: str = "none"            # and where what it is fed goes
    variables: dict[str, str] = field(default_factory=dict)
    timers: list[asyncio.TimerHandle] = field(default_factory=list)
    dial_timer: asyncio.TimerHandle | None = None
    control: ControlQueue | None = None
    _json: str | None = None

    def changed(self) -> None:
        self._json = None

    def snapshot(self) -> str:
        """This channel as ARI JSON text (cached until the next change)."""
        if self._json is None:
            self._json = dumps(self.as_json())
        return self._json

    def as_json(self) -> JsonDict:
        return {
            "id": self.id, "name": self.name, "state": self.state,
            "protocol_id": self.protocol_id,
            "caller": {"name": self.caller_name, "number": self.caller_number},
            "connected": {"name": self.connected_name, "number": self.connected_number},
            "accountcode": "",
            "dialplan": {"context": self.context, "exten": self.exten,
                         "priority": self.priority, "app_name": self.app_name,
                         "app_data": self.app_data},
            "creationtime": self.creationtime, "language": self.language,
        }

    def cancel_timers(self) -> None:
        for handle in self.timers:
            handle.cancel()
        self.timers.clear()
        if self.dial_timer is not None:
            self.dial_timer.cancel()
            self.dial_timer = None

    @property
    def alive(self) -> bool:
        return self.phase != "gone"


@dataclass(slots=True, eq=False)
class Bridge:
    id: str
    bridge_type: str
    name: str
    creationtime: str
    channels: list[Channel] = field(default_factory=list)
    app: str | None = None           # the app subscribed (a channel of it entered)
    # The app's hold on the bridge: one per channel that entered, less one per channel
    # taken out (removeChannel, a move to another bridge, the bridge's destruction);
    # a channel that hangs up keeps its share. At 0 the app hears no BridgeDestroyed
    # (tests/asterisk/traces/control_bridge_deleted_with_a_member.jsonl).
    subscriptions: int = 0
    moh_id: str | None = None        # the Announcer channel playing music, if any
    recordings: list[Recording] = field(default_factory=list)
    control: ControlQueue | None = None   # its prompts play one after another
    alive: bool = True

    def technology(self) -> str:
        if self.bridge_type == "holding":
            return "holding_bridge"
        if self.recordings or len(self.channels) > 2:
            return "softmix"
        return "native_rtp" if len(self.channels) == 2 else "simple_bridge"

    def channel_ids(self) -> list[str]:
        ids = [c.id for c in self.channels]
        if self.moh_id is not None:
            ids.append(self.moh_id)
        return ids

    def as_json(self) -> JsonDict:
        return {"id": self.id, "technology": self.technology(),
                "bridge_type": self.bridge_type, "bridge_class": "stasis",
                "creator": "Stasis", "name": self.name, "channels": self.channel_ids(),
                "creationtime": self.creationtime, "video_mode": "talker"}


@dataclass(slots=True, eq=False)
class Playback:
    id: str
    media: list[str]
    target_uri: str
    language: str
    state: str = "queued"
    index: int = 0
    timer: asyncio.TimerHandle | None = None
    app: str | None = None
    target_id: str = ""
    release: Callable[[], None] | None = None
    paused_at: float | None = None   # a paused recording writes nothing meanwhile
    paused_total: float = 0.0
    muted: bool = False              # a muted one writes silence (keeps its length)

    def as_json(self) -> JsonDict:
        out: JsonDict = {"id": self.id, "media_uri": self.media[self.index]}
        if self.index + 1 < len(self.media):
            out["next_media_uri"] = self.media[self.index + 1]
        out.update(target_uri=self.target_uri, language=self.language, state=self.state)
        return out


@dataclass(slots=True, eq=False)
class Recording:
    name: str
    format: str
    target_uri: str
    started: float
    state: str = "queued"
    app: str | None = None
    timer: asyncio.TimerHandle | None = None
    duration: int | None = None
    target_id: str = ""
    release: Callable[[], None] | None = None
    paused_at: float | None = None   # a paused recording writes nothing meanwhile
    paused_total: float = 0.0
    muted: bool = False              # a muted one writes silence (keeps its length)

    def as_json(self) -> JsonDict:
        out: JsonDict = {"name": self.name, "format": self.format, "state": self.state,
                         "target_uri": self.target_uri}
        if self.duration is not None:
            out["duration"] = self.duration
        return out


def kit_phone(tech: str, resource: str) -> Phone | None:
    """The phones of the real-Asterisk kit behind the traces (README of ../shared/ari).

    PJSIP/agent280-289 ring forever, agent290-299 are busy, any other agentN
    answers after 0.5 s; `caller-trunk` answers; anything else does not exist.
    """
    if tech != "PJSIP":
        return None
    if resource == "caller-trunk" or resource.endswith("@caller-trunk"):
        return Phone("answer", 0.5)
    m = _AGENT.fullmatch(resource)
    if m is None:
        return None
    n = int(m.group(1))
    if 280 <= n <= 289:
        return Phone("noanswer")
    if 290 <= n <= 299:
        return Phone("busy")
    return Phone("answer", 0.5)


_LOCAL = re.compile(r"([^@/]+)@([^/]+)(?:/n)?")
_OUTSIDE = re.compile(r"[0+][0-9]+")


def local_target(resource: str) -> tuple[str, str] | None:
    """What the shipped dialplan (config/asterisk/extensions.conf) dials for the ;2 half
    of a Local channel `<exten>@<context>[/n]`: in [agents], 0... and +... go out
    through the carrier trunk (PJSIP/<exten>@caller-trunk). None: nothing here (the
    simulator then refuses the channel as unreachable)."""
    m = _LOCAL.fullmatch(resource)
    if m is None or m.group(2) != "agents" or not _OUTSIDE.fullmatch(m.group(1)):
        return None
    return "PJSIP", f"{m.group(1)}@caller-trunk"
