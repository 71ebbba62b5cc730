"""Agents on Redis: definitions, login/logout/available/break, live views.

State lives in the `{P}:agents` hash (see acd.routing.keys); every change goes
through a Lua script running the same state machine as acd.agents.machine, and
is emitted to `on_change` (the lead logs them to PostgreSQL).
"""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from acd.agents.machine import conflict_message
from acd.agents.model import AgentDef, AgentStateChange, AgentView
from acd.agents.phone import DEVICES, REGISTRATIONS, Action, Phone, offerable, state_of
from acd.clock import Clock
from acd.errors import Conflict, NotFound
from acd.routing.client import RedisClient
from acd.routing.keys import Keys, Layout
from acd.routing.model import RoutingSettings
from acd.routing.scripts import Scripts, as_list

__all__ = ["AgentService", "AgentStateChange", "AgentView", "view_of"]

logger = logging.getLogger(__name__)

OnChange = Callable[[AgentStateChange], object]
AvailableHook = Callable[[str], Awaitable[None]]
# An agent whose offer was lost with Redis's data pauses this long when restored.
RESTORED_WRAPUP_MS = 2000


def phone_of(rec: dict[str, Any]) -> Phone:
    """The phone stored on an agent record (unknown when acd never heard of it)."""
    reg, dev = rec.get("preg") or "unknown", rec.get("pdev") or "unknown"
    return Phone(reg if reg in REGISTRATIONS else "unknown",
                 dev if dev in DEVICES else "unknown")


def view_of(rec: dict[str, Any]) -> AgentView:
    """An AgentView from a stored agent record."""
    phone = phone_of(rec)
    return AgentView(
        phone=state_of(phone), phone_registration=phone.reg, phone_device=phone.dev,
        id=rec["id"], name=rec.get("name") or "", endpoint=rec.get("endpoint") or "",
        state=rec["state"], reason=rec.get("reason") or None, since_ms=int(rec.get("since", 0)),
        missed_in_row=int(rec.get("missed", 0)), current_call=rec.get("call") or None,
        skills=rec.get("skills") or {}, calls_answered=int(rec.get("calls", 0)),
        talk_ms=int(rec.get("talk", 0)),
    )


