"""`python -m bench.asterisk`: acd (`Stasis(acd)`) and app_queue (`Queue()`) side by side.

Usage: python -m bench.asterisk [--rates 5,10,20,...] [--seconds 20] [--keep]
       [--filter allow|disallow|none] [--answer-first] [--apps N] [--procs N]
       [--loop uvloop|asyncio] [--acd-src CHECKOUT] [--label NAME]

One throwaway Asterisk, the same 180 agent phones and the same SIPp ramp for both
sides (see bench/asterisk/__init__.py). Prints a table and saves
bench/results/asterisk-<time>.json and asterisk-latest.json.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from bench.asterisk.ramp import RampStep
from bench.asterisk.stack import EXTEN, QUEUE, Levers, Stack, cpu_seconds
from bench.common import save
from tests.asterisk import harness

SIDES = {"acd": harness.CALLER_IP, "app_queue": harness.BENCH_CALLER_IP}
WARMUP_RATE, WARMUP_SECONDS = 2.0, 3.0


def _problems(text: str, limit: int = 8) -> tuple[int, list[str]]:
    """WARNING and ERROR lines of a log: how many, and a few distinct ones."""
    lines = [ln for ln in text.splitlines() if re.search(r"\b(WARNING|ERROR)\b", ln)]
    seen: dict[str, str] = {}
    for ln in lines:
        key = re.sub(r"[0-9a-f]{8,}|\d+", "#", ln.split("] ", 1)[-1])[:120]
        seen.setdefault(key, ln)
    return len(lines), list(seen.values())[:limit]


def _delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    return {k: b.get(k, 0) - a.get(k, 0) for k in sorted(set(a) | set(b))
            if b.get(k, 0) != a.get(k, 0)}


def _cpu_pct(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    wall = b["t"] - a["t"]
    return {k: round((b[k] - a[k]) / wall * 100, 1) for k in a if k != "t"}


def _ramp(stack: Stack, step: RampStep) -> tuple[bool, dict[str, float], int]:
    """Run one SIPp step; returns whether it ended by itself, the CPU % while calls
    arrived (start to the last new call) and acd's most HTTP connections to Asterisk."""
    cpu0 = stack.cpu()
    cpu1: dict[str, float] | None = None
    most = 0
    step.start()
    assert step.proc is not None
    deadline = step.started + step.seconds + step.max_wait + 60
    try:
        while step.proc.poll() is None and time.monotonic() < deadline:
            most = max(most, stack.acd_http_connections())
            if cpu1 is None and time.monotonic() >= step.started + step.seconds:
                cpu1 = stack.cpu()
                cpu1["sipp_callers"] = cpu_seconds(step.proc.pid)  # it started at 0
            time.sleep(0.5)
        finished = step.proc.poll() is not None
    finally:
        step.stop()
    if cpu1 is None:  # SIPp ended before the last new call was due
        cpu1 = {**stack.cpu(), "sipp_callers": 0.0}
    return finished, _cpu_pct({**cpu0, "sipp_callers": 0.0}, cpu1), most


