"""`python -m bench [routing] [scale] [fullpath] [fullpath2] [waiting] [writer] [reports]
[live] [profile]`: run the benchmarks.

No argument runs all but profile (about 20 minutes);
`profile`
runs one full-path step under pyinstrument. Results go to bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import sys
import time
import traceback
from typing import Any

from bench import fullpath, fullpath2, live, reports, routing, scale, writer
from bench.common import save

SECTIONS = ("routing", "scale", "fullpath", "fullpath2", "waiting", "writer", "reports",
            "live", "profile")
DEFAULT = ("routing", "scale", "fullpath", "fullpath2", "waiting", "writer", "reports",
           "live")


def _waiting() -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=fullpath.waiting_child, args=(out,))
    proc.start()
    result: dict[str, Any] = out.get(True, 900)
    proc.join(30)
    return result


def _table(rows: list[tuple[str, str, str, str]]) -> str:
    head = ("benchmark", "measured", "target", "ok")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(c.ljust(w) for c, w in zip(head, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def _ok(flag: bool) -> str:
    return "yes" if flag else "NO"


Row = tuple[str, str, str, str]


def _scale_rows(res: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for r in res["runs"]:
        d = r["enqueue_to_offer"]
        rows.append((f"scale: {r['agents']} agents / {r['skills']} skills, "
                     f"{r['waiting']} waiting, 100 calls/s",
                     f"p50 {d['p50_ms']:.2f} / p99 {d['p99_ms']:.2f} ms; "
                     f"{r['cpu_ms_per_call']:.2f} CPU ms, "
                     f"{r['scripts_per_call']:.2f} scripts per call",
                     "p99 <= 5 ms", _ok(d["p99_ms"] <= 5 and r["unoffered"] == 0)))
    return rows


def _waiting_rows(res: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    if res.get("error"):
        rows.append(("waiting calls", f"section failed: {res['error']}", "-", "NO"))
    for step in res["steps"]:
        if "error" in step:
            rows.append((f"waiting calls ({step['level']})",
                         f"stopped: {step['error'][:60]}", "0 errors", "NO"))
            continue
        rows.append((f"waiting calls ({step['waiting']}), announced every 30 s",
                     f"{step['rss_per_waiting_call_kib']:.1f} KiB RSS, "
                     f"{step['cpu_ms_per_waiting_call_per_min']:.2f} CPU ms, "
                     f"{step['redis_commands_per_waiting_call_per_min']:.2f} Redis "
                     f"cmds per call per min; {step['faults_logged']} faults",
                     "<= 20 KB, 0 errors",
                     _ok(step["rss_per_waiting_call_kib"] * 1024 <= 20_000
                         and step["faults_logged"] == 0)))
    return rows


def _section(section: str) -> tuple[dict[str, Any], list[Row]]:
    """Run one section; its results and its rows of the final table."""
    rows: list[Row] = []
    if section == "routing":
        res = asyncio.run(routing.run())
        for r in res["runs"]:
            d = r["enqueue_to_offer"]
            rows.append((f"routing, {r['processes']} proc, 100 calls/s, 1,000 agents",
                         f"p50 {d['p50_ms']:.2f} / p99 {d['p99_ms']:.2f} / max "
                         f"{d['max_ms']:.1f} ms, {r['matches_per_s']} matches/s",
                         "p99 <= 5 ms", _ok(d["p99_ms"] <= 5 and r["unoffered"] == 0)))
    elif section == "scale":
        res = asyncio.run(scale.run())
        rows += _scale_rows(res)
    elif section == "fullpath":
        res = asyncio.run(fullpath.run())
        last = next((s for s in reversed(res["steps"]) if s.get("held")),
                    res["steps"][0] if res["steps"] else {})
        rows.append(("full path, new calls/s held", f"{res['highest_rate_held']:.0f}/s",
                     ">= 300/s, lag p99 < 20 ms, 0 failed",
                     _ok(res["highest_rate_held"] >= 300)))
        if last:
            rows.append((f"  per call at {last['rate_per_s']:.0f}/s",
                         f"{last['cpu_ms_per_call']:.2f} CPU ms, "
                         f"{last['redis_commands_per_call']:.0f} Redis cmds, "
                         f"{last['pg_rows_per_call']:.1f} PG rows, "
                         f"{last['ari_requests_per_call']:.1f} ARI reqs", "-", "-"))
    elif section == "fullpath2":
        res = asyncio.run(fullpath2.run())
        rows.append(("full path, 2 acd nodes, new calls/s held",
                     f"{res['highest_rate_held']:.0f}/s", ">= 300/s, lag p99 < 20 ms, "
                     "0 failed", _ok(res["highest_rate_held"] >= 300)))
    elif section == "waiting":
        res = _waiting()
        rows += _waiting_rows(res)
    elif section == "writer":
        res = asyncio.run(writer.run())
        rows.append(("writer", f"{res['rows_per_s']} rows/s, {res['rows_lost']} lost",
                     ">= 20,000 rows/s, 0 lost",
                     _ok(res["rows_per_s"] >= 20_000 and res["rows_lost"] == 0)))
    elif section == "reports":
        res = asyncio.run(reports.run())
        rows += reports.table_rows(res)
    elif section == "live":
        res = asyncio.run(live.run())
        d = res["event_to_last_client_ms"]
        rows.append((f"live snapshot, {res['clients']} SSE clients, "
                     f"{res['calls_per_s']:.0f} calls/s",
                     f"event -> last client p50 {d['p50']:.0f} / p99 {d['p99']:.0f} ms; "
                     f"acd CPU {res['acd_cpu_share_with_clients']:.0%} "
                     f"(without clients {res['acd_cpu_share_without_clients']:.0%})",
                     "p99 <= 1000 ms", _ok(d["p99"] <= 1000)))
    else:
        res = asyncio.run(fullpath.profile())
        rows.append(("profile (full path 50/s)", res["report"], "-", "-"))
    return res, rows


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("sections", nargs="*", metavar="section",
                   help=f"any of {', '.join(SECTIONS)} (default: {' '.join(DEFAULT)})")
    args = p.parse_args(argv)
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        p.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    rows: list[tuple[str, str, str, str]] = []
    t0 = time.perf_counter()
    for section in args.sections or DEFAULT:
        print(f"== {section}", flush=True)
        try:
            res, new_rows = _section(section)
        except Exception as exc:  # one section failing must not stop the others
            traceback.print_exc()
            rows.append((section, f"section failed: {type(exc).__name__}: {exc}"[:100],
                         "-", "NO"))
            continue
        rows += new_rows
        path = save(section, res)
        print(f"   saved {path}", flush=True)
    print()
    print(_table(rows))
    print(f"\n{time.perf_counter() - t0:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
