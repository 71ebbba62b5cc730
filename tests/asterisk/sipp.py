"""SIPp callers and agent phones for the real-Asterisk tier.

Scenarios come from sip_test/; the times and digits marked `acd:...` in them are
rendered into a copy per run. The verdict of a run is SIPp's exit code, its
final statistics (successful / failed calls) and the `acd:...` markers the
scenario logged.
"""

from __future__ import annotations

import asyncio
import csv
import os
import re
import signal
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.asterisk.harness import SIP_TEST, free_port, free_udp_pair, stop_process

PCAPS = Path("/usr/share/sip-tester")
DIGIT_PCAP = {**{str(d): str(d) for d in range(10)}, "*": "star", "#": "pound"}
CALLER_SCENARIOS = ("caller.xml", "caller_abandon.xml")
PHONE_SCENARIOS = {"answer": "agent_answer.xml", "busy": "agent_busy.xml",
                   "noanswer": "agent_noanswer.xml", "silent": "agent_silent.xml"}


def _ms(seconds: float) -> str:
    return str(max(1, round(seconds * 1000)))


def render_caller(scenario: str, dtmf: Sequence[tuple[float, str | Path]],
                  hold: float | None) -> str:
    """caller.xml with the digits (each: seconds after the previous step, digit, or a
    pcap of keys of its own: tests/asterisk/dtmf_pcap.py) and the hold time after
    the last digit (seconds; None = until Asterisk hangs up)."""
    text = (SIP_TEST / scenario).read_text()
    steps: list[str] = []
    for i, (delay, digit) in enumerate(dtmf, start=1):
        if isinstance(digit, Path):
            pcap = digit
        elif digit not in DIGIT_PCAP:
            raise ValueError(f"no RFC 4733 pcap for digit {digit!r}")
        else:
            pcap = PCAPS / f"dtmf_2833_{DIGIT_PCAP[digit]}.pcap"
        steps += [
            f'  <recv request="BYE" timeout="{_ms(delay)}" ontimeout="dtmf{i}" next="remote_bye"/>',
            f'  <label id="dtmf{i}"/>',
            f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>',
        ]
    text, n = re.subn(r"  <!-- acd:dtmf-begin.*?<!-- acd:dtmf-end -->",
                      "\n".join(steps), text, flags=re.DOTALL)
    if n != 1:
        raise RuntimeError(f"{scenario}: no acd:dtmf block")
    return _set_timeout(text, "hold_ms", 24 * 3600.0 if hold is None else hold)


def render_agent(behaviour: str, talk: float | None) -> str:
    text = (SIP_TEST / PHONE_SCENARIOS[behaviour]).read_text()
    if behaviour == "answer" and talk is not None:
        text = _set_timeout(text, "talk_ms", talk)
    return text


def _set_timeout(text: str, marker: str, seconds: float) -> str:
    pattern = rf'timeout="\d+"(.*<!-- acd:{marker} -->)'
    text, n = re.subn(pattern, rf'timeout="{_ms(seconds)}"\1', text)
    if n != 1:
        raise RuntimeError(f"no line marked acd:{marker}")
    return text


@dataclass
class SippResult:
    returncode: int
    successful: int
    failed: int
    markers: list[str]
    errors: str

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.successful > 0 and self.returncode in (0, 97)


