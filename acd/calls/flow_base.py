"""What every part of a call's life shares: its dependencies, media and hang-up
helpers, and the queue-event writer. The parts (acd.calls.flow, agent_side,
waiting, gaps) are mixins of one `CallFlow`; each runs inside the call's lane.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from acd.ari.client import AriClient
from acd.ari.errors import AriError
from acd.calls import records
from acd.calls.call import AgentLeg, Call
from acd.calls.messages import Reap
from acd.clock import Clock
from acd.config import CallbackSettings, PhoneSettings
from acd.ivr.http_policy import HttpPolicy
from acd.ivr.registry import FlowRegistry
from acd.routing.client import RedisClient
from acd.routing.model import Offer, QueueDef
from acd.routing.service import Router
from acd.store.writer import RowWriter

if TYPE_CHECKING:
    from acd.calls.ivr_runner import IvrRunner
    from acd.calls.service import CallService

logger = logging.getLogger("acd.calls.flow")


@dataclass
class CallDeps:
    ari: AriClient
    router: Router
    writer: RowWriter
    flows: FlowRegistry
    clock: Clock
    redis: RedisClient  # one server or a cluster (acd/routing/client.py)
    redis_prefix: str
    queues: dict[str, QueueDef]
    app: str
    moh_class: str = "default"
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)
    http_policy: HttpPolicy = field(default_factory=HttpPolicy)  # where `http` nodes may go
    phones: PhoneSettings = field(default_factory=PhoneSettings)


class FlowBase:
    d: CallDeps
    svc: CallService
    ivr: IvrRunner

    if TYPE_CHECKING:  # defined by the other parts of CallFlow
        async def _callback_lost(self, call: Call) -> None: ...

        async def _maybe_finish(self, call: Call, force: bool = False) -> None: ...

        async def _to_dialplan(self, call: Call) -> None: ...

        async def _destroy_bridge(self, call: Call) -> None: ...

        async def _play_over_moh(self, call: Call, prompts: list[str]) -> None: ...

        async def _caller_gone(self, call: Call, cause: int | None) -> None: ...

        async def _leave_queue(self, call: Call, event: str, exit_to: records.ExitReason,
                               **detail: object) -> None: ...

        async def _offer(self, call: Call, offer: Offer) -> None: ...

        async def _agent_hung_up(self, call: Call, leg: AgentLeg) -> None: ...

        def _end_leg(self, call: Call, leg: AgentLeg) -> None: ...

        async def _leg_failed(self, call: Call, leg: AgentLeg, reason: str,
                              cause: int | None) -> None: ...

    def _arm_reap(self, call: Call) -> None:
        # A safety net: should a destroy event never come, the call is still written.
        self.d.clock.call_later(60.0, lambda: self.svc.post(call, Reap()))

    @staticmethod
    def _stop_waiting(call: Call) -> None:
        """No more announcements."""
        if call.announce_timer is not None:
            call.announce_timer.cancel()
            call.announce_timer = None

    async def _start_moh(self, call: Call) -> None:
        qdef = self.d.queues.get(call.queue or "")
        moh = call.announce.get("moh_class") or (qdef.moh_class if qdef is not None else None)
        try:
            await self.d.ari.start_moh(call.channel_id, moh or self.d.moh_class)
            call.moh_on = True
        except AriError as exc:
            logger.info("call %s: music on hold: %s", call.call_id, exc)

    async def _stop_moh(self, call: Call) -> None:
        if not call.moh_on:
            return
        call.moh_on = False
        try:
            await self.d.ari.stop_moh(call.channel_id)
        except AriError as exc:
            if not exc.gone:
                logger.info("call %s: stop music on hold: %s", call.call_id, exc)

    async def _hangup(self, channel_id: str, reason: str = "normal") -> None:
        try:
            await self.d.ari.hangup(channel_id, reason=reason)
        except AriError as exc:
            if not exc.gone:
                logger.info("hang up %s: %s", channel_id, exc)

    def _queue_event(self, call: Call, event: str, agent_id: str | None,
                     **detail: object) -> None:
        self.d.writer.write(records.queue_event_row(call, event, agent_id,
                                                    self.d.clock.ms(), detail))
