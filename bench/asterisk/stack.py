"""What the side-by-side run stands on, started together and stopped by pid.

One throwaway Asterisk from config/asterisk/ (tests/asterisk/harness.py), one SIPp
phone answering for the 180 agents agent100..agent279, a fresh PostgreSQL
database and Redis prefix, and acd as its own process (`python -m acd run` with a
generated config), so that its CPU is counted apart from ours and Asterisk's.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import redis
import yaml

from bench.procs import unique
from bench.writer import _drop_db, _fresh_db
from tests.asterisk import harness, sipp

REDIS_URL = "redis://127.0.0.1:6379/0"
AGENTS = range(100, 280)  # the answering phones; the bench queue's 180 members
EXTEN = "200"  # extensions.conf [queue-bench] 200 and the flow below
QUEUE = "bench"
TICK = os.sysconf("SC_CLK_TCK")

# The same steps as extensions.conf [queue-bench] 200: a beep, press 1 within 5 s
# for the queue, else goodbye; no announcements while waiting (announce-frequency=0).
FLOW = f"""\
name: bench_asterisk
numbers: ["{EXTEN}"]
start: menu
nodes:
  menu:
    type: menu
    prompt: sound:beep
    options: {{"1": queue}}
    timeout: 5
    retries: 0
    on_invalid: goodbye
    on_timeout: goodbye
  queue:
    type: queue
    queue: {QUEUE}
    announce: {{position: false}}
  goodbye:
    type: hangup
    prompt: sound:vm-goodbye
"""


def cpu_seconds(pid: int) -> float:
    """utime + stime of a live process, from /proc/<pid>/stat."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def app_names(apps: int) -> list[str]:
    """The calls' ARI applications as extensions.conf names them for ACD_APPS=`apps`."""
    return ["acd"] if apps <= 1 else [f"acd-{i}" for i in range(apps)]


def acd_config(inst: harness.AsteriskInstance, prefix: str, dsn: str, root: Path,
               levers: Levers | None = None, node: int = 0) -> dict[str, Any]:
    """acd's settings for the bench: queue `bench` like queues.conf [bench]. Process
    `node` of `levers.procs` serves its share of the applications."""
    lv = levers or Levers()
    names = app_names(lv.apps)
    mine = names[node::lv.procs]
    ari: dict[str, Any] = {"url": inst.ari_url, "app": mine[0], "user": inst.user}
    if mine[1:]:
        ari["apps"] = mine[1:]
    if lv.event_filter is not None:  # absent: the acd under test's own default
        ari["event_filter"] = lv.event_filter
    return {
        "ari": ari,
        "api": {"host": "127.0.0.1", "port": 0},
        "redis_url": REDIS_URL, "redis_prefix": prefix, "pg_dsn": dsn,
        "flows": str(root / "flows"), "node_id": f"{prefix}-n{node + 1}",
        "writer": {"spool_dir": str(root / "spool")},
        # app_queue: no auto-pause, retry = 1 s before ringing a member again
        "routing": {"max_missed": 0, "missed_retry_delay": 1},
        # app_queue: timeout = 15, wrapuptime = 0, Queue(bench,,,,300)
        "queues": [{"name": QUEUE, "skills": {QUEUE: 1}, "strategy": "longest_idle",
                    "ring_timeout": 15, "wrapup": 0, "max_wait": 300}],
        "agents": [{"id": f"agent{n}", "name": f"Agent {n}", "endpoint": f"PJSIP/agent{n}",
                    "skills": {QUEUE: 1}, "login": True} for n in AGENTS],
    }


