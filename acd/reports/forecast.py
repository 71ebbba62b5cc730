"""Forecast and staffing per interval: pure functions over report rows.

The forecast for a day is, for each local interval of the day, the mean of the
same interval on the same weekday over the last N weeks (a week with no calls in
that interval counts as 0 calls); its handle time is the mean handle time of the
calls answered then. Simple and explainable; a better method can replace it.
Agents needed come from Erlang C for the queue's target (service level within the
threshold, and ASA when set); agents to schedule add the shrinkage:
needed / (1 - shrinkage), rounded up.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from acd.reports.erlang import agents_needed
from acd.reports.kpi import QueueRules

DEFAULT_AHT_S = 180.0


def needed(offered: float, minutes: int, aht_s: float | None, rules: QueueRules,
           shrinkage: float) -> dict[str, Any]:
    """Agents needed (Erlang C) for `offered` calls in an interval of `minutes`."""
    per_hour = offered * 60 / minutes
    aht = aht_s if aht_s and aht_s > 0 else DEFAULT_AHT_S
    s = agents_needed(per_hour, aht, rules.target_sl, rules.sl_threshold_s,
                      rules.target_asa_s)
    return {"agents_needed": s.agents, "scheduled": math.ceil(s.agents / (1 - shrinkage)),
            "expected_sl": round(s.service_level, 4), "expected_occupancy":
            round(s.occupancy, 4)}


def with_staffing(rows: Iterable[dict[str, Any]], minutes: int,
                  rules: Mapping[str, QueueRules], shrinkage: float,
                  logged_in: Mapping[str, float]) -> list[dict[str, Any]]:
    """Interval rows with agents needed (from what was offered) and agents logged in."""
    out = []
    for r in rows:
        q = rules.get(r["queue"]) or rules.get("*") or QueueRules()
        extra = needed(r["offered"], minutes, r["aht_s"], q, shrinkage)
        out.append({**r, **extra, "agents_logged_in": round(logged_in.get(r["interval"], 0.0),
                                                             2)})
    return out


def history_range(day: date, weeks: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants from `weeks` weeks before `day` to the start of `day` (local)."""
    start = datetime.combine(day - timedelta(weeks=weeks), datetime.min.time(), tz)
    end = datetime.combine(day, datetime.min.time(), tz)
    return start, end


def forecast_day(rows: Iterable[dict[str, Any]], day: date, weeks: int, tz: ZoneInfo,
                 minutes: int, rules: Mapping[str, QueueRules], shrinkage: float
                 ) -> list[dict[str, Any]]:
    """Per queue and local interval of `day`: forecast calls, handle time and agents,
    from interval rows covering `history_range(day, weeks)`."""
    offered: dict[tuple[str, str], float] = defaultdict(float)
    handle: dict[tuple[str, str], float] = defaultdict(float)
    answered: dict[tuple[str, str], int] = defaultdict(int)
    for r in rows:
        local = datetime.fromisoformat(r["interval"]).astimezone(tz)
        if local.weekday() != day.weekday():
            continue
        key = (r["queue"], local.strftime("%H:%M"))
        offered[key] += r["offered"]
        if r["aht_s"] is not None:
            handle[key] += r["aht_s"] * r["answered"]
            answered[key] += r["answered"]
    out = []
    for (queue, hhmm) in sorted(offered):
        key = (queue, hhmm)
        h, m = (int(x) for x in hhmm.split(":"))
        start = datetime(day.year, day.month, day.day, h, m, tzinfo=tz)
        mean = offered[key] / weeks
        aht = handle[key] / answered[key] if answered[key] else None
        q = rules.get(queue) or rules.get("*") or QueueRules()
        out.append({"queue": queue, "interval": start.isoformat(), "time": hhmm,
                    "offered": round(mean, 2), "aht_s": None if aht is None else round(aht, 1),
                    **needed(mean, minutes, aht, q, shrinkage)})
    return out
