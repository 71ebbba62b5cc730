"""A pyinstrument profile of acd, summarised as milliseconds per call by area.

Each sample is charged to the deepest frame on its stack whose file belongs to an
area (as the py-spy analysis in BENCHMARKS.md did), the event loop's own frames
aside: a socket write inside asyncio's transport is charged to whoever wrote
(redis-py, aiohttp, asyncpg), and only samples with nothing else on the stack to
the event loop. Samples whose stack ends in the selector's wait are idle and not
counted. pyinstrument samples wall time, which on a busy box includes time the
process waited for a core: the shares are of the busy wall time, and the ms per
call are those shares of the CPU per call measured beside it (`time.process_time`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from bench.complete.tables import md_table

# (area, substrings of a frame's file path), the first match wins
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("call logic (acd/calls)", ("/acd/calls/",)),
    ("routing logic (acd/routing, acd/agents)", ("/acd/routing/", "/acd/agents/")),
    ("ARI events: dispatch, parse (acd/ari, orjson)", ("/acd/ari/", "orjson")),
    ("IVR engine (acd/ivr)", ("/acd/ivr/",)),
    ("live snapshot (acd/people)", ("/acd/people/",)),
    ("PostgreSQL row writer (acd/store, asyncpg)", ("/acd/store/", "/asyncpg/")),
    ("other acd", ("/acd/",)),
    ("ARI over HTTP (aiohttp)", ("/aiohttp/", "/yarl/", "/multidict/")),
    ("Redis (redis-py)", ("/redis/",)),
    ("logging", ("/logging/",)),
    ("metrics (prometheus_client)", ("/prometheus_client/",)),
)
LOOP = "event loop (asyncio, uvloop)"
LOOP_MARKS = ("/asyncio/", "/uvloop/", "selectors.py", "<built-in>")
OTHER = "other (bench driver, libraries)"
IDLE = "idle"


def frame_file(identifier: str) -> str:
    """pyinstrument's frame identifier is `function\\x00file\\x00line...`."""
    parts = identifier.split("\x00")
    return parts[1] if len(parts) > 1 else ""


def area_of(stack: Sequence[str]) -> str:
    """The area a sample with this stack (outermost first) is charged to."""
    if any(frame_file(f).endswith("selectors.py") for f in stack[-2:]):
        return IDLE
    loop = False
    for ident in reversed(stack):
        path = frame_file(ident)
        for name, marks in AREAS:  # before the loop's marks: redis/asyncio/ is redis-py
            if any(m in path for m in marks):
                return name
        if any(m in path for m in LOOP_MARKS):
            loop = loop or "<built-in>" not in path
    return LOOP if loop else OTHER


def summarise(records: Iterable[tuple[Sequence[str], float]], calls: int,
              cpu_ms_per_call: float | None = None) -> list[dict[str, Any]]:
    """Area -> seconds, share of the busy time and ms per call, biggest first: the
    share of `cpu_ms_per_call` when given, else the wall time over `calls`."""
    seconds: dict[str, float] = {}
    for stack, t in records:
        area = area_of(stack)
        seconds[area] = seconds.get(area, 0.0) + t
    seconds.pop(IDLE, None)
    busy = sum(seconds.values())
    n = max(1, calls)
    rows = []
    for area, sec in sorted(seconds.items(), key=lambda x: -x[1]):
        share = sec / busy if busy else 0.0
        rows.append({"area": area, "seconds": round(sec, 4), "share": share,
                     "ms_per_call": share * cpu_ms_per_call if cpu_ms_per_call is not None
                     else sec * 1000 / n})
    return rows


def areas_table(rows: Sequence[dict[str, Any]]) -> str:
    return md_table(["part", "share of acd's busy time", "ms per call"],
                    [[r["area"], f"{r['share']:.0%}", f"{r['ms_per_call']:.2f}"]
                     for r in rows])
