"""The simulated Asterisk: channels, their life in Stasis, and the phones behind them.

`World` holds every object and emits every event; `acd.sim.media` (prompts,
music, recordings) and `acd.sim.bridging` (bridges) work on it. Event order
follows the real-Asterisk traces in ../shared/ari/traces (see acd/sim/README.md).
Every delay runs on the shared `Clock` through `call_later`, never a task.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import uuid
from collections.abc import Callable
from typing import Literal

from acd.clock import Clock
from acd.sim.bridging import Bridging
from acd.sim.control import ControlQueue
from acd.sim.errors import AriReply, allocation_failed, channel_not_found
from acd.sim.hub import Hub
from acd.sim.lines import Lines
from acd.sim.media import Media
from acd.sim.model import (
    CAUSE_TEXT,
    Bridge,
    Channel,
    JsonDict,
    Phone,
    ari_time,
    dumps,
    kit_phone,
    local_target,
)
from acd.sim.transfers import Transfers

logger = logging.getLogger(__name__)

HangupKind = Literal["remote", "app", "busy", "timeout", "media"]
RTP_QOS = ("RTPAUDIOQOS", "RTPAUDIOQOSJITTER", "RTPAUDIOQOSLOSS", "RTPAUDIOQOSRTT",
           "RTPAUDIOQOSMES")
DTMF_GAP = 0.3          # seconds between the digits of one key press burst
DTMF_MS = 280           # what SIPp's RFC 4733 digits measured in the traces


def members(values: JsonDict) -> str:
    """JSON object members without braces, for splicing into an event."""
    return dumps(values)[1:-1] + ","


class World:
    def __init__(self, clock: Clock, hub: Hub) -> None:
        self.clock = clock
        self.hub = hub
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self.endpoints: dict[tuple[str, str], Phone] = {}
        self.default_behaviour: Callable[[str, str], Phone | None] = kit_phone
        self.outbound_context = "agents"
        self.dialplan_linger = 1.0    # seconds a channel stays in the dialplan after Stasis
        self.varset_noise = True      # BRIDGEPEER / RTPAUDIOQOS variables, like Asterisk
        self._ids = itertools.count(1)
        self._snoops = itertools.count(1)
        self._spread = itertools.count()  # the next of acd-0..N-1 a caller goes to
        self._ts_ms = -1
        self._ts = ""
        self.calls_placed = 0
        self.stasis_failures = 0
        self.media = Media(self)
        self.bridging = Bridging(self)
        self.transfers = Transfers(self)
        self.lines = Lines(self)

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

    def phone(self, tech: str, resource: str) -> Phone | None:
        found = self.endpoints.get((tech, resource))
        if found is None and tech == "Local":  # its ;2 half dials what the dialplan says
            target = local_target(resource)
            return None if target is None else self.phone(*target)
        return found or self.default_behaviour(tech, resource)

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

    # -- callers (the phones that dial in) -------------------------------------------
    def place_call(self, caller: str, exten: str, *, caller_name: str = "",
                   context: str = "from-pstn", app: str | None = None,
                   dtmf: list[tuple[float, str]] | tuple[()] = (),
                   hangup_after: float | None = None,
                   endpoint: str = "PJSIP/caller-trunk",
                   args: tuple[str, ...] = ()) -> str:
        self.calls_placed += 1
        app = app or self.default_app()
        # "Local/101@agents;1": one half of a Local channel the dialplan puts in the app
        # (named "Local/101@agents-0000000N;1" as Asterisk names it).
        where, _, half = endpoint.partition(";")
        tech, _, resource = where.partition("/")
        ch = self._new(tech, resource, "inbound")
        if half:
            ch.name = f"{ch.name};{half}"
        ch.state, ch.caller_number, ch.caller_name = "Ring", caller, caller_name
        ch.protocol_id = f"1-{ch.id.rpartition('.')[2]}@127.0.0.2"
        ch.context, ch.exten, ch.priority = context, exten, 2
        ch.app_name, ch.app_data = "Stasis", ",".join((app, *args))
        if not self.hub.connected(app):
            # Stasis() fails at once: "Stasis app 'acd' doesn't exist"; the dialplan
            # fallback runs and hangs up (README item 6).
            self.stasis_failures += 1
            logger.warning("Stasis app %r doesn't exist; call %s falls back to the dialplan",
                           app, ch.id)
            ch.variables["STASISSTATUS"] = "FAILED"
            self._to_dialplan(ch)
            return ch.id
        self.enter_stasis(ch, app, list(args))
        for at, digits in dtmf:
            self.later(ch, at, functools.partial(self.press, ch.id, digits))
        if hangup_after is not None:
            self.later(ch, hangup_after, lambda: self.remote_hangup(ch.id))
        return ch.id

    def default_app(self) -> str:
        """The dialplan's Stasis app: the only one with a client connected, else "acd".
        acd's phones app ("<app>-phones", events only) never takes calls. Callers spread
        over acd-0..N-1 (extensions.conf ACD_APPS) go to those in turn."""
        live = [name for name, a in self.hub.apps.items()
                if a.connections and not name.endswith("-phones")]
        if len(live) == 1:
            return live[0]
        spread = sorted(n for n in live if re.fullmatch(r"acd-\d+", n))
        if spread and len(spread) == len(live):
            return spread[next(self._spread) % len(spread)]
        return "acd"

    def press(self, channel_id: str, digits: str) -> None:
        """The phone on `channel_id` sends DTMF `digits` (one every DTMF_GAP seconds)."""
        ch = self.channel(channel_id)
        for i, digit in enumerate(digits):
            if i == 0:
                self._dtmf(ch, digit)
            else:
                self.later(ch, i * DTMF_GAP, functools.partial(self._dtmf, ch, digit))

    def _dtmf(self, ch: Channel, digit: str) -> None:
        self.media.hear_dtmf(ch, digit)
        if ch.in_stasis:
            self.ev(ch, "ChannelDtmfReceived", members({"digit": digit, "duration_ms": DTMF_MS}))

    def remote_hangup(self, channel_id: str, cause: int = 16) -> None:
        """The far end of `channel_id` hangs up."""
        ch = self.channel(channel_id)
        if not ch.in_stasis and ch.kind != "originate":
            self.destroy_silently(ch)
            return
        self.hangup(ch, "remote", cause)

    # -- the agent side: create + dial, originate, snoop --------------------------------
    def _reachable(self, endpoint: str) -> tuple[str, str, Phone]:
        tech, _, resource = endpoint.partition("/")
        phone = self.phone(tech, resource) if resource else None
        # An unregistered PJSIP endpoint has no contact to build the INVITE for, so
        # chan_pjsip refuses the channel request itself: the same 500 as no endpoint.
        if (phone is None or phone.behaviour == "unreachable"
                or not self.lines.online(tech, resource)):
            raise allocation_failed()
        if self.lines.line(tech, resource).dead:  # registered, but nobody answers
            phone = Phone("noanswer", ring=False)
        return tech, resource, phone

    def create(self, endpoint: str, app: str | None, app_args: str = "",
               channel_id: str | None = None, originator: str | None = None,
               variables: dict[str, str] | None = None) -> Channel:
        peer = self.channels.get(originator or "")
        if peer is not None and app:
            # res/ari/resource_channels.c subscribes the app to the originator before
            # it requests the channel (so even when that fails): the app then hears
            # the originator's hang-up and ChannelDestroyed after its StasisEnd.
            peer.subscribed += 1
        tech, resource, phone = self._reachable(endpoint)
        ch = self._new(tech, resource, "outbound", channel_id)
        if tech == "Local":  # acd holds its ;1 half: "Local/0555@agents-0000000c;1"
            ch.name = ch.name.replace("/n-", "-") + ";1"
        ch.phone = phone
        ch.subscribed = 1 if app else 0          # the app's own channel
        ch.protocol_id = str(uuid.uuid4())
        ch.context = self.outbound_context
        ch.variables.update(variables or {})
        if app:
            self.clock.call_later(0, lambda: self._created(ch, app, app_args, originator))
        return ch

    def _created(self, ch: Channel, app: str, app_args: str, originator: str | None) -> None:
        if not ch.alive:
            return
        if not self.hub.connected(app):
            # Nobody listens to the app: the create was answered 200, then the channel
            # is dropped at once, without a word; its phone never rings (real tier:
            # test_a_leg_created_while_no_client_listens_never_reaches_the_app).
            self.destroy_silently(ch)
            return
        data = f"{app},{app_args}" if app_args else app
        ch.app_name, ch.app_data, ch.app = "Stasis", data, app
        ch.changed()
        self.ev(ch, "ChannelDialplan", members({"dialplan_app": "Stasis",
                                                 "dialplan_app_data": data}))
        self.varset(ch, "STASISSTATUS", "")
        self.enter_stasis(ch, app, app_args.split(",") if app_args else [])
        peer = self.channels.get(originator or "")
        if peer is not None:
            self._connect_line(ch, peer)

    def _connect_line(self, ch: Channel, peer: Channel) -> None:
        ch.connected_name, ch.connected_number = peer.caller_name, peer.caller_number
        ch.changed()
        self.ev(ch, "ChannelConnectedLine")

    def dial(self, ch: Channel, caller: str | None, timeout: float) -> None:
        if ch.dialed or ch.kind != "outbound" or ch.phone is None:
            raise AriReply(409, "Channel is not in a state to be dialed")
        ch.dialed, ch.phase = True, "dialing"
        peer = self.channels.get(caller or "")
        if peer is not None and not ch.connected_number and not ch.connected_name:
            self._connect_line(ch, peer)
        self.dial_event(ch, "", ch.resource)
        self._ring(ch, ch.phone, timeout, "")

    def _ring(self, ch: Channel, phone: Phone, timeout: float, dialstring: str) -> None:
        if phone.behaviour == "busy":
            self.later(ch, 0, lambda: self.hangup(ch, "busy", 17))
            return
        if phone.ring:
            self.set_state(ch, "Ringing")
            self.dial_event(ch, "RINGING", dialstring)
        if phone.behaviour == "answer":
            self.later(ch, phone.answer_after, lambda: self._answered(ch, phone, dialstring))
        if timeout > 0:
            def ring_timeout() -> None:
                if ch.alive and not ch.answered:
                    self.hangup(ch, "timeout", 19)
            ch.dial_timer = self.clock.call_later(timeout, ring_timeout)

    def _answered(self, ch: Channel, phone: Phone, dialstring: str) -> None:
        if ch.answered:
            return
        ch.answered = True
        if ch.dial_timer is not None:
            ch.dial_timer.cancel()
            ch.dial_timer = None
        self.set_state(ch, "Up")
        self.dial_event(ch, "ANSWER", dialstring)
        self.lines.answered(ch)
        if ch.kind == "originate" and ch.app is None:
            self._to_dialplan(ch)      # originated to an extension, not to an app
        elif ch.kind == "originate" and ch.app is not None:
            self.varset(ch, "STASISSTATUS", "")
            self.enter_stasis(ch, ch.app, ch.args)
        else:
            ch.phase = "stasis"
        if phone.hangup_after is not None:
            self.later(ch, phone.hangup_after, lambda: self.hangup(ch, "remote", 16))

    def originate(self, endpoint: str, app: str | None, app_args: str, timeout: float,
                  caller_id: str, channel_id: str | None,
                  variables: dict[str, str] | None) -> Channel:
        tech, resource, phone = self._reachable(endpoint)
        ch = self._new(tech, resource, "originate", channel_id)
        ch.phone, ch.app, ch.protocol_id = phone, app or None, str(uuid.uuid4())
        ch.subscribed = 1 if app else 0
        m = re.fullmatch(r'\s*(?:"?([^"<]*?)"?\s*)?<([^>]*)>\s*', caller_id)
        name, number = (m.group(1) or "", m.group(2)) if m else ("", caller_id)
        ch.caller_name = ch.connected_name = name
        ch.caller_number = ch.connected_number = number
        ch.context, ch.app_name, ch.app_data = self.outbound_context, "AppDial2", "(Outgoing Line)"
        ch.variables.update(variables or {})
        ch.args = app_args.split(",") if app_args else []
        ch.dialed, ch.phase = True, "dialing"

        def start() -> None:
            self.dial_event(ch, "", resource)
            self._ring(ch, phone, timeout, resource)
        self.later(ch, 0, start)
        return ch

    def snoop(self, target: Channel, app: str, app_args: str, snoop_id: str | None) -> Channel:
        ch = self._new("Snoop", target.id, "snoop", snoop_id)
        ch.name = f"Snoop/{target.id}-{next(self._snoops):08x}"
        ch.state, ch.snoop_of, ch.answered = "Up", target, True
        target.snoops.append(ch)
        self.later(ch, 0, functools.partial(self.enter_stasis, ch, app,
                                            app_args.split(",") if app_args else []))
        return ch

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

    # -- the control side: phones and a look at everything ------------------------------
    def set_endpoint(self, tech: str, resource: str, behaviour: str, *,
                     answer_after: float = 0.5, hangup_after: float | None = None,
                     ring: bool = True) -> Phone:
        if behaviour not in ("answer", "busy", "noanswer", "unreachable"):
            raise ValueError(f"unknown phone behaviour {behaviour!r}")
        phone = Phone(behaviour, answer_after, hangup_after, ring)  # type: ignore[arg-type]
        self.endpoints[(tech, resource)] = phone
        return phone

    async def drop_websockets(self, app: str | None = None) -> int:
        """Close the events sockets (of `app`, or all): a network drop, as in ws_reconnect."""
        conns = {id(c): c for name, a in self.hub.apps.items() if app in (None, name)
                 for c in a.connections}
        for conn in conns.values():
            self.hub.detach(conn)
            await conn.close()
        return len(conns)
