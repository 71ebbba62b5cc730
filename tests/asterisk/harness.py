"""A throwaway real Asterisk 22 for tests, started from the project's config/asterisk/.

The files are copied unchanged into a temporary folder except for what must differ
on a shared test machine: the folders (asterisk.conf), the HTTP port (http.conf),
the SIP transport address and port (pjsip.conf), and the agents' phones, which get
static contacts on SIPp phones (pjsip_wizard_local.conf, the site-local include).

Phones (as in the recordings under ../shared/ari/traces):
  agent100..agent279 answer, agent280..agent284 ring forever, agent290..agent299 are busy;
  agent285..agent288 have no contact until a test's SIPp phone REGISTERs; agent289
  answers and sends no media (RTP timeout 4 s).
Callers come from 127.0.0.2 (endpoint caller-trunk, context from-pstn) or from
127.0.0.3 (bench-trunk, straight to app_queue).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "asterisk"
SIP_TEST = REPO / "sip_test"
KIT_INSTALL = REPO.parent / "shared" / "asterisk" / "install.sh"

ARI_USER = "acd"  # the password is generated per instance (config/asterisk/make-secrets.sh)
CALLER_IP = "127.0.0.2"
BENCH_CALLER_IP = "127.0.0.3"
PHONE_IPS = {"answer": "127.0.0.11", "noanswer": "127.0.0.12", "busy": "127.0.0.13",
             "silent": "127.0.0.14"}
# The tier's own softphones (REGISTER, calls between agents) send from here.
SOFTPHONE_IP = "127.0.0.15"
# agent289's phone answers and sends no media; its RTP timeout is this short so a
# test sees Asterisk end the call (the shipped value is 30 s).
SILENT_AGENT = 289
SILENT_RTP_TIMEOUT = 4
START_TIMEOUT = 30.0


def agent_behaviour(number: int) -> str:
    """What the test phone of PJSIP/agent<number> does: answer, noanswer or busy."""
    if number == SILENT_AGENT:
        return "silent"
    if 280 <= number <= 289:
        return "noanswer"
    if 290 <= number <= 299:
        return "busy"
    return "answer"


AGENT_NUMBERS = range(100, 300)
# Phones with no static contact: they REGISTER (or stay unregistered) in the tests
# (tests/asterisk/test_phones.py); out of the bench queue and the other scenarios.
REGISTERING = range(285, 289)


def skip_reason() -> str | None:
    """Why this tier cannot run here, or None when it can."""
    if not KIT_INSTALL.is_file():
        return f"real-Asterisk tier skipped: {KIT_INSTALL} is absent (the Asterisk 22 kit)"
    if os.geteuid() != 0:
        return f"real-Asterisk tier skipped: needs root to install and run {KIT_INSTALL}"
    return None


def ensure_installed() -> None:
    """Install the kit (idempotent) when asterisk or sipp is not on PATH."""
    if shutil.which("asterisk") and shutil.which("sipp"):
        return
    subprocess.run([str(KIT_INSTALL)], check=True, capture_output=True, timeout=900)


def ensure_prompts() -> None:
    """Every prompt acd plays, as shipped (config/asterisk/make-prompts.sh; skips the
    ones already there)."""
    subprocess.run(["sh", str(CONFIG / "make-prompts.sh")], check=True, capture_output=True,
                   timeout=600)


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    """A port free on host right now (TCP or UDP)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_udp_pair(host: str) -> int:
    """An even UDP port p with p and p+1 free (RTP and RTCP)."""
    for _ in range(200):
        p = free_port(host, socket.SOCK_DGRAM) & ~1
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a, socket.socket(
                socket.AF_INET, socket.SOCK_DGRAM
            ) as b:
                a.bind((host, p))
                b.bind((host, p + 1))
            return p
        except OSError:
            continue
    raise RuntimeError(f"no free UDP port pair on {host}")


