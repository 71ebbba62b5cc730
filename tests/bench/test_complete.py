"""bench.complete's pure parts: ceilings, the idle verdict, the tables, the plan."""

from __future__ import annotations

from typing import Any

import pytest

from bench.complete import plan
from bench.complete.areas import IDLE, OTHER, area_of, summarise
from bench.complete.report import report
from bench.complete.tables import (
    busy_pct,
    ceiling,
    common_rate,
    effect,
    held,
    idle_verdict,
    levers_table,
    md_table,
)


def step(rate: float, created: int = 100, failed: int = 0, finished: bool = True,
         side: str = "acd", **more: Any) -> dict[str, Any]:
    return {"side": side, "rate": rate, "created": created, "failed": failed,
            "finished": finished, **more}


@pytest.mark.parametrize(("s", "ok"), [
    (step(10), True),
    (step(10, created=1000, failed=1), True),  # 0.1 % is still held
    (step(10, created=1000, failed=2), False),
    (step(10, created=100, failed=1), False),
    (step(10, finished=False), False),  # SIPp had to be stopped
    (step(10, created=0), False),  # no call made
])
def test_held(s: dict[str, Any], ok: bool) -> None:
    assert held(s) is ok


@pytest.mark.parametrize(("steps", "side", "want"), [
    ([], "acd", None),
    ([step(10), step(20), step(40, failed=5)], "acd", 20.0),
    ([step(10, failed=5)], "acd", None),
    # a rate held above a failed one does not count: the ladder stops at the first
    ([step(10), step(20, failed=5), step(40)], "acd", 10.0),
    # out of order, and the other side's failures do not matter
    ([step(40), step(10), step(20), step(10, side="app_queue", failed=9)], "acd", 40.0),
    ([step(10), step(10, side="app_queue"), step(20, side="app_queue", failed=3)],
     "app_queue", 10.0),
])
def test_ceiling(steps: list[dict[str, Any]], side: str, want: float | None) -> None:
    assert ceiling(steps, side) == want


@pytest.mark.parametrize(("loads", "idle", "words"), [
    ([], False, "not known"),
    ([("levers/baseline", 0.4), ("scale", 1.0)], True, "highest 1.00, before scale"),
    ([("levers/baseline", 0.4), ("scale", 1.01)], False, "1 of 2 steps"),
    ([("a", 3.5), ("b", 2.0), ("c", 0.1)], False, "a 3.50, b 2.00"),
    ([(f"s{i}", 2.0) for i in range(8)], False, "and 2 more"),
])
def test_idle_verdict(loads: list[tuple[str, float]], idle: bool, words: str) -> None:
    ok, line = idle_verdict(loads)
    assert ok is idle
    assert words in line
    assert line.startswith("idle") == idle


@pytest.mark.parametrize(("v", "base", "want"), [
    (None, 10.0, "-"),
    (12.0, None, "12.0"),
    (12.0, 0.0, "12.0"),
    (12.0, 10.0, "12.0 (+20 %)"),
    (10.04, 10.0, "10.0 (±0 %)"),
    (9.96, 10.0, "10.0 (±0 %)"),  # no "-0 %"
    (8.0, 10.0, "8.0 (-20 %)"),
])
def test_effect(v: float | None, base: float | None, want: str) -> None:
    assert effect(v, base) == want


@pytest.mark.parametrize(("runs", "want"), [
    ([[step(20), step(40), step(60, failed=9)], [step(20), step(40, failed=9)]], 20.0),
    ([[step(20), step(40)], [step(20, failed=9)]], 20.0),  # one held nothing: lowest
    ([], None),
])
def test_common_rate(runs: list[list[dict[str, Any]]], want: float | None) -> None:
    assert common_rate(runs) == want


@pytest.mark.parametrize(("before", "after", "want"), [
    # user nice system idle iowait irq softirq steal guest guest_nice
    ([0] * 10, [10, 0, 10, 80, 0, 0, 0, 0, 5, 0], 20.0),  # guest time is in user
    ([5] * 10, [5, 5, 5, 95, 5, 5, 5, 5, 5, 5], 0.0),
    ([0] * 10, [0, 0, 50, 25, 25, 0, 0, 0, 0, 0], 50.0),  # iowait is idle
    ([0] * 10, [0] * 10, None),  # no time passed
])
def test_busy_pct(before: list[int], after: list[int], want: float | None) -> None:
    assert busy_pct(before, after) == want


def test_md_table() -> None:
    assert md_table(["a", "b"], [["1", "2"]]) == "| a | b |\n| --- | --- |\n| 1 | 2 |"


def lever_step(rate: float, acd_ms: float, failed: int = 0) -> dict[str, Any]:
    return step(rate, failed=failed, ari_app_events={"per_call": 100.0},
                cpu_ms_per_call={"asterisk": 20.0, "acd": acd_ms},
                invite_to_200_ms={"p50": 2.0, "p99": 9.5}, failed_pct=failed,
                loadavg_before=[0.5, 0.4, 0.3])


