"""Today's figures from the call rows (simple SQL; the reports build the full KPIs),
and the time an agent spent in each state (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

QUEUES_TODAY = """
SELECT c.queue,
       count(*) AS offered,
       count(*) FILTER (WHERE c.outcome = 'answered') AS answered,
       count(*) FILTER (WHERE c.outcome = 'abandoned') AS abandoned,
       count(*) FILTER (WHERE c.outcome = 'answered' AND c.wait_ms <= t.sl * 1000)
           AS within_sl,
       avg(c.wait_ms) FILTER (WHERE c.outcome = 'answered') AS asa_ms,
       avg(c.talk_ms) FILTER (WHERE c.outcome = 'answered') AS aht_ms
FROM calls c
JOIN unnest($1::text[], $2::float8[]) AS t(q, sl) ON t.q = c.queue
WHERE c.started_at >= date_trunc('day', now())
GROUP BY c.queue
"""

AGENTS_TODAY = """
SELECT agent_id, count(*) AS calls, avg(talk_ms) AS aht_ms
FROM calls
WHERE started_at >= date_trunc('day', now()) AND agent_id IS NOT NULL
      AND outcome = 'answered'
GROUP BY agent_id
"""


def _round(v: Any, digits: int = 1) -> float | None:
    return None if v is None else round(float(v), digits)


async def queues_today(pool: asyncpg.Pool, sl_seconds: dict[str, float]
                       ) -> dict[str, dict[str, Any]]:
    """Per queue: offered, answered, abandoned, service level (%), ASA and AHT (s)."""
    names = sorted(sl_seconds)
    rows = await pool.fetch(QUEUES_TODAY, names, [sl_seconds[n] for n in names])
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        handled = r["answered"] + r["abandoned"]
        out[r["queue"]] = {
            "offered": r["offered"], "answered": r["answered"], "abandoned": r["abandoned"],
            "service_level": _round(100.0 * r["within_sl"] / handled) if handled else None,
            "asa_s": _round(r["asa_ms"] / 1000 if r["asa_ms"] is not None else None),
            "aht_s": _round(r["aht_ms"] / 1000 if r["aht_ms"] is not None else None),
        }
    return out


async def agents_today(pool: asyncpg.Pool) -> dict[str, dict[str, Any]]:
    rows = await pool.fetch(AGENTS_TODAY)
    return {r["agent_id"]: {"calls": r["calls"],
                            "aht_s": _round(r["aht_ms"] / 1000 if r["aht_ms"] else None)}
            for r in rows}


def time_in_states(changes: Sequence[tuple[datetime, str]], start: datetime,
                   now: datetime, first_state: str = "logged_out") -> dict[str, float]:
    """Seconds spent in each state between `start` and `now`, from the state
    changes (at, new state) in time order; before the first, `first_state`."""
    spent: dict[str, float] = {}
    state, since = first_state, start
    for at, new in changes:
        at = min(max(at, start), now)
        spent[state] = spent.get(state, 0.0) + (at - since).total_seconds()
        state, since = new, at
    spent[state] = spent.get(state, 0.0) + max(0.0, (now - since).total_seconds())
    return {k: round(v, 1) for k, v in spent.items() if v > 0}


async def agent_today(pool: asyncpg.Pool, agent_id: str) -> dict[str, Any]:
    """An agent's own figures today: calls, average handle time, time per state."""
    row = await pool.fetchrow(
        "SELECT count(*) AS calls, avg(talk_ms) AS aht_ms FROM calls WHERE agent_id=$1 "
        "AND outcome='answered' AND started_at >= date_trunc('day', now())", agent_id)
    bounds = await pool.fetchrow("SELECT date_trunc('day', now()) AS start, now() AS now")
    before = await pool.fetchval(
        "SELECT state FROM agent_states WHERE agent_id=$1 AND at < $2 ORDER BY at DESC "
        "LIMIT 1", agent_id, bounds["start"])
    rows = await pool.fetch(
        "SELECT at, state FROM agent_states WHERE agent_id=$1 AND at >= $2 ORDER BY at",
        agent_id, bounds["start"])
    return {
        "calls": row["calls"],
        "aht_s": _round(row["aht_ms"] / 1000 if row["aht_ms"] is not None else None),
        "time_in_state_s": time_in_states([(r["at"], r["state"]) for r in rows],
                                          bounds["start"], bounds["now"],
                                          before or "logged_out"),
    }
