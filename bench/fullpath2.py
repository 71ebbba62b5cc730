"""The full call path with two acd nodes on one Redis (issue 15: scale-out shown).

As `fullpath` (simulator and callers in their own processes, clock speed 10, 200
agents answering after 0.5 s and hanging up after 2 s, the bench flow), but acd
runs as two nodes, each an `App` in a process of its own with its own node id
and its own Stasis application (`<prefix>-1`, `<prefix>-2`: the dialplan would
choose one per call); the callers alternate between the two. Both nodes share
the agents, the queue and PostgreSQL. Per step: event-lag p99 of each node, the
calls that ended `answered` (their `calls` rows), and each node's CPU per call.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import shutil
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import redis.asyncio as aioredis

from acd.app import App
from acd.calls.model import CallState as Call
from acd.clock import Clock
from bench.common import percentile
from bench.fullpath import CALL, LAG_LIMIT_MS, REDIS_URL, SPEED, _settings
from bench.procs import World, unique
from bench.writer import _drop_db, _fresh_db

NODES = 2


def _node_main(prefix: str, index: int, dsn: str, port: int, agents: int,
               conn: Connection) -> None:
    async def main() -> None:
        logging.basicConfig(level=logging.WARNING)
        logging.getLogger("acd").setLevel(logging.WARNING)
        spool = Path(mkdtemp(prefix="acd-bench-spool-"))
        settings = _settings(prefix, dsn, port, spool, agents)
        settings.node_id = f"{prefix}-n{index}"
        settings.ari = settings.ari.model_copy(update={"app": f"{prefix}-{index}"})
        app = App(settings, clock=Clock(SPEED), start_api=False)
        await app.start()
        assert app.calls is not None and app.stream is not None and app.writer is not None
        outcomes: Counter[str] = Counter()

        def on_end(call: Call) -> None:
            outcomes[call.outcome or "none"] += 1
        app.calls.on_call_ended = on_end
        for _ in range(500):
            if app.stream.connected:
                break
            await asyncio.sleep(0.01)
        conn.send("ready")
        cpu0 = time.process_time()
        while True:
            cmd = await asyncio.to_thread(conn.recv)
            if cmd == "begin":
                app.stream._dispatch._lag.clear()
                cpu0 = time.process_time()
                outcomes.clear()
                conn.send("ok")
            elif cmd == "end":
                await app.writer.flush()
                lags = [x * 1000 for x in app.stream.lag_samples()]
                conn.send({"cpu_s": time.process_time() - cpu0, "outcomes": dict(outcomes),
                           "lag_p99_ms": percentile(lags, 99), "lag_n": len(lags)})
            else:
                break
        await app.stop()
        shutil.rmtree(spool, ignore_errors=True)
        conn.send("stopped")
    asyncio.run(main())


async def _recv(conn: Connection, timeout: float) -> Any:
    if not await asyncio.to_thread(conn.poll, timeout):
        raise TimeoutError("an acd node did not answer")
    return conn.recv()


async def run(rates: tuple[float, ...] = (50, 100, 200, 300, 400), seconds: float = 10.0,
              agents: int = 200) -> dict[str, Any]:
    prefix = unique("fp2")
    world = World(SPEED)
    db = await _fresh_db()
    dsn = f"postgresql://postgres@127.0.0.1:5432/{db}"
    ctx = mp.get_context("spawn")
    procs: list[tuple[Any, Connection]] = []
    steps: list[dict[str, Any]] = []
    held = 0.0
    try:
        await world.start()
        await world.endpoints([
            (f"agent{2000 + i}", {"behaviour": "answer", "answer_after": 0.5,
                                  "hangup_after": 2.0}) for i in range(agents)])
        for i in range(1, NODES + 1):
            here, there = ctx.Pipe()
            p = ctx.Process(target=_node_main, args=(prefix, i, dsn, world.port, agents,
                                                      there), daemon=True)
            p.start()
            procs.append((p, here))
        for _, conn in procs:
            assert await _recv(conn, 120) == "ready"
        apps = [f"{prefix}-{i}" for i in range(1, NODES + 1)]
        body = {**CALL, "apps": apps}
        await world.place(10, 2, body)  # warm-up
        await asyncio.sleep(3)
        for rate in rates:
            for _, conn in procs:
                conn.send("begin")
                assert await _recv(conn, 30) == "ok"
            wall0 = time.perf_counter()
            placed = await world.place(rate, seconds, body)
            ended: list[dict[str, Any]] = []
            deadline = time.perf_counter() + 30
            while True:
                ended = []
                for _, conn in procs:
                    conn.send("end")
                    ended.append(await _recv(conn, 30))
                done = sum(sum(e["outcomes"].values()) for e in ended)
                if done >= placed["placed"] or time.perf_counter() > deadline:
                    break
                await asyncio.sleep(0.5)
            wall = time.perf_counter() - wall0
            answered = sum(e["outcomes"].get("answered", 0) for e in ended)
            step = {
                "rate_per_s": rate, "placed": placed["placed"], "place_errors": placed["errors"],
                "answered": answered, "failed": placed["errors"] + placed["placed"] - answered,
                "nodes": [{"calls": sum(e["outcomes"].values()),
                           "cpu_ms_per_call": e["cpu_s"] * 1000
                           / max(1, sum(e["outcomes"].values())),
                           "cpu_share": e["cpu_s"] / wall, "lag_p99_ms": e["lag_p99_ms"]}
                          for e in ended],
            }
            step["lag_p99_ms"] = max(x["lag_p99_ms"] for x in step["nodes"])
            step["held"] = step["failed"] == 0 and step["lag_p99_ms"] <= LAG_LIMIT_MS
            steps.append(step)
            print(f"  full path, 2 nodes {rate:>5.0f}/s: lag p99 {step['lag_p99_ms']:.1f} ms, "
                  f"failed {step['failed']}, cpu/call "
                  + " / ".join(f"{x['cpu_ms_per_call']:.2f}" for x in step["nodes"]) + " ms",
                  flush=True)
            if not step["held"]:
                break
            held = rate
    finally:
        for _, conn in procs:
            try:
                conn.send("stop")
            except (BrokenPipeError, OSError):
                pass
        for p, _ in procs:
            await asyncio.to_thread(p.join, 20)
            if p.is_alive():
                p.terminate()
        await world.stop()
        redis = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
        keys = [k async for k in redis.scan_iter(match=f"*{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
        await _drop_db(db)
    return {"speed": SPEED, "agents": agents, "nodes": NODES, "highest_rate_held": held,
            "steps": steps, "lag_limit_ms": LAG_LIMIT_MS}

