"""Agents' states at start-up: restored, not assumed.

An agent Redis still holds keeps its live state (acd restarted, Redis did not).
One Redis does not hold (a fresh start, or Redis lost its data) gets its last
known state from PostgreSQL (the last agent_states row): logged in again, on
break with the same reason, or left logged out; with no row at all, logged out.
`login: true` in the configuration logs an agent in whatever it was.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import asyncpg

from acd.agents.service import AgentService
from acd.config import AgentSettings

logger = logging.getLogger(__name__)

LAST_STATES = """
SELECT DISTINCT ON (agent_id) agent_id, state, reason
FROM agent_states WHERE agent_id = ANY($1::text[])
ORDER BY agent_id, at DESC, event_id DESC
"""


async def last_states(dsn: str, agent_ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
    """Each agent's last recorded state and reason (agents without rows are absent)."""
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        rows = await conn.fetch(LAST_STATES, list(agent_ids))
    finally:
        await conn.close()
    return {r["agent_id"]: (r["state"], r["reason"]) for r in rows}


def restored(last: tuple[str, str | None] | None) -> tuple[bool, str | None]:
    """(log in?, break reason) for an agent whose last known state is `last`."""
    if last is None or last[0] == "logged_out":
        return False, None
    state, reason = last
    if state == "break":
        return True, reason or "break"
    return True, None  # available, or in a call acd no longer holds: available


async def restore_states(agents: AgentService, configured: Iterable[AgentSettings],
                         fresh: Iterable[str], dsn: str) -> None:
    configured = list(configured)
    fresh_ids = set(fresh)
    ask = [a.id for a in configured if a.login is None and a.id in fresh_ids]
    last: dict[str, tuple[str, str | None]] = {}
    if ask:
        try:
            last = await last_states(dsn, ask)
        except Exception as exc:
            logger.warning("agents: last states unreadable (%s); they start logged out", exc)
    for a in configured:
        try:
            if a.login:
                view = await agents.get(a.id)
                if view.state == "logged_out":
                    await agents.login(a.id)
            elif a.login is None and a.id in fresh_ids:
                login, reason = restored(last.get(a.id))
                if login:
                    await agents.login(a.id, reason)
                    logger.info("agent %s: restored to %s", a.id,
                                f"break ({reason})" if reason else "available")
        except Exception as exc:
            logger.warning("agent %s: start-up state not restored: %s", a.id, exc)
