"""The simulated phones' registrations and health, and what Asterisk tells apps of them.

A `Line` is the phone behind one endpoint as a registrar sees it: registered or
not, reachable (qualify) or not, busy on calls acd did not place, dead (no media,
no answers). Apps subscribed with `POST /applications/{app}/subscription` to
`endpoint:<tech>[/<resource>]` hear ContactStatusChange, PeerStatusChange and
EndpointStateChange; those subscribed to `deviceState:<tech>/<resource>` hear
DeviceStateChanged, computed like chan_pjsip's device state (UNAVAILABLE when
offline, else RINGING / INUSE / RINGINUSE / NOT_INUSE from the channels on it).

A dead phone keeps its registration (a real phone registers for an hour); the
endpoint's `qualify` seconds later the registrar marks it Unreachable, and its
calls end after `rtp_timeout` seconds without media (cause 44, as chan_pjsip's
RTP timeout), when those are set (None: never, Asterisk's defaults).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from acd.sim.errors import AriReply
from acd.sim.model import JsonDict, dumps

if TYPE_CHECKING:
    from acd.sim.core import World
    from acd.sim.model import Channel

RTP_TIMEOUT_CAUSE = 44  # AST_CAUSE_REQUESTED_CHAN_UNAVAIL, set by the RTP timeout


@dataclass(slots=True)
class Line:
    registered: bool = True
    reachable: bool = True
    other_calls: int = 0       # calls the phone is on that acd did not place
    dead: bool = False
    rtp_timeout: float | None = None
    qualify: float | None = None
    device: str = ""           # the device state last told

    @property
    def online(self) -> bool:
        return self.registered and self.reachable

    def as_json(self) -> JsonDict:
        return {"registered": self.registered, "reachable": self.reachable,
                "other_calls": self.other_calls, "dead": self.dead,
                "rtp_timeout": self.rtp_timeout, "qualify": self.qualify}


class Lines:
    def __init__(self, world: World) -> None:
        self.world = world
        self.lines: dict[tuple[str, str], Line] = {}
        self.subscriptions: dict[str, set[str]] = {}  # app -> event sources

    def line(self, tech: str, resource: str) -> Line:
        key = (tech, resource)
        found = self.lines.get(key)
        if found is None:
            found = self.lines[key] = Line()
        return found

    def online(self, tech: str, resource: str) -> bool:
        found = self.lines.get((tech, resource))
        return found is None or found.online

    # -- subscriptions ---------------------------------------------------------
    def subscribe(self, app: str, sources: list[str]) -> None:
        for source in sources:
            self._check(source)
        self.subscriptions.setdefault(app, set()).update(sources)
        for source in sources:  # Asterisk says nothing on subscribing; state is read by GET
            if source.startswith("deviceState:"):
                tech, _, resource = source.removeprefix("deviceState:").partition("/")
                self.line(tech, resource).device = self.device_state(tech, resource)

    def unsubscribe(self, app: str, sources: list[str]) -> None:
        held = self.subscriptions.get(app, set())
        for source in sources:
            self._check(source)
            if source not in held:
                raise AriReply(409, "Application not subscribed to event source")
        held.difference_update(sources)

    def _check(self, source: str) -> None:
        scheme, _, rest = source.partition(":")
        if scheme not in ("endpoint", "deviceState", "channel", "bridge") or not rest:
            raise AriReply(400, "Invalid event source URI scheme")
        if scheme == "endpoint":
            tech, _, resource = rest.partition("/")
            if tech != "PJSIP" or (resource and self.world.phone(tech, resource) is None):
                raise AriReply(422, "Event source does not exist")
        elif scheme == "channel" and rest not in self.world.channels:
            raise AriReply(422, "Event source does not exist")
        elif scheme == "bridge" and rest not in self.world.bridges:
            raise AriReply(422, "Event source does not exist")

    def endpoint_ids(self, app: str) -> list[str]:
        return sorted(s.removeprefix("endpoint:") for s in self.subscriptions.get(app, ())
                      if s.startswith("endpoint:"))

    def device_names(self, app: str) -> list[str]:
        return sorted(s.removeprefix("deviceState:") for s in self.subscriptions.get(app, ())
                      if s.startswith("deviceState:"))

    def _apps(self, *sources: str) -> list[str]:
        return [app for app, held in self.subscriptions.items() if held.intersection(sources)]

    # -- what the phones do ------------------------------------------------------
    def set_registered(self, tech: str, resource: str, registered: bool) -> Line:
        line = self.line(tech, resource)
        if registered:
            was = line.online
            line.registered, line.reachable, line.dead = True, True, False
            if not was:
                self._endpoint_events(tech, resource, "NonQualified")
        elif line.registered:
            line.registered = False
            self._endpoint_events(tech, resource, "Removed")
        return line

    def set_reachable(self, tech: str, resource: str, reachable: bool) -> Line:
        line = self.line(tech, resource)
        if line.registered and line.reachable != reachable:
            line.reachable = reachable
            self._endpoint_events(tech, resource, "Reachable" if reachable else "Unreachable")
        return line

    def other_call(self, tech: str, resource: str, delta: int) -> Line:
        line = self.line(tech, resource)
        line.other_calls = max(0, line.other_calls + delta)
        self.device_changed(tech, resource)
        return line

    def die(self, tech: str, resource: str) -> Line:
        """The phone dies: no answers, no media; Asterisk notices only as configured."""
        line = self.line(tech, resource)
        line.dead = True
        for ch in list(self.world.channels.values()):
            if ch.tech == tech and ch.resource == resource and ch.answered:
                self._media_timeout(ch, line)
        if line.qualify is not None:
            def unreachable() -> None:
                if line.dead:
                    self.set_reachable(tech, resource, False)
            self.world.clock.call_later(line.qualify, unreachable)
        return line

    def _media_timeout(self, ch: Channel, line: Line) -> None:
        if line.rtp_timeout is not None:
            self.world.later(ch, line.rtp_timeout,
                             lambda: self.world.hangup(ch, "media", RTP_TIMEOUT_CAUSE))

    def answered(self, ch: Channel) -> None:
        """A call answered on a dead phone (it answered before dying) has no media."""
        line = self.lines.get((ch.tech, ch.resource))
        if line is not None and line.dead:
            self._media_timeout(ch, line)

    # -- events -----------------------------------------------------------------
    def endpoint_json(self, tech: str, resource: str) -> JsonDict:
        ids = [c.id for c in self.world.channels.values()
               if c.tech == tech and c.resource == resource]
        return {"technology": tech, "resource": resource,
                "state": "online" if self.online(tech, resource) else "offline",
                "channel_ids": ids}

    def _endpoint_events(self, tech: str, resource: str, contact_status: str) -> None:
        """What res_pjsip publishes when a contact comes, goes, or fails its qualify.
    (Every change of the endpoint's channels also sends an EndpointStateChange on
    a real Asterisk; the simulator sends it only for registration changes.)"""
        apps = self._apps(f"endpoint:{tech}", f"endpoint:{tech}/{resource}")
        endpoint = self.endpoint_json(tech, resource)
        online = endpoint["state"] == "online"
        contact = {"uri": f"sip:{resource}@127.0.0.1:5070", "contact_status": contact_status,
                   "aor": resource}
        if contact_status == "Reachable":
            contact["roundtrip_usec"] = "1000"
        peer = {"peer_status": "Reachable" if online else "Unreachable"}
        # The order a real Asterisk 22 sends them in (tests/asterisk/test_phones.py):
        # endpoint, peer, contact, device when a contact comes; endpoint, peer,
        # device, contact when it goes.
        for app in apps:
            self._send(app, "EndpointStateChange", {"endpoint": endpoint})
            self._send(app, "PeerStatusChange", {"endpoint": endpoint, "peer": peer})
            if online:
                self._send(app, "ContactStatusChange",
                           {"endpoint": endpoint, "contact_info": contact})
        self.device_changed(tech, resource)
        if not online:
            for app in apps:
                self._send(app, "ContactStatusChange",
                           {"endpoint": endpoint, "contact_info": contact})

    def device_state(self, tech: str, resource: str) -> str:
        if not self.online(tech, resource):
            return "UNAVAILABLE"
        line = self.lines.get((tech, resource))
        in_use = line is not None and line.other_calls > 0
        ringing = False
        for ch in self.world.channels.values():
            if ch.tech == tech and ch.resource == resource and ch.alive:
                if ch.state == "Ringing":
                    ringing = True
                elif ch.state != "Down":
                    in_use = True
        if ringing:
            return "RINGINUSE" if in_use else "RINGING"
        return "INUSE" if in_use else "NOT_INUSE"

    def device_changed(self, tech: str, resource: str) -> None:
        """Tell the apps watching this device its state, when it changed."""
        name = f"{tech}/{resource}"
        apps = self._apps(f"deviceState:{name}")
        if not apps:
            return
        line = self.line(tech, resource)
        state = self.device_state(tech, resource)
        if state == line.device:
            return
        line.device = state
        for app in apps:
            self._send(app, "DeviceStateChanged",
                       {"device_state": {"name": name, "state": state}})

    def _send(self, app_name: str, event_type: str, body: JsonDict) -> None:
        app = self.world.hub.wants(app_name, event_type)
        if app is not None:
            self.world.hub.send(app, event_type, self.world.timestamp(), dumps(body)[1:-1])
