"""When things go wrong for one call: channels found gone by reconciliation (their
events lost), a look-up of which channels still exist, and the safety net for an
unexpected exception. Part of CallFlow (see acd.calls.flow_base).
"""

from __future__ import annotations

import logging

from acd.ari.errors import AriError
from acd.calls.call import AgentLeg, Call, Phase
from acd.calls.flow_base import FlowBase

logger = logging.getLogger("acd.calls.flow")


class Gaps(FlowBase):
    async def _safety_net(self, call: Call) -> None:
        if call.phase in (Phase.CONNECTED, Phase.ENDING, Phase.ENDED) or call.caller_gone:
            return  # talking (the bridge stands), or already on the way out
        logger.warning("call %s: sent back to the dialplan after an unexpected error",
                       call.call_id)
        call.end_detail = call.end_detail or "handler_error"
        self.ivr.cancel_timers(call)
        try:
            for leg in call.live_legs():
                leg.outcome = leg.outcome or "error"
                await self._hangup(leg.channel_id)
                await self._leg_failed(call, leg, "error", cause=None)
            await self._to_dialplan(call)
        except Exception:
            logger.exception("call %s: the safety net failed too; hanging up", call.call_id)
            await self._hangup(call.channel_id)

    async def _vanished(self, call: Call, channels: frozenset[str]) -> None:
        """Channels of this call are gone without the events that would have said
        so: end what they carried with what is known. A ringing leg that vanished
        is not charged to its agent (nobody knows whose doing it was)."""
        agent_left: AgentLeg | None = None
        for channel_id in sorted(channels):
            leg = call.legs.get(channel_id)
            if leg is None or leg.ended_ms is not None:
                continue
            if leg is call.connected_leg and leg.answered_ms is not None:
                leg.outcome = leg.outcome or "answered"
                agent_left = leg
                self._end_leg(call, leg)
            else:
                leg.outcome = leg.outcome or "lost"
                await self._leg_failed(call, leg, "error", cause=None)
        if call.channel_id in channels:
            logger.warning("call %s: its caller's channel is gone (events lost); ending it",
                           call.call_id[:8])
            call.caller_destroyed = True
            call.end_detail = call.end_detail or "events_lost"
            if not call.caller_gone and call.ended_by is None:
                call.ended_by = "unknown" if agent_left is not None else "caller"
            await self._caller_gone(call, None)
        elif agent_left is not None:
            logger.warning("call %s: agent %s's channel is gone (events lost); ending the "
                           "call", call.call_id[:8], agent_left.agent_id)
            call.end_detail = call.end_detail or "events_lost"
            await self._agent_hung_up(call, agent_left)
        await self._maybe_finish(call)

    async def _verify(self, call: Call) -> None:
        """Ask Asterisk which of this call's channels still exist."""
        gone: set[str] = set()
        wanted = [leg.channel_id for leg in call.live_legs() if leg.created]
        if not call.caller_destroyed and call.channel_created:
            wanted.append(call.channel_id)
        for channel_id in wanted:
            try:
                await self.d.ari.get_channel(channel_id)
            except AriError as exc:
                if exc.gone or exc.status == 404:
                    gone.add(channel_id)
        if gone:
            await self._vanished(call, frozenset(gone))
