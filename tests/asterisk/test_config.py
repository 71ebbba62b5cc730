"""config/asterisk/ loads on a stock Asterisk 22 and ARI answers with its credentials."""

from __future__ import annotations

import aiohttp
import pytest

from tests.asterisk.ari_probe import AriProbe, basic_auth_header
from tests.asterisk.harness import AsteriskInstance

pytestmark = pytest.mark.asterisk


def test_startup_has_no_errors(asterisk: AsteriskInstance) -> None:
    assert "Asterisk Ready." in asterisk.startup_log
    assert asterisk.error_lines(asterisk.startup_log) == []


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("pjsip show endpoint caller-trunk", "from-pstn"),
        ("pjsip show endpoint agent100", "rfc4733"),
        ("pjsip show endpoint agent299", "direct_media                       : false"),
        ("pjsip show aor agent280", "sip:agent280@127.0.0.12"),
        ("pjsip show aor agent290", "sip:agent290@127.0.0.13"),
        ("pjsip show identify caller-trunk", "127.0.0.2/32"),
        ("dialplan show 100@from-pstn", "Stasis(acd)"),
        ("dialplan show 8100@agents", "Goto(from-pstn,${EXTEN:1},1)"),
        ("dialplan show 0555123@agents", "PJSIP/${EXTEN}@caller-trunk"),
        ("dialplan show 150@agents-direct", "b(agents-core-transfer^s^1)"),
        ("dialplan show 150@agents", "Stasis(acd,phone,${EXTEN})"),
        ("pjsip show endpoint agent100", "PJSIP_TRANSFER_HANDLING()          : ari-only"),
        ("dialplan show s@acd-fallback", "Queue("),
        ("queue show bench", "PJSIP/agent279"),
        ("moh show classes", "Class: default"),
        ("module show like res_ari_channels", "Running"),
    ],
)
def test_loaded_objects(asterisk: AsteriskInstance, command: str, expected: str) -> None:
    assert expected in asterisk.cli(command)


def test_agents_count(asterisk: AsteriskInstance) -> None:
    # 200 agents + caller-trunk + bench-trunk
    assert "Objects found: 202" in asterisk.cli("pjsip show endpoints")
    assert "PJSIP/agent280" not in asterisk.cli("queue show bench")


async def test_ari_answers_with_configured_credentials(
    asterisk: AsteriskInstance, ari_probe: AriProbe
) -> None:
    info = await ari_probe.get("/asterisk/info")
    assert info["system"]["version"].startswith("22.")
    async with aiohttp.ClientSession(headers=basic_auth_header(asterisk.user, "wrong")) as s, \
            s.get(f"{asterisk.ari_url}/ari/asterisk/info") as resp:
        assert resp.status == 401
