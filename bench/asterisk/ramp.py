"""One step of the SIPp ramp: callers at a fixed rate for some seconds, call by call.

The caller is sip_test/caller.xml: it presses 1 `digit_after` s after the answer
and waits for Asterisk's BYE; if none comes within `max_wait` s the call fails.
Each caller's number is the step's prefix followed by SIPp's call number, so that
what the queueing side recorded (acd's `calls` rows, app_queue's queue_log) can be
matched to the SIPp call.

Everything is taken per call from SIPp's message trace (-trace_msg), which SIPp
stamps to the microsecond (its own response-time counters step by 4 ms here):
INVITE to 200 OK, and the BYE. The agent phones answer after the ring time and
hang up after the talk time, so a caller served by an agent hears the BYE no
sooner than digit_after + ring + talk after its ACK; pressing 1 to the agent's
answer is that interval less digit_after and talk (ring included). A call
succeeds when SIPp completed it, its BYE came no sooner than that, and the
queueing side says it connected that caller to an agent.

Standard library only, so that sip_test/ramp.py runs without the venv.
"""

from __future__ import annotations

import csv
import re
import signal
import socket
import subprocess
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.asterisk.harness import free_port, free_udp_pair, stop_process
from tests.asterisk.sipp import render_caller

_MESSAGE = re.compile(
    r"^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n"
    r"UDP message (sent|received)[^\n]*\n\n([^\n]*)\n(.*?)(?=^-{10,} \d{4}-|\Z)",
    re.MULTILINE | re.DOTALL)
_CALL_ID = re.compile(r"^Call-ID:\s*(\d+)-", re.MULTILINE | re.IGNORECASE)
_CSEQ = re.compile(r"^CSeq:\s*\d+\s+(\w+)", re.MULTILINE | re.IGNORECASE)


def caller_scenario(digit_after: float, max_wait: float) -> str:
    """caller.xml: press 1 `digit_after` s after the answer, then wait for the BYE for
    at most `max_wait` s (a time-out fails the call instead of hanging up); the
    calling number is the `caller_id` key followed by SIPp's call number."""
    text = render_caller("caller.xml", ((digit_after, "1"),), max_wait)
    text, n = re.subn(r' ontimeout="local_bye" (next="remote_bye"/><!-- acd:hold_ms -->)',
                      r" \1", text)
    if n != 1:
        raise RuntimeError("caller.xml: the hold step (acd:hold_ms) was not found")
    text, n = re.subn(r"sip:\[caller_id\]@", "sip:[caller_id][call_number]@", text)
    if n < 2:
        raise RuntimeError("caller.xml: no From with [caller_id]")
    return text


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict[str, float | None]:
    return {"n": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99),
            "max": max(values) if values else None}


@dataclass
class CallTrace:
    """One SIPp call as its message trace shows it (epoch seconds)."""

    invite: float | None = None
    answer: float | None = None  # the first 200 OK to the INVITE
    final: str = ""  # a final response other than 200 to the INVITE
    ack: float | None = None
    bye_in: float | None = None  # Asterisk hung up
    bye_out: float | None = None  # SIPp hung up (a failed call)


def read_trace(path: Path) -> dict[int, CallTrace]:
    """SIPp call number -> what happened, from a -trace_msg file."""
    calls: dict[int, CallTrace] = {}
    if not path.exists():
        return calls
    for m in _MESSAGE.finditer(path.read_text(errors="replace")):
        stamp, direction, first, rest = m.groups()
        cid = _CALL_ID.search(rest)
        if cid is None:
            continue
        c = calls.setdefault(int(cid[1]), CallTrace())
        t = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
        if direction == "sent":
            if first.startswith("INVITE ") and c.invite is None:
                c.invite = t
            elif first.startswith("ACK ") and c.ack is None:
                c.ack = t
            elif first.startswith("BYE ") and c.bye_out is None:
                c.bye_out = t
        elif first.startswith("BYE ") and c.bye_in is None:
            c.bye_in = t
        elif first.startswith("SIP/2.0 "):
            cseq = _CSEQ.search(rest)
            code = first.split()[1]
            if cseq is None or cseq[1].upper() != "INVITE":
                continue
            if code == "200" and c.answer is None:
                c.answer = t
            elif code[0] in "3456" and not c.final:
                c.final = code
    return calls


