"""Reports over one million calls: each report's time on a synthetic month.

A scratch database gets 28 days of synthetic traffic (`acd.reports.history`,
about 1,000,000 calls, their agent states and dispositions) by COPY, with the
summary triggers off; the summaries are then built by `report_rebuild()`. Each
report is timed over the whole month (median of 5 runs). Separately, 20,000 calls
and their states are inserted through the triggers, as the row writer does, to
show what keeping the summaries up to date costs per row.
"""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from acd.reports import service
from acd.reports.history import by_day, chunks, generate
from acd.reports.settings import ReportSettings
from acd.store.migrate import migrate

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TZ = "Europe/Paris"
END = date(2026, 11, 30)
REPORTS = ("queues", "days", "intervals", "agents", "abandoned", "dispositions")


async def _timed(fn: Any, runs: int = 5) -> tuple[float, int]:
    times, n = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        rows = await fn()
        times.append(time.perf_counter() - t0)
        n = len(rows)
    return statistics.median(times), n


async def run(calls: int = 1_000_000, days: int = 28, keep: str | None = None,
              load_only: bool = False) -> dict[str, Any]:
    """Load, rebuild, time the reports. `keep` names a database to keep afterwards
    (for EXPLAIN); `load_only` stops after the rebuild."""
    name = keep or f"acd_bench_reports_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"
    tz = ZoneInfo(TZ)
    out: dict[str, Any] = {"calls_asked": calls, "days": days, "timezone": TZ}
    try:
        conn = await asyncpg.connect(dsn)
        await migrate(conn)
        t0 = time.perf_counter()
        n_calls = n_states = 0
        gen_s = 0.0
        days_iter = by_day(days, END, tz, calls / days, seed=1, full=False)
        while True:
            g0 = time.perf_counter()
            part = next(days_iter, None)
            gen_s += time.perf_counter() - g0
            if part is None:
                break
            n_calls += len(part.calls)
            n_states += len(part.agent_states)
            async with conn.transaction():
                await conn.execute("SET LOCAL session_replication_role = replica")
                for table, records, columns in chunks(part):
                    await conn.copy_records_to_table(table, records=records,
                                                     columns=columns)
        out["load_s"] = round(time.perf_counter() - t0, 1)
        out["generate_s"] = round(gen_s, 1)
        out["calls"], out["agent_states"] = n_calls, n_states
        t0 = time.perf_counter()
        await conn.execute("SELECT report_rebuild()")
        out["rebuild_s"] = round(time.perf_counter() - t0, 1)
        out["summary_rows"] = await conn.fetchval(
            "SELECT (SELECT count(*) FROM report_queue_intervals)"
            " + (SELECT count(*) FROM report_queue_waits)"
            " + (SELECT count(*) FROM report_agent_time)"
            " + (SELECT count(*) FROM report_agent_calls)")
        if load_only:
            return out
        settings = ReportSettings(timezone=TZ, interval_minutes=30)
        start = datetime.combine(END - timedelta(days=days), datetime.min.time(), tz)
        end = datetime.combine(END, datetime.min.time(), tz)
        timings: dict[str, dict[str, float | int]] = {}
        for kind in REPORTS:
            def call(kind: str = kind) -> Any:
                return service.report(conn, settings, kind, start, end)
            secs, rows = await _timed(call)
            timings[kind] = {"seconds": round(secs, 4), "rows": rows}
        secs, rows = await _timed(lambda: service.forecast_for(conn, settings, END))
        timings["forecast (4 weeks)"] = {"seconds": round(secs, 4), "rows": rows}
        secs, rows = await _timed(lambda: service.report(conn, settings, "queues", start,
                                                         end, queue="sales"))
        timings["queues, one queue"] = {"seconds": round(secs, 4), "rows": rows}
        out["reports"] = timings
        out["through_triggers"] = await _triggers(conn, tz)
        await conn.close()
        return out
    finally:
        if keep is None:
            admin = await asyncpg.connect(ADMIN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


async def _triggers(conn: asyncpg.Connection, tz: ZoneInfo) -> dict[str, Any]:
    """20,000 more calls inserted through the triggers, in writer-sized batches."""
    h = generate(1, END + timedelta(days=1), tz, 20_000, seed=2, full=False)
    calls = [c.record() for c in h.calls]
    states = [s.record() for s in h.agent_states]
    out: dict[str, Any] = {"calls": len(calls), "agent_states": len(states)}
    for label, table, rows, cols in (("calls", "calls", calls, h.calls[0].COLUMNS),
                                     ("agent_states", "agent_states", states,
                                      h.agent_states[0].COLUMNS)):
        t0 = time.perf_counter()
        for i in range(0, len(rows), 500):
            await conn.copy_records_to_table(table, records=rows[i:i + 500], columns=cols)
        secs = time.perf_counter() - t0
        out[f"{label}_rows_per_s"] = round(len(rows) / secs)
    return out


def table_rows(res: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rows for `python -m bench`'s summary table."""
    out = [(f"reports: load {res['calls']:,} calls, {res['agent_states']:,} states",
            f"COPY {res['load_s']} s (generating {res['generate_s']} s), "
            f"rebuild {res['rebuild_s']} s", "-", "-")]
    for kind, r in res["reports"].items():
        out.append((f"  report {kind} over 28 days", f"{r['seconds'] * 1000:.0f} ms "
                    f"({r['rows']} rows)", "< 1 s", "yes" if r["seconds"] < 1 else "NO"))
    t = res["through_triggers"]
    out.append(("  rows through the summary triggers",
                f"calls {t['calls_rows_per_s']:,}/s, agent states "
                f"{t['agent_states_rows_per_s']:,}/s", "-", "-"))
    return out