class AgentService:
    """Agents' definitions and states in Redis."""

    def __init__(self, redis: RedisClient, *, prefix: str, clock: Clock,
                 agents: list[AgentDef], on_change: OnChange | None = None,
                 settings: RoutingSettings | None = None) -> None:
        self.redis = redis
        self.keys = Keys(prefix)
        self.clock = clock
        self.defs = {a.id: a for a in agents}
        self.on_change = on_change
        self.settings = settings or RoutingSettings()
        self.scripts = Scripts(redis, Layout.build(self.keys, (), self.skills()), self.settings)
        # Set by the Router: an agent who became available looks for a waiting call.
        self.on_available: AvailableHook | None = None
        # The last state (and reason) seen of each agent: what is restored should
        # Redis lose its data (see `restore`).
        self.known: dict[str, tuple[str, str]] = {}

    def skills(self) -> set[str]:
        return {s for a in self.defs.values() for s in a.skills}

    async def sync_definitions(self) -> builtins.list[str]:
        """Write the configured agents into Redis; live states are kept. Returns the
        agents Redis did not hold (new, or Redis lost them): they start logged out."""
        res = await self.scripts.run("sync_agents", self.clock.ms(), self._defs_json())
        logger.info("agents synced: %d new, %d updated", res["created"], res["updated"])
        await self.list()  # what `known` starts from
        return [str(x) for x in as_list(res.get("new"))]

    def _defs_json(self) -> str:
        return json.dumps([a.model_dump(include={"id", "name", "endpoint", "skills", "order"})
                           for a in self.defs.values()])

    async def restore(self, connected: Mapping[str, tuple[str, str, str]],
                      on_call_ms: int) -> int:
        """Redis lost its data: write the definitions again, each missing agent in
        the state last seen. `connected` (agent -> call, reservation, queue) are the
        calls this node holds: their agents are on call again, renewed as before.
        An agent last seen on a call this node does not hold stays on call until
        `on_call_ms` (its owner cannot renew it: it is then freed as orphaned);
        one whose offer was lost has a short wrap-up; nobody gets two calls.
        Returns how many agents were restored to a state."""
        now = self.clock.ms()
        states: dict[str, dict[str, Any]] = {}
        for agent_id, (state, reason) in self.known.items():
            if agent_id not in self.defs or state == "logged_out":
                continue
            if agent_id in connected:
                call, reservation, queue = connected[agent_id]
                states[agent_id] = {"state": "on_call", "call": call, "res": reservation,
                                    "queue": queue, "dl": now + on_call_ms}
            elif state == "on_call":
                states[agent_id] = {"state": "on_call", "dl": now + on_call_ms}
            elif state in ("reserved", "ringing", "wrap_up"):
                states[agent_id] = {"state": "wrap_up", "dl": now + RESTORED_WRAPUP_MS}
            else:
                states[agent_id] = {"state": state, "reason": reason}
        res = await self.scripts.run("sync_agents", now, self._defs_json(), json.dumps(states))
        await self.list()
        return int(res.get("restored", 0))

    async def login(self, agent_id: str, reason: str | None = None) -> AgentView:
        """Log in: available, or on break with `reason` when one is given."""
        return await self._command(agent_id, {"ev": "login", "reason": reason or ""})

    async def logout(self, agent_id: str) -> AgentView:
        return await self._command(agent_id, {"ev": "logout"})

    async def available(self, agent_id: str) -> AgentView:
        return await self._command(agent_id, {"ev": "available"})

    async def set_break(self, agent_id: str, reason: str) -> AgentView:
        return await self._command(agent_id, {"ev": "break", "reason": reason})

    async def phone_set(self, agent_id: str, phone: Phone, action: Action) -> AgentView | None:
        """Store what Asterisk says of the agent's phone and apply `action` (the
        phone policy's agent event); a freed agent with a usable phone is matched.
        None for an agent Redis does not hold."""
        res = await self.scripts.run("phone_set", self.clock.ms(), agent_id, phone.reg,
                                     phone.dev, action or "")
        if res.get("missing"):
            return None
        self.emit(res["changes"], res["now"])
        rec = res["agent"]
        before = Phone(*res["was"])
        freed = bool(res["changes"]) or not offerable(before, False)
        if (freed and rec["state"] == "available" and offerable(phone, False)
                and self.on_available is not None):
            await self.on_available(agent_id)
        return view_of(rec)

    async def get(self, agent_id: str) -> AgentView:
        raw = await self.redis.hget(self.keys.agents, agent_id)
        if raw is None:
            raise NotFound(f"no agent {agent_id!r}", agent_id=agent_id)
        return self._seen(view_of(json.loads(raw)))

    async def list(self) -> builtins.list[AgentView]:
        raw: dict[Any, Any] = await self.redis.hgetall(self.keys.agents)
        return sorted((self._seen(view_of(json.loads(v))) for v in raw.values()),
                      key=lambda v: v.id)

    async def refresh_known(self) -> int:
        """Read every agent's state into `known` (what a Redis that lost its data
        is restored from), without building views: cheap enough for every few
        ticks with thousands of agents. Returns how many agents Redis holds."""
        raw: dict[Any, Any] = await self.redis.hgetall(self.keys.agents)
        for text in raw.values():
            rec = json.loads(text)
            self.known[str(rec["id"])] = (str(rec["state"]), str(rec.get("reason") or ""))
        return len(raw)

    def _seen(self, view: AgentView) -> AgentView:
        self.known[view.id] = (view.state, view.reason or "")
        return view

    async def apply(self, agent_id: str, event: dict[str, Any]) -> dict[str, Any]:
        """Run one machine event through Lua (commands, and the table tests)."""
        res = await self.scripts.run("agent_event", self.clock.ms(), agent_id,
                                     json.dumps(event))
        self.emit(res["changes"], res["now"])
        return res

    def emit(self, changes: Iterable[Sequence[Any]], at_ms: int) -> None:
        """Hand the state changes a script returned to `on_change`."""
        changes = list(changes)
        for agent_id, _previous, state, reason in changes:
            self.known[str(agent_id)] = (str(state), str(reason or ""))
        if self.on_change is None:
            return
        for agent_id, previous, state, reason in changes:
            try:
                self.on_change(AgentStateChange(agent_id, previous, state, reason or None,
                                                at_ms))
            except Exception:
                logger.exception("agent %s: on_change callback failed", agent_id)

    async def _command(self, agent_id: str, event: dict[str, Any]) -> AgentView:
        res = await self.apply(agent_id, event)
        if res.get("missing"):
            raise NotFound(f"no agent {agent_id!r}; is it in the configuration?",
                           agent_id=agent_id)
        rec = res["agent"]
        if res.get("err"):
            code = str(res["err"])
            raise Conflict(conflict_message(code, agent_id, rec["state"]),
                           agent_id=agent_id, state=rec["state"], code=code)
        if res["changes"] and rec["state"] == "available" and self.on_available is not None:
            await self.on_available(agent_id)
        return self._seen(view_of(rec))