def run_step(stack: Stack, side: str, rate: float, seconds: float, work: Path,
             args: argparse.Namespace) -> dict[str, Any]:
    inst = stack.inst
    assert inst is not None
    stack.app_taskprocessor(reset=True)
    before = stack.snapshot()
    acd_log_at = stack.acd_log_size()
    inst.mark_log()
    args.step_no += 1
    prefix = f"+19{args.step_no:04d}"  # + SIPp's call number: each caller's own number
    step = RampStep(target=f"{inst.sip_host}:{inst.sip_port}", source_ip=SIDES[side],
                    exten=EXTEN, rate=rate, seconds=seconds,
                    workdir=work / f"{side}-{rate:g}", number_prefix=prefix,
                    digit_after=args.digit_after, max_wait=args.max_wait, ring=stack.ring,
                    talk=stack.talk)
    finished, ramp_cpu, most_conns = _ramp(stack, step)
    left = stack.wait_quiet()
    if side == "acd":  # every call acd took is written before we count
        want = sum(before["acd_outcomes"].values()) + step.calls
        deadline = time.monotonic() + 10
        while stack.acd_calls_written() < want and time.monotonic() < deadline:
            time.sleep(0.1)
    res = step.result(connected=stack.connected(side, prefix))
    after = stack.snapshot()
    tp_after = stack.app_taskprocessor()
    c0, c1 = before["cpu"], after["cpu"]
    n_acd, acd_lines = _problems(stack.acd_log_since(acd_log_at))
    ast_log = inst.log_since_mark()
    n_ast, ast_lines = _problems(ast_log)
    per_call = max(1, res["created"])
    return {
        "side": side, **res, "caller_number_prefix": prefix,
        "finished": finished, "channels_left": left, "step_wall_s": round(c1["t"] - c0["t"], 1),
        # % of one core while the calls arrived (the ramp's `seconds`)
        "cpu_pct_of_one_core": ramp_cpu,
        # CPU ms per call over the whole step, tail included
        "cpu_ms_per_call": {k: round((c1[k] - c0[k]) * 1000 / per_call, 2)
                            for k in ("asterisk", "acd")},
        "acd_http_connections_max": most_conns,
        # Asterisk's event queues for the calls' apps, since the reset before this step
        "ari_app_events": {"processed": tp_after.get("processed"),
                           "max_queue": tp_after.get("max_depth"),
                           "per_call": round(tp_after.get("processed", 0) / per_call, 1)},
        "agent_answers": after["agent_answers"] - before["agent_answers"],
        "app_queue_counts": {q: _delta(before["app_queue"][q], after["app_queue"][q])
                             for q in (QUEUE, "fallback")},
        "acd_outcomes": _delta(before["acd_outcomes"], after["acd_outcomes"]),
        "acd_log_problems": {"n": n_acd, "sample": acd_lines},
        "asterisk_log_problems": {
            "n": n_ast, "sample": ast_lines,
            "http_session_limit": ast_log.count("HTTP session count exceeded"),
            "taskprocessor_overloaded": len(inst.taskprocessor_warnings(ast_log)),
            "stasis_app_missing": ast_log.count("doesn't exist")},
        "loadavg_before": before["loadavg"], "loadavg_after": after["loadavg"],
    }


