"""The full call path: acd in this process, the simulator and callers in others.

Callers dial the bench flow (welcome, menu, press 1, the sales queue); agents
answer after 0.5 s and hang up after 2 s of talk. New calls a second step up
until the event lag p99 passes 20 ms or a call does not end 'answered'. Also
the memory held by calls waiting in a queue with nobody to answer.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import time
from collections import Counter
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

import psutil
import redis.asyncio as aioredis

from acd.app import App
from acd.calls.model import CallState as Call
from acd.clock import Clock
from acd.config import Settings
from bench.common import RESULTS, percentile, private_redis
from bench.procs import PASSWORD, USER, World, unique
from bench.writer import _drop_db, _fresh_db

FLOWS = Path(__file__).parent / "flows"
SPEED = 10.0
LAG_LIMIT_MS = 20.0
CALL = {"exten": "100", "dtmf": [[1.0, "1"]]}
REDIS_URL = "redis://127.0.0.1:6379/0"


def _settings(prefix: str, dsn: str, port: int, spool: Path, agents: int,
              redis_url: str = REDIS_URL) -> Settings:
    return Settings.model_validate({
        "redis_url": redis_url,
        "ari": {"url": f"http://127.0.0.1:{port}", "app": prefix, "user": USER,
                "password": PASSWORD},
        "api": {"host": "127.0.0.1", "port": 0},
        "redis_prefix": prefix, "pg_dsn": dsn, "flows": str(FLOWS),
        "node_id": f"{prefix}-n1", "clock_speed": SPEED,
        "writer": {"spool_dir": str(spool)},
        "routing": {"max_missed": 0},
        "queues": [{"name": "sales", "skills": {"sales": 1}, "ring_timeout": 15,
                    "wrapup": 1}],
        "agents": [{"id": f"a{i}", "name": f"Agent {i}", "endpoint": f"PJSIP/agent{2000 + i}",
                    "skills": {"sales": 1}, "login": True} for i in range(agents)],
    })


class Bench:
    """One acd App on its own prefix and database, with the world around it."""

    def __init__(self, agents: int, redis_url: str = REDIS_URL) -> None:
        self.agents = agents
        self.redis_url = redis_url
        self.prefix = unique("fp")
        self.world = World(SPEED)
        self.app: App | None = None
        self.db = ""
        self.spool = Path(mkdtemp(prefix="acd-bench-spool-"))
        self.outcomes: Counter[str] = Counter()
        self.redis = aioredis.Redis.from_url(redis_url, decode_responses=True)

    async def start(self) -> App:
        logging.getLogger("acd").setLevel(logging.WARNING)
        self.db = await _fresh_db()
        await self.world.start()
        await self.world.endpoints([
            (f"agent{2000 + i}", {"behaviour": "answer", "answer_after": 0.5,
                                  "hangup_after": 2.0}) for i in range(self.agents)])
        dsn = f"postgresql://postgres@127.0.0.1:5432/{self.db}"
        settings = _settings(self.prefix, dsn, self.world.port, self.spool, self.agents,
                             self.redis_url)
        self.app = App(settings, clock=Clock(SPEED), start_api=False)
        await self.app.start()
        assert self.app.calls is not None and self.app.stream is not None

        def on_end(call: Call) -> None:
            self.outcomes[call.outcome or "none"] += 1
        self.app.calls.on_call_ended = on_end
        for _ in range(500):
            if self.app.stream.connected:
                break
            await asyncio.sleep(0.01)
        return self.app

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
        await self.world.stop()
        keys = [k async for k in self.redis.scan_iter(match=f"*{self.prefix}*", count=1000)]
        if keys:
            await self.redis.delete(*keys)
        await self.redis.aclose()
        if self.db:
            await _drop_db(self.db)
        shutil.rmtree(self.spool, ignore_errors=True)

    async def redis_commands(self) -> int:
        info = await self.redis.info("stats")
        return int(info["total_commands_processed"])

    async def redis_scripts(self) -> int:
        """Script calls (EVALSHA/EVAL) so far: round trips that run one routing script."""
        info = await self.redis.info("commandstats")
        return sum(int(info.get(k, {}).get("calls", 0))
                   for k in ("cmdstat_evalsha", "cmdstat_eval"))

    async def step(self, rate: float, seconds: float) -> dict[str, Any]:
        app = self.app
        assert app is not None and app.stream is not None and app.calls is not None
        assert app.writer is not None and app.ari is not None
        ended0 = sum(self.outcomes.values())
        answered0 = self.outcomes["answered"]
        # The lag window is this step only (EventStream keeps the last 10,000).
        app.stream._dispatch._lag.clear()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        redis0, rows0, ari0 = (await self.redis_commands(), app.writer.rows_written,
                               app.ari.requests_sent)
        placed = await self.world.place(rate, seconds, CALL)
        expected = ended0 + placed["placed"]
        deadline = time.perf_counter() + 30
        while sum(self.outcomes.values()) < expected and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        await app.writer.flush()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        redis_n = await self.redis_commands() - redis0 - 1
        n = max(1, placed["placed"])
        lags = [x * 1000 for x in app.stream.lag_samples()]
        ended = sum(self.outcomes.values()) - ended0
        answered = self.outcomes["answered"] - answered0
        return {
            "rate_per_s": rate, "seconds": seconds, "placed": placed["placed"],
            "place_errors": placed["errors"], "placing_late_max_ms": placed["late_max_ms"],
            "ended": ended, "answered": answered,
            "failed": placed["errors"] + placed["placed"] - answered,
            "event_lag_ms": {"n": len(lags), "p50": percentile(lags, 50),
                             "p99": percentile(lags, 99), "max": max(lags, default=0.0)},
            "cpu_ms_per_call": cpu * 1000 / n, "cpu_share": cpu / wall,
            "redis_commands_per_call": redis_n / n,
            "pg_rows_per_call": (app.writer.rows_written - rows0) / n,
            "ari_requests_per_call": (app.ari.requests_sent - ari0) / n,
        }


async def run(rates: tuple[float, ...] = (25, 50, 100, 200, 300, 400),
              seconds: float = 10.0, agents: int = 200) -> dict[str, Any]:
    bench = Bench(agents)
    steps: list[dict[str, Any]] = []
    held: float = 0.0
    try:
        await bench.start()
        await bench.step(10, 2)  # warm-up: imports, connections, caches
        for rate in rates:
            res = await bench.step(rate, seconds)
            steps.append(res)
            ok = res["failed"] == 0 and res["event_lag_ms"]["p99"] <= LAG_LIMIT_MS
            res["held"] = ok
            print(f"  full path {rate:>5.0f}/s: lag p99 {res['event_lag_ms']['p99']:.1f} ms, "
                  f"failed {res['failed']}, cpu {res['cpu_ms_per_call']:.2f} ms/call",
                  flush=True)
            if not ok:
                break
            held = rate
    finally:
        await bench.stop()
    return {"speed": SPEED, "agents": agents, "highest_rate_held": held, "steps": steps,
            "lag_limit_ms": LAG_LIMIT_MS}


async def profile(rate: float = 50, seconds: float = 10.0) -> dict[str, Any]:
    """One full-path step under pyinstrument; text and HTML reports and the saved
    session in bench/results."""
    from pyinstrument import Profiler

    bench = Bench(200)
    try:
        await bench.start()
        await bench.step(10, 2)
        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
        res = await bench.step(rate, seconds)
        profiler.stop()
    finally:
        await bench.stop()
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    (RESULTS / "profile-fullpath.txt").write_text(text)
    (RESULTS / "profile-fullpath.html").write_text(profiler.output_html())
    session = RESULTS / "profile-fullpath.pyisession"  # for bench.complete's areas
    if profiler.last_session is not None:
        profiler.last_session.save(str(session))
    return {"step": res, "report": str(RESULTS / "profile-fullpath.txt"),
            "session": str(session)}


WAITING_CALL = {"exten": "200"}  # bench/flows/waiting.yaml: announcements every 30 s real


def _standing_reads(app: App) -> int:
    """How many times the router read every queue's standing (0 before it did)."""
    shared = getattr(app.router, "_standing", None)
    return int(getattr(shared, "reads", 0))


