"""`acd` / `python -m acd`: run the server, the simulator, and operator commands."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import traceback
import urllib.error
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from acd.cli_defs import add_define_parsers, run_define
from acd.cli_people import add_people_parsers, run_people
from acd.errors import AcdError


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        # Date and milliseconds, so that lines match Asterisk's log.
        format="%(asctime)s.%(msecs)03d %(levelname)-5s %(name)s: %(message)s",
        datefmt="%Y-%m-%d %H:%M:%S",
    )
    for noisy in ("aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


async def _run(config: Path | None, demo: bool | None) -> int:
    from acd.app import App
    from acd.config import load_settings
    from acd.demo import Demo, demo_users

    settings = load_settings(config)
    if demo is not None:
        settings.sim.demo = demo
    if settings.ari.simulated and settings.sim.demo:
        settings.api.demo = True  # the example flows' back-ends under /demo
    app = App(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await app.start()
    except BaseException:
        await app.stop()  # whatever did start (the simulator, clients) is closed again
        raise
    demo_runner: Demo | None = None
    if app.own_simulator and settings.sim.demo:
        for _ in range(100):  # demo callers only once acd listens to the app
            if app.stream is not None and app.stream.connected:
                break
            await asyncio.sleep(0.05)
        demo_runner = Demo(app)
        await demo_runner.start()
        api = f"http://{settings.api.host}:{app.api_port}"
        lines = [f"  {name:<12} {role:<11} {password}"
                 for name, role, password in await demo_users(app)]
        print("demo users (passwords are new on every start):\n" + "\n".join(lines)
              + f"\nagent desktop: {api}/agent   wallboard: {api}/wallboard", flush=True)
    try:
        await stop.wait()
    finally:
        logging.getLogger("acd").info("stopping: no new calls; live calls stay for re-adoption")
        if demo_runner is not None:
            await demo_runner.stop()
        await app.stop()
    return 0


def _api(method: str, path: str, body: dict[str, object] | None = None) -> int:
    from acd.cli_people import api_base, api_token

    base = api_base()
    data = json.dumps(body if body is not None else {}).encode() if method != "GET" else None
    headers = {"Content-Type": "application/json"}
    token = api_token()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"{base}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            print(json.dumps(json.loads(resp.read()), indent=2))
            return 0
    except urllib.error.HTTPError as exc:
        print(f"error {exc.code}: {exc.read().decode(errors='replace')}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"cannot reach acd at {base}: {exc.reason}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="acd", description="acd contact-center server")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run acd (on the built-in simulator if no Asterisk)")
    run.add_argument("--config", type=Path, default=None)
    run.add_argument("--demo", action=argparse.BooleanOptionalAction, default=None,
                     help="demo callers on the simulator (default from config)")
    sim = sub.add_parser("sim", help="run the ARI simulator alone")
    sim.add_argument("args", nargs=argparse.REMAINDER)
    agent = sub.add_parser("agent", help="agent state through the REST API")
    agent.add_argument("action", choices=["list", "show", "login", "logout", "available",
                                          "break"])
    agent.add_argument("agent_id", nargs="?")
    agent.add_argument("--reason", default=None)
    lst = sub.add_parser("list", help="caller lists (vip, key_accounts, blocked, ...)")
    lst.add_argument("action", choices=["show", "add", "remove"])
    lst.add_argument("name")
    lst.add_argument("number", nargs="?")
    sched = sub.add_parser("schedule", help="a supervisor's override of business hours")
    sched.add_argument("name")
    sched.add_argument("override", choices=["open", "closed", "emergency", "clear", "show"])
    add_people_parsers(sub)
    add_define_parsers(sub)
    ivr = sub.add_parser("ivr", help="operators' IVR tools")
    ivr_sub = ivr.add_subparsers(dest="ivr_cmd", required=True)
    val = ivr_sub.add_parser("validate", help="check flows; non-zero exit on error")
    val.add_argument("paths", nargs="*", default=["ivr_flows"])
    val.add_argument("--config", help="check against this configuration "
                     "(default: ACD_CONFIG, else config/acd.yaml)")
    val.add_argument("--no-config", action="store_true", help="check the flows alone")
    val.add_argument("--sounds", help="an Asterisk sounds folder every prompt must be in")
    graph = ivr_sub.add_parser("graph", help="a flow as a Mermaid or Graphviz diagram")
    graph.add_argument("flow")
    graph.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    tr = ivr_sub.add_parser("try", help="run a flow on the simulator from the terminal")
    tr.add_argument("flow")
    tr.add_argument("--caller", default="+15550100")
    tr.add_argument("--record", action="store_true",
                    help="write the call's rows to PostgreSQL (default: none)")
    tr.add_argument("--config", type=Path, default=None)
    tr.add_argument("--speed", type=float, default=1.0, help="simulated clock speed")
    from acd import cli_reports

    cli_reports.register(sub)
    return p


def _loop_run(main: Coroutine[Any, Any, int]) -> int:
    """`acd run` on uvloop unless ACD_EVENT_LOOP=asyncio (BENCHMARKS.md measures both)."""
    if os.environ.get("ACD_EVENT_LOOP", "uvloop") == "uvloop":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return int(uvloop.run(main))
    return asyncio.run(main)


def main(argv: list[str] | None = None) -> int:  # noqa: C901
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sim"]:
        # The simulator has its own options (--host, --port, --speed...).
        _setup_logging("-v" in argv)
        from acd.sim.cli import run_cli

        return int(run_cli(argv[1:]))
    args = _parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        if args.cmd in ("report", "staffing", "demo"):
            from acd import cli_reports

            return cli_reports.run(args)
        if args.cmd == "run":
            return _loop_run(_run(args.config, args.demo))
        if args.cmd == "sim":
            from acd.sim.cli import run_cli

            return int(run_cli(args.args))
        if args.cmd in ("user", "token"):
            return run_people(args)
        if args.cmd == "define":
            return run_define(args, _api)
        if args.cmd == "agent":
            if args.action == "list":
                return _api("GET", "/api/agents")
            if not args.agent_id:
                print("acd agent: this action needs an agent id", file=sys.stderr)
                return 2
            if args.action == "show":
                return _api("GET", f"/api/agents/{args.agent_id}")
            body = {"reason": args.reason} if args.action == "break" else {}
            return _api("POST", f"/api/agents/{args.agent_id}/{args.action}", body)
        if args.cmd == "list":
            if args.action == "show":
                return _api("GET", f"/api/lists/{args.name}")
            if not args.number:
                print("acd list: add/remove need a number", file=sys.stderr)
                return 2
            method = "PUT" if args.action == "add" else "DELETE"
            return _api(method, f"/api/lists/{args.name}/{args.number}")
        if args.cmd == "schedule":
            path = f"/api/schedules/{args.name}/override"
            if args.override == "show":
                return _api("GET", path)
            if args.override == "clear":
                return _api("DELETE", path)
            return _api("PUT", path, {"override": args.override})
        if args.cmd == "ivr":
            from acd import ivr_cli

            if args.ivr_cmd == "validate":
                return ivr_cli.validate_cmd(list(args.paths), config=args.config,
                                            use_config=not args.no_config,
                                            sounds_dir=args.sounds)
            if args.ivr_cmd == "graph":
                return ivr_cli.graph_cmd(args.flow, args.format)
            from acd.ivr_try import try_flow

            return asyncio.run(try_flow(Path(args.flow), args.caller, record=args.record,
                                        config=args.config, speed=args.speed))
    except AcdError as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"acd: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if args.verbose:
            raise
        print(f"acd: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              "(run `acd -v ...` for the traceback)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
