"""`acd ivr try` driven through a pseudo terminal: digits in, path and variables out.

The command runs as the operator runs it (a subprocess on a terminal) on the shipped
ivr_flows/main.yaml and config/acd.yaml, with real Redis; it must reach the menu,
follow the digit typed, leave no Redis key behind and write no call row unless
`--record` is given.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

from tests.conftest import REDIS_URL

REPO = Path(__file__).resolve().parents[2]


class Terminal:
    """A child process on a pseudo terminal; `expect` reads until a pattern shows."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave,
                                     cwd=REPO, env=env, close_fds=True)
        os.close(slave)
        self.text = ""

    def expect(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        end = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.text)
            if m:
                return m
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} did not show within {timeout} s:\n{self.text}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk and self.proc.poll() is not None:
                    raise AssertionError(f"exited before {pattern!r}:\n{self.text}")
                self.text += chunk.decode(errors="replace").replace("\r\n", "\n")

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=20)
        finally:
            os.close(self.master)


def _env(pg_dsn: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
    env.update(ACD_CONFIG=str(REPO / "config" / "acd.yaml"), ACD_REDIS_URL=REDIS_URL,
               ACD_PG_DSN=pg_dsn)
    return env


async def _try_keys(pid: int) -> list[str]:
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return [k async for k in client.scan_iter(match=f"*acd-try-{pid}-*", count=1000)]
    finally:
        await client.aclose()


async def test_try_reaches_the_menu_and_follows_a_keyed_digit() -> None:
    # No --record: PostgreSQL is never touched, so an unreachable one does not matter.
    term = Terminal([sys.executable, "-m", "acd", "ivr", "try", "ivr_flows/main.yaml",
                     "--speed", "4"], _env("postgresql://postgres@127.0.0.1:1/none"))
    try:
        term.expect(r"calling 100 as \+15550100 \(flow main\)")
        term.expect(r"-> welcome\n")  # the menu, reached through acd's event stream
        term.type("1")
        term.expect(r"-> sales\n")
        m = term.expect(r"path taken: (.*)\nvariables:  (.*)\noutcome:    (\w+)")
    finally:
        code = term.close()
    assert code == 0, term.text
    assert m.group(1) == "welcome -> sales"
    assert m.group(2) == "{'menu_choice': '1'}"
    assert m.group(3) == "answered"
    assert "dialplan" not in term.text and "Traceback" not in term.text
    assert await _try_keys(term.proc.pid) == []


async def test_try_records_rows_only_when_asked(pg_dsn: str) -> None:
    term = Terminal([sys.executable, "-m", "acd", "ivr", "try", "ivr_flows/main.yaml",
                     "--speed", "4", "--record", "--caller", "+15550177"], _env(pg_dsn))
    try:
        term.expect(r"-> welcome\n")
        term.type("x")
        term.expect(r"not DTMF: 'x'")
        term.type("2")
        term.expect(r"-> support\n")
        m = term.expect(r"path taken: (.*)\n")
        term.expect(r"outcome:")
    finally:
        code = term.close()
    assert code == 0, term.text
    assert m.group(1) == "welcome -> support"
    conn = await asyncpg.connect(pg_dsn)
    try:
        rows = await conn.fetch("SELECT queue, outcome FROM calls WHERE caller_number=$1",
                                "+15550177")
    finally:
        await conn.close()
    assert [(r["queue"], r["outcome"]) for r in rows] == [("support", "answered")]
    assert await _try_keys(term.proc.pid) == []


async def test_keys_of_a_killed_try_are_cleaned_and_a_live_ones_kept() -> None:
    from acd.ivr_try import clean_keys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    mine = f"acd-try-{os.getpid()}-t{time.monotonic_ns() % 10**6}"
    gone = f"acd-try-{dead.pid}-x1"
    keys = [f"{{{mine}}}:agents", f"{mine}:list:vip", f"{{{gone}}}:agents", f"{gone}:list:vip"]
    try:
        for k in keys:
            await client.set(k, "1")
        assert await clean_keys(REDIS_URL) >= 2
        assert [bool(await client.exists(k)) for k in keys] == [True, True, False, False]
        assert await clean_keys(REDIS_URL, mine) == 2
        assert [bool(await client.exists(k)) for k in keys[:2]] == [False, False]
    finally:
        await client.delete(*keys)
        await client.aclose()