def stop_process(proc: subprocess.Popen[bytes], first: int = signal.SIGTERM,
                 grace: float = 5.0) -> int:
    """Stop one process we started, by its pid: `first`, then SIGKILL after `grace` s."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, first)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    return int(proc.returncode)


@dataclass
class AsteriskInstance:
    """One running throwaway Asterisk. `ari_url` is the base, without /ari."""

    root: Path
    ari_url: str
    user: str
    password: str
    sip_host: str
    sip_port: int
    log_path: Path
    console_path: Path
    phones: dict[str, tuple[str, int]]
    proc: subprocess.Popen[bytes] | None = None
    startup_log: str = ""
    _log_offset: int = field(default=0)

    @property
    def conf(self) -> Path:
        return self.root / "asterisk.conf"

    def agent_password(self, aor: str) -> str:
        """The SIP password make-secrets.sh generated for agent phone `aor`."""
        section = ""
        for line in (self.root / "etc" / "pjsip_wizard_secrets.conf").read_text().splitlines():
            if line.startswith("["):
                section = line[1:].split("]", 1)[0]
            elif section == aor and line.startswith("inbound_auth/password = "):
                return line.split("=", 1)[1].strip()
        raise RuntimeError(f"no password for {aor} in pjsip_wizard_secrets.conf")

    def env(self) -> dict[str, str]:
        """Environment for `acd run` against this Asterisk."""
        return {
            "ACD_ARI_URL": self.ari_url,
            "ACD_ARI_USER": self.user,
            "ACD_ARI_PASSWORD": self.password,
        }

    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run one CLI command through the control socket and return its output."""
        out = subprocess.run(
            ["asterisk", "-C", str(self.conf), "-rx", command],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        return out.stdout.decode(errors="replace")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def mark_log(self) -> None:
        """Remember where the log ends, so `log_since_mark()` shows only what follows."""
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since_mark(self) -> str:
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as f:
            f.seek(self._log_offset)
            return f.read().decode(errors="replace")

    def error_lines(self, text: str | None = None) -> list[str]:
        return [line for line in (text if text is not None else self.log_text()).splitlines()
                if re.search(r"\bERROR\[", line)]

    def taskprocessor_warnings(self, text: str | None = None) -> list[str]:
        """Lines where Asterisk says a task processor queue is overloaded."""
        return [line for line in (text if text is not None else self.log_text()).splitlines()
                if "taskprocessor" in line.lower() or "task processor" in line.lower()]

    def reset_taskprocessors(self) -> None:
        """Zero every task processor's counters, Max Depth included."""
        self.cli("core reset taskprocessors")

    def taskprocessor_depths(self) -> dict[str, tuple[int, int]]:
        """`core show taskprocessors`: name -> (deepest queue since the last reset,
        the depth at which Asterisk warns that the queue "reached N scheduled tasks")."""
        out: dict[str, tuple[int, int]] = {}
        for line in self.cli("core show taskprocessors").splitlines():
            f = line.split()
            # Processor  Processed  In Queue  Max Depth  Low water  High water  ...
            if len(f) >= 6 and all(x.isdigit() for x in f[1:6]):
                out[f[0]] = (int(f[3]), int(f[5]))
        return out

    def channels_concise(self) -> list[list[str]]:
        """`core show channels concise`: one list of '!'-separated fields per channel."""
        return [line.split("!") for line in self.cli("core show channels concise").splitlines()
                if "!" in line]

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, grace=10.0)


def _write_asterisk_conf(root: Path) -> None:
    d = {k: root / k for k in ("etc", "run", "log", "spool", "db")}
    for p in d.values():
        p.mkdir(parents=True, exist_ok=True)
    # Where ARI recordings go (a packaged Asterisk makes it; ARI answers 500 without it).
    (d["spool"] / "recording").mkdir(exist_ok=True)
    (root / "asterisk.conf").write_text(
        "[directories]\n"
        f"astetcdir => {d['etc']}\n"
        "astmoddir => /usr/lib/asterisk/modules\n"
        "astvarlibdir => /var/lib/asterisk\n"
        "astdatadir => /var/lib/asterisk\n"
        "astkeydir => /var/lib/asterisk\n"
        "astagidir => /var/lib/asterisk/agi-bin\n"
        f"astdbdir => {d['db']}\n"
        f"astspooldir => {d['spool']}\n"
        f"astrundir => {d['run']}\n"
        f"astlogdir => {d['log']}\n"
        "astsbindir => /usr/sbin\n"
        "[options]\n"
        "nofork = yes\n"
    )


def _rewrite(path: Path, pattern: str, repl: str) -> None:
    text = path.read_text()
    new, n = re.subn(pattern, repl, text, flags=re.MULTILINE)
    if n != 1:
        raise RuntimeError(f"{path.name}: expected one line matching {pattern!r}, found {n}")
    path.write_text(new)


