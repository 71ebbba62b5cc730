"""Outages of what acd depends on, logged once when they start and once when they end.

A Redis or ARI outage makes every call step, tick and request fail the same way;
a traceback for each buries the log (an outage of 10 s once printed 1,100 lines).
`Outage.failed` logs the first failure as a warning and counts the rest;
`Outage.ok` logs the end with the outage's length and count. Anything that is
not a connection failure is a bug and still gets its traceback (`report`).
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from acd.ari.errors import AriUnavailable

logger = logging.getLogger(__name__)

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError, RedisTimeoutError, AriUnavailable, ConnectionError, TimeoutError)


class Outage:
    def __init__(self, name: str) -> None:
        self.name = name
        self.since: float | None = None  # time.monotonic() of the first failure
        self.failures = 0  # in the current outage
        self.outages = 0  # ever

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, what: str, exc: BaseException) -> None:
        self.failures += 1
        if self.since is None:
            self.since = time.monotonic()
            self.outages += 1
            logger.warning("%s unreachable (%s: %s: %s); failures are counted until it is "
                           "back", self.name, what, type(exc).__name__, exc)
        else:
            logger.debug("%s still unreachable: %s: %s", self.name, what, exc)

    def ok(self) -> None:
        if self.since is None:
            return
        took = time.monotonic() - self.since
        logger.warning("%s reachable again after %.1f s; %d operations failed meanwhile",
                       self.name, took, self.failures)
        self.since = None
        self.failures = 0


REDIS = Outage("Redis")
ARI = Outage("ARI")  # requests to Asterisk that get no answer (the events socket logs its own)


def report(log: logging.Logger, exc: BaseException, msg: str, *args: object,
           outage: Outage = REDIS) -> None:
    """Log a failed operation (`msg % args` says what): a connection failure counts
    towards the outage, anything else is logged with its traceback."""
    if isinstance(exc, AriUnavailable):
        ARI.failed(msg % args if args else msg, exc)
    elif isinstance(exc, CONNECTION_ERRORS):
        outage.failed(msg % args if args else msg, exc)
    else:
        log.error(msg, *args, exc_info=exc)
