"""One notion of time shared by acd and its simulator.

A contact center's timers (ring timeouts, menu timeouts, wrap-up, announcements)
are minutes long; tests and benchmarks replay hours of them in seconds by running
the clock faster than real time. acd and the simulator must agree on the speed,
so both take the same `Clock`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime


class Clock:
    """Wall and monotonic time scaled by `speed` (1.0 = real time)."""

    def __init__(self, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.speed = speed
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def monotonic(self) -> float:
        """Seconds of simulated time since an arbitrary origin."""
        return self._mono0 + (time.monotonic() - self._mono0) * self.speed

    def time(self) -> float:
        """Simulated seconds since the epoch."""
        return self._wall0 + (time.monotonic() - self._mono0) * self.speed

    def now(self) -> datetime:
        """Simulated current time, timezone-aware (UTC)."""
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def ms(self) -> int:
        """Simulated epoch milliseconds, the unit kept in Redis."""
        return int(self.time() * 1000)

    def real(self, seconds: float) -> float:
        """Real seconds that `seconds` of simulated time take."""
        return seconds / self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def call_later(
        self, seconds: float, callback: Callable[[], object]
    ) -> asyncio.TimerHandle:
        loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, seconds) / self.speed, callback)