def test_levers_table_compares_at_the_common_rate_against_the_baseline() -> None:
    out = levers_table([
        ("base", {"steps": [lever_step(20, 10.0), lever_step(40, 12.0, failed=5)]}),
        ("lever", {"steps": [lever_step(20, 8.0), lever_step(40, 9.0)]}),
        ("broken", {"error": "RuntimeError: Asterisk did not start"}),
    ])
    lines = out.splitlines()
    assert "acd CPU ms/call @20/s" in lines[0]
    assert "| base | 100.0 (±0 %) | 20.0 (±0 %) | 10.0 (±0 %) | 2.0 / 9.5 | 20/s " \
        "(40/s: 5.0 % failed) | 0.5-0.5 |" == lines[2]
    assert "8.0 (-20 %)" in lines[3] and "40/s (the highest tried) |" in lines[3]
    assert lines[4].startswith("| broken |") and "Asterisk did not start" in lines[4]


def frame(path: str, fn: str = "f") -> str:
    return f"{fn}\x00{path}\x0012"


SITE = "/venv/lib/python3.11/site-packages"


@pytest.mark.parametrize(("stack", "area"), [
    ([frame("/w/acd/calls/service.py"), frame(f"{SITE}/redis/asyncio/client.py")],
     "Redis (redis-py)"),
    ([frame("/w/acd/people/live.py"), frame("/usr/lib/python3.11/json/encoder.py")],
     "live snapshot (acd/people)"),  # json is no area: charged to its caller
    ([frame("/usr/lib/python3.11/asyncio/base_events.py"),
      frame("/usr/lib/python3.11/selectors.py", "select"), frame("<built-in>", "poll")],
     IDLE),
    ([frame("/usr/lib/python3.11/asyncio/events.py"), frame("/w/acd/routing/x.py")],
     "routing logic (acd/routing, acd/agents)"),
    ([frame("/w/bench/fullpath.py")], OTHER),
    ([frame(f"{SITE}/aiohttp/client.py")], "ARI over HTTP (aiohttp)"),
    # a socket write inside asyncio's transport: charged to who wrote (redis-py's
    # own asyncio/ folder is redis-py, not the event loop)
    ([frame("/w/acd/calls/records.py"), frame(f"{SITE}/redis/asyncio/connection.py"),
      frame("/usr/lib/python3.11/asyncio/streams.py"),
      frame("/usr/lib/python3.11/asyncio/selector_events.py"),
      frame("<built-in>", "socket.send")], "Redis (redis-py)"),
    # the loop's own bookkeeping, with no other area on the stack
    ([frame("/usr/lib/python3.11/asyncio/base_events.py", "_run_once"),
      frame("<built-in>", "len")], "event loop (asyncio, uvloop)"),
])
def test_area_of(stack: list[str], area: str) -> None:
    assert area_of(stack) == area


def test_summarise_leaves_idle_out_and_divides_by_calls() -> None:
    rows = summarise([([frame(f"{SITE}/redis/x.py")], 0.3),
                      ([frame("/w/acd/calls/m.py")], 0.1),
                      ([frame("/x/selectors.py")], 5.0)], calls=100)
    assert [r["area"] for r in rows] == ["Redis (redis-py)", "call logic (acd/calls)"]
    assert rows[0]["ms_per_call"] == pytest.approx(3.0)
    assert rows[0]["share"] == pytest.approx(0.75)
    # given the CPU per call measured beside it, ms per call are its shares
    rows = summarise([([frame(f"{SITE}/redis/x.py")], 0.3),
                      ([frame("/w/acd/calls/m.py")], 0.1)], calls=100, cpu_ms_per_call=8.0)
    assert [r["ms_per_call"] for r in rows] == pytest.approx([6.0, 2.0])


def test_full_mode_fits_its_budget_and_quick_is_shorter() -> None:
    full, quick = plan.estimates(plan.FULL), plan.estimates(plan.QUICK)
    assert sum(full.values()) < 40 * 60
    assert sum(quick.values()) < sum(full.values()) / 3
    assert set(full) == set(quick)
    assert {plan.group_of(k) for k in full} == set(plan.FULL.groups)


def test_each_lever_changes_one_setting_of_the_baseline() -> None:
    runs = plan.FULL.levers
    assert runs[0].flags == plan.BASELINE
    assert {r.rates for r in runs} == {plan.FULL.levers[0].rates}  # the same ladder
    for run in runs[1:]:
        base = dict(zip(plan.BASELINE[::2], plan.BASELINE[1::2], strict=True))
        flags = list(run.flags)
        extra = [f for f in flags if f == "--answer-first"]
        for f in extra:
            flags.remove(f)
        mine = dict(zip(flags[::2], flags[1::2], strict=True))
        changed = {k for k in base.keys() | mine.keys() if base.get(k) != mine.get(k)}
        changed |= set(extra)
        # 2 processes need 2 applications: the one lever that moves two flags
        assert changed in ({"--filter"}, {"--loop"}, {"--answer-first"}, {"--apps"},
                           {"--apps", "--procs"}), run.name


def test_report_renders_failed_and_missing_sections() -> None:
    data = {"mode": "quick", "started": "20261202-150000", "machine": {"cpu": "X"},
            "sections": {
                "levers/baseline": {"load_before": [0.5, 0, 0], "result": {"steps": [
                    lever_step(10, 10.0)]}},
                "side_by_side": {"load_before": [1.5, 0, 0], "error": "boom"},
                "scale": {"load_before": [0.2, 0, 0], "result": {"runs": []}},
            }}
    out = report(data)
    assert "NOT idle: 1 of 3 steps" in out and "side_by_side 1.50" in out
    assert "**Failed**: boom" in out
    assert "| baseline" not in out and "| levers/baseline |" in out
    assert "**Failed**: not run" in out  # the profile
