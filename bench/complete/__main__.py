"""`python -m bench.complete [--quick]`: one complete benchmark run, in one go.

On the real Asterisk (`python -m bench.asterisk`, one run each): the levers one at
a time against a baseline with everything off, the shipped config side by side
with app_queue up the whole ladder, 2 and 4 acd processes; then `python -m
bench`'s growth sections (scale, waiting, fullpath, fullpath2) and a profile of
acd at the full path's ceiling, summarised by area. Before each section the
machine's 1-min load average is printed and recorded; the run is called idle only
if none was above 1.0.

Writes bench/results/complete-<time>.json and complete-<time>.md (the tables,
ready for BENCHMARKS.md). `--quick` checks the tool in a few minutes (short
steps, few rates); the full mode prints its estimate first and stays under its
budget (40 min) by skipping what would not fit. `--render FILE.json` remakes the
markdown of a saved run. Needs root and the Asterisk kit (as bench.asterisk).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, machine
from bench.complete.plan import FULL, QUICK, Plan, estimates, group_of
from bench.complete.report import report
from bench.complete.run import Runner
from tests.asterisk import harness

GROUPS = FULL.groups


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.complete", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short steps, few rates (~5 min)")
    p.add_argument("--only", default="",
                   help=f"comma-separated groups to run, of {','.join(GROUPS)} (default all)")
    p.add_argument("--budget-min", type=float, default=40.0,
                   help="skip a section that would end past this many minutes (default 40)")
    p.add_argument("--settle", type=float, default=None,
                   help="seconds at most to wait for a 1-min load <= 1.0 before each "
                        "section (default 40 full, 0 quick)")
    p.add_argument("--render", type=Path, default=None,
                   help="only remake the markdown of a saved complete-<time>.json")
    args = p.parse_args(argv)
    only = tuple(g.strip() for g in args.only.split(",") if g.strip())
    unknown = [g for g in only if g not in GROUPS]
    if unknown:
        p.error(f"unknown group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    args.groups = only or GROUPS
    return args


def _plan(args: argparse.Namespace) -> Plan:
    base = QUICK if args.quick else FULL
    settle = base.settle if args.settle is None else args.settle
    return Plan(**{**base.__dict__, "groups": args.groups, "settle": settle})


def _write(data: dict[str, Any], stem: str) -> tuple[Path, Path]:
    RESULTS.mkdir(parents=True, exist_ok=True)
    js, md = RESULTS / f"{stem}.json", RESULTS / f"{stem}.md"
    js.write_text(json.dumps(data, indent=2, default=str))
    md.write_text(report(data))
    return js, md


def main(argv: list[str]) -> int:
    args = _parse(argv)
    if args.render is not None:
        out = args.render.with_suffix(".md")
        out.write_text(report(json.loads(args.render.read_text())))
        print(f"wrote {out}")
        return 0
    plan = _plan(args)
    if {"levers", "side_by_side", "scaleout"} & set(plan.groups):
        reason = harness.skip_reason()
        if reason is not None:
            print(reason.replace("real-Asterisk tier skipped", "bench.complete cannot run"),
                  file=sys.stderr)
            return 2
    stamp = time.strftime("%Y%m%d-%H%M%S")
    est = {k: v for k, v in estimates(plan).items() if group_of(k) in plan.groups}
    total = sum(est.values())
    print(f"bench.complete, {plan.mode} mode: {len(est)} sections, estimated at most "
          f"{total / 60:.1f} min (budget {args.budget_min:g} min)", flush=True)
    for name, s in est.items():
        print(f"  {name:<22} up to {s:5.0f} s", flush=True)
    data: dict[str, Any] = {
        "benchmark": "complete", "mode": plan.mode, "started": stamp,
        "machine": machine(), "estimate_s": total, "plan": repr(plan),
        "titles": {f"{g}/{r.name}": r.title for g, runs in
                   (("levers", plan.levers), ("scaleout", plan.scaleout)) for r in runs},
    }
    def save_so_far() -> None:  # a run stopped half-way still leaves its tables
        _write({**data, "sections": runner.sections,
                "wall_s": round(time.monotonic() - runner.t0, 1)}, f"complete-{stamp}")
    runner = Runner(plan, stamp, args.budget_min * 60, on_section=save_so_far)
    try:
        runner.all()
    finally:
        data["sections"] = runner.sections
        data["wall_s"] = round(time.monotonic() - runner.t0, 1)
        js, md = _write(data, f"complete-{stamp}")
    print()
    print(md.read_text())
    print(f"{data['wall_s'] / 60:.1f} min in all (estimated at most {total / 60:.1f}); "
          f"saved {js} and {md}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))
    sys.exit(130)
