"""config/setup-services.sh follows ACD_REDIS_URL / ACD_PG_DSN and never touches a
service it did not start (dry runs where it would change the machine)."""

from __future__ import annotations

import glob
import os
import socket
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "config" / "setup-services.sh"


def _run(tmp_path: Path, dry: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
    full.update(ACD_SETUP_STATE_DIR=str(tmp_path / "state"),
                ACD_SETUP_DRY_RUN="1" if dry else "0", **env)
    return subprocess.run(["sh", str(SCRIPT)], env=full, cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_services_up_are_left_alone(tmp_path: Path) -> None:
    proc = _run(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Redis at 127.0.0.1:6379 is up (left as it is)" in proc.stdout
    assert "PostgreSQL at 127.0.0.1:5432 is up" in proc.stdout
    assert "would run" not in proc.stdout


def test_a_local_redis_on_the_configured_port_is_started(tmp_path: Path) -> None:
    port = _free_port()
    proc = _run(tmp_path, ACD_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    assert proc.returncode == 0, proc.stderr
    assert f"would run: redis-server --port {port}" in proc.stdout
    assert "redis-server --port 6379" not in proc.stdout


@pytest.mark.parametrize(("var", "url", "what"), [
    ("ACD_REDIS_URL", "redis://redis.invalid:6390/0", "Redis at redis.invalid:6390"),
    ("ACD_PG_DSN", "postgresql://acd:pw@pg.invalid:5439/acd", "PostgreSQL at pg.invalid:5439"),
])
def test_a_remote_service_is_never_started(tmp_path: Path, var: str, url: str,
                                           what: str) -> None:
    proc = _run(tmp_path, **{var: url})
    assert proc.returncode == 1
    assert f"{what} ({var}) does not answer; it is not on this machine, so setup does not " \
           "start it" in proc.stderr
    assert "would run" not in proc.stdout and "starting" not in proc.stdout
    assert "pw" not in proc.stdout + proc.stderr


def test_a_local_postgres_port_without_a_cluster_is_not_invented(tmp_path: Path) -> None:
    port = _free_port()
    proc = _run(tmp_path, ACD_PG_DSN=f"postgresql://postgres@127.0.0.1:{port}/acd")
    assert proc.returncode == 1
    assert f"no PostgreSQL cluster of this machine uses port {port}" in proc.stderr


def test_pg_hba_is_left_alone_for_a_cluster_setup_did_not_start(tmp_path: Path) -> None:
    # A real run (not dry): PostgreSQL answers but refuses this user. setup did not
    # start that cluster, so it must not edit pg_hba.conf.
    hba = {p: Path(p).stat().st_mtime_ns for p in glob.glob("/etc/postgresql/*/*/pg_hba.conf")}
    proc = _run(tmp_path, dry=False,
                ACD_PG_DSN="postgresql://no_such_role_acd:x@127.0.0.1:5432/acd")
    assert proc.returncode == 1
    assert "refuses acd's user (ACD_PG_DSN): setup did not start it, so it leaves its " \
           "authentication alone" in proc.stderr
    assert "allowing trust" not in proc.stdout
    assert {p: Path(p).stat().st_mtime_ns for p in hba} == hba
    assert not (tmp_path / "state" / "setup-services.state").exists()
