"""The calls' applications receive only CALL_EVENTS (`ari.event_filter: allow`): every
event type acd/calls reads must be on that list, and every name on it must be an
event of Asterisk 22's ARI, or the filter would silently starve a handler."""

from __future__ import annotations

import json
import re
from pathlib import Path

from acd.app import CALL_EVENTS, DISALLOWED_EVENTS
from acd.ari import events as ev
from tests.conftest import shared_ari_or_skip

CALLS = Path(__file__).resolve().parents[1] / "acd" / "calls"
_NAMED = re.compile(r"\bev\.([A-Z][A-Za-z]+)\b")
_BASES = {"Event", "ChannelEvent", "BridgeEvent", "BridgeChannelEvent", "PlaybackEvent",
          "RecordingEvent", "UnknownEvent"}


def named_in_calls() -> set[str]:
    """Event types acd/calls names: `ev.<Type>`, or any modelled event's name however
    it is imported or spelled (a class, a string)."""
    found: set[str] = set()
    known = set(ev.EVENT_TYPES) | {"ChannelTransfer"}
    for path in CALLS.rglob("*.py"):
        text = path.read_text()
        found |= set(_NAMED.findall(text))
        found |= {name for name in known if re.search(rf"\b{name}\b", text)}
    return found - _BASES


def test_every_event_the_calls_read_is_allowed() -> None:
    named = named_in_calls()
    assert {"StasisStart", "ChannelDestroyed", "Dial"} <= named  # the scan finds them
    assert named <= set(CALL_EVENTS), sorted(named - set(CALL_EVENTS))


def test_allowed_events_are_modelled_or_known_to_asterisk() -> None:
    api = json.loads((shared_ari_or_skip() / "api-docs" / "events.json").read_text())
    assert set(CALL_EVENTS) <= set(api["models"]), sorted(set(CALL_EVENTS) - set(api["models"]))
    assert not set(CALL_EVENTS) & set(DISALLOWED_EVENTS)
    assert len(set(CALL_EVENTS)) == len(CALL_EVENTS)


def test_the_modelled_events_the_calls_read_parse() -> None:
    for name in named_in_calls():
        assert name in ev.EVENT_TYPES or name == "ChannelTransfer", name
