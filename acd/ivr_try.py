"""`acd ivr try FLOW`: the real engine on the simulator, driven from the terminal.

It starts a private simulator and a private acd (its own Redis key prefix, the
configured PostgreSQL), places one call to the flow's first number, shows each
prompt as it plays, turns what you type into DTMF digits, and prints the path
taken and the variables when the call ends. Type `h` to hang up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

from acd.app import App
from acd.calls.call import Call
from acd.clock import Clock
from acd.config import load_settings
from acd.ivr.loader import load_flow
from acd.sim.server import Simulator


async def try_flow(path: Path, caller: str) -> int:
    loaded = load_flow(path)
    flow = loaded.flow
    for warning in loaded.warnings:
        print(f"warning: {warning}")
    if not flow.numbers:
        print(f"{path}: flow {flow.name!r} has no `numbers`, so no call can reach it",
              file=sys.stderr)
        return 2
    settings = load_settings()
    settings.flows = str(path.parent)
    settings.redis_prefix = f"acd-try-{os.getpid()}"
    clock = Clock(1.0)
    sim = Simulator(clock, user=settings.ari.user,
                    password=settings.ari.password.get_secret_value()
                    if settings.ari.password else None)
    port = await sim.start("127.0.0.1", 0)
    settings.ari.url = f"http://127.0.0.1:{port}"
    for agent in settings.agents:
        tech, _, resource = agent.endpoint.partition("/")
        sim.set_endpoint(tech, resource, "answer", answer_after=1.5, hangup_after=8.0)
    logging.getLogger("acd").setLevel(logging.WARNING)
    logging.getLogger("acd.calls").setLevel(logging.INFO)
    app = App(settings, clock=clock, simulator=sim, start_api=False)
    await app.start()
    done = asyncio.Event()
    assert app.calls is not None

    def ended(call: Call) -> None:
        if call.ivr is not None:
            print(f"\npath taken: {' -> '.join(call.ivr.path)}")
            shown = {k: v for k, v in call.ivr.variables.items()}
            print(f"variables:  {shown}")
        print(f"outcome:    {call.outcome}")
        done.set()

    app.calls.on_call_ended = ended
    number = flow.numbers[0]
    channel_id = sim.place_call(caller, number, caller_name="acd ivr try")
    print(f"calling {number} as {caller} (flow {flow.name}); type digits + Enter, h to hang up")
    loop = asyncio.get_running_loop()

    async def keyboard() -> None:
        while not done.is_set():
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            text = line.strip()
            if text == "h":
                sim.remote_hangup(channel_id)
            elif text:
                sim.press(channel_id, text)

    reader = asyncio.create_task(keyboard())
    try:
        await asyncio.wait_for(done.wait(), timeout=3600)
    finally:
        reader.cancel()
        await app.stop()
        await sim.stop()
        assert app.redis is None or True
    return 0
