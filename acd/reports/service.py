"""The reports as the CLI and the REST API ask for them: ranges, rules, staffing."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal

import asyncpg

from acd.errors import InvalidRequest
from acd.reports import forecast, sql
from acd.reports.erlang import agents_needed, erlang_a, staffing_c
from acd.reports.settings import ReportSettings

Kind = Literal["queues", "agents", "intervals", "days", "abandoned", "dispositions"]
KINDS: tuple[str, ...] = ("queues", "agents", "intervals", "days", "abandoned",
                          "dispositions")
MAX_DAYS = 400


def bad_request(error_id: str, message: str, **details: Any) -> InvalidRequest:
    """A 400 with its own error_id (bad_date, bad_range, bad_target...)."""
    err = InvalidRequest(message, **details)
    err.error_id = error_id
    return err


def _when(text: str, tz: Any, field: str, end: bool) -> datetime:
    """A date (a whole local day; `--to` includes it) or an ISO date-time."""
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            if end:
                d += timedelta(days=1)
            return datetime.combine(d, datetime.min.time(), tz)
        t = datetime.fromisoformat(text)
        return t if t.tzinfo is not None else t.replace(tzinfo=tz)
    except ValueError as exc:
        raise bad_request("bad_date", f"{field}: {text[:40]!r} is not a date (YYYY-MM-DD) or an "
                   "ISO date-time", field=field, got=text[:40]) from exc


def parse_range(start: str | None, end: str | None, settings: ReportSettings,
                today: date) -> tuple[datetime, datetime]:
    """[from, to) as instants; defaults: the last 7 local days up to today included."""
    tz = settings.zone()
    s = _when(start or (today - timedelta(days=6)).isoformat(), tz, "from", False)
    e = _when(end or today.isoformat(), tz, "to", True)
    if e <= s:
        raise bad_request("bad_range", "'to' must come after 'from'", start=s.isoformat(),
                   end=e.isoformat())
    if e - s > timedelta(days=MAX_DAYS):
        raise bad_request("range_too_long", f"a report covers at most {MAX_DAYS} days")
    return s, e


def parse_target(text: str) -> tuple[float, float]:
    """'80/20' -> (0.8, 20.0): service level % within seconds."""
    try:
        pct, secs = text.split("/")
        sl, t = float(pct) / 100, float(secs)
    except ValueError as exc:
        raise bad_request("bad_target", f"target {text[:40]!r} is not like 80/20 "
                   "(percent/seconds)") from exc
    if not (0 < sl < 1 and 0 <= t <= 3600):
        raise bad_request("bad_target", "target: percent in (0, 100), seconds in [0, 3600]")
    return sl, t


async def _quick(conn: asyncpg.Connection) -> None:
    # Summary queries run in milliseconds: compiling them (JIT) would cost more, and
    # a month of agent buckets hashes in memory with a little more work_mem.
    await conn.execute("SET LOCAL jit = off")
    await conn.execute("SET LOCAL work_mem = '64MB'")


async def report(conn: asyncpg.Connection, settings: ReportSettings, kind: str,
                 start: datetime, end: datetime, *, queue: str | None = None,
                 agent: str | None = None, minutes: int | None = None,
                 by: str | None = None) -> list[dict[str, Any]]:
    """One report's rows. `by` ('interval' or 'day') splits the agents report."""
    async with conn.transaction():
        await _quick(conn)
        return await _report(conn, settings, kind, start, end, queue, agent, minutes, by)


async def _report(conn: asyncpg.Connection, settings: ReportSettings, kind: str,
                  start: datetime, end: datetime, queue: str | None, agent: str | None,
                  minutes: int | None, by: str | None) -> list[dict[str, Any]]:
    tz, rules = settings.timezone, settings.rules()
    minutes = minutes or settings.interval_minutes
    if minutes not in (15, 30, 60):
        raise bad_request("bad_interval", "interval must be 15, 30 or 60 minutes", got=minutes)
    await sql.sync_rules(conn, rules)
    if kind == "queues":
        return await sql.queue_report(conn, start, end, tz, rules, queue=queue)
    if kind == "days":
        return await sql.queue_report(conn, start, end, tz, rules, group="day", queue=queue)
    if kind == "intervals":
        rows = await sql.queue_report(conn, start, end, tz, rules, group="interval",
                                      minutes=minutes, queue=queue)
        logged = await sql.logged_in_by_interval(conn, start, end, tz, minutes)
        return forecast.with_staffing(rows, minutes, rules, settings.shrinkage, logged)
    if kind == "agents":
        if by not in (None, "", "interval", "day"):
            raise bad_request("bad_group", "by must be 'interval' or 'day'", got=str(by)[:20])
        group: sql.Group = "interval" if by == "interval" else "day" if by == "day" \
            else "queue"
        return await sql.agent_report(conn, start, end, tz, group=group, minutes=minutes,
                                      agent=agent)
    if kind == "abandoned":
        return await sql.abandoned_calls(conn, start, end, queue)
    if kind == "dispositions":
        return await sql.disposition_report(conn, start, end, queue)
    raise bad_request("unknown_report", f"unknown report {kind[:40]!r}; one of {', '.join(KINDS)}")


