"""`python -m bench [routing] [fullpath] [waiting] [writer] [reports] [live] [profile]`:
run the benchmarks.

No argument runs routing, fullpath, waiting, writer, reports and live (about 14 minutes);
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
from typing import Any

from bench import fullpath, live, reports, routing, writer
from bench.common import save

SECTIONS = ("routing", "fullpath", "waiting", "writer", "reports", "live", "profile")
DEFAULT = ("routing", "fullpath", "waiting", "writer", "reports", "live")


def _waiting() -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=fullpath.waiting_child, args=(out,))
    proc.start()
    result: dict[str, Any] = out.get(True, 240)
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
        if section == "routing":
            res = asyncio.run(routing.run())
            for r in res["runs"]:
                d = r["enqueue_to_offer"]
                rows.append((f"routing, {r['processes']} proc, 100 calls/s, 1,000 agents",
                             f"p50 {d['p50_ms']:.2f} / p99 {d['p99_ms']:.2f} / max "
                             f"{d['max_ms']:.1f} ms, {r['matches_per_s']} matches/s",
                             "p99 <= 5 ms", _ok(d["p99_ms"] <= 5 and r["unoffered"] == 0)))
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
        elif section == "waiting":
            res = _waiting()
            rows.append((f"waiting calls ({res['waiting']})",
                         f"{res['rss_per_waiting_call_kib']:.1f} KiB RSS per call",
                         "<= 20 KB", _ok(res["rss_per_waiting_call_kib"] * 1024 <= 20_000)))
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
        path = save(section, res)
        print(f"   saved {path}", flush=True)
    print()
    print(_table(rows))
    print(f"\n{time.perf_counter() - t0:.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
