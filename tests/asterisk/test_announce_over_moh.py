"""A prompt played to a caller who hears music on hold (issue 15), raw ARI, no acd.

A waiting caller hears `/channels/{id}/moh`; every 30 s an announcement is played
to them with `/channels/{id}/play`. What the real Asterisk 22 does decides what an
announcement costs acd. Found here: the prompt interrupts the music at once (no
`DELETE /moh` is needed first), and the music does NOT come back by itself when the
prompt ends or is stopped: the caller hears silence until `/moh` is asked again,
which then plays at once. So an announcement is two requests (play; music when it
ends), not three. What reaches the caller's phone is measured as the hold tests do:
a snoop `spy=out` on the caller, recorded, RMS per slice (the shipped class is a
steady tone, the prompt is speech).

The second test is acd's own waiting caller on the real Asterisk: its announcement
(no music stop before it) and the music acd asks for again after it.

With ACD_RECORD_TRACES=1 the role sequences are kept
(traces/control_announce_over_moh.jsonl); tests/sim/test_announce_traces.py holds
the simulator to them.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from acd.calls.model import Phase
from tests.asterisk import acd_runner
from tests.asterisk import control_script as cs
from tests.asterisk.announce_scenario import SCENARIO, prompt_over_moh
from tests.asterisk.ari_probe import AriProbe
from tests.asterisk.conftest import CallerFactory
from tests.asterisk.harness import AsteriskInstance
from tests.asterisk.test_acd_scenarios import PRESS_SALES, Starter, assert_hygiene
from tests.asterisk.test_acd_scenarios import acd as acd  # a fixture
from tests.asterisk.test_call_control import (
    Real,
    _rms_per_slice,
    compare_or_keep,
    hear,
    settled,
    stop_hearing,
)
from tests.asterisk.test_call_control import real as real  # a fixture
from tests.asterisk.test_control_hold import _unsteadiness, listen, stop_listening
from tests.asterisk.test_control_hold import ears as ears  # a fixture

pytestmark = pytest.mark.asterisk


class Recorded:
    """Ears on the real Asterisk: seconds into the snoop's recording per stretch."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.marks: dict[str, tuple[float, float]] = {}

    def begin(self, label: str) -> None:
        self.marks[label] = (time.monotonic() - self.t0 + 0.3, 0.0)

    def end(self, label: str) -> None:
        a = self.marks[label][0]
        self.marks[label] = (a, time.monotonic() - self.t0 - 0.15)


async def test_a_prompt_over_music_on_hold(asterisk: AsteriskInstance, ari_probe: AriProbe,
                                           real: Real) -> None:
    await ari_probe.connect()
    s = cs.Script(real)
    caller = await s.answered_caller(hangs_up_after=40.0)
    snoop, name = await hear(s, caller, "announce")
    ears = Recorded()
    await prompt_over_moh(s, caller, ears, asyncio.sleep)
    await stop_hearing(s, name)
    await s.hangup(snoop, caller)
    await settled(ari_probe)

    wav = asterisk.root / "spool" / "recording" / f"{name}.wav"
    marks = ears.marks
    levels = dict(zip(marks, _rms_per_slice(wav, list(marks.values())), strict=True))
    steady = dict(zip(marks, _unsteadiness(wav, list(marks.values())), strict=True))
    print("caller hears (RMS):", {k: round(v) for k, v in levels.items()})
    print("unsteadiness:", {k: round(v, 2) for k, v in steady.items()})
    music = levels["music"]
    assert music > 3000 and steady["music"] < 0.2           # the tone
    assert steady["prompt"] > 0.2                            # speech, not the tone
    # The music does not come back by itself when the prompt ends, or is stopped ...
    assert levels["after_prompt"] < music / 20
    assert levels["after_stopped_prompt"] < music / 20
    # ... and /moh asked again after the prompt plays it at once.
    assert levels["music_again_prompt"] > music / 2
    assert levels["music_again_stopped_prompt"] > music / 2
    assert levels["music_stopped"] < music / 20
    compare_or_keep(SCENARIO, s)


WINDOW = 15.5  # seconds recorded: the first announcement and what follows it
ANNOUNCING = acd_runner.FLOW.replace(
    "    queue: sales\n    skills: {sales: 1}\n",
    "    queue: sales\n    skills: {sales: 1}\n    announce: {position: true, every: 8}\n")


async def test_acd_announcement_and_the_music_after_it(
        asterisk: AsteriskInstance, rest: AriProbe, ears: AriProbe, acd: Starter,
        sipp_caller: CallerFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """acd's waiting caller (nobody to take the call) hears music, its position
    every 8 s ("you are next", 5.6 s), and the music again after each announcement:
    acd asks for the music again once the prompt ends, with no music stop before it."""
    assert ANNOUNCING != acd_runner.FLOW
    monkeypatch.setattr(acd_runner, "FLOW", ANNOUNCING)
    async with acd() as h:
        assert h.app.agents is not None and h.app.calls is not None
        await h.app.agents.set_break("a1", "lunch")
        await h.app.agents.set_break("a2", "training")
        call = sipp_caller(dtmf=PRESS_SALES, hold=26.0)
        deadline = time.monotonic() + 15
        while not any(st.phase is Phase.QUEUED for st in h.app.calls.calls.values()):
            assert time.monotonic() < deadline, "the caller never waited"
            await asyncio.sleep(0.05)
        [state] = h.app.calls.calls.values()
        caller = state.channel_id
        sid, name = await listen(ears, caller)
        began = time.monotonic()
        # When acd's announcements play (seconds into the recording), by polling.
        spans: list[list[float]] = []
        while time.monotonic() - began < WINDOW:
            st = h.app.calls.calls.get(state.call_id)
            playing = st is not None and bool(st.playing)
            now = time.monotonic() - began
            if playing and (not spans or len(spans[-1]) == 2):
                spans.append([now])
            elif not playing and spans and len(spans[-1]) == 1:
                spans[-1].append(now)
            await asyncio.sleep(0.02)
        await stop_listening(ears, sid, name)
        result = await call.wait(timeout=20)
        assert result.ok, result
        call_id = await h.finished()
        assert await h.queue_events(call_id) == [("enter", None), ("abandon", None)]
        await h.assert_acd_clean()
    await assert_hygiene(asterisk, rest, {})
    wav = asterisk.root / "spool" / "recording" / f"{name}.wav"
    done = [s for s in spans if len(s) == 2 and s[1] + 1.3 < WINDOW]
    assert done, spans
    slices = [(s[1] + 0.4, s[1] + 1.2) for s in done] + [(s[0] + 0.3, s[1] - 0.2)
                                                        for s in done]
    levels = _rms_per_slice(wav, slices)
    steady = _unsteadiness(wav, slices)
    print("announcements (s):", spans, "after, during (RMS):", [round(x) for x in levels],
          "unsteadiness:", [round(x, 2) for x in steady])
    n = len(done)
    # The music (the steady tone) is back after each announcement ...
    assert all(x > 3000 for x in levels[:n]) and all(x < 0.2 for x in steady[:n])
    # ... and the prompt (speech) was heard, not the music, while it played.
    assert all(x > 0.2 for x in steady[n:])