async def forecast_for(conn: asyncpg.Connection, settings: ReportSettings, day: date,
                       queue: str | None = None, weeks: int | None = None
                       ) -> list[dict[str, Any]]:
    """Forecast calls and agents per interval of `day` (same weekday, last N weeks)."""
    weeks = weeks or settings.forecast_weeks
    tz, minutes, rules = settings.zone(), settings.interval_minutes, settings.rules()
    start, end = forecast.history_range(day, weeks, tz)
    async with conn.transaction():
        await _quick(conn)
        await sql.sync_rules(conn, rules)
        rows = await sql.queue_report(conn, start, end, settings.timezone, rules,
                                      group="interval", minutes=minutes, queue=queue)
    return forecast.forecast_day(rows, day, weeks, tz, minutes, rules, settings.shrinkage)


async def staffing_now(conn: asyncpg.Connection, settings: ReportSettings, now: datetime,
                       queue: str | None = None) -> list[dict[str, Any]]:
    """Agents needed now, per queue: from the forecast of the current interval, and from
    the calls offered in the last hour. The wallboard adds the agents available."""
    tz, minutes = settings.zone(), settings.interval_minutes
    local = now.astimezone(tz)
    fc = await forecast_for(conn, settings, local.date(), queue)
    into = (local.hour * 60 + local.minute) % minutes
    current = (now - timedelta(minutes=into, seconds=local.second,
                               microseconds=local.microsecond)).astimezone(tz)
    hour = await sql.queue_report(conn, now - timedelta(hours=1), now, settings.timezone,
                                  settings.rules(), queue=queue)
    out: dict[str, dict[str, Any]] = {}
    for r in fc:
        if datetime.fromisoformat(r["interval"]) == current:
            out[r["queue"]] = {"queue": r["queue"], "interval": r["interval"],
                               "forecast_offered": r["offered"],
                               "forecast_agents_needed": r["agents_needed"]}
    for r in hour:
        q = settings.rules().get(r["queue"]) or settings.rules()["*"]
        n = forecast.needed(r["offered"], 60, r["aht_s"], q, settings.shrinkage)
        out.setdefault(r["queue"], {"queue": r["queue"], "interval": current.isoformat()})
        out[r["queue"]].update({"last_hour_offered": r["offered"],
                                "last_hour_agents_needed": n["agents_needed"]})
    return [out[q] for q in sorted(out)]


def staffing(calls_per_hour: float, aht_s: float, target: str, asa_s: float | None = None,
             patience_s: float | None = None, shrinkage: float = 0.0) -> dict[str, Any]:
    """`acd staffing`: agents needed for a volume, handle time and target."""
    sl, t = parse_target(target)
    if not (0 <= calls_per_hour <= 1e6 and 0 < aht_s <= 86_400 and 0 <= shrinkage < 1):
        raise bad_request("bad_staffing", "calls per hour in [0, 1e6], handle time in (0, 86400] "
                   "s, shrinkage in [0, 1)")
    if patience_s is not None and not 0 < patience_s <= 86_400:
        raise bad_request("bad_staffing", "patience in (0, 86400] s")
    try:
        s = agents_needed(calls_per_hour, aht_s, sl, t, asa_s, patience_s)
    except ValueError as exc:
        raise bad_request("bad_staffing", str(exc)) from exc
    out: dict[str, Any] = {"model": "erlang_a" if patience_s else "erlang_c",
                           "calls_per_hour": calls_per_hour, "aht_s": aht_s,
                           "target": target, **s.as_dict()}
    out["scheduled"] = math.ceil(s.agents / (1 - shrinkage)) if s.agents else 0
    if patience_s is None and s.agents > 0:
        below = staffing_c(calls_per_hour, aht_s, s.agents - 1, t)
        out["with_one_less"] = below.as_dict()
    elif patience_s is not None and s.agents > 0:
        out["with_one_less"] = erlang_a(calls_per_hour, aht_s, s.agents - 1, t,
                                        patience_s).as_dict()
    return out


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                out[f"{k}.{kk}"] = vv
        else:
            out[k] = v
    return out


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """Rows as CSV (nested figures as `states_s.on_call` columns)."""
    flat = [_flat(r) for r in rows]
    cols: list[str] = []
    for r in flat:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in flat:
        w.writerow({k: "" if v is None else v for k, v in r.items()})
    return buf.getvalue()
