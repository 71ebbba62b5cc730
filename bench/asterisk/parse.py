"""`python -m bench.asterisk.parse`: acd's CPU per ARI event from frame to typed event.

The frames are the events a real Asterisk 22 sent in ../shared/ari/traces (421 of
them: calls answered, abandoned, transferred, recorded...). For each way of
decoding (the standard library's json, orjson) and each event mix (every event, or
only those the allow-list filter lets through), the CPU time (`time.process_time`)
of decoding and parsing each frame as `acd.ari.stream.EventStream._on_text` does.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from acd.app import CALL_EVENTS
from acd.ari.events import parse_event

TRACES = Path(__file__).resolve().parents[3] / "shared" / "ari" / "traces"


def frames() -> list[str]:
    out: list[str] = []
    for path in sorted(TRACES.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("kind") == "event":
                out.append(json.dumps(rec["body"]))
    return out


def cost_us(texts: list[str], loads: Callable[[str], Any], rounds: int) -> float:
    began = time.process_time()
    for _ in range(rounds):
        for text in texts:
            parse_event(loads(text))
    return (time.process_time() - began) / (rounds * len(texts)) * 1e6


def main() -> int:
    texts = frames()
    if not texts:
        print(f"no traces in {TRACES}", file=sys.stderr)
        return 2
    allowed = [t for t in texts if json.loads(t)["type"] in CALL_EVENTS]
    print(f"{len(texts)} events ({len(allowed)} of them in CALL_EVENTS), "
          f"{sum(map(len, texts)) / len(texts):.0f} bytes on average")
    print("| decoder | µs per event (all) | µs per event (allowed only) |")
    print("| --- | --- | --- |")
    for name, loads in (("json", json.loads), ("orjson", orjson.loads)):
        cost_us(texts, loads, 20)  # warm up
        whole = min(cost_us(texts, loads, 100) for _ in range(3))
        only = min(cost_us(allowed, loads, 100) for _ in range(3))
        print(f"| {name} | {whole:.1f} | {only:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
