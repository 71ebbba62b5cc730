"""The simulated Asterisk: channels, their life in Stasis, and the phones behind them.

`World` holds every object and emits every event; `acd.sim.channel_life` (its
base) is a channel's life from creation to its end, this module the phones: the
callers who dial in and the agent side (create + dial, originate, snoop).
`acd.sim.media` (prompts, music, recordings) and `acd.sim.bridging` (bridges)
work on it. Event order follows the real-Asterisk traces in ../shared/ari/traces
(see acd/sim/README.md). Every delay runs on the shared `Clock` through
`call_later`, never a task.
"""

from __future__ import annotations

import functools
import itertools
import logging
import re
import uuid
from collections.abc import Callable

from acd.clock import Clock
from acd.sim.bridging import Bridging
from acd.sim.channel_life import ChannelLife, members
from acd.sim.errors import AriReply, allocation_failed
from acd.sim.hub import Hub
from acd.sim.lines import Lines
from acd.sim.media import Media
from acd.sim.model import Channel, Phone, kit_phone, local_target
from acd.sim.transfers import Transfers

logger = logging.getLogger(__name__)

DTMF_GAP = 0.3          # seconds between the digits of one key press burst
DTMF_MS = 280           # what SIPp's RFC 4733 digits measured in the traces


class World(ChannelLife):
    """The simulated Asterisk: what the ARI routes and the control API act on."""

    def __init__(self, clock: Clock, hub: Hub) -> None:
        super().__init__(clock, hub)
        self.endpoints: dict[tuple[str, str], Phone] = {}
        self.default_behaviour: Callable[[str, str], Phone | None] = kit_phone
        self.outbound_context = "agents"
        self._snoops = itertools.count(1)
        self._spread = itertools.count()  # the next of acd-0..N-1 a caller goes to
        self.calls_placed = 0
        self.stasis_failures = 0
        self.media = Media(self)
        self.bridging = Bridging(self)
        self.transfers = Transfers(self)
        self.lines = Lines(self)

    def phone(self, tech: str, resource: str) -> Phone | None:
        found = self.endpoints.get((tech, resource))
        if found is None and tech == "Local":  # its ;2 half dials what the dialplan says
            target = local_target(resource)
            return None if target is None else self.phone(*target)
        return found or self.default_behaviour(tech, resource)

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
