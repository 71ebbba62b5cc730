"""A prompt played to a caller who hears music on hold (issue 15), as raw ARI: run on
the real Asterisk (tests/asterisk/test_announce_over_moh.py) and on the simulator
(tests/sim/test_announce_traces.py) through a `control_script.Driver`, with `Ears`
telling what reaches the caller's phone over each labelled stretch."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

from tests.asterisk import control_script as cs

PROMPT = "sound:acd-welcome"  # ~3 s of speech (config/asterisk/make-prompts.sh)
SCENARIO = "announce_over_moh"


class Ears(Protocol):
    """What the caller's phone gets, stretch by stretch."""

    def begin(self, label: str) -> None: ...

    def end(self, label: str) -> None: ...


async def prompt_over_moh(s: cs.Script, caller: str, ears: Ears,
                          sleep: Callable[[float], Awaitable[object]]) -> None:
    """Music; a prompt over it; silence?; music asked again; a prompt stopped
    half-way; silence?; music again; music stopped."""

    async def stretch(label: str, seconds: float) -> None:
        ears.begin(label)
        await sleep(seconds)
        ears.end(label)

    async def prompt(label: str, stop_after: float | None = None) -> None:
        pid = s.name(f"pb-{uuid.uuid4()}", "playback")
        n = len(s.d.events)
        await s.ok("POST", f"/channels/{caller}/play/{pid}", 201, media=PROMPT)
        await s.d.wait_event(lambda ev: ev.get("type") == "PlaybackStarted"
                             and ev["playback"]["id"] == pid, start=n)
        ears.begin(label)
        if stop_after is not None:
            await sleep(stop_after)
            await s.ok("DELETE", f"/playbacks/{pid}")
        await s.d.wait_event(lambda ev: ev.get("type") == "PlaybackFinished"
                             and ev["playback"]["id"] == pid, start=n)
        ears.end(label)
        await stretch(f"after_{label}", 2.0)
        await s.ok("POST", f"/channels/{caller}/moh", mohClass="default")
        await stretch(f"music_again_{label}", 1.5)

    await s.ok("POST", f"/channels/{caller}/moh", mohClass="default")
    await stretch("music", 2.0)
    await prompt("prompt")
    await prompt("stopped_prompt", stop_after=1.0)  # DELETE /playbacks/{id} mid-prompt
    await s.ok("DELETE", f"/channels/{caller}/moh")
    await sleep(0.5)
    await stretch("music_stopped", 1.5)
    await s.probe("moh_stop_twice", "DELETE", f"/channels/{caller}/moh")
