"""Reports by SQL over the interval summaries (migrations 0005, 0007), through asyncpg.

The summaries hold additive counts per 15-minute UTC bucket; these queries add
them up over a range, per queue, per local interval or per local day, and compute
the KPIs (service level by policy, ASA, p90, AHT, occupancy...) in SQL, with the
definitions of acd/reports/kpi.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import asyncpg

from acd.reports.kpi import QueueRules, rules_for
from acd.reports.moves import COUNTED, By, MoveCounts, merge_agents, merge_queues

Group = Literal["queue", "interval", "day"]

_COUNTS = ("entered", "offered", "answered", "answered_within", "answer_wait_ms",
           "abandoned", "abandoned_within", "abandon_wait_ms", "short_abandons",
           "talk_ms", "hold_ms", "wrap_ms", "transfers", "callbacks", "callbacks_answered")


_TABLES = ("report_queue_intervals", "report_agent_time", "report_agent_calls")


def _grp(group: Group) -> str:
    # $3 = time zone, $4 = interval minutes. The interval's start is an instant: the
    # bucket minus its minutes into the local interval (a repeated DST hour stays apart).
    if group == "interval":
        return ("bucket - (((extract(hour FROM bucket AT TIME ZONE $3::text) * 60"
                " + extract(minute FROM bucket AT TIME ZONE $3::text))::int % $4::int)"
                " * interval '1 minute')")
    if group == "day":
        return "to_char(bucket AT TIME ZONE $3::text, 'YYYY-MM-DD') || left($4::int::text, 0)"
    return "left($3::text || $4::int::text, 0)"


def _map(group: Group) -> str:
    """A CTE `g(bucket, grp)`: each bucket of [$1, $2) and its group, so that the time
    zone arithmetic runs once per bucket, not once per summary row."""
    if group == "queue":
        return "g AS (SELECT $3::text AS tz, $4::int AS minutes)"
    # Only from the first to the last bucket holding data (a wide range stays cheap).
    first = " ".join(f"(SELECT min(bucket) FROM {t} WHERE bucket >= $1::timestamptz)," for t in
                     _TABLES)
    last = " ".join(f"(SELECT max(bucket) FROM {t} WHERE bucket < $2::timestamptz)," for t in
                    _TABLES)
    return f"""g AS MATERIALIZED (
    SELECT bucket, {_grp(group)} AS grp
    FROM generate_series(coalesce(least({first.rstrip(",")}), $2::timestamptz),
                         coalesce(greatest({last.rstrip(",")}),
                                  $2::timestamptz - interval '1 microsecond'),
                         interval '15 minutes') AS bucket
)"""


def _join(group: Group) -> str:
    # By queue (or agent) alone the group is '' for every bucket: no join at all.
    return "CROSS JOIN (SELECT ''::text AS grp) g" if group == "queue" \
        else "JOIN g USING (bucket)"


def _queue_sql(group: Group) -> str:
    sums = ",\n           ".join(f"sum({c})::bigint AS {c}" for c in _COUNTS)
    return f"""
WITH {_map(group)}, s AS (
    SELECT queue, grp,
           {sums},
           max(longest_wait_ms) AS longest_wait_ms
    FROM report_queue_intervals {_join(group)}
    WHERE bucket >= $1 AND bucket < $2 AND ($5::text IS NULL OR queue = $5)
    GROUP BY 1, 2
), w AS (
    SELECT queue, grp, wait_s, sum(n) AS n
    FROM report_queue_waits {_join(group)}
    WHERE bucket >= $1 AND bucket < $2 AND ($5::text IS NULL OR queue = $5)
    GROUP BY 1, 2, 3
), p AS (
    SELECT queue, grp, min(wait_s) FILTER (WHERE cum >= ceil(0.9 * tot)) AS p90
    FROM (SELECT queue, grp, wait_s,
                 sum(n) OVER (PARTITION BY queue, grp ORDER BY wait_s) AS cum,
                 sum(n) OVER (PARTITION BY queue, grp) AS tot
          FROM w WHERE n > 0) x
    GROUP BY 1, 2
), pol AS (
    SELECT queue, policy FROM unnest($6::text[], $7::text[]) AS t(queue, policy)
), s2 AS (
    SELECT s.*, coalesce((SELECT policy FROM pol WHERE pol.queue = s.queue),
                         (SELECT policy FROM pol WHERE pol.queue = '*'), 'lost') AS policy
    FROM s
)
SELECT s2.*, p.p90 AS asa_p90_s,
       CASE policy
           WHEN 'ignore' THEN answered_within::float8 / nullif(offered - abandoned, 0)
           WHEN 'good_within'
               THEN (answered_within + abandoned_within)::float8 / nullif(offered, 0)
           ELSE answered_within::float8 / nullif(offered, 0)
       END AS service_level,
       abandoned::float8 / nullif(offered, 0) AS abandon_rate,
       answer_wait_ms::float8 / nullif(answered, 0) / 1000 AS asa_s,
       (talk_ms + hold_ms + wrap_ms)::float8 / nullif(answered, 0) / 1000 AS aht_s,
       abandon_wait_ms::float8 / nullif(abandoned, 0) / 1000 AS avg_abandon_s