def prepare(root: Path, http_port: int, sip_port: int,
            phones: dict[str, tuple[str, int]]) -> None:
    """Copy config/asterisk/ into root/etc and change only paths, ports and phones; the
    secrets are made as an installation makes them (make-secrets.sh)."""
    _write_asterisk_conf(root)
    etc = root / "etc"
    for f in CONFIG.glob("*.conf"):
        if not f.name.endswith(("_secrets.conf", "_local.conf")):  # a developer's own
            shutil.copy(f, etc / f.name)
    subprocess.run(["sh", str(CONFIG / "make-secrets.sh"), str(etc)], check=True,
                   capture_output=True, timeout=60,
                   env={**os.environ, "ACD_SECRETS_ENV": str(root / "secrets.env"),
                        "ACD_DOCKER_ENV": ""})
    _rewrite(etc / "http.conf", r"^bindport\s*=.*$", f"bindport = {http_port}")
    _rewrite(etc / "pjsip.conf", r"^bind\s*=\s*0\.0\.0\.0:5060\s*$", f"bind = 127.0.0.1:{sip_port}")
    # SIPp phones and callers answer no OPTIONS: the shipped qualify would mark them
    # Unreachable, so these static contacts (and the carrier's) are not qualified.
    _rewrite(etc / "pjsip.conf", r"^qualify_frequency\s*=\s*60.*$", "qualify_frequency = 0")
    lines = ["; written by tests/asterisk/harness.py: static contacts on SIPp phones"]
    for n in AGENT_NUMBERS:
        if n in REGISTERING:
            continue  # these register themselves (tests/asterisk/test_phones.py)
        ip, port = phones[agent_behaviour(n)]
        lines += [f"[agent{n}](+)", f"aor/contact = sip:agent{n}@{ip}:{port}",
                  "aor/qualify_frequency = 0"]
        if n == SILENT_AGENT:
            lines += [f"endpoint/rtp_timeout = {SILENT_RTP_TIMEOUT}"]
    for n in REGISTERING:  # registered by SIPp, which answers no OPTIONS either
        lines += [f"[agent{n}](+)", "aor/qualify_frequency = 0"]
    (etc / "pjsip_wizard_local.conf").write_text("\n".join(lines) + "\n")


def ari_password(root: Path) -> str:
    """The ARI password make-secrets.sh generated for the instance in root."""
    for line in (root / "secrets.env").read_text().splitlines():
        if line.startswith("ACD_ARI_PASSWORD="):
            return line.split("=", 1)[1]
    raise RuntimeError(f"no ACD_ARI_PASSWORD in {root / 'secrets.env'}")


def start_asterisk(root: Path) -> AsteriskInstance:
    """Start Asterisk in root (an empty folder) and wait until ARI answers.

    Raises RuntimeError with the log when it does not come up or logs an ERROR.
    """
    import urllib.error
    import urllib.request

    http_port = free_port()
    sip_port = free_port("127.0.0.1", socket.SOCK_DGRAM)
    phones = {b: (ip, free_port(ip, socket.SOCK_DGRAM)) for b, ip in PHONE_IPS.items()}
    prepare(root, http_port, sip_port, phones)
    inst = AsteriskInstance(
        root=root, ari_url=f"http://127.0.0.1:{http_port}", user=ARI_USER,
        password=ari_password(root), sip_host="127.0.0.1", sip_port=sip_port,
        log_path=root / "log" / "messages.log", console_path=root / "console.log",
        phones=phones,
    )
    with inst.console_path.open("wb") as console:
        inst.proc = subprocess.Popen(
            ["asterisk", "-C", str(inst.conf), "-f", "-n"],
            stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
            cwd=root, start_new_session=True,
        )
    auth = urllib.request.HTTPBasicAuthHandler()
    auth.add_password("Asterisk REST Interface", inst.ari_url, inst.user, inst.password)
    opener = urllib.request.build_opener(auth)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if inst.proc.poll() is not None:
            raise RuntimeError(f"asterisk exited ({inst.proc.returncode}):\n{_tail(inst)}")
        ready = "Asterisk Ready." in inst.console_path.read_text(errors="replace")
        if ready:
            try:
                with opener.open(f"{inst.ari_url}/ari/asterisk/info", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
        if time.monotonic() > deadline:
            inst.stop()
            raise RuntimeError(f"asterisk not ready after {START_TIMEOUT} s:\n{_tail(inst)}")
        time.sleep(0.2)
    inst.startup_log = inst.console_path.read_text(errors="replace")
    return inst


def _tail(inst: AsteriskInstance, n: int = 60) -> str:
    text = inst.console_path.read_text(errors="replace") if inst.console_path.exists() else ""
    return "\n".join(text.splitlines()[-n:])
