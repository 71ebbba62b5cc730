"""Which StasisStart is a caller (acd.calls.strangers): a table."""

from __future__ import annotations

import pytest

from acd.ari.events import StasisStart
from acd.ari.models import Channel
from acd.calls.phone_calls import endpoint_of, phone_of
from acd.calls.strangers import kind_of

CASES = [
    ("PJSIP/caller-trunk-00000001", [], None, "caller"),
    ("PJSIP/agent102-00000007", [], None, "caller"),  # an agent dialled 8 + 100
    ("Local/101@agents-00000002;1", [], None, "local"),
    ("Local/101@agents-00000002;2", [], None, "local"),
    ("PJSIP/caller-trunk-00000003", [], "PJSIP/agent100-00000002", "replacement"),
    ("PJSIP/agent101-00000004", ["agent", "c1"], None, "role"),
    ("PJSIP/agent101-00000004", ["transfer", "c1"], None, "role"),
    ("PJSIP/agent900-00000005", ["supervisor", "c1"], None, "role"),
    ("Snoop/acd-c1-1-00000006", ["snoop", "c1", "listen"], None, "role"),
    ("PJSIP/caller-trunk-00000008", ["callback", "c1"], None, "role"),
    ("Local/101@agents-00000009;1", ["transfer", "c1"], None, "role"),
    ("PJSIP/caller-trunk-0000000a", ["hello"], None, "caller"),
    ("PJSIP/agent100-0000000b", ["phone", "150"], None, "phone"),  # [agents]: a colleague
]


@pytest.mark.parametrize(("name", "endpoint"), [
    ("PJSIP/agent100-0000000b", "PJSIP/agent100"),
    ("PJSIP/agent-east-100-0000000c", "PJSIP/agent-east-100"),
])
def test_the_phone_behind_a_channel(name: str, endpoint: str) -> None:
    assert endpoint_of(name) == endpoint


@pytest.mark.parametrize(("dial", "phone"), [
    ("PJSIP/agent100", "PJSIP/agent100"),
    ("PJSIP/agent285/sip:agent285@127.0.0.20:5071", "PJSIP/agent285"),
])
def test_the_phone_an_acd_leg_dials(dial: str, phone: str) -> None:
    assert phone_of(dial) == phone


@pytest.mark.parametrize(("name", "args", "replaces", "kind"), CASES)
def test_kind_of(name: str, args: list[str], replaces: str | None, kind: str) -> None:
    event = StasisStart(type="StasisStart", application="acd", timestamp="", raw={},
                        channel=Channel(id="x", name=name), args=args,
                        replace_channel=Channel(id="y", name=replaces) if replaces else None)
    assert kind_of(event) == kind
