"""`acd sim`: run the ARI simulator alone until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from acd.clock import Clock
from acd.sim.server import Simulator

logger = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="acd sim", description="Run the ARI simulator.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8088)
    p.add_argument("--user", default=None, help="ARI user (no auth when neither is given)")
    p.add_argument("--password", default=None, help="ARI password")
    p.add_argument("--speed", type=float, default=1.0, help="clock speed (1 = real time)")
    return p


async def _serve(args: argparse.Namespace, stop: asyncio.Event | None = None) -> int:
    sim = Simulator(Clock(args.speed), user=args.user, password=args.password)
    port = await sim.start(args.host, args.port)
    print(f"ARI simulator on http://{args.host}:{port}/ari (control API under /sim); "
          "Ctrl-C stops it", flush=True)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()
    return 0


def run_cli(argv: list[str] | None = None) -> int:
    """Parse `argv`, serve until interrupted; the exit status."""
    args = _parser().parse_args(argv)
    if args.speed <= 0:
        print("acd sim: --speed must be positive")
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"acd sim: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        return 1