def _fmt(v: float | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def table(steps: Sequence[dict[str, Any]]) -> str:
    head = ("rate/s", "side", "created", "succeeded", "failed", "achieved/s",
            "INVITE→200 p50 / p99 ms", "1→agent answer p50 / p99 ms",
            "Asterisk CPU %", "acd CPU %", "stasis msgs/call",
            "Asterisk / acd CPU ms/call")
    rows = [head, tuple("---" for _ in head)]
    for s in steps:
        inv, ag, cpu = s["invite_to_200_ms"], s["digit_to_agent_answer_ms"], \
            s["cpu_pct_of_one_core"]
        rows.append((
            f"{s['rate']:g}", "Stasis(acd)" if s["side"] == "acd" else "Queue()",
            str(s["created"]), str(s["succeeded"]),
            f"{s['failed']} ({s['failed_pct']:.1f} %)" if s["failed"] else "0",
            _fmt(s["achieved_rate"], 1), f"{_fmt(inv['p50'], 1)} / {_fmt(inv['p99'], 1)}",
            f"{_fmt(ag['p50'])} / {_fmt(ag['p99'])}", f"{cpu['asterisk']:.0f}",
            f"{cpu['acd']:.0f}" if s["side"] == "acd" else f"({cpu['acd']:.0f})",
            f"{s['ari_app_events']['per_call']:.0f}" if s["side"] == "acd" else "-",
            f"{s['cpu_ms_per_call']['asterisk']:.1f} / "
            + (f"{s['cpu_ms_per_call']['acd']:.1f}" if s["side"] == "acd" else "-")))
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.asterisk", description=__doc__)
    p.add_argument("--rates", default="5,10,20,40,60,80,100,120",
                   help="new calls a second, rising (default 5,10,20,40,60,80,100,120)")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each step")
    p.add_argument("--sides", default="acd,app_queue")
    p.add_argument("--max-failed", type=float, default=0.001,
                   help="fraction of failed calls a side may have and still hold a rate")
    p.add_argument("--digit-after", type=float, default=1.0,
                   help="seconds from the answer to pressing 1")
    p.add_argument("--max-wait", type=float, default=20.0,
                   help="seconds a caller waits after pressing 1 before the call fails")
    p.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    p.add_argument("--http-sessionlimit", type=int, default=None,
                   help="an experiment: raise Asterisk's HTTP session limit (default 100)")
    p.add_argument("--filter", choices=("allow", "disallow", "none"), default=None,
                   help="acd's ari.event_filter (default: acd's own default)")
    p.add_argument("--answer-first", action="store_true",
                   help="Answer() in the dialplan before Stasis() (ACD_ANSWER_FIRST=1)")
    p.add_argument("--apps", type=int, default=1,
                   help="ARI applications the dialplan spreads callers over (ACD_APPS)")
    p.add_argument("--procs", type=int, default=1,
                   help="acd processes on one Redis, sharing the applications")
    p.add_argument("--loop", choices=("uvloop", "asyncio"), default=None,
                   help="acd's event loop (ACD_EVENT_LOOP; default: acd's own default)")
    p.add_argument("--acd-src", default=None,
                   help="run acd from this checkout (e.g. /work/main for a 'before')")
    p.add_argument("--label", default="", help="a name for this run in the results file")
    args = p.parse_args(argv)
    args.rate_list = [float(r) for r in args.rates.split(",") if r.strip()]
    args.step_no = 0
    args.side_list = [s.strip() for s in args.sides.split(",") if s.strip()]
    unknown = [s for s in args.side_list if s not in SIDES]
    if unknown:
        p.error(f"unknown side(s) {', '.join(unknown)}; choose from {', '.join(SIDES)}")
    return args


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally that stops everything


def main(argv: list[str]) -> int:
    args = _parse(argv)
    reason = harness.skip_reason()
    if reason is not None:
        print(reason.replace("real-Asterisk tier skipped", "bench-asterisk cannot run"),
              file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    root = Path(tempfile.mkdtemp(prefix="acd-bench-asterisk-"))
    stack = Stack(root, levers=Levers(
        event_filter=args.filter, answer_first=args.answer_first, apps=args.apps,
        procs=args.procs, loop=args.loop, acd_src=args.acd_src))
    steps: list[dict[str, Any]] = []
    warmup: list[dict[str, Any]] = []
    held: dict[str, float | None] = dict.fromkeys(args.side_list)
    running = list(args.side_list)
    load0, t0 = os.getloadavg(), time.monotonic()
    keep = args.keep
    try:
        stack.start()
        assert stack.inst is not None
        if args.http_sessionlimit is not None:
            stack.set_http_sessionlimit(args.http_sessionlimit)
        print(f"Asterisk pid {stack.inst.proc.pid if stack.inst.proc else '?'}, "
              f"acd pid {stack.acd.pid if stack.acd else '?'}; work in {root}", flush=True)
        for side in args.side_list:
            warmup.append(run_step(stack, side, WARMUP_RATE, WARMUP_SECONDS,
                                   root / "warmup", args))
        for i, rate in enumerate(args.rate_list):
            # Alternate which side goes first, so neither always follows the other.
            for side in (running if i % 2 == 0 else running[::-1]):
                s = run_step(stack, side, rate, args.seconds, root / "steps", args)
                s["held"] = s["finished"] and s["created"] > 0 and \
                    s["failed"] <= args.max_failed * s["created"]
                steps.append(s)
                print(f"  {side:>9} {rate:>5g}/s: stasis msgs/call "
                      f"{s['ari_app_events']['per_call']}, CPU ms/call "
                      f"{s['cpu_ms_per_call']}, created {s['created']}, succeeded "
                      f"{s['succeeded']}, failed {s['failed']} {s['failures'] or ''}, "
                      f"INVITE→200 p99 "
                      f"{_fmt(s['invite_to_200_ms']['p99'], 1)} ms, CPU Asterisk "
                      f"{s['cpu_pct_of_one_core']['asterisk']} % acd "
                      f"{s['cpu_pct_of_one_core']['acd']} %", flush=True)
                if s["held"]:
                    held[side] = rate
            running = [side for side in running
                       if all(s["held"] for s in steps if s["side"] == side)]
            if not running:
                break
    except BaseException:
        keep = True
        raise
    finally:
        stack.stop()
        if keep:
            print(f"logs kept in {root}", flush=True)
        else:
            stack.remove_files()
    data = {
        "settings": {"rates": args.rate_list, "seconds": args.seconds,
                     "max_failed": args.max_failed, "digit_after": args.digit_after,
                     "max_wait": args.max_wait, "ring": stack.ring, "talk": stack.talk,
                     "agents": 180, "exten": EXTEN,
                     "http_sessionlimit": args.http_sessionlimit or "as shipped (http.conf)",
                     "label": args.label, "levers": str(stack.levers)},
        "notes": stack.notes,
        "highest_rate_held": held, "steps": steps, "warmup": warmup,
        "loadavg_before": load0, "loadavg_after": os.getloadavg(),
        "wall_s": round(time.monotonic() - t0, 1),
    }
    path = save("asterisk" + (f"-{args.label}" if args.label else ""), data)
    print()
    print(table(steps))
    print()
    for side in args.side_list:
        print(f"highest rate held with <= {args.max_failed:.1%} failed, {side}: "
              f"{_fmt(held[side])}/s")
    after = os.getloadavg()
    print(f"{data['wall_s']:.0f} s in all; load average {load0[0]:.2f} before, "
          f"{after[0]:.2f} after; saved {path}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))
    sys.exit(130)
