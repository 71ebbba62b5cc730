"""The benchmark ramp against a real Asterisk configured from config/asterisk/.

SIPp callers dial 100 at rising rates and press 1 (RFC 4733); agent phones must be
running (see README.md) and acd attached to Asterisk. For each rate it reports
what SIPp measures: calls created, successful and failed, the rate achieved, and
the INVITE-to-200 response time p50/p99 (from `-trace_rtt`).

    python sip_test/ramp.py --asterisk 127.0.0.1:5060 --rates 5,10,20,40 --seconds 20

`--source-ip 127.0.0.3` sends the same ramp through the bench trunk, straight into
Asterisk's own Queue(), for the side-by-side comparison.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_step(args: argparse.Namespace, rate: float, work: Path) -> dict[str, object]:
    calls = max(1, int(rate * args.seconds))
    cmd = [
        args.sipp, args.asterisk, "-sf", str(HERE / "caller.xml"), "-s", args.exten,
        "-i", args.source_ip, "-p", str(args.port), "-mi", args.source_ip,
        "-mp", str(args.media_port), "-key", "caller_id", "+15550000",
        "-key", "caller_name", "Ramp", "-r", str(rate), "-m", str(calls),
        "-l", str(max(10, int(rate * 60))), "-trace_stat", "-fd", "1", "-trace_rtt",
        "-rtt_freq", "1", "-stf", str(work / "stat.csv"), "-nostdin",
    ]
    timeout = args.seconds + 120
    proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, timeout=timeout)
    stats: dict[str, str] = {}
    stat_file = work / "stat.csv"
    if stat_file.exists():
        rows = list(csv.DictReader(stat_file.open(), delimiter=";"))
        if rows:
            stats = rows[-1]
    rtts: list[float] = []
    for rtt_file in work.glob("*_rtt.csv"):
        for row in csv.DictReader(rtt_file.open(), delimiter=";"):
            value = row.get("rtd1") or row.get("response_time_repartition_rtd1")
            if value:
                try:
                    rtts.append(float(value))
                except ValueError:
                    pass
        rtt_file.unlink()
    stat_file.unlink(missing_ok=True)

    def num(key: str) -> float:
        try:
            return float(stats.get(key, "0") or 0)
        except ValueError:
            return 0.0

    elapsed = num("ElapsedTime(C)") if "ElapsedTime(C)" in stats else None
    return {
        "rate": rate, "created": num("TotalCallCreated"),
        "successful": num("SuccessfulCall(C)"), "failed": num("FailedCall(C)"),
        "sipp_exit": proc.returncode, "elapsed": elapsed,
        "invite_to_200_p50_ms": _percentile(rtts, 50),
        "invite_to_200_p99_ms": _percentile(rtts, 99),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--asterisk", default="127.0.0.1:5060")
    p.add_argument("--exten", default="100")
    p.add_argument("--source-ip", default="127.0.0.2")
    p.add_argument("--port", type=int, default=5062)
    p.add_argument("--media-port", type=int, default=17000)
    p.add_argument("--rates", default="5,10,20,40")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--sipp", default="sipp")
    p.add_argument("--max-failed", type=float, default=0.001, help="fraction; stop above it")
    args = p.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="acd-ramp-") as tmp:
        for rate in (float(r) for r in args.rates.split(",")):
            step = run_step(args, rate, Path(tmp))
            results.append(step)
            print(json.dumps(step), flush=True)
            created = float(step["created"] or 0)  # type: ignore[arg-type]
            failed = float(step["failed"] or 0)  # type: ignore[arg-type]
            if created and failed / created > args.max_failed:
                break
    held = [r["rate"] for r in results
            if r["created"]
            and float(r["failed"]) / float(r["created"]) <= args.max_failed]  # type: ignore[arg-type]
    best = max(held) if held else "none"  # type: ignore[type-var]
    print(f"highest rate held with <= {args.max_failed:.1%} failed: {best}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
