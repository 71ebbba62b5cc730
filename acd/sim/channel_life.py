"""The simulated Asterisk's channels: identity, the events they emit, Stasis, and
their end (hang-up, back to the dialplan, destruction).

`ChannelLife` is the base of `acd.sim.core.World`, which adds the phones that call
in and the agent side (create + dial, originate, snoop). Event order follows the
real-Asterisk traces in ../shared/ari/traces (see acd/sim/README.md). Every delay
runs on the shared `Clock` through `call_later`, never a task.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from acd.clock import Clock
from acd.sim.control import ControlQueue
from acd.sim.errors import AriReply, channel_not_found
from acd.sim.hub import Hub
from acd.sim.model import CAUSE_TEXT, Bridge, Channel, JsonDict, ari_time, dumps

if TYPE_CHECKING:
    from acd.sim.bridging import Bridging
    from acd.sim.lines import Lines
    from acd.sim.media import Media
    from acd.sim.transfers import Transfers

HangupKind = Literal["remote", "app", "busy", "timeout", "media"]
RTP_QOS = ("RTPAUDIOQOS", "RTPAUDIOQOSJITTER", "RTPAUDIOQOSLOSS", "RTPAUDIOQOSRTT",
           "RTPAUDIOQOSMES")


def members(values: JsonDict) -> str:
    """JSON object members without braces, for splicing into an event."""
    return dumps(values)[1:-1] + ","


class ChannelLife:
    """Every channel and bridge, and the life of a channel from creation to its end."""

    # Built by World, which hands itself to each.
    media: Media
    bridging: Bridging
    transfers: Transfers
    lines: Lines

    def __init__(self, clock: Clock, hub: Hub) -> None:
        self.clock = clock
        self.hub = hub
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self.dialplan_linger = 1.0    # seconds a channel stays in the dialplan after Stasis
        self.varset_noise = True      # BRIDGEPEER / RTPAUDIOQOS variables, like Asterisk
        self._ids = itertools.count(1)
        self._ts_ms = -1
        self._ts = ""

    # -- identity and time -------------------------------------------------------
    def next_id(self) -> tuple[str, int]:
        n = next(self._ids)
        return f"{int(self.clock.time())}.{n}", n

    def timestamp(self) -> str:
        now = self.clock.time()
        ms = int(now * 1000)
        if ms != self._ts_ms:
            self._ts_ms, self._ts = ms, ari_time(now)
        return self._ts

    def later(self, ch: Channel, seconds: float, fn: Callable[[], object]) -> None:
        """Run `fn` after `seconds` of simulated time unless `ch` is gone by then."""
        def fire() -> None:
            if ch.alive:
                fn()
        ch.timers.append(self.clock.call_later(seconds, fire))

    # -- events ------------------------------------------------------------------
    def emit(self, app_name: str | None, event_type: str, body: str) -> None:
        app = self.hub.wants(app_name, event_type)
        if app is not None:
            self.hub.send(app, event_type, self.timestamp(), body)

    def ev(self, ch: Channel, event_type: str, extra: str = "") -> None:
        if ch.app is None:
            return
        app = self.hub.wants(ch.app, event_type)
        if app is not None:
            self.hub.send(app, event_type, self.timestamp(), extra + '"channel":' + ch.snapshot())

    def varset(self, ch: Channel, name: str, value: str, noise: bool = False) -> None:
        if noise and not self.varset_noise:
            return
        self.ev(ch, "ChannelVarset", members({"variable": name, "value": value}))

    def dial_event(self, ch: Channel, status: str, dialstring: str) -> None:
        if ch.app is None:
            return
        body = members({"dialstatus": status, "forward": "", "dialstring": dialstring})
        self.emit(ch.app, "Dial", body + '"peer":' + ch.snapshot())

    def set_state(self, ch: Channel, state: str) -> None:
        if ch.state != state:
            ch.state = state
            ch.changed()
            self.ev(ch, "ChannelStateChange")
            self.lines.device_changed(ch.tech, ch.resource)

    # -- lookups -------------------------------------------------------------------
    def channel(self, channel_id: str) -> Channel:
        ch = self.channels.get(channel_id)
        if ch is None:
            raise channel_not_found()
        return ch

    def _new(self, tech: str, resource: str, kind: Literal["inbound", "outbound", "originate",
             "snoop"], channel_id: str | None = None) -> Channel:
        cid, n = self.next_id()
        if channel_id:
            if channel_id in self.channels:
                raise AriReply(409, "Channel with given unique ID already exists")
            cid = channel_id
        name = f"{tech}/{resource}-{n:08x}"
        ch = Channel(id=cid, name=name, tech=tech, resource=resource, kind=kind,
                     creationtime=self.timestamp())
        self.channels[cid] = ch
        return ch

    def enter_stasis(self, ch: Channel, app: str, args: list[str]) -> None:
        ch.app, ch.in_stasis, ch.phase = app, True, "stasis"
        ch.control = ControlQueue()
        self.ev(ch, "StasisStart", members({"args": args}))

    # -- the end of a channel ----------------------------------------------------------
    def hangup(self, ch: Channel, how: HangupKind, cause: int) -> None:
        """Hang `ch` up with the event sequence the traces show for `how`."""
        if not ch.alive or ch.phase == "hangup":
            return
        ch.phase = "hangup"
        ch.cancel_timers()
        up = ch.answered and ch.tech == "PJSIP"
        self._hangup_request(ch, how, up, cause)
        self._release_media(ch)
        for snoop in list(ch.snoops):
            self._snoop_end(snoop)
        if ch.kind == "originate" and not ch.in_stasis:
            status = {"busy": "BUSY", "timeout": "NOANSWER"}.get(how, "CANCEL")
            self.dial_event(ch, status, ch.resource)
        self._end_stasis(ch)
        if how == "app" and up:
            self._qos(ch)
        if how == "remote" and ch.kind == "inbound" and not ch.ever_bridged:
            cause = 0     # a caller gone before being bridged (caller_gone trace)
        extra: JsonDict = {"cause": cause, "cause_txt": CAUSE_TEXT.get(cause, "Unknown")}
        if how in ("busy", "timeout"):
            extra["tech_cause"] = 486 if how == "busy" else 480
        ch.app_name = ch.app_data = ""
        ch.changed()
        self.ev(ch, "ChannelDestroyed", members(extra))
        self._forget(ch, cause)

    def _hangup_request(self, ch: Channel, how: HangupKind, up: bool, cause: int) -> None:
        if how == "remote":
            if up:
                self._qos(ch)
            held = ch.bridge is not None and ch.bridge.bridge_type == "holding"
            if up and ((ch.kind != "inbound" and ch.ever_bridged) or held or ch.taken_out):
                # A dialled leg whose phone hangs up while in a bridge, or after it
                # left one, already carries its cause (acd_agent_hangs_up_first.jsonl;
                # control_blind_refer.jsonl, where the agent's leg had left the bridge
                # before its phone's BYE); a leg never bridged has none. A caller's
                # BYE says 16 too while it waits in a holding bridge
                # (control_caller_hangs_up_during_a_consult.jsonl), not in a mixing one,
                # unless it was taken out of a bridge before (a caller back from the
                # payment flow: record_pay_payment.jsonl).
                self.ev(ch, "ChannelHangupRequest", members({"cause": cause}))
            else:
                self.ev(ch, "ChannelHangupRequest")
        elif how == "busy":
            self.ev(ch, "ChannelHangupRequest", members({"cause": 17, "tech_cause": 486}))
        elif how == "media":  # chan_pjsip's RTP timeout: soft, AST_SOFTHANGUP_DEV (1)
            self.ev(ch, "ChannelHangupRequest", members({"cause": 1, "soft": True}))
        else:     # the app's DELETE, and a ring timeout, are soft hang-ups with cause 32
            self.ev(ch, "ChannelHangupRequest", members({"cause": 32, "soft": True}))

    def _end_stasis(self, ch: Channel) -> None:
        if not ch.in_stasis:
            return
        ch.in_stasis = False
        self.ev(ch, "StasisEnd")
        if not ch.subscribed:
            # Stasis was the app's only interest: it hears nothing more about the
            # channel (caller_hangs_up_during_prompt, tests/asterisk/traces/
            # acd_caller_abandons_in_queue.jsonl).
            ch.app = None
        if ch.kind != "snoop":
            self.varset(ch, "STASISSTATUS", "SUCCESS")
        if ch.kind == "inbound":
            # Back in the dialplan after Stasis(), which hangs up in its turn.
            self.ev(ch, "ChannelHangupRequest", members({"cause": 16, "soft": True}))

    def _qos(self, ch: Channel) -> None:
        for name in RTP_QOS:
            self.varset(ch, name, "ssrc=0;themssrc=0;lp=0;rxjitter=0.000000", noise=True)

    def _snoop_end(self, snoop: Channel) -> None:
        # When the spied-on channel goes, its snoop only says StasisEnd (snoop_record).
        if snoop.in_stasis:
            snoop.in_stasis = False
            self.ev(snoop, "StasisEnd")
        self.destroy_silently(snoop)

    def leave_stasis(self, ch: Channel, context: str | None, exten: str | None,
                     priority: int | None) -> None:
        """`continue`: back to the dialplan; the app hears StasisEnd and nothing more."""
        if not ch.alive or not ch.in_stasis:
            return
        if ch.bridge is not None:
            self.bridging.leave(ch, ch.bridge)
        ch.in_stasis = False
        self.ev(ch, "StasisEnd")
        if context:
            ch.context = context
        if exten:
            ch.exten = exten
        ch.priority = priority if priority is not None else ch.priority + 1
        ch.changed()
        if ch.control is not None:
            ch.control.close()
        self._to_dialplan(ch)

    def _to_dialplan(self, ch: Channel) -> None:
        ch.phase = "dialplan"
        ch.app = None
        self.later(ch, self.dialplan_linger, lambda: self.destroy_silently(ch))

    def destroy_silently(self, ch: Channel) -> None:
        if not ch.alive:
            return
        ch.cancel_timers()
        self._release_media(ch)
        self._forget(ch, 16)

    def _release_media(self, ch: Channel) -> None:
        """A channel going away: its prompts fail, its queue closes, it leaves its bridge."""
        if ch.control is not None:
            ch.control.closed = True      # the failing prompt must not start the next one
        self.media.channel_gone(ch)
        if ch.control is not None:
            ch.control.close()
        if ch.bridge is not None:
            self.bridging.leave(ch, ch.bridge)

    def _forget(self, ch: Channel, cause: int) -> None:
        ch.phase = "gone"
        ch.hangup_cause = cause
        ch.cancel_timers()
        if ch.snoop_of is not None and ch in ch.snoop_of.snoops:
            ch.snoop_of.snoops.remove(ch)
        self.channels.pop(ch.id, None)
        self.transfers.gone(ch)
        self.lines.device_changed(ch.tech, ch.resource)
