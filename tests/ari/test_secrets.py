"""The password and the api_key never reach a log line, a repr or an exception."""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import traceback
from urllib.parse import quote, quote_plus

import pytest

from acd.ari.client import AriClient
from acd.ari.config import AriConfig
from acd.ari.errors import AriError
from acd.ari.events import Event
from acd.ari.stream import EventStream
from tests.ari.conftest import API_KEY, PASSWORD, USER
from tests.ari.fake_ari import FakeAri, dtmf

WRONG = "wrong-Pw9!secret"


def _forms(secret: str) -> set[str]:
    # The raw secret and every way it could be written on the wire.
    return {secret, quote(secret, safe=""), quote_plus(secret), quote(secret),
            secret.split(":", 1)[-1]}


def _leaks(text: str) -> list[str]:
    secrets = _forms(PASSWORD) | _forms(API_KEY) | _forms(WRONG)
    secrets |= {base64.b64encode(f"{USER}:{p}".encode()).decode() for p in (PASSWORD, WRONG)}
    return sorted(s for s in secrets if s in text)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _exercise(server: FakeAri, good: AriConfig, bad: AriConfig) -> list[object]:
    """Success, ARI errors, refusal, timeout and a dropped socket; returns what it made."""
    made: list[object] = [good, bad]
    errors: list[AriError] = []
    async with AriClient(good) as ari, AriClient(bad) as wrong:
        made += [ari, wrong]
        server.reply(204)
        await ari.answer("c1")
        server.reply(404, {"message": "Channel not found"})
        server.reply(500, {"error": "Allocation failed"})
        server.reply(200, {"id": "c1"}, delay=2.0)
        for call in (ari.answer("c1"), ari.originate("PJSIP/x", app="acd"),
                     ari.get_channel("c1"), wrong.list_channels()):
            try:
                await call
            except AriError as exc:
                errors.append(exc)
    refused = AriConfig(url=f"http://127.0.0.1:{_free_port()}", user=good.user,
                        password=good.password, api_key=good.api_key, timeout=1)
    async with AriClient(refused) as ari:
        try:
            await ari.answer("c1")
        except AriError as exc:
            errors.append(exc)
    assert len(errors) == 5, errors
    made += errors

    got: list[Event] = []
    connected: list[list[str]] = []

    async def handler(e: Event) -> None:
        got.append(e)

    async def on_connect(ids: list[str]) -> None:
        connected.append(ids)

    server.ws_refused = 1  # one failed handshake: its error embeds the URL
    streams = [EventStream(good, handler, on_connect=on_connect, backoff_base=0.02),
               EventStream(bad, handler, backoff_base=0.02),
               EventStream(refused, handler, backoff_base=0.02)]
    for s in streams:
        await s.start()
    async with asyncio.timeout(10):
        while len(connected) < 1:
            await asyncio.sleep(0.01)
        await server.send(dtmf("c1", "1"))
        server.cut()
        while len(connected) < 2:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # let the failing streams fail a few times
    for s in streams:
        await s.stop()
    made += streams
    return made


@pytest.mark.parametrize("mode", ["basic", "api_key"])
async def test_credentials_appear_nowhere(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    if mode == "basic":
        server = FakeAri(user=USER, password=PASSWORD)
        good = AriConfig(url="http://x", user=USER, password=PASSWORD, timeout=1.0)
        bad = AriConfig(url="http://x", user=USER, password=WRONG, timeout=1.0)
    else:
        server = FakeAri(api_key=API_KEY)
        good = AriConfig(url="http://x", api_key=API_KEY, timeout=1.0)
        bad = AriConfig(url="http://x", api_key=f"{USER}:{WRONG}", timeout=1.0)
    url = await server.start()
    good = AriConfig(url=url, user=good.user, password=good.password, api_key=good.api_key,
                     timeout=1.0)
    bad = AriConfig(url=url, user=bad.user, password=bad.password, api_key=bad.api_key,
                    timeout=1.0)
    try:
        made = await _exercise(server, good, bad)
    finally:
        await server.stop()

    # The exercise did authenticate (so the secrets were really in use) ...
    assert any(r.method == "POST" for r in server.requests)
    # ... and nothing it produced shows them.
    assert caplog.records, "nothing was logged: the check would be empty"
    assert "cannot connect" in caplog.text and "lost" in caplog.text
    assert _leaks(caplog.text) == []
    for record in caplog.records:
        assert _leaks(repr(record.args)) == [], record.getMessage()
    for thing in made:
        texts = [repr(thing), str(thing)]
        if isinstance(thing, BaseException):
            texts.append("".join(traceback.format_exception(thing)))
            texts.append(repr(thing.details) if isinstance(thing, AriError) else "")
        for text in texts:
            assert _leaks(text) == [], text
