"""The simulator held to the real Asterisk for acd's hold and unhold: each scenario of
tests/asterisk/test_control_hold.py is played on the simulator (its twin in
tests/asterisk/hold_twins.py) and the ARI event sequences acd handled, per channel
role, must be the kept real ones (tests/asterisk/traces/acd_<scenario>.jsonl)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.asterisk.hold_twins import HOLD_TWINS, run_hold_twin
from tests.asterisk.sequences import differences, load_trace, sequences
from tests.asterisk.sim_twin import trace_path


@pytest.mark.parametrize("scenario", sorted(HOLD_TWINS))
async def test_hold_scenario_matches_the_real_asterisk(
        scenario: str, redis_prefix: str, redis_client: Any, pg_dsn: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = trace_path(scenario)
    assert path.exists(), f"no kept trace {path.name}: run tests/asterisk/test_control_hold.py"
    run = await run_hold_twin(HOLD_TWINS[scenario], redis_prefix, pg_dsn, tmp_path, monkeypatch)
    assert differences(sequences(load_trace(path)), run.per_role()) == ""
