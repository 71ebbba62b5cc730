"""`acd ivr try FLOW`: the real engine on the simulator, driven from the terminal.

It starts a private simulator, the demo back-ends and a private acd (its own
Redis key prefix), waits until acd's event stream is connected (as `acd run`
does), places one call to the flow's first number, prints each node the call
enters, turns what you type into DTMF digits, and prints the path taken and the
variables when the call ends. Type `h` to hang up.

It leaves nothing behind: its Redis keys are deleted on the way out (and keys of
an earlier `acd ivr try` that was killed are deleted at start), and no call row is
written unless `--record` is given (then PostgreSQL is needed, as for `acd run`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import redis.asyncio as aioredis

from acd.api.demo import DemoServer
from acd.app import App
from acd.calls.model import CallState as Call
from acd.clock import Clock
from acd.config import Settings, load_settings
from acd.errors import AcdError
from acd.ivr.loader import load_flow
from acd.sim.server import Simulator

PREFIX = "acd-try"
CONNECT_TIMEOUT_S = 10.0
DTMF = re.compile(r"[0-9*#A-D]{1,40}")
CALL_TIMEOUT_S = 3600.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def clean_keys(redis_url: str, prefix: str | None = None) -> int:
    """Delete the keys of `prefix`, or (None) of every `acd ivr try` no longer running."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        doomed: list[str] = []
        async for key in client.scan_iter(match=f"*{PREFIX}-*", count=1000):
            tail = key.split(f"{PREFIX}-", 1)[1]
            own = tail.split("-", 2)
            if prefix is not None:
                if f"{prefix}}}" in key or key.startswith(f"{prefix}:"):
                    doomed.append(key)
            elif own[0].isdigit() and not _pid_alive(int(own[0])):
                doomed.append(key)
        for i in range(0, len(doomed), 500):
            await client.delete(*doomed[i:i + 500])
        return len(doomed)
    finally:
        await client.aclose()


def _prepare(settings: Settings, path: Path, speed: float) -> None:
    settings.flows = str(path.parent)
    settings.redis_prefix = f"{PREFIX}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    settings.node_id = settings.redis_prefix
    settings.clock_speed = speed
    settings.sim.demo = False


async def try_flow(path: Path, caller: str, *, record: bool = False,
                   config: Path | None = None, speed: float = 1.0,
                   out: TextIO | None = None) -> int:
    out = out or sys.stdout
    loaded = load_flow(path)
    flow = loaded.flow
    for warning in loaded.warnings:
        print(f"warning: {warning}", file=out)
    if not flow.numbers:
        print(f"{path}: flow {flow.name!r} has no `numbers`, so no call can reach it",
              file=sys.stderr)
        return 2
    settings = load_settings(config)
    _prepare(settings, path, speed)
    await clean_keys(settings.redis_url)
    clock = Clock(speed)
    password = settings.ari.password.get_secret_value() if settings.ari.password else None
    sim = Simulator(clock, user=settings.ari.user, password=password)
    demo = DemoServer()
    app: App | None = None
    try:
        port = await sim.start("127.0.0.1", 0)
        await demo.start()
        settings.ari.url = f"http://127.0.0.1:{port}"
        # The demo flows' back-ends answer on this trial's own port.
        settings.flow_settings = {**settings.flow_settings,
                                  "api_url": f"http://127.0.0.1:{demo.port}"}
        for agent in settings.agents:
            tech, _, resource = agent.endpoint.partition("/")
            sim.set_endpoint(tech, resource, "answer", answer_after=1.5, hangup_after=8.0)
        logging.getLogger("acd").setLevel(logging.WARNING)
        app = App(settings, clock=clock, simulator=sim, start_api=False, record=record)
        await app.start()
        if not await _connected(app):
            print(f"acd ivr try: acd's event stream did not connect within "
                  f"{CONNECT_TIMEOUT_S:g} s; nothing was called", file=sys.stderr)
            return 1
        return await _call(app, sim, flow.numbers[0], flow.name, caller, out)
    finally:
        if app is not None:
            await app.stop()
        await demo.stop()
        await sim.stop()
        await clean_keys(settings.redis_url, settings.redis_prefix)


class LineReader:
    """Lines from a terminal, read by the event loop itself (a reader thread would
    keep the process alive after the call until Enter was pressed)."""

    def __init__(self, fd: int, on_line: Callable[[str], None]) -> None:
        self.fd = fd
        self.on_line = on_line
        self.pending = bytearray()
        self.loop = asyncio.get_running_loop()

    def start(self) -> None:
        self.loop.add_reader(self.fd, self._readable)

    def stop(self) -> None:
        self.loop.remove_reader(self.fd)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 1024)
        except OSError:
            data = b""
        if not data:
            self.stop()
            return
        self.pending.extend(data)
        while b"\n" in self.pending:
            line, _, rest = bytes(self.pending).partition(b"\n")
            self.pending[:] = rest
            self.on_line(line.decode(errors="replace").strip())


async def _connected(app: App) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + CONNECT_TIMEOUT_S
    while loop.time() < end:
        if app.stream is not None and app.stream.connected:
            return True
        await asyncio.sleep(0.02)
    return False


async def _call(app: App, sim: Simulator, number: str, flow_name: str, caller: str,
                out: TextIO) -> int:
    assert app.calls is not None
    calls = app.calls
    done = asyncio.Event()

    def ended(call: Call) -> None:
        if call.ivr is not None:
            print(f"\npath taken: {' -> '.join(call.ivr.path)}", file=out)
            print(f"variables:  {dict(call.ivr.variables)}", file=out)
        print(f"outcome:    {call.outcome}", file=out, flush=True)
        done.set()

    calls.on_call_ended = ended
    channel_id = sim.place_call(caller, number, caller_name="acd ivr try",
                                app=app.settings.ari.app)
    print(f"calling {number} as {caller} (flow {flow_name}); type digits + Enter, "
          "h to hang up", file=out, flush=True)

    def on_line(text: str) -> None:
        if text == "h":
            sim.remote_hangup(channel_id)
        elif text and not DTMF.fullmatch(text):
            print(f"not DTMF: {text[:20]!r}; type 0-9, *, # (A-D), or h to hang up",
                  file=out, flush=True)
        elif text:
            try:
                sim.press(channel_id, text)
            except (KeyError, ValueError, AcdError) as exc:
                print(f"cannot press {text!r}: {exc}", file=out, flush=True)

    async def follow() -> None:
        shown = 0
        while not done.is_set():
            call = next((c for c in calls.calls.values() if c.channel_id == channel_id), None)
            path = call.ivr.path if call is not None and call.ivr is not None else []
            for node in path[shown:]:
                print(f"  -> {node}", file=out, flush=True)
            shown = max(shown, len(path))
            await asyncio.sleep(0.05)

    keyboard = LineReader(sys.stdin.fileno(), on_line)
    keyboard.start()
    follower = asyncio.create_task(follow())
    try:
        await asyncio.wait_for(done.wait(), timeout=CALL_TIMEOUT_S)
    finally:
        keyboard.stop()
        follower.cancel()
        if not done.is_set():
            sim.remote_hangup(channel_id)
    return 0
