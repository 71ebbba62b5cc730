"""Monitoring from life (issue 17): acd on the simulator hears, per channel role
(caller, agent, supervisor, snoop1...), the ARI events it heard from the real
Asterisk 22 in the same scenario (tests/asterisk/test_control_monitor.py keeps them
in tests/asterisk/traces/monitor_<scenario>.jsonl); the bridges after each move are
asserted on the way (tests/asterisk/monitor_twin.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.asterisk.monitor_twin import SCENARIOS, per_role, run_on_simulator, trace_path
from tests.asterisk.sequences import differences, load_trace, sequences


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_the_simulator_monitors_as_the_real_asterisk_did(
        scenario: str, redis_prefix: str, redis_client: object, pg_dsn: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = sequences(load_trace(trace_path(scenario)))
    assert real.get("caller") and real.get("supervisor"), trace_path(scenario)
    run = await run_on_simulator(scenario, redis_prefix, pg_dsn, tmp_path, monkeypatch)
    diff = differences(real, per_role(run))
    assert not diff, (f"{scenario}: the simulator differs from the real Asterisk "
                      f"(real | simulator):\n{diff}")
