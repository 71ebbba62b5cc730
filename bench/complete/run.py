"""Runs the sections of a plan, one after the other, each through the bench code
that already measures it; a section that fails records its error and the run goes on.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import queue
import time
import traceback
from collections.abc import Callable
from typing import Any

from bench import fullpath, fullpath2, scale
from bench.common import RESULTS
from bench.complete.areas import summarise
from bench.complete.plan import AsteriskRun, Plan, estimates
from bench.complete.tables import IDLE_LOAD, busy_pct


def asterisk(run: AsteriskRun, label: str) -> dict[str, Any]:
    """One `python -m bench.asterisk` in this process; its saved results."""
    from bench.asterisk.__main__ import main as asterisk_main

    rc = asterisk_main(run.argv(label))
    if rc != 0:
        raise RuntimeError(f"python -m bench.asterisk exited {rc}")
    data: dict[str, Any] = json.loads(
        (RESULTS / f"asterisk-{label}-latest.json").read_text())
    return data


def _waiting_child(out: Any, levels: tuple[int, ...], window: float) -> None:
    """A fresh process, so that earlier sections do not skew its RSS."""
    try:
        out.put(asyncio.run(fullpath.waiting(levels=levels, window=window)))
    except BaseException as exc:  # the parent must hear back, whatever happened
        out.put({"steps": [], "error": f"{type(exc).__name__}: {exc}"})


def waiting(levels: tuple[int, ...], window: float, timeout: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_waiting_child, args=(out, levels, window))
    proc.start()
    try:
        result: dict[str, Any] = out.get(True, timeout)
    except queue.Empty:
        result = {"steps": [], "error": f"not finished in {timeout:.0f} s; stopped"}
    proc.join(30)
    if proc.is_alive():
        proc.terminate()
        proc.join(10)
    return result


def profile(rate: float, seconds: float, at_ceiling: bool) -> dict[str, Any]:
    """`python -m bench profile` at `rate`, and its samples summed up by area."""
    from pyinstrument.session import Session

    res = asyncio.run(fullpath.profile(rate=rate, seconds=seconds))
    session = Session.load(res["session"])
    calls = int(res["step"]["placed"])
    return {**res, "rate": rate, "at_ceiling": at_ceiling, "calls": calls,
            "cpu_ms_per_call": res["step"]["cpu_ms_per_call"],
            "profiled_wall_s": session.duration, "profiled_cpu_s": session.cpu_time,
            "areas": summarise(session.frame_records, calls,
                               float(res["step"]["cpu_ms_per_call"]))}


def proc_stat() -> list[int]:
    """/proc/stat's `cpu` line: the machine's CPU time so far, by kind."""
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:]]


def settle(limit_s: float) -> float:
    """Wait up to `limit_s` for the 1-min load average to fall to IDLE_LOAD."""
    deadline = time.monotonic() + limit_s
    while os.getloadavg()[0] > IDLE_LOAD and time.monotonic() < deadline:
        time.sleep(2)
    return os.getloadavg()[0]


class Runner:
    """Runs a plan's sections into `self.sections` (name -> record)."""

    def __init__(self, plan: Plan, stamp: str, budget_s: float,
                 on_section: Callable[[], None] | None = None) -> None:
        self.plan, self.stamp, self.budget_s = plan, stamp, budget_s
        self.estimates = estimates(plan)
        self.sections: dict[str, dict[str, Any]] = {}
        self.on_section = on_section
        self.t0 = time.monotonic()

    def section(self, name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        est = self.estimates.get(name, 0.0)
        spent = time.monotonic() - self.t0
        rec: dict[str, Any] = {"estimate_s": est}
        if spent + est > self.budget_s:
            rec["error"] = (f"skipped: {spent:.0f} s spent, {est:.0f} s more would pass "
                            f"the {self.budget_s:.0f} s budget")
            print(f"== {name}: {rec['error']}", flush=True)
            self.sections[name] = rec
            return rec
        settle(self.plan.settle)
        stat0 = proc_stat()
        time.sleep(2)  # what the rest of the machine does while nothing of ours runs
        rec["busy_pct_before"] = busy_pct(stat0, proc_stat())
        rec["load_before"] = list(os.getloadavg())
        load = rec["load_before"][0]
        flag = "" if load <= IDLE_LOAD else f"  (above {IDLE_LOAD:g}: not idle)"
        print(f"== {name} (up to {est:.0f} s; {spent:.0f} s in so far), 1-min load "
              f"average before {load:.2f}{flag}, CPU busy "
              f"{rec['busy_pct_before'] or 0:.0f} %", flush=True)
        began = time.monotonic()
        try:
            rec["result"] = fn()
        except Exception as exc:  # one section failing must not stop the others
            # (Ctrl-C and SIGTERM, which bench.asterisk turns into SystemExit, do)
            traceback.print_exc()
            rec["error"] = f"{type(exc).__name__}: {exc}"[:500]
        rec["wall_s"] = round(time.monotonic() - began, 1)
        rec["load_after"] = list(os.getloadavg())
        print(f"   {name}: {rec['wall_s']:.0f} s, 1-min load after "
              f"{rec['load_after'][0]:.2f}", flush=True)
        self.sections[name] = rec
        if self.on_section is not None:
            self.on_section()
        return rec

    def _asterisk(self, name: str, run: AsteriskRun) -> None:
        label = f"complete-{self.stamp}-{name.replace('/', '-')}"
        self.section(name, lambda: asterisk(run, label))

    def all(self) -> None:
        p = self.plan
        groups = set(p.groups)
        if "levers" in groups:
            for run in p.levers:
                self._asterisk(f"levers/{run.name}", run)
        if "side_by_side" in groups:
            sbs = p.side_by_side
            self.section("side_by_side", lambda: asterisk(sbs, f"complete-{self.stamp}-sbs"))
        if "scaleout" in groups:
            for run in p.scaleout:
                self._asterisk(f"scaleout/{run.name}", run)
        if "scale" in groups:
            self.section("scale", lambda: asyncio.run(scale.run(p.scale_cases)))
        if "waiting" in groups:
            self.section("waiting", lambda: waiting(p.waiting_levels, p.waiting_window,
                                                    p.waiting_timeout))
        if "fullpath" in groups:
            self.section("fullpath", lambda: asyncio.run(
                fullpath.run(rates=p.fullpath_rates, seconds=p.sim_seconds)))
        if "fullpath2" in groups:
            self.section("fullpath2", lambda: asyncio.run(
                fullpath2.run(rates=p.fullpath2_rates, seconds=p.sim_seconds)))
        if "profile" in groups:
            held = (self.sections.get("fullpath", {}).get("result") or {}) \
                .get("highest_rate_held") or 0
            rate = float(held) if held else float(p.fullpath_rates[0])
            self.section("profile", lambda: profile(rate, p.profile_seconds, bool(held)))