@dataclass
class RampStep:
    """One SIPp caller process: `rate` new calls a second for `seconds` from `source_ip`."""

    target: str  # host:port of Asterisk's SIP transport
    source_ip: str
    exten: str
    rate: float
    seconds: float
    workdir: Path
    number_prefix: str = "+1555"  # the callers' numbers: prefix + SIPp call number
    digit_after: float = 1.0
    max_wait: float = 30.0
    ring: float = 0.5  # the agent phones' ring time before they answer
    talk: float = 1.0  # and their talk time before they hang up
    sipp: str = "sipp"
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    ended: float = 0.0

    @property
    def calls(self) -> int:
        return max(1, round(self.rate * self.seconds))

    def start(self) -> RampStep:
        self.workdir.mkdir(parents=True, exist_ok=True)
        xml = self.workdir / "caller.xml"
        xml.write_text(caller_scenario(self.digit_after, self.max_wait))
        ip = self.source_ip
        cmd = [self.sipp, self.target, "-sf", str(xml), "-s", self.exten,
               "-i", ip, "-p", str(free_port(ip, socket.SOCK_DGRAM)), "-mi", ip,
               "-mp", str(free_udp_pair(ip)),
               "-key", "caller_id", self.number_prefix, "-key", "caller_name", "Ramp",
               "-r", f"{self.rate:g}", "-m", str(self.calls),
               # never throttled by SIPp's own limit of simultaneous calls
               "-l", str(max(100, round(self.rate * (self.max_wait + 30)))),
               # a 200 OK or a BYE response that never comes fails the call
               "-recv_timeout", str(round((self.max_wait + 10) * 1000)),
               "-trace_stat", "-stf", str(self.workdir / "stat.csv"), "-fd", "1",
               "-trace_msg", "-message_file", str(self.workdir / "messages.txt"), "-nostdin"]
        self.started = time.monotonic()
        with (self.workdir / "sipp_out.txt").open("wb") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.workdir)
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for SIPp to end by itself (every call done); False on time-out."""
        assert self.proc is not None
        limit = timeout if timeout is not None else self.seconds + self.max_wait + 60
        try:
            self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            return False
        self.ended = time.monotonic()
        return True

    def stop(self) -> None:
        """No new calls, end the ongoing ones, then make sure (by its pid)."""
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc, first=signal.SIGUSR1, grace=5.0)
        if not self.ended:
            self.ended = time.monotonic()

    def result(self, connected: Collection[int] | None = None) -> dict[str, Any]:
        """What SIPp measured, call by call; call after wait() or stop().

        connected: the call numbers the queueing side says it put through to an
        agent (None: not known, every served call counts)."""
        stats = self._last_stats()
        calls = read_trace(self.workdir / "messages.txt")
        created = int(stats.get("TotalCallCreated", 0)) or len(calls)
        sipp_failed = int(stats.get("FailedCall(C)", 0))
        least = self.digit_after + self.ring + self.talk
        kinds = {"no_answer": 0, "no_bye": 0, "short": 0, "not_connected": 0}
        succeeded = 0
        to_agent: list[float] = []
        for n, c in calls.items():
            if c.answer is None or c.ack is None:
                kinds["no_answer"] += 1
            elif c.bye_in is None:
                kinds["no_bye"] += 1
            elif c.bye_in - c.ack < least - 0.005:  # SIPp's timers step by 4 ms
                kinds["short"] += 1
            elif connected is not None and n not in connected:
                kinds["not_connected"] += 1
            else:
                succeeded += 1
                to_agent.append((c.bye_in - c.ack - self.digit_after - self.talk) * 1000)
        invite = [(c.answer - c.invite) * 1000 for c in calls.values()
                  if c.answer is not None and c.invite is not None]
        answered_at = sorted(c.answer for c in calls.values() if c.answer is not None)
        span = answered_at[-1] - answered_at[0] if len(answered_at) > 1 else 0.0
        reasons = {k.removesuffix("(C)"): int(v) for k, v in stats.items()
                   if k.startswith("Failed") and k.endswith("(C)") and v not in ("", "0")
                   and k != "FailedCall(C)"}
        failed = created - succeeded
        return {
            "rate": self.rate, "seconds": self.seconds, "planned": self.calls,
            "created": created, "succeeded": succeeded, "failed": failed,
            "failed_pct": round(failed / created * 100, 3) if created else None,
            "failures": {k: v for k, v in kinds.items() if v},
            "unseen_in_trace": max(0, created - len(calls)),
            "sipp_successful": int(stats.get("SuccessfulCall(C)", 0)),
            "sipp_failed": sipp_failed, "sipp_failures": reasons,
            "final_responses": sorted({c.final for c in calls.values() if c.final}),
            # answered INVITEs a second, first to last 200 OK
            "achieved_rate": round((len(answered_at) - 1) / span, 2) if span > 0 else None,
            "invite_to_200_ms": summary(invite),
            "digit_to_agent_answer_ms": summary(to_agent),
            "sipp_exit": self.proc.returncode if self.proc is not None else None,
            "wall_s": round(self.ended - self.started, 2),
        }

    def _last_stats(self) -> dict[str, str]:
        path = self.workdir / "stat.csv"
        if not path.exists():
            return {}
        rows = list(csv.reader(path.read_text(errors="replace").splitlines(), delimiter=";"))
        if len(rows) < 2:
            return {}
        return dict(zip(rows[0], rows[-1], strict=False))