@dataclass
class Levers:
    """What a run changes to cut the work per call (BENCHMARKS.md, levers)."""

    event_filter: str | None = None  # allow / disallow / none; None: acd's default
    answer_first: bool = False  # Answer() in the dialplan before Stasis()
    apps: int = 1  # ARI applications the dialplan spreads callers over
    procs: int = 1  # acd processes on one Redis, sharing the applications
    loop: str | None = None  # ACD_EVENT_LOOP for acd: uvloop / asyncio
    acd_src: str | None = None  # run acd from this checkout (PYTHONPATH), e.g. a "before"

    def __post_init__(self) -> None:
        if not 1 <= self.procs <= len(app_names(self.apps)):
            raise ValueError("every acd process needs an application: apps >= procs")


@dataclass
class Stack:
    root: Path
    ring: float = 0.5
    talk: float = 1.0
    levers: Levers = field(default_factory=Levers)
    inst: harness.AsteriskInstance | None = None
    phone: sipp.Sipp | None = None
    acd: subprocess.Popen[bytes] | None = None
    more_acds: list[subprocess.Popen[bytes]] = field(default_factory=list)
    prefix: str = ""
    db: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def acd_log(self) -> Path:
        return self.root / "acd.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:5432/{self.db}"

    # ------------------------------------------------------------ start, stop

    def start(self) -> None:
        harness.ensure_installed()
        self.inst = harness.start_asterisk(self._dir("asterisk"))
        errors = self.inst.error_lines(self.inst.startup_log)
        if errors:
            raise RuntimeError("Asterisk logged errors at start-up:\n" + "\n".join(errors))
        self.notes.append(self.inst.cli("core show version").strip())
        lv = self.levers
        for name, value in (("ACD_APPS", lv.apps), ("ACD_ANSWER_FIRST", int(lv.answer_first))):
            self.inst.cli(f"dialplan set global {name} {value}")
        self.notes.append(f"levers: {lv}")
        ip, port = self.inst.phones["answer"]
        self.phone = sipp.phone(self._dir("phones"), "answer", ip, port, ring=self.ring,
                                talk=self.talk).start()
        self.db = asyncio.run(_fresh_db())
        self.prefix = unique("ast")
        (self._dir("flows") / "bench.yaml").write_text(FLOW)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
        env["ACD_ARI_PASSWORD"] = self.inst.password
        if lv.loop is not None:
            env["ACD_EVENT_LOOP"] = lv.loop
        if lv.acd_src is not None:
            env["PYTHONPATH"] = lv.acd_src
        for node in range(lv.procs):  # one after the other: the first seeds the database
            config = self.root / f"acd-{node + 1}.yaml"
            config.write_text(yaml.safe_dump(acd_config(self.inst, self.prefix, self.dsn,
                                                        self.root, lv, node)))
            log_path = self.acd_log if node == 0 else self.root / f"acd-{node + 1}.log"
            with log_path.open("wb") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "acd", "run", "--config", str(config)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd=self.root, env=env)
            if node == 0:
                self.acd = proc
            else:
                self.more_acds.append(proc)
            self._wait_acd(proc, app_names(lv.apps)[node::lv.procs])

    def _dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _wait_acd(self, proc: subprocess.Popen[bytes], apps: list[str],
                  timeout: float = 60.0) -> None:
        """Until acd's WebSocket is up: its ARI applications exist."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"acd exited ({proc.returncode}):\n{self.acd_tail()}")
            try:
                if set(apps) <= {a.get("name") for a in self.ari("GET", "/applications")}:
                    return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"acd did not attach to ARI in {timeout} s:\n{self.acd_tail()}")

    def stop(self) -> None:
        """Everything we started, by pid; then the database and the Redis keys."""
        for proc in [*self.more_acds, *([self.acd] if self.acd is not None else [])]:
            harness.stop_process(proc, grace=10.0)
        if self.phone is not None and self.phone.proc is not None:
            harness.stop_process(self.phone.proc, grace=3.0)
        if self.inst is not None:
            self.inst.stop()
        if self.prefix:
            client = redis.Redis.from_url(REDIS_URL)
            try:
                keys = list(client.scan_iter(match=f"*{self.prefix}*", count=1000))
                for i in range(0, len(keys), 1000):
                    client.delete(*keys[i:i + 1000])
            finally:
                client.close()
        if self.db:
            asyncio.run(_drop_db(self.db))

    def remove_files(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    # ------------------------------------------------------------------ ARI

    def ari(self, method: str, path: str, retry_for: float = 15.0) -> Any:
        """One ARI request. Asterisk drops new HTTP sessions over its limit (when acd
        holds them all): such a refusal is retried for `retry_for` seconds."""
        assert self.inst is not None
        token = base64.b64encode(f"{self.inst.user}:{self.inst.password}".encode()).decode()
        req = urllib.request.Request(f"{self.inst.ari_url}/ari{path}", method=method,
                                     headers={"Authorization": f"Basic {token}"})
        deadline = time.monotonic() + retry_for
        while True:
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    body = resp.read()
                return json.loads(body) if body else None
            except urllib.error.HTTPError:
                raise
            except (urllib.error.URLError, http.client.HTTPException, OSError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def wait_quiet(self, timeout: float = 30.0) -> list[str]:
        """Until Asterisk has no channel left; hangs up (and returns) any still there."""
        deadline = time.monotonic() + timeout
        while True:
            left = [c["name"] for c in self.ari("GET", "/channels")]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        for chan in self.ari("GET", "/channels"):
            try:
                self.ari("DELETE", f"/channels/{chan['id']}")
            except urllib.error.HTTPError:
                pass
        return left

    # ------------------------------------------------------------- counters

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of Asterisk, acd, the agents' phone and Redis (shared
        with every other client)."""
        assert self.inst is not None and self.inst.proc is not None
        assert self.acd is not None and self.phone is not None and self.phone.proc is not None
        acd = sum(cpu_seconds(p.pid) for p in (self.acd, *self.more_acds))
        return {"asterisk": cpu_seconds(self.inst.proc.pid), "acd": acd,
                "sipp_phones": cpu_seconds(self.phone.proc.pid),
                "redis_shared": self._redis_cpu(),
                "t": time.monotonic()}

    def snapshot(self) -> dict[str, Any]:
        """Counters whose change over a step is reported."""
        return {
            "cpu": self.cpu(),
            "agent_answers": self._agent_answers(),
            "app_queue": {q: self._queue_counts(q) for q in (QUEUE, "fallback")},
            "acd_outcomes": asyncio.run(self._acd_outcomes()),
            "loadavg": os.getloadavg(),
        }

    def app_taskprocessor(self, reset: bool = False) -> dict[str, int]:
        """Asterisk's queues of events for the calls' ARI applications (one thread each
        serialises all of an application's events), summed: tasks processed, still
        queued; the deepest queue of any since the last reset."""
        assert self.inst is not None
        names = set(app_names(self.levers.apps))
        out = self.inst.cli("core show taskprocessors like stasis/m:ari:application/acd")
        total: dict[str, int] = {}
        for line in out.splitlines():
            f = line.split()
            # named stasis/m:ari:application/<app>-<8 hex digits>
            m = re.fullmatch(r"stasis/m:ari:application/(.+)-[0-9a-f]{8}", f[0]) if f else None
            if len(f) >= 4 and m is not None and m[1] in names:
                if reset:
                    self.inst.cli(f"core reset taskprocessor {f[0]}")
                total["processed"] = total.get("processed", 0) + int(f[1])
                total["in_queue"] = total.get("in_queue", 0) + int(f[2])
                total["max_depth"] = max(total.get("max_depth", 0), int(f[3]))
        return total

    def acd_http_connections(self) -> int:
        """acd's open TCP connections to Asterisk's HTTP server (REST pool + WebSocket),
        the most of any acd process."""
        assert self.inst is not None and self.acd is not None
        port = int(self.inst.ari_url.rsplit(":", 1)[1])
        most = 0
        for proc in (self.acd, *self.more_acds):
            try:
                conns = psutil.Process(proc.pid).net_connections(kind="tcp")
            except psutil.Error:
                continue
            most = max(most, sum(1 for c in conns if c.raddr and c.raddr.port == port
                                 and c.status == psutil.CONN_ESTABLISHED))
        return most

    def set_http_sessionlimit(self, limit: int) -> None:
        """An experiment: Asterisk's HTTP session limit (http.conf sessionlimit, 100 by
        default) raised on the running throwaway Asterisk."""
        assert self.inst is not None
        conf = self.inst.root / "etc" / "http.conf"
        text = re.sub(r"^\[general\]\s*$", f"[general]\nsessionlimit = {limit}",
                      conf.read_text(), count=1, flags=re.MULTILINE)
        conf.write_text(text)
        out = self.inst.cli("module reload http")
        self.notes.append(f"http.conf sessionlimit = {limit} (reload: {out.strip()!r})")

    def _redis_cpu(self) -> float:
        client = redis.Redis.from_url(REDIS_URL)
        try:
            info = client.info("cpu")
        finally:
            client.close()
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])

    def _agent_answers(self) -> int:
        assert self.phone is not None
        log = self.phone.log_file
        return log.read_text(errors="replace").count("acd:agent-answered") if log.exists() else 0

    def _queue_counts(self, queue: str) -> dict[str, int]:
        """app_queue's completed (C) and abandoned (A) calls of one queue."""
        assert self.inst is not None
        m = re.search(r"C:(\d+), A:(\d+)", self.inst.cli(f"queue show {queue}"))
        return {"completed": int(m[1]), "abandoned": int(m[2])} if m else {}

    async def _acd_outcomes(self) -> dict[str, int]:
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch("SELECT outcome, count(*) AS n FROM calls GROUP BY outcome")
        finally:
            await conn.close()
        return {r["outcome"]: int(r["n"]) for r in rows}

    def connected(self, side: str, prefix: str) -> set[int]:
        """SIPp call numbers (callers numbered prefix + n) that a side put through to
        an agent: acd's calls ending `answered`; app_queue's queue_log CONNECTs."""
        assert self.inst is not None
        numbers: list[str] = []
        if side == "acd":
            numbers = asyncio.run(self._acd_answered(prefix))
        else:
            entered: dict[str, str] = {}  # uniqueid -> caller number
            queue_log = self.inst.log_path.parent / "queue_log"
            text = queue_log.read_text(errors="replace") if queue_log.exists() else ""
            for line in text.splitlines():
                f = line.split("|")
                if len(f) >= 7 and f[2] == QUEUE and f[4] == "ENTERQUEUE":
                    entered[f[1]] = f[6]
                elif len(f) >= 5 and f[2] == QUEUE and f[4] == "CONNECT" and f[1] in entered:
                    numbers.append(entered[f[1]])
        return {int(n[len(prefix):]) for n in numbers
                if n.startswith(prefix) and n[len(prefix):].isdigit()}

    async def _acd_answered(self, prefix: str) -> list[str]:
        conn = await asyncpg.connect(self.dsn)
        try:
            rows = await conn.fetch("SELECT caller_number FROM calls WHERE outcome = 'answered'"
                                    " AND starts_with(caller_number, $1)", prefix)
        finally:
            await conn.close()
        return [r["caller_number"] for r in rows]

    def acd_calls_written(self) -> int:
        return sum(asyncio.run(self._acd_outcomes()).values())

    def acd_tail(self, n: int = 40) -> str:
        text = self.acd_log.read_text(errors="replace") if self.acd_log.exists() else ""
        return "\n".join(text.splitlines()[-n:])

    def acd_log_since(self, offset: int) -> str:
        if not self.acd_log.exists():
            return ""
        with self.acd_log.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def acd_log_size(self) -> int:
        return self.acd_log.stat().st_size if self.acd_log.exists() else 0
