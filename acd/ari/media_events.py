"""Typed ARI events about media: playbacks and recordings. Each is about the
channel or bridge its `target_uri` names."""

from __future__ import annotations

from dataclasses import dataclass

from acd.ari.event_base import Event, head
from acd.ari.models import JsonDict, LiveRecording, Playback, target_of


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
        return cls(playback=Playback.from_json(d["playback"]), **head(d))


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
        return cls(recording=LiveRecording.from_json(d["recording"]), **head(d))


@dataclass(slots=True, kw_only=True)
class RecordingStarted(RecordingEvent):
    pass


@dataclass(slots=True, kw_only=True)
class RecordingFinished(RecordingEvent):
    pass


@dataclass(slots=True, kw_only=True)
class RecordingFailed(RecordingEvent):
    pass
