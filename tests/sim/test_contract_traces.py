"""Contract: the simulator answers like the real Asterisk 22 recorded in ../shared/ari/traces.

Every trace is replayed (tests/sim/replay.py) and compared strictly: each REST
answer's status, the exact error bodies, the success bodies with ids and times
masked, each channel role's event sequence (Asterisk's BRIDGEPEER / RTPAUDIOQOS
variable noise aside), every event's shape, and — where the real Asterisk held a
request behind a playing prompt — that the simulator held it too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED_ARI, shared_ari_or_skip
from tests.sim.replay import Replay, event_channel, event_key, load, shape

SPEED = 5.0   # fast, yet a few ms of timer jitter stay far below the traces' margins
TRACES = sorted(p.stem for p in (SHARED_ARI / "traces").glob("*.jsonl")) or ["(none)"]
_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def masked(body: Any, roles: dict[str, str]) -> Any:
    """`body` with channel ids as roles, and times, uuids, call-ids and counters masked."""
    text = json.dumps(body, sort_keys=True)
    for cid in sorted((k for k in roles if not k.startswith("bridge:")), key=len, reverse=True):
        text = re.sub(rf"(?<![\d.]){re.escape(cid)}(?!\d)", f"<{roles[cid]}>", text)
    text = _TS.sub("TS", text)
    text = _UUID.sub("UUID", text)
    text = re.sub(r"\d+-\d+@127\.0\.0\.2", "CALLID", text)
    text = re.sub(r"-[0-9a-f]{8}\"", '-N"', text)
    text = re.sub(r"\d{10}\.\d+", "ID", text)
    # A play answer says "queued", or "playing" when the prompt started first.
    text = text.replace('"state": "playing", "target_uri": "channel:',
                        '"state": "queued", "target_uri": "channel:')
    return json.loads(text)


def by_key(bodies: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    """Bodies by (compared key, occurrence), so racy pairs still meet their twin."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    seen: dict[str, int] = {}
    for body in bodies:
        key = event_key(body) or ""
        seen[key] = seen.get(key, 0) + 1
        out[(key, seen[key])] = body
    return out


def finished(keys: list[str]) -> bool:
    return any(k.startswith(("ChannelDestroyed", "BridgeDestroyed")) for k in keys)


@pytest.fixture(scope="module")
def traces_dir() -> Path:
    return shared_ari_or_skip() / "traces"


@pytest.mark.parametrize("name", TRACES)
async def test_trace(traces_dir: Path, name: str) -> None:
    replay = Replay(load(traces_dir / f"{name}.jsonl"), speed=SPEED)
    await replay.run()
    rest = [e for e in replay.trace if e["kind"] == "rest"]
    assert len(replay.exchanges) == len(rest), "every request of the trace was replayed"

    for ex in replay.exchanges:
        want, what = ex.entry, f"{ex.entry['method']} {ex.entry['path']} {ex.entry['params']}"
        assert ex.status == want["status"], f"{what}: status {ex.status} {ex.body}"
        trace_body = want["body"]
        if isinstance(trace_body, str):
            trace_body = json.loads(trace_body)
        if want["status"] >= 400:
            assert ex.body == trace_body, f"{what}: error body"
        else:
            assert shape(ex.body) == shape(trace_body), f"{what}: body shape"
            sim_roles = {**replay.sim_roles, **{k[7:]: v for k, v in replay.sim_roles.items()
                                                if k.startswith("bridge:")}}
            trace_roles = {**replay.roles, **{k[7:]: v for k, v in replay.roles.items()
                                              if k.startswith("bridge:")}}
            assert masked(ex.body, sim_roles) == masked(trace_body, trace_roles), what

    want_keys, got_keys = replay.trace_keys(), replay.sim_keys()
    assert "?" not in got_keys, f"events about channels the trace never saw: {got_keys['?']}"
    for role, keys in want_keys.items():
        got = got_keys.get(role, [])
        if finished(keys):
            assert got == keys, f"{role}: events"
        else:   # the recorder closed the socket before this channel ended
            assert got[: len(keys)] == keys, f"{role}: events"
    extra = {r: k for r, k in got_keys.items() if r not in want_keys}
    if extra:
        # Only a BridgeDestroyed the recorder did not wait for: its last request was
        # the DELETE of that bridge and it closed the socket in the same millisecond.
        assert rest[-1]["method"] == "DELETE" and rest[-1]["path"].startswith("/bridges/")
        assert all(k == ["BridgeDestroyed"] for k in extra.values()), extra

    want_bodies, got_bodies = replay.trace_bodies(), replay.sim_bodies()
    for role, bodies in want_bodies.items():
        got_by_key = by_key(got_bodies.get(role, []))
        for key, want_b in by_key(bodies).items():
            if key in got_by_key:
                assert shape(got_by_key[key]) == shape(want_b), f"{role}: {key} shape"

    _assert_held_behind_prompts(replay)


def _assert_held_behind_prompts(replay: Replay) -> None:
    """A request the real Asterisk held until a prompt ended is held by the simulator."""
    for ex in replay.exchanges:
        j = replay.blocked(ex.index)
        if j is None:
            continue
        role = replay.roles[event_channel(replay.trace[j]["body"]) or ""]
        nth = sum(1 for e in replay.trace[: j + 1] if e["kind"] == "event"
                  and e["body"]["type"] == "PlaybackFinished"
                  and replay.roles.get(event_channel(e["body"]) or "") == role)
        arrivals = [at for at, b in replay.events if b["type"] == "PlaybackFinished"
                    and replay.sim_roles.get(event_channel(b) or "") == role]
        assert len(arrivals) >= nth, f"{role}: the prompt that held the request never ended"
        ended = arrivals[nth - 1]
        what = f"{ex.entry['method']} {ex.entry['path']}"
        assert ex.sent < ended, f"{what} was not sent while the prompt played"
        assert ex.answered >= ended - 0.01, f"{what} did not wait for the prompt to end"


def test_every_trace_is_replayed(traces_dir: Path) -> None:
    found = sorted(p.stem for p in traces_dir.glob("*.jsonl"))
    assert found == TRACES and len(found) >= 11
