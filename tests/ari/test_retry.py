"""Which requests are sent again after a dropped connection (`retry_safe`), and what
a retry does when the dropped copy had been carried out (tests/asterisk/test_twice.py
has a real Asterisk's answers to each request sent twice)."""

from __future__ import annotations

import pytest

from acd.ari import errors as e
from acd.ari.client import AriClient
from acd.ari.config import AriConfig
from acd.ari.retry import made_by_first_copy, retry_safe
from tests.ari.fake_ari import FakeAri, Reply, channel

# (method, path, params, retried)
TABLE: list[tuple[str, str, dict[str, str] | None, bool]] = [
    ("GET", "/channels/c1", None, True),
    ("GET", "/asterisk/ping", None, True),
    ("PUT", "/applications/acd/eventFilter", None, True),
    ("DELETE", "/channels/c1", {"reason": "normal"}, True),
    ("DELETE", "/channels/c1/moh", None, True),
    ("DELETE", "/bridges/b1", None, True),
    ("POST", "/channels/c1/answer", None, True),
    ("POST", "/channels/c1/moh", {"mohClass": "default"}, True),
    ("POST", "/channels/c1/ring", None, True),
    ("POST", "/channels/c1/hold", None, True),
    ("POST", "/channels/c1/variable", {"variable": "X", "value": "1"}, True),
    ("POST", "/bridges/b1/moh", None, True),
    ("POST", "/channels", {"endpoint": "PJSIP/a", "channelId": "leg-1"}, True),
    ("POST", "/channels", {"endpoint": "PJSIP/a"}, False),
    ("POST", "/channels/create", {"endpoint": "PJSIP/a", "channelId": "leg-1"}, True),
    ("POST", "/channels/create", {"endpoint": "PJSIP/a"}, False),
    ("POST", "/channels/create", {"endpoint": "PJSIP/a", "channelId": ""}, False),
    ("POST", "/bridges", {"type": "mixing", "bridgeId": "call-1"}, True),
    ("POST", "/bridges", {"type": "mixing"}, False),
    ("POST", "/bridges/call-1", {"type": "mixing"}, True),
    ("POST", "/channels/c1/snoop", {"app": "acd", "snoopId": "s1"}, True),
    ("POST", "/channels/c1/snoop", {"app": "acd"}, False),
    # the same playbackId twice plays twice on a real Asterisk
    ("POST", "/channels/c1/play", {"media": "sound:x", "playbackId": "p1"}, False),
    ("POST", "/channels/c1/play", {"media": "sound:x"}, False),
    ("POST", "/bridges/b1/play", {"media": "sound:x", "playbackId": "p1"}, False),
    ("POST", "/channels/c1/dial", {"timeout": "15"}, False),
    ("POST", "/channels/c1/continue", None, False),
    ("POST", "/channels/c1/move", {"app": "x"}, False),
    ("POST", "/channels/c1/redirect", {"endpoint": "PJSIP/b"}, False),
    ("POST", "/channels/c1/dtmf", {"dtmf": "1"}, False),
    ("POST", "/channels/c1/record", {"name": "r1"}, False),
    ("POST", "/bridges/b1/addChannel", {"channel": "c1"}, False),
    ("POST", "/bridges/b1/removeChannel", {"channel": "c1"}, False),
    ("POST", "/recordings/live/r1/stop", None, False),
    ("POST", "/channels/create/answer", None, True),  # a channel whose id is "create"
    ("PATCH", "/channels/c1", None, False),
]


@pytest.mark.parametrize(("method", "path", "params", "retried"), TABLE)
def test_retry_safe(method: str, path: str, params: dict[str, str] | None,
                    retried: bool) -> None:
    assert retry_safe(method, path, params) is retried


@pytest.mark.parametrize(("method", "path", "params", "read_back"), [
    ("POST", "/channels", {"channelId": "leg 1"}, "/channels/leg%201"),
    ("POST", "/channels/create", {"channelId": "leg-1"}, "/channels/leg-1"),
    ("POST", "/bridges", {"bridgeId": "call-1"}, "/bridges/call-1"),
    ("POST", "/channels/c1/snoop", {"snoopId": "s1"}, "/channels/s1"),
    ("POST", "/channels/create", {}, None),
    ("POST", "/channels/c1/answer", None, None),
    ("DELETE", "/channels/c1", None, None),
])
def test_made_by_first_copy(method: str, path: str, params: dict[str, str] | None,
                            read_back: str | None) -> None:
    assert made_by_first_copy(method, path, params) == read_back


