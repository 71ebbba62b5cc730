"""The SIPp ramp by hand, against an Asterisk configured from config/asterisk/.

Callers dial a number at rising rates and press 1 (RFC 4733) a second after the
answer; the agent phones must be running (answer after 0.5 s, hang up after 1 s
of talk: see README.md) and, for the Stasis side, acd attached. For each rate it
prints what SIPp saw, call by call (bench/asterisk/ramp.py): calls created,
succeeded, failed, the rate achieved, INVITE-to-200 p50/p99 and pressing 1 to the
agent's answer p50/p99. It stops at the first rate with more than 0.1 % failed.

    python3 sip_test/ramp.py --asterisk 127.0.0.1:5060 --rates 5,10,20,40 --seconds 20

`--source-ip 127.0.0.3` sends the same ramp through the bench trunk into
Asterisk's own Queue(). `make bench-asterisk` (python -m bench.asterisk) does all
of it on a throwaway Asterisk, both sides, with CPU figures.

Here a call succeeds when SIPp completed it and its BYE came no sooner than
pressing 1 + ring + talk; unlike the bench, nothing checks that acd or app_queue
really bridged it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.asterisk.ramp import RampStep  # after the repository is on sys.path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--asterisk", default="127.0.0.1:5060", help="host:port of Asterisk's SIP")
    p.add_argument("--exten", default="200", help="the number dialled (default 200)")
    p.add_argument("--source-ip", default="127.0.0.2",
                   help="127.0.0.2: caller-trunk, Stasis(acd); 127.0.0.3: Queue(bench)")
    p.add_argument("--rates", default="5,10,20,40")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--ring", type=float, default=0.5, help="the agent phones' ring time")
    p.add_argument("--talk", type=float, default=1.0, help="the agent phones' talk time")
    p.add_argument("--max-wait", type=float, default=20.0,
                   help="seconds after pressing 1 before a caller with no BYE fails")
    p.add_argument("--sipp", default="sipp")
    p.add_argument("--max-failed", type=float, default=0.001, help="fraction; stop above it")
    args = p.parse_args(argv)
    held: float | None = None
    with tempfile.TemporaryDirectory(prefix="acd-ramp-") as tmp:
        for i, rate in enumerate(float(r) for r in args.rates.split(",")):
            step = RampStep(target=args.asterisk, source_ip=args.source_ip, exten=args.exten,
                            rate=rate, seconds=args.seconds, workdir=Path(tmp) / f"step{i}",
                            number_prefix=f"+19{i:04d}", max_wait=args.max_wait,
                            ring=args.ring, talk=args.talk, sipp=args.sipp)
            step.start()
            if not step.wait():
                step.stop()
            res = step.result()
            print(json.dumps(res), flush=True)
            if not res["created"] or res["failed"] > args.max_failed * res["created"]:
                break
            held = rate
    print(f"highest rate held with <= {args.max_failed:.1%} failed: "
          f"{'none' if held is None else f'{held:g}/s'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