FROM s2 LEFT JOIN p ON p.queue = s2.queue AND p.grp = s2.grp
ORDER BY s2.grp, s2.queue
"""


def _policies(rules: Mapping[str, QueueRules]) -> tuple[list[str], list[str]]:
    names = sorted(rules)
    return names, [rules[n].abandon_policy for n in names]


def _queue_row(r: asyncpg.Record, rules: Mapping[str, QueueRules], group: Group,
               tz: str) -> dict[str, Any]:
    q = rules_for(rules, r["queue"])
    out: dict[str, Any] = {"queue": r["queue"]}
    if group == "interval":
        out["interval"] = r["grp"].isoformat()
    elif group == "day":
        out["day"] = r["grp"]
    out.update({
        "entered": r["entered"], "offered": r["offered"], "answered": r["answered"],
        "abandoned": r["abandoned"], "short_abandons": r["short_abandons"],
        "answered_within": r["answered_within"], "abandoned_within": r["abandoned_within"],
        "service_level": r["service_level"], "target_sl": q.target_sl,
        "sl_threshold_s": q.sl_threshold_s, "abandon_policy": r["policy"],
        "abandon_rate": r["abandon_rate"], "asa_s": r["asa_s"], "asa_p90_s": r["asa_p90_s"],
        "aht_s": r["aht_s"], "talk_s": r["talk_ms"] / 1000, "hold_s": r["hold_ms"] / 1000,
        "wrap_s": r["wrap_ms"] / 1000, "avg_abandon_s": r["avg_abandon_s"],
        "longest_wait_s": r["longest_wait_ms"] / 1000, "transfers": r["transfers"],
        "callbacks": r["callbacks"], "callbacks_answered": r["callbacks_answered"],
    })
    return out


async def queue_report(conn: asyncpg.Connection, start: datetime, end: datetime, tz: str,
                       rules: Mapping[str, QueueRules], *, group: Group = "queue",
                       minutes: int = 30, queue: str | None = None) -> list[dict[str, Any]]:
    """Queue KPIs over [start, end): one row per queue (and interval or day)."""
    names, policies = _policies(rules)
    rows = await conn.fetch(_queue_sql(group), start, end, tz, minutes, queue, names,
                            policies)
    out = [_queue_row(r, rules, group, tz) for r in rows]
    merge_queues(out, await move_report(conn, start, end, tz, by="queue", group=group,
                                        minutes=minutes))
    return out


def _agent_sql(group: Group) -> str:
    return f"""
WITH {_map(group)}, t AS (
    SELECT agent_id, grp, state, reason, sum(ms)::bigint AS ms
    FROM report_agent_time {_join(group)}
    WHERE bucket >= $1 AND bucket < $2 AND ($5::text IS NULL OR agent_id = $5)
    GROUP BY 1, 2, 3, 4 HAVING sum(ms) <> 0
), st AS (
    SELECT agent_id, grp, state, sum(ms)::bigint AS ms FROM t GROUP BY 1, 2, 3
), br AS (
    SELECT agent_id, grp, jsonb_object_agg(r, ms) AS breaks
    FROM (SELECT agent_id, grp, coalesce(nullif(reason, ''), '-') AS r, sum(ms) AS ms
          FROM t WHERE state = 'break' GROUP BY 1, 2, 3) x
    GROUP BY 1, 2
), a AS (
    SELECT agent_id, grp, sum(ms)::bigint AS logged_in,
           coalesce(sum(ms) FILTER (WHERE state = 'break'), 0)::bigint AS brk,
           coalesce(sum(ms) FILTER (WHERE state IN ('on_call', 'wrap_up')), 0)::bigint
               AS handle,
           jsonb_object_agg(state, ms) AS states
    FROM st GROUP BY 1, 2
), c AS (
    SELECT agent_id, grp, sum(answered)::bigint AS answered,
           sum(talk_ms)::bigint AS talk_ms
    FROM report_agent_calls {_join(group)}
    WHERE bucket >= $1 AND bucket < $2 AND ($5::text IS NULL OR agent_id = $5)
    GROUP BY 1, 2
)
SELECT coalesce(a.agent_id, c.agent_id) AS agent_id, coalesce(a.grp, c.grp) AS grp,
       coalesce(c.answered, 0) AS answered, coalesce(c.talk_ms, 0) AS talk_ms,
       coalesce(a.logged_in, 0) AS logged_in, coalesce(a.brk, 0) AS brk,
       coalesce(a.handle, 0) AS handle, a.states, br.breaks,
       a.handle::float8 / nullif(a.logged_in - a.brk, 0) AS occupancy,
       a.handle::float8 / nullif(a.logged_in, 0) AS utilisation