def _drop(fake: FakeAri, n: int = 1) -> None:
    for _ in range(n):
        fake.replies.append(Reply(drop=True))


async def test_a_dropped_play_is_not_sent_again(fake: FakeAri, config: AriConfig) -> None:
    _drop(fake)
    fake.reply(201, {"id": "p1"})
    async with AriClient(config) as ari:
        with pytest.raises(e.AriUnavailable):
            await ari.play("c1", "sound:x", playback_id="p1")
    assert [r.raw_path for r in fake.requests] == ["/channels/c1/play"]


async def test_a_dropped_dial_is_not_sent_again(fake: FakeAri, config: AriConfig) -> None:
    _drop(fake)
    async with AriClient(config) as ari:
        with pytest.raises(e.AriUnavailable):
            await ari.dial("leg-1", timeout=15)
    assert len(fake.requests) == 1


async def test_a_dropped_answer_is_sent_again(fake: FakeAri, config: AriConfig) -> None:
    _drop(fake)
    fake.reply(204)
    async with AriClient(config) as ari:
        await ari.answer("c1")
        assert ari.requests_sent == 2
    assert [r.raw_path for r in fake.requests] == ["/channels/c1/answer"] * 2


async def test_a_create_carried_out_before_the_drop_is_read_back(
    fake: FakeAri, config: AriConfig,
) -> None:
    """The first copy made the channel; its retry is refused (409): no error, the
    channel is read back."""
    _drop(fake)
    fake.reply(409, {"message": "Channel with given unique ID already exists"})
    fake.reply(200, channel("leg-1", state="Down"))
    async with AriClient(config) as ari:
        made = await ari.create_channel("PJSIP/agent100", "acd", channel_id="leg-1")
    assert made.id == "leg-1" and made.state == "Down"
    assert [(r.method, r.raw_path) for r in fake.requests] == [
        ("POST", "/channels/create"), ("POST", "/channels/create"), ("GET", "/channels/leg-1")]


async def test_a_409_on_the_first_copy_is_an_error(fake: FakeAri, config: AriConfig) -> None:
    fake.reply(409, {"message": "Bridge with id already exists"})
    async with AriClient(config) as ari:
        with pytest.raises(e.AriConflict):
            await ari.create_bridge("call-1")
    assert len(fake.requests) == 1


async def test_a_read_back_that_fails_raises_the_refusal(
    fake: FakeAri, config: AriConfig,
) -> None:
    _drop(fake)
    fake.reply(500, {"message": "Internal Server Error"})
    fake.reply(404, {"message": "Channel not found"})
    async with AriClient(config) as ari:
        with pytest.raises(e.AriServerError):
            await ari.snoop("c1", "acd", snoop_id="s1")


async def test_a_retried_delete_that_finds_nothing_succeeds(
    fake: FakeAri, config: AriConfig,
) -> None:
    # aiohttp itself sends a DELETE again once on a dropped connection: drop both.
    _drop(fake, 2)
    fake.reply(404, {"message": "Channel not found"})
    async with AriClient(config) as ari:
        await ari.hangup("c1")
    assert [r.method for r in fake.requests] == ["DELETE"] * 3


async def test_a_delete_that_finds_nothing_at_once_is_not_found(
    fake: FakeAri, config: AriConfig,
) -> None:
    fake.reply(404, {"message": "Channel not found"})
    async with AriClient(config) as ari:
        with pytest.raises(e.AriNotFound):
            await ari.hangup("c1")


async def test_a_retried_post_with_nothing_to_read_back_keeps_its_error(
    fake: FakeAri, config: AriConfig,
) -> None:
    """`POST /bridges/{id}` (create-or-update) is retried; a 409 then is still raised."""
    _drop(fake)
    fake.reply(409, {"message": "Bridge with id already exists"})
    async with AriClient(config) as ari:
        with pytest.raises(e.AriConflict):
            await ari.request("POST", "/bridges/call-1", {"type": "mixing"})
    assert len(fake.requests) == 2