@dataclass
class Sipp:
    """One SIPp process we started. Files: scenario, log (markers), errors, stats."""

    name: str
    workdir: Path
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None
    result: SippResult | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def log_file(self) -> Path:
        return self.workdir / f"{self.name}_log.txt"

    def start(self) -> Sipp:
        self.workdir.mkdir(parents=True, exist_ok=True)
        files = ["-trace_logs", "-log_file", str(self.log_file),
                 "-trace_err", "-error_file", str(self.workdir / f"{self.name}_err.txt"),
                 "-trace_stat", "-stf", str(self.workdir / f"{self.name}_stat.csv"), "-fd", "1"]
        if os.environ.get("ACD_SIPP_TRACE_MSG") == "1":  # every SIP message, for debugging
            files += ["-trace_msg", "-message_file", str(self.workdir / f"{self.name}_msg.txt")]
        with (self.workdir / f"{self.name}_out.txt").open("wb") as out:
            self.proc = subprocess.Popen(["sipp", *self.args, "-nostdin", *files],
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd=self.workdir)
        return self

    def markers(self) -> list[str]:
        if not self.log_file.exists():
            return []
        return re.findall(r"acd:[a-z0-9-]+", self.log_file.read_text(errors="replace"))

    async def wait_marker(self, marker: str, timeout: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while marker not in self.markers():
            if loop.time() > deadline:
                raise AssertionError(
                    f"{self.name}: no {marker} within {timeout} s; saw {self.markers()}")
            await asyncio.sleep(0.05)

    async def wait(self, timeout: float = 60.0) -> SippResult:
        """Wait for SIPp to end by itself (a caller with -m) and read its verdict."""
        assert self.proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.proc.poll() is None:
            if loop.time() > deadline:
                self.stop()
                raise AssertionError(f"{self.name}: sipp still running after {timeout} s")
            await asyncio.sleep(0.05)
        return self._verdict()

    def stop(self) -> SippResult:
        """Ask SIPp to finish (SIGUSR1: no new calls, then quit), then make sure."""
        if self.result is not None:
            return self.result
        assert self.proc is not None
        stop_process(self.proc, first=signal.SIGUSR1, grace=3.0)
        return self._verdict()

    def _verdict(self) -> SippResult:
        assert self.proc is not None and self.proc.returncode is not None
        ok = failed = 0
        stat = self.workdir / f"{self.name}_stat.csv"
        if stat.exists():
            rows = list(csv.reader(stat.read_text(errors="replace").splitlines(), delimiter=";"))
            if len(rows) >= 2:
                head, last = rows[0], rows[-1]
                ok = int(last[head.index("SuccessfulCall(C)")])
                failed = int(last[head.index("FailedCall(C)")])
        err = self.workdir / f"{self.name}_err.txt"
        errors = err.read_text(errors="replace") if err.exists() else ""
        self.result = SippResult(self.proc.returncode, ok, failed, self.markers(), errors)
        return self.result


def caller(workdir: Path, name: str, asterisk_host: str, asterisk_port: int, *,
           exten: str = "100", caller_id: str = "+15551", caller_name: str = "Caller",
           dtmf: Sequence[tuple[float, str | Path]] = ((2.0, "1"),),
           hold: float | None = 10.0,
           source_ip: str = "127.0.0.2", scenario: str = "caller.xml") -> Sipp:
    """One call (-m 1) from source_ip to `exten`. Not started: call .start()."""
    if scenario not in CALLER_SCENARIOS:
        raise ValueError(f"unknown caller scenario {scenario}")
    workdir.mkdir(parents=True, exist_ok=True)
    xml = workdir / f"{name}.xml"
    xml.write_text(render_caller(scenario, dtmf, hold))
    port = free_port(source_ip, socket.SOCK_DGRAM)
    args = [f"{asterisk_host}:{asterisk_port}", "-sf", str(xml), "-s", exten,
            "-i", source_ip, "-p", str(port), "-mi", source_ip,
            "-mp", str(free_udp_pair(source_ip)), "-m", "1",
            "-key", "caller_id", caller_id, "-key", "caller_name", caller_name]
    return Sipp(name=name, workdir=workdir, args=args)


def phone(workdir: Path, behaviour: str, ip: str, port: int, *,
          ring: float = 0.5, talk: float | None = None) -> Sipp:
    """A SIPp phone serving every agent whose contact is ip:port. Not started."""
    workdir.mkdir(parents=True, exist_ok=True)
    name = f"phone_{behaviour}"
    xml = workdir / f"{name}.xml"
    xml.write_text(render_agent(behaviour, talk))
    args = ["-sf", str(xml), "-i", ip, "-p", str(port), "-mi", ip,
            "-mp", str(free_udp_pair(ip)), "-d", _ms(ring) if ring > 0 else "0"]
    return Sipp(name=name, workdir=workdir, args=args)


def register(workdir: Path, name: str, asterisk_host: str, asterisk_port: int, *,
             aor: str, password: str, ip: str, expires: int = 60) -> Sipp:
    """One REGISTER of `aor` (expires 0: every contact removed). Not started."""
    workdir.mkdir(parents=True, exist_ok=True)
    xml = workdir / f"{name}.xml"
    xml.write_text((SIP_TEST / "phone_register.xml").read_text())
    port = free_port(ip, socket.SOCK_DGRAM)
    contact = "*" if expires == 0 else f"<sip:{aor}@{ip}:{port}>"
    args = [f"{asterisk_host}:{asterisk_port}", "-sf", str(xml), "-s", aor, "-au", aor,
            "-ap", password, "-i", ip, "-p", str(port), "-m", "1",
            "-key", "expires", str(expires), "-key", "contact", contact]
    return Sipp(name=name, workdir=workdir, args=args)


def phone_call(workdir: Path, name: str, asterisk_host: str, asterisk_port: int, *,
               number: str, agent: str, password: str, ip: str,
               hold: float = 20.0) -> Sipp:
    """Agent `agent`'s softphone calls `number` (a colleague) and talks `hold` s."""
    workdir.mkdir(parents=True, exist_ok=True)
    xml = workdir / f"{name}.xml"
    xml.write_text(_set_timeout((SIP_TEST / "phone_call.xml").read_text(), "hold_ms", hold))
    port = free_port(ip, socket.SOCK_DGRAM)
    args = [f"{asterisk_host}:{asterisk_port}", "-sf", str(xml), "-s", number, "-au", agent,
            "-ap", password, "-i", ip, "-p", str(port), "-mi", ip,
            "-mp", str(free_udp_pair(ip)), "-m", "1", "-key", "agent", agent]
    return Sipp(name=name, workdir=workdir, args=args)