FROM a FULL JOIN c ON a.agent_id = c.agent_id AND a.grp = c.grp
LEFT JOIN br ON br.agent_id = a.agent_id AND br.grp = a.grp
ORDER BY 2, 1
"""


async def agent_report(conn: asyncpg.Connection, start: datetime, end: datetime, tz: str,
                       *, group: Group = "queue", minutes: int = 30,
                       agent: str | None = None) -> list[dict[str, Any]]:
    """Agent KPIs over [start, end): one row per agent (and interval or day)."""
    import json

    rows = await conn.fetch(_agent_sql(group), start, end, tz, minutes, agent)
    out = []
    for r in rows:
        row: dict[str, Any] = {"agent_id": r["agent_id"]}
        if group == "interval":
            row["interval"] = r["grp"].isoformat()
        elif group == "day":
            row["day"] = r["grp"]
        states = json.loads(r["states"]) if r["states"] else {}
        breaks = json.loads(r["breaks"]) if r["breaks"] else {}
        row.update({
            "answered": r["answered"], "talk_s": r["talk_ms"] / 1000,
            "logged_in_s": r["logged_in"] / 1000, "break_s": r["brk"] / 1000,
            "handle_s": r["handle"] / 1000, "occupancy": r["occupancy"],
            "utilisation": r["utilisation"],
            "states_s": {k: int(v) / 1000 for k, v in sorted(states.items())},
            "breaks_s": {k: int(v) / 1000 for k, v in sorted(breaks.items())},
        })
        out.append(row)
    merge_agents(out, await move_report(conn, start, end, tz, by="agent", group=group,
                                        minutes=minutes))
    return out


async def logged_in_by_interval(conn: asyncpg.Connection, start: datetime, end: datetime,
                                tz: str, minutes: int) -> dict[str, float]:
    """Average agents logged in (break excluded) per local interval, all queues."""
    rows = await conn.fetch(f"""
        WITH {_map("interval")}, b AS (
            SELECT bucket, sum(ms) FILTER (WHERE state <> 'break') AS ms
            FROM report_agent_time WHERE bucket >= $1 AND bucket < $2 GROUP BY 1
        )
        SELECT grp, sum(ms)::bigint AS ms FROM b JOIN g USING (bucket) GROUP BY 1""",
                            start, end, tz, minutes)
    return {r["grp"].isoformat(): (r["ms"] or 0) / (minutes * 60_000) for r in rows}


async def abandoned_calls(conn: asyncpg.Connection, start: datetime, end: datetime,
                          queue: str | None = None, limit: int = 10_000
                          ) -> list[dict[str, Any]]:
    """Every abandoned queue call, oldest first, with the caller's number (for call
    backs); `short` marks the ones under the queue's short-abandon threshold."""
    rows = await conn.fetch("""
        SELECT c.call_id, c.queue, c.caller_number, c.enqueued_at, c.ended_at, c.wait_ms,
               coalesce(c.wait_ms, 0) <= coalesce(s.short_abandon_ms, d.short_abandon_ms)
                   AS short
        FROM calls c
        LEFT JOIN report_queue_settings s ON s.queue = c.queue
        CROSS JOIN (SELECT short_abandon_ms FROM report_queue_settings
                    WHERE queue = '*') d
        WHERE c.enqueued_at >= $1 AND c.enqueued_at < $2
          AND c.started_at >= $1 - interval '1 day' AND c.started_at < $2
          AND c.queue IS NOT NULL AND c.outcome = 'abandoned' AND c.answered_at IS NULL
          AND c.callback_of IS NULL AND ($3::text IS NULL OR c.queue = $3)
        ORDER BY c.enqueued_at, c.call_id LIMIT $4""", start, end, queue, limit)
    return [{"call_id": r["call_id"], "queue": r["queue"], "caller": r["caller_number"],
             "enqueued_at": r["enqueued_at"].isoformat(),
             "ended_at": r["ended_at"].isoformat() if r["ended_at"] else None,
             "wait_s": (r["wait_ms"] or 0) / 1000, "short": r["short"]} for r in rows]


