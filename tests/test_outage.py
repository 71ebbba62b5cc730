"""An outage is logged when it starts and when it ends, not once per failure."""

from __future__ import annotations

import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from acd.ari.errors import AriUnavailable
from acd.outage import ARI, Outage, report


def test_a_thousand_failures_log_two_lines(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage("Redis")
    log = logging.getLogger("acd.test")
    with caplog.at_level(logging.INFO):
        for i in range(1000):
            report(log, RedisConnectionError("refused"), "call %s: enqueue", i, outage=outage)
        outage.ok()
        outage.ok()  # nothing more: it was already over
    lines = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(lines) == 2, [r.getMessage() for r in lines]
    assert "unreachable" in lines[0].getMessage() and "call 0: enqueue" in lines[0].getMessage()
    assert "1000 operations failed" in lines[1].getMessage()
    assert not any(r.exc_info for r in caplog.records)
    assert outage.outages == 1 and not outage.down


def test_a_bug_still_gets_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage("Redis")
    with caplog.at_level(logging.INFO):
        report(logging.getLogger("acd.test"), KeyError("x"), "call %s: step", "c1",
               outage=outage)
    (rec,) = caplog.records
    assert rec.levelno == logging.ERROR and rec.exc_info is not None
    assert rec.getMessage() == "call c1: step" and not outage.down


@pytest.mark.parametrize(("exc", "named"), [
    (AriUnavailable("timeout"), "ARI"),
    (RedisConnectionError("refused"), "Redis"),
    (RedisTimeoutError("slow"), "Redis"),
])
def test_a_failure_counts_towards_its_own_outage(
        caplog: pytest.LogCaptureFixture, exc: BaseException, named: str) -> None:
    redis = Outage("Redis")
    try:
        with caplog.at_level(logging.INFO):
            report(logging.getLogger("acd.test"), exc, "call %s: Play", "c1", outage=redis)
        (rec,) = caplog.records
        assert rec.getMessage().startswith(f"{named} unreachable"), rec.getMessage()
        assert (ARI.down, redis.down) == (named == "ARI", named == "Redis")
    finally:
        ARI.ok()
