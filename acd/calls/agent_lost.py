"""An agent's phone vanishing mid-call: the caller is never left in silence.

Asterisk tears down an agent leg whose media stopped (chan_pjsip's rtp_timeout /
rtp_timeout_hold: cause 44) or whose network went (27, 38, 41). That is not the
agent hanging up: the caller is put back at the head of their queue (phones.
agent_lost = "requeue", at most phones.max_requeues times) after a prompt, or told
and hung up ("hangup"). The agent goes on break "phone_lost" (their phone policy
brings them back when it registers again). Rows say so: the agent leg's outcome is
"agent_lost" with the cause, and a queue event "complete" carries
{"reason": "agent_lost", "cause": N}.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from acd.agents.phone import PHONE_LOST
from acd.ari import events as ev
from acd.calls import records
from acd.calls.call import AgentLeg, Call, Phase
from acd.calls.messages import Reap

if TYPE_CHECKING:
    from acd.calls.flow_base import FlowBase

logger = logging.getLogger(__name__)

# Hang-up causes of a connected agent leg that mean the phone, not the agent, went:
# 27 destination out of order, 38 network out of order, 41 temporary failure,
# 44 requested channel unavailable (the RTP timeout).
LOST_CAUSES: frozenset[int] = frozenset({27, 38, 41, 44})


# ChannelHangupRequest's "cause" on a soft hang-up is the soft hang-up reason, not a
# Q.850 cause: AST_SOFTHANGUP_DEV (1) when the channel driver itself ends the call
# (chan_pjsip's RTP timeout: ChannelHangupRequest {cause: 1, soft: true}, then
# ChannelDestroyed {cause: 44}, as the real Asterisk 22 tier shows).
SOFTHANGUP_DEV = 1


def is_lost(cause: int | None) -> bool:
    return cause in LOST_CAUSES


def from_the_device(event: ev.ChannelHangupRequest) -> bool:
    """Asterisk's channel driver ends the leg: wait for ChannelDestroyed's cause."""
    return event.soft and event.cause == SOFTHANGUP_DEV


async def agent_lost(flow: FlowBase, call: Call, leg: AgentLeg, cause: int | None) -> None:
    """The connected agent's phone is gone (in the call's lane)."""
    if leg.hangup_requested:
        return
    leg.hangup_requested = True
    leg.outcome = "agent_lost"
    leg.cause = cause
    d = flow.d
    if leg.ended_ms is None:
        leg.ended_ms = d.clock.ms()  # now, not after the caller is looked after
    logger.warning("call %s: agent %s's phone is gone mid-call (cause %s)", call.call_id[:8],
                   leg.agent_id, cause)
    await flow._destroy_bridge(call)
    call.extra["ended_sent"] = True
    try:
        await d.router.call_ended(leg.offer)
    except Exception:
        logger.exception("call %s: could not end agent %s's call", call.call_id, leg.agent_id)
    flow._queue_event(call, "complete", leg.agent_id, reason="agent_lost", cause=cause)
    try:
        await d.router.agents.set_break(leg.agent_id, PHONE_LOST)
    except Exception as exc:
        logger.info("agent %s: not paused after losing the phone: %s", leg.agent_id, exc)
    if call.caller_gone:
        return
    s = d.phones
    requeues = int(call.extra.get("agent_lost", 0))
    call.extra["agent_lost"] = requeues + 1
    if s.agent_lost == "requeue" and call.queue is not None and requeues < s.max_requeues:
        await _requeue(flow, call)
    else:
        await _tell_and_hang_up(flow, call)


async def _requeue(flow: FlowBase, call: Call) -> None:
    d = flow.d
    call.connected_leg = None
    call.outcome = None
    call.extra.pop("ended_sent", None)
    call.phase = Phase.QUEUED
    req = call.extra.get("queue_request")
    assert call.queue is not None
    if req is None:
        req = records.queue_request(call, call.queue, {}, 0, None, None)
    logger.info("call %s: back to the head of %s", call.call_id[:8], call.queue)
    await flow._play_over_moh(call, list(d.phones.agent_lost_prompt))
    try:
        await d.router.adopt(req)  # its original enqueue time: the head of the queue
    except Exception:
        logger.exception("call %s: could not queue again; to the dialplan", call.call_id)
        await flow._to_dialplan(call)
        return
    flow._queue_event(call, "enter", None, requeued="agent_lost")


async def _tell_and_hang_up(flow: FlowBase, call: Call) -> None:
    d = flow.d
    call.phase = Phase.ENDING
    call.outcome = call.outcome or "answered"
    try:
        await d.ari.play(call.channel_id, list(d.phones.agent_lost_prompt), lang=call.language)
    except Exception as exc:
        logger.info("call %s: agent-lost prompt failed: %s", call.call_id, exc)
    logger.info("call %s: told the agent is gone; hanging up", call.call_id[:8])
    d.clock.call_later(d.phones.agent_lost_hangup_after, lambda: flow.svc.post(call, Reap()))
