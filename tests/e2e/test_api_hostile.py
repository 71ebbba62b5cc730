"""Hostile API input, each case a distinct attack, fed to a running acd.

Each is refused with a specific 4xx and the API's JSON error shape; while each is
fed, /health keeps answering within 100 ms (measured) and a probe call placed
during the run still reaches an agent.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.e2e.api_probe import HealthProbe, send
from tests.e2e.conftest import e2e_settings, running_harness

HEALTH_BUDGET_S = 0.100
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str
    body: bytes | None
    status: int
    error_id: str
    chunked: bool = False


def _deep(n: int) -> bytes:
    return b'{"reason": ' + b"[" * n + b"]" * n + b"}"


def _deep_object(n: int) -> bytes:
    return b'{"a":' * n + b"1" + b"}" * n


BREAK = "/api/agents/a1/break"
CASES = [
    Case("deep array 5000", "POST", BREAK, _deep(5000), 400, "invalid_request"),
    Case("deep object 5000", "POST", BREAK, _deep_object(5000), 400, "invalid_request"),
    Case("unclosed brackets 60000", "POST", BREAK, b"[" * 60000, 400, "invalid_request"),
    Case("deep body on login", "POST", "/api/agents/a2/login", _deep(3000), 400,
         "invalid_request"),
    Case("deep override body", "PUT", "/api/schedules/main/override", _deep(5000), 400,
         "invalid_request"),
    Case("deep body to demo payments", "POST", "/demo/payments", _deep(5000), 400, ""),
    Case("2 MB body", "POST", BREAK, b'{"reason": "' + b"x" * 2_000_000 + b'"}', 413,
         "body_too_large"),
    Case("2 MB chunked body", "POST", BREAK, b'{"reason": "' + b"x" * 2_000_000 + b'"}',
         413, "body_too_large", chunked=True),
    Case("invalid UTF-8", "POST", BREAK, b'{"reason": "\xff\xfe\xc0\xaf"}', 400,
         "invalid_request"),
    Case("lone high surrogate", "POST", BREAK, b'{"reason": "\\ud800"}', 400,
         "invalid_request"),
    Case("lone low surrogate in a key", "POST", BREAK, b'{"\\udfff": 1, "reason": "x"}', 400,
         "invalid_request"),
    Case("NUL in reason", "POST", BREAK, b'{"reason": "lunch\\u0000"}', 400,
         "invalid_request"),
    Case("right-to-left override", "POST", BREAK, '{"reason": "\u202elunch"}'.encode(), 400,
         "invalid_request"),
    Case("10,000-character reason", "POST", BREAK,
         json.dumps({"reason": "y" * 10_000}).encode(), 400, "invalid_request"),
    Case("100-character reason", "POST", BREAK,
         json.dumps({"reason": "z" * 100}).encode(), 400, "invalid_request"),
    Case("NaN", "POST", BREAK, b'{"reason": NaN}', 400, "invalid_request"),
    Case("30,000 items", "POST", BREAK, b'{"reason": "x", "a": [' + b"0," * 29_999 + b"0]}",
         400, "invalid_request"),
    Case("body not an object", "POST", BREAK, b'["reason"]', 400, "invalid_request"),
    Case("override as an operator object", "PUT", "/api/schedules/main/override",
         b'{"override": {"$gt": ""}}', 400, "invalid_request"),
    Case("4,000-character agent id", "GET", "/api/agents/" + "9" * 4000, None, 400,
         "invalid_request"),
    Case("agent id with NUL", "POST", "/api/agents/a1%00/login", None, 400, "invalid_request"),
    Case("fullwidth digits agent id", "GET", "/api/agents/%EF%BC%91%EF%BC%90%EF%BC%90", None,
         400, "invalid_request"),
    Case("bidi override in list name", "GET", "/api/lists/vip%E2%80%AE", None, 400,
         "invalid_request"),
    Case("Redis key injection in list name", "PUT", "/api/lists/x:agents/123", None, 400,
         "invalid_request"),
    Case("glob in list name", "GET", "/api/lists/*", None, 400, "invalid_request"),
    Case("encoded lone surrogate in number", "PUT", "/api/lists/blocked/%ED%A0%80", None, 400,
         "invalid_request"),
    Case("200-character number", "DELETE", "/api/lists/blocked/" + "1" * 200, None, 400,
         "invalid_request"),
    Case("dot-dot in schedule name", "GET", "/api/schedules/..%2F..%2Fagents/override", None,
         400, "invalid_request"),
    Case("unknown route", "GET", "/api/does-not-exist", None, 404, "not_found"),
    Case("method not allowed", "PATCH", "/api/agents", None, 405, "method_not_allowed"),
]

# What each refusal's message must say (the specific reason, not just "bad request").
PARAM = "must be letters, digits"
SAYS = {
    "deep array 5000": "nests 5001 levels deep", "deep object 5000": "nests 5000 levels",
    "unclosed brackets 60000": "nests 60000", "deep body on login": "nests 3001",
    "deep override body": "nests 5001", "deep body to demo payments": "",
    "2 MB body": "larger than 65536 bytes", "2 MB chunked body": "larger than 65536 bytes",
    "invalid UTF-8": "not UTF-8", "lone high surrogate": "lone surrogate (U+D800)",
    "lone low surrogate in a key": "lone surrogate (U+DFFF)",
    "NUL in reason": "control character (U+0000)",
    "right-to-left override": "bidirectional override (U+202E)",
    "10,000-character reason": "longer than 1024", "100-character reason": "longer than 64",
    "NaN": "holds NaN", "30,000 items": "more than 1000 items",
    "body not an object": "must be a JSON object",
    "override as an operator object": "override must be one of",
    "4,000-character agent id": f"'agent_id' {PARAM}",
    "agent id with NUL": f"'agent_id' {PARAM}", "fullwidth digits agent id": "'agent_id'",
    "bidi override in list name": f"'name' {PARAM}",
    "Redis key injection in list name": f"'name' {PARAM}", "glob in list name": "'name'",
    "encoded lone surrogate in number": "'number' must be digits",
    "200-character number": "'number' must be digits",
    "dot-dot in schedule name": f"'name' {PARAM}", "unknown route": "no such route",
    "method not allowed": "PATCH is not allowed",
}


async def test_hostile_api_input_is_refused_and_never_stalls_acd(
        redis_prefix: str, redis_client: object, pg_dsn: str, tmp_path: Path) -> None:
    settings = e2e_settings(redis_prefix, pg_dsn, tmp_path)
    async with running_harness(settings, api=True) as h, \
            aiohttp.ClientSession(headers=h.api_headers) as session:
        base = f"http://127.0.0.1:{h.app.api_port}"
        probe_channel = h.sim.place_call("+15559001", "100", dtmf=[(1.0, "1")])
        problems: list[str] = []
        for case in CASES:
            prober = HealthProbe(session, base)
            prober.start()
            try:
                reply = await send(session, base, case.method, case.path, case.body,
                                   headers=JSON, chunked=case.chunked)
                await asyncio.sleep(0.02)  # the prober runs at least once more
            finally:
                await prober.stop()
            if reply.status != case.status:
                problems.append(f"{case.name}: status {reply.status} != {case.status}: "
                                f"{reply.body[:200]!r}")
            elif case.error_id and (not reply.error_shaped()
                                    or reply.json()["error_id"] != case.error_id):
                problems.append(f"{case.name}: body {reply.body[:200]!r}")
            elif case.error_id and SAYS[case.name] not in reply.json()["message"]:
                problems.append(f"{case.name}: message {reply.json()['message']!r} does not "
                                f"say {SAYS[case.name]!r}")
            if not prober.times or prober.worst > HEALTH_BUDGET_S:
                problems.append(f"{case.name}: /health took {prober.worst * 1000:.0f} ms "
                                f"({len(prober.times)} probes)")
            if prober.statuses != {200}:
                problems.append(f"{case.name}: /health answered {sorted(prober.statuses)}")
        # The probe call went on regardless: an agent took it.
        await h.wait_for(lambda: bool(h.call_on(probe_channel)
                                      and h.live(probe_channel).connected_leg),
                         "the probe call to reach an agent")
        h.sim.remote_hangup(probe_channel)
        await h.finished(probe_channel)
        assert not problems, "\n".join(problems)
        assert len(CASES) == len({c.name for c in CASES}) == len(SAYS) >= 25


@pytest.mark.parametrize("reason", ["lunch", "coffee break", "réunion", "会议"])
async def test_plain_break_reasons_still_work(
        redis_prefix: str, redis_client: object, pg_dsn: str, tmp_path: Path,
        reason: str) -> None:
    settings = e2e_settings(redis_prefix, pg_dsn, tmp_path)
    async with running_harness(settings, api=True) as h, \
            aiohttp.ClientSession(headers=h.api_headers) as session:
        base = f"http://127.0.0.1:{h.app.api_port}"
        reply = await send(session, base, "POST", "/api/agents/a1/break",
                           json.dumps({"reason": reason}).encode(), headers=JSON)
        assert reply.status == 200, reply.body
        assert reply.json()["state"] == "break" and reply.json()["reason"] == reason
