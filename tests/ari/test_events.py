"""parse_event against every event a real Asterisk sent in ../shared/ari/traces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from acd.ari import events as ev
from acd.ari.models import Bridge, Channel
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
    built = ev.StasisEnd(channel=Channel(id="c9"))
    assert built.type == "StasisEnd"
    assert built.channel_id == "c9"
    assert not isinstance(ev.ChannelLeftBridge(bridge=Bridge(id="b")), ev.ChannelEnteredBridge)
    assert not hasattr(built, "__dict__")  # slotted


# -- ChannelTransfer, as the real Asterisk 22.10.1 sent it (tests/asterisk/
# test_call_control.py keeps the traces): the REFER, then one echo per transfer_progress.
REAL_TRACES = Path(__file__).resolve().parents[1] / "asterisk" / "traces"
ATTENDED = "attended_refer_with_replaces_from_the_agent_phone_consult_bridge_dropped_last.jsonl"


def _real_transfers(trace: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (REAL_TRACES / trace).read_text().splitlines()]
    return [r["body"] for r in rows
            if r.get("kind") == "event" and r["body"]["type"] == "ChannelTransfer"]


@pytest.mark.parametrize(("trace", "expected"), [
    ("blind_refer_from_the_agent_phone.jsonl", [
        # (state, destination, attended, has destination channel, has source bridge)
        (None, "102", False, False, True),
        ("channel_progress", "102", False, False, True),
        ("channel_answered", "102", False, False, False),   # the agent had left the bridge
    ]),
    (ATTENDED, [
        (None, "101", True, True, True),
        ("channel_answered", "101", True, True, False),
    ]),
])
def test_channel_transfer_from_the_real_asterisk(
        trace: str, expected: list[tuple[str | None, str, bool, bool, bool]]) -> None:
    got = []
    for body in _real_transfers(trace):
        parsed = ev.parse_event(body)
        assert isinstance(parsed, ev.ChannelTransfer)
        assert parsed.channel_id == body["referred_by"]["source_channel"]["id"]
        assert parsed.source.name.startswith("PJSIP/agent285-")
        got.append((parsed.state, parsed.destination, parsed.attended,
                    parsed.destination_channel is not None, parsed.source_bridge_id is not None))
    assert got == expected


def test_attended_channel_transfer_names_both_sides() -> None:
    body = _real_transfers(ATTENDED)[0]
    first = ev.parse_event(body)
    assert isinstance(first, ev.ChannelTransfer)
    assert first.destination_channel is not None and first.connected_channel is not None
    assert first.destination_channel.name.startswith("PJSIP/agent101-")    # the consult leg
    assert first.connected_channel.name.startswith("PJSIP/agent102-")      # the consulted
    assert first.destination_bridge_id is not None
    assert first.source_connected is not None
    assert first.source_connected.name.startswith("PJSIP/caller-trunk-")
    # The Replaces Call-ID is the consult leg's SIP Call-ID.
    assert first.protocol_id == body["refer_to"]["destination_channel"]["protocol_id"]
    assert set(first.protocol_params) == {"from", "to"}


@pytest.mark.parametrize("body", [
    event("ChannelTransfer", refer_to={"requested_destination": {}}),          # no referred_by
    event("ChannelTransfer", referred_by={"source_channel": channel("c1")}),   # no refer_to
])
def test_a_malformed_channel_transfer_is_passed_on(body: dict[str, Any]) -> None:
    assert type(ev.parse_event(body)) is ev.UnknownEvent


def test_hold_and_unhold_from_a_phone_on_the_real_asterisk() -> None:
    rows = [json.loads(line) for line in
            (REAL_TRACES / "hold_and_unhold_from_the_phone.jsonl").read_text().splitlines()]
    got = [ev.parse_event(r["body"]) for r in rows if r.get("kind") == "event"
           and r["body"]["type"] in ("ChannelHold", "ChannelUnhold")]
    assert [type(e) for e in got] == [ev.ChannelHold, ev.ChannelUnhold]
    hold = got[0]
    assert isinstance(hold, ev.ChannelHold) and hold.musicclass == "default"
    assert hold.channel_id == got[1].channel_id
    assert hold.channel.name.startswith("PJSIP/agent285-")   # the phone that pressed hold
