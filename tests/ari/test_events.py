"""parse_event against every event a real Asterisk sent in ../shared/ari/traces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from acd.ari import events as ev
from tests.ari.fake_ari import channel, event
from tests.conftest import shared_ari_or_skip


def _trace_events() -> list[tuple[str, dict[str, Any]]]:
    folder = shared_ari_or_skip() / "traces"
    found = []
    for path in sorted(Path(folder).glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["kind"] == "event":
                found.append((path.stem, record["body"]))
    assert found, "no events in the traces"
    return found


def test_every_trace_event_parses_to_its_typed_class() -> None:
    for trace, body in _trace_events():
        parsed = ev.parse_event(body)
        assert not isinstance(parsed, ev.UnknownEvent), (trace, body["type"])
        assert type(parsed).__name__ == body["type"], (trace, body["type"])
        assert parsed.type == body["type"]
        assert parsed.application == body["application"] == "acd"
        assert parsed.timestamp == body["timestamp"]
        assert parsed.raw is body
        if "channel" in body:
            assert parsed.channel_id == body["channel"]["id"], (trace, body["type"])
        if "bridge" in body:
            assert parsed.bridge_id == body["bridge"]["id"], (trace, body["type"])


def test_dial_is_about_the_peer() -> None:
    dials = [b for _, b in _trace_events() if b["type"] == "Dial"]
    assert dials
    for body in dials:
        parsed = ev.parse_event(body)
        assert isinstance(parsed, ev.Dial)
        assert parsed.channel_id == body["peer"]["id"]
        assert parsed.bridge_id is None
        assert parsed.dialstatus == body["dialstatus"]
        caller = body.get("caller")
        assert parsed.caller_id == (caller["id"] if caller else None)


def test_playback_and_recording_ids_come_from_target_uri() -> None:
    seen = set()
    for _, body in _trace_events():
        inner = body.get("playback") or body.get("recording")
        if inner is None:
            continue
        parsed = ev.parse_event(body)
        kind, _, ident = inner["target_uri"].partition(":")
        seen.add(kind)
        assert parsed.channel_id == (ident if kind == "channel" else None)
        assert parsed.bridge_id == (ident if kind == "bridge" else None)
    assert seen == {"channel", "bridge"}, seen


@pytest.mark.parametrize(
    ("body", "cls", "channel_id", "bridge_id"),
    [
        (event("PlaybackStarted", playback={"id": "p", "target_uri": "channel:c/1"}),
         ev.PlaybackStarted, "c/1", None),
        (event("PlaybackContinuing", playback={"id": "p", "target_uri": "bridge:b1"}),
         ev.PlaybackContinuing, None, "b1"),
        (event("RecordingFailed", recording={"name": "r", "target_uri": "bridge:b2"}),
         ev.RecordingFailed, None, "b2"),
        (event("ChannelVarset", variable="X", value="1"), ev.ChannelVarset, None, None),
        (event("ChannelVarset", variable="X", value="1", channel=channel("c2")),
         ev.ChannelVarset, "c2", None),
        (event("ChannelEnteredBridge", bridge={"id": "b3", "channels": []}, channel=channel("c3")),
         ev.ChannelEnteredBridge, "c3", "b3"),
        (event("ChannelLeftBridge", bridge={"id": "b3", "channels": []}, channel=channel("c3")),
         ev.ChannelLeftBridge, "c3", "b3"),
        (event("BridgeCreated", bridge={"id": "b4"}), ev.BridgeCreated, None, "b4"),
        (event("ChannelHold", channel=channel("c5"), musicclass="default"),
         ev.ChannelHold, "c5", None),
        (event("ChannelTalkingFinished", channel=channel("c6"), duration=3),
         ev.ChannelTalkingFinished, "c6", None),
        (event("ApplicationReplaced"), ev.ApplicationReplaced, None, None),
        (event("EndpointStateChange", endpoint={}), ev.UnknownEvent, None, None),
        # A known type with its required object missing is passed on, not raised.
        (event("StasisStart", args=[]), ev.UnknownEvent, None, None),
        ({"no": "type"}, ev.UnknownEvent, None, None),
    ],
)
def test_parse_table(
    body: dict[str, Any], cls: type[ev.Event], channel_id: str | None, bridge_id: str | None
) -> None:
    parsed = ev.parse_event(body)
    assert type(parsed) is cls
    assert parsed.channel_id == channel_id
    assert parsed.bridge_id == bridge_id


def test_fields_of_common_events() -> None:
    start = ev.parse_event(event("StasisStart", args=["agent", "x"], channel=channel("c1"),
                                 replace_channel=channel("old")))
    assert isinstance(start, ev.StasisStart)
    assert start.args == ["agent", "x"]
    assert start.replace_channel is not None and start.replace_channel.id == "old"
    assert (start.channel.caller_number, start.channel.exten) == ("+15551", "100")
    hangup = ev.parse_event(event("ChannelHangupRequest", channel=channel("c1"), cause=16,
                                  soft=True))
    assert isinstance(hangup, ev.ChannelHangupRequest)
    assert (hangup.cause, hangup.soft) == (16, True)
    gone = ev.parse_event(event("ChannelDestroyed", channel=channel("c1"), cause=17,
                                cause_txt="User busy"))
    assert isinstance(gone, ev.ChannelDestroyed)
    assert (gone.cause, gone.cause_txt) == (17, "User busy")


def test_events_built_by_hand_know_their_type() -> None:
    built = ev.StasisEnd(channel=ev.Channel(id="c9"))
    assert built.type == "StasisEnd"
    assert built.channel_id == "c9"
    assert not isinstance(ev.ChannelLeftBridge(bridge=ev.Bridge(id="b")), ev.ChannelEnteredBridge)
    assert not hasattr(built, "__dict__")  # slotted
