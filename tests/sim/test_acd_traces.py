"""Contract from life: acd on the simulator hears what it heard from the real Asterisk.

tests/asterisk/test_acd_scenarios.py keeps, for each scenario, the ARI event types
acd handled per channel role on a real Asterisk 22 (tests/asterisk/traces/
acd_<scenario>.jsonl). Here the same scenario (tests/asterisk/sim_twin.py) runs on
the simulator, with real Redis and PostgreSQL, and must give the same sequences;
so the simulator is held to those recordings on machines without an Asterisk.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.asterisk.hold_twins import HOLD_TWINS  # replayed in test_hold_traces.py
from tests.asterisk.sequences import differences, load_trace, normalise, sequences, with_roles
from tests.asterisk.sim_twin import TRACES, TWINS, run_twin, trace_path

R, D0, DR = "ChannelStateChange(Ringing)", "Dial()", "Dial(RINGING)"
UP = "ChannelStateChange(Up)"


@pytest.mark.parametrize(("seq", "expected"), [
    ([D0, DR, R, UP], [D0, DR, R, UP]),
    ([D0, R, DR, UP], [D0, DR, R, UP]),
    ([R, D0, DR, UP], [D0, DR, R, UP]),
    ([R, UP, D0], [R, UP, D0]),                      # only across the Dial events
    ([D0, UP, R, "Dial(ANSWER)"], [D0, UP, R, "Dial(ANSWER)"]),
    ([DR, D0, R, UP], [D0, DR, R, UP]),              # the 180 published first
    ([DR, R, D0, UP], [D0, DR, R, UP]),
    ([D0, UP, DR], [D0, UP, DR]),                    # not across other events
    (["StasisStart", "ChannelHangupRequest(17)", D0, "StasisEnd"],
     ["StasisStart", D0, "ChannelHangupRequest(17)", "StasisEnd"]),  # a 486 before the dial
    ([D0, "ChannelHangupRequest(17)"], [D0, "ChannelHangupRequest(17)"]),
    (["ChannelHangupRequest(16)", UP, D0], ["ChannelHangupRequest(16)", UP, D0]),
    ([], []),
])
def test_normalise_moves_only_the_ringing_state_change(seq: list[str],
                                                        expected: list[str]) -> None:
    assert normalise(seq) == expected


def test_agent_legs_are_numbered_in_the_order_acd_first_heard_of_them() -> None:
    events = [("caller", "StasisStart", "c"), ("agent", "StasisStart", "acd-x-2"),
              ("agent", "StasisStart", "acd-x-1"), ("agent", "StasisEnd", "acd-x-2"),
              ("other", "BridgeDestroyed", "")]
    assert [r for r, _, _ in with_roles(events)] == ["caller", "agent1", "agent2", "agent1",
                                                     "other"]
    assert differences({"agent1": [D0, R, DR]}, {"agent1": [D0, DR, R]}) == ""
    assert "agent2" in differences({"agent2": ["StasisStart"]}, {})


def test_every_scenario_has_a_kept_trace() -> None:
    kept = sorted(p.name for p in TRACES.glob("acd_*.jsonl"))
    assert kept == sorted(trace_path(name).name for name in [*TWINS, *HOLD_TWINS])


@pytest.mark.parametrize("scenario", sorted(TWINS))
async def test_simulator_matches_the_real_trace(scenario: str, redis_prefix: str,
                                                redis_client: object, pg_dsn: str,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    real = sequences(load_trace(trace_path(scenario)))
    assert real.get("caller"), f"{trace_path(scenario)} holds no caller events"
    run = await run_twin(TWINS[scenario], redis_prefix, pg_dsn, tmp_path, monkeypatch)
    diff = differences(real, run.per_role())
    assert not diff, (f"{scenario}: the simulator differs from the real Asterisk "
                      f"(real | simulator):\n{diff}")
