"""What the call room is built from: its clients and its settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from acd.ari.client import AriClient
from acd.calls.model import NO_CONTROL, CallSettings, QueueControl
from acd.clock import Clock
from acd.config import CallbackSettings, PhoneSettings, TransferSettings
from acd.ivr.http_policy import HttpPolicy
from acd.ivr.registry import FlowRegistry
from acd.routing.client import RedisClient
from acd.routing.model import QueueDef
from acd.routing.service import Router
from acd.store.writer import RowWriter


def agent_numbers(router: Router) -> tuple[tuple[str, str], ...]:
    """The number a phone dials for each agent ("101" for PJSIP/agent101, as the
    shipped `[agents]` context maps them), for a REFER's Refer-To."""
    out: list[tuple[str, str]] = []
    for agent in router.agents.defs.values():
        number = agent.endpoint.partition("/")[2].removeprefix("agent")
        if number.isdigit():
            out.append((number, agent.id))
    return tuple(out)


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
    transfers: TransferSettings = field(default_factory=TransferSettings)
    # Whether the app's events socket is open: a channel created into the app while it
    # is not dies at once on a real Asterisk, unheard (tests/asterisk/test_stasis.py).
    listening: Callable[[], bool] = lambda: True

    def call_settings(self) -> CallSettings:
        """The machine's view of the settings (fixed for each call at its start)."""
        cb, ph = self.callbacks, self.phones
        return CallSettings(
            app=self.app, moh_class=self.moh_class, callback_endpoint=cb.endpoint,
            callback_ring_timeout=cb.ring_timeout, callback_retry_delay=cb.retry_delay,
            callback_max_attempts=cb.max_attempts, callback_caller_id=cb.caller_id,
            callback_prompt=tuple(cb.prompt), agent_lost=ph.agent_lost,
            agent_lost_prompt=tuple(ph.agent_lost_prompt),
            agent_lost_hangup_after=ph.agent_lost_hangup_after,
            max_requeues=ph.max_requeues,
            transfer_queues=tuple((q.name, q.transfer_priority, q.transfer_keep_place)
                                  for q in self.queues.values()),
            agent_numbers=agent_numbers(self.router),
            supervisors_queue=self.transfers.supervisors_queue,
            transfer_context=self.transfers.context,
            number_ring_timeout=self.transfers.number_ring_timeout,
            queue_control=tuple(  # #17: recording and payment, per queue
                (q.name, QueueControl(q.recording, q.recording_format, q.payment_flow))
                for q in self.queues.values()
                if (q.recording, q.recording_format, q.payment_flow) != _DEFAULT_CONTROL))


_DEFAULT_CONTROL = (NO_CONTROL.recording, NO_CONTROL.recording_format, NO_CONTROL.payment_flow)
