"""Reconnecting to ARI is prompt: at once after a drop, then backing off to a cap."""

from __future__ import annotations

import asyncio

import pytest

from acd.ari.config import AriConfig
from acd.ari.stream import EventStream


async def _nothing(_: object) -> None:
    return None


@pytest.mark.parametrize(("failures", "low", "high"), [
    (1, 0.05, 0.1), (2, 0.1, 0.2), (3, 0.2, 0.4), (4, 0.4, 0.8), (5, 0.5, 1.0),
    (30, 0.5, 1.0), (1000, 0.5, 1.0)])
async def test_backoff_doubles_from_the_base_up_to_the_cap(
        monkeypatch: pytest.MonkeyPatch, failures: int, low: float, high: float) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
    stream = EventStream(AriConfig(url="http://127.0.0.1:1", app="acd"), _nothing)
    monkeypatch.setattr(asyncio, "sleep", sleep)
    for _ in range(20):
        await stream._backoff(failures)
    assert all(low <= s <= high for s in slept), slept