async def disposition_report(conn: asyncpg.Connection, start: datetime, end: datetime,
                             queue: str | None = None) -> list[dict[str, Any]]:
    """Dispositions counted per queue and code over [start, end)."""
    rows = await conn.fetch("""
        SELECT queue, code, sum(n)::bigint AS calls FROM report_dispositions
        WHERE bucket >= $1 AND bucket < $2 AND ($3::text IS NULL OR queue = $3)
        GROUP BY 1, 2 HAVING sum(n) <> 0 ORDER BY 1, 3 DESC, 2""", start, end, queue)
    return [dict(r) for r in rows]


async def sync_rules(conn: asyncpg.Connection, rules: Mapping[str, QueueRules]) -> bool:
    """Write the thresholds the triggers use; rebuild the summaries if they changed."""
    want = {q: (r.short_ms, r.sl_ms) for q, r in rules.items()}
    want.setdefault("*", (QueueRules().short_ms, QueueRules().sl_ms))
    have = {r["queue"]: (r["short_abandon_ms"], r["sl_threshold_ms"]) for r in
            await conn.fetch("SELECT * FROM report_queue_settings")}
    if have == want:
        return False
    async with conn.transaction():
        await conn.execute("LOCK TABLE report_queue_settings")
        await conn.execute("DELETE FROM report_queue_settings")
        await conn.executemany("INSERT INTO report_queue_settings VALUES ($1, $2, $3)",
                               [(q, s, t) for q, (s, t) in want.items()])
        await conn.execute("SELECT report_rebuild()")
    return True


# ---- transfers and holds from the queue events (#17, acd.reports.moves)


def _moves_sql(group: Group, by: By) -> str:
    key = "queue" if by == "queue" else "coalesce(agent_id, '')"
    counted = ", ".join(f"'{r}'" for r in COUNTED)
    return f"""
WITH {_map(group)}, h AS (
    SELECT q.call_id, q.queue, q.agent_id, q.event, q.at,
           lead(q.event) OVER w AS next_event, lead(q.at) OVER w AS next_at
    FROM queue_events q
    WHERE q.event IN ('hold', 'unhold') AND q.call_id IN (
        SELECT call_id FROM queue_events WHERE event = 'hold' AND at >= $1 AND at < $2)
    WINDOW w AS (PARTITION BY q.call_id ORDER BY q.at, q.event_id)
), m AS (
    SELECT queue, agent_id, report_bucket(at) AS bucket, 1 AS transfers,
           (detail->>'mode' = 'attended')::int AS attended, 0 AS holds, 0::bigint AS hold_ms
    FROM queue_events
    WHERE event = 'transfer' AND detail->>'result' IN ({counted}) AND at >= $1 AND at < $2
    UNION ALL
    SELECT h.queue, h.agent_id, report_bucket(h.at), 0, 0, 1,
           round(extract(epoch FROM CASE WHEN h.next_event = 'unhold' THEN h.next_at
                                         ELSE coalesce(c.ended_at, h.at) END - h.at)
                 * 1000)::bigint
    FROM h LEFT JOIN calls c ON c.call_id = h.call_id
    WHERE h.event = 'hold' AND h.at >= $1 AND h.at < $2
)
SELECT {key} AS key, grp, sum(transfers)::bigint AS transfers,
       sum(attended)::bigint AS attended, sum(holds)::bigint AS holds,
       sum(hold_ms)::bigint AS hold_ms
FROM m {_join(group)}
GROUP BY 1, 2
"""


async def move_report(conn: asyncpg.Connection, start: datetime, end: datetime, tz: str, *,
                      by: By, group: Group = "queue", minutes: int = 30
                      ) -> dict[tuple[str, str], MoveCounts]:
    """Transfers and holds over [start, end) from the queue events, keyed as
    acd.reports.moves.move_counts (whose docstring defines them)."""
    out: dict[tuple[str, str], MoveCounts] = {}
    for r in await conn.fetch(_moves_sql(group, by), start, end, tz, minutes):
        grp = r["grp"]
        key = grp.isoformat() if isinstance(grp, datetime) else grp
        out[(r["key"], key)] = MoveCounts(r["transfers"], r["attended"], r["holds"],
                                          r["hold_ms"])
    return out
