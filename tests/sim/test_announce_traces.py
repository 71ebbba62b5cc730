"""A prompt over music on hold on the simulator (issue 15), held to what the real
Asterisk 22.10.1 did (tests/asterisk/test_announce_over_moh.py, traces/
control_announce_over_moh.jsonl): the same events per role, the same answers, and
what the caller hears (acd.sim.hearing): the prompt stops the music, which does not
come back until `/moh` is asked again."""

from __future__ import annotations

from acd.sim.hearing import hears
from tests.asterisk import control_script as cs
from tests.asterisk.announce_scenario import SCENARIO, prompt_over_moh
from tests.sim.conftest import Ari
from tests.sim.test_call_control_traces import SimDriver
from tests.sim.test_call_control_traces import sim as sim  # a fixture


class Heard:
    """Ears on the simulator: what the caller hears at the end of each stretch."""

    def __init__(self, ari: Ari, caller: str) -> None:
        self.ari, self.caller = ari, caller
        self.heard: dict[str, list[str]] = {}

    def begin(self, label: str) -> None:
        pass

    def end(self, label: str) -> None:
        self.heard[label] = hears(self.ari.sim.world.channels[self.caller])


async def test_a_prompt_over_music_on_hold(ari: Ari, sim: SimDriver) -> None:
    await ari.connect()
    s = cs.Script(sim)
    caller = await s.answered_caller(hangs_up_after=40.0)
    ears = Heard(ari, caller)
    await prompt_over_moh(s, caller, ears, ari.clock.sleep)
    await s.hangup(caller)
    # The real run also had a snoop recording the caller (its own role's events).
    real_seqs, real_answers = cs.load(cs.TRACES / f"control_{SCENARIO}.jsonl")
    real_seqs.pop("snoop")
    assert ears.heard == {
        "music": ["moh"], "prompt": [], "after_prompt": [], "music_again_prompt": ["moh"],
        "stopped_prompt": [], "after_stopped_prompt": [],
        "music_again_stopped_prompt": ["moh"], "music_stopped": []}
    diff = cs.differences(real_seqs, s.sequences())
    assert not diff, "real Asterisk | simulator\n" + diff
    assert {k: v[0] for k, v in s.answers.items()} == {k: v[0] for k, v in real_answers.items()}
