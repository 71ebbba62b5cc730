"""The recording and payment scenarios (tests/asterisk/test_control_record_pay.py) on
the simulator must give the ARI event sequences acd heard from the real Asterisk
(kept in tests/asterisk/traces/record_pay_<scenario>.jsonl), without an Asterisk."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.asterisk.record_pay_twin import run_on_simulator, trace_path
from tests.asterisk.sequences import differences, load_trace, sequences

SCENARIOS = ("recording", "payment")


def test_every_scenario_has_a_kept_trace() -> None:
    assert all(trace_path(s).exists() for s in SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_simulator_matches_the_real_trace(scenario: str, redis_prefix: str,
                                                redis_client: object, pg_dsn: str,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    real = sequences(load_trace(trace_path(scenario)))
    run = await run_on_simulator(scenario, redis_prefix, pg_dsn, tmp_path, monkeypatch)
    diff = differences(real, run.per_role())
    assert diff == "", f"{scenario} (real Asterisk | simulator):\n{diff}"
