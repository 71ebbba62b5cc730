"""The processes around acd in the call benchmarks: the simulator and the callers.

Both run apart from the process measured, so their CPU and memory are not
counted as acd's. They talk over multiprocessing pipes.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import aiohttp

from acd.clock import Clock
from acd.sim.server import Simulator

USER = "acd"
PASSWORD = "acd-bench-secret"


def _sim_main(speed: float, conn: Connection) -> None:
    async def main() -> None:
        sim = Simulator(Clock(speed), user=USER, password=PASSWORD)
        port = await sim.start("127.0.0.1", 0)
        conn.send(port)
        await asyncio.to_thread(conn.recv)
        await sim.stop()
    asyncio.run(main())


def _caller_main(port: int, conn: Connection) -> None:
    async def main() -> None:
        auth = aiohttp.BasicAuth(USER, PASSWORD)
        base = f"http://127.0.0.1:{port}"
        connector = aiohttp.TCPConnector(limit=64)
        async with aiohttp.ClientSession(auth=auth, connector=connector) as http:
            while True:
                cmd = await asyncio.to_thread(conn.recv)
                if cmd[0] == "stop":
                    return
                if cmd[0] == "endpoints":
                    for resource, body in cmd[1]:
                        async with http.put(f"{base}/sim/endpoints/PJSIP/{resource}",
                                            json=body) as r:
                            r.raise_for_status()
                    conn.send(len(cmd[1]))
                    continue
                _, rate, seconds, body = cmd
                conn.send(await _place(http, base, rate, seconds, body))
    asyncio.run(main())


async def _place(http: aiohttp.ClientSession, base: str, rate: float, seconds: float,
                 body: dict[str, Any]) -> dict[str, Any]:
    total = int(rate * seconds)
    errors = 0
    late_max = 0.0
    tasks: set[asyncio.Task[None]] = set()

    apps = body.get("apps") or []  # Stasis apps to alternate between (several acd nodes)
    plain = {k: v for k, v in body.items() if k != "apps"}

    async def one(i: int) -> None:
        nonlocal errors
        call = {**plain, "caller": f"+1555{i:07d}"}
        if apps:
            call["app"] = apps[i % len(apps)]
        try:
            async with http.post(f"{base}/sim/calls", json=call) as r:
                if r.status != 201:
                    errors += 1
        except aiohttp.ClientError:
            errors += 1

    t0 = time.perf_counter()
    for i in range(total):
        due = t0 + i / rate
        now = time.perf_counter()
        if due > now:
            await asyncio.sleep(due - now)
        else:
            late_max = max(late_max, now - due)
        task = asyncio.create_task(one(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    return {"placed": total - errors, "errors": errors,
            "seconds": time.perf_counter() - t0, "late_max_ms": late_max * 1000}


@dataclass
class World:
    """The simulator and the caller processes, started together."""

    speed: float
    port: int = 0
    _sim: BaseProcess | None = None
    _sim_conn: Connection | None = None
    _caller: BaseProcess | None = None
    _caller_conn: Connection | None = None

    async def start(self) -> None:
        ctx = mp.get_context("spawn")
        here, there = ctx.Pipe()
        self._sim = ctx.Process(target=_sim_main, args=(self.speed, there), daemon=True)
        self._sim.start()
        self._sim_conn = here
        self.port = int(await asyncio.to_thread(_recv, here, 60))
        here2, there2 = ctx.Pipe()
        self._caller = ctx.Process(target=_caller_main, args=(self.port, there2), daemon=True)
        self._caller.start()
        self._caller_conn = here2

    async def endpoints(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        assert self._caller_conn is not None
        self._caller_conn.send(("endpoints", items))
        await asyncio.to_thread(_recv, self._caller_conn, 120)

    async def place(self, rate: float, seconds: float, body: dict[str, Any]) -> dict[str, Any]:
        """Place `rate` calls a second for `seconds`; returns when the last is placed."""
        assert self._caller_conn is not None
        self._caller_conn.send(("place", rate, seconds, body))
        result: dict[str, Any] = await asyncio.to_thread(_recv, self._caller_conn,
                                                         seconds + 120)
        return result

    async def stop(self) -> None:
        for conn, proc in ((self._caller_conn, self._caller), (self._sim_conn, self._sim)):
            if conn is not None and proc is not None:
                try:
                    conn.send(("stop",))
                except (BrokenPipeError, OSError):
                    pass
                await asyncio.to_thread(proc.join, 10)
                if proc.is_alive():
                    proc.terminate()


def _recv(conn: Connection, timeout: float) -> Any:
    if not conn.poll(timeout):
        raise TimeoutError("no answer from a benchmark helper process")
    return conn.recv()


def unique(name: str) -> str:
    return f"bench-{name}-{uuid.uuid4().hex[:8]}"
