"""An agent's phone calling a colleague's number (issue 17): what acd does with it.

The `[agents]` dialplan (config/asterisk/extensions.conf) hands such a call to acd
as `Stasis(acd,phone,<number>)` rather than dialling the colleague itself, because
ARI cannot pull a channel outside Stasis into acd's bridge, which the phone's
attended transfer (a REFER with Replaces naming this call) needs.

- The dialling agent is the connected agent of one of this node's calls: the call is
  told (`PhoneConsult`) and makes it a consult (acd.calls.phases.phone_consult): the
  channel belongs to that call from now on.
- Otherwise it is a plain internal call: acd sends it on in the dialplan at
  `agents-direct,<number>,1`, which dials the colleague as before, outside acd. It
  writes nothing (no `calls` row, no leg, no queue event): acd takes no part in it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from acd.ari import events as ev
from acd.ari.errors import AriError
from acd.calls import events as e
from acd.calls.model import CallState, Phase

if TYPE_CHECKING:
    from acd.calls.service import CallService

logger = logging.getLogger(__name__)

DIRECT_CONTEXT = "agents-direct"  # extensions.conf: the colleague dialled outside acd
MAX_NUMBER = 32


def endpoint_of(channel_name: str) -> str:
    """`PJSIP/agent100-0000000a` -> `PJSIP/agent100` (the phone that placed the call)."""
    return channel_name.rpartition("-")[0] or channel_name


def phone_of(endpoint: str) -> str:
    """The phone an acd leg's dial string names: `PJSIP/agent100`, also for a dial
    string with a contact (`PJSIP/agent100/sip:agent100@10.0.0.5:5060`)."""
    return "/".join(endpoint.split("/")[:2])


def consulted_call(calls: list[CallState], endpoint: str) -> CallState | None:
    """The call whose connected agent talks on `endpoint`'s phone, if any."""
    for st in calls:
        leg = st.connected_leg
        if (st.phase is Phase.CONNECTED and not st.caller_gone and leg is not None
                and leg.live and not leg.hangup_requested
                and phone_of(leg.endpoint) == endpoint):
            return st
    return None


async def arrive(service: CallService, event: ev.StasisStart) -> None:
    """An agent's phone dialled `number` (`phone,<number>`)."""
    channel = event.channel
    number = event.args[1] if len(event.args) > 1 else ""
    if not number.isdigit() or len(number) > MAX_NUMBER:
        await _hangup(service, channel.id, "no number")
        return
    call = consulted_call(list(service.calls.values()), endpoint_of(channel.name))
    if call is not None:
        logger.info("call %s: its agent's phone dials %s (a consult)", call.call_id[:8],
                    number)
        service.bind_phone_leg(channel.id, call.call_id)
        service.post(call.call_id, e.PhoneConsult(channel.id, number))
        return
    try:
        await service.ari.continue_in_dialplan(channel.id, DIRECT_CONTEXT, number, 1)
    except AriError as exc:
        logger.info("internal call %s to %s: %s", channel.id, number, exc)
        await _hangup(service, channel.id, "could not continue")


async def _hangup(service: CallService, channel_id: str, why: str) -> None:
    try:
        await service.ari.hangup(channel_id)
    except AriError as exc:
        logger.info("phone call %s (%s): hang-up: %s", channel_id, why, exc)