class _Count(logging.Handler):
    """Counts acd's warnings and errors (a fault is logged, so 0 means none)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.n = 0
        self.samples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.n += 1
        if len(self.samples) < 5:
            self.samples.append(record.getMessage()[:200])


async def waiting(levels: tuple[int, ...] = (10, 1_000, 10_000), rate: float = 80.0,
                  window: float = 30.0) -> dict[str, Any]:
    """Callers waiting in a queue nobody serves, with position and expected wait
    announced every 30 s (real): at each level of waiting calls, over one 30 s
    window (one announcement per caller), this process's RSS, CPU and the Redis
    commands, per waiting call."""
    with private_redis() as url:
        return await _waiting(Bench(0, url), levels, rate, window)


async def _waiting(bench: Bench, levels: tuple[int, ...], rate: float, window: float
                   ) -> dict[str, Any]:
    proc = psutil.Process()
    faults = _Count()
    steps: list[dict[str, Any]] = []
    try:
        app = await bench.start()
        assert app.router is not None
        logging.getLogger("acd").addHandler(faults)
        gc.collect()
        rss_base = proc.memory_info().rss
        have = 0
        for level in levels:
            try:
                step = await _waiting_step(bench, app, proc, faults, rss_base, have, level,
                                           rate, window)
            except Exception as exc:  # an overloaded acd: say so, and finish the section
                steps.append({"level": level, "error": f"{type(exc).__name__}: {exc}",
                              "faults_logged": faults.n})
                print(f"  waiting {level:>6}: stopped: {type(exc).__name__}: {exc}",
                      flush=True)
                break
            have = step["waiting"]
            steps.append(step)
            print(f"  waiting {have:>6}: cpu {step['cpu_ms_per_waiting_call_per_min']:.3f} "
                  f"ms/call/min, redis {step['redis_commands_per_waiting_call_per_min']:.2f} "
                  f"cmds/call/min, ari {step['ari_requests_per_waiting_call_per_min']:.2f} "
                  f"reqs/call/min, rss {step['rss_per_waiting_call_kib']:.1f} KiB/call, "
                  f"faults {step['faults_logged']}", flush=True)
        live = len(app.calls.calls) if app.calls else 0
    finally:
        logging.getLogger("acd").removeHandler(faults)
        await bench.stop()
    last = steps[-1] if steps else {}
    return {"steps": steps, "waiting": last.get("waiting", 0), "live_calls": live,
            "rss_per_waiting_call_kib": last.get("rss_per_waiting_call_kib", float("nan")),
            "faults_logged": faults.n, "fault_samples": faults.samples,
            "announce_every_s_real": 30.0}


async def _waiting_step(bench: Bench, app: App, proc: psutil.Process, faults: _Count,
                        rss_base: int, have: int, level: int, rate: float, window: float
                        ) -> dict[str, Any]:
    assert app.router is not None
    placed = await bench.world.place(rate, max(1, level - have) / rate, WAITING_CALL)
    target = have + placed["placed"]
    deadline = time.perf_counter() + 60
    while (n := await app.router.waiting("sales")) < target \
            and time.perf_counter() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)
    gc.collect()
    assert app.ari is not None
    faults0, reads0, ari0 = faults.n, _standing_reads(app), app.ari.requests_sent
    cpu0, wall0 = time.process_time(), time.perf_counter()
    redis0, scripts0 = await bench.redis_commands(), await bench.redis_scripts()
    await asyncio.sleep(window)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    ari_n = app.ari.requests_sent - ari0
    scripts_n = await bench.redis_scripts() - scripts0
    redis_n = await bench.redis_commands() - redis0 - 2
    n = max(1, await app.router.waiting("sales"))
    gc.collect()
    rss = proc.memory_info().rss
    return {
        "waiting": n, "placed": placed["placed"], "place_errors": placed["errors"],
        "window_s": wall, "cpu_share": cpu / wall,
        "cpu_ms_per_waiting_call_per_min": cpu * 1000 / n * 60 / wall,
        "redis_commands_per_waiting_call_per_min": redis_n / n * 60 / wall,
        "redis_scripts_per_waiting_call_per_min": scripts_n / n * 60 / wall,
        "ari_requests_per_waiting_call_per_min": ari_n / n * 60 / wall,
        "standing_reads_per_s": (_standing_reads(app) - reads0) / wall,
        "rss_per_waiting_call_kib": (rss - rss_base) / n / 1024,
        "faults_logged": faults.n - faults0,
    }


def waiting_child(out: Any) -> None:
    """Entry point for a fresh process, so earlier sections do not skew its RSS."""
    try:
        out.put(asyncio.run(waiting()))
    except BaseException as exc:  # the parent must hear back, whatever happened
        out.put({"steps": [], "error": f"{type(exc).__name__}: {exc}", "waiting": 0,
                 "rss_per_waiting_call_kib": float("nan"), "faults_logged": -1})
