"""The cost of the live snapshot: 500 SSE clients while 100 calls/s go through acd.

acd runs in this process with its REST API on a port (the simulator and the
callers in others, as in `fullpath`); 500 EventSource-like clients, logged in as a
supervisor with a token, read `/api/live` from a child process. For each snapshot
the clients note when they got it; the bench reports the time from the change
that caused it (`changed_at`: the first routing or agent event not yet shown, so
it includes the up-to-`snapshot_interval` coalescing) and from when acd sent it
(`sent_at`: the fan-out alone) to the LAST client receiving it, p50/p99 over the
snapshots; and acd's CPU (process time of this process over wall time) with and
without the clients.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import time
from multiprocessing.connection import Connection
from typing import Any

import aiohttp

from bench.common import percentile
from bench.fullpath import Bench

CLIENTS = int(os.environ.get("ACD_BENCH_LIVE_CLIENTS", "500"))
RATE = float(os.environ.get("ACD_BENCH_LIVE_RATE", "100"))
SECONDS = 10.0
AGENTS = 300


def _clients_main(url: str, token: str, n: int, conn: Connection) -> None:
    async def reader(http: aiohttp.ClientSession, seen: dict[str, list[float]],
                     meta: dict[str, tuple[float, float]], ready: list[int]) -> None:
        async with http.get(url, headers={"Authorization": f"Bearer {token}"},
                            timeout=aiohttp.ClientTimeout(total=None)) as resp:
            ready.append(1)
            ev_id, data = None, ""
            async for raw in resp.content:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("id:"):
                    ev_id = line[3:].strip()
                elif line.startswith("data:"):
                    data = line[5:].strip()
                elif line == "" and ev_id and data:
                    now = time.time()
                    seen.setdefault(ev_id, []).append(now)
                    if ev_id not in meta:
                        snap = json.loads(data)
                        meta[ev_id] = (snap["changed_at"], snap["sent_at"])
                    ev_id, data = None, ""

    async def main() -> None:
        seen: dict[str, list[float]] = {}
        meta: dict[str, tuple[float, float]] = {}
        ready: list[int] = []
        conn_limit = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=conn_limit) as http:
            tasks = [asyncio.create_task(reader(http, seen, meta, ready)) for _ in range(n)]
            while len(ready) < n:
                await asyncio.sleep(0.05)
            conn.send("ready")
            while not conn.poll():
                await asyncio.sleep(0.1)
            conn.recv()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        conn.send({"seen": seen, "meta": meta})

    asyncio.run(main())


async def _recv(conn: Connection, timeout: float) -> Any:
    end = time.monotonic() + timeout
    while not conn.poll():
        if time.monotonic() > end:
            raise TimeoutError("the SSE clients did not answer")
        await asyncio.sleep(0.05)
    return conn.recv()


async def _load(bench: Bench) -> dict[str, Any]:
    app = bench.app
    assert app is not None
    cpu0, wall0 = time.process_time(), time.perf_counter()
    step = await bench.step(RATE, SECONDS)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"answered": step["answered"], "placed": step["placed"],
            "failed": step["failed"], "cpu_share": round(cpu / wall, 3),
            "event_lag_p99_ms": step["event_lag_ms"]["p99"]}


async def run() -> dict[str, Any]:
    bench = Bench(AGENTS)
    app = await bench.start()
    try:
        # The REST API on a port of its own (Bench starts acd without it).
        await app._start_api()
        assert app.people is not None
        await app.people.users.add("bench-super", "supervisor", "bench-super-pass")
        _, token = await app.people.users.create_token("bench-super", "bench")
        url = f"http://127.0.0.1:{app.api_port}/api/live"
        without = await _load(bench)
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_clients_main, args=(url, token, CLIENTS, child))
        proc.start()
        assert await _recv(parent, 120) == "ready"
        assert app.people.live is not None
        connected = app.people.live.subscribers
        builds0 = app.people.live.builds
        loaded = await _load(bench)
        builds = app.people.live.builds - builds0
        build_ms = list(app.people.live.build_ms[-builds:]) if builds else []
        await asyncio.sleep(1.0)
        parent.send("stop")
        got = await _recv(parent, 60)
        proc.join(30)
    finally:
        await bench.stop()
    seen: dict[str, list[float]] = got["seen"]
    meta: dict[str, tuple[float, float]] = got["meta"]
    complete = {k: v for k, v in seen.items() if len(v) == CLIENTS and k in meta}
    from_change = [(max(v) - meta[k][0]) * 1000 for k, v in complete.items()]
    from_send = [(max(v) - meta[k][1]) * 1000 for k, v in complete.items()]
    every = [(t - meta[k][1]) * 1000 for k, v in complete.items() for t in v]
    return {
        "clients": CLIENTS, "connected": connected, "calls_per_s": RATE, "seconds": SECONDS,
        "snapshots": len(seen), "snapshots_to_all": len(complete), "rebuilds": builds,
        "rebuild_ms": {"p50": percentile(build_ms, 50), "p99": percentile(build_ms, 99)},
        "event_to_last_client_ms": {"p50": percentile(from_change, 50),
                                    "p99": percentile(from_change, 99),
                                    "max": max(from_change, default=float("nan"))},
        "sent_to_last_client_ms": {"p50": percentile(from_send, 50),
                                   "p99": percentile(from_send, 99)},
        "sent_to_each_client_ms": {"p50": percentile(every, 50), "p99": percentile(every, 99)},
        "acd_cpu_share_without_clients": without["cpu_share"],
        "acd_cpu_share_with_clients": loaded["cpu_share"],
        "calls": {"without": without, "with": loaded},
    }
