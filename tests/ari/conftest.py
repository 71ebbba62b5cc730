from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from acd.ari.config import AriConfig
from tests.ari.fake_ari import FakeAri

USER = "acd-user"
PASSWORD = "pw-Zq8#secret/+&"
API_KEY = "acd-user:key-Yx7%secret/+&"


@pytest.fixture
async def fake() -> AsyncIterator[FakeAri]:
    server = FakeAri(user=USER, password=PASSWORD)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def config(fake: FakeAri) -> AriConfig:
    return AriConfig(url=fake.url, user=USER, password=PASSWORD, timeout=2.0)
