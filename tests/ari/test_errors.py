"""Every ARI failure maps to its typed exception, through a real socket."""

from __future__ import annotations

import asyncio
import socket

import pytest

from acd.ari import errors as e
from acd.ari.client import AriClient
from acd.ari.config import AriConfig
from tests.ari.fake_ari import FakeAri, Reply

# (status, JSON body or text, class, message, gone) — bodies as a real Asterisk 22
# sends them (../shared/ari/traces/errors*.jsonl) or as its res/ari sources do.
TABLE = [
    (400, {"message": "Channel not found"}, e.AriBadRequest, "Channel not found", True),
    (400, {"message": "Channel not in Stasis application"}, e.AriBadRequest,
     "Channel not in Stasis application", True),
    (400, {"message": "Invalid reason for hangup reason provided"}, e.AriBadRequest,
     "Invalid reason for hangup reason provided", False),
    (401, '{"message":"Authentication required"}', e.AriUnauthorized,
     "Authentication required", False),
    (404, {"message": "Channel not found"}, e.AriNotFound, "Channel not found", True),
    (404, {"message": "Provided channel was not found"}, e.AriNotFound,
     "Provided channel was not found", True),
    (404, {"message": "Bridge not found"}, e.AriNotFound, "Bridge not found", True),
    (404, {"message": "Playback not found"}, e.AriNotFound, "Playback not found", True),
    (404, {"message": "Resource not found"}, e.AriNotFound, "Resource not found", False),
    (404, {"message": "Provided variable was not found"}, e.AriNotFound,
     "Provided variable was not found", False),
    (409, {"message": "Bridge with id 'hold-1' already exists"}, e.AriConflict,
     "Bridge with id 'hold-1' already exists", False),
    (409, {"message": "Bridge isn't playing music"}, e.AriConflict,
     "Bridge isn't playing music", False),
    (409, {"message": "Channel not in Stasis application"}, e.AriConflict,
     "Channel not in Stasis application", True),
    (422, {"message": "Channel not in Stasis application"}, e.AriUnprocessable,
     "Channel not in Stasis application", True),
    (422, {"message": "Bridge not found"}, e.AriUnprocessable, "Bridge not found", False),
    (500, {"error": "Allocation failed"}, e.AriAllocationFailed, "Allocation failed", False),
    (500, {"message": "Internal Server Error"}, e.AriServerError, "Internal Server Error", False),
    (503, "Service Unavailable", e.AriServerError, "Service Unavailable", False),
    (502, "", e.AriServerError, "HTTP 502", False),
    (418, {"message": "teapot"}, e.AriError, "teapot", False),
]


@pytest.mark.parametrize(("status", "body", "cls", "message", "gone"), TABLE)
async def test_status_and_body_map_to_class(
    fake: FakeAri, config: AriConfig, status: int, body: object, cls: type[e.AriError],
    message: str, gone: bool,
) -> None:
    if isinstance(body, str):
        fake.reply(status, text=body)
    else:
        fake.reply(status, body)
    async with AriClient(config) as ari:
        with pytest.raises(e.AriError) as info:
            await ari.answer("chan/1")
    err = info.value
    assert type(err) is cls
    assert (err.status, err.message, err.gone) == (status, message, gone)
    assert (err.method, err.path) == ("POST", "/channels/chan%2F1/answer")
    assert isinstance(err, e.AcdError) and err.error_id == cls.error_id
    assert str(status) in str(err) and message in str(err)


async def test_wrong_password_is_unauthorized(fake: FakeAri) -> None:
    config = AriConfig(url=fake.url, user="acd-user", password="wrong")
    async with AriClient(config) as ari:
        with pytest.raises(e.AriUnauthorized) as info:
            await ari.list_channels()
    assert info.value.status == 401 and not info.value.gone


async def test_unset_variable_is_none_but_gone_channel_raises(
    fake: FakeAri, config: AriConfig
) -> None:
    fake.reply(404, {"message": "Provided variable was not found"})
    fake.reply(200, {"value": "42"})
    fake.reply(404, {"message": "Provided channel was not found"})
    async with AriClient(config) as ari:
        assert await ari.get_var("c1", "NOT_SET") is None
        assert await ari.get_var("c1", "SET") == "42"
        with pytest.raises(e.AriNotFound) as info:
            await ari.get_var("c1", "X")
    assert info.value.gone


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with AriClient(AriConfig(url=f"http://127.0.0.1:{port}", timeout=2)) as ari:
        with pytest.raises(e.AriUnavailable) as info:
            await ari.get_channel("c1")
    assert info.value.status is None and not info.value.gone
    assert info.value.path == "/channels/c1"


@pytest.mark.parametrize(("drops", "ok"), [(0, True), (1, True), (2, True), (10, False)])
async def test_a_dropped_connection_is_retried_twice(fake: FakeAri, drops: int,
                                                     ok: bool) -> None:
    """Past its HTTP session limit Asterisk closes new connections unanswered."""
    for _ in range(drops):
        fake.replies.append(Reply(drop=True))
    fake.reply(204)
    config = AriConfig(url=fake.url, user="acd-user", password="pw-Zq8#secret/+&", timeout=2)
    async with AriClient(config) as ari:
        if ok:
            await ari.hangup("c1")
        else:
            with pytest.raises(e.AriUnavailable) as info:
                await ari.hangup("c1")
            assert info.value.path == "/channels/c1"
    # aiohttp may itself resend once on a reused connection; at least ours count.
    sent = [r.method for r in fake.requests]
    assert set(sent) == {"DELETE"}
    assert len(sent) >= (3 if not ok else drops + 1)


async def test_timeout_is_unavailable(fake: FakeAri) -> None:
    fake.reply(200, {"id": "c1"}, delay=2.0)
    config = AriConfig(url=fake.url, user="acd-user", password="pw-Zq8#secret/+&", timeout=0.2)
    async with AriClient(config) as ari:
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(e.AriUnavailable) as info:
            await ari.get_channel("c1")
        assert loop.time() - began < 1.5
    assert info.value.status is None
    assert "0.2" in info.value.message


async def test_client_not_started(config: AriConfig) -> None:
    with pytest.raises(e.AriUnavailable):
        await AriClient(config).answer("c1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"message":"Channel not found"}', "Channel not found"),
        ('"{\\"message\\":\\"Authentication required\\"}"', "Authentication required"),
        ('{"error":"Allocation failed"}', "Allocation failed"),
        ("plain words", "plain words"),
        ('{"other": 1}', '{"other": 1}'),
        ("", ""),
    ],
)
def test_body_message(text: str, message: str) -> None:
    assert e.body_message(text) == message
