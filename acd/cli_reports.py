"""`acd report ...`, `acd staffing ...` and `acd demo history ...`.

The report commands read PostgreSQL directly (the configured `pg_dsn`); they do
not need a running acd.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg

from acd.reports import service
from acd.reports.settings import ReportSettings

T = TypeVar("T")
COMMANDS = ("report", "staffing", "demo")


def register(sub: Any) -> None:
    """Add the report, staffing and demo subcommands to `acd`'s parser."""
    rep = sub.add_parser("report", help="KPIs from PostgreSQL (queues, agents, intervals...)")
    rep.add_argument("kind", choices=service.KINDS)
    rep.add_argument("--from", dest="start", default=None,
                     help="YYYY-MM-DD (local day) or ISO date-time; default 6 days ago")
    rep.add_argument("--to", dest="end", default=None,
                     help="YYYY-MM-DD (included) or ISO date-time (excluded); default today")
    rep.add_argument("--queue", default=None)
    rep.add_argument("--agent", default=None)
    rep.add_argument("--interval", type=int, choices=(15, 30, 60), default=None)
    rep.add_argument("--by", choices=("interval", "day"), default=None,
                     help="agents report: one row per agent and interval or day")
    fmt = rep.add_mutually_exclusive_group()
    fmt.add_argument("--csv", action="store_true")
    fmt.add_argument("--json", action="store_true")
    rep.add_argument("--config", type=Path, default=None)
    st = sub.add_parser("staffing", help="agents needed (Erlang C, or A with --patience)")
    st.add_argument("--calls-per-hour", type=float, required=True)
    st.add_argument("--aht", type=float, required=True, help="average handle time, seconds")
    st.add_argument("--target", default="80/20", help="service level: percent/seconds")
    st.add_argument("--asa", type=float, default=None, help="target ASA, seconds")
    st.add_argument("--patience", type=float, default=None,
                    help="callers' mean patience, seconds (Erlang A)")
    st.add_argument("--shrinkage", type=float, default=0.0)
    st.add_argument("--json", action="store_true")
    demo = sub.add_parser("demo", help="demo data")
    demo_sub = demo.add_subparsers(dest="demo_cmd", required=True)
    hist = demo_sub.add_parser("history", help="fill PostgreSQL with a synthetic history")
    hist.add_argument("--days", type=int, default=28)
    hist.add_argument("--calls-per-day", type=float, default=2000.0)
    hist.add_argument("--seed", type=int, default=None)
    hist.add_argument("--config", type=Path, default=None)


def run(args: argparse.Namespace) -> int:
    """Run one of this module's commands."""
    if args.cmd == "staffing":
        out = service.staffing(args.calls_per_hour, args.aht, args.target, args.asa,
                               args.patience, args.shrinkage)
        if args.json:
            print(json.dumps(out, indent=2))
        else:
            _print_staffing(out)
        return 0
    if args.cmd == "report":
        return _db(args, _report)
    return _db(args, _history)


def _print_staffing(out: dict[str, Any]) -> None:
    asa = "unbounded" if out["asa_s"] is None else f"{out['asa_s']:.1f} s"
    lines = [
        f"model            {out['model'].replace('_', ' ')}",
        f"load             {out['load_erlangs']:.2f} erlangs",
        f"agents needed    {out['agents']}",
        f"service level    {out['service_level']:.1%} within {out['target'].split('/')[1]} s",
        f"ASA              {asa}",
        f"occupancy        {out['occupancy']:.1%}",
        f"P(wait)          {out['p_wait']:.1%}",
    ]
    if out["model"] == "erlang_a":
        lines.append(f"P(abandon)       {out['p_abandon']:.1%}")
    lines.append(f"to schedule      {out['scheduled']} (with shrinkage)")
    print("\n".join(lines))


def _db(args: argparse.Namespace, fn: Callable[[asyncpg.Connection, Any, argparse.Namespace],
                                               Awaitable[int]]) -> int:
    from acd.config import load_settings
    from acd.store.migrate import migrate

    settings = load_settings(getattr(args, "config", None))

    async def go() -> int:
        try:
            conn = await asyncpg.connect(settings.pg_dsn.get_secret_value(), timeout=10)
        except (OSError, asyncpg.PostgresError) as exc:
            print(f"acd: cannot reach PostgreSQL ({type(exc).__name__})", file=sys.stderr)
            return 2
        try:
            await migrate(conn)
            return await fn(conn, settings.reports, args)
        finally:
            await conn.close()

    return asyncio.run(go())


async def _report(conn: asyncpg.Connection, settings: ReportSettings,
                  args: argparse.Namespace) -> int:
    start, end = service.parse_range(args.start, args.end, settings,
                                     datetime.now(settings.zone()).date())
    rows = await service.report(conn, settings, args.kind, start, end, queue=args.queue,
                                agent=args.agent, minutes=args.interval, by=args.by)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    elif args.csv:
        sys.stdout.write(service.to_csv(rows))
    else:
        print(_table(rows))
    return 0


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if abs(v) < 1 else f"{v:.1f}"
    if isinstance(v, dict):
        return " ".join(f"{k}={_cell(x)}" for k, x in v.items())
    return str(v)


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no data in this range)"
    cols = list(rows[0])
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(x.ljust(w) for x, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


async def _history(conn: asyncpg.Connection, settings: ReportSettings,
                   args: argparse.Namespace) -> int:
    from acd.reports.history import generate
    from acd.reports.load import load_history

    if not 1 <= args.days <= 366 or not 0 < args.calls_per_day <= 200_000:
        print("acd demo history: --days 1..366, --calls-per-day up to 200000",
              file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else int(datetime.now(UTC).timestamp())
    today = datetime.now(settings.zone()).date()
    h = generate(args.days, today, settings.zone(), args.calls_per_day, seed)
    await load_history(conn, h)
    first = date.fromordinal(today.toordinal() - args.days)
    print(f"loaded {len(h.calls)} calls, {len(h.agent_states)} agent states, "
          f"{len(h.dispositions)} dispositions from {first} to the end of yesterday "
          f"({settings.timezone}); seed {seed}")
    return 0
