"""The pure parts of a complete run: ceilings, the idle verdict, markdown tables.

Everything here reads the result dicts that `bench.asterisk` and `bench`'s sections
already produce; nothing measures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

IDLE_LOAD = 1.0  # the 1-min load average above which a step did not start idle
MAX_FAILED = 0.001  # a rate is held with <= 0.1 % failed calls


def held(step: Mapping[str, Any], max_failed: float = MAX_FAILED) -> bool:
    """SIPp ended by itself, made calls, and at most `max_failed` of them failed."""
    created = int(step.get("created") or 0)
    return bool(step.get("finished")) and created > 0 \
        and int(step.get("failed") or 0) <= max_failed * created


def ceiling(steps: Iterable[Mapping[str, Any]], side: str = "acd",
            max_failed: float = MAX_FAILED) -> float | None:
    """The highest rate of `side` held with every lower rate held too (None: the
    first rate failed or none ran)."""
    best: float | None = None
    for step in sorted((s for s in steps if s.get("side") == side),
                       key=lambda s: float(s["rate"])):
        if not held(step, max_failed):
            break
        best = float(step["rate"])
    return best


def idle_verdict(loads: Sequence[tuple[str, float]], limit: float = IDLE_LOAD
                 ) -> tuple[bool, str]:
    """Whether every step began with a 1-min load average <= `limit`, and a line
    that says so (naming the steps that did not)."""
    if not loads:
        return False, "no step ran: idleness not known"
    busy = [(name, load) for name, load in loads if load > limit]
    top = max(loads, key=lambda x: x[1])
    if not busy:
        return True, (f"idle: every step began with a 1-min load average <= {limit:g} "
                      f"(highest {top[1]:.2f}, before {top[0]})")
    named = ", ".join(f"{n} {v:.2f}" for n, v in busy[:6])
    more = f" and {len(busy) - 6} more" if len(busy) > 6 else ""
    return False, (f"NOT idle: {len(busy)} of {len(loads)} steps began with a 1-min load "
                   f"average above {limit:g} ({named}{more})")


def busy_pct(before: Sequence[int], after: Sequence[int]) -> float | None:
    """% of the machine's CPU time busy between two readings of /proc/stat's `cpu`
    line (user nice system idle iowait irq softirq steal ...)."""
    d = [b - a for a, b in zip(before, after, strict=False)]
    total = sum(d[:8])
    if total <= 0:
        return None
    return (total - d[3] - (d[4] if len(d) > 4 else 0)) / total * 100


def md_table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = [head, ["---"] * len(head), *rows]
    return "\n".join("| " + " | ".join(str(c) for c in r) + " |" for r in lines)


def fmt(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def effect(v: float | None, base: float | None) -> str:
    """`v` and its change against the baseline's `base`, e.g. `12.0 (-20 %)`."""
    if v is None:
        return "-"
    if base is None or base == 0:
        return fmt(v)
    pct = (v - base) / base * 100
    return f"{v:.1f} ({'±0' if abs(pct) < 0.5 else f'{pct:+.0f}'} %)"


def step_at(steps: Iterable[Mapping[str, Any]], rate: float | None, side: str = "acd"
            ) -> Mapping[str, Any] | None:
    return next((s for s in steps if s.get("side") == side and rate is not None
                 and float(s["rate"]) == rate), None)


def common_rate(runs: Iterable[Sequence[Mapping[str, Any]]]) -> float | None:
    """The rate at which to compare runs of one ladder: the highest every run held,
    else the lowest any ran."""
    listed = [list(r) for r in runs]
    tops = [ceiling(r) for r in listed]
    if tops and all(t is not None for t in tops):
        return min(t for t in tops if t is not None)
    rates = [float(s["rate"]) for r in listed for s in r]
    return min(rates) if rates else None


def per_call(step: Mapping[str, Any] | None) -> dict[str, float | None]:
    """What a lever changes, from one bench.asterisk step."""
    if step is None:
        return dict.fromkeys(("stasis", "asterisk_ms", "acd_ms", "p50", "p99"))
    cpu = step.get("cpu_ms_per_call") or {}
    inv = step.get("invite_to_200_ms") or {}
    return {"stasis": (step.get("ari_app_events") or {}).get("per_call"),
            "asterisk_ms": cpu.get("asterisk"), "acd_ms": cpu.get("acd"),
            "p50": inv.get("p50"), "p99": inv.get("p99")}


