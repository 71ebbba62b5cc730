"""Whole calls through the machine *and* the executor (acd.calls.effects), the
executor's ports served by the model world (tests.calls.ports), with faults
raised at the port as the real clients raise them: ARI 4xx/5xx, "Allocation
failed" and timeouts, Redis errors, dropped connections, an exception no port
should raise (the service's safety net), on any command; hang-ups of either
party at any moment, events lost while the events socket is down, acd restarts
with acd's own re-adoption and recovery (acd.calls.recovery).

Every injected fault must come back from the executor as the `Failed` event its
kind means (`tests.calls.ports.EXPECTED`); afterwards the same holds as for the
machine alone (tests.calls.test_machine_property.check_end). 2,000 examples in
CI (issue #12); ACD_PROP_EXAMPLES sets the number.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as hs

from acd.calls import commands as c
from tests.calls.ports import ARI_KINDS, REDIS_KINDS, PortWorld
from tests.calls.test_machine_property import ACTIONS, FLOWS, act, check_end, describe, settle


@pytest.fixture(autouse=True, scope="module")
def quiet() -> Iterator[None]:
    """Thousands of injected faults, each logged by acd (some with a traceback)."""
    loggers = [logging.getLogger(n) for n in ("acd.calls.effects", "acd.calls.recovery",
                                               "acd.outage")]
    for log in loggers:
        log.disabled = True
    yield
    for log in loggers:
        log.disabled = False


@settings(max_examples=int(os.environ.get("ACD_PROP_EXAMPLES", "2000")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(flow=hs.sampled_from(sorted(FLOWS)), ring_all=hs.booleans(),
       fault_rate=hs.sampled_from((0, 3, 10, 20)), data=hs.data())
def test_whole_calls_through_the_executor(flow: str, ring_all: bool, fault_rate: int,
                                          data: hs.DataObject) -> None:
    def draw(cmd: c.Command, family: str) -> str | None:
        if fault_rate == 0 or data.draw(hs.integers(0, 99), label="fault") >= fault_rate:
            return None
        return data.draw(hs.sampled_from(ARI_KINDS if family == "ari" else REDIS_KINDS),
                         label="kind")

    w = PortWorld(FLOWS[flow], draw, ring_all)
    w.start()
    steps = data.draw(hs.lists(hs.tuples(hs.sampled_from(ACTIONS), hs.integers(0, 7)),
                               max_size=60), label="steps")
    try:
        for action, pick in steps:
            act(w, action, pick)
            if not w.pending and not w.gap:
                assert not w.silent(), f"caller in silence after {action}: {w.trace[-8:]}"
        settle(w)
        event(f"faults raised: {w.faults_raised > 0}; bugs: {w.bugs > 0}")
        check_end(w)
        describe(w)
    except AssertionError:
        note("\n".join(w.log))
        raise
