"""The agents' phones as Asterisk reports them: subscribe, reconcile, follow the events.

The phones have an ARI application of their own (`phones_app`: "<app>-phones"),
with its own events WebSocket: a real Asterisk's endpoint subscription also
forwards every event of the endpoint's channels, which the calls' application
must not receive twice. Its event filter lets only the four phone events through.
After every (re)connect of that WebSocket, `sync()` subscribes it to
`endpoint:<agent endpoint>` and `deviceState:<agent endpoint>` for every agent
(POST /applications/{app}/subscription) and reconciles each agent's phone from
GET /endpoints (state online/offline, and channels on it while the agent is on
none of ours). Then `handle()` folds ContactStatusChange, PeerStatusChange,
EndpointStateChange and DeviceStateChanged into the agent's phone
(acd.agents.phone) and stores it with the agent in Redis (AgentService.phone_set),
with the agent event the agent's phone policy asks for. This room talks; the
rules are in acd.agents.phone.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from acd.agents.model import AgentView
from acd.agents.phone import (
    Action,
    Phone,
    Policy,
    after_change,
    on_contact_status,
    on_device_state,
    on_endpoint_state,
    on_peer_status,
    without_own_calls,
)
from acd.agents.service import AgentService, phone_of
from acd.ari.client import AriClient
from acd.ari.errors import AriError
from acd.ari.events import Event
from acd.errors import NotFound

logger = logging.getLogger(__name__)

PHONE_EVENTS: frozenset[str] = frozenset({
    "ContactStatusChange", "PeerStatusChange", "EndpointStateChange", "DeviceStateChanged"})
SOURCES_PER_REQUEST = 40  # event sources per subscription request (bounded URL)
# States in which channels on the agent's endpoint may be acd's own (GET /endpoints).
OURS = frozenset({"reserved", "ringing", "on_call", "wrap_up"})
MAX_NAME = 200  # longest endpoint or device name taken from an event


def phones_app(app: str) -> str:
    """The ARI application the phones' events come on, beside the calls' `app`."""
    return f"{app}-phones"


class PhoneWatcher:
    """Keeps each agent's phone in Redis as Asterisk reports it."""

    def __init__(self, ari: AriClient, agents: AgentService, *, app: str,
                 endpoints: Mapping[str, str], policies: Mapping[str, Policy]) -> None:
        self.ari = ari
        self.agents = agents
        self.app = app
        self.policies = dict(policies)
        self.by_endpoint: dict[str, list[str]] = {}
        for agent_id, endpoint in endpoints.items():
            self.by_endpoint.setdefault(endpoint, []).append(agent_id)
        self.events_handled = 0
        self.subscribed: set[str] = set()

    # ------------------------------------------------------------ start-up

    async def sync(self) -> None:
        """Subscribe and reconcile (start-up, and after every reconnect). Never raises:
        without Asterisk's word the phones stay as they were (unknown counts as usable)."""
        try:
            await self._subscribe()
            await self.reconcile()
        except Exception as exc:
            logger.warning("phones: could not subscribe or reconcile (%s); agents' phones "
                           "keep their last known state", exc)

    async def _subscribe(self) -> None:
        await self.ari.set_event_filter([{"type": t} for t in sorted(PHONE_EVENTS)], None,
                                        app=self.app)
        sources = [f"{kind}:{ep}" for ep in sorted(self.by_endpoint)
                   if ep.count("/") == 1 for kind in ("endpoint", "deviceState")]
        for i in range(0, len(sources), SOURCES_PER_REQUEST):
            chunk = sources[i:i + SOURCES_PER_REQUEST]
            try:
                await self._post(chunk)
            except AriError as exc:
                if exc.status != 422:
                    raise
                # One endpoint Asterisk does not know: subscribe the others one by one.
                for source in chunk:
                    try:
                        await self._post([source])
                    except AriError as one:
                        if one.status != 422:
                            raise
                        logger.warning("phones: Asterisk has no %s; that agent's phone "
                                       "stays unknown", source)

    async def _post(self, sources: list[str]) -> None:
        await self.ari.request("POST", f"/applications/{quote(self.app, safe='')}/subscription",
                               params={"eventSource": ",".join(sources)})
        self.subscribed.update(sources)

    async def reconcile(self) -> int:
        """Each agent's phone from GET /endpoints; returns how many agents it covered."""
        seen = 0
        for ep in await self.ari.list_endpoints():
            name = f"{ep.technology}/{ep.resource}"
            for agent_id in self.by_endpoint.get(name, ()):
                try:
                    view = await self.agents.get(agent_id)
                except NotFound:
                    continue  # configured, not (yet) in Redis
                before = _phone(view)
                after = on_endpoint_state(before, ep.state)
                if ep.state == "offline":
                    after = Phone(after.reg, "unavailable")
                elif ep.state == "online":
                    busy = bool(ep.channel_ids) and view.state not in OURS
                    after = Phone(after.reg, "in_use" if busy else "idle")
                await self._store(agent_id, before, after, view.state, view.reason or "")
                seen += 1
        return seen

    # ------------------------------------------------------------- events

    async def handle(self, event: Event) -> None:
        """One endpoint or device event (any other is ignored)."""
        if event.type not in PHONE_EVENTS:
            return
        name, fold = self._parse(event.raw)
        if name is None:
            return
        self.events_handled += 1
        for agent_id in self.by_endpoint.get(name, ()):
            try:
                rec = await self.agents.get(agent_id)
            except Exception:
                logger.exception("phones: agent %s unreadable; %s ignored", agent_id, event.type)
                continue
            before = _phone(rec)
            await self._store(agent_id, before, fold(before), rec.state, rec.reason or "")

    @staticmethod
    def _parse(raw: Mapping[str, Any]) -> tuple[str | None, Any]:
        """The endpoint / device name an event is about, and how it changes a phone."""
        kind = raw.get("type")
        if kind == "DeviceStateChanged":
            ds = raw.get("device_state")
            if not isinstance(ds, dict):
                return None, None
            name, state = ds.get("name"), ds.get("state")
            if not isinstance(name, str) or not isinstance(state, str) or len(name) > MAX_NAME:
                return None, None
            return name, lambda p: on_device_state(p, state)
        ep = raw.get("endpoint")
        if not isinstance(ep, dict):
            return None, None
        tech, resource = ep.get("technology"), ep.get("resource")
        if not isinstance(tech, str) or not isinstance(resource, str):
            return None, None
        name = f"{tech}/{resource}"
        if len(name) > MAX_NAME:
            return None, None
        if kind == "EndpointStateChange":
            state = str(ep.get("state") or "")
            return name, lambda p: on_endpoint_state(p, state)
        if kind == "PeerStatusChange":
            peer = raw.get("peer")
            status = str(peer.get("peer_status") or "") if isinstance(peer, dict) else ""
            return name, lambda p: on_peer_status(p, status)
        if kind == "ContactStatusChange":
            info = raw.get("contact_info")
            status = str(info.get("contact_status") or "") if isinstance(info, dict) else ""
            return name, lambda p: on_contact_status(p, status)
        return None, None

    async def _store(self, agent_id: str, before: Phone, after: Phone, state: str,
                     reason: str) -> None:
        after = without_own_calls(after, state)
        action: Action = after_change(before, after, state, reason,
                                      self.policies.get(agent_id, "available"))
        if after == before and action is None:
            return
        view = await self.agents.phone_set(agent_id, after, action)
        if view is not None and (after != before or action):
            logger.info("agent %s: phone %s (%s/%s)%s", agent_id, view.phone, after.reg,
                        after.dev, f"; {action}" if action else "")



def _phone(view: AgentView) -> Phone:
    return phone_of({"preg": view.phone_registration, "pdev": view.phone_device})
