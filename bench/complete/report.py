"""The markdown of a complete run, from its JSON (pure: `--render` remakes it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.complete.areas import areas_table
from bench.complete.tables import (
    ceiling,
    fullpath_table,
    idle_verdict,
    levers_table,
    loads_table,
    scale_table,
    scaleout_table,
    waiting_table,
)


def _result(sections: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A section's result, or {'error': ...} when it failed or did not run."""
    rec = sections.get(name)
    if rec is None:
        return {"error": "not run"}
    if "error" in rec:
        return {"error": rec["error"]}
    return dict(rec.get("result") or {})


def _failed(sections: Mapping[str, Any], *names: str) -> str:
    errs = [f"{n}: {sections[n]['error']}" for n in names
            if n in sections and "error" in sections[n]]
    return "".join(f"\n\n**Failed** {e}" for e in errs)


def machine_md(data: Mapping[str, Any]) -> str:
    m = data.get("machine", {})
    sections = data.get("sections", {})
    loads = [(n, float(s["load_before"][0])) for n, s in sections.items()
             if s.get("load_before")]
    _, verdict = idle_verdict(loads)
    return "\n".join([
        f"- CPU: {m.get('cpu')}, {m.get('cores')} cores; RAM {m.get('memory_gib')} GiB; "
        f"kernel {m.get('kernel')}; Python {m.get('python')}",
        f"- {m.get('redis', '')}; {m.get('postgres', '')}",
        f"- mode `{data.get('mode')}`, started {data.get('started')}, "
        f"{float(data.get('wall_s', 0)) / 60:.1f} min in all "
        f"(estimated at most {float(data.get('estimate_s', 0)) / 60:.1f} min)",
        f"- **{verdict}**",
        "", loads_table(sections)])


def side_by_side_md(res: Mapping[str, Any]) -> str:
    if "error" in res:
        return f"**Failed**: {res['error']}"
    from bench.asterisk.__main__ import table

    steps = res.get("steps", [])
    lines = [table(steps), ""]
    for side in dict.fromkeys(str(x["side"]) for x in steps):
        top = ceiling(steps, side)
        lines.append(f"- highest rate held with ≤ 0.1 % failed, {side}: "
                     f"{'none' if top is None else f'{top:g}/s'}")
    lines.append(f"- settings: {res.get('settings', {}).get('levers', '')}; "
                 f"{res.get('settings', {}).get('seconds')} s steps")
    return "\n".join(lines)


def profile_md(res: Mapping[str, Any]) -> str:
    if "error" in res:
        return f"**Failed**: {res['error']}"
    where = "the full path's ceiling" if res.get("at_ceiling") else \
        "the full path's first rate (it held none)"
    cpu = (f"; {res['profiled_cpu_s']:.1f} s of CPU in {res['profiled_wall_s']:.1f} s "
           "profiled") if "profiled_wall_s" in res else ""
    return (f"pyinstrument over one full-path step (simulator) at {res['rate']:g} calls/s, "
            f"{where} ({res['calls']} calls; acd {res['cpu_ms_per_call']:.2f} CPU ms "
            f"per call{cpu}). Shares are of the "
            "sampled busy time; ms per call are those shares of the CPU per call. "
            f"Report: {res['report']}.\n\n"
            + areas_table(res.get("areas", [])))


def report(data: Mapping[str, Any]) -> str:
    s = data.get("sections", {})
    lever_names = [n for n in s if n.startswith("levers/")]
    scaleout = [n for n in s if n.startswith("scaleout/")]
    titles = data.get("titles", {})
    sbs = _result(s, "side_by_side")
    one = [("1 acd process (shipped, from the side by side)", sbs)] if "error" not in sbs \
        else []
    parts = [
        f"# One complete benchmark run ({data.get('started')})",
        "## Machine", machine_md(data),
        "## Levers, one at a time (real Asterisk, acd side only)",
        "Each row is its own run (own Asterisk and acd) over the same rates; each lever "
        "is on alone against the baseline (first row); changes against the baseline in "
        "brackets.\n\n"
        + levers_table([(titles.get(n, n), _result(s, n)) for n in lever_names]),
        "## Side by side, shipped config", side_by_side_md(sbs),
        "## Scale-out: acd processes on one Redis, one Asterisk (acd side only)",
        scaleout_table(one + [(titles.get(n, n), _result(s, n)) for n in scaleout]),
        "## Routing cost as agents, skills and waiting calls grow (`bench scale`)",
        scale_table(_result(s, "scale")) + _failed(s, "scale"),
        "## Waiting callers, announced every 30 s (`bench waiting`)",
        waiting_table(_result(s, "waiting")) + _failed(s, "waiting"),
        "## Full path, one node and two nodes (`bench fullpath fullpath2`)",
        fullpath_table(_result(s, "fullpath"), _result(s, "fullpath2"))
        + _failed(s, "fullpath", "fullpath2"),
        "## Where acd's CPU per call goes (profile at the ceiling)",
        profile_md(_result(s, "profile")),
    ]
    return "\n\n".join(parts) + "\n"