def levers_table(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """One row per run (the first is the baseline): per-call figures at the common
    rate with each one's change against the baseline, and each run's ceiling."""
    ok = [(t, r) for t, r in runs if "error" not in r]
    rate = common_rate(r.get("steps", []) for _, r in ok)
    base = per_call(step_at(ok[0][1].get("steps", []), rate)) if ok else per_call(None)
    rows = []
    for title, res in runs:
        if "error" in res:
            rows.append([title, *(["-"] * 5), f"failed: {str(res['error'])[:80]}"])
            continue
        steps = res.get("steps", [])
        pc = per_call(step_at(steps, rate))
        top = ceiling(steps)
        nxt = next((s for s in steps if top is None or float(s["rate"]) > top), None)
        after = " (the highest tried)" if nxt is None else \
            f" ({float(nxt['rate']):g}/s: {nxt.get('failed_pct') or 0:.1f} % failed)"
        rows.append([title, effect(pc["stasis"], base["stasis"]),
                     effect(pc["asterisk_ms"], base["asterisk_ms"]),
                     effect(pc["acd_ms"], base["acd_ms"]),
                     f"{fmt(pc['p50'])} / {fmt(pc['p99'])}",
                     f"{fmt(top, 0)}/s{after}" if top is not None else f"none{after}",
                     load_range(steps)])
    head = ["run", f"stasis msgs/call @{fmt(rate, 0)}/s",
            f"Asterisk CPU ms/call @{fmt(rate, 0)}/s", f"acd CPU ms/call @{fmt(rate, 0)}/s",
            f"INVITE→200 p50 / p99 ms @{fmt(rate, 0)}/s", "ceiling (≤ 0.1 % failed)",
            "1-min load before steps"]
    return md_table(head, rows)


def load_range(steps: Iterable[Mapping[str, Any]]) -> str:
    loads = [float(s["loadavg_before"][0]) for s in steps if s.get("loadavg_before")]
    return f"{min(loads):.1f}-{max(loads):.1f}" if loads else "-"


def scaleout_table(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """acd processes against the ceiling and the CPU per call at each one's ceiling."""
    rows = []
    for title, res in runs:
        if "error" in res:
            rows.append([title, "-", "-", "-", "-", f"failed: {str(res['error'])[:80]}"])
            continue
        steps = res.get("steps", [])
        top = ceiling(steps)
        pc = per_call(step_at(steps, top if top is not None else common_rate([steps])))
        cpu = (step_at(steps, top) or {}).get("cpu_pct_of_one_core") or {}
        rows.append([title, f"{fmt(top, 0)}/s", fmt(pc["acd_ms"]), fmt(pc["asterisk_ms"]),
                     f"{fmt(cpu.get('acd'), 0)} / {fmt(cpu.get('asterisk'), 0)}",
                     f"{fmt(pc['p50'])} / {fmt(pc['p99'])}"])
    head = ["acd side", "ceiling (≤ 0.1 % failed)", "acd CPU ms/call (all processes)",
            "Asterisk CPU ms/call", "acd / Asterisk CPU % of a core",
            "INVITE→200 p50 / p99 ms"]
    return md_table(head, rows) + \
        "\n\nCPU and latency at each run's ceiling (at its lowest rate if none held)."


def scale_table(res: Mapping[str, Any]) -> str:
    rows = []
    for r in res.get("runs", []):
        d = r["enqueue_to_offer"]
        rows.append([f"{r['agents']:,}", str(r["skills"]), f"{r['waiting']:,}",
                     f"{d['p50_ms']:.2f} / {d['p99_ms']:.2f}", f"{r['cpu_ms_per_call']:.2f}",
                     f"{r['redis_commands_per_call']:.1f}", f"{r['scripts_per_call']:.2f}",
                     str(r["unoffered"])])
    return md_table(["agents", "skills", "already waiting", "enqueue→offer p50 / p99 ms",
                     "CPU ms/call", "Redis cmds/call", "scripts/call", "unoffered"], rows)


def waiting_table(res: Mapping[str, Any]) -> str:
    rows = []
    for s in res.get("steps", []):
        if "error" in s:
            rows.append([f"{s['level']:,}", "-", "-", "-", str(s.get("faults_logged", "-")),
                         f"stopped: {s['error'][:80]}"])
            continue
        rows.append([f"{s['waiting']:,}", f"{s['cpu_ms_per_waiting_call_per_min']:.2f}",
                     f"{s['redis_commands_per_waiting_call_per_min']:.2f}",
                     f"{s['rss_per_waiting_call_kib']:.1f}", str(s["faults_logged"]), ""])
    out = md_table(["waiting", "CPU ms/call/min", "Redis cmds/call/min", "RSS KiB/call",
                    "faults", "note"], rows)
    if res.get("error"):
        out += f"\n\nSection error: {res['error']}"
    return out


def fullpath_table(one: Mapping[str, Any] | None, two: Mapping[str, Any] | None) -> str:
    rows = []
    for s in (one or {}).get("steps", []):
        rows.append(["1", f"{s['rate_per_s']:g}", fmt(s["event_lag_ms"]["p99"]),
                     str(s["failed"]), f"{s['cpu_ms_per_call']:.2f}",
                     "yes" if s.get("held") else "NO"])
    for s in (two or {}).get("steps", []):
        rows.append(["2", f"{s['rate_per_s']:g}", fmt(s["lag_p99_ms"]), str(s["failed"]),
                     " / ".join(f"{n['cpu_ms_per_call']:.2f}" for n in s["nodes"]),
                     "yes" if s.get("held") else "NO"])
    out = md_table(["acd nodes", "new calls/s", "event-lag p99 ms", "failed",
                    "acd CPU ms/call (per node)", "held"], rows)
    tops = [f"{n} node{'s' if n > 1 else ''}: {r['highest_rate_held']:g}/s"
            for n, r in ((1, one), (2, two)) if r and "highest_rate_held" in r]
    return out + ("\n\nHighest rate held (0 failed, lag p99 ≤ 20 ms): " + "; ".join(tops)
                  if tops else "")


def loads_table(sections: Mapping[str, Mapping[str, Any]]) -> str:
    rows = [[name, fmt(s.get("load_before", [None])[0], 2),
             fmt(s.get("load_after", [None])[0], 2), fmt(s.get("busy_pct_before"), 0),
             fmt(s.get("wall_s"), 0), fmt(s.get("estimate_s"), 0),
             "failed" if "error" in s else "ok"]
            for name, s in sections.items()]
    return md_table(["step", "1-min load before", "after",
                     "CPU busy % before (2 s, nothing of ours running)", "wall s",
                     "estimated s", "result"], rows)
