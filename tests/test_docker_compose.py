"""docker/docker-compose.yml is consistent with itself, the images and the repository.

Docker cannot run here, so this reads the files: the four services with health
checks, Redis persistent (AOF on a volume), acd's configuration and flows mounted
(not baked), the spool on a volume the acd user owns, the environment agreeing with
the other services, and the Asterisk image generating every prompt (the script's list
covers sounds.txt and the announcements: tests/test_prompts.py).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from acd.config import ENV_MAP, Settings
from tests.test_prompts import announcements, generated, shipped_flows

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
COMPOSE: dict[str, Any] = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
ACD_ENV: dict[str, str] = SERVICES["acd"]["environment"]


def _mounts(service: str) -> dict[str, str]:
    """container path -> host path (relative to docker/) or named volume."""
    out = {}
    for v in SERVICES[service].get("volumes", []):
        host, container, *_ = v.split(":")
        out[container] = host
    return out


def _expand(value: str) -> str:
    return re.sub(r"\$\{[A-Z_]+:\?[^}]*\}", "SECRET", value)


def test_the_four_services_each_have_a_health_check() -> None:
    assert set(SERVICES) == {"asterisk", "redis", "postgres", "acd"}
    for name, svc in SERVICES.items():
        test = svc.get("healthcheck", {}).get("test")
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), name
    assert "waitfullybooted" in " ".join(SERVICES["asterisk"]["healthcheck"]["test"])
    assert "/health" in " ".join(SERVICES["acd"]["healthcheck"]["test"])


def test_acd_waits_for_healthy_services() -> None:
    deps = SERVICES["acd"]["depends_on"]
    assert {k: v["condition"] for k, v in deps.items()} == {
        "asterisk": "service_healthy", "redis": "service_healthy",
        "postgres": "service_healthy"}


def test_redis_keeps_its_data() -> None:
    cmd = SERVICES["redis"]["command"]
    assert cmd[cmd.index("--appendonly") + 1] == "yes"
    assert _mounts("redis")["/data"] in COMPOSE["volumes"]


def test_config_and_flows_are_mounted_not_baked() -> None:
    mounts = _mounts("acd")
    assert mounts[ACD_ENV["ACD_CONFIG"]] == "../config/acd.yaml"
    assert mounts[ACD_ENV["ACD_FLOWS"]] == "../ivr_flows"
    for host in ("../config/acd.yaml", "../ivr_flows", "../config/asterisk"):
        assert (DOCKER / host).exists(), host
    assert _mounts("asterisk")["/etc/asterisk"] == "../config/asterisk"
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert "COPY ivr_flows" not in dockerfile and "COPY config" not in dockerfile


def test_the_spool_is_on_a_volume_the_acd_user_owns() -> None:
    spool = ACD_ENV["ACD_SPOOL_DIR"]
    assert ENV_MAP["ACD_SPOOL_DIR"] == "writer.spool_dir"
    assert _mounts("acd")[spool] in COMPOSE["volumes"]
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert re.search(rf"mkdir -p [^\n]*{re.escape(spool)}", dockerfile)
    assert re.search(r"chown -R acd:acd /var/lib/acd", dockerfile)
    assert spool.startswith("/var/lib/acd/")
    assert dockerfile.index("chown") < dockerfile.index("USER acd")


def test_acd_environment_matches_the_other_services() -> None:
    assert set(ACD_ENV) <= set(ENV_MAP) | {"ACD_CONFIG"}, set(ACD_ENV) - set(ENV_MAP)
    pg = SERVICES["postgres"]["environment"]
    dsn = urlsplit(_expand(ACD_ENV["ACD_PG_DSN"]))
    assert (dsn.username, dsn.path.lstrip("/")) == (pg["POSTGRES_USER"], pg["POSTGRES_DB"])
    assert f"127.0.0.1:{dsn.port}:5432" in SERVICES["postgres"]["ports"]
    redis = urlsplit(ACD_ENV["ACD_REDIS_URL"])
    assert f"127.0.0.1:{redis.port}:6379" in SERVICES["redis"]["ports"]
    http = (REPO / "config" / "asterisk" / "http.conf").read_text()
    port = re.search(r"^bindport\s*=\s*(\d+)", http, re.M)
    assert port and urlsplit(ACD_ENV["ACD_ARI_URL"]).port == int(port.group(1))
    assert ACD_ENV["ACD_ARI_USER"] == "acd"
    assert f":{ACD_ENV['ACD_API_PORT']}/health" in " ".join(
        SERVICES["acd"]["healthcheck"]["test"])
    # The configuration the container reads is valid with this environment.
    cfg = yaml.safe_load((REPO / "config" / "acd.yaml").read_text())
    Settings.model_validate(cfg)


@pytest.mark.parametrize("needed", [shipped_flows, announcements])
def test_the_asterisk_image_generates_every_prompt(needed: Any) -> None:
    dockerfile = (DOCKER / "asterisk" / "Dockerfile").read_text()
    assert "COPY config/asterisk/make-prompts.sh /usr/local/bin/acd-make-prompts" in dockerfile
    assert re.search(r"^RUN acd-make-prompts /var/lib/asterisk/sounds/en /var/lib/asterisk/moh",
                     dockerfile, re.M)
    assert "espeak-ng" in dockerfile and "sox" in dockerfile
    assert needed() <= generated()
