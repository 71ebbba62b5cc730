"""Start-up errors in one line each (what, where, what to do), no traceback unless -v;
the CLI reaches the API where the configuration says it listens.

Each case runs `acd` as an operator would (a subprocess) with real Redis and
PostgreSQL where the case needs them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL

REPO = Path(__file__).resolve().parents[1]


def _env(**over: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
    env.update(ACD_CONFIG=str(REPO / "config" / "acd.yaml"), ACD_SIM_PORT="0",
               ACD_API_PORT="0", ACD_SIM_DEMO="0", ACD_REDIS_URL=REDIS_URL)
    env.update(over)
    return env


def _acd(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "acd", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def _error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The one `acd: ...` line on stderr (log lines aside); fails on a traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("acd: ")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


@pytest.fixture
def prefix_env(redis_prefix: str, redis_client: object, pg_dsn: str) -> dict[str, str]:
    return _env(ACD_REDIS_PREFIX=redis_prefix, ACD_PG_DSN=pg_dsn)


@pytest.mark.parametrize(("how", "says"), [
    ({"ACD_CONFIG": "/nonexistent/acd.yaml"},
     ["/nonexistent/acd.yaml (ACD_CONFIG): no such configuration file", "fix the path"]),
    ({"ACD_PG_DSN": "postgresql://postgres:s3cret@127.0.0.1:1/acd"},
     ["cannot use PostgreSQL at postgresql://postgres:***@127.0.0.1:1/acd", "ACD_PG_DSN",
      "start it (config/setup-services.sh) or fix pg_dsn"]),
    ({"ACD_REDIS_URL": "redis://127.0.0.1:1/0"},
     ["cannot reach Redis at redis://127.0.0.1:1/0 (redis_url, ACD_REDIS_URL)",
      "or fix redis_url"]),
    ({"ACD_ARI_URL": "http://127.0.0.1:1", "ACD_ARI_PASSWORD": "acd"},
     ["refusing to attach to Asterisk at http://127.0.0.1:1 with the template ARI password",
      "config/asterisk/make-secrets.sh"]),
    ({"ACD_AGENTS_FILE": "/nonexistent/agents.yaml"},
     ["/nonexistent/agents.yaml (ACD_AGENTS_FILE): no such agents file"]),
])
def test_a_start_up_error_is_one_line(how: dict[str, str], says: list[str]) -> None:
    proc = _acd("run", env=_env(**how))
    assert proc.returncode == 2
    line = _error_line(proc)
    for part in says:
        assert part in line, line
    assert "s3cret" not in proc.stderr + proc.stdout


def test_missing_config_given_on_the_command_line() -> None:
    proc = _acd("run", "--config", "/nonexistent/x.yaml", env=_env())
    assert proc.returncode == 2
    assert "/nonexistent/x.yaml (--config): no such configuration file" in _error_line(proc)


@pytest.mark.parametrize(("var", "what"), [("ACD_SIM_PORT", "the ARI simulator"),
                                          ("ACD_API_PORT", "the REST API")])
def test_a_port_taken(prefix_env: dict[str, str], taken_port: int, var: str,
                      what: str) -> None:
    proc = _acd("run", env={**prefix_env, var: str(taken_port)})
    assert proc.returncode == 2
    line = _error_line(proc)
    assert f"{what} cannot listen on 127.0.0.1:{taken_port}" in line, line
    assert "address already in use; stop what uses that port or choose another" in line


def test_verbose_shows_the_traceback() -> None:
    proc = _acd("-v", "run", env=_env(ACD_REDIS_URL="redis://127.0.0.1:1/0"))
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and "acd: cannot reach Redis" in proc.stderr


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []  # noqa: RUF012 (one per test, reset by the fixture)

    def do_GET(self) -> None:
        self.seen.append(self.path)
        body = json.dumps([{"id": "100"}]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_api() -> Iterator[tuple[int, list[str]]]:
    _Recorder.seen = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _Recorder.seen
    server.shutdown()
    server.server_close()


def test_the_cli_follows_acd_api_port(fake_api: tuple[int, list[str]]) -> None:
    port, seen = fake_api
    proc = _acd("agent", "list", env=_env(ACD_API_PORT=str(port)))
    assert proc.returncode == 0, proc.stderr
    assert seen == ["/api/agents"] and '"100"' in proc.stdout


def test_the_cli_follows_the_config_file(fake_api: tuple[int, list[str]],
                                         tmp_path: Path) -> None:
    port, seen = fake_api
    cfg = tmp_path / "acd.yaml"
    cfg.write_text(f"api: {{host: 0.0.0.0, port: {port}}}\n")
    env = _env(ACD_CONFIG=str(cfg))
    del env["ACD_API_PORT"]
    proc = _acd("agent", "show", "100", env=env)
    assert proc.returncode == 0, proc.stderr
    assert seen == ["/api/agents/100"]


def test_the_cli_says_where_it_looked(taken_port: int) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    proc = _acd("agent", "list", env=_env(ACD_API_PORT=str(free)))
    assert proc.returncode == 2
    assert f"cannot reach acd at http://127.0.0.1:{free}" in proc.stderr
