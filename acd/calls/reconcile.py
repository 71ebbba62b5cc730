"""Reconciliation: what acd holds, set against what Asterisk and routing hold.

Events lost in a gap (a dropped events socket, a restart) leave acd holding calls
whose channels are gone, Asterisk holding agent legs no call claims, and routing
holding waiting callers nobody owns. After every (re)connect and periodically,
`Reconciler.run` ends the first (their rows written with what is known, their
agents through wrap-up), hangs up the second and releases the third; the router
stops renewing the on-call deadline of calls this node no longer holds.

acd assumes one node per ARI application (as re-adoption does): an `acd-` channel
in the application that no call of this node claims is a leftover.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from acd import metrics
from acd.ari.errors import AriError
from acd.calls.events import Vanished
from acd.calls.model import CallState, Phase, monitor_channels
from acd.calls.recovery import recover

if TYPE_CHECKING:
    from acd.calls.service import CallService

logger = logging.getLogger(__name__)

LEG_PREFIX = "acd-"


@dataclass
class Reconciled:
    """What one reconciliation did."""

    calls_ended: int = 0
    legs_hung_up: int = 0
    ghosts_released: int = 0
    records_written: int = 0

    @property
    def anything(self) -> bool:
        return bool(self.calls_ended or self.legs_hung_up or self.ghosts_released
                    or self.records_written)


class Reconciler:
    def __init__(self, svc: CallService) -> None:
        self.svc = svc
        self.d = svc.deps
        self._lock = asyncio.Lock()
        self.runs = 0
        self.totals = Reconciled()
        self._failing = False  # an outage is logged when it starts and when it ends

    async def run(self, why: str) -> Reconciled | None:
        """One reconciliation; None when Asterisk could not be asked."""
        async with self._lock:
            asked_ms = self.d.clock.ms()
            try:
                app = await self.d.ari.get_application()
            except AriError as exc:
                if not self._failing:
                    logger.warning("reconciliation (%s): cannot list the application's "
                                   "channels: %s", why, exc)
                self._failing = True
                return None
            if self._failing:
                logger.info("reconciliation: Asterisk answers again")
                self._failing = False
            live = set(app.channel_ids)
            done = Reconciled()
            for call in list(self.svc.calls.values()):
                gone = await self._gone(call, live, asked_ms)
                if gone:
                    done.calls_ended += 1
                    self.svc.post(call.call_id, Vanished(frozenset(gone)))
            done.legs_hung_up = await self._unclaimed(live)
            try:
                done.records_written = await recover(self.d, self.svc, live)
            except Exception as exc:  # Redis away: the next run tries again
                logger.info("reconciliation: re-adoption records not checked: %s", exc)
            done.ghosts_released = await self._routing()
            self.runs += 1
            metrics.RECONCILIATIONS.inc()
            for name in ("calls_ended", "legs_hung_up", "ghosts_released", "records_written"):
                setattr(self.totals, name, getattr(self.totals, name) + getattr(done, name))
                metrics.RECONCILED.labels(name).inc(getattr(done, name))
            if done.anything:
                logger.warning("reconciliation (%s): %d calls with gone channels ended, "
                               "%d unclaimed agent legs hung up, %d calls that ended while "
                               "acd was down written, %d ghost calls released from routing",
                               why, done.calls_ended, done.legs_hung_up, done.records_written,
                               done.ghosts_released)
            if self.svc.on_reconciled is not None:
                self.svc.on_reconciled(done)
            return done

    async def _gone(self, call: CallState, live: set[str], asked_ms: int) -> set[str]:
        """The channels of `call` Asterisk no longer has. Only channels that existed
        before the listing was asked for count (a call that just arrived, a leg being
        created, are not in it yet); a leg is confirmed with a look-up."""
        if call.phase is Phase.ENDED or call.started_ms >= asked_ms:
            return set()
        gone: set[str] = set()
        candidates = [leg.channel_id for leg in call.live_legs()
                      if leg.created and leg.started_ms < asked_ms
                      and leg.channel_id not in live]
        caller_missing = (not call.caller_destroyed and call.channel_created
                          and call.channel_id not in live)
        if caller_missing:
            candidates.append(call.channel_id)
        for channel_id in candidates:
            try:
                await self.d.ari.get_channel(channel_id)
            except AriError as exc:
                if exc.status == 404:
                    gone.add(channel_id)
                continue
            if channel_id == call.channel_id and call.transferred:
                gone.add(channel_id)  # alive, but out of our application for good
        return gone

    async def _unclaimed(self, live: set[str]) -> int:
        """Hang up the agent legs (and callback channels) in our application that no
        live call of ours claims: a previous life's, or one whose creation acd took
        for failed."""
        n = 0
        for channel_id in live:
            if not channel_id.startswith(LEG_PREFIX) or self._claimed(channel_id):
                continue
            try:
                await self.d.ari.hangup(channel_id)
                n += 1
                logger.warning("hung up agent leg %s: no call claims it", channel_id)
            except AriError as exc:
                if not exc.gone:
                    logger.info("hang up unclaimed leg %s: %s", channel_id, exc)
        return n

    def _claimed(self, channel_id: str) -> bool:
        call_id = self.svc.by_channel(channel_id)
        call = self.svc.calls.get(call_id) if call_id is not None else None
        if call is None:
            return False
        if channel_id == call.channel_id or channel_id in monitor_channels(call):
            return True
        leg = call.leg(channel_id)
        return leg is not None and leg.live

    async def _routing(self) -> int:
        """Release the calls routing holds for this node that it no longer holds,
        and stop renewing on-call deadlines of calls it no longer holds."""
        def held() -> set[str]:
            return {call.rid for call in self.svc.calls.values() if call.phase is not Phase.ENDED}
        router = self.d.router
        router.keep_connected(held())
        try:
            return await router.release_ghosts(held)
        except Exception as exc:  # Redis away: the next run tries again
            logger.info("reconciliation: routing not checked: %s", exc)
            return 0
