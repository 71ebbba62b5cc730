"""Every key acd uses is built in acd.routing.keys; the keys that moved there
from the IVR, the API and the call room keep their spelling byte for byte (data
already in Redis stays readable), and the tagged ones share one cluster slot."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from redis.crc import key_slot

from acd.routing.keys import Keys, PeopleKeys, digest

K = Keys("acd")
P = PeopleKeys("acd")


@pytest.mark.parametrize(("build", "expected"), [
    (lambda: K.caller_list("vip"), "acd:list:vip"),
    (lambda: K.schedule_override("opening"), "acd:schedule-override:opening"),
    (lambda: K.channel_record("1700.1"), "acd:chan:1700.1"),
    (lambda: K.callback_record("c-1"), "acd:callback:c-1"),
    (lambda: K.queue("sales"), "{acd}:q:sales"),
    (lambda: K.inbox("n1"), "{acd}:inbox:n1"),
    (lambda: P.pop("c-1"), "{acd}:pop:c-1"),
    (lambda: P.session("s3cret"), "{acd}:session:" + digest("s3cret")),
    (lambda: P.login_fail_user("Alice"), "{acd}:login-fail:user:alice"),
    (lambda: P.defs, "{acd}:defs"),
])
def test_key_spelling(build: Callable[[], str], expected: str) -> None:
    assert build() == expected


def test_tagged_keys_share_one_slot() -> None:
    tagged = [K.agents, K.calls, K.queue("x"), K.node("n"), K.kick, P.pop("c"), P.live,
              P.session("s"), P.wrapup_extension("a")]
    assert len({key_slot(k.encode()) for k in tagged}) == 1


def test_the_people_module_builds_with_the_same_class() -> None:
    from acd.people import keys as people_keys
    assert people_keys.PeopleKeys is PeopleKeys and people_keys.digest is digest
