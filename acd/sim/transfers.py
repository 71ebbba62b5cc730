"""A phone's own call-control buttons, and what Asterisk 22 makes of them.

Seen on the real Asterisk with SIPp phones (tests/asterisk/test_call_control.py; the
role sequences are kept in tests/asterisk/traces/control_*.jsonl):

- hold / unhold (a re-INVITE with a=sendonly, then a=sendrecv): ChannelHold (with
  `musicclass`) and ChannelUnhold on the phone's channel. ARI's own
  `POST/DELETE /channels/{id}/hold` raises neither (acd/sim/ari_channels.py).
- a REFER on a channel whose PJSIP_TRANSFER_HANDLING is ari-only (the shipped agent
  endpoints set it): Asterisk answers 202, NOTIFYs "100 Trying" and sends
  ChannelTransfer; nothing else happens until the app acts. Each
  `transfer_progress` is echoed as another ChannelTransfer whose `state` is the one
  sent (channel_unavailable echoed as channel_declined), with the REFER's channel as
  it is then (no bridge once it left it); channel_answered NOTIFYs "200 OK",
  channel_declined "603", channel_unavailable "503", each ending the subscription;
  channel_progress sends no NOTIFY. On a channel with no REFER: 204 and no event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from acd.sim.errors import AriReply
from acd.sim.model import Channel, JsonDict, dumps

if TYPE_CHECKING:
    from acd.sim.core import World

# The sipfrag status of the NOTIFY each state sends (None: no NOTIFY), as the phone
# saw them (control_blind_refer*.jsonl's phone_notifies).
STATES: dict[str, str | None] = {
    "channel_progress": None,
    "channel_answered": "200",
    "channel_unavailable": "503",
    "channel_declined": "603",
}
# The state the echo ChannelTransfer says: Asterisk 22.10.1 echoes channel_unavailable
# as "channel_declined" (its NOTIFY is still 503).
ECHOED = {"channel_unavailable": "channel_declined"}
ARI_ONLY = "ari-only"
HANDLING_VARIABLE = "PJSIP_TRANSFER_HANDLING()"


@dataclass
class Refer:
    """A REFER the phone on one channel sent; `notifies` is what the phone was told."""

    destination: str
    replaces: Channel | None
    notifies: list[str] = field(default_factory=lambda: ["100"])
    ended: bool = False


def transfer_handling(tech: str, resource: str, variables: dict[str, str]) -> str:
    """config/asterisk/pjsip_wizard.conf sets ari-only on every agent endpoint's channel;
    a channel variable at create can say otherwise."""
    if HANDLING_VARIABLE in variables:
        return variables[HANDLING_VARIABLE]
    return ARI_ONLY if tech == "PJSIP" and resource.startswith("agent") else "core"


class Transfers:
    def __init__(self, world: World) -> None:
        self.w = world
        self.refers: dict[str, Refer] = {}          # channel id -> its REFER

    # -- the phone's side ---------------------------------------------------------------
    def hold(self, ch: Channel, musicclass: str = "default") -> None:
        self.w.ev(ch, "ChannelHold", dumps({"musicclass": musicclass})[1:-1] + ",")
        # The bridge passes the hold on: chan_pjsip starts the class on the others
        # (the caller hears music, test_the_caller_hears_music_when_the_agent_phone_holds).
        for other in self._others(ch):
            other.moh = musicclass

    def unhold(self, ch: Channel) -> None:
        self.w.ev(ch, "ChannelUnhold")
        for other in self._others(ch):
            other.moh = None  # chan_pjsip's unhold stops whatever music it plays

    @staticmethod
    def _others(ch: Channel) -> list[Channel]:
        return [] if ch.bridge is None else [x for x in ch.bridge.channels if x is not ch]

    def refer(self, ch: Channel, destination: str, replaces: Channel | None = None) -> Refer:
        """The phone on `ch` sends a REFER: blind to `destination`, or attended with
        Replaces naming the dialog of `replaces`."""
        handling = transfer_handling(ch.tech, ch.resource, ch.variables)
        if handling != ARI_ONLY:
            raise ValueError(f"{ch.name}: transfer handling {handling!r} is not simulated")
        refer = Refer(destination, replaces)
        self.refers[ch.id] = refer
        self._send(ch, refer, None)
        return refer

    # -- the app's side -----------------------------------------------------------------
    def progress(self, ch: Channel, state: str) -> None:
        """POST /channels/{id}/transfer_progress."""
        if state not in STATES:
            raise AriReply(400, "Invalid states value")
        refer = self.refers.get(ch.id)
        if refer is None or refer.ended:
            return
        self._send(ch, refer, ECHOED.get(state, state))
        status = STATES[state]
        if status is not None:
            refer.notifies.append(status)
            refer.ended = True

    def gone(self, ch: Channel) -> None:
        self.refers.pop(ch.id, None)

    # -- the event ------------------------------------------------------------------------
    def _send(self, ch: Channel, refer: Refer, state: str | None) -> None:
        dest: JsonDict = {"destination": refer.destination}
        refer_to: JsonDict = {"requested_destination": dest}
        other = refer.replaces
        if other is not None:
            dest["protocol_id"] = other.protocol_id
            dest["additional_protocol_params"] = [
                {"parameter_name": "from", "parameter_value": f"{other.id}-phone"},
                {"parameter_name": "to", "parameter_value": f"{other.id}-asterisk"}]
            refer_to.update(_side(other, "destination_channel"))
        referred_by = _side(ch, "source_channel")
        body = dumps({"refer_to": refer_to, "referred_by": referred_by})[1:-1] + ","
        if state is not None:
            body = dumps({"state": state})[1:-1] + "," + body
        if ch.app is not None:
            self.w.emit(ch.app, "ChannelTransfer", body.rstrip(","))


def _side(ch: Channel, key: str) -> JsonDict:
    """A channel, the one bridged with it, and their bridge, as ChannelTransfer names
    them (only the channel once it is in no bridge)."""
    out: JsonDict = {key: ch.as_json()}
    bridge = ch.bridge
    if bridge is None:
        return out
    peers = [c for c in bridge.channels if c is not ch]
    if peers:
        out["connected_channel"] = peers[0].as_json()
    out["bridge"] = bridge.as_json()
    return out
