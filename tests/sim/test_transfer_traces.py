"""Contract from life for transfers (issue 17): acd on the simulator hears what it
heard from the real Asterisk in each scenario of tests/asterisk/test_acd_transfers.py
(kept in tests/asterisk/traces/transfer_<scenario>.jsonl), with real Redis and
PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.asterisk.sequences import differences, load_trace, sequences
from tests.asterisk.transfer_twins import SCENARIOS, run_on_simulator, trace_path


def test_every_scenario_has_a_kept_trace() -> None:
    assert [s for s in SCENARIOS if not trace_path(s).exists()] == []


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_simulator_matches_the_real_trace(scenario: str, redis_prefix: str,
                                                redis_client: object, pg_dsn: str,
                                                tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    run = await run_on_simulator(scenario, redis_prefix, pg_dsn, tmp_path, monkeypatch)
    real = sequences(load_trace(trace_path(scenario)))
    diff = differences(real, run.per_role())
    assert diff == "", f"{scenario} (real Asterisk | simulator):\n{diff}"
