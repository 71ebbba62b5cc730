"""No shipped file carries a usable secret; make-secrets.sh makes strong ones per install."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from acd.startup import TEMPLATE_ARI_PASSWORDS

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "config" / "asterisk" / "make-secrets.sh"
SHIPPED_DIRS = ("config", "docker", "sip_test", "ivr_flows")

# `password = x`, `secret: x`, `POSTGRES_PASSWORD: x`, `inbound_auth/password = x`...
ASSIGNMENT = re.compile(
    r"^\s*(?![;#])[\w./-]*(password|secret|passwd)[\w./-]*\s*[:=]\s*(?P<value>[^;#\n]*)",
    re.IGNORECASE | re.MULTILINE)
# ${VAR:?message} (required, no default) is not a secret; ${VAR:-default} is.
REQUIRED_VAR = re.compile(r"^\$\{[A-Z_]+:\?[^}]*\}$")


def shipped_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", *SHIPPED_DIRS], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.split()
    files = [REPO / f for f in out]
    # Files not committed yet but meant to ship (anything not git-ignored).
    for d in SHIPPED_DIRS:
        for p in (REPO / d).rglob("*"):
            if p.is_file() and p not in files and not _ignored(p):
                files.append(p)
    return files


def _ignored(path: Path) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", str(path)], cwd=REPO).returncode == 0


def _usable(value: str) -> bool:
    v = value.strip().strip("'\"")
    if not v or REQUIRED_VAR.match(v) or v.startswith("$"):
        return False
    return True


def test_no_shipped_file_carries_a_usable_secret() -> None:
    found: list[str] = []
    files = shipped_files()
    assert any(f.name == "pjsip_wizard.conf" for f in files)
    for f in files:
        if f.suffix in (".wav", ".gz", ".xz", ".pcap") or f.name.endswith(".sh"):
            continue
        text = f.read_text(errors="replace")
        for m in ASSIGNMENT.finditer(text):
            if _usable(m.group("value")):
                found.append(f"{f.relative_to(REPO)}: {m.group(0).strip()}")
    # The one allowed: acd.yaml's simulator password, which acd refuses for a real
    # Asterisk and no shipped ari.conf accepts.
    allowed = [x for x in found if x.startswith("config/acd.yaml:")
               and x.split(":", 2)[2].strip().split()[0] in TEMPLATE_ARI_PASSWORDS]
    assert sorted(set(found) - set(allowed)) == []
    assert "change-me" not in (REPO / "config/asterisk/pjsip_wizard.conf").read_text()


def test_the_compose_file_has_no_default_password() -> None:
    compose = yaml.safe_load((REPO / "docker" / "docker-compose.yml").read_text())
    env = {**compose["services"]["acd"]["environment"],
           **compose["services"]["postgres"]["environment"]}
    assert env["ACD_ARI_PASSWORD"].startswith("${ACD_ARI_PASSWORD:?")
    assert env["POSTGRES_PASSWORD"].startswith("${ACD_PG_PASSWORD:?")
    assert "${ACD_PG_PASSWORD:?" in env["ACD_PG_DSN"] and ":-" not in env["ACD_PG_DSN"]


def test_the_shipped_configs_include_the_generated_files() -> None:
    conf = REPO / "config" / "asterisk"
    assert "#include pjsip_wizard_secrets.conf" in (conf / "pjsip_wizard.conf").read_text()
    assert "#include ari_secrets.conf" in (conf / "ari.conf").read_text()
    assert not re.search(r"^\[agent\d+\]", (conf / "pjsip_wizard.conf").read_text(), re.M)
    for name in ("config/asterisk/pjsip_wizard_secrets.conf",
                 "config/asterisk/ari_secrets.conf", "config/secrets.env", "docker/.env"):
        assert _ignored(REPO / name), f"{name} is not git-ignored"


def _make(tmp_path: Path, force: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ACD_SECRETS_ENV": str(tmp_path / "secrets.env"),
           "ACD_DOCKER_ENV": str(tmp_path / "docker.env"), "FORCE": "1" if force else "0"}
    return subprocess.run(["sh", str(SCRIPT), str(tmp_path / "etc")], env=env,
                          capture_output=True, text=True, check=True, timeout=60)


def _passwords(path: Path) -> list[str]:
    return re.findall(r"^(?:inbound_auth/)?password = (\S+)$", path.read_text(), re.M)


def _env_value(path: Path, key: str) -> str:
    m = re.search(rf"^{key}=(.*)$", path.read_text(), re.M)
    assert m
    return m.group(1)


def test_make_secrets_writes_a_strong_password_per_agent_and_for_ari(tmp_path: Path) -> None:
    proc = _make(tmp_path)
    etc = tmp_path / "etc"
    for shown in (etc / "pjsip_wizard_secrets.conf", etc / "ari_secrets.conf",
                  tmp_path / "secrets.env", tmp_path / "docker.env"):
        assert str(shown) in proc.stdout  # it says where they are
        assert stat.S_IMODE(shown.stat().st_mode) == 0o600
    agents = (etc / "pjsip_wizard_secrets.conf").read_text()
    sections = re.findall(r"^\[agent(\d+)\]\(agent-phone\)$", agents, re.M)
    assert sections == [str(n) for n in range(100, 300)]
    pws = _passwords(etc / "pjsip_wizard_secrets.conf")
    assert len(pws) == 200 == len(set(pws))
    assert all(re.fullmatch(r"[A-Za-z0-9]{32}", p) for p in pws)
    (ari,) = _passwords(etc / "ari_secrets.conf")
    assert re.fullmatch(r"[A-Za-z0-9]{32}", ari) and ari not in pws
    assert _env_value(tmp_path / "secrets.env", "ACD_ARI_PASSWORD") == ari
    assert _env_value(tmp_path / "docker.env", "ACD_ARI_PASSWORD") == ari
    assert len(_env_value(tmp_path / "secrets.env", "ACD_PG_PASSWORD")) == 32


def test_make_secrets_keeps_what_it_made_unless_forced(tmp_path: Path) -> None:
    _make(tmp_path)
    etc = tmp_path / "etc"
    first = (_passwords(etc / "pjsip_wizard_secrets.conf"), _passwords(etc / "ari_secrets.conf"))
    _make(tmp_path)
    assert (_passwords(etc / "pjsip_wizard_secrets.conf"),
            _passwords(etc / "ari_secrets.conf")) == first
    _make(tmp_path, force=True)
    forced = (_passwords(etc / "pjsip_wizard_secrets.conf"), _passwords(etc / "ari_secrets.conf"))
    assert not set(forced[0]) & set(first[0]) and forced[1] != first[1]
    assert _env_value(tmp_path / "secrets.env", "ACD_ARI_PASSWORD") == forced[1][0]


@pytest.mark.parametrize("password", sorted(TEMPLATE_ARI_PASSWORDS - {""}))
def test_template_passwords_are_what_acd_refuses(password: str) -> None:
    from acd.errors import StartupError
    from acd.startup import check_ari_password

    with pytest.raises(StartupError):
        check_ari_password("http://asterisk:8088", password, simulated=False)
    check_ari_password("http://127.0.0.1:8088", password, simulated=True)  # the simulator
    check_ari_password("http://asterisk:8088", "x" * 32, simulated=False)
